"""Small things on screen, in a real browser, on a server of this module's own (its cache folder starts empty):

* a teacher put in the cache after the server's first page load — by kd_core directly, as ``kd-train`` would — is
  the Draw tab's in a fresh browser (a "not found" was kept for the server's life);
* presentation mode at 1024×768: the "One input as T rises" panels' ticks at 16 px or more (they were 14 px);
* a 390×844 phone: the page's own Distill on the first screen (it was at y = 843 of 844);
* a cached function's spinner takes its own line instead of being laid over the lesson's box and the tab labels.

Screenshots of each go to the test's tmp_path.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, require_browser

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
READABLE = 16  # px: chart ticks a room reads from 8 m (tests/test_layout_browser.py states the criterion)
PHONE = {"width": 390, "height": 844}
NO_TEACHER = "No teacher is trained with these settings yet"
FROM_CACHE = "the teacher is the one in the cache for these settings."


@contextmanager
def dashboard(folder: Path) -> Iterator[str]:
    """``streamlit run dashboard/app.py`` on a free localhost port, its KD_CACHE_DIR ``folder``/cache (empty), its
    log in ``folder``/server.log; yields its URL and stops it on exit (as tests/browser_support.py serves the page)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "KD_CACHE_DIR": str(folder / "cache")}
    command = [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "app.py")]
    command += ["--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1"]
    command += ["--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    with open(folder / "server.log", "w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 90
            while not healthy(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the dashboard did not start:\n{(folder / 'server.log').read_text()[-3000:]}")
                time.sleep(0.3)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    if "Traceback" in (folder / "server.log").read_text():
        print((folder / "server.log").read_text()[-3000:])


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.read().strip() == b"ok"
    except OSError:
        return False


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    require_browser()
    folder = tmp_path_factory.mktemp("small-layout")
    with dashboard(folder) as url:
        yield url, folder / "cache"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def opened(browser, url: str, viewport: dict, **options):
    """A fresh browser's page on ``url``, its first run drawn."""
    page = browser.new_page(viewport=viewport, **options)
    page.goto(url)
    page.get_by_role("tab", name="Distill", exact=True).wait_for(timeout=120_000)  # the first run imports torch
    page.get_by_role("button", name="Distill", exact=True).first.wait_for(state="attached", timeout=60_000)
    page.wait_for_timeout(1500)
    return page


def tab(page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()
    page.wait_for_timeout(1500)  # the rerun, and the tab's charts laid out


def draw_caption(page) -> str:
    tab(page, "Draw a digit")
    caption = page.get_by_test_id("stCaptionContainer").filter(has_text="bars are an untrained student's")
    caption.wait_for(timeout=30_000)  # the Draw tab's: which models its bars are
    return caption.inner_text()


@pytest.fixture(scope="module")
def cached_after_first_load(server, browser, tmp_path_factory):
    """The page's first load finds no teacher; then the page's teacher (the little-data lesson's, seed 0) is trained
    into the server's cache folder by kd_core, as kd-train would.  Returns the Draw tab's caption before."""
    import torch

    from kd_core import RunSetup, TeacherCache, validate
    from kd_core.studies.lessons import LESSONS

    url, cache = server
    page = opened(browser, url, {"width": 1024, "height": 768})
    before = draw_caption(page)
    page.screenshot(path=str(tmp_path_factory.mktemp("shots") / "draw-before-1024.png"))
    page.close()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the page and kd-train train
    try:
        RunSetup(validate(LESSONS["little-data"].config())).teacher(TeacherCache(cache))
    finally:
        torch.set_num_threads(threads)
    return before


def test_a_teacher_cached_after_the_first_page_load_is_found_by_a_fresh_browser(
    server, browser, cached_after_first_load, tmp_path
):
    assert NO_TEACHER in cached_after_first_load
    page = opened(browser, server[0], {"width": 1024, "height": 768})
    caption = draw_caption(page)
    page.screenshot(path=str(tmp_path / "draw-after-1024.png"))
    assert FROM_CACHE in caption and NO_TEACHER not in caption
    tab(page, "Probabilities")
    assert page.get_by_text("Teacher predicts").first.is_visible()
    page.close()


def test_the_one_input_as_t_rises_ticks_are_readable_in_presentation_mode(
    server, browser, cached_after_first_load, tmp_path
):
    page = opened(browser, f"{server[0]}/?present=1", {"width": 1024, "height": 768})
    tab(page, "T & λ sweep")
    chart = page.locator(".js-plotly-plot").filter(has_text="One input as T rises")
    chart.first.wait_for(timeout=30_000)
    chart.first.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    chart.first.screenshot(path=str(tmp_path / "one-input-present-1024.png"))
    found = chart.first.evaluate(
        """plot => {
      const px = e => parseFloat(getComputedStyle(e).fontSize);
      const ticks = [...plot.querySelectorAll('.xaxislayer-above text')];  // every panel's: .xtick, .x2tick, …
      const boxes = ticks.map(e => e.getBoundingClientRect());
      let overlaps = 0;
      for (let i = 1; i < boxes.length; i++) {
        const a = boxes[i - 1], b = boxes[i];
        if (Math.abs(a.top - b.top) < 1 && a.right > b.left + 1 && b.right > a.left + 1) overlaps++;
      }
      const sizes = s => [...plot.querySelectorAll(s)].map(px);
      return {x: ticks.map(px), y: sizes('.yaxislayer-above text'), labels: ticks.map(e => e.textContent).join(''),
              overlaps};
    }"""
    )
    print(f"\none input as T rises, presentation mode at 1024×768: {found}")
    assert found["x"] and min(found["x"]) >= READABLE and min(found["y"]) >= READABLE
    assert found["labels"] == "0123456789" * 5 and found["overlaps"] == 0  # every class in every panel, none on another
    page.close()


@pytest.mark.parametrize("lesson", ["little-data", "tiny-student"])  # the first lesson, and a long lesson text
def test_a_phones_own_distill_is_on_its_first_screen(server, browser, tmp_path, lesson):
    page = opened(browser, f"{server[0]}/?lesson={lesson}", PHONE, has_touch=True)
    button = page.locator(".st-key-distill_main").get_by_role("button", name="Distill")
    box = button.bounding_box()
    page.screenshot(path=str(tmp_path / f"phone-{lesson}-390.png"))
    print(f"\nthe page's own Distill at 390×844, {lesson}: {box}")
    assert button.is_visible() and box["y"] >= 0
    assert box["y"] + box["height"] <= PHONE["height"] - 24  # on screen, not at its very bottom edge
    page.close()


def test_a_cache_spinner_takes_its_own_line_over_nothing(server, browser, tmp_path):
    """Timing a few training steps of a teacher at a batch size this server has not timed takes seconds: its spinner,
    in the main area above the lesson's box and the tabs, must not be laid over them."""
    page = opened(browser, f"{server[0]}/?batch_size=512", {"width": 1024, "height": 768})
    page.get_by_role("combobox", name="Teacher architecture").click()
    page.keyboard.type("cnn-dropout")
    page.get_by_role("option").filter(has_text="cnn-dropout").first.wait_for(timeout=10_000)
    page.keyboard.press("Enter")
    try:
        page.wait_for_selector(".stCacheSpinner", timeout=20_000)
    except Exception:  # noqa: BLE001 — playwright's TimeoutError
        pytest.skip("no spinner showed: this machine timed the steps in under half a second")
    covered = page.evaluate(
        """() => {
      const spinner = document.querySelector('.stCacheSpinner').getBoundingClientRect();
      const main = document.querySelector('.block-container');
      const others = [...main.querySelectorAll('h1, [role="tablist"], [data-testid="stAlert"], .stCaption')];
      return others.map(e => [e.innerText.slice(0, 40), e.getBoundingClientRect()])
        .filter(([, r]) => r.width > 0 && r.height > 0 && r.left < spinner.right - 1 && spinner.left < r.right - 1
                && r.top < spinner.bottom - 1 && spinner.top < r.bottom - 1).map(([text]) => text);
    }"""
    )
    page.screenshot(path=str(tmp_path / "spinner-1024.png"))
    assert covered == [], f"the spinner lies over {covered}"
    page.close()
