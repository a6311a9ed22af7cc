"""The dashboard's figure builders (plain functions → plotly Figure) and its progress estimate."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboard.figures import plots as figures
from dashboard.jobs import progress as seed_progress
from dashboard.runs import distill as runs
from dashboard.text import verdict
from kd_core import ProgressEvent
from kd_core.stats import Interval
from kd_core.train.records import EpochRecord


def step(phase: str, i: int, steps: int = 10, loss: float = 1.0, soft=None, hard=None) -> ProgressEvent:
    parts = {} if soft is None else {"soft": soft, "hard": hard}
    return ProgressEvent(phase, "step", 1, 1, i, steps, loss, parts)


def epoch(phase: str, e: int, accuracy: float, steps: int = 10) -> ProgressEvent:
    return ProgressEvent(phase, "epoch", e, 3, e * steps, 3 * steps, 0.5, test_accuracy=accuracy)


def test_smooth_is_bias_corrected_and_flat_on_constants():
    assert figures.smooth([]) == []
    assert figures.smooth([2.0, 2.0, 2.0]) == pytest.approx([2.0, 2.0, 2.0])
    assert figures.smooth([1.0, 0.0], weight=0.5)[0] == pytest.approx(1.0)  # no pull toward 0 at the start
    with pytest.raises(ValueError):
        figures.smooth([1.0], weight=1.0)


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=50), st.floats(0, 0.99))
def test_smooth_stays_within_the_range_of_the_data(values, weight):
    out = figures.smooth(values, weight)
    assert len(out) == len(values)
    assert all(
        min(values) - 1e-6 * (1 + abs(min(values))) <= v <= max(values) + 1e-6 * (1 + abs(max(values))) for v in out
    )


def test_entropy_bits():
    assert figures.entropy_bits([1.0, 0.0, 0.0]) == 0.0
    assert figures.entropy_bits([0.25] * 4) == pytest.approx(2.0)
    assert figures.entropy_bits(np.full(10, 0.1)) == pytest.approx(math.log2(10))


def test_loss_figure_has_raw_and_smoothed_total_soft_and_hard_for_the_student():
    events = [step("teacher", i, loss=2.0 / i) for i in range(1, 11)]
    events += [step("student", i, loss=1.0, soft=0.8, hard=1.2) for i in range(1, 6)]
    events += [step("baseline", i, loss=1.5) for i in range(1, 6)]
    events.append(epoch("student", 1, 0.9))  # epoch events are not per-step points
    figure = figures.loss_figure(events)
    assert isinstance(figure, go.Figure)
    names = [trace.name for trace in figure.data]
    for name in ("Teacher", "KD student — total", "KD student — soft", "KD student — hard", "Scratch baseline"):
        assert name in names and f"{name} (raw)" in names
    assert len(figure.data) == 10
    teacher_raw = next(t for t in figure.data if t.name == "Teacher (raw)")
    assert list(teacher_raw.x) == list(range(1, 11)) and teacher_raw.y[0] == pytest.approx(2.0)
    soft = next(t for t in figure.data if t.name == "KD student — soft")
    assert list(soft.y) == pytest.approx([0.8] * 5)


def test_loss_figure_thins_long_runs():
    events = [step("teacher", i, steps=10_000) for i in range(1, 10_001)]
    figure = figures.loss_figure(events)
    assert all(len(trace.x) <= figures.MAX_RAW_POINTS for trace in figure.data)
    assert figure.data[0].x[0] == 1


def test_empty_figures_say_so():
    for figure in (figures.loss_figure([]), figures.accuracy_figure([])):
        assert len(figure.data) == 0 and figure.layout.annotations


def test_accuracy_figure_one_line_per_model_in_percent():
    events = [epoch(phase, e, 0.5 + e / 10) for phase in ("teacher", "student", "baseline") for e in (1, 2, 3)]
    events.append(step("student", 1))
    figure = figures.accuracy_figure(events)
    assert [t.name for t in figure.data] == ["Teacher", "KD student", "Scratch baseline"]
    assert list(figure.data[1].x) == [1, 2, 3]
    assert list(figure.data[1].y) == pytest.approx([60.0, 70.0, 80.0])


@pytest.mark.parametrize(
    "accuracies, axis",
    [
        ([0.975, 0.981, 0.99], [95, 100]),  # MNIST: the models' 97–99 % fill the chart, not its top 3 %
        ([0.98, 0.96, 0.981], [90, 100]),  # at least 2 points under the lowest
        ([0.4, 0.85, 0.97], [35, 100]),  # digits' early epochs
        ([0.31, 0.52, 0.64], [25, 100]),  # CIFAR-10
        ([1.0, 1.0], [95, 100]),  # every test image right: still an axis of 5 points
        ([0.01], [0, 100]),
    ],
)
def test_the_accuracy_axis_fits_the_accuracies_up_to_100_percent(accuracies, axis):
    events = [epoch(phase, e, a) for phase in ("teacher", "student") for e, a in enumerate(accuracies, start=1)]
    figure = figures.accuracy_figure(events)
    assert list(figure.layout.yaxis.range) == axis
    low, high = figure.layout.yaxis.range
    assert all(low <= y <= high for trace in figure.data for y in trace.y)
    assert low == 0 or all(low + 2 <= y for trace in figure.data for y in trace.y)
    assert all(trace.cliponaxis is False for trace in figure.data)  # a point at 100 % is drawn whole
    assert list(figures.accuracy_figure([]).layout.yaxis.range) == [0, 100]


def test_probability_figure_groups_teacher_and_student_with_entropies():
    teacher, student = np.full(10, 0.1), np.eye(10)[3]
    figure = figures.probability_figure(teacher, student, [str(i) for i in range(10)], 4.0, "Untrained student")
    assert figure.layout.barmode == "group"
    assert len(figure.data) == 2
    assert "Teacher, T=4" in figure.data[0].name and "3.32 bits" in figure.data[0].name
    assert figure.data[1].name.startswith("Untrained student, T=4") and "0.00 bits" in figure.data[1].name
    assert list(figure.data[0].x) == [str(i) for i in range(10)]


def test_probability_figure_compares_with_t1_and_works_without_a_teacher():
    p = np.full(10, 0.1)
    figure = figures.probability_figure(p, p, list("abcdefghij"), 8.0, teacher_at_1=p, student_at_1=p)
    assert len(figure.data) == 4
    assert any("T=1 " in trace.name for trace in figure.data)
    lonely = figures.probability_figure(None, p, list("abcdefghij"), 2.0)
    assert len(lonely.data) == 1 and lonely.data[0].name.startswith("KD student")


def test_image_figure_keeps_pixels_crisp():
    gray = np.linspace(0, 1, 64).reshape(8, 8)
    figure = figures.image_figure(gray, "a digit")
    assert figure.data[0].type == "heatmap" and figure.data[0].zsmooth is False
    colour = np.random.default_rng(0).random((4, 4, 3))
    figure = figures.image_figure(colour, size=40)
    assert figure.data[0].type == "image" and np.asarray(figure.data[0].z).shape == (40, 40, 3)
    big = figures.upscale(np.array([[0, 1], [1, 0]]), 3)
    assert big.shape == (6, 6) and (big[:3, :3] == 0).all() and (big[:3, 3:] == 1).all()


def timed(phase: str, i: int, at: float, steps: int = 100) -> ProgressEvent:
    return ProgressEvent(phase, "step", 1, 1, i, steps, 1.0, at=at)


def test_progress_weights_phases_by_steps_and_handles_a_cached_teacher():
    plan = {"teacher": 100, "student": 50, "baseline": 50}
    assert runs.progress([], plan, None).fraction == 0.0
    half_teacher = [timed("teacher", 30, at=3.0), timed("teacher", 50, at=5.0)]  # 20 steps in 2 s
    p = runs.progress(half_teacher, plan, running_seconds=10.0)
    assert p.fraction == pytest.approx(0.25) and p.eta_seconds == pytest.approx(150 * 0.1)
    cached = [ProgressEvent("teacher", "epoch", 1, 1, 0, 0, 0.1, test_accuracy=0.9), step("student", 25, steps=50)]
    p = runs.progress(cached, plan, running_seconds=5.0)
    assert p.fraction == pytest.approx(0.25)  # the cached teacher's steps drop out of the plan
    assert "KD student" in p.text
    assert runs.format_seconds(75) == "1 min 15 s" and runs.format_seconds(9.6) == "10 s"


# ---- the verdict over seeds (dashboard/text/verdict.py) and the progress of a Distill over seeds


def test_headline_verdict_and_meaning_follow_the_interval():
    helps = Interval.of([0.03, 0.05, 0.04, 0.06, 0.035])
    assert helps.verdict == "helps"
    text = verdict.headline(helps)
    assert text.startswith("+4.3 points, 95 % interval +") and text.endswith("over 5 seeds")
    assert verdict.verdict_label(helps) == ("KD helps", verdict.VERDICTS["helps"][1])
    assert "above 0" in verdict.meaning(helps)
    unclear = Interval.of([0.01, -0.02, 0.005])
    assert verdict.verdict_label(unclear)[0] == "No clear difference" and "includes 0" in verdict.meaning(unclear)
    assert "−" in verdict.headline(unclear)  # a real minus sign
    hurts = Interval.of([-0.03, -0.04, -0.035])
    assert verdict.verdict_label(hurts)[0] == "KD hurts" and "below 0" in verdict.meaning(hurts)
    one = Interval.of([0.02])
    assert verdict.headline(one) == "+2.0 points from one seed"
    assert verdict.verdict_label(one)[0] == "One seed cannot decide" and "One seed cannot decide" in verdict.meaning(
        one
    )


def test_gain_figure_has_the_dots_the_interval_and_zero():
    interval = Interval.of([0.03, 0.05, -0.01])
    figure = verdict.gain_figure([(0, 0.03), (1, 0.05), (2, -0.01)], interval)
    dots = next(t for t in figure.data if t.name == "one seed")
    assert list(dots.x) == pytest.approx([3.0, 5.0, -1.0]) and list(dots.text) == ["seed 0", "seed 1", "seed 2"]
    bar = next(t for t in figure.data if t.name == "95 % interval")
    assert list(bar.x) == pytest.approx([100 * interval.low, 100 * interval.high])
    low, high = figure.layout.xaxis.range
    assert low < min(-1.0, 100 * interval.low) and high > max(5.0, 100 * interval.high)
    assert any(shape.x0 == 0 for shape in figure.layout.shapes)  # 0 marked
    single = verdict.gain_figure([(0, 0.02)], Interval.of([0.02]))
    assert not [t for t in single.data if t.name == "95 % interval"]


def test_loss_weight_text_names_the_factor_and_who_dominates():
    assert "the weight it should" in verdict.loss_weight_text("kd", 1.0, 4, 0.7)
    text = verdict.loss_weight_text("seed-script", 0.2, 4, 0.7)
    assert "0.2× the weight it should" in text and "λ = 0.7" in text and "the labels dominate" in text
    assert "1/T² = 1/16" in verdict.loss_weight_text("kd-no-t2", 1 / 16, 4, 0.7)


def test_balance_says_which_part_of_the_loss_dominates():
    history = [
        EpochRecord("teacher", 1, 0.5, {}, 0.9),
        EpochRecord("student", 1, 1.0, {"soft": 2.0, "hard": 1.0}, 0.5),
        EpochRecord("student", 2, 0.4, {"soft": 0.5, "hard": 0.02}, 0.9),
    ]
    b = verdict.balance(history, 0.7)
    assert b["epoch"] == 2 and b["weighted_soft"] == pytest.approx(0.35) and b["weighted_hard"] == pytest.approx(0.006)
    text = verdict.balance_text(b, 0.7)
    assert "λ·soft = 0.7 × 0.5 = 0.35" in text and "moving λ changes little" in text
    labels = verdict.balance([EpochRecord("student", 1, 1.0, {"soft": 0.001, "hard": 1.0}, 0.5)], 0.5)
    assert "barely pull" in verdict.balance_text(labels, 0.5)
    assert verdict.balance([EpochRecord("baseline", 1, 1.0, {}, 0.5)], 0.5) is None


def test_seeds_progress_averages_the_seeds_and_names_the_last_one():
    plan = {"teacher": 10, "student": 10, "baseline": 10}
    events = [
        seed_progress.SeedEvent(0, ProgressEvent("teacher", "epoch", 1, 1, 0, 0, 0.1, test_accuracy=0.9)),
        seed_progress.SeedEvent(0, step("student", 10)),
        seed_progress.SeedEvent(0, step("baseline", 10)),
        seed_progress.SeedEvent(1, step("teacher", 5)),
    ]
    p = seed_progress.seeds_progress(events, plan, [0, 1], running_seconds=4.0)
    assert p.fraction == pytest.approx((1.0 + 5 / 30) / 2)
    assert p.text.startswith("seed 1, teacher") and "1 of 2 seeds done" in p.text
    assert p.eta_seconds is None  # no step timed yet: no guess
    assert [e.step for e in seed_progress.of_seed(events, 1)] == [5]
    assert seed_progress.seeds_progress([], plan, [0], None).text == "Starting…"


def test_seeds_with_the_same_gain_do_not_hide_each_other():
    heights = verdict.stacked([1.0, 1.0, 2.0, 1.0])
    assert heights[2] == 0 and len({heights[0], heights[1], heights[3]}) == 3 and max(map(abs, heights)) < 1
    figure = verdict.gain_figure([(0, 0.01), (1, 0.01)], Interval.of([0.01, 0.01]))
    dots = next(t for t in figure.data if t.name == "one seed")
    assert len(set(dots.y)) == 2


def test_the_first_eta_waits_for_timed_steps_and_leaves_the_start_up_out():
    """A 3.7 s run once showed "33 s left": its first read-back came after seconds of start-up.  Now no ETA
    shows until MIN_TIMED_STEPS steps are timed between read-backs, and then it is steps left × their pace."""
    plan = {"teacher": 200, "student": 100, "baseline": 100}
    startup = 3.0  # data, models and the first steps' allocations, before the first read-back
    events = [timed("teacher", 10, at=startup, steps=200), timed("teacher", 20, at=startup + 0.01, steps=200)]
    assert runs.progress(events, plan, running_seconds=startup + 0.01).eta_seconds is None  # 10 steps timed
    events.append(timed("teacher", 10 + seed_progress.MIN_TIMED_STEPS, at=startup + 0.02, steps=200))
    p = runs.progress(events, plan, running_seconds=startup + 0.02)
    left = 400 - (10 + seed_progress.MIN_TIMED_STEPS)
    assert p.eta_seconds == pytest.approx(left * 0.001)  # the pace after start-up, not (start-up + steps) / steps
    assert p.eta_seconds < 1.0
    # A Distill over one seed (what the page shows for Distill) gives the same ETA.
    tagged = [seed_progress.SeedEvent(0, e) for e in events]
    assert seed_progress.seeds_progress(tagged, plan, [0], startup).eta_seconds == pytest.approx(p.eta_seconds)
    replayed = [ProgressEvent("teacher", "step", 1, 1, i, 0, 1.0) for i in range(1, 100)]  # from a cache: not timed
    assert runs.progress(replayed, plan, 1.0).eta_seconds is None


def test_seeds_eta_counts_the_seeds_still_to_run_and_divides_by_those_training_at_once():
    plan = {"teacher": 100}
    one_by_one = [
        seed_progress.SeedEvent(0, timed("teacher", 10, at=1.0)),
        seed_progress.SeedEvent(0, timed("teacher", 50, at=1.4)),
    ]
    p = seed_progress.seeds_progress(one_by_one, plan, [0, 1], 2.0)
    assert p.eta_seconds == pytest.approx((50 + 100) * 0.01)  # seed 1 has not started: it follows seed 0
    together = one_by_one + [
        seed_progress.SeedEvent(1, timed("teacher", 10, at=1.1)),
        seed_progress.SeedEvent(1, timed("teacher", 50, at=1.5)),
    ]
    assert seed_progress.seeds_progress(together, plan, [0, 1], 2.0).eta_seconds == pytest.approx((50 + 50) * 0.01 / 2)


def test_a_diverged_run_keeps_readable_axes_and_says_what_it_left_out():
    events = [step("student", i, loss=1.0 / i, soft=0.5, hard=0.5) for i in range(1, 6)]
    events += [step("student", 6, loss=float("inf"), soft=float("nan"), hard=1e-4)]
    events += [
        epoch("student", 1, 0.1),
        ProgressEvent("baseline", "epoch", 1, 1, 5, 5, 1.0, test_accuracy=float("nan")),
    ]
    loss = figures.loss_figure(events)
    ys = [y for trace in loss.data for y in trace.y]
    assert ys and all(math.isfinite(y) and y > 0 for y in ys)
    assert any("2 non-finite" in a.text and "diverged" in a.text for a in loss.layout.annotations)
    hard = next(t for t in loss.data if t.name == "KD student — hard (raw)")
    assert list(hard.x) == [1, 2, 3, 4, 5, 6]  # the finite parts of the last step stay
    assert loss.layout.yaxis.type == "log" and loss.layout.yaxis.tickformat == ".3~g"  # 1e-4 reads 0.0001, not 100μ
    accuracy = figures.accuracy_figure(events)
    assert tuple(accuracy.layout.yaxis.range) == (5, 100)  # the lone point at 10 % reads as far from 100 %
    # A soft loss that underflowed to 0 cannot sit on the log axis, but it is no divergence: no note.
    calm = figures.loss_figure([step("student", i, loss=1.0 / i, soft=0.0, hard=0.5) for i in range(1, 6)])
    assert not calm.layout.annotations and all(y > 0 for trace in calm.data for y in trace.y)
    assert [t.name for t in accuracy.data] == ["KD student"] and list(accuracy.data[0].y) == pytest.approx([10.0])


def test_smoothing_every_kth_step_follows_the_smoothing_of_every_step():
    """A cached run stores every k-th step; its bold curve must look like the fresh run's, not lag k times more."""
    xs = list(range(1, 1001))
    values = [1.0 / x**0.5 for x in xs]
    full = figures.smooth(values, 0.9)
    kept = xs[::4]
    error = lambda smoothed: max(abs(s - full[x - 1]) / full[x - 1] for s, x in zip(smoothed, kept) if x > 100)  # noqa: E731
    assert error(figures.smooth(values[::4], 0.9, steps=kept)) < 0.01
    assert error(figures.smooth(values[::4], 0.9)) > 0.1  # smoothed point by point, the replay would lag behind
    assert figures.smooth([2.0, 2.0], 0.9, steps=[1, 50]) == pytest.approx([2.0, 2.0])


