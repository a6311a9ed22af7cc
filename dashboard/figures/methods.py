"""Plotly figures of the Methods tab and of the DKD decomposition: pure functions of plain data, no Streamlit.

forest_figure(comparisons)          method − scratch | method − KD: mean, 95 % interval, a dot per seed; a legend
forest_alt(comparisons)             its text alternative: each method's mean, interval and verdict in words
parts_figure(name, parts)           one method's loss parts over the student's epochs, log axis at whole decades
cost_figure(timings)                the students' training seconds per seed, mean ± sd: as measured, no verdict
cost_alt(timings, steps)            its text alternative: the same steps for every method, then the seconds
decomposition_figure(split, T)      one image: KD = TCKD + (1 − p_t)·NCKD as a stacked bar
nontarget_figure(weights, T)        the teacher's non-target mass 1 − p_t over the test set

The comparisons and timings are dashboard/runs/methods.py's ``Comparison`` and ``Timing``, read by their attributes.
"""

from __future__ import annotations

import math
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
PART_LABELS = {"tckd": "TCKD", "nckd": "NCKD"}  # the others read as they are named: total, soft, hard, inter, …
SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
LEGEND_SIZE = 12


def title(name: str) -> str:
    return METHODS[name].title if name in METHODS else name


def points(value: float) -> str:
    """A fraction as signed points, ``+1.23``; a value that rounds to 0 reads ``0.00``."""
    text = f"{100 * value:+.2f}"
    return "0.00" if text in ("+0.00", "-0.00") else text.replace("-", "−")


def interval_words(interval, what: str) -> str:
    """``+1.23 points over KD (95 % interval −0.40 to +2.86)``, or the mean and "one seed: no interval"."""
    if interval.low is None:
        return f"{points(interval.mean)} points {what} (one seed: no interval)"
    return f"{points(interval.mean)} points {what} (95 % interval {points(interval.low)} to {points(interval.high)})"


def verdict_vs_kd(verdict: str) -> str:
    return {"helps": "better than KD", "hurts": "worse than KD"}.get(verdict, "no clear difference from KD")


def _key(figure: go.Figure, name: str, **style) -> None:
    """A legend entry with no data: what a mark or a colour means, once, whatever the rows are."""
    figure.add_trace(go.Scatter(x=[None], y=[None], name=name, showlegend=True, hoverinfo="skip", **style))


def _legend_below(figure: go.Figure, bottom: int) -> None:
    """The legend in a row under the plot, at the bottom of the figure (container coordinates), where it cannot sit
    on the axis titles; it wraps on a phone, so ``bottom`` leaves room for about two rows."""
    figure.update_layout(
        legend=dict(
            orientation="h",
            yref="container",
            y=0,
            yanchor="bottom",
            x=0,
            xanchor="left",
            font=dict(size=LEGEND_SIZE),
            itemwidth=30,
        ),
        margin=dict(b=bottom),
    )


FOREST_TITLE = "Accuracy gained by each method, in points"
FOREST_PANELS = ("method − scratch", "method − KD")


def forest_figure(comparisons: Sequence) -> go.Figure:
    """Two panels sharing the methods' rows: method − scratch and method − KD in points, each a 95 % interval
    (coloured by its verdict), its mean (a diamond) and a faint dot per seed; a line at 0; a title and a legend
    that says what the marks and the colours mean."""
    figure = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.05, subplot_titles=FOREST_PANELS)
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
    _key(figure, "mean", mode="markers", marker=dict(color="#424242", size=11, symbol="diamond"))
    _key(figure, "95 % interval", mode="lines", line=dict(color="#424242", width=6), opacity=0.6)
    _key(figure, "one seed", mode="markers", marker=dict(color="#424242", size=6, opacity=0.45))
    for verdict, words in (("helps", "above 0"), ("hurts", "below 0"), ("no clear difference", "includes 0")):
        _key(figure, words, mode="markers", marker=dict(color=VERDICT_COLORS[verdict], size=11, symbol="square"))
    figure.update_yaxes(autorange="reversed", categoryorder="array", categoryarray=names)
    figure.update_xaxes(title_text="points", title_font=dict(size=12), zeroline=False)
    figure.update_annotations(font=dict(size=13))  # the panel titles fit side by side on a phone
    figure.update_layout(
        title=dict(text=FOREST_TITLE, font=dict(size=15), x=0, xanchor="left", y=0.99, yanchor="top", yref="container"),
        height=190 + 42 * max(1, len(comparisons)),
        margin=dict(l=10, r=10, t=70),
        hovermode="closest",
    )
    _legend_below(figure, 80)
    return figure


