"""Draw a digit, in a real browser: a stroke drawn with the mouse at 1024×768 and with a finger (touch events) at
390×844 reaches the page, the probability bars appear and change with the next stroke, and Clear empties it."""

from __future__ import annotations

import time

import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BARS = """() => { const plot = [...document.querySelectorAll('.js-plotly-plot')]
    .find(d => JSON.stringify(d.layout?.title || '').includes('Your drawing at T'));
  return plot ? plot.data.map(t => Array.from(t.y)) : null; }"""


# A start seed no other test on the shared server uses.  The Draw tab remembers, per settings, that the cache held no
# teacher (st.cache_resource): had a page of another test asked for these settings before the teacher below was
# stored, the tab would still show no teacher.  Its own settings keep this test independent of the others' order.
SEED = 41


@pytest.fixture(scope="module")
def server(shared_dashboard):
    """The run's shared server (tests/conftest.py), with the little-data lesson's teacher at SEED in its cache; the
    URL that opens the page on that lesson at SEED."""
    from kd_core import RunSetup, TeacherCache, validate
    from kd_core.studies.lessons import LESSONS

    # The page opens on the little-data lesson: its teacher in the server's cache, as after a first Distill.
    RunSetup(validate(LESSONS["little-data"].config(seed=SEED))).teacher(TeacherCache(shared_dashboard.cache_dir))
    return f"{shared_dashboard.url}/?seed={SEED}"


def _bars(page, previous=None, timeout: float = 60):
    """The bars' heights once they are drawn (and differ from ``previous``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        bars = page.evaluate(BARS)
        if bars and bars != previous:
            return bars
        time.sleep(0.25)
    raise AssertionError(f"the bars did not change from {previous}")


def _stroke(page, context, box, start, end, touch: bool) -> None:
    """A straight stroke from ``start`` to ``end`` (fractions of the canvas), by mouse or by finger."""
    points = [
        (
            box["x"] + box["width"] * (start[0] + (end[0] - start[0]) * i / 12),
            box["y"] + box["height"] * (start[1] + (end[1] - start[1]) * i / 12),
        )
        for i in range(13)
    ]
    if touch:  # real touch events (touchstart/move/end), as a phone's finger sends them
        cdp = context.new_cdp_session(page)
        cdp.send(
            "Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": points[0][0], "y": points[0][1]}]}
        )
        for x, y in points[1:]:
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        return
    page.mouse.move(*points[0])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(x, y, steps=2)
    page.mouse.up()


@pytest.mark.parametrize("width, height, touch", [(1024, 768, False), (390, 844, True)])
def test_a_drawn_stroke_moves_the_bars(server, tmp_path, width, height, touch):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": width, "height": height}, has_touch=touch, is_mobile=touch)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(server)
        page.get_by_role("tab", name="Draw a digit").click(timeout=120_000)
        canvas = page.locator("canvas.upper-canvas").first  # Fabric.js takes the pointer on its upper canvas
        canvas.scroll_into_view_if_needed(timeout=60_000)
        assert page.evaluate(BARS) is None  # nothing drawn: no bars
        box = canvas.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width  # the whole canvas on screen
        _stroke(page, context, box, (0.5, 0.15), (0.5, 0.85), touch)  # a "1"
        first = _bars(page)
        assert len(first) == 2 and all(abs(sum(p) - 1) < 1e-4 for p in first)  # teacher (cached) and student
        page.get_by_text("the teacher is the one in the cache for these settings").wait_for()
        assert max(first[0]) == first[0][1]  # the teacher reads the stroke as a 1
        _stroke(page, context, canvas.bounding_box(), (0.2, 0.2), (0.8, 0.2), touch)  # a bar across the top: a "7"
        second = _bars(page, first)
        assert second != first
        page.screenshot(path=str(tmp_path / f"draw-{width}.png"))
        page.get_by_role("button", name="Clear").click()
        page.get_by_text("Draw a digit on the canvas").wait_for(timeout=30_000)
        # The bars go once the rerun ends (Streamlit removes the chart and its summary only then).
        page.wait_for_function(f"({BARS})() === null", timeout=30_000)
        assert not errors, errors
        browser.close()
