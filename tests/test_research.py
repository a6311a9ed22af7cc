"""The engine's pieces for "what a decade of distillation research found" (issue #30): a teacher's width and label
smoothing, a chain of teachers (``teacher_from``), a student's fidelity to its teacher (agreement and KL), and a
transfer set of noise — each keyed only when set, so every teacher and run cached before them keeps its key."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from kd_core.config import ConfigError, RunConfig, parent_config, student_as_teacher, validate
from kd_core.runs.cache import TeacherCache
from kd_core.runs.pipeline import run
from kd_core.runs.setup import RunSetup, label_smoothed, noise_like
from kd_core.train.loop import teacher_student_kl
from kd_core.train.records import RunResult

TINY = RunConfig(device="cpu", teacher_epochs=2, epochs=2)  # seconds on digits

# (teacher_key, run_key, baseline_key) of validated configs, computed before these settings existed: the caches
# already on people's disks hold entries under exactly these keys.
KEYS_BEFORE = {
    "default": ({}, ("c42f370c560cd1503d6d", "6f3de4c7a02f45ebd4a9", "b4909cedd97f8495a8e1")),
    "cnn": (
        dict(teacher="cnn-large", student="cnn-small", seed=3, teacher_jitter=1, schedule="cosine"),
        ("8fda751590e5a9ccb0fd", "ce312d6c35d9588d49cb", "7c69b342ecacd8ca0cc8"),
    ),
    "sgd-fraction": (
        dict(optimizer="sgd", lr=0.05, student_fraction=0.1, temperature=8, lam=1.0, teacher_lr=0.02),
        ("30d16d57fd184780e74c", "001eb60412fba478ddae", "b4567c76557f474040fa"),
    ),
    "omit": (
        dict(omit_class=3, holdout=0.1, student_width=32, loss="dkd"),
        ("c42f370c560cd1503d6d", "14d2f974f48d8e7bca0c", "0a27f0a223ad6de540bd"),
    ),
    "keep": (
        dict(keep_classes=(7, 8), teacher_batch_size=32, teacher_optimizer="nesterov"),
        ("222004600f5a3de0fcb8", "396c80a7f958d303a34a", "3da97d2a412d476c2b21"),
    ),
}


def keys(config: RunConfig) -> tuple[str, str, str]:
    config = validate(config)
    return config.teacher_key(), config.run_key(), config.baseline_key()


@pytest.mark.parametrize("name", list(KEYS_BEFORE))
def test_the_keys_of_todays_configs_are_unchanged(name):
    changes, expected = KEYS_BEFORE[name]
    assert keys(RunConfig(device="cpu", **changes)) == expected


def test_each_new_setting_is_keyed_where_it_changes_what_is_trained():
    default = keys(RunConfig(device="cpu"))
    # the teacher's width or label smoothing: another teacher, another run (the baseline key holds the teacher's too)
    for changes in ({"teacher_width": 64}, {"teacher_label_smoothing": 0.1}):
        changed = keys(RunConfig(device="cpu", **changes))
        assert changed[0] != default[0] and changed[1] != default[1]
    # the architecture's own width is the same teacher
    assert keys(RunConfig(device="cpu", teacher_width=256)) == default
    # noise for the KD student: the same teacher and the same scratch baseline, another run
    noise = keys(RunConfig(device="cpu", transfer="noise"))
    assert noise[0] == default[0] and noise[2] == default[2] and noise[1] != default[1]
    # fidelity per epoch: the same teacher, other histories
    fidelity = keys(RunConfig(device="cpu", track_fidelity=True))
    assert fidelity[0] == default[0] and fidelity[1] != default[1]


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"teacher_label_smoothing": 1.0}, "teacher_label_smoothing must be in [0, 1)"),
        ({"teacher_label_smoothing": -0.1}, "teacher_label_smoothing must be in [0, 1)"),
        ({"teacher_label_smoothing": "much"}, "teacher_label_smoothing must be a number"),
        ({"teacher_width": 0}, "teacher_width must be between 1 and 4096"),
        ({"transfer": "pictures"}, "unknown transfer set 'pictures'"),
        ({"transfer": "noise", "loss": "dkd"}, "needs loss 'kd'"),
        ({"transfer": "noise", "omit_class": 3}, "no classes to omit or keep"),
        ({"teacher_from": "not json"}, "teacher_from must be a run's settings as JSON"),
        ({"teacher_from": '{"colour": 1}'}, "teacher_from must be a run's settings as JSON"),
        ({"teacher_from": student_as_teacher(RunConfig(dataset="mnist"))}, "dataset 'mnist'"),
        ({"teacher_from": student_as_teacher(RunConfig()), "teacher": "mlp-wide"}, "leave teacher and teacher_width"),
        ({"teacher_from": student_as_teacher(RunConfig()), "teacher_label_smoothing": 0.1}, "do not apply"),
    ],
)
def test_bad_settings_raise_one_line(changes, message):
    with pytest.raises(ConfigError) as raised:
        validate(RunConfig(device="cpu", **changes))
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_a_chain_longer_than_allowed_is_refused():
    config = RunConfig(device="cpu")
    for _ in range(6):
        config = RunConfig(device="cpu", teacher_from=student_as_teacher(config))
    with pytest.raises(ConfigError, match="chains at most"):
        validate(config)


def test_transfer_sets_lambda_to_one():
    assert validate(RunConfig(device="cpu", transfer="noise", lam=0.3)).lam == 1.0


def test_label_smoothed_loss_matches_a_float64_formula():
    generator = torch.Generator().manual_seed(0)
    logits, labels = torch.randn(7, 5, generator=generator), torch.randint(0, 5, (7,), generator=generator)
    epsilon = 0.2
    got = label_smoothed(epsilon)(logits, None, labels, 4.0, 0.7)["total"].item()
    z = logits.double().numpy()
    log_p = z - z.max(axis=1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))
    target = np.full(z.shape, epsilon / 5)
    target[np.arange(7), labels.numpy()] += 1 - epsilon
    assert got == pytest.approx(-(target * log_p).sum(axis=1).mean(), rel=1e-5)
    assert label_smoothed(0.0)(logits, None, labels, 4.0, 0.7)["total"].item() == pytest.approx(
        -log_p[np.arange(7), labels.numpy()].mean(), rel=1e-5
    )


def test_teacher_student_kl_matches_a_float64_formula():
    generator = torch.Generator().manual_seed(1)
    teacher, student = torch.randn(9, 10, generator=generator) * 3, torch.randn(9, 10, generator=generator)
    p = torch.softmax(teacher.double(), 1).numpy()
    q = torch.softmax(student.double(), 1).numpy()
    expected = (p * (np.log(p) - np.log(q))).sum(axis=1).mean()
    assert teacher_student_kl(teacher, student).item() == pytest.approx(expected, rel=1e-5)
    assert teacher_student_kl(teacher, teacher).item() == pytest.approx(0.0, abs=1e-6)


def test_noise_spans_the_training_range_and_repeats_for_a_seed():
    x = torch.linspace(-1, 1, 64).view(1, 1, 8, 8).repeat(3, 1, 1, 1)
    noise = noise_like(x, 500, seed=5)
    assert noise.shape == (500, 1, 8, 8)
    assert noise.min() >= -1 and noise.max() <= 1 and noise.min() < -0.99 and noise.max() > 0.99
    assert torch.equal(noise, noise_like(x, 500, seed=5)) and not torch.equal(noise, noise_like(x, 500, seed=6))


def test_a_smoothed_teacher_is_less_confident(tmp_path):
    cache = TeacherCache(tmp_path)
    plain, smoothed = RunSetup(TINY), RunSetup(TINY.replace(teacher_label_smoothing=0.3))
    plain.teacher(cache), smoothed.teacher(cache)
    confidence = lambda setup: setup.teacher_logits().softmax(1).max(1).values.mean().item()  # noqa: E731
    assert confidence(smoothed) < confidence(plain) - 0.05


def test_a_run_records_its_students_fidelity(tmp_path):
    result = run(TINY, cache=TeacherCache(tmp_path))
    setup = RunSetup(TINY)
    setup.teacher(TeacherCache(tmp_path))
    teacher = setup.teacher_test_logits()
    for phase in ("student", "baseline"):
        report = getattr(result, phase)
        student = result.models[phase](setup.test[0])
        assert report.agreement == pytest.approx((student.argmax(1) == teacher.argmax(1)).float().mean().item())
        assert report.teacher_kl == pytest.approx(teacher_student_kl(teacher, student).item(), rel=1e-4)
    data = json.loads(json.dumps(result.to_json()))
    assert data["student"]["teacher_kl"] == result.student.teacher_kl and "teacher_kl" not in data["teacher"]
    assert RunResult.from_json(data, result.config).student == result.student
    assert all("agreement" not in row for row in data["history"])  # only when asked for


def test_fidelity_per_epoch_ends_where_the_report_does(tmp_path):
    result = run(TINY.replace(track_fidelity=True), cache=TeacherCache(tmp_path))
    for phase in ("student", "baseline"):
        rows = [row for row in result.history if row.phase == phase]
        assert len(rows) == 2 and all(row.agreement is not None and row.teacher_kl >= 0 for row in rows)
        assert rows[-1].agreement == pytest.approx(getattr(result, phase).agreement)
        assert rows[-1].teacher_kl == pytest.approx(getattr(result, phase).teacher_kl, rel=1e-5)
    assert all(row.agreement is None for row in result.history if row.phase == "teacher")
    row = next(row for row in result.history if row.phase == "student")
    assert type(row).from_dict(row.to_dict()) == row


def test_a_chained_teacher_is_the_parents_kd_student_and_is_cached(tmp_path):
    cache = TeacherCache(tmp_path)
    gen1 = TINY.replace(teacher="mlp-small", seed=3)
    gen2 = gen1.replace(teacher_from=student_as_teacher(gen1))
    chained = run(gen2.replace(baseline=False), cache=cache)
    assert not chained.teacher_from_cache
    assert (chained.config.teacher, chained.config.teacher_width) == ("mlp-small", None)
    assert validate(gen2).teacher_key() == validate(gen2.replace(temperature=2.0)).teacher_key()
    parent = run(gen1.replace(baseline=False), cache=cache)
    for name, tensor in parent.models["student"].state_dict().items():
        assert torch.equal(tensor, chained.models["teacher"].state_dict()[name])
    assert chained.teacher.accuracy == parent.student.accuracy
    again = run(gen2.replace(baseline=False, temperature=2.0), cache=cache)
    assert again.teacher_from_cache and again.teacher.accuracy == chained.teacher.accuracy


def test_a_chain_follows_the_runs_seed_and_a_wider_student_sets_the_teachers_width():
    assistant = RunConfig(device="cpu", student_width=64)
    student = validate(RunConfig(device="cpu", seed=7, teacher_from=student_as_teacher(assistant)))
    assert (student.teacher, student.teacher_width) == ("mlp-small", 64)
    assert parent_config(student).seed == 7 and parent_config(student).baseline is False
    other_seed = validate(student.replace(seed=8))
    assert parent_config(other_seed).seed == 8 and other_seed.teacher_key() != student.teacher_key()
    assert validate(student) == student  # validating twice changes nothing


def test_a_noise_transfer_trains_the_kd_student_only(tmp_path):
    cache = TeacherCache(tmp_path)
    real = run(TINY, cache=cache)
    noise = run(TINY.replace(transfer="noise"), cache=cache)
    assert noise.teacher_from_cache and noise.baseline_from_cache
    assert noise.baseline == real.baseline
    assert noise.student.accuracy != real.student.accuracy
    assert noise.config.lam == 1.0


class StopAfter:
    """A stop flag that is set once it has been asked ``calls`` times (the trainer asks before every step)."""

    def __init__(self, calls: int):
        self.calls = calls

    def is_set(self) -> bool:
        self.calls -= 1
        return self.calls < 0


def test_stopping_inside_an_earlier_link_cancels_the_runs_teacher(tmp_path):
    cache = TeacherCache(tmp_path)
    gen1 = TINY.replace(teacher="mlp-small")
    gen2 = gen1.replace(teacher_from=student_as_teacher(gen1))
    result = run(gen2, stop=StopAfter(60), cache=cache)  # the link's teacher takes 46 steps: inside its student
    assert result.status == "cancelled" and result.teacher is None and result.history == []
    assert cache.get(validate(gen2).teacher_key()) is None
