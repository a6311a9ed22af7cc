"""kd_core.studies.inspection: a finished run looked at closely — softened probabilities, the KL of one image, the
images where dark knowledge shows, the confusion matrix and its worst mistake, the predictions of a served run."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import confusion_matrix as sklearn_confusion

from kd_core.methods.losses import distillation_loss, soften
from kd_core.studies import inspection

# ---------------------------------------------------------------- softmax at T and the KL of one image


def reference_kl(teacher: list[float], student: list[float], temperature: float) -> float:
    """KL(teacher_T ‖ student_T) in plain Python floats (float64), each sum exactly rounded (math.fsum)."""

    def log_softmax(logits: list[float]) -> list[float]:
        z = [v / temperature for v in logits]
        top = max(z)
        log_total = top + math.log(math.fsum(math.exp(v - top) for v in z))
        return [v - log_total for v in z]

    log_t, log_s = log_softmax(teacher), log_softmax(student)
    return math.fsum(math.exp(t) * (t - s) for t, s in zip(log_t, log_s))


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.5, 4.0, 20.0])
def test_the_kl_matches_a_float64_reference(temperature):
    rng = np.random.default_rng(int(10 * temperature))
    for scale in (0.1, 3.0, 30.0):
        teacher, student = scale * rng.normal(size=10), scale * rng.normal(size=10)
        expected = reference_kl(teacher.tolist(), student.tolist(), temperature)
        assert inspection.kl_divergence(teacher, student, temperature) == pytest.approx(expected, rel=1e-10, abs=1e-15)
    # float32 logits (what the models give) are taken as they are and computed in float64
    teacher32, student32 = rng.normal(size=10).astype(np.float32), rng.normal(size=10).astype(np.float32)
    expected = reference_kl(teacher32.astype(np.float64).tolist(), student32.astype(np.float64).tolist(), temperature)
    assert inspection.kl_divergence(teacher32, student32, temperature) == pytest.approx(expected, rel=1e-10, abs=1e-15)


@pytest.mark.parametrize("temperature", [1.0, 2.5, 4.0, 20.0])
def test_the_kl_is_torchs_kl_div_summed_over_classes(temperature):
    generator = torch.Generator().manual_seed(3)
    teacher, student = 6 * torch.randn(10, generator=generator), 3 * torch.randn(10, generator=generator)
    expected = F.kl_div(
        F.log_softmax(student / temperature, dim=-1), F.softmax(teacher / temperature, dim=-1), reduction="sum"
    )
    got = inspection.kl_divergence(teacher.numpy(), student.numpy(), temperature)
    assert got == pytest.approx(float(expected), rel=1e-5, abs=1e-7)
    # …and the KD loss's soft part, on a batch of this one image, is T² times it.
    soft = distillation_loss(student[None], teacher[None], None, temperature, 1.0).soft
    assert temperature**2 * got == pytest.approx(float(soft), rel=1e-5, abs=1e-7)


def test_the_kl_on_known_inputs():
    assert inspection.kl_divergence(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]), 4.0) == 0.0
    assert inspection.kl_divergence(np.array([5.0, 5.0]), np.array([0.0, 0.0]), 1.0) == pytest.approx(
        0.0, abs=1e-12
    )  # same softmax
    # Teacher (0.5, 0.5) against student (0.9, 0.1): 0.5·log(0.5/0.9) + 0.5·log(0.5/0.1).
    student = np.log([0.9, 0.1])
    assert inspection.kl_divergence(np.zeros(2), student, 1.0) == pytest.approx(
        0.5 * np.log(0.5 / 0.9) + 0.5 * np.log(5), rel=1e-12
    )
    # A teacher sure to the last bit (its other probabilities underflow) still gives a finite, exact number.
    assert np.isfinite(inspection.kl_divergence(np.array([2000.0, 0.0, 0.0]), np.zeros(3), 1.0))
    with pytest.raises(ValueError):
        inspection.kl_divergence(np.zeros(3), np.zeros(3), 0.0)


def test_softened_is_soften_on_numpy_in_the_logits_own_dtype():
    logits = np.random.default_rng(1).normal(size=(4, 10)).astype(np.float32)
    got = inspection.softened(logits, 3.0)
    assert got.dtype == np.float32 and (got == soften(torch.from_numpy(logits), 3.0).numpy()).all()
    assert inspection.softened(logits.astype(np.float64), 3.0).dtype == np.float64
    with pytest.raises(ValueError):
        inspection.softened(logits, 0.0)


# ---------------------------------------------------------------- where dark knowledge shows


def test_a_random_sample_shows_dark_knowledge():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(200, 10)) * 0.5
    logits[np.arange(200), rng.integers(0, 10, 200)] += 30.0  # one-hot even at T = 4
    logits[:40, 1] = logits[:40].max(axis=1) - 2.0  # these 40 have a visible runner-up at T = 4
    chosen = inspection.revealing(logits, 4.0)
    probs = inspection.softened(logits[chosen], 4.0)
    assert len(chosen) >= inspection.FEWEST and (np.sort(probs, axis=1)[:, -2] >= inspection.VISIBLE).all()
    assert set(chosen) <= set(range(40))
    # Too few such images: the ones with the largest runner-up, never an empty choice.
    few = inspection.revealing(logits, 1.0, among=np.arange(100, 200))
    assert len(few) == inspection.FEWEST and set(few) <= set(range(100, 200))


# ---------------------------------------------------------------- class by class


def test_the_confusion_matrix_counts_true_rows_and_predicted_columns():
    rng = np.random.default_rng(0)
    labels, predicted = rng.integers(0, 10, 500), rng.integers(0, 10, 500)
    matrix = inspection.confusion_matrix(labels, predicted, 10)
    assert matrix.dtype == np.int64 and matrix.sum() == 500
    assert (matrix == sklearn_confusion(labels, predicted, labels=range(10))).all()
    assert inspection.confusion_matrix(np.array([0, 0, 1]), np.array([1, 1, 1]), 3).tolist() == [
        [0, 2, 0],
        [0, 1, 0],
        [0, 0, 0],
    ]
    with pytest.raises(ValueError):
        inspection.confusion_matrix(np.array([0, 1]), np.array([0]), 2)


def test_the_worst_confusion_is_the_largest_mistake():
    assert inspection.worst_confusion(np.diag([5, 6, 7])) is None
    assert inspection.worst_confusion(np.array([[9, 1, 0], [4, 8, 0], [0, 4, 3]])) == inspection.Confusion(
        1, 0, 4
    )  # the first of a tie


def test_the_class_kd_helps_most_needs_both_students():
    accuracies = {"teacher": [0.9, 0.9, 0.9], "student": [0.8, 0.7, 0.9], "baseline": [0.8, 0.5, 0.85]}
    best, gain = inspection.most_helped_class(accuracies)
    assert best == 1 and gain == pytest.approx(0.2)
    assert inspection.most_helped_class({"teacher": [0.9], "student": [0.8]}) is None


def test_one_images_kl_decoupled_adds_up_to_the_kl():
    rng = np.random.default_rng(2)
    teacher, student = 4 * rng.normal(size=(5, 10)), 2 * rng.normal(size=(5, 10))
    labels = rng.integers(0, 10, 5)
    weights = inspection.nontarget_weights(teacher, labels, 4.0)
    assert weights.shape == (5,) and ((weights > 0) & (weights < 1)).all()
    for i in range(5):
        split = inspection.decoupled_kl(teacher[i], student[i], labels[i], 4.0)
        assert split["kd"] == pytest.approx(inspection.kl_divergence(teacher[i], student[i], 4.0), rel=1e-12)
        assert split["kd"] == pytest.approx(split["tckd"] + split["weight"] * split["nckd"], rel=1e-9)
        assert split["weight"] == pytest.approx(weights[i], rel=1e-12)