def forest_alt(comparisons: Sequence) -> str:
    """The forest plot in words: per method its mean gain over scratch and over KD, each with its 95 % interval and
    its verdict, e.g. "DKD: +2.10 points over scratch (95 % interval +0.40 to +3.80), helps; +0.30 points over KD
    (95 % interval −0.90 to +1.50), no clear difference from KD"."""
    if not comparisons:
        return f"Forest plot “{FOREST_TITLE}”: no method finished."
    seeds = max(len(c.seeds) for c in comparisons)
    rows = []
    for c in comparisons:
        row = f"{title(c.method)}: {interval_words(c.scratch_interval, 'over scratch')}, {c.scratch_interval.verdict}"
        if c.method != "kd":
            row += f"; {interval_words(c.kd_interval, 'over KD')}, {verdict_vs_kd(c.kd_interval.verdict)}"
        rows.append(row)
    return (
        f"Forest plot “{FOREST_TITLE}” over {seeds} seed{'s' if seeds != 1 else ''}, mean of method − scratch and "
        f"method − KD with 95 % intervals. " + ". ".join(rows) + "."
    )


def decade_axis(values: Sequence[float]) -> dict:
    """A log axis over ``values`` (only the positive ones can be drawn) that spans whole decades and labels each
    decade alone — 0.01, 0.1, 1, 10 — never Plotly's minor ticks (2, 5) or SI prefixes (100µ); at least two ticks.
    Decades beyond 0.001 … 1000 read as powers, all of them alike (10⁻⁵ … 10⁰); with more than six decades every
    other one is labelled."""
    positive = [v for v in values if v is not None and v > 0 and math.isfinite(v)]
    if not positive:
        return dict(type="log")
    low, high = math.floor(math.log10(min(positive))), math.ceil(math.log10(max(positive)))
    if high == low:
        high += 1
    every = 2 if high - low > 6 else 1
    decades = list(range(low, high + 1, every))
    plain = all(-3 <= k <= 3 for k in decades)
    text = [f"{10.0**k:g}" if plain else "10" + str(k).translate(SUPERSCRIPTS) for k in decades]
    return dict(type="log", range=[low, high], tickmode="array", tickvals=[10.0**k for k in decades], ticktext=text)


def epoch_axis(epochs: int) -> dict:
    """Whole epochs only, about five ticks (1, 2 or 5, 10, 20, … apart), never 1.5."""
    step = next((s for s in (1, 2, 5, 10, 20, 50, 100, 200, 500) if epochs / s <= 6), 1000)
    return dict(tick0=0 if step > 1 else 1, dtick=step, range=[0.8, max(epochs, 1) + 0.2])


