"""The "Look closer" tab: its maths (confusion matrix, per-class means, the KL next to the probability bars) and the
tab itself (AppTest): a hint before any Distill; after one, the per-class chart, a confusion matrix per model, the
downloads and the kd-train line."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import confusion_matrix as sklearn_confusion
from test_app import app, charts, finish, main_job  # noqa: F401  (app: the fixture, shared)

from dashboard.figures import closer
from dashboard.runs import exports
from kd_core import PhaseReport, RunConfig, RunResult
from kd_core.methods.losses import distillation_loss

# ---------------------------------------------------------------- maths


@pytest.mark.parametrize("temperature", [1.0, 2.5, 4.0, 20.0])
def test_the_kl_is_torchs_kl_div_summed_over_classes(temperature):
    generator = torch.Generator().manual_seed(3)
    teacher, student = 6 * torch.randn(10, generator=generator), 3 * torch.randn(10, generator=generator)
    expected = F.kl_div(
        F.log_softmax(student / temperature, dim=-1), F.softmax(teacher / temperature, dim=-1), reduction="sum"
    )
    got = closer.kl_divergence(teacher.numpy(), student.numpy(), temperature)
    assert got == pytest.approx(float(expected), rel=1e-5, abs=1e-7)
    # …and the KD loss's soft part, on a batch of this one image, is T² times it.
    soft = distillation_loss(student[None], teacher[None], None, temperature, 1.0).soft
    assert temperature**2 * got == pytest.approx(float(soft), rel=1e-5, abs=1e-7)


def test_the_kl_on_known_inputs():
    assert closer.kl_divergence(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]), 4.0) == 0.0
    assert closer.kl_divergence(np.array([5.0, 5.0]), np.array([0.0, 0.0]), 1.0) == pytest.approx(
        0.0, abs=1e-12
    )  # same softmax
    # Teacher (0.5, 0.5) against student (0.9, 0.1): 0.5·log(0.5/0.9) + 0.5·log(0.5/0.1).
    student = np.log([0.9, 0.1])
    assert closer.kl_divergence(np.zeros(2), student, 1.0) == pytest.approx(
        0.5 * np.log(0.5 / 0.9) + 0.5 * np.log(5), rel=1e-12
    )
    # A teacher sure to the last bit (its other probabilities underflow) still gives a finite, exact number.
    assert np.isfinite(closer.kl_divergence(np.array([2000.0, 0.0, 0.0]), np.zeros(3), 1.0))
    with pytest.raises(ValueError):
        closer.kl_divergence(np.zeros(3), np.zeros(3), 0.0)


def test_the_confusion_matrix_counts_true_rows_and_predicted_columns():
    rng = np.random.default_rng(0)
    labels, predicted = rng.integers(0, 10, 500), rng.integers(0, 10, 500)
    matrix = closer.confusion_matrix(labels, predicted, 10)
    assert matrix.dtype == np.int64 and matrix.sum() == 500
    assert (matrix == sklearn_confusion(labels, predicted, labels=range(10))).all()
    assert closer.confusion_matrix(np.array([0, 0, 1]), np.array([1, 1, 1]), 3).tolist() == [
        [0, 2, 0],
        [0, 1, 0],
        [0, 0, 0],
    ]
    with pytest.raises(ValueError):
        closer.confusion_matrix(np.array([0, 1]), np.array([0]), 2)


def test_the_worst_confusion_is_the_largest_mistake():
    assert closer.worst_confusion(np.diag([5, 6, 7])) is None
    assert closer.worst_confusion(np.array([[9, 1, 0], [4, 8, 0], [0, 4, 3]])) == closer.Confusion(
        1, 0, 4
    )  # the first of a tie


def test_per_class_accuracy_is_the_mean_over_seeds_and_skips_a_missing_baseline():
    report = lambda values: PhaseReport(0.5, values, 10, 40)  # noqa: E731
    runs = [
        RunResult(RunConfig(seed=s), "completed", report([1.0, 0.0]), report([0.5, 0.25 * s]), None) for s in (0, 1)
    ]
    means = closer.per_class(runs)
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
    hints = [i.value for i in app.info if "Nothing to look at yet" in i.value]
    assert len(hints) == 1 and "**Distill**" in hints[0]
    assert "Test accuracy per class" not in charts(app) and not [b for b in downloads(app) if "ONNX" in b]


def test_after_a_distill_the_tab_shows_classes_confusions_downloads_and_the_command(app, monkeypatch):
    calls = []
    real = closer.predictions
    monkeypatch.setattr(
        closer, "predictions", lambda models, images: calls.append(sorted(models)) or real(models, images)
    )
    fast_single_seed(app).button(key="distill").click().run()
    finish(app)
    assert not app.exception and not app.error
    found = charts(app)
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
    # The probability bars now carry the KL of the image shown, as closer computes it from the stored logits.
    first = main_job(app).result.first
    index = int(app.number_input(key="sample_index").value)
    kl = next(m for m in app.metric if m.label.startswith("KL(teacher ‖ student) at T = 6"))
    assert kl.value == f"{closer.kl_divergence(first.teacher_logits[index], first.student_logits[index], 6.0):.3f} nats"
    # Moving T redraws the bars and their KL from the stored logits.
    app.slider(key="temperature").set_value(2.0).run()
    kl = next(m for m in app.metric if m.label.startswith("KL(teacher ‖ student) at T = 2"))
    assert kl.value == f"{closer.kl_divergence(first.teacher_logits[index], first.student_logits[index], 2.0):.3f} nats"
