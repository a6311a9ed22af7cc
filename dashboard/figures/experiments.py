"""Plotly figures for Hinton's three experiments and the dark-knowledge heatmap.

Pure functions of plain data (records, lists, numpy arrays), each returning a ``go.Figure``: no Streamlit,
no torch. Summaries are ``kd_core.stats.ValueSummary``s, rows ``kd_core.studies.sweeps.SweepRow``s, bias points
``kd_core.studies.experiments.BiasPoint``s (accuracies as fractions; drawn in %).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.figures.plots import COLORS, LABELS, LEGEND_BELOW, entropy_bits

HIGHLIGHT = "#ff7f0e"  # the omitted class, the current bias
PARAM_TITLES = {
    "temperature": "temperature T",
    "lam": "λ (weight of the soft loss)",
    "student_fraction": "share of the training set the student sees (%)",
    "student_width": "student parameters (log scale; the label is the width)",
}
LOG_AXES = ("temperature", "student_fraction", "student_width")


def _pct(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else 100.0 * value


def _empty(figure: go.Figure, text: str) -> go.Figure:
    """A placeholder: the message in the middle, no axes."""
    figure.add_annotation(text=text, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper", font=dict(size=14))
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    return figure


def sweep_figure(summary: Sequence, param: str, rows: Sequence = (), params: dict | None = None) -> go.Figure:
    """KD student accuracy against the swept value (mean ± sample sd over seeds), the scratch baseline as a
    reference line with its spread, and the teacher dotted. ``rows`` (optional) adds each seed as a faint dot.

    T, student fraction and student width use a log x axis; the x values are the swept values themselves
    (fractions in %), or for the width the student's parameter count from ``params`` (width -> parameters):
    the compression curve, each point labelled with its width.
    """
    figure = go.Figure()
    summary = sorted(summary, key=lambda e: e.value)
    if not summary:
        return _empty(_layout(figure, param), "no finished runs yet — the curve draws as runs finish")

    def _x(value: float) -> float:
        if param == "student_width" and params:
            return params.get(value, params.get(int(value), value))
        return 100.0 * value if param == "student_fraction" else value

    xs = [_x(e.value) for e in summary]
    have_baseline = all(e.baseline is not None for e in summary)
    if have_baseline:
        base = [_pct(e.baseline.mean) for e in summary]
        spread = [_pct(e.baseline.sd) for e in summary]
        flat = len(set(round(b, 9) for b in base)) == 1 and param in ("temperature", "lam")
        x_line = [xs[0], xs[-1]] if flat else xs
        y_line = [base[0], base[0]] if flat else base
        s_line = [spread[0], spread[0]] if flat else spread
        figure.add_trace(
            go.Scatter(
                x=x_line + x_line[::-1],
                y=[b + s for b, s in zip(y_line, s_line)] + [b - s for b, s in zip(y_line, s_line)][::-1],
                fill="toself",
                fillcolor="rgba(127,127,127,0.18)",
                line=dict(width=0),
                hoverinfo="skip",
                mode="lines",
                name="baseline ± sd",
                showlegend=True,
            )
        )
        figure.add_trace(
            go.Scatter(
                x=x_line,
                y=y_line,
                mode="lines" if flat else "lines+markers",
                name=LABELS["baseline"]
                + (" (ignores " + ("T" if param == "temperature" else "λ") + ")" if flat else ""),
                line=dict(color=COLORS["baseline"], dash="dash", width=2),
                hovertemplate="scratch baseline: %{y:.2f} %<extra></extra>",
            )
        )
    figure.add_trace(
        go.Scatter(
            x=xs,
            y=[_pct(e.teacher_mean) for e in summary],
            mode="lines",
            name=LABELS["teacher"],
            line=dict(color=COLORS["teacher"], dash="dot", width=1.5),
            hovertemplate="teacher: %{y:.2f} %<extra></extra>",
        )
    )
    if rows:
        figure.add_trace(
            go.Scatter(
                x=[_x(r.value) for r in rows],
                y=[_pct(r.student_accuracy) for r in rows],
                mode="markers",
                name="KD student, each seed",
                marker=dict(color=COLORS["student"], size=6, opacity=0.35),
                customdata=[r.seed for r in rows],
                hovertemplate="seed %{customdata}: %{y:.2f} %<extra></extra>",
            )
        )
    width = param == "student_width"
    figure.add_trace(
        go.Scatter(
            x=xs,
            y=[_pct(e.student.mean) for e in summary],
            mode="lines+markers+text" if width else "lines+markers",
            name=LABELS["student"] + " (mean ± sd)",
            line=dict(color=COLORS["student"], width=3),
            marker=dict(size=9),
            error_y=dict(type="data", array=[_pct(e.student.sd) for e in summary], visible=True),
            text=[f"width {e.value:g}" for e in summary] if width else None,
            textposition=["top right"] + ["top left"] * (len(summary) - 1),
            customdata=[[e.n, _pct(e.gain.mean) if e.gain is not None else float("nan"), e.value] for e in summary],
            hovertemplate=("width %{customdata[2]} (%{x:,} parameters)" if width else "%{x}")
            + ": %{y:.2f} % over %{customdata[0]} seed(s); KD − baseline %{customdata[1]:+.2f} points<extra></extra>",
        )
    )
    if width:  # the scratch baseline is a curve here (each width trains its own), its band the sd over seeds
        figure.update_layout(title="Compression curve: KD student vs scratch<br>baseline as the student shrinks")
    else:  # a tick at every swept value and nowhere else: Plotly's own log ticks (1, 2, 5, 10) miss T = 16
        unit = " %" if param == "student_fraction" else ""
        figure.update_xaxes(tickmode="array", tickvals=xs, ticktext=[f"{x:g}{unit}" for x in xs])
    return _layout(figure, param)


def _layout(figure: go.Figure, param: str) -> go.Figure:
    log = param in LOG_AXES
    figure.update_layout(
        title=figure.layout.title.text or "KD student vs scratch baseline",
        xaxis_title=PARAM_TITLES.get(param, param),
        yaxis_title="test accuracy (%)",
        margin=dict(l=10, r=10, t=70, b=10),
        height=420,
        legend=LEGEND_BELOW,
    )
    figure.update_xaxes(type="log" if log else "linear")
    return figure


def little_data_figure(summary: Sequence) -> go.Figure:
    """Hinton's little-data experiment: KD and scratch students (mean ± sd over seeds) against the share
    of the training set, log x axis in %, with the KD − scratch gain (mean ± sd) in a lower panel."""
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.68, 0.32], vertical_spacing=0.08)
    summary = sorted(summary, key=lambda e: e.value)
    if summary:
        xs = [100.0 * e.value for e in summary]
        ns = [e.n for e in summary]
        for name in ("baseline", "student"):
            if getattr(summary[0], name) is None:
                continue
            figure.add_trace(
                go.Scatter(
                    x=xs,
                    y=[_pct(getattr(e, name).mean) for e in summary],
                    mode="lines+markers",
                    name=LABELS[name],
                    line=dict(
                        color=COLORS[name],
                        dash="dash" if name == "baseline" else "solid",
                        width=3 if name == "student" else 2,
                    ),
                    error_y=dict(type="data", array=[_pct(getattr(e, name).sd) for e in summary], visible=True),
                    customdata=ns,
                    hovertemplate="%{x:g} %: %{y:.2f} % ± %{error_y.array:.2f} (%{customdata} seeds)<extra>"
                    + LABELS[name]
                    + "</extra>",
                ),
                row=1,
                col=1,
            )
        if summary[0].gain is not None:
            gains = [_pct(e.gain.mean) for e in summary]
            figure.add_trace(
                go.Scatter(
                    x=xs,
                    y=gains,
                    mode="markers+text",
                    name="KD − scratch (points)",
                    marker=dict(
                        symbol="diamond",
                        size=12,
                        color=[COLORS["student"] if g > 0 else COLORS["baseline"] for g in gains],
                    ),
                    error_y=dict(type="data", array=[_pct(e.gain.sd) for e in summary], visible=True, color="#444"),
                    text=[f"{g:+.1f}" for g in gains],
                    textposition="middle right",
                    hovertemplate="%{x:g} %: %{y:+.2f} points<extra>KD − scratch</extra>",
                ),
                row=2,
                col=1,
            )
            figure.add_hline(y=0, line=dict(color="black", width=1), row=2, col=1)
        ticks = dict(tickmode="array", tickvals=xs, ticktext=[f"{x:g} %" for x in xs])
        figure.update_xaxes(**ticks, row=1, col=1)
        figure.update_xaxes(**ticks, row=2, col=1)
    else:
        _empty(figure, "no finished runs yet")
    figure.update_xaxes(type="log", row=1, col=1)
    figure.update_xaxes(type="log", title_text=PARAM_TITLES["student_fraction"], row=2, col=1)
    figure.update_yaxes(title_text="test accuracy (%)", row=1, col=1)
    figure.update_yaxes(title_text="gain (points)", row=2, col=1)
    figure.update_layout(
        title="Little data: the same subset, with and<br>without the teacher's soft targets",
        margin=dict(l=10, r=10, t=70, b=10),
        height=560,
        legend=LEGEND_BELOW,
    )
    return figure


def temperature_multiples_figure(
    probabilities: np.ndarray,
    temperatures: Sequence[float],
    class_names: Sequence[str],
    true_class: int | None = None,
    every_class: bool = False,
) -> go.Figure:
    """Small multiples: one panel per T of one input's softmax(logits / T); the true class in orange.

    ``probabilities`` is (len(temperatures) × classes), as from ``kd_core.studies.experiments.softened_distributions``.
    Each panel's title gives T and the entropy in bits: the distribution flattens as T rises.  ``every_class``: a
    label under every bar, for panels wide enough (presentation mode's full width); else Plotly labels as many as
    fit (on a phone, every third of ten).
    """
    probabilities = np.asarray(probabilities, dtype=float)
    if probabilities.shape != (len(temperatures), len(class_names)):
        raise ValueError(
            f"expected probabilities of shape {(len(temperatures), len(class_names))}, got {probabilities.shape}"
        )
    # Two short lines a panel: on one line, five panels' titles ran into each other on a phone.
    titles = [f"T = {t:g}<br>{entropy_bits(p):.2f} bits" for t, p in zip(temperatures, probabilities)]
    figure = make_subplots(
        rows=1, cols=len(temperatures), shared_yaxes=True, subplot_titles=titles, horizontal_spacing=0.02
    )
    classes = [str(c) for c in class_names]
    colors = [
        HIGHLIGHT if true_class is not None and i == true_class else COLORS["teacher"] for i in range(len(classes))
    ]
    for col, (t, p) in enumerate(zip(temperatures, probabilities), start=1):
        figure.add_trace(
            go.Bar(
                x=classes,
                y=p,
                marker_color=colors,
                showlegend=False,
                hovertemplate=f"T = {t:g}, class %{{x}}: %{{y:.3f}}<extra></extra>",
            ),
            row=1,
            col=col,
        )
    figure.update_yaxes(range=[0, 1])
    figure.update_yaxes(title_text="teacher probability", row=1, col=1)
    figure.update_xaxes(type="category", tickfont=dict(size=9))
    if every_class:
        figure.update_xaxes(tickmode="array", tickvals=classes, ticktext=classes)
    # One short line at the very top; the panels' two-line titles below it (room for presentation mode's sizes too).
    figure.update_layout(
        title=dict(
            text=f"One input as T rises (max {math.log2(len(classes)):.2f} bits)",
            yref="container",
            y=1,
            yanchor="top",
            pad=dict(t=8),
        ),
        margin=dict(l=10, r=10, t=100, b=10),
        height=320,
    )
    return figure


def bias_curve_figure(curve: Sequence, omitted_name: str, current_bias: float | None = None, best=None) -> go.Figure:
    """Accuracy on the omitted class and overall (%) as its output bias rises; the current bias as a line,
    the best overall bias as a star. ``curve`` is ``kd_core.studies.experiments.bias_curve`` output."""
    figure = go.Figure()
    if not curve:
        return _empty(figure, "no trained student yet")
    biases = [p.bias for p in curve]
    figure.add_trace(
        go.Scatter(
            x=biases,
            y=[_pct(p.class_accuracy) for p in curve],
            mode="lines",
            name=f"on class {omitted_name}",
            line=dict(color=HIGHLIGHT, width=3),
            hovertemplate="bias %{x:+.2f}: %{y:.1f} %<extra>class " + omitted_name + "</extra>",
        )
    )
    figure.add_trace(
        go.Scatter(
            x=biases,
            y=[_pct(p.overall_accuracy) for p in curve],
            mode="lines",
            name="overall",
            line=dict(color=COLORS["student"], width=3),
            hovertemplate="bias %{x:+.2f}: %{y:.2f} %<extra>overall</extra>",
        )
    )
    if best is not None:
        figure.add_trace(
            go.Scatter(
                x=[best.bias],
                y=[_pct(best.overall_accuracy)],
                mode="markers",
                name=f"best overall (bias {best.bias:+g})",
                marker=dict(symbol="star", size=14, color=COLORS["student"]),
            )
        )
    if current_bias is not None:
        figure.add_vline(x=current_bias, line=dict(color="black", dash="dot"))
    figure.update_layout(
        title=f"Bias correction: raise class {omitted_name}'s<br>output bias, after training",
        xaxis_title=f"added to class {omitted_name}'s logit",
        yaxis_title="accuracy (%)",
        margin=dict(l=10, r=10, t=70, b=10),
        height=380,
        legend=LEGEND_BELOW,
    )
    figure.update_yaxes(range=[0, 102])
    return figure


def dark_knowledge_figure(
    matrix: np.ndarray, class_names: Sequence[str], temperature: float, show_diagonal: bool = False
) -> go.Figure:
    """Heatmap: row i = the teacher's mean softened distribution over examples of true class i.

    With ``show_diagonal=False`` the diagonal (the right answer, which dwarfs everything) is blanked so the
    colour scale shows the off-diagonal "dark knowledge": which classes look alike to the teacher.  No number in
    the cells: at a phone's 36 px a cell, "0.002" would run into its neighbours.  The numbers are in the hover and in
    ``most_alike`` (the tab's table under the chart).
    """
    matrix = np.array(matrix, dtype=float)
    if matrix.shape != (len(class_names), len(class_names)):
        raise ValueError(f"expected a {len(class_names)}×{len(class_names)} matrix, got {matrix.shape}")
    shown = matrix.copy()
    if not show_diagonal:
        np.fill_diagonal(shown, np.nan)
    classes = [str(c) for c in class_names]
    figure = go.Figure(
        go.Heatmap(
            z=shown,
            x=classes,
            y=classes,
            colorscale="Viridis",
            colorbar=dict(title="mean prob.", thickness=12),
            hovertemplate="true %{y} → teacher's probability of %{x}: %{z:.4f}<extra></extra>",
        )
    )
    figure.update_yaxes(autorange="reversed", title_text="true class", type="category")
    figure.update_xaxes(title_text="class the teacher gives probability to", type="category", side="bottom")
    off = matrix[~np.eye(len(classes), dtype=bool)]
    # Two short lines: a single line is cut off at 1024 px (at "(diagonal hi") and on a phone.
    figure.update_layout(
        title=f"Dark knowledge at T = {temperature:g}:<br>{100 * np.nansum(off) / len(classes):.1f} % off the diagonal"
        + ("" if show_diagonal else ", diagonal hidden"),
        margin=dict(l=10, r=10, t=70, b=10),
        height=520,
    )
    return figure


def most_alike(matrix: np.ndarray, class_names: Sequence[str], count: int = 6) -> list[tuple[str, str, float]]:
    """The ``count`` largest off-diagonal cells, largest first: (true class, class it is taken for, mean
    probability).  A list that reads on any screen, where the heatmap's colours alone do not."""
    matrix = np.asarray(matrix, dtype=float)
    cells = [
        (matrix[i, j], i, j)
        for i in range(len(matrix))
        for j in range(len(matrix))
        if i != j and not math.isnan(matrix[i, j])
    ]
    return [(str(class_names[i]), str(class_names[j]), float(v)) for v, i, j in sorted(cells, reverse=True)[:count]]
