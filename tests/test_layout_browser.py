"""The page's layout in a real browser: presentation mode at a projector's 1024×768, and a 390×844 phone.

Readable from 8 m (the back of a classroom), the criterion these tests hold presentation mode to: the verdict, its
interval and the headline numbers at 24 px or more, chart ticks and legends at 16 px or more, chart titles at
20 px or more, the charts at least 1.5× as wide as beside each other.  Measured here (Chromium, Streamlit 1.67):

    at 1024×768            normal    presentation
    headline numbers       22.4 px   32 px
    verdict ("KD helps")   36 px     44 px
    its interval           16 px     24 px
    chart ticks, legends   12 px     18 px
    chart titles           16 px     24 px
    loss chart's width     274 px    660 px   (stacked, full width)

The test prints the sizes it measured.  Nothing may overlap (a legend on an x-axis title) or be cut off (a button
label ending in "…", a chart title wider than its chart); on a phone the page has its own Distill, T buttons
right above the probability bars, a heatmap without numbers that run into each other, and formulas that fit.
"""

from __future__ import annotations

import re

import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HEADLINE_MIN, CHART_TEXT_MIN, CHART_TITLE_MIN = 24, 16, 20  # px, in presentation mode at 1024×768
REPORT = "Student–teacher agreement"  # the whole report's: a first report of fewer seeds has the accuracies only
VISIBLE = "const visible = e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; };"

SIZES = (
    """() => {"""
    + VISIBLE
    + """
  const px = e => parseFloat(getComputedStyle(e).fontSize);
  const leaf = e => { while (e.firstElementChild) e = e.firstElementChild; return e; };
  const main = document.querySelector('.block-container');
  const verdict = [...main.querySelectorAll('h2, h3, h4')].filter(visible)
    .find(h => /^(KD helps|No clear difference|KD hurts)$/.test(h.innerText.trim()));
  const interval = [...main.querySelectorAll('p')].filter(visible).find(p => p.innerText.startsWith('KD − baseline:'));
  const charts = {};
  for (const plot of main.querySelectorAll('.js-plotly-plot')) {
    if (!visible(plot)) continue;
    const sizes = s => [...plot.querySelectorAll(s)].map(px);
    const title = (plot.querySelector('.gtitle') || {}).textContent || '';
    charts[title] = {width: Math.round(plot.getBoundingClientRect().width), title: sizes('.gtitle')[0],
                     ticks: Math.min(...sizes('.xtick text, .ytick text')), legend: Math.min(...sizes('.legend text'))};
  }
  return {metrics: [...main.querySelectorAll('[data-testid="stMetricValue"]')].filter(visible).map(e => px(leaf(e))),
          verdict: verdict ? px(verdict) : null, interval: interval ? px(interval) : null, charts};
}"""
)

# A legend over the x-axis title, or a title wider than its chart: [chart title, what] for each visible chart.
OVERLAPS = (
    """() => {"""
    + VISIBLE
    + """
  const found = [];
  for (const plot of document.querySelectorAll('.block-container .js-plotly-plot')) {
    if (!visible(plot)) continue;
    const box = s => { const e = plot.querySelector(s); return e ? e.getBoundingClientRect() : null; };
    const title = (plot.querySelector('.gtitle') || {}).textContent || '?';
    const legend = box('.legend'), xtitle = box('.g-xtitle'), gtitle = box('.g-gtitle');
    const whole = plot.getBoundingClientRect();
    if (legend && xtitle && legend.width && xtitle.width
        && legend.left < xtitle.right - 1 && xtitle.left < legend.right - 1
        && legend.top < xtitle.bottom - 1 && xtitle.top < legend.bottom - 1)
      found.push([title, 'legend over the x-axis title']);
    if (gtitle && (gtitle.left < whole.left - 1 || gtitle.right > whole.right + 1))
      found.push([title, 'title cut off']);
  }
  return found;
}"""
)

