"""The report's headline over seeds, in words and one small chart: plain functions of plain numbers.

No Streamlit here, so every sentence and figure is unit-tested (tests/test_figures.py).
"""

from __future__ import annotations

from typing import Sequence

import plotly.graph_objects as go

from kd_core.stats import Interval

VERDICTS = {  # kd_core's verdict -> (what the page says, its colour)
    "helps": ("KD helps", "#2e7d32"),
    "no clear difference": ("No clear difference", "#757575"),
    "hurts": ("KD hurts", "#c62828"),
}
# A mean gain of fewer test images than this counts as "near zero" for the λ explanation: about a point on the
# digits' 360 test images, 0.04 points on MNIST's 10,000 (where +0.6 points is 57 fewer errors, no small thing), and
# everything under 22 points on a test set of 18 images, where one image is 5.6 points.
NEAR_ZERO_IMAGES = 4
# From this many points per test image on (a test set of 100 images or fewer), the report says plainly that one image
# moves the accuracy by that much.
COARSE_POINTS = 1.0


def signed(value: float, decimals: int = 1) -> str:
    """``+4.3``, ``−0.4`` (a real minus sign), and ``0.0`` with no sign for anything that rounds to zero."""
    rounded = round(value, decimals)
    if rounded == 0:
        return f"{0:.{decimals}f}"
    return f"{rounded:+.{decimals}f}".replace("-", "−")


def points(fraction: float) -> str:
    """A difference of accuracies (a fraction) in signed points, one decimal: ``+4.3``, ``−0.4``, ``0.0``."""
    return signed(100 * fraction, 1)


def delta(value: float, decimals: int = 1, unit: str = " points") -> dict:
    """``st.metric``'s delta arguments for a signed change: green up, red down, and no arrow or colour at all for a
    change that rounds to zero (the text keeps its real minus sign, so the arrow is set, not guessed from it)."""
    text = signed(value, decimals)
    if round(value, decimals) == 0:
        return {}
    up = value > 0
    return {"delta": text + unit, "delta_color": "green" if up else "red", "delta_arrow": "up" if up else "down"}


def headline(interval: Interval) -> str:
    """``+4.3 points, 95 % interval +0.4 to +8.3 over 5 seeds``; one seed: its value, and no interval."""
    if interval.low is None:
        return f"{points(interval.mean)} points from one seed"
    return (
        f"{points(interval.mean)} points, 95 % interval {points(interval.low)} to {points(interval.high)} "
        f"over {interval.n} seeds"
    )


def verdict_label(interval: Interval) -> tuple[str, str]:
    """(words, colour) of the verdict; one seed decides nothing."""
    if interval.low is None:
        return "One seed cannot decide", VERDICTS["no clear difference"][1]
    return VERDICTS[interval.verdict]


def meaning(interval: Interval) -> str:
    """One sentence on what the interval means for a student trained this way."""
    if interval.low is None:
        return (
            "One seed cannot decide: the same settings with another seed can move the accuracy by a point or more. "
            "Run 3 or more seeds to get an interval and a verdict."
        )
    low, high = points(interval.low), points(interval.high)
    if interval.verdict == "helps":
        return (
            f"The whole interval is above 0: a student trained with these settings can expect to gain between "
            f"{low} and {high} points from its teacher."
        )
    if interval.verdict == "hurts":
        return (
            f"The whole interval is below 0: with these settings the teacher's targets cost a student between "
            f"{abs(100 * interval.high):.1f} and {abs(100 * interval.low):.1f} points."
        )
    return (
        f"The interval, {low} to {high} points, includes 0: with these settings a student cannot count on gaining "
        "(or losing) anything from the teacher; the differences between seeds are noise."
    )


def near_zero(mean: float, test_size: int) -> bool:
    """Whether a mean KD − baseline (a fraction) is fewer than NEAR_ZERO_IMAGES test images."""
    return abs(mean) * test_size < NEAR_ZERO_IMAGES


