"""The class board's chart and table: plain functions of a ``kd_core.board.collect.Board`` (no Streamlit, no torch).

Every seed is a faint point; each settings' mean over its seeds is a bold marker with its 95 % interval, joined
along the x axis per lesson; a zero line shows where KD stops helping, so an interval that crosses it is seen to.
"""

from __future__ import annotations

import math

import plotly.graph_objects as go

from dashboard.text.verdict import points, verdict_label
from kd_core.board.collect import AXES, FREE_PLAY, SWEEP_LABEL, Board, BoardGroup
from kd_core.methods.registry import METHODS
from kd_core.studies.lessons import LESSONS
from kd_core.studies.research import FINDINGS

# One colour per lesson, in LESSONS' order, stable from one refresh to the next; free play in grey.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")
FREE_PLAY_COLOR = "#7f7f7f"
FINDING_PALETTE = ("#00695c", "#6a1b9a", "#ad1457", "#283593", "#ef6c00", "#4e342e", "#558b2f")  # findings after Hinton
METHOD_PALETTE = ("#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d", "#31a354")
LOG_AXES = ("temperature", "student_fraction", "student_width")  # values that double: 1, 2, 4, 8 … or 3 %, 10 %, 100 %


def lesson_color(lesson: str) -> str:
    """A lesson's colour; lessons joined with " / " (the same settings along this axis) take the first one's; a
    method's runs ("little-data · dkd", from the Methods tab) take the method's colour; a lesson's sweep runs
    ("little-data (sweep)") its colour too (they differ by their markers)."""
    lesson = lesson.removesuffix(SWEEP_LABEL)
    if " · " in lesson:
        method = lesson.rsplit(" · ", 1)[1]
        return (
            METHOD_PALETTE[list(METHODS).index(method) % len(METHOD_PALETTE)] if method in METHODS else FREE_PLAY_COLOR
        )
    first = lesson.split(" / ")[0]
    if first in FINDINGS:
        return FINDING_PALETTE[list(FINDINGS).index(first) % len(FINDING_PALETTE)]
    if first == FREE_PLAY or first not in LESSONS:
        return FREE_PLAY_COLOR
    return PALETTE[list(LESSONS).index(first) % len(PALETTE)]


def x_text(axis: str, x: float) -> str:
    """A value of the board's axis as the page shows it: a share as a percentage, a width as a whole number."""
    if axis == "student_fraction":
        return f"{100 * x:g} %"
    if axis == "student_width":
        return f"{int(x)}"
    return f"{x:g}"


def x_range(values: list[float], log: bool) -> list[float] | None:
    """The x range with room at both ends: for the side-by-side lessons, and at the right for the zero line's
    label (in log10 units on a log axis, as Plotly takes them)."""
    if not values:
        return None
    ends = [math.log10(values[0]), math.log10(values[-1])] if log else [values[0], values[-1]]
    span = (ends[1] - ends[0]) or (1.0 if log else 0.5)
    return [ends[0] - 0.12 * span, ends[1] + 0.3 * span]


def _mean_hover(axis: str, group: BoardGroup) -> str:
    interval = group.interval
    spread = (
        "one seed, no interval"
        if interval.low is None
        else f"95 % interval {points(interval.low)} to {points(interval.high)} over {interval.n} seeds"
    )
    return f"{group.lesson}, {x_text(axis, group.x)}: mean {points(interval.mean)} points ({spread})"


def board_figure(board: Board, height: int = 460) -> go.Figure:
    """KD − baseline (points) against the board's axis: seeds as points, means with their 95 % intervals."""
    figure = go.Figure()
    for lesson in board.lessons:
        color = lesson_color(lesson)
        # A sweep's runs: open squares and a dotted line, beside the same lesson's Distill runs (filled diamonds).
        sweep = lesson.endswith(SWEEP_LABEL)
        groups = [group for group in board.groups if group.lesson == lesson]
        seeds = [point for group in groups for point in group.points]
        figure.add_scatter(
            # Plain lists, not numpy arrays: Plotly would send those as base64, and the page's chart.data would hold
            # that instead of numbers.  The tab builds a figure once per set of runs, so checking lists costs little.
            x=[p.x for p in seeds],
            y=[100 * p.gain for p in seeds],
            mode="markers",
            name=lesson,
            legendgroup=lesson,
            offsetgroup=lesson,
            showlegend=False,
            marker=dict(
                color=color,
                size=7,
                opacity=0.45,
                symbol="square-open" if sweep else "circle",
                line=dict(width=1.5 if sweep else 0, color=color),
            ),  # an open marker is all outline
            customdata=[[p.seed, x_text(board.axis, p.x)] for p in seeds],
            hovertemplate=f"{lesson}, {AXES[board.axis]} %{{customdata[1]}}, seed %{{customdata[0]}}: "
            "%{y:+.2f} points<extra></extra>",
        )
        intervals = [g.interval for g in groups]
        figure.add_scatter(
            x=[g.x for g in groups],
            y=[100 * i.mean for i in intervals],
            name=lesson,
            legendgroup=lesson,
            offsetgroup=lesson,
            # Free play mixes settings: joining its means would draw a curve that no one setting follows.
            mode="markers" if lesson == FREE_PLAY else "lines+markers",
            line=dict(color=color, width=2, dash="dot" if sweep else "solid"),
            marker=dict(
                color=color, size=11, symbol="square-open" if sweep else "diamond", line=dict(width=2, color=color)
            ),
            error_y=dict(
                type="data",
                symmetric=False,
                color=color,
                thickness=2,
                width=6,
                array=[0 if i.high is None else 100 * (i.high - i.mean) for i in intervals],
                arrayminus=[0 if i.low is None else 100 * (i.mean - i.low) for i in intervals],
            ),
            text=[_mean_hover(board.axis, g) for g in groups],
            hovertemplate="%{text}<extra></extra>",
        )
    # Where KD does not help: on or below this line, and an interval that crosses it decides nothing.
    figure.add_hline(
        y=0,
        line=dict(color="#424242", dash="dash", width=1.5),
        annotation_text="KD = scratch",
        annotation_position="bottom right",
    )
    # Ticks at the values the class ran, not at Plotly's round numbers (a log axis would label 0.9, 3, 5, …).
    values = sorted({group.x for group in board.groups})
    xaxis = dict(
        title=AXES[board.axis],
        type="log" if board.axis in LOG_AXES else "linear",
        tickvals=values,
        ticktext=[x_text(board.axis, x) for x in values],
        range=x_range(values, board.axis in LOG_AXES),
    )
    figure.update_layout(
        title="Class board: KD − baseline, every run",
        height=height,
        # Lessons at the same x sit side by side (their true x in the hover), so one's interval never hides another's.
        scattermode="group",
        scattergap=0.75,
        xaxis=xaxis,
        yaxis=dict(title="KD − baseline (points)", zeroline=False),
        legend=dict(title="Lesson", orientation="h", yanchor="top", y=-0.18),
        margin=dict(l=60, r=20, t=50, b=40),
        hovermode="closest",
    )
    return figure


def board_rows(board: Board) -> list[dict]:
    """One row per settings and x: what the chart shows, in numbers and words."""
    rows = []
    for group in board.groups:
        interval = group.interval
        rows.append(
            {
                "lesson": group.lesson,
                AXES[board.axis]: x_text(board.axis, group.x),
                "seeds": interval.n,
                "KD − baseline (points)": points(interval.mean),
                "95 % interval": "–" if interval.low is None else f"{points(interval.low)} to {points(interval.high)}",
                "verdict": verdict_label(interval)[0],
            }
        )
    return rows