# Text cut off: with an ellipsis ("Ran…", "Compare wi…"), or a headline number wider than its column (at 32 px in
# presentation mode "85,002 / 1,210" overflowed until it could wrap).
CUT = (
    """() => {"""
    + VISIBLE
    + """
  const metric = e => e.closest('[data-testid="stMetricValue"]');
  return [...document.querySelectorAll('.block-container *')]
    .filter(e => visible(e) && e.scrollWidth > e.clientWidth + 1
      && (getComputedStyle(e).textOverflow === 'ellipsis' || metric(e))).map(e => e.innerText);
}"""
)


@pytest.fixture(scope="module")
def server(shared_dashboard):
    """The run's shared server (tests/conftest.py); its URL."""
    return shared_dashboard.url


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _open(page, url: str) -> None:
    page.goto(url)
    page.get_by_role("tab", name="Distill", exact=True).wait_for(timeout=120_000)  # the first run imports torch
    page.get_by_role("button", name="Distill", exact=True).first.wait_for(state="attached", timeout=60_000)


def _tab(page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()
    page.wait_for_timeout(1500)  # the tab's charts lay out


def _report(page) -> None:
    report = page.get_by_test_id("stMetric").filter(has_text=REPORT)
    failed = page.get_by_test_id("stAlertContentError")  # a failed run says so at once: no ten-minute wait
    report.or_(failed).first.wait_for(timeout=600_000)
    assert not failed.count(), failed.first.inner_text()
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000)
    page.wait_for_timeout(1000)


def test_presentation_mode_makes_the_numbers_and_the_charts_bigger_and_nothing_overlaps(server, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1024, "height": 768})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    _open(page, server)
    # Beside an open sidebar its Distill is in view: the page's own (a phone's) is hidden, one Distill on screen.
    assert not page.get_by_test_id("stMain").get_by_role("button", name="Distill", exact=True).count()
    page.get_by_test_id("stSidebar").get_by_role("button", name="Distill", exact=True).click()
    _report(page)
    normal = page.evaluate(SIZES)
    assert not page.evaluate(OVERLAPS), page.evaluate(OVERLAPS)
    page.screenshot(path=str(tmp_path / "normal-1024.png"))

    _open(page, f"{server}/?present=1")  # the same browser: its report is kept on the server
    _report(page)
    present = page.evaluate(SIZES)
    page.screenshot(path=str(tmp_path / "present-1024.png"))
    print(f"\nat 1024×768, normal: {normal}\npresentation: {present}")
    loss, accuracy = (
        next(v for k, v in present["charts"].items() if k.startswith(name))
        for name in ("Training loss", "Test accuracy")
    )
    normal_loss = next(v for k, v in normal["charts"].items() if k.startswith("Training loss"))
    assert present["verdict"] >= HEADLINE_MIN and present["interval"] >= HEADLINE_MIN, present
    assert present["verdict"] > normal["verdict"] and present["interval"] > normal["interval"], (normal, present)
    assert present["metrics"] and min(present["metrics"]) >= HEADLINE_MIN, present["metrics"]
    assert min(present["metrics"]) > max(normal["metrics"]), (
        normal["metrics"],
        present["metrics"],
    )  # bigger, not 19.2 px
    for chart in (loss, accuracy):
        assert chart["ticks"] >= CHART_TEXT_MIN and chart["legend"] >= CHART_TEXT_MIN, chart
        assert chart["title"] >= CHART_TITLE_MIN, chart
        assert chart["width"] >= 1.5 * normal_loss["width"], (chart, normal_loss)
    assert normal_loss["ticks"] < CHART_TEXT_MIN  # the criterion tells the two modes apart
    assert not page.evaluate(OVERLAPS), page.evaluate(OVERLAPS)
    assert not page.evaluate(CUT), page.evaluate(CUT)

    # Cut off at 1024 before: "Ran…" and "Compare wi…" on Probabilities, the heatmap's "(diagonal hi" title.
    _open(page, server)
    for name in ("Probabilities", "Dark knowledge"):
        _tab(page, name)
        assert not page.evaluate(CUT), (name, page.evaluate(CUT))
        assert not page.evaluate(OVERLAPS), (name, page.evaluate(OVERLAPS))
        page.screenshot(path=str(tmp_path / f"{name}-1024.png"))
    assert not errors, errors


