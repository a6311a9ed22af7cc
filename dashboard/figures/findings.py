"""A finding's figures (kd_core/studies/research.py): plain functions of plain data, no Streamlit.

    claim_figure(description, per_seed, seeds, interval, unit, colour)   # one claim: a dot per seed, its interval
    arms_figure({arm: {part: accuracy}})                                  # the arms' mean accuracies side by side
    per_seed_figure({series: [accuracy per seed]}, seeds)                 # born-again, poor teacher: seed by seed
    capacity_figure(curve)                                                # student accuracy by teacher width
    similarity_figure({arm: matrix}, temperature)                         # where two teachers' wrong mass goes
    fidelity_figure(agreement, kl)                                        # agreement and KL over training
    noise_figure(noise, real, chance)                                     # the noise student, the real one, chance

Accuracies and agreements come in as fractions and are drawn in percent; a claim's differences come in its
measure's stored units (``ClaimResult.differences``: fractions for accuracy and agreement, nats for KL).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.text.verdict import stacked
from kd_core.stats import Interval
from kd_core.studies.research import CapacityCurve

PART_NAMES = {"teacher": "teacher", "student": "KD student", "baseline": "scratch"}
PART_COLOURS = {"teacher": "#424242", "student": "#1f77b4", "baseline": "#ff7f0e"}
COLOURS = {"green": "#2e7d32", "orange": "#e65100", "gray": "#616161"}


def claim_figure(
    description: str,
    per_seed: Sequence[float],
    seeds: Sequence[int],
    interval: Interval,
    unit: str = "points",
    colour: str = "green",
) -> go.Figure:
    """One claim's paired differences, in the measure's stored units (fractions for ``unit`` "points", nats as they
    are): a dot per seed on one line, the 95 % interval as a bar, the mean as a tick, 0 dashed — as the Distill
    report draws KD − scratch, in ``unit``."""
    tint = COLOURS.get(colour, colour)
    scale = 100.0 if unit == "points" else 1.0
    digits = 2 if unit == "points" else 4
    xs = [scale * d for d in per_seed]
    figure = go.Figure()
    if interval.low is not None:
        figure.add_scatter(
            x=[scale * interval.low, scale * interval.high],
            y=[0, 0],
            mode="lines",
            line=dict(color=tint, width=14),
            opacity=0.35,
            name="95 % interval",
            hovertemplate=f"95 %% interval: %{{x:+.{digits}f}} {unit}<extra></extra>",
        )
    figure.add_scatter(
        x=[scale * interval.mean],
        y=[0],
        mode="markers",
        name="mean",
        marker=dict(symbol="line-ns", size=26, line=dict(width=3, color=tint)),
        hovertemplate=f"mean: %{{x:+.{digits}f}} {unit}<extra></extra>",
    )
    figure.add_scatter(
        x=xs,
        y=stacked(xs),
        mode="markers",
        name="one seed",
        marker=dict(size=9, color="#212121", opacity=0.75, line=dict(width=1, color="white")),
        text=[f"seed {seed}" for seed in seeds],
        hovertemplate=f"%{{text}}: %{{x:+.{digits}f}} {unit}<extra></extra>",
    )
    span = [*xs, 0.0] + ([scale * interval.low, scale * interval.high] if interval.low is not None else [])
    pad = max(1.0 if unit == "points" else 1e-3, 0.15 * (max(span) - min(span)))
    figure.add_vline(x=0, line=dict(color="#424242", width=1.5, dash="dash"))
    figure.update_layout(
        title=dict(text=description, font=dict(size=13)),
        height=140,
        margin=dict(l=10, r=10, t=32, b=30),
        showlegend=False,
        xaxis=dict(
            title=None,
            range=[min(span) - pad, max(span) + pad],
            zeroline=False,
            ticksuffix=" pt" if unit == "points" else f" {unit}",
        ),
        yaxis=dict(visible=False, range=[-1, 1]),
    )
    return figure


def arms_figure(
    accuracies: dict[str, dict[str, float | None]], title: str = "Each arm's mean test accuracy"
) -> go.Figure:
    """Grouped bars: each arm's teacher, KD student and scratch student (mean over the seeds, fractions; None or
    missing: not trained in that arm), in percent."""
    figure = go.Figure()
    arms = list(accuracies)
    for part in ("teacher", "student", "baseline"):
        values = [accuracies[arm].get(part) for arm in arms]
        if all(v is None for v in values):
            continue
        figure.add_bar(
            x=arms,
            y=[None if v is None else 100 * v for v in values],
            name=PART_NAMES[part],
            marker_color=PART_COLOURS[part],
            text=["" if v is None else f"{100 * v:.1f}" for v in values],
            textposition="outside",
            hovertemplate=f"%{{x}}, {PART_NAMES[part]}: %{{y:.2f}} %<extra></extra>",
        )
    shown = [100 * v for arm in arms for v in accuracies[arm].values() if v is not None]
    low = max(0.0, min(shown) - 5) if shown else 0.0
    figure.update_layout(
        title=title,
        barmode="group",
        height=340,
        yaxis=dict(title="test accuracy (%)", range=[low, 101]),
        xaxis=dict(title="arm"),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, x=1, xanchor="right"),
        margin=dict(l=60, r=10, t=60, b=40),
    )
    return figure


def per_seed_figure(
    series: dict[str, Sequence[float | None]],
    seeds: Sequence[int],
    title: str = "Test accuracy, seed by seed",
    colours: dict[str, str] | None = None,
    dashes: dict[str, str] | None = None,
) -> go.Figure:
    """One line per series (an arm's model: "generation 1: teacher") across the seeds, in percent: the finding's
    comparisons are paired by seed, so a difference that holds seed by seed is seen to.  ``colours`` and ``dashes``
    by series name (a part's colour, an arm's dash); Plotly's own where not given."""
    figure = go.Figure()
    for index, (name, values) in enumerate(series.items()):
        figure.add_scatter(
            x=list(seeds),
            y=[None if v is None else 100 * v for v in values],
            mode="lines+markers",
            name=name,
            line=dict(width=2, color=(colours or {}).get(name), dash=(dashes or {}).get(name, "solid")),
            marker=dict(size=8, symbol=("circle", "diamond", "square", "triangle-up")[index % 4]),
            hovertemplate=f"{name}, seed %{{x}}: %{{y:.2f}} %<extra></extra>",
        )
    figure.update_layout(
        title=title,
        height=340,
        xaxis=dict(title="seed", tickvals=list(seeds), dtick=1),
        yaxis=dict(title="test accuracy (%)"),
        legend=dict(orientation="h", yanchor="top", y=-0.22),
        margin=dict(l=60, r=10, t=50, b=40),
    )
    return figure


def capacity_figure(curve: CapacityCurve) -> go.Figure:
    """The capacity gap: the small student's accuracy by its teacher's width (log axis), the teachers' own beside
    it, scratch as a dashed line, and the student taught through the assistant as a point of its own at the
    widest teacher's width."""
    figure = go.Figure()
    widths = list(curve.widths)
    figure.add_scatter(
        x=widths,
        y=[100 * v for v in curve.teacher],
        mode="lines+markers",
        name="teacher",
        line=dict(color=PART_COLOURS["teacher"], dash="dot"),
        marker=dict(size=8),
        hovertemplate="teacher %{x} wide: %{y:.2f} %<extra></extra>",
    )
    figure.add_scatter(
        x=widths,
        y=[100 * v for v in curve.student],
        mode="lines+markers",
        name="KD student, taught directly",
        line=dict(color=PART_COLOURS["student"], width=3),
        marker=dict(size=10),
        hovertemplate="student of the teacher %{x} wide: %{y:.2f} %<extra></extra>",
    )
    if curve.assistant_student is not None and widths:
        figure.add_scatter(
            x=[widths[-1]],
            y=[100 * curve.assistant_student],
            mode="markers",
            name=f"KD student through a {curve.assistant_width}-wide assistant",
            marker=dict(size=14, symbol="star", color="#2e7d32", line=dict(width=1, color="white")),
            hovertemplate=f"through the {curve.assistant_width}-wide assistant: %{{y:.2f}} %<extra></extra>",
        )
    if curve.scratch is not None:
        figure.add_hline(
            y=100 * curve.scratch,
            line=dict(color=PART_COLOURS["baseline"], dash="dash", width=1.5),
            annotation_text="scratch",
            annotation_position="bottom right",
        )
    figure.update_layout(
        title="The student's accuracy by its teacher's width",
        height=380,
        xaxis=dict(
            title="teacher width (hidden units)", type="log", tickvals=widths, ticktext=[str(w) for w in widths]
        ),
        yaxis=dict(title="test accuracy (%)"),
        legend=dict(orientation="h", yanchor="top", y=-0.2),
        margin=dict(l=60, r=10, t=50, b=40),
    )
    return figure


def wrong_class_shares(matrix: np.ndarray) -> np.ndarray:
    """Each row's probability on the wrong classes as shares of their sum (the diagonal NaN): where a teacher puts
    what it does not give the true class.  A teacher that spreads it evenly (smoothing) has every share 1/(k − 1)."""
    m = np.asarray(matrix, dtype=float)
    off = np.where(np.eye(m.shape[0], dtype=bool), np.nan, m)
    return off / np.nansum(off, axis=1, keepdims=True)


def similarity_figure(
    matrices: dict[str, np.ndarray], temperature: float, class_names: Sequence[str] | None = None
) -> go.Figure:
    """The teachers' class similarity side by side, on one colour scale: row i is the teacher's mean softened output
    (at ``temperature``) on the test images of class i, its wrong classes as shares of their sum
    (``wrong_class_shares``).  A plain teacher puts most of it on the few classes that look like i — the dark
    knowledge; a smoothed one spreads it evenly, and its rows are flat."""
    names = list(matrices)
    size = next(iter(matrices.values())).shape[0] if matrices else 0
    labels = list(class_names) if class_names else [str(i) for i in range(size)]
    shares = {name: wrong_class_shares(m) for name, m in matrices.items()}
    top = max((float(np.nanmax(m)) for m in shares.values() if np.isfinite(m).any()), default=1.0)
    figure = make_subplots(rows=1, cols=len(names), subplot_titles=names, horizontal_spacing=0.08)
    for index, name in enumerate(names):
        figure.add_trace(
            go.Heatmap(
                z=[[None if np.isnan(v) else 100 * v for v in row] for row in shares[name]],
                x=labels,
                y=labels,
                zmin=0,
                zmax=100 * top,
                colorscale="Blues",
                showscale=index == len(names) - 1,
                colorbar=dict(title="%", thickness=12),
                name=name,
                hovertemplate=f"{name}: of what class %{{y}} images give the wrong classes, %{{z:.1f}} % goes to "
                "class %{x}<extra></extra>",
            ),
            row=1,
            col=index + 1,
        )
        figure.update_xaxes(title_text="wrong class", type="category", row=1, col=index + 1)
        figure.update_yaxes(
            title_text="true class" if index == 0 else None, type="category", autorange="reversed", row=1, col=index + 1
        )
    figure.update_layout(
        title=f"Where each teacher puts its wrong-class probability (T = {temperature:g})",
        height=380,
        margin=dict(l=60, r=10, t=70, b=40),
    )
    return figure


def fidelity_figure(agreement: dict[str, Sequence[float]], kl: dict[str, Sequence[float]] | None = None) -> go.Figure:
    """Agreement with the teacher (top-1, in percent) after each epoch, KD student against scratch, and their KL to
    the teacher (nats) beneath: the KD student agrees more, and still levels off below 100 %."""
    rows = 2 if kl else 1
    figure = make_subplots(
        rows=rows,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.12,
        subplot_titles=["Top-1 agreement with the teacher", "KL(teacher ‖ model), nats"][:rows],
    )
    for part, values in agreement.items():
        figure.add_scatter(
            x=list(range(1, len(values) + 1)),
            y=[100 * v for v in values],
            mode="lines+markers",
            name=PART_NAMES.get(part, part),
            legendgroup=part,
            line=dict(color=PART_COLOURS.get(part), width=2),
            hovertemplate=f"{PART_NAMES.get(part, part)}, epoch %{{x}}: %{{y:.2f}} %<extra></extra>",
            row=1,
            col=1,
        )
    figure.add_hline(y=100, line=dict(color="#424242", dash="dash", width=1), row=1, col=1)
    for part, values in (kl or {}).items():
        figure.add_scatter(
            x=list(range(1, len(values) + 1)),
            y=list(values),
            mode="lines+markers",
            name=PART_NAMES.get(part, part),
            legendgroup=part,
            showlegend=False,
            line=dict(color=PART_COLOURS.get(part), width=2, dash="dot"),
            hovertemplate=f"{PART_NAMES.get(part, part)}, epoch %{{x}}: %{{y:.4f}} nats<extra></extra>",
            row=2,
            col=1,
        )
    figure.update_yaxes(title_text="agreement (%)", row=1, col=1)
    if kl:
        figure.update_yaxes(title_text="KL (nats)", row=2, col=1)
    figure.update_xaxes(title_text="epoch", row=rows, col=1)
    figure.update_layout(
        title="Agreement with the teacher over training, KD against scratch",
        height=260 + 160 * (rows - 1),
        legend=dict(orientation="h", yanchor="bottom", y=1.04, x=1, xanchor="right"),
        margin=dict(l=60, r=10, t=80, b=40),
    )
    return figure


def noise_figure(noise: float, real: float, chance: float) -> go.Figure:
    """Three bars: the student distilled on noise, the one on the real images, and chance (fractions, in %)."""
    names = ["KD on noise", "KD on real images", "chance"]
    values = [noise, real, chance]
    figure = go.Figure()
    figure.add_bar(
        x=names,
        y=[100 * v for v in values],
        marker_color=["#6a1b9a", PART_COLOURS["student"], "#9e9e9e"],
        text=[f"{100 * v:.1f} %" for v in values],
        textposition="outside",
        name="test accuracy",
        hovertemplate="%{x}: %{y:.2f} %<extra></extra>",
    )
    figure.update_layout(
        title="What a student learns from a teacher's answers on noise",
        height=320,
        yaxis=dict(title="test accuracy (%)", range=[0, 110]),
        xaxis=dict(title="the student's transfer set"),
        showlegend=False,
        margin=dict(l=60, r=10, t=50, b=40),
    )
    return figure
