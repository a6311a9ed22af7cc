"""The experiment figure builders: pure functions of plain data."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from dashboard.figures import closer
from dashboard.figures import experiments as ef
from kd_core.stats import summarize
from kd_core.studies.experiments import best_bias, bias_curve
from kd_core.studies.sweeps import SweepRow

CLASSES = [str(i) for i in range(10)]


def rows(values, seeds=(0, 1, 2), baseline_flat=True):
    out = []
    for seed in seeds:
        for v in values:
            base = 0.9 + 0.01 * seed if baseline_flat else 0.5 + 0.4 * v + 0.01 * seed
            out.append(SweepRow(v, seed, base + 0.02 - 0.001 * v, base, 0.97, 20))
    return out


def names(figure):
    return [trace.name for trace in figure.data]


def test_sweep_figure_temperature():
    data = rows([1, 2, 4, 8, 16])
    figure = ef.sweep_figure(summarize(data), "temperature", data)
    assert figure.layout.xaxis.type == "log"
    student = next(t for t in figure.data if t.name.startswith("KD student (mean"))
    assert list(student.x) == [1, 2, 4, 8, 16]
    assert student.y[0] == pytest.approx(100 * np.mean([0.919, 0.929, 0.939]))
    assert len(student.error_y.array) == 5 and student.error_y.array[0] == pytest.approx(1.0)
    baseline = next(t for t in figure.data if t.name.startswith("Scratch baseline"))
    assert list(baseline.x) == [1, 16] and baseline.y[0] == baseline.y[1] == pytest.approx(91.0)  # a reference line
    assert "ignores T" in baseline.name
    assert any(t.name == "KD student, each seed" and len(t.x) == 15 for t in figure.data)
    assert any(t.name == "Teacher" for t in figure.data)
    figure.to_json()


def test_sweep_figure_lam_is_linear_and_fraction_in_percent():
    lam = ef.sweep_figure(summarize(rows([0, 0.5, 1])), "lam")
    assert lam.layout.xaxis.type == "linear"
    assert "ignores λ" in next(t.name for t in lam.data if t.name.startswith("Scratch"))
    frac = ef.sweep_figure(summarize(rows([0.03, 1.0], baseline_flat=False)), "student_fraction")
    baseline = next(t for t in frac.data if t.name.startswith("Scratch"))
    assert list(baseline.x) == [3.0, 100.0] and baseline.y[0] != baseline.y[1]


def test_sweep_figure_without_baseline_and_empty():
    data = [dataclasses.replace(r, baseline_accuracy=None) for r in rows([1, 4])]
    figure = ef.sweep_figure(summarize(data), "temperature")
    assert not any(t.name and t.name.startswith("Scratch") for t in figure.data)
    empty = ef.sweep_figure([], "temperature")
    assert len(empty.data) == 0 and "no finished runs" in empty.layout.annotations[0].text


def test_little_data_figure():
    summary = summarize(rows([0.03, 0.1, 1.0], baseline_flat=False))
    figure = ef.little_data_figure(summary)
    assert names(figure)[:2] == ["Scratch baseline", "KD student"]
    gain = next(t for t in figure.data if t.name == "KD − scratch (points)")
    assert list(gain.x) == [3.0, 10.0, 100.0] and gain.yaxis == "y2"
    assert list(figure.layout.xaxis2.ticktext) == ["3 %", "10 %", "100 %"]
    assert [float(g) for g in gain.y] == pytest.approx([100 * e.gain.mean for e in summary])
    assert gain.text[0].startswith("+")
    assert figure.layout.xaxis.type == "log" and figure.layout.xaxis2.type == "log"
    empty = ef.little_data_figure([])
    assert "no finished runs" in empty.layout.annotations[0].text


def test_temperature_multiples_figure():
    temps = [1, 2, 4, 8, 16]
    logits = np.array([6.0, 1, 0, 0, 2, 0, 0, 0, 3, 0])
    probs = np.stack([np.exp(logits / t) / np.exp(logits / t).sum() for t in temps])
    figure = ef.temperature_multiples_figure(probs, temps, CLASSES, true_class=0)
    assert len(figure.data) == 5
    assert figure.data[0].marker.color[0] == ef.HIGHLIGHT and figure.data[0].marker.color[1] != ef.HIGHLIGHT
    titles = [a.text for a in figure.layout.annotations]
    assert titles[0].startswith("T = 1<br>") and titles[-1].startswith("T = 16<br>")
    bits = [float(t.split("<br>")[1].split(" ")[0]) for t in titles]
    assert bits == sorted(bits)  # flatter and flatter
    with pytest.raises(ValueError):
        ef.temperature_multiples_figure(probs[:3], temps, CLASSES)
    # Plotly labels what fits (a phone: every third class); wide panels (presentation mode) label every class.
    assert all(axis.tickvals is None for axis in figure.select_xaxes())
    wide = ef.temperature_multiples_figure(probs, temps, CLASSES, true_class=0, every_class=True)
    assert all(list(axis.tickvals) == [str(c) for c in CLASSES] for axis in wide.select_xaxes())


def test_per_class_figure_highlights_the_omitted_class():
    teacher = [0.98] * 10
    student = [0.95] * 10
    student[3] = 0.4
    baseline = [0.96] * 10
    baseline[3] = 0.0
    figure = closer.per_class_figure({"teacher": teacher, "student": student, "baseline": baseline}, CLASSES, 3)
    assert names(figure) == ["Teacher", "KD student", "Scratch baseline"]
    assert figure.data[1].y[3] == pytest.approx(40.0) and figure.data[1].text[3] == "40"
    assert figure.data[2].text[3] == "0" and figure.data[2].text[0] == ""
    rect = figure.layout.shapes[0]
    assert (rect.x0, rect.x1) == (2.5, 3.5)
    assert "never shown" in figure.layout.annotations[0].text
    no_baseline = closer.per_class_figure({"teacher": teacher, "student": student, "baseline": None}, CLASSES, 3)
    assert len(no_baseline.data) == 2


def test_bias_curve_figure():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(200, 10))
    labels = rng.integers(0, 10, 200)
    curve = bias_curve(logits, labels, 3, np.arange(0, 5.01, 0.5))
    figure = ef.bias_curve_figure(curve, "3", current_bias=1.5, best=best_bias(curve))
    assert names(figure)[:2] == ["on class 3", "overall"]
    assert list(figure.data[0].x) == pytest.approx(list(np.arange(0, 5.01, 0.5)))
    assert figure.layout.shapes[0].x0 == 1.5
    assert "best overall" in figure.data[2].name
    assert "no trained student" in ef.bias_curve_figure([], "3").layout.annotations[0].text


def test_dark_knowledge_figure():
    matrix = np.full((10, 10), 0.01)
    np.fill_diagonal(matrix, 0.91)
    matrix[3, 5] = matrix[5, 3] = 0.05
    hidden = ef.dark_knowledge_figure(matrix, CLASSES, 4.0)
    z = np.array(hidden.data[0].z, dtype=float)
    assert np.isnan(np.diag(z)).all() and z[3, 5] == pytest.approx(0.05)
    assert "T = 4" in hidden.layout.title.text and "diagonal hidden" in hidden.layout.title.text
    # No numbers in the cells: at a phone's 36 px a cell they ran into each other ("0.0000.0020.000…").
    assert not hidden.data[0].texttemplate and hidden.data[0].text is None
    assert all(len(line) <= 40 for line in hidden.layout.title.text.split("<br>"))  # two short lines, not one cut off
    assert hidden.layout.yaxis.autorange == "reversed"
    shown = ef.dark_knowledge_figure(matrix, CLASSES, 4.0, show_diagonal=True)
    assert np.array(shown.data[0].z, dtype=float)[0, 0] == pytest.approx(0.91)
    assert matrix[0, 0] == 0.91  # the input is not modified
    with pytest.raises(ValueError):
        ef.dark_knowledge_figure(np.ones((3, 3)), CLASSES, 1.0)


def test_most_alike_lists_the_largest_off_diagonal_cells_first():
    """The heatmap's numbers, as a list that reads on any screen: which class is taken for which, and how much."""
    matrix = np.full((10, 10), 0.01)
    np.fill_diagonal(matrix, 0.91)
    matrix[3, 5], matrix[5, 3], matrix[4, 9] = 0.05, 0.03, 0.04
    matrix[0, 1] = np.nan
    top = ef.most_alike(matrix, CLASSES, count=3)
    assert [(a, b) for a, b, _ in top] == [(CLASSES[3], CLASSES[5]), (CLASSES[4], CLASSES[9]), (CLASSES[5], CLASSES[3])]
    assert top[0][2] == pytest.approx(0.05)
    assert all(a != b for a, b, _ in ef.most_alike(matrix, CLASSES, count=90))  # never the diagonal


def test_sweep_axis_has_a_tick_at_every_swept_value_and_nowhere_else():
    """The T sweep's log axis once showed Plotly's own ticks: a stray 5 and 10, and no label at T = 16."""
    figure = ef.sweep_figure(summarize(rows([1, 2, 4, 8, 16])), "temperature")
    assert figure.layout.xaxis.tickmode == "array"
    assert list(figure.layout.xaxis.tickvals) == [1, 2, 4, 8, 16] and list(figure.layout.xaxis.ticktext) == [
        "1",
        "2",
        "4",
        "8",
        "16",
    ]
    frac = ef.sweep_figure(summarize(rows([0.03, 0.1, 1.0])), "student_fraction")
    assert list(frac.layout.xaxis.tickvals) == [3.0, 10.0, 100.0] and list(frac.layout.xaxis.ticktext) == [
        "3 %",
        "10 %",
        "100 %",
    ]
