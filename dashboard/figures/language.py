"""The Language tab's figures: validation curves in bits per character, next-character bars, the verdict's dots,
and the two-mode picture.  Plain functions of plain data, in the look of plots.py (its colours, its legend below)."""

from __future__ import annotations

from typing import Sequence

import plotly.graph_objects as go

from dashboard.figures.plots import COLORS, LABELS, LEGEND_BELOW, entropy_bits
from kd_core.language.modes import ModePicture

TRUTH_COLOR = "#2ca02c"
NAMES = {**LABELS, "baseline": "Scratch student", "truth": "True distribution"}
SHOWN_CHARS = 12  # the bars show the most likely characters after a prefix (the alphabet is ~30–65 long)
MODE_COLORS = {"forward-kl": COLORS["student"], "reverse-kl": "#9467bd", "jsd": "#ff7f0e"}


def curves_figure(curves: dict[tuple[int, str], tuple[list[int], list[float]]], truth_bits: float | None = None):
    """Validation bits per character per evaluation round: the teacher, and each seed's KD and scratch students
    (the first seed bold, the others faint); a dotted line at the true distribution's bits where it is known."""
    figure = go.Figure()
    order = {"teacher": 0, "student": 1, "baseline": 2}
    shown: set[str] = set()
    for (index, phase), (xs, ys) in sorted(curves.items(), key=lambda item: (order.get(item[0][1], 3), item[0][0])):
        first = phase == "teacher" or index == min(i for i, p in curves if p == phase)
        figure.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines+markers" if len(xs) <= 3 else "lines",
                name=NAMES.get(phase, phase) + ("" if phase == "teacher" else " (one line per seed)"),
                legendgroup=phase,
                showlegend=phase not in shown,
                opacity=1.0 if first else 0.45,
                line=dict(color=COLORS.get(phase), width=2.5 if first else 1.2),
                hovertemplate="step %{x}: %{y:.3f} bits/char<extra></extra>",
            )
        )
        shown.add(phase)
    if truth_bits is not None:
        figure.add_hline(
            y=truth_bits,
            line=dict(color=TRUTH_COLOR, dash="dot"),
            annotation_text=f"true distribution {truth_bits:.2f}",
            annotation_position="bottom left",  # under the line: the teacher's curve ends above it, on the right
        )
    figure.update_layout(
        title="Validation bits per character (lower is better)",
        xaxis_title="step (within each model's training)",
        yaxis_title="bits per character",
        margin=dict(l=10, r=10, t=50, b=10),
        height=380,
        legend=LEGEND_BELOW,
        showlegend=True,
    )
    if not curves:
        figure.add_annotation(text="no evaluation yet", showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    return figure


def char_label(c: str) -> str:
    """A character as a bar's label: a space and a newline made visible."""
    return {" ": "␣ space", "\n": "⏎ newline", "\t": "⇥ tab"}.get(c, c)


def top_characters(distributions: dict[str, dict[str, float]], count: int = SHOWN_CHARS) -> list[str]:
    """The characters to draw: the most likely under any model (or the truth), most likely first by the teacher."""
    best: dict[str, float] = {}
    for probs in distributions.values():
        for c, p in probs.items():
            best[c] = max(best.get(c, 0.0), p)
    ranked = sorted(best, key=lambda c: -best[c])[:count]
    teacher = distributions.get("teacher", {})
    return sorted(ranked, key=lambda c: -teacher.get(c, 0.0))


def next_char_figure(distributions: dict[str, dict[str, float]], temperature: float, prefix: str) -> go.Figure:
    """Grouped bars of each model's next-character probabilities at T (and the truth's), as the Probabilities tab
    draws classes: the most likely characters, entropies over the whole alphabet in the legend."""
    chars = top_characters(distributions)
    labels = [char_label(c) for c in chars]
    figure = go.Figure()
    names = NAMES
    colors = {**COLORS, "truth": TRUTH_COLOR}
    for name in ("teacher", "student", "baseline", "truth"):
        probs = distributions.get(name)
        if probs is None:
            continue
        label = f"{names[name]} (entropy {entropy_bits(list(probs.values())):.2f} bits)"
        figure.add_trace(
            go.Bar(
                x=labels,
                y=[probs.get(c, 0.0) for c in chars],
                name=label,
                marker_color=colors[name],
                marker_pattern_shape="/" if name == "truth" else "",
                hovertemplate="%{x}: %{y:.3f}<extra>" + names[name] + "</extra>",
            )
        )
    shown = prefix[-24:]
    figure.update_layout(
        barmode="group",
        title=f"Next character after “…{shown}” at T = {temperature:g}<br>(the {len(chars)} most likely)",
        yaxis_title="probability",
        margin=dict(l=10, r=10, t=70, b=10),
        height=420,
        legend=LEGEND_BELOW,
        showlegend=True,
    )
    figure.update_yaxes(range=[0, 1])
    figure.update_xaxes(type="category", tickmode="array", tickvals=labels, ticktext=labels)
    return figure


def seeds_figure(differences: Sequence[float], seeds: Sequence[int], low: float | None, high: float | None, mean):
    """KD − scratch per seed (dots) and its 95 % interval (bar), in bits per character; left of 0: KD helped."""
    figure = go.Figure()
    if low is not None:
        color = "#2ca02c" if high < 0 else "#d62728" if low > 0 else "#7f7f7f"
        figure.add_trace(
            go.Scatter(
                x=[low, high],
                y=["KD − scratch", "KD − scratch"],
                mode="lines",
                line=dict(color=color, width=10),
                opacity=0.35,
                name="95 % interval",
                hovertemplate="%{x:+.3f} bits/char<extra>95 % interval</extra>",
            )
        )
    figure.add_trace(
        go.Scatter(
            x=[mean],
            y=["KD − scratch"],
            mode="markers",
            marker=dict(symbol="line-ns", size=22, line=dict(width=3, color="#333")),
            name="mean",
            hovertemplate="mean %{x:+.3f} bits/char<extra></extra>",
        )
    )
    figure.add_trace(
        go.Scatter(
            x=list(differences),
            y=["KD − scratch"] * len(differences),
            mode="markers",
            marker=dict(size=11, color=COLORS["student"]),
            text=[f"seed {s}" for s in seeds],
            name="one seed",
            hovertemplate="%{text}: %{x:+.3f} bits/char<extra></extra>",
        )
    )
    figure.add_vline(x=0, line=dict(color="#333", dash="dash"))
    figure.update_layout(
        title="KD student − scratch student<br>(bits/char; left of 0: KD better)",  # two lines: a phone's width
        xaxis_title="difference in validation bits per character",
        yaxis=dict(showticklabels=False),
        margin=dict(l=10, r=10, t=70, b=10),
        height=250,
        legend=LEGEND_BELOW,
        showlegend=True,
    )
    return figure


def modes_figure(picture: ModePicture, beta: float) -> go.Figure:
    """The two-mode teacher (filled) and the one Gaussian forward KL, reverse KL and JSD(β) each fit to it."""
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=picture.grid,
            y=picture.teacher,
            mode="lines",
            fill="tozeroy",
            name="Teacher (two modes)",
            line=dict(color=COLORS["teacher"], width=2),
            hoverinfo="skip",
        )
    )
    jsd = next((f for f in picture.fits.values() if f.beta is not None and abs(f.beta - beta) < 1e-9), None)
    fits = [("forward-kl", picture.fits["forward-kl"], "solid"), ("reverse-kl", picture.fits["reverse-kl"], "dash")]
    if jsd is not None:
        fits.append(("jsd", jsd, "dot"))
    words = {"forward-kl": "Forward KL (KD)", "reverse-kl": "Reverse KL", "jsd": f"JSD(β = {beta:g})"}
    for key, fit, dash in fits:
        figure.add_trace(
            go.Scatter(
                x=picture.grid,
                y=fit.density,
                mode="lines",
                name=f"{words[key]}: mean {fit.mean:+.1f}, sd {fit.sd:.1f}",
                line=dict(color=MODE_COLORS[key], width=2.5, dash=dash),
                hoverinfo="skip",
            )
        )
    figure.update_layout(
        title="One Gaussian student, a two-mode teacher",
        xaxis_title="x",
        yaxis_title="probability",
        margin=dict(l=10, r=10, t=50, b=10),
        height=380,
        legend=LEGEND_BELOW,
        showlegend=True,
    )
    figure.update_xaxes(range=[-5.5, 5.5])
    return figure
