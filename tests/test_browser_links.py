"""Links, reloads and small screens in a real browser (Playwright and Debian's chromium, as tests/test_browser.py).

Skipped (with the reason) when /usr/bin/chromium or playwright is missing, unless KD_REQUIRE_BROWSER=1.
Screenshots go to the test's temp folder (KD_SCREENSHOT_DIR=folder keeps them somewhere to look at).
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from pathlib import Path

import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS
from test_browser import CLIPPED

pytestmark = [pytest.mark.browser, pytest.mark.slow]
REPORT = "Student–teacher agreement"  # the whole report's: a first report of fewer seeds has the accuracies only


@pytest.fixture(scope="module")
def server(shared_dashboard):
    """The run's shared server (tests/conftest.py); its URL."""
    return shared_dashboard.url


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@contextmanager
def opened(browser, url: str, width: int, height: int):
    """A fresh browser profile (its own cookies) on ``url``, waited for until the page has drawn; no page errors."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    wait_drawn(page)
    yield page
    assert not errors, errors
    assert not page.get_by_test_id("stException").count() and "Traceback" not in page.content()
    context.close()


def wait_drawn(page) -> None:
    page.get_by_role("button", name="Distill").first.wait_for(
        state="attached", timeout=120_000
    )  # the first run imports torch
    page.get_by_role("tab").first.wait_for(timeout=60_000)


def wait_for_report(page, timeout_ms: int = 600_000) -> None:
    page.get_by_test_id("stMetric").filter(has_text=REPORT).first.wait_for(timeout=timeout_ms)
    page.wait_for_timeout(1000)  # the last redraw


def shot(page, tmp_path: Path, name: str) -> None:
    folder = Path(os.environ.get("KD_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / name))


def temperature(page):
    return page.get_by_test_id("stSidebar").get_by_role("slider", name=re.compile("Temperature"))


def test_a_link_opens_with_its_settings_and_the_address_follows_a_slider(browser, server):
    from playwright.sync_api import expect

    with opened(browser, f"{server}/?temperature=8&lam=0.3&seed=3&tab=history", 1024, 768) as page:
        expect(temperature(page)).to_have_value("8")
        expect(page.get_by_test_id("stSidebar").get_by_role("slider", name=re.compile("λ"))).to_have_value("0.3")
        expect(page.get_by_test_id("stSidebar").get_by_role("slider", name=re.compile(r"^Seed\b"))).to_have_value("3")
        expect(page.get_by_role("tab", name="History")).to_have_attribute("aria-selected", "true")
        temperature(page).focus()
        page.keyboard.press("ArrowRight")
        expect(page).to_have_url(re.compile(r"temperature=8\.5"), timeout=15_000)
        assert "lam=0.3" in page.url and "seed=3" in page.url and "tab=history" in page.url
        cookie = None
        for _ in range(40):  # the page's first full run sets it; allow that run's last element a moment to arrive
            cookie = {c["name"]: c["value"] for c in page.context.cookies()}.get("kd_browser")
            if cookie:
                break
            page.wait_for_timeout(250)
        assert cookie and cookie not in page.url  # the browser id lives in a cookie, never in a link
        page.get_by_test_id("stSidebar").get_by_text("Share these settings").click()
        link = page.get_by_test_id("stSidebar").get_by_test_id("stCode").inner_text()
        assert link.startswith(server) and "temperature=8.5" in link and cookie not in link
        page.get_by_role("tab", name="Probabilities").click()  # the open tab goes into the address too
        expect(page).to_have_url(re.compile(r"tab=probabilities"), timeout=15_000)


def test_a_reload_mid_run_reattaches_and_the_report_arrives_without_a_click(browser, server):
    from playwright.sync_api import expect

    # Long enough (small batches, many epochs) to be still training after the reload.
    link = f"{server}/?lesson=free-play&teacher_epochs=100&epochs=50&batch_size=16&seeds=1&seed=11"
    with opened(browser, link, 1024, 768) as page:
        page.get_by_test_id("stSidebar").get_by_role("button", name="Distill").click()
        stop = page.get_by_role("button", name="Stop")
        expect(stop).to_be_enabled(timeout=30_000)
        page.reload()
        wait_drawn(page)
        expect(stop).to_be_enabled(timeout=30_000)  # the same run, re-attached: it can still be stopped
        expect(page.get_by_test_id("stProgress")).not_to_have_count(0)  # and its progress draws live
        wait_for_report(page)  # no second click
        assert "T = 4" in page.get_by_text(re.compile("^Settings of this run")).first.inner_text()
        page.get_by_role("tab", name="History").click()
        expect(page.get_by_test_id("stDownloadButton").filter(has_text="Download CSV")).to_be_visible(
            timeout=15_000
        )  # the History
        second = page.context.new_page()  # the same link in a second tab of the same browser: the same report
        second.goto(page.url)
        wait_drawn(second)
        second.get_by_role("tab", name="Distill").click()  # the link may already name the History tab
        wait_for_report(second, 60_000)
        second.close()


def check_layout(page, width: int, height: int) -> None:
    """No metric cut off; every tab label on screen and clickable."""
    assert not page.evaluate(CLIPPED)
    tabs = page.get_by_role("tab")
    assert tabs.count() >= 8
    for i in range(tabs.count()):
        box = tabs.nth(i).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, (tabs.nth(i).inner_text(), box)
        tabs.nth(i).click(trial=True, timeout=5_000)  # visible, enabled, not covered by anything


def test_on_a_projector_and_a_phone_every_tab_is_reachable_and_nothing_is_cut_off(browser, server, tmp_path):
    from playwright.sync_api import expect

    with opened(browser, server, 1024, 768) as page:
        page.get_by_test_id("stSidebar").get_by_role("button", name="Distill").click()
        wait_for_report(page)
        check_layout(page, 1024, 768)
        charts = page.get_by_test_id("stPlotlyChart").filter(has_text="Training loss").first.bounding_box()
        assert charts is not None and charts["y"] < 768, charts  # the curves start on screen
        shot(page, tmp_path, "report-1024.png")
    with opened(browser, server, 390, 844) as page:
        sidebar = page.get_by_test_id("stSidebar")
        page.get_by_test_id("stExpandSidebarButton").click()  # on a phone the settings are an overlay
        expect(sidebar).to_have_attribute("data-collapsed", "false")
        page.wait_for_timeout(800)  # its slide-in
        shot(page, tmp_path, "sidebar-390.png")
        page.get_by_role("button", name="Distill").click()
        expect(sidebar).to_have_attribute("data-collapsed", "true", timeout=30_000)  # closed: the results are seen
        wait_for_report(page)
        check_layout(page, 390, 844)
        shot(page, tmp_path, "report-390.png")


def test_presentation_mode_shows_the_lessons_controls_in_larger_type(browser, server, tmp_path):
    from playwright.sync_api import expect

    with opened(browser, f"{server}/?present=1", 1024, 768) as page:
        sidebar = page.get_by_test_id("stSidebar")
        expect(sidebar.get_by_role("slider")).to_have_count(4)  # the little-data lesson's four controls
        expect(sidebar.get_by_role("button", name="Train / load teacher")).to_have_count(0)
        sidebar.get_by_role("button", name="Distill").click()  # the page's own is hidden beside an open sidebar
        wait_for_report(page)
        check_layout(page, 1024, 768)
        size = page.get_by_test_id("stMetricValue").first.evaluate("el => parseFloat(getComputedStyle(el).fontSize)")
        assert size >= 30, size  # 2rem, against 1.4rem without presentation mode
        shot(page, tmp_path, "presentation-1024.png")