def parts_figure(name: str, parts: dict[str, list[float]]) -> go.Figure:
    """One method's student: its loss parts (epoch means) against the epoch, on a log axis at whole decades."""
    figure = go.Figure()
    for part, values in parts.items():
        figure.add_trace(
            go.Scatter(
                x=list(range(1, len(values) + 1)),
                y=values,
                mode="lines+markers" if len(values) < 3 else "lines",
                name=PART_LABELS.get(part, part),
                line=dict(
                    color=PART_COLORS.get(part, "#e377c2"),
                    width=2.5 if part == "total" else 1.5,
                    dash="solid" if part == "total" else "dash",
                ),
                hovertemplate=f"{PART_LABELS.get(part, part)}, epoch %{{x}}: %{{y:.4g}}<extra></extra>",
            )
        )
    epochs = max((len(v) for v in parts.values()), default=1)
    figure.update_layout(
        title=dict(text=title(name), font=dict(size=15), x=0, xanchor="left"),
        height=330,
        margin=dict(l=10, r=10, t=40),
        xaxis=dict(title=dict(text="epoch", font=dict(size=12)), **epoch_axis(epochs)),
        yaxis=dict(
            title=dict(text="loss, log scale", font=dict(size=12)),
            **decade_axis([v for values in parts.values() for v in values]),
        ),
    )
    _legend_below(figure, 50)
    return figure


COST_TITLE = "Student's training seconds, per seed"
COST_AXIS = "seconds (they vary with load)"
COST_COLOR = "#1f77b4"


def cost_figure(timings: Sequence) -> go.Figure:
    """Per method, its student's training seconds: a faint dot per seed, the mean (a diamond) and ± 1 sd, all in one
    colour: there is no verdict to colour, since seconds measured one method after another carry the load's
    changes (dashboard/runs/methods.py)."""
    figure = go.Figure()
    names = [title(t.method) for t in timings]
    for t, name in zip(timings, names):
        spread = t.spread
        if spread.n > 1:
            figure.add_trace(
                go.Scatter(
                    x=[spread.mean - spread.sd, spread.mean + spread.sd],
                    y=[name, name],
                    mode="lines",
                    line=dict(color=COST_COLOR, width=6),
                    opacity=0.5,
                    showlegend=False,
                    hovertemplate=f"{name}: {t.words()}<extra></extra>",
                )
            )
        figure.add_trace(
            go.Scatter(
                x=list(t.seconds),
                y=[name] * len(t.seconds),
                mode="markers",
                marker=dict(color=COST_COLOR, size=6, opacity=0.45),
                showlegend=False,
                customdata=list(t.seeds),
                hovertemplate="seed %{customdata}: %{x:.2f} s<extra></extra>",
            )
        )
        figure.add_trace(
            go.Scatter(
                x=[spread.mean],
                y=[name],
                mode="markers",
                showlegend=False,
                marker=dict(color=COST_COLOR, size=12, symbol="diamond", line=dict(color="white", width=1)),
                hovertemplate=f"{name}: mean %{{x:.2f}} s<extra></extra>",
            )
        )
    _key(figure, "mean", mode="markers", marker=dict(color=COST_COLOR, size=11, symbol="diamond"))
    _key(figure, "± 1 sd", mode="lines", line=dict(color=COST_COLOR, width=6), opacity=0.5)
    _key(figure, "one seed", mode="markers", marker=dict(color=COST_COLOR, size=6, opacity=0.45))
    figure.update_yaxes(autorange="reversed", categoryorder="array", categoryarray=names)
    figure.update_layout(
        title=dict(text=COST_TITLE, font=dict(size=15), x=0, xanchor="left"),
        height=150 + 36 * max(1, len(timings)),
        margin=dict(l=10, r=10, t=40),
        xaxis=dict(title=dict(text=COST_AXIS, font=dict(size=12)), rangemode="tozero", ticksuffix=" s"),
        hovermode="closest",
    )
    _legend_below(figure, 50)
    return figure


def cost_alt(timings: Sequence, steps: int | None = None) -> str:
    """The seconds chart in words: the steps every method took, that seconds are no comparison, each method's."""
    same = f"every student took the same {steps:,} training steps" if steps else "every student took the same steps"
    rows = [
        f"{title(t.method)}: {t.words()} over {len(t.seconds)} seed{'s' if len(t.seconds) != 1 else ''}"
        for t in timings
    ]
    return (
        f"Dot chart “{COST_TITLE}”: {same}; the seconds vary with the machine's load and are no comparison of the "
        "methods. " + ". ".join(rows) + "."
    )


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
