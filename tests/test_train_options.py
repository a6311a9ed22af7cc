"""The options Hinton's MNIST recipe needs, as general engine settings: the teacher's own optimizer and learning
rate, jitter, Nesterov momentum, the one-cycle schedule and the dropout CNN teacher."""

from __future__ import annotations

import sys

import pytest
import torch

from kd_core.cli.train import main as kd_train
from kd_core.config import ConfigError, RunConfig, validate
from kd_core.models.architectures import build_model, count_params
from kd_core.runs.pipeline import run
from kd_core.runs.setup import RunSetup
from kd_core.train.loop import jittered, make_optimizer, make_schedule


def test_defaults_keep_every_key():
    """Unset, the teacher options are left out of the run and teacher keys, so a run without them finds the entries
    cached without them."""
    plain = validate(RunConfig())
    assert plain.teacher_lr is None and plain.teacher_optimizer is None and plain.teacher_jitter == 0
    assert plain.teacher_batch_size is None
    assert "teacher_lr" not in str(plain.run_key())
    same = validate(
        RunConfig(teacher_lr=plain.lr, teacher_optimizer=plain.optimizer, teacher_batch_size=plain.batch_size)
    )
    assert same.teacher_key() == plain.teacher_key()  # the same teacher, however it is spelt
    for change in (
        {"teacher_lr": 0.003},
        {"teacher_optimizer": "sgd"},
        {"teacher_jitter": 1},
        {"teacher_batch_size": 32},
    ):
        other = validate(RunConfig(**change))
        assert other.teacher_key() != plain.teacher_key() and other.run_key() != plain.run_key(), change
    # The students' settings alone leave the teacher alone once it has its own.
    own = dict(teacher_lr=0.003, teacher_optimizer="adam", teacher_batch_size=64)
    assert (
        validate(RunConfig(**own, optimizer="nesterov", lr=0.05, epochs=3, batch_size=256)).teacher_key()
        == validate(RunConfig(**own)).teacher_key()
    )


@pytest.mark.parametrize(
    "change, words",
    [
        ({"teacher_optimizer": "rmsprop"}, "unknown teacher optimizer"),
        ({"teacher_lr": 0}, "teacher_lr must be > 0"),
        ({"teacher_lr": "fast"}, "teacher_lr must be a number"),
        ({"teacher_batch_size": 0}, "teacher_batch_size must be between 1 and"),
        ({"teacher_jitter": 9}, "teacher_jitter must be between 0 and 8"),
        ({"teacher_jitter": 1.5}, "teacher_jitter must be a whole number"),
        ({"schedule": "steps"}, "unknown schedule"),
        ({"optimizer": "lion"}, "unknown optimizer"),
    ],
)
def test_bad_values_are_one_line_errors(change, words):
    with pytest.raises(ConfigError, match=words) as error:
        validate(RunConfig(**change))
    assert "\n" not in str(error.value)