def test_a_phone_has_its_own_distill_t_beside_the_bars_a_readable_heatmap_and_formulas_that_fit(
    server, browser, tmp_path
):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 390, "height": 844})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    _open(page, server)
    # The sidebar is folded away on a phone: the page's own Distill is visible, and the text says just "Distill".
    main = page.get_by_test_id("stMain").get_by_role("button", name="Distill", exact=True)
    expect(main).to_be_visible()
    expect(page.get_by_text(re.compile(r"^Click Distill to train"))).to_be_visible()
    assert not page.get_by_text("in the sidebar to train").count()

    # A Distill from the page's own button: the charts' legends clear of their axis titles on a phone too.
    main.click()
    _report(page)
    assert not page.evaluate(OVERLAPS), page.evaluate(OVERLAPS)
    assert (
        page.locator(".js-plotly-plot").count() and not page.locator(".modebar").count()
    )  # no toolbar over the titles
    page.get_by_test_id("stPlotlyChart").filter(has_text="Training loss").screenshot(
        path=str(tmp_path / "loss-390.png")
    )

    # Probabilities: T right above the bars, moving the sidebar's Temperature (one setting).
    _tab(page, "Probabilities")
    up = page.get_by_test_id("stMain").get_by_role("button", name="T + 0.5")
    bars = page.get_by_test_id("stPlotlyChart").filter(has_text="Softened probabilities")
    up.scroll_into_view_if_needed()
    control_box, bars_box = up.bounding_box(), bars.bounding_box()
    assert 0 <= bars_box["y"] - (control_box["y"] + control_box["height"]) < 80, (control_box, bars_box)
    assert bars_box["y"] + bars_box["height"] - control_box["y"] <= 844, "T and the bars fit on one screen"
    expect(page.get_by_text(re.compile("Temperature T right above the bars"))).to_be_visible()
    up.click()
    expect(bars.filter(has_text="T=4.5")).not_to_have_count(0, timeout=30_000)
    sidebar_t = page.get_by_test_id("stSidebar").get_by_role("slider", name=re.compile("Temperature"))
    expect(sidebar_t).to_have_value("4.5", timeout=30_000)
    expect(page.get_by_test_id("stMain").get_by_text("Temperature T = 4.5")).to_be_visible()
    page.screenshot(path=str(tmp_path / "probabilities-390.png"))

    # Dark knowledge: no numbers in the cells (they ran into each other); the largest are in a table under it.
    _tab(page, "Dark knowledge")
    heatmap = page.get_by_test_id("stPlotlyChart").filter(has_text="Dark knowledge at T")
    expect(heatmap).to_be_visible(timeout=60_000)
    assert heatmap.locator(".hm text, .textpoint").count() == 0
    table = page.get_by_test_id("stTable").filter(has_text="mean probability")
    expect(table).to_be_visible()
    assert table.locator("tbody tr").count() >= 3
    assert not page.evaluate(OVERLAPS), page.evaluate(OVERLAPS)
    page.screenshot(path=str(tmp_path / "dark-knowledge-390.png"))

    # What is happening: every formula fits its box (before: 634 and 774 px in 358 px, scrolling sideways).
    _tab(page, "What is happening")
    widths = page.evaluate("""() => [...document.querySelectorAll('.katex-display')]
        .filter(e => e.getBoundingClientRect().width > 0).map(e => [e.scrollWidth, e.clientWidth])""")
    assert widths and all(scroll <= client + 4 for scroll, client in widths), widths

    assert not errors, errors
