"""The Ship tab's figures: accuracy against latency and against file size (with the Pareto frontier), and the time
per image against the batch size.

Pure functions of plain data — kd_core.deploy's ``SummaryRow``s (each figure's mean and 95 % interval over the
seeds) and lists of numbers — returning ``go.Figure``s; no Streamlit.  A point's colour is its model (the page's
colours: teacher blue, KD student red, scratch grey), its symbol its format (circle FP32, diamond int8).
"""

from __future__ import annotations

from typing import Sequence

import plotly.graph_objects as go

from dashboard.figures.plots import COLORS, LEGEND_BELOW
from kd_core.deploy.ship import SummaryRow
from kd_core.stats import Interval

NAMES = {"teacher": "Teacher", "student": "KD student", "baseline": "Scratch student"}
SHORT = {"teacher": "Teacher", "student": "KD", "baseline": "Scratch"}  # the Pareto charts' legends, two a row
SYMBOLS = {"fp32": "circle", "int8": "diamond"}
DASHES = {"fp32": "solid", "int8": "dash"}
FRONTIER = "#2ca02c"


def label(model: str, format: str, names: dict[str, str] = NAMES) -> str:
    """ "KD student int8", "Teacher FP32" (with ``SHORT``: "KD int8")."""
    return f"{names.get(model, model)} {format.upper() if format == 'fp32' else format}"


def frontier(points: Sequence[tuple[float, float]]) -> list[int]:
    """The indices of the Pareto frontier of (cost, accuracy) points, cheapest first: the points no other point
    beats on both axes (as cheap or cheaper and as accurate or more, better on at least one).  Of identical points
    the first counts."""
    chosen = []
    for i, (cost, accuracy) in enumerate(points):
        beaten = any(
            (c <= cost and a >= accuracy and (c < cost or a > accuracy)) or ((c, a) == (cost, accuracy) and j < i)
            for j, (c, a) in enumerate(points)
            if j != i
        )
        if not beaten:
            chosen.append(i)
    return sorted(chosen, key=lambda i: (points[i][0], -points[i][1]))


def _bars(interval: Interval, scale: float, floor: float | None = None) -> tuple[float, float] | None:
    """(minus, plus) of an error bar, in the axis' unit; None where there is no interval (one seed)."""
    if interval.low is None:
        return None
    low = interval.low if floor is None else max(floor, interval.low)
    return scale * (interval.mean - low), scale * (interval.high - interval.mean)


def _points_figure(rows: Sequence[SummaryRow], figure_name: str, scale: float, title: str, x_title: str) -> go.Figure:
    figure = go.Figure()
    xs = [scale * row.figures[figure_name].mean for row in rows]
    ys = [100 * row.figures["accuracy"].mean for row in rows]
    for row, x, y in zip(rows, xs, ys):
        accuracy = _bars(row.figures["accuracy"], 100)
        cost = _bars(row.figures[figure_name], scale, floor=0.0)
        figure.add_scatter(
            x=[x],
            y=[y],
            mode="markers",
            name=label(row.model, row.format, SHORT),
            marker=dict(color=COLORS.get(row.model), symbol=SYMBOLS.get(row.format, "circle"), size=12),
            error_y=None
            if accuracy is None
            else dict(type="data", symmetric=False, array=[accuracy[1]], arrayminus=[accuracy[0]]),
            error_x=None if cost is None else dict(type="data", symmetric=False, array=[cost[1]], arrayminus=[cost[0]]),
            hovertemplate=f"{label(row.model, row.format)}<br>%{{y:.2f}} % at %{{x:.3g}}<extra></extra>",
        )
    best = frontier(list(zip(xs, ys)))
    figure.add_scatter(
        x=[xs[i] for i in best],
        y=[ys[i] for i in best],
        mode="lines",
        name="Pareto frontier",
        line=dict(color=FRONTIER, dash="dot", width=2, shape="hv"),
        hoverinfo="skip",
    )
    # Two legend entries a row (short names): side by side at 1024 px each chart is ~280 px wide, and the full
    # names took a row each.
    legend = dict(LEGEND_BELOW, entrywidth=0.5, entrywidthmode="fraction")
    figure.update_layout(title=title, height=440, margin=dict(l=10, r=10, t=50, b=10), legend=legend)
    figure.update_yaxes(title="test accuracy (%)")
    figure.update_xaxes(title=x_title)
    return figure


def latency_figure(rows: Sequence[SummaryRow]) -> go.Figure:
    """Accuracy (%) against µs per image at batch 1, a point per model and format, bars its 95 % interval over
    the seeds (cut at 0 µs), and the Pareto frontier."""
    return _points_figure(rows, "latency_seconds", 1e6, "Accuracy against latency", "µs per image, batch 1")


def size_figure(rows: Sequence[SummaryRow]) -> go.Figure:
    """Accuracy (%) against the file's size in KB on a log axis, a point per model and format, and the frontier."""
    figure = _points_figure(rows, "bytes", 1e-3, "Accuracy against file size", "file size (KB, log scale)")
    figure.update_xaxes(type="log", dtick=1)  # one tick per power of 10: Plotly's 2s and 5s between read as values
    return figure


def batch_figure(curves: dict[tuple[str, str], Sequence[tuple[int, float, float, float]]]) -> go.Figure:
    """µs per image against the batch size, both on log axes: a line per file from ``curves`` ((model, format) ->
    (batch, median, low, high) seconds per image over the timing rounds), bars the rounds' range."""
    figure = go.Figure()
    for (model, format), points in curves.items():
        figure.add_scatter(
            x=[p[0] for p in points],
            y=[1e6 * p[1] for p in points],
            mode="lines+markers",
            name=label(model, format),
            line=dict(color=COLORS.get(model), dash=DASHES.get(format, "solid")),
            marker=dict(symbol=SYMBOLS.get(format, "circle"), size=8),
            error_y=dict(
                type="data",
                symmetric=False,
                array=[1e6 * (p[3] - p[1]) for p in points],
                arrayminus=[1e6 * (p[1] - p[2]) for p in points],
                thickness=1,
            ),
            hovertemplate=f"{label(model, format)}<br>batch %{{x}}: %{{y:.3g}} µs per image<extra></extra>",
        )
    batches = sorted({p[0] for points in curves.values() for p in points})
    figure.update_layout(
        title="Time per image against batch size", height=420, margin=dict(l=10, r=10, t=50, b=10), legend=LEGEND_BELOW
    )
    figure.update_xaxes(title="batch size (images per call, log scale)", type="log", tickvals=batches)
    figure.update_yaxes(title="µs per image (log scale)", type="log", dtick=1)
    return figure


def points_alt(rows: Sequence[SummaryRow], figure_name: str) -> str:
    """The text alternative of a Pareto chart: each point's accuracy and cost, and which are on the frontier."""
    scale, unit = (1e6, "µs per image") if figure_name == "latency_seconds" else (1e-3, "KB")
    xs = [scale * row.figures[figure_name].mean for row in rows]
    ys = [100 * row.figures["accuracy"].mean for row in rows]
    what = "latency at batch 1" if figure_name == "latency_seconds" else "file size"
    listed = "; ".join(f"{label(r.model, r.format)} {y:.2f} % at {x:.3g} {unit}" for r, x, y in zip(rows, xs, ys))
    best = ", ".join(label(rows[i].model, rows[i].format) for i in frontier(list(zip(xs, ys))))
    return f"Dot chart of test accuracy against {what}, mean over the seeds: {listed}. On the Pareto frontier: {best}."
