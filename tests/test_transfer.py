"""The paper's transfer set of only some classes (its 7s and 8s): the students see those classes alone, the teacher
every class; the report gives how they do on the others, before and after those others' biases are raised by an
amount chosen on the validation split."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kd_core import RunConfig, TeacherCache, run
from kd_core.config import ConfigError, validate
from kd_core.data.datasets import holdout_indices, student_indices
from kd_core.runs.bias import bias_curve, choose_bias
from kd_core.train.records import RunResult

KEEP = (0, 1, 2, 3, 4)
# The unseen-class lesson's wide student: the default 16-unit one reads none of the other digits before the bias.
CONFIG = RunConfig(
    teacher_epochs=10,
    epochs=30,
    schedule="cosine",
    student="mlp-wide",
    keep_classes=KEEP,
    holdout=0.2,
    lam=1.0,
    temperature=20.0,
    seed=3,
)


def test_the_students_see_every_training_image_of_the_kept_classes_but_the_held_out_ones():
    labels = torch.arange(10).repeat(50)[torch.randperm(500, generator=torch.Generator().manual_seed(0))]
    seen = student_indices(labels, keep_classes=(7, 8), holdout=0.2)
    held = holdout_indices(labels, 0.2)
    assert set(labels[seen].tolist()) == {7, 8}
    expected = {i for i in range(500) if labels[i].item() in (7, 8)} - set(held.tolist())
    assert set(seen.tolist()) == expected
    assert student_indices(labels, keep_classes=None).tolist() == list(range(500))


@pytest.mark.parametrize("value, kept", [("7,8", (7, 8)), ([8, 7, 8], (7, 8)), ((3,), (3,)), (" 1, 2 ", (1, 2))])
def test_kept_classes_are_read_as_a_sorted_tuple(value, kept):
    assert validate(RunConfig(keep_classes=value)).keep_classes == kept


@pytest.mark.parametrize(
    "value, words",
    [
        ("7,x", "keep_classes must be a whole number"),
        ("10", "between 0 and 9"),
        ("", "keep_classes must be a whole"),
        (list(range(10)), "between 1 and 9 classes"),
        (7, "class numbers like 7,8"),
    ],
)
def test_bad_kept_classes_are_one_line_naming_the_setting(value, words):
    with pytest.raises(ConfigError) as caught:
        validate(RunConfig(keep_classes=value))
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_kept_classes_change_the_run_key_only_when_set():
    base = validate(RunConfig())
    assert "keep_classes" not in base._run_identity()  # unset, it is left out: a run without it keys the same
    assert validate(RunConfig(keep_classes=(7, 8))).run_key() != base.run_key()
    assert validate(RunConfig(keep_classes=(7, 8))).teacher_key() == base.teacher_key()  # the teacher sees everything


def _independent_curve(logits: np.ndarray, labels: np.ndarray, raised: list[int], biases: list[float]):
    """float64, one bias and one example at a time: (accuracy on the raised classes' examples, overall)."""
    out = []
    for bias in biases:
        right = []
        for row, label in zip(logits.astype(np.float64), labels):
            shifted = [value + (bias if c in raised else 0.0) for c, value in enumerate(row)]
            right.append(int(np.argmax(shifted)) == label)
        right = np.array(right)
        on_raised = np.isin(labels, raised)
        out.append((right[on_raised].mean(), right.mean()))
    return out


def test_raising_several_classes_matches_an_independent_float64_implementation():
    generator = torch.Generator().manual_seed(1)
    logits = torch.randn(400, 10, generator=generator) * 3
    labels = torch.randint(0, 10, (400,), generator=generator)
    raised, biases = [0, 1, 2, 3, 4, 5, 6, 9], [0.0, 0.5, 2.0, 7.5]
    curve = bias_curve(logits, labels, raised, biases)
    expected = _independent_curve(logits.numpy(), labels.numpy(), raised, biases)
    for point, (on_raised, overall) in zip(curve, expected):
        assert point.class_accuracy == pytest.approx(on_raised, abs=1e-6)
        assert point.overall_accuracy == pytest.approx(overall, abs=1e-6)
    assert bias_curve(logits, labels, 3, biases) == bias_curve(logits, labels, [3], biases)  # one class: as before
    with pytest.raises(ValueError):
        bias_curve(logits, labels, [10], biases)


def test_the_bias_is_chosen_on_the_validation_split_not_the_test_set():
    generator = torch.Generator().manual_seed(2)
    validation, test = torch.randn(300, 10, generator=generator), torch.randn(300, 10, generator=generator)
    v_labels, t_labels = (
        torch.randint(0, 10, (300,), generator=generator),
        torch.randint(0, 10, (300,), generator=generator),
    )
    chosen = choose_bias(validation, v_labels, test, t_labels, [5, 6, 7])
    best_on_validation = max(
        bias_curve(validation, v_labels, [5, 6, 7], [chosen.bias, 0.0, 1.0, 3.0]), key=lambda p: p.overall_accuracy
    )
    assert best_on_validation.bias == chosen.bias
    assert chosen.overall_accuracy == bias_curve(test, t_labels, [5, 6, 7], [chosen.bias])[0].overall_accuracy


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    return run(CONFIG, cache=TeacherCache(tmp_path_factory.mktemp("teachers")))


def test_a_run_on_some_classes_reports_the_others_before_and_after_the_bias(digits_run):
    report = digits_run.kept_classes
    assert report.classes == KEEP
    assert report.baseline_unseen_accuracy == 0.0  # it never saw a label of the others, so never answers them
    assert report.student_unseen_accuracy > 0.2  # the teacher's soft targets on 0-4 alone say much of 5-9 (47 % here)
    fixed = report.bias_corrected
    assert fixed["class_accuracy"] > max(0.6, report.student_unseen_accuracy)  # 86 % here
    assert fixed["overall_accuracy"] > digits_run.student.accuracy > digits_run.baseline.accuracy
    again = RunResult.from_json(digits_run.to_json(), digits_run.config)
    assert again.kept_classes == report


def test_without_a_validation_split_no_bias_is_chosen(tmp_path):
    result = run(CONFIG.replace(holdout=0.0, teacher_epochs=2, epochs=2), cache=TeacherCache(tmp_path))
    assert result.kept_classes.bias_corrected is None and "kept_classes" in result.to_json()


def test_kd_train_says_how_the_students_do_on_the_classes_they_never_saw(tmp_path, capsys):
    from kd_core.cli.train import main

    quick = ["--teacher-epochs", "2", "--epochs", "2", "--cache-dir", str(tmp_path), "--quiet", "--holdout", "0.2"]
    assert main([*quick, "--keep-classes", "7,8"]) == 0
    [line] = [x for x in capsys.readouterr().out.splitlines() if x.startswith("students saw only")]
    assert line.startswith("students saw only the 7s and 8s; test errors: KD student ") and ", scratch " in line
    assert "KD after the bias chosen on the validation split: " in line
    assert main([*quick, "--omit-class", "3", "--seeds", "2"]) == 0
    [line] = [x for x in capsys.readouterr().out.splitlines() if x.startswith("test 3s recognised")]
    assert line.startswith("test 3s recognised (means over 2 seeds): KD student ") and "scratch 0.0%" in line