def coarse(test_size: int) -> bool:
    """Whether one test image is worth COARSE_POINTS or more: accuracies move in visible steps."""
    return 100 / test_size >= COARSE_POINTS


def in_images(mean: float, test_size: int, noun: str = "images") -> str:
    """A mean KD − baseline as test images: ``+0.6 points is 57 more of the 10,000 test images right``
    (``noun``: "rows" for a table)."""
    images = abs(mean) * test_size
    count = f"{images:.0f}" if images >= 10 or abs(images - round(images)) < 0.05 else f"{images:.1f}"
    if round(images, 1) == 0:
        return f"{points(mean)} points: not one of the {test_size:,} test {noun} apart"
    more = "more" if mean > 0 else "fewer"
    return f"{points(mean)} points is {count} {more} of the {test_size:,} test {noun} right"


LARGE_SHARE = 0.5  # from this share of the training data on, the full-data lesson's explanation applies


def full_data_applies(config, interval: Interval | None, lesson: str | None, full_data: str = "full-data") -> bool:
    """Whether "Why does KD not help with all the data?" speaks to a report: digits, a large share of the data and
    every class seen, a verdict that KD does not help, and the full-data lesson not already the one chosen."""
    return (
        lesson != full_data
        and config.dataset == "digits"
        and config.student_fraction >= LARGE_SHARE
        and config.omit_class is None
        and interval is not None
        and interval.low is not None
        and interval.verdict != "helps"
    )


