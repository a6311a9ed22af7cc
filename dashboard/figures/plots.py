"""Plotly figures for the dashboard: plain functions of plain data, each returning a ``go.Figure``.

No Streamlit and no torch here, so every builder can be unit-tested and reused by other tabs.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

# One colour per model, used on every chart so "the teacher" always looks the same.
COLORS = {"teacher": "#1f77b4", "student": "#d62728", "baseline": "#7f7f7f"}
LABELS = {"teacher": "Teacher", "student": "KD student", "baseline": "Scratch baseline"}
PART_DASHES = {"total": "solid", "soft": "dot", "hard": "dash"}  # a loss part not named here is drawn dash-dot
MAX_RAW_POINTS = 600  # beyond this, curves are thinned: redraws stay cheap and the browser fast
# A horizontal legend in the chart's bottom strip (container coordinates): Plotly reserves that strip first and
# lays the axes out above it, so the legend never sits on the x-axis title, however many rows it wraps to on a
# phone or at presentation-mode sizes.  (At a paper-relative y = -0.2 the loss chart's legend covered the title.)
LEGEND_BELOW = dict(orientation="h", yref="container", y=0, yanchor="bottom", x=0, xanchor="left")
FEW_POINTS = 3  # a curve this short is drawn with markers: a run that stopped at step 1 still shows its point


def smooth(values: Sequence[float], weight: float = 0.9, steps: Sequence[float] | None = None) -> list[float]:
    """Exponential moving average, bias-corrected so the first points are not pulled toward zero.

    ``steps`` (the x of each value): a gap of g steps decays the average by ``weight**g``, as g single steps
    would, so every k-th step of a run (a cached run's stored steps) smooths like the whole run."""
    if not 0 <= weight < 1:
        raise ValueError(f"weight must be in [0, 1), got {weight}")
    smoothed, average, norm = [], 0.0, 0.0
    previous = None
    for i, value in enumerate(values):
        gap = 1 if steps is None or previous is None else max(1, steps[i] - previous)
        previous = None if steps is None else steps[i]
        decay = weight**gap
        average = decay * average + (1 - decay) * value
        norm = decay * norm + (1 - decay)  # 1 - weight**(steps so far): the bias correction
        smoothed.append(average / norm if norm > 0 else value)
    return smoothed


def entropy_bits(probabilities: Sequence[float]) -> float:
    """Shannon entropy in bits: 0 for a one-hot answer, log2(classes) for a uniform one."""
    p = np.asarray(probabilities, dtype=float)
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def _thin(xs: list, ys: list, limit: int = MAX_RAW_POINTS) -> tuple[list, list]:
    stride = max(1, -(-len(xs) // limit))
    return xs[::stride], ys[::stride]


def log_axis(values: Sequence[float]) -> dict:
    """A log axis for positive ``values`` that spans at least one decade, labelled at 1, 2 and 5 × 10^k when it
    spans up to three: with a narrower range (one point, a run that stopped at once) Plotly labels every digit and
    the ticks pile up."""
    if not values:
        return dict(type="log")
    low, high = math.log10(min(values)), math.log10(max(values))
    pad = max(0.1, (1 - (high - low)) / 2)
    return dict(type="log", range=[low - pad, high + pad], dtick="D2" if high - low + 2 * pad <= 3 else None)


def loss_figure(
    events: Iterable, smoothing: float = 0.9, max_points: int = MAX_RAW_POINTS, stopped: str | None = None
) -> go.Figure:
    """Per-step training loss of every phase: raw (faint) and smoothed (bold).

    ``events`` are ``kd_core.ProgressEvent``s; only ``kind == "step"`` ones are drawn.  Each phase gets its
    total loss and one curve per named part its loss reports (the KD student: soft and hard; the teacher and
    the baseline, trained on labels only, just the total).  Non-finite losses (a diverged run) are left out, and a
    note says how many: one inf would stretch the log axis beyond reading.  A loss of exactly 0 (a soft loss that
    underflowed: the student matches the teacher) cannot sit on a log axis either; it is left out without a note.
    ``stopped``: why training ended early (a divergence), written in the chart, where its curves end.
    """
    series: dict[tuple[str, str], tuple[list, list]] = {}
    diverged = 0
    for event in events:
        if event.kind != "step":
            continue
        for part, value in (("total", event.loss), *event.parts.items()):
            if not math.isfinite(value):
                diverged += 1
                continue
            if value <= 0:  # a log axis cannot place 0 or below
                continue
            xs, ys = series.setdefault((event.phase, part), ([], []))
            xs.append(event.step)
            ys.append(value)
    with_parts = {phase for phase, part in series if part != "total"}
    figure = go.Figure()
    for (phase, part), (xs, ys) in series.items():
        name = LABELS.get(phase, phase) + (f" — {part}" if phase in with_parts else "")
        line = dict(color=COLORS.get(phase), dash=PART_DASHES.get(part, "dashdot"))
        raw_x, raw_y = _thin(xs, ys, max_points)
        figure.add_trace(
            go.Scatter(
                x=raw_x,
                y=raw_y,
                mode="lines",
                name=f"{name} (raw)",
                legendgroup=name,
                showlegend=False,
                opacity=0.25,
                line={**line, "width": 1},
                hoverinfo="skip",
            )
        )
        smooth_x, smooth_y = _thin(xs, smooth(ys, smoothing, xs), max_points)
        figure.add_trace(
            go.Scatter(
                x=smooth_x,
                y=smooth_y,
                mode="lines+markers" if len(xs) <= FEW_POINTS else "lines",
                name=name,
                legendgroup=name,
                line={**line, "width": 2.5},
            )
        )
    figure.update_layout(
        title="Training loss (bold: smoothed)",  # short: it must fit a half-width chart at 1024 px
        xaxis_title="step (within each phase)",
        yaxis_title="loss (log scale)",  # the T²-scaled soft loss starts 10× above the rest
        margin=dict(l=10, r=10, t=50, b=10),
        height=380,
        showlegend=True,
        legend=LEGEND_BELOW,
    )
    # Plain numbers: Plotly's default SI prefixes read "100μ" for 0.0001, which nobody reads as a loss.
    figure.update_yaxes(tickformat=".3~g", **log_axis([y for _, ys in series.values() for y in ys]))
    if diverged:
        figure.add_annotation(
            text=f"{diverged} non-finite loss value{'s' if diverged > 1 else ''} not drawn (the run diverged)",
            showarrow=False,
            x=0.5,
            y=1.0,
            xref="paper",
            yref="paper",
            yanchor="bottom",
            font=dict(color="#d62728"),
        )
    if stopped:
        # At the top: the middle is where a run that stopped at once has its one point.
        figure.add_annotation(
            text=_wrap(stopped),
            showarrow=False,
            x=0.5,
            y=1,
            xref="paper",
            yref="paper",
            yanchor="top",
            font=dict(color="#d62728"),
            bgcolor="rgba(255,255,255,0.85)",
        )
    elif not series:
        figure.add_annotation(text="no training steps yet", showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    return figure


def _wrap(text: str, width: int = 32) -> str:
    """``text`` in lines of at most about ``width`` characters (Plotly never wraps an annotation itself)."""
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "<br>".join([*lines, line] if line else lines)


ACCURACY_STEP = 5  # points: the accuracy axis starts at a multiple of this
ACCURACY_MARGIN = 2  # points: at least this much room under the lowest accuracy


def accuracy_range(values: Sequence[float]) -> list[float]:
    """The accuracy axis (%), fitted to the data: from a multiple of 5 points at least 2 points under the lowest
    accuracy, to 100 %.  MNIST's 97–99 % then fill the chart ([95, 100]) instead of its top 3 % (on a 0–100 % axis
    the three models' lines lay on each other); digits' first epochs at 40 % start the axis at 35; the top stays at
    100 %, the best a model can do, and a diverged run's lone point at 10 % still reads as far from it ([5, 100])."""
    if not values:
        return [0, 100]
    floor = ACCURACY_STEP * math.floor((min(values) - ACCURACY_MARGIN) / ACCURACY_STEP)
    return [max(0, min(100 - ACCURACY_STEP, floor)), 100]


def accuracy_figure(events: Iterable) -> go.Figure:
    """Test accuracy (%) at the end of each epoch, one line per model, on an axis fitted to the accuracies
    (``accuracy_range``: up to 100 %)."""
    series: dict[str, tuple[list, list]] = {}
    for event in events:
        if event.kind != "epoch" or event.test_accuracy is None or not math.isfinite(event.test_accuracy):
            continue
        xs, ys = series.setdefault(event.phase, ([], []))
        xs.append(event.epoch)
        ys.append(100 * event.test_accuracy)
    figure = go.Figure()
    # Teacher, KD student, scratch in that order, whichever trained first (a lesson's baselines may come first).
    order = {phase: i for i, phase in enumerate(("teacher", "student", "baseline"))}
    for phase, (xs, ys) in sorted(series.items(), key=lambda item: order.get(item[0], len(order))):
        figure.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines+markers",
                name=LABELS.get(phase, phase),
                line=dict(color=COLORS.get(phase), width=2.5),
                cliponaxis=False,  # a point at 100 %, on the axis's top edge, is drawn whole
            )
        )
    figure.update_layout(
        title="Test accuracy per epoch",
        xaxis_title="epoch",
        yaxis_title="test accuracy (%)",
        margin=dict(l=10, r=10, t=50, b=10),
        height=380,
        showlegend=True,
        legend=LEGEND_BELOW,
    )
    figure.update_yaxes(range=accuracy_range([y for _, ys in series.values() for y in ys]))
    if not series:
        figure.add_annotation(text="no finished epochs yet", showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    return figure


def _bars(
    figure: go.Figure,
    probabilities: Sequence[float],
    classes: list[str],
    name: str,
    color: str,
    row: int | None,
    pattern: str = "",
) -> None:
    trace = go.Bar(
        x=classes,
        y=list(map(float, probabilities)),
        name=name,
        marker_color=color,
        marker_pattern_shape=pattern,
        hovertemplate="class %{x}: %{y:.3f}<extra>" + name + "</extra>",
    )
    if row is None:
        figure.add_trace(trace)
    else:
        figure.add_trace(trace, row=row, col=1)


def probability_figure(
    teacher: Sequence[float] | None,
    student: Sequence[float],
    class_names: Sequence[str],
    temperature: float,
    student_label: str = "KD student",
    teacher_at_1: Sequence[float] | None = None,
    student_at_1: Sequence[float] | None = None,
) -> go.Figure:
    """Grouped bars, teacher vs student, of softmax(logits / T) per class; entropies in the legend.

    Pass ``teacher_at_1``/``student_at_1`` to add a second panel at T = 1 for comparison.
    ``teacher`` may be None (no trained teacher yet): only the student is drawn.
    """
    classes = [str(name) for name in class_names]
    compare = student_at_1 is not None
    figure = (
        make_subplots(
            rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.12, subplot_titles=(f"T = {temperature:g}", "T = 1")
        )
        if compare
        else go.Figure()
    )
    panels = [(1 if compare else None, temperature, teacher, student, "")]
    if compare:
        panels.append((2, 1.0, teacher_at_1, student_at_1, "/"))
    for row, t, teacher_p, student_p, pattern in panels:
        if teacher_p is not None:
            _bars(
                figure,
                teacher_p,
                classes,
                f"Teacher, T={t:g} (entropy {entropy_bits(teacher_p):.2f} bits)",
                COLORS["teacher"],
                row,
                pattern,
            )
        _bars(
            figure,
            student_p,
            classes,
            f"{student_label}, T={t:g} (entropy {entropy_bits(student_p):.2f} bits)",
            COLORS["student"],
            row,
            pattern,
        )
    figure.update_layout(
        barmode="group",
        # two lines: a single one is cut off on a 358 px wide chart
        title=f"Softened probabilities per class<br>(max entropy {np.log2(len(classes)):.2f} bits)",
        yaxis_title="probability",
        margin=dict(l=10, r=10, t=70, b=10),
        height=520 if compare else 400,
        showlegend=True,
        legend=LEGEND_BELOW,
    )
    figure.update_yaxes(range=[0, 1])
    figure.update_xaxes(type="category", tickmode="array", tickvals=classes, ticktext=classes)  # every class labelled
    return figure


def upscale(pixels: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement: every pixel becomes a factor×factor block, so edges stay crisp."""
    return np.repeat(np.repeat(np.asarray(pixels), factor, axis=0), factor, axis=1)


def image_figure(pixels: np.ndarray, title: str = "", size: int = 280) -> go.Figure:
    """An (H, W) image in [0, 1] (ink dark on white) or an (H, W, 3) colour image, scaled up with crisp pixels."""
    pixels = np.asarray(pixels, dtype=float)
    figure = go.Figure()
    if pixels.ndim == 2:
        # zsmooth=False: one flat cell per pixel, never interpolated.
        figure.add_trace(
            go.Heatmap(
                z=pixels,
                colorscale="Greys",
                zmin=0,
                zmax=1,
                zsmooth=False,
                showscale=False,
                hovertemplate="row %{y}, col %{x}: %{z:.2f}<extra></extra>",
            )
        )
        figure.update_yaxes(autorange="reversed")
    else:
        factor = max(1, size // max(pixels.shape[:2]))
        figure.add_trace(go.Image(z=(upscale(pixels, factor) * 255).clip(0, 255).astype(np.uint8)))
    figure.update_xaxes(visible=False, scaleanchor="y", constrain="domain")
    figure.update_yaxes(visible=False)
    figure.update_layout(title=title, width=size, height=size + 40, margin=dict(l=0, r=0, t=40, b=0))
    return figure
