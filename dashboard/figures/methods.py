"""Plotly figures of the Methods tab and of the DKD decomposition: pure functions of plain data, no Streamlit.

forest_figure(comparisons)          method − scratch | method − KD: mean, 95 % interval, a dot per seed
parts_figure(curves)                each method's loss parts over the student's epochs
cost_figure(ratios)                 the student's time per epoch relative to KD
decomposition_figure(split, T)      one image: KD = TCKD + (1 − p_t)·NCKD as a stacked bar
nontarget_figure(weights, T)        the teacher's non-target mass 1 − p_t over the test set
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from kd_core.methods.registry import METHODS

VERDICT_COLORS = {"helps": "#2ca02c", "hurts": "#d62728", "no clear difference": "#7f7f7f"}
PART_COLORS = {
    "tckd": "#1f77b4",
    "nckd": "#ff7f0e",
    "soft": "#9467bd",
    "hard": "#7f7f7f",
    "inter": "#17becf",
    "intra": "#bcbd22",
    "hint": "#8c564b",
    "total": "#000000",
}


def title(name: str) -> str:
    return METHODS[name].title if name in METHODS else name


def forest_figure(comparisons: Sequence) -> go.Figure:
    """Two panels sharing the methods' rows: method − scratch and method − KD in points, each a 95 % interval
    (coloured by its verdict), its mean (a diamond) and a faint dot per seed; a line at 0."""
    figure = make_subplots(
        rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.04, subplot_titles=("method − scratch", "method − KD")
    )
    names = [title(c.method) for c in comparisons]
    for col, (attr, interval_of) in enumerate((("vs_scratch", "scratch_interval"), ("vs_kd", "kd_interval")), start=1):
        for c, name in zip(comparisons, names):
            if attr == "vs_kd" and c.method == "kd":
                continue  # KD − KD is 0 by construction
            interval = getattr(c, interval_of)
            color = VERDICT_COLORS[interval.verdict]
            if interval.low is not None:
                figure.add_trace(
                    go.Scatter(
                        x=[100 * interval.low, 100 * interval.high],
                        y=[name, name],
                        mode="lines",
                        line=dict(color=color, width=6),
                        opacity=0.6,
                        showlegend=False,
                        hovertemplate=f"{name}: 95 %% interval [%{{x:+.2f}}]<extra></extra>",
                    ),
                    row=1,
                    col=col,
                )
            figure.add_trace(
                go.Scatter(
                    x=[100 * v for v in getattr(c, attr)],
                    y=[name] * len(c.seeds),
                    mode="markers",
                    marker=dict(color=color, size=6, opacity=0.45),
                    showlegend=False,
                    customdata=c.seeds,
                    hovertemplate="seed %{customdata}: %{x:+.2f}<extra></extra>",
                ),
                row=1,
                col=col,
            )
            figure.add_trace(
                go.Scatter(
                    x=[100 * interval.mean],
                    y=[name],
                    mode="markers",
                    showlegend=False,
                    marker=dict(color=color, size=12, symbol="diamond", line=dict(color="white", width=1)),
                    hovertemplate=f"{name}: mean %{{x:+.2f}} ({interval.verdict})<extra></extra>",
                ),
                row=1,
                col=col,
            )
        figure.add_vline(x=0, line=dict(color="black", width=1, dash="dot"), row=1, col=col)
    figure.update_yaxes(autorange="reversed", categoryorder="array", categoryarray=names)
    figure.update_xaxes(title_text="points", title_font=dict(size=11))
    figure.update_annotations(font=dict(size=13))  # the panel titles fit side by side on a phone
    figure.update_layout(
        height=130 + 42 * max(1, len(comparisons)), margin=dict(l=10, r=10, t=40, b=30), hovermode="closest"
    )
    return figure


def parts_figure(curves: dict[str, dict[str, list[float]]]) -> go.Figure:
    """One small panel per method: its student's loss parts (epoch means) against the epoch."""
    names = list(curves)
    cols = min(2, max(1, len(names)))  # two panels a row: their titles still fit on a phone
    rows = -(-max(1, len(names)) // cols)
    figure = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[title(n) for n in names] or [""],
        horizontal_spacing=0.06,
        vertical_spacing=0.16,
    )
    shown: set[str] = set()
    for i, name in enumerate(names):
        for part, values in curves[name].items():
            figure.add_trace(
                go.Scatter(
                    x=list(range(1, len(values) + 1)),
                    y=values,
                    mode="lines",
                    name=part,
                    legendgroup=part,
                    showlegend=part not in shown,
                    line=dict(
                        color=PART_COLORS.get(part, "#e377c2"),
                        width=2 if part == "total" else 1.5,
                        dash="solid" if part == "total" else "dash",
                    ),
                ),
                row=i // cols + 1,
                col=i % cols + 1,
            )
            shown.add(part)
    figure.update_yaxes(type="log")
    figure.update_annotations(font=dict(size=13))
    figure.update_layout(
        height=90 + 200 * rows, margin=dict(l=10, r=10, t=40, b=30), legend=dict(orientation="h", y=-0.08)
    )
    return figure


