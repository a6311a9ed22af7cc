"""The class board in a real browser: runs that finish on the server appear on an open page, with no click.

The runs are trained by kd_core in this process, into the results folder the server reads (KD_CACHE_DIR), as a
class's Distills would store them.  Saves assets/class-board.png with KD_UPDATE_SCREENSHOT=1 (after a fuller board:
two lessons along T, three seeds each), else a picture in the test's temp folder.
"""

from __future__ import annotations

import os

import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, ROOT, own_dashboard, require_browser

from kd_core import ResultCache, TeacherCache, run
from kd_core.studies.lessons import LESSONS

SCREENSHOT = ROOT / "assets" / "class-board.png"

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# The board's chart, found by its title (the other tabs' charts are in the page too), as Plotly holds it.
BOARD_DATA = """() => {
  const chart = [...document.querySelectorAll('.js-plotly-plot')]
    .find(el => el.layout && el.layout.title
      && String(el.layout.title.text).includes('Class board'));  // Streamlit bolds titles
  return chart ? chart.data.map(t => ({name: t.name, seeds: t.showlegend === false,
                                       x: Array.from(t.x), y: Array.from(t.y)})) : null;
}"""


def finish(folder, lesson: str, temperatures, seeds) -> dict:
    """Train and store the lesson's runs (as a Distill would); {(T, seed): KD − baseline in points}."""
    teachers, results = TeacherCache(folder), ResultCache(folder)
    gains = {}
    for seed in seeds:
        for temperature in temperatures:
            result = run(LESSONS[lesson].config(temperature=temperature, seed=seed), cache=teachers, results=results)
            gains[(temperature, seed)] = 100 * result.kd_minus_baseline
    return gains


def board_data(page, timeout_s: float, count: int) -> list[dict]:
    """The board's traces once its seed points number ``count`` (the fragment redraws every couple of seconds)."""
    page.wait_for_function(
        f"""() => {{ const data = ({BOARD_DATA})();
        return data && data.filter(t => t.seeds).reduce((n, t) => n + t.x.length, 0) >= {count}; }}""",
        timeout=timeout_s * 1000,
    )
    return page.evaluate(BOARD_DATA)


def test_runs_finished_on_the_server_appear_on_the_open_board(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    require_browser()
    # A server of its own: the board starts empty ("No finished runs"), and the runs trained here go to its cache.
    with own_dashboard(tmp_path / "server") as server:
        url, folder = server.url, server.cache_dir
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_context(viewport={"width": 1024, "height": 768}).new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(url)
            page.get_by_role("button", name="Distill").first.wait_for(timeout=120_000)  # the first run imports torch
            page.get_by_role("tab").filter(has_text="Class board").click()
            expect(page.get_by_text("No finished runs on the board yet")).to_be_visible(timeout=30_000)

            # Two students, two temperatures: their runs land on the board the page already shows.
            gains = finish(folder, "full-data", (2.0, 8.0), (0,))
            data = board_data(page, timeout_s=60, count=2)
            [seeds] = [t for t in data if t["seeds"] and t["name"] == "full-data"]
            assert sorted(seeds["x"]) == [2.0, 8.0]
            assert dict(zip(seeds["x"], seeds["y"])) == pytest.approx(
                {t: g for (t, _), g in gains.items()}
            )  # points, as trained
            assert not page.get_by_test_id("stException").count()

            screenshot = tmp_path / SCREENSHOT.name
            if os.environ.get("KD_UPDATE_SCREENSHOT") == "1":  # docs/classroom.md's picture: a class's fuller board
                screenshot = SCREENSHOT
                finish(folder, "full-data", (1.0, 2.0, 4.0, 8.0), (0, 1, 2))
                finish(folder, "little-data", (1.0, 2.0, 4.0, 8.0), (0, 1, 2))
                board_data(page, timeout_s=120, count=24)
            # The tab's heading at the top of the window, the mouse off the chart (no toolbar over its title).
            page.get_by_role("heading", name="Class board").evaluate("el => el.scrollIntoView({block: 'start'})")
            page.mouse.move(5, 760)
            page.wait_for_timeout(1500)  # a redraw in flight settles
            page.screenshot(path=str(screenshot))
            assert screenshot.stat().st_size > 10_000
            assert not errors, errors
            browser.close()
