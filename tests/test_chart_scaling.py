"""Presentation mode's chart text (dashboard/figures/charts.py ``scaled``) and the page's CSS (dashboard/page/style.py).

Streamlit's chart theme sets tick, legend and axis-title sizes of its own, so a figure's overall font size moved
nothing: in the browser the ticks stayed at 12 px.  ``scaled`` sets every size explicitly; the real-browser
measurement is tests/test_layout_browser.py.
"""

from __future__ import annotations

import numpy as np

from dashboard.figures import charts
from dashboard.figures import experiments as ef
from dashboard.figures import plots as figures
from dashboard.page import style
from kd_core import ProgressEvent

READABLE = 16  # px: ticks and legends a room reads (tests/test_layout_browser.py states the criterion)


def _loss():
    events = [ProgressEvent("student", "step", 1, 1, i, 10, 1.0 / i, {"soft": 0.5, "hard": 0.5}) for i in range(1, 11)]
    return figures.loss_figure(events, stopped="Training stopped: the teacher loss exploded at epoch 1, step 2.")


def test_every_text_of_a_chart_grows_in_presentation_mode():
    bars = figures.probability_figure(
        [0.5, 0.5], [0.4, 0.6], ["a", "b"], 4.0, teacher_at_1=[0.1, 0.9], student_at_1=[0.2, 0.8]
    )
    heatmap = ef.dark_knowledge_figure(np.full((3, 3), 0.3), ["a", "b", "c"], 4.0)
    for figure in (_loss(), bars, heatmap):
        big = charts.scaled(figure, charts.PRESENT_SCALE)
        layout = big.layout
        assert layout.legend.font.size >= READABLE and layout.title.font.size >= 20
        for axis in [*big.select_xaxes(), *big.select_yaxes()]:
            assert axis.tickfont.size >= READABLE and axis.title.font.size >= READABLE
        assert all(note.font.size >= READABLE for note in layout.annotations)  # subplot titles, the divergence note
        assert layout.height > figure.layout.height
    assert charts.scaled(heatmap, charts.PRESENT_SCALE).data[0].colorbar.tickfont.size >= READABLE
    assert figures.loss_figure([]).layout.legend.font.size is None  # the builders stay untouched (a copy is scaled)


def test_the_one_input_as_t_rises_ticks_are_readable_in_presentation_mode():
    """Its panels' 9 px class labels (ten per panel, five panels, on a phone) grew to 14 px in presentation mode;
    ticks and legends there are at least 16 px, whatever a figure sets for a phone."""
    temperatures = [1, 2, 4, 8, 16]
    figure = ef.temperature_multiples_figure(np.full((5, 10), 0.1), temperatures, [str(c) for c in range(10)], 3)
    assert all(axis.tickfont.size == 9 for axis in figure.select_xaxes())  # small on a phone: ten labels a panel
    big = charts.scaled(figure, charts.PRESENT_SCALE)
    sizes = [axis.tickfont.size for axis in [*big.select_xaxes(), *big.select_yaxes()]]
    assert len(sizes) == 10 and min(sizes) >= READABLE == charts.PRESENT_MIN
    assert [axis.tickfont.size for axis in big.select_yaxes()] == [18] * 5  # the theme's 12 px, 1.5×, as before
    assert min(note.font.size for note in big.layout.annotations) >= READABLE  # the panels' titles


def test_presentation_css_leaves_the_headline_numbers_alone_and_hides_the_page_distill_beside_an_open_sidebar():
    # The blanket paragraph rule that shrank the metric values from 22.4 px to 19.2 px is gone.
    assert ".block-container p," not in style.PRESENTATION and ".block-container p {" not in style.PRESENTATION
    assert '[data-testid="stMetricValue"] *' in style.PRESENTATION
    assert '[data-collapsed="false"]) .st-key-distill_main { display: none; }' in style.COMPACT
    # A cached function's spinner takes its own line (tests/test_small_layout_browser.py watches one in Chromium).
    assert ":has(> .stCacheSpinner) { height: auto !important;" in style.COMPACT
