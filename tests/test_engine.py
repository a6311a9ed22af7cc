"""The pipeline end to end on digits: accuracy, determinism, the fair baseline, events, cancelling, divergence."""

from __future__ import annotations

import threading

import pytest
import torch

from kd_core import Diverged, RunConfig, RunSetup, TeacherCache, load_dataset, run
from kd_core.config import ConfigError, resolve_device
from kd_core.data.datasets import student_indices
from kd_core.train.loop import REPORT_EVERY

QUICK = RunConfig(teacher_epochs=5, epochs=3)


@pytest.fixture(scope="module")
def default_result():
    """The classroom default run: teacher + KD student + scratch baseline on digits."""
    events = []
    result = run(RunConfig(), on_event=events.append)
    return result, events


def test_default_digits_run_reaches_the_promised_accuracy(default_result):
    result, _ = default_result
    assert result.status == "completed"
    assert result.teacher.accuracy >= 0.95
    assert result.student.accuracy >= 0.90
    assert result.baseline.accuracy >= 0.85
    assert result.student.params * 10 < result.teacher.params  # the student is far smaller
    for report in (result.teacher, result.student, result.baseline):
        assert len(report.per_class_accuracy) == 10
        assert all(0.0 <= a <= 1.0 for a in report.per_class_accuracy)
    assert 0.9 <= result.student.agreement <= 1.0


def test_history_has_every_epoch_of_every_phase(default_result):
    result, _ = default_result
    config = result.config
    by_phase = {p: [row for row in result.history if row.phase == p] for p in ("teacher", "student", "baseline")}
    assert [row.epoch for row in by_phase["teacher"]] == list(range(1, config.teacher_epochs + 1))
    assert [row.epoch for row in by_phase["student"]] == list(range(1, config.epochs + 1))
    assert [row.epoch for row in by_phase["baseline"]] == list(range(1, config.epochs + 1))
    assert all(set(row.parts) == {"soft", "hard"} for row in by_phase["student"])
    assert all(row.parts == {} and row.to_dict()["soft_loss"] is None for row in by_phase["baseline"])
    assert by_phase["student"][-1].test_accuracy == pytest.approx(result.student.accuracy)


