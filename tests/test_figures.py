"""The dashboard's figure builders (plain functions → plotly Figure) and its progress estimate."""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import pytest
from hypothesis import given, strategies as st

from dashboard import figures, runs
from kd_core import ProgressEvent


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
    assert all(min(values) - 1e-6 * (1 + abs(min(values))) <= v <= max(values) + 1e-6 * (1 + abs(max(values))) for v in out)


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


def test_progress_weights_phases_by_steps_and_handles_a_cached_teacher():
    plan = {"teacher": 100, "student": 50, "baseline": 50}
    assert runs.progress([], plan, None).fraction == 0.0
    half_teacher = [step("teacher", 50, steps=100)]
    p = runs.progress(half_teacher, plan, running_seconds=10.0)
    assert p.fraction == pytest.approx(0.25) and p.eta_seconds == pytest.approx(30.0)
    cached = [ProgressEvent("teacher", "epoch", 1, 1, 0, 0, 0.1, test_accuracy=0.9), step("student", 25, steps=50)]
    p = runs.progress(cached, plan, running_seconds=5.0)
    assert p.fraction == pytest.approx(0.25)  # the cached teacher's steps drop out of the plan
    assert "KD student" in p.text
    assert runs.format_seconds(75) == "1 min 15 s" and runs.format_seconds(9.6) == "10 s"
