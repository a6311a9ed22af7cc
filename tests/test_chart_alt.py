"""Every chart's text alternative (dashboard/figures/charts.py ``alt_text``): one line that says what the chart shows —
its kind, its title, what is plotted against what, its series — in plain words, never Plotly's markup."""

from __future__ import annotations

import plotly.graph_objects as go

from dashboard.figures import plots as figures
from dashboard.figures.charts import alt_text


def test_a_line_chart_says_its_title_its_axes_and_its_series():
    figure = go.Figure(
        [
            go.Scatter(x=[1, 2], y=[2, 1], name="Teacher", mode="lines"),
            go.Scatter(x=[1, 2], y=[3, 1], name="KD student", mode="lines+markers"),
            go.Scatter(x=[1, 2], y=[3, 2], name="KD student", mode="lines"),
        ]
    )  # a second seed, same name
    figure.update_layout(title="Training loss<br><sup>mean of 5 seeds</sup>", xaxis_title="Epoch", yaxis_title="Loss")
    assert (
        alt_text(figure)
        == "Line chart “Training loss mean of 5 seeds”: Loss against Epoch; series: Teacher, KD student."
    )


def test_bars_heatmaps_and_dots_are_named_as_such():
    bars = go.Figure([go.Bar(x=["0", "1"], y=[0.9, 0.1], name="Teacher at T = 4")]).update_layout(xaxis_title="Class")
    assert alt_text(bars) == "Bar chart: Class on the horizontal axis; series Teacher at T = 4."
    heat = go.Figure([go.Heatmap(z=[[1, 0], [0, 1]])]).update_layout(
        title="Which classes look alike", xaxis_title="Soft target for class", yaxis_title="True class"
    )
    assert alt_text(heat) == "Heatmap “Which classes look alike”: rows True class, columns Soft target for class."
    dots = go.Figure([go.Scatter(x=[1], y=[2], mode="markers", name="one seed")])
    assert alt_text(dots).startswith("Dot chart; series one seed")
    both = go.Figure(
        [
            go.Scatter(x=[1, 2], y=[2, 2], mode="lines", name="95 % interval"),
            go.Scatter(x=[1], y=[2], mode="markers", name="one seed"),
        ]
    )
    assert alt_text(both) == "Line and dot chart; series: 95 % interval, one seed."
    assert alt_text(go.Figure([go.Heatmap(z=[[1]]), go.Scatter(x=[0], y=[0])])).startswith("Line chart and heatmap")
    import numpy as np

    assert alt_text(figures.image_figure(np.zeros((8, 8)), "#3: a 7")) == "Picture “#3: a 7”."  # a digit, not a chart


def test_markup_and_entities_become_plain_words_and_long_legends_are_counted():
    figure = go.Figure([go.Scatter(x=[1], y=[1], name=f"seed {i}") for i in range(9)])
    figure.update_layout(title="<b>KD &minus; scratch</b>", yaxis_title="Points (p<sub>KD</sub>)")
    text = alt_text(figure)
    assert text == (
        "Line chart “KD − scratch”: Points (pKD) on the vertical axis; series: seed 0, seed 1, seed 2, seed 3, "
        "seed 4, seed 5, 3 more."
    )
    assert "<" not in text and "&" not in text and "\n" not in text


def test_the_probability_bars_name_both_models_and_the_temperature():
    """The Probabilities tab's chart, built as the page builds it."""
    figure = figures.probability_figure([0.7, 0.2, 0.1], [0.6, 0.3, 0.1], ["0", "1", "2"], 4.0)
    text = alt_text(figure)
    assert text.startswith("Bar chart “Softened probabilities per class")
    assert "Teacher, T=4" in text and "KD student, T=4" in text and text.count(".") >= 1 and "\n" not in text