def test_events_stream_every_step_and_every_epoch(default_result):
    result, events = default_result
    student_steps = [e for e in events if e.phase == "student" and e.kind == "step"]
    steps_per_epoch = -(-len(load_dataset("digits").y_train) // result.config.batch_size)
    assert len(student_steps) == result.config.epochs * steps_per_epoch
    assert [e.step for e in student_steps] == list(range(1, len(student_steps) + 1))
    assert all(e.steps == len(student_steps) for e in student_steps)
    for e in student_steps:
        assert e.loss == pytest.approx(0.7 * e.parts["soft"] + 0.3 * e.parts["hard"], rel=1e-5)
    epoch_ends = [e for e in events if e.kind == "epoch" and e.phase == "student"]
    assert len(epoch_ends) == result.config.epochs and all(0 <= e.test_accuracy <= 1 for e in epoch_ends)


def test_same_config_and_seed_give_identical_numbers(tmp_path):
    first = run(QUICK, cache=TeacherCache(tmp_path / "a"))
    second = run(QUICK, cache=TeacherCache(tmp_path / "b"))  # a fresh cache: the teacher is retrained too
    assert first.history == second.history
    for phase in ("teacher", "student", "baseline"):
        assert getattr(first, phase) == getattr(second, phase)
    other_seed = run(QUICK.replace(seed=1), cache=TeacherCache(tmp_path / "a"))
    assert other_seed.history != first.history


def test_baseline_is_the_kd_student_without_the_teacher():
    """Same initial weights, same batches: at λ = 0 distillation *is* the scratch baseline, bit for bit."""
    result = run(QUICK.replace(lam=0.0))
    student = [(r.epoch, r.loss, r.test_accuracy) for r in result.history if r.phase == "student"]
    baseline = [(r.epoch, r.loss, r.test_accuracy) for r in result.history if r.phase == "baseline"]
    assert student == baseline
    for name, tensor in result.models["student"].state_dict().items():
        assert torch.equal(tensor, result.models["baseline"].state_dict()[name])


def test_teacher_logits_are_computed_once_per_run(monkeypatch):
    rows_seen = []
    real_teacher = RunSetup.teacher

    def counting_teacher(self, *args, **kwargs):
        found = real_teacher(self, *args, **kwargs)
        found.model.register_forward_hook(lambda module, inputs, output: rows_seen.append(len(inputs[0])))
        return found

    monkeypatch.setattr(RunSetup, "teacher", counting_teacher)
    dataset = load_dataset("digits")
    for epochs in (2, 6):
        rows_seen.clear()
        run(QUICK.replace(epochs=epochs))
        # one pass over the test set (its accuracy) and one over the student's training set; none per epoch
        assert sum(rows_seen) == len(dataset.y_test) + len(dataset.y_train)


def test_stop_ends_the_run_between_steps_and_returns_what_it_has():
    stop = threading.Event()
    seen = []

    def on_event(event):
        seen.append(event)
        if event.phase == "student" and event.kind == "step" and event.step == 30:
            stop.set()

    result = run(QUICK, on_event=on_event, stop=stop)
    assert result.status == "cancelled"
    assert result.teacher is not None and result.student is None and result.baseline is None
    # Steps are reported in groups (one read-back from the device each), so the stop is seen at most a group later.
    assert seen[-1].phase == "student" and 30 <= seen[-1].step < 30 + REPORT_EVERY
    assert [row.epoch for row in result.history if row.phase == "student"] == [1]  # 23 steps = one epoch


def test_divergence_stops_at_the_step_and_names_it(tmp_path):
    events = []
    with pytest.raises(Diverged) as caught:
        run(QUICK.replace(lr=10.0), on_event=events.append, cache=TeacherCache(tmp_path))
    error = caught.value
    assert "diverged" in str(error) and "epoch 1, step 2" in str(error) and "lower learning rate" in str(error)
    assert (error.phase, error.epoch, error.step) == ("teacher", 1, 2)
    assert len(events) == 1  # only the first, healthy step was reported
    assert not list(tmp_path.glob("teacher-*.pt"))  # a diverged teacher is never cached


def test_student_fraction_and_omitted_class_shape_the_students_data():
    labels = load_dataset("digits").y_train
    kept = student_indices(labels, fraction=0.1, seed=0)
    assert abs(len(kept) - 0.1 * len(labels)) <= 10
    assert set(labels[kept].tolist()) == set(range(10))  # stratified: every class still there
    assert torch.equal(kept, student_indices(labels, fraction=0.1, seed=0))
    assert not torch.equal(kept, student_indices(labels, fraction=0.1, seed=1))
    without_three = student_indices(labels, omit_class=3)
    assert 3 not in labels[without_three].tolist()
    assert len(without_three) == int((labels != 3).sum())


def test_omitted_class_run_never_shows_the_class_to_the_student():
    result = run(QUICK.replace(omit_class=3, epochs=5))
    assert result.baseline.per_class_accuracy[3] == 0.0  # never saw a 3, never predicts one
    assert result.teacher.per_class_accuracy[3] > 0.8  # the teacher saw everything


@pytest.mark.parametrize(
    "change, message",
    [
        ({"temperature": 0}, "temperature"),
        ({"lam": 1.5}, "lam"),
        ({"epochs": 0}, "epochs"),
        ({"batch_size": 5000}, "batch_size"),
        ({"dataset": "imagenet"}, "unknown dataset"),
        ({"student": "resnet"}, "unknown student"),
        ({"omit_class": 10}, "omit_class"),
        ({"student_fraction": 0}, "student_fraction"),
        ({"lr": 0}, "lr"),
    ],
)
def test_bad_settings_fail_before_any_training(change, message):
    events = []
    with pytest.raises(ConfigError, match=message):
        run(RunConfig(**change), on_event=events.append)
    assert events == []


def test_auto_device_is_the_accelerator_when_there_is_one():
    expected = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    assert resolve_device("auto") == expected
    assert resolve_device("cpu") == "cpu"
    assert run(QUICK.replace(epochs=1, baseline=False)).config.device == expected  # resolved, and so in every cache key


def test_asking_for_a_missing_accelerator_is_a_config_error():
    if torch.cuda.is_available():
        assert resolve_device("cuda") == "cuda"
    else:
        with pytest.raises(ConfigError, match="no CUDA device"):
            run(QUICK.replace(device="cuda"))


def test_cache_keys_name_the_device():
    cpu = RunConfig(device="cpu")
    gpu = RunConfig(device="cuda")
    assert cpu.teacher_key() != gpu.teacher_key() and cpu.run_key() != gpu.run_key()