def stacked(xs: Sequence[float]) -> list[float]:
    """Heights for dots on one line: seeds with the same value (test accuracies come in steps of 1/360) sit
    above and below each other instead of hiding each other."""
    seen: dict[float, int] = {}
    heights = []
    for x in xs:
        key = round(x, 2)  # float32 accuracies: equal gains can differ in the last bits
        k = seen.get(key, 0)
        seen[key] = k + 1
        heights.append(0.3 * ((k + 1) // 2) * (1 if k % 2 else -1))
    return heights


def gain_figure(gains: Sequence[tuple[int, float]], interval: Interval) -> go.Figure:
    """KD − baseline per seed (dots, in points) on one horizontal line, the 95 % interval as a bar, 0 marked."""
    colour = verdict_label(interval)[1]
    xs = [100 * gain for _, gain in gains]
    figure = go.Figure()
    if interval.low is not None:
        figure.add_trace(
            go.Scatter(
                x=[100 * interval.low, 100 * interval.high],
                y=[0, 0],
                mode="lines",
                line=dict(color=colour, width=14),
                opacity=0.35,
                name="95 % interval",
                hovertemplate="95 %% interval: %s to %s points<extra></extra>"
                % (points(interval.low), points(interval.high)),
            )
        )
    figure.add_trace(
        go.Scatter(
            x=[100 * interval.mean],
            y=[0],
            mode="markers",
            name="mean",
            marker=dict(symbol="line-ns", size=26, line=dict(width=3, color=colour)),
            hovertemplate="mean: %{x:+.2f} points<extra></extra>",
        )
    )
    figure.add_trace(
        go.Scatter(
            x=xs,
            y=stacked(xs),
            mode="markers",
            name="one seed",
            marker=dict(size=10, color="#212121", opacity=0.75, line=dict(width=1, color="white")),
            text=[f"seed {seed}" for seed, _ in gains],
            hovertemplate="%{text}: %{x:+.2f} points<extra></extra>",
        )
    )
    span = [*xs, 0.0] + ([100 * interval.low, 100 * interval.high] if interval.low is not None else [])
    pad = max(1.0, 0.15 * (max(span) - min(span)))
    figure.add_vline(x=0, line=dict(color="#424242", width=1.5, dash="dash"))
    figure.update_layout(
        title="KD − baseline per seed (points)",
        height=150,
        margin=dict(l=10, r=10, t=36, b=30),
        showlegend=False,
        xaxis=dict(range=[min(span) - pad, max(span) + pad], zeroline=False, ticksuffix=" pt"),
        yaxis=dict(visible=False, range=[-1, 1]),
    )
    return figure


def loss_weight_text(loss: str, factor: float, temperature: float, lam: float) -> str:
    """What a loss does to the soft term's weight, with the current T and λ."""
    if abs(factor - 1.0) < 1e-9:
        return (
            f"The soft term gets the weight it should: at λ = {lam:g} the teacher's targets carry {lam:.0%} of the "
            "loss and the labels the rest, whatever T is."
        )
    effective = lam * factor / (lam * factor + (1 - lam)) if lam > 0 else 0.0
    why = {
        "kd-no-t2": f"without T² the soft term's gradients shrink like 1/T² = 1/{temperature**2:g}",
        "seed-script": "the seed script averages the soft loss over the classes as well as the images, and "
        "doubling it does not make up for that",
    }
    dominated = "the labels dominate" if effective < 0.5 else "the teacher still leads"
    return (
        f"The soft term gets {factor:.2g}× the weight it should ({why.get(loss, 'another scaling')}): at λ = {lam:g} "
        f"it acts like λ ≈ {effective:.2f} of the correct loss — {dominated}."
    )


def balance(history: Sequence, lam: float) -> dict | None:
    """The KD student's last epoch: its soft and hard loss and their weighted shares λ·soft and (1−λ)·hard."""
    rows = [row for row in history if row.phase == "student" and "soft" in row.parts and "hard" in row.parts]
    if not rows:
        return None
    last = rows[-1]
    soft, hard = last.parts["soft"], last.parts["hard"]
    weighted_soft, weighted_hard = lam * soft, (1 - lam) * hard
    total = weighted_soft + weighted_hard
    share = weighted_soft / total if total > 0 else 0.5
    return {
        "epoch": last.epoch,
        "soft": soft,
        "hard": hard,
        "weighted_soft": weighted_soft,
        "weighted_hard": weighted_hard,
        "soft_share": share,
    }


def balance_text(b: dict, lam: float, outcome: str | None = None, loss: str = "kd") -> str:
    """Which part of the loss dominates the KD student's total, with the run's own numbers.  ``outcome``: the run's
    verdict ("helps", "no clear difference", "hurts"; None: not known), so that the reason given matches the
    report above it; ``loss``: the loss used, so that "try the correct loss" is said only where it was not."""
    numbers = (
        f"In its last epoch the KD student's soft loss was {b['soft']:.3g} and its hard loss {b['hard']:.3g}: "
        f"λ·soft = {lam:g} × {b['soft']:.3g} = {b['weighted_soft']:.3g} against "
        f"(1 − λ)·hard = {1 - lam:.2g} × {b['hard']:.3g} = {b['weighted_hard']:.3g}."
    )
    correct = "" if loss == "kd" else ", or the correct loss"
    if b["soft_share"] > 0.8:
        copying = (
            f" The teacher's part is {b['soft_share']:.0%} of the total: the student is mostly copying the teacher"
        )
        why = (
            copying + ", and copying it costs this student accuracy against the labels alone — a smaller λ gives the "
            f"labels more say{correct}."
            if outcome == "hurts"
            else copying + ", and it lands about where the labels alone take it, so moving λ changes little."
        )
    elif b["soft_share"] < 0.2:
        why = (
            f" The labels' part is {1 - b['soft_share']:.0%} of the total: the teacher's targets barely pull, so the "
            f"student learns as it would alone — try a larger λ{correct}."
        )
    elif outcome == "hurts":
        why = (
            f" Both parts pull (the teacher's is {b['soft_share']:.0%} of the total), and KD − baseline is below zero: "
            "what the teacher's targets add costs this student accuracy here."
        )
    else:
        why = (
            f" Both parts pull (the teacher's is {b['soft_share']:.0%} of the total); when KD − baseline is still "
            "near zero, the teacher simply has little to add that the labels do not already say."
        )
    return numbers + why