def cost_figure(ratios: dict[str, float]) -> go.Figure:
    """Bars: the student's time per epoch relative to KD's (1 = as fast as KD)."""
    names = [title(n) for n in ratios]
    figure = go.Figure(
        go.Bar(
            x=list(ratios.values()),
            y=names,
            orientation="h",
            marker_color="#1f77b4",
            text=[f"{r:.2f}×" for r in ratios.values()],
            textposition="auto",
            hovertemplate="%{y}: %{x:.2f}× KD's time per epoch<extra></extra>",
        )
    )
    figure.add_vline(x=1, line=dict(color="black", width=1, dash="dot"))
    figure.update_yaxes(autorange="reversed")
    figure.update_layout(
        height=80 + 32 * max(1, len(ratios)),
        margin=dict(l=10, r=10, t=20, b=30),
        xaxis_title="time per epoch relative to KD",
    )
    return figure


def decomposition_figure(kd: float, tckd: float, weight: float, nckd: float, temperature: float) -> go.Figure:
    """One image's KL at T as a stacked bar: TCKD and (1 − p_t)·NCKD, beside NCKD unweighted (what DKD's β scales)."""
    figure = go.Figure()
    figure.add_trace(
        go.Bar(
            x=["KD"],
            y=[tckd],
            name="TCKD (target vs the rest)",
            marker_color=PART_COLORS["tckd"],
            hovertemplate="TCKD %{y:.4f}<extra></extra>",
        )
    )
    figure.add_trace(
        go.Bar(
            x=["KD"],
            y=[weight * nckd],
            name=f"(1 − p_t)·NCKD, 1 − p_t = {weight:.3g}",
            marker_color=PART_COLORS["nckd"],
            hovertemplate="(1 − p_t)·NCKD %{y:.4f}<extra></extra>",
        )
    )
    figure.add_trace(
        go.Bar(
            x=["NCKD alone"],
            y=[nckd],
            name="NCKD (among the non-targets)",
            marker_color=PART_COLORS["nckd"],
            opacity=0.45,
            hovertemplate="NCKD %{y:.4f}<extra></extra>",
        )
    )
    figure.update_layout(
        barmode="stack",
        height=300,
        margin=dict(l=10, r=10, t=40, b=30),
        title=dict(text=f"KL(teacher ‖ student) at T = {temperature:g}: {kd:.4f}", font=dict(size=14)),
        legend=dict(orientation="h", y=-0.15),
        yaxis_title="nats",
    )
    return figure


def nontarget_figure(weights: np.ndarray, temperature: float) -> go.Figure:
    """Histogram of the teacher's non-target mass 1 − p_t (its weight on NCKD) over the test set, at T."""
    weights = np.asarray(weights, dtype=float)
    figure = go.Figure(
        go.Histogram(
            x=weights,
            xbins=dict(start=0.0, end=1.0, size=0.05),
            marker_color=PART_COLORS["nckd"],
            hovertemplate="1 − p_t in %{x}: %{y} images<extra></extra>",
        )
    )
    figure.add_vline(x=float(np.median(weights)) if len(weights) else 0.0, line=dict(color="black", dash="dot"))
    figure.update_layout(
        height=300,
        margin=dict(l=10, r=10, t=40, b=30),
        bargap=0.05,
        title=dict(text=f"Teacher's 1 − p_t over the test set, T = {temperature:g}", font=dict(size=14)),
        xaxis=dict(title="1 − p_t (the weight KD gives NCKD)", range=[0, 1]),
        yaxis_title="images",
    )
    return figure