def test_legends_sit_in_their_own_strip_under_the_axes_never_on_an_axis_title():
    """At y = -0.2 of the plot the loss chart's legend would cover "step (within each phase)" at 1024 px and on a
    phone; in the container's bottom strip Plotly lays the axes out above it (tests/test_layout_browser.py measures
    it)."""
    events = [step("teacher", i, loss=2.0 / i) for i in range(1, 11)] + [epoch("teacher", 1, 0.9)]
    bars = figures.probability_figure([0.5, 0.5], [0.4, 0.6], ["a", "b"], 4.0)
    for figure in (figures.loss_figure(events), figures.accuracy_figure(events), bars):
        legend = figure.layout.legend
        assert (legend.orientation, legend.yref, legend.y, legend.yanchor) == ("h", "container", 0, "bottom")


def test_a_run_that_stopped_at_once_shows_its_point_a_sane_log_axis_and_why():
    """A diverged run: one finite loss, then the divergence.  As a plain line its chart would be empty (a one-point
    line draws nothing), and a default log axis would label every digit from 0.3 to 20, piled on top of each other."""
    loss = figures.loss_figure(
        [step("teacher", 1, loss=2.3)],
        stopped="Training stopped: the teacher loss exploded to 3.95e+03 at epoch 1, step 2.",
    )
    teacher = next(t for t in loss.data if t.name == "Teacher")
    assert "markers" in teacher.mode and list(teacher.y) == pytest.approx([2.3])
    low, high = loss.layout.yaxis.range
    assert high - low >= 1 and low < math.log10(2.3) < high  # a decade around the point, not Plotly's default
    assert loss.layout.yaxis.dtick == "D2"  # labels at 1, 2 and 5 only
    note = " ".join(a.text for a in loss.layout.annotations)
    assert "exploded" in note and "step 2" in note and "no training steps" not in note
    assert all(len(line) <= 40 for line in note.split("<br>"))  # wrapped: it fits a phone-wide chart
    # A long, healthy run keeps Plotly's own ticks over its decades.
    long = figures.loss_figure([step("teacher", i, loss=10.0 / i**2) for i in range(1, 1001)])
    assert long.layout.yaxis.dtick is None and "markers" not in next(t for t in long.data if t.name == "Teacher").mode
