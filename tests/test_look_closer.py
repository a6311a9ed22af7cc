"""The "Look closer" tab: its figures (per-class bars, confusion matrix; the maths is tests/test_inspection.py's) and
the tab itself (AppTest): a hint before any Distill; after one, the per-class chart, a confusion matrix per model, the
downloads and the kd-train line."""

from __future__ import annotations

import numpy as np
import pytest
from app_support import charts, finish, main_job, open_tab

from dashboard.figures import closer
from dashboard.runs import exports
from kd_core import PhaseReport, RunConfig, RunResult
from kd_core.studies import inspection

# ---------------------------------------------------------------- per-class means and the figures


def test_per_class_accuracy_is_the_mean_over_seeds_and_skips_a_missing_baseline():
    report = lambda values: PhaseReport(0.5, values, 10, 40)  # noqa: E731
    runs = [
        RunResult(RunConfig(seed=s), "completed", report([1.0, 0.0]), report([0.5, 0.25 * s]), None) for s in (0, 1)
    ]
    means = inspection.per_class(runs)
    assert means == {"teacher": [1.0, 0.0], "student": [0.5, 0.125]}
    figure = closer.per_class_figure(means, ["a", "b"], hidden=1, seeds=2)
    assert [t.name for t in figure.data] == ["Teacher", "KD student"] and list(figure.data[1].y) == [50.0, 12.5]
    assert "mean over 2 seeds" in figure.layout.title.text and figure.layout.annotations[0].x == "b"


def test_the_confusion_figure_colours_row_shares_and_writes_counts():
    matrix = np.array([[8, 2], [0, 0]])
    figure = closer.confusion_figure(matrix, ["0", "1"], "Confusion matrix: Teacher")
    heat = figure.data[0]
    assert np.asarray(heat.z).tolist() == [[0.8, 0.2], [0.0, 0.0]] and np.asarray(heat.text).tolist() == [
        [8, 2],
        [0, 0],
    ]


# ---------------------------------------------------------------- the tab


def fast_single_seed(at):
    for key, value in (("teacher_epochs", 2), ("epochs", 2), ("seeds", 1), ("temperature", 6.0)):
        at.slider(key=key).set_value(value).run()
    return at


def downloads(at) -> dict[str, object]:
    return {b.proto.label: b for b in at.get("download_button")}


def test_before_a_distill_the_tab_says_what_it_will_show(app):
    assert "Look closer" in [t.label for t in app.tabs]
    open_tab(app, "Look closer")
    hints = [i.value for i in app.info if "Nothing to look at yet" in i.value]
    assert len(hints) == 1 and "**Distill**" in hints[0]
    assert "Test accuracy per class" not in charts(app) and not [b for b in downloads(app) if "ONNX" in b]


def test_after_a_distill_the_tab_shows_classes_confusions_downloads_and_the_command(app, monkeypatch):
    calls = []
    real = inspection.predictions
    monkeypatch.setattr(
        inspection, "predictions", lambda models, images: calls.append(sorted(models)) or real(models, images)
    )
    fast_single_seed(app).button(key="distill").click().run()
    finish(app)
    assert not app.exception and not app.error
    found = charts(open_tab(app, "Look closer"))
    per_class = found["Test accuracy per class"]
    assert [t["name"] for t in per_class["data"]] == ["Teacher", "KD student", "Scratch baseline"]
    result = main_job(app).result.first.result
    assert per_class["data"][1]["y"] == pytest.approx([100 * v for v in result.student.per_class_accuracy])
    matrix = found["Confusion matrix: Teacher (seed 0)"]["data"][0]
    counts = np.array(matrix["text"])
    assert counts.shape == (10, 10)
    assert np.trace(counts) / counts.sum() == pytest.approx(result.teacher.accuracy)
    # Another model: its own matrix, from predictions computed once, whatever the reruns.
    app.radio(key="closer_model").set_value("baseline").run()
    counts = np.array(charts(app)["Confusion matrix: Scratch baseline (seed 0)"]["data"][0]["text"])
    assert np.trace(counts) / counts.sum() == pytest.approx(result.baseline.accuracy)
    app.radio(key="closer_model").set_value("student").run()
    assert len(calls) <= 1 and all(c == ["baseline"] for c in calls)  # the teacher's and student's logits were there
    assert any("most frequent mistake" in m.value or "every test image right" in m.value for m in app.markdown)
    # Take it with you: both models in both formats, and the kd-train line.
    buttons = downloads(app)
    assert {"KD student (PyTorch .pt)", "KD student (ONNX)", "Teacher (PyTorch .pt)", "Teacher (ONNX)"} <= set(buttons)
    assert not buttons["KD student (ONNX)"].proto.disabled
    command = next(c.value for c in app.code if c.value.startswith("kd-train"))
    assert command == exports.command_line(main_job(app).meta["config"], 1)
    assert "--temperature 6" in command and "--epochs 2" in command and "--seeds" not in command
    # The probability bars now carry the KL of the image shown, as kd_core computes it from the stored logits.
    first = main_job(app).result.first
    open_tab(app, "Probabilities")
    index = int(app.number_input(key="sample_index").value)
    kl = next(m for m in app.metric if m.label.startswith("KL(teacher ‖ student) at T = 6"))
    kl_at_6 = inspection.kl_divergence(first.teacher_logits[index], first.student_logits[index], 6.0)
    assert kl.value == f"{kl_at_6:.3f} nats"
    # Moving T redraws the bars and their KL from the stored logits.
    app.slider(key="temperature").set_value(2.0).run()
    kl = next(m for m in app.metric if m.label.startswith("KL(teacher ‖ student) at T = 2"))
    kl_at_2 = inspection.kl_divergence(first.teacher_logits[index], first.student_logits[index], 2.0)
    assert kl.value == f"{kl_at_2:.3f} nats"