def test_cli_rejects_bad_jitter_with_exit_2(capsys):
    with pytest.raises(SystemExit) as stopped:
        kd_train(["--teacher-jitter", "20", "--quiet"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "teacher_jitter" in err


def test_jitter_shifts_each_image_within_range():
    x = torch.arange(2 * 1 * 6 * 6, dtype=torch.float32).view(2, 1, 6, 6)
    generator = torch.Generator().manual_seed(0)
    for _ in range(20):
        out = jittered(x, 2, generator)
        assert out.shape == x.shape
        for image, shifted in zip(x, out):
            # Some shift (dy, dx) in [-2, 2]² maps the image's centre onto the shifted one's.
            padded = torch.nn.functional.pad(image.unsqueeze(0), (2, 2, 2, 2), mode="replicate")[0]
            assert any(
                torch.equal(padded[:, 2 + dy : 8 + dy, 2 + dx : 8 + dx], shifted)
                for dy in range(-2, 3)
                for dx in range(-2, 3)
            )
    assert torch.equal(
        jittered(x, 2, torch.Generator().manual_seed(5)), jittered(x, 2, torch.Generator().manual_seed(5))
    )


def test_nesterov_and_onecycle():
    model = torch.nn.Linear(3, 2)
    config = validate(RunConfig(optimizer="nesterov", lr=0.05, schedule="onecycle"))
    optimizer = make_optimizer(model, config)
    assert isinstance(optimizer, torch.optim.SGD) and optimizer.param_groups[0]["nesterov"]
    schedule = make_schedule(optimizer, config, 100)
    rates = []
    for _ in range(100):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert rates[0] == pytest.approx(0.05 / 25) and max(rates) == pytest.approx(0.05) and rates[-1] < 1e-4
    assert rates.index(max(rates)) == pytest.approx(30, abs=1)  # the peak after 30 % of the steps


def test_dropout_cnn_teacher():
    model = build_model("cnn-dropout", (1, 28, 28), 10)
    assert any(isinstance(m, torch.nn.Dropout) and m.p == 0.3 for m in model.modules())
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10) and count_params(model) > 800_000
    assert "dropout" not in str(build_model("cnn-large", (1, 28, 28), 10)).lower()  # unchanged


def test_a_run_with_every_option(tmp_path):
    """A digits run with its teacher jittered under its own optimizer, students under Nesterov and one-cycle."""
    from kd_core import TeacherCache

    config = RunConfig(
        teacher_epochs=2,
        epochs=2,
        teacher_optimizer="adam",
        teacher_lr=0.003,
        teacher_jitter=1,
        optimizer="nesterov",
        lr=0.05,
        schedule="onecycle",
    )
    first = run(config, cache=TeacherCache(tmp_path / "a"))
    again = run(config, cache=TeacherCache(tmp_path / "b"))
    assert first.status == "completed" and first.teacher.accuracy > 0.5
    assert (first.teacher.accuracy, first.student.accuracy) == (again.teacher.accuracy, again.student.accuracy)


def test_a_lesson_on_mnist_takes_mnists_default_threads(tmp_path, capsys):
    """kd-train --lesson hinton-mnist --seeds 1 trains on MNIST's two threads, as --dataset mnist does (not
    digits' one)."""
    before = torch.get_num_threads()
    try:
        with pytest.raises(SystemExit) as stopped:  # no files there: one line, exit 2, after the threads are set
            kd_train(["--lesson", "hinton-mnist", "--data-dir", str(tmp_path / "none"), "--seeds", "1", "--quiet"])
        assert stopped.value.code == 2 and torch.get_num_threads() == 2
        assert len(capsys.readouterr().err.strip().splitlines()) == 1
    finally:
        torch.set_num_threads(before)


def test_a_lessons_seeds_run_one_per_core_on_one_thread_each(tmp_path, capsys, monkeypatch):
    """kd-train --lesson over several seeds runs them as the page does: one worker per core (at most one per
    seed), each on one thread, so its numbers are the page's; --jobs or --threads given keep their say."""
    from kd_core.cli import train as cli

    made = []
    monkeypatch.setattr(cli.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(cli, "check_common", lambda parser, args: made.append((args.jobs, args.threads)) or sys.exit(2))
    for flags in ([], ["--jobs", "1"], ["--threads", "2"]):
        with pytest.raises(SystemExit):
            kd_train(["--lesson", "hinton-mnist", "--data-dir", str(tmp_path), "--quiet", *flags])
    assert made == [(2, 1), (1, None), (2, 2)]


def test_the_teacher_trains_at_its_own_batch_size():
    """teacher_batch_size sets the teacher's batches (its steps per epoch), and the students keep batch_size."""
    config = RunConfig(teacher_epochs=1, epochs=1, batch_size=64, teacher_batch_size=16)
    result = run(config)
    steps = {phase: max(s.step for s in result.steps if s.phase == phase) for phase in ("teacher", "student")}
    train_size = len(RunSetup(config).y_train)
    assert steps == {"teacher": -(-train_size // 16), "student": -(-train_size // 64)}
