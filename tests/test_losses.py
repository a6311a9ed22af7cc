"""The distillation loss against an independent float64 formula, its validation, and the T² claim."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from kd_core import distillation_loss, soften


def reference_loss(student: np.ndarray, teacher: np.ndarray, labels: np.ndarray | None, T: float, lam: float):
    """Hinton et al.'s loss written out in float64 NumPy, independently of kd_core."""

    def log_softmax(z):
        z = z - z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))

    log_p_teacher, log_p_student = log_softmax(teacher / T), log_softmax(student / T)
    kl_per_sample = (np.exp(log_p_teacher) * (log_p_teacher - log_p_student)).sum(axis=1)
    soft = T * T * kl_per_sample.mean()
    hard = 0.0 if labels is None else -log_softmax(student)[np.arange(len(labels)), labels].mean()
    return lam * soft + (1 - lam) * hard, soft, hard


CASES = [(T, lam) for T in (0.5, 1.0, 2.0, 4.0, 8.0, 20.0, 100.0) for lam in (0.0, 0.3, 0.7, 1.0)]


@pytest.mark.parametrize("T, lam", CASES)
def test_matches_float64_reference(T: float, lam: float):
    rng = np.random.default_rng(int(T * 1000 + lam * 10))
    for _ in range(10):
        batch, classes = rng.integers(1, 65), rng.integers(2, 20)
        scale = rng.choice([0.1, 1.0, 10.0])
        student = rng.normal(0, scale, (batch, classes))
        teacher = rng.normal(0, scale, (batch, classes))
        labels = rng.integers(0, classes, batch)
        parts = distillation_loss(torch.tensor(student), torch.tensor(teacher), torch.tensor(labels), T, lam)
        expected = reference_loss(student, teacher, labels, T, lam)
        for got, want in zip(parts, expected):
            assert got.item() == pytest.approx(want, rel=1e-6, abs=1e-6)


def test_float32_inputs_agree_with_float64_reference():
    rng = np.random.default_rng(0)
    student, teacher = rng.normal(0, 3, (128, 10)), rng.normal(0, 3, (128, 10))
    labels = rng.integers(0, 10, 128)
    parts = distillation_loss(
        torch.tensor(student, dtype=torch.float32),
        torch.tensor(teacher, dtype=torch.float32),
        torch.tensor(labels),
        4.0,
        0.7,
    )
    for got, want in zip(parts, reference_loss(student, teacher, labels, 4.0, 0.7)):
        assert got.item() == pytest.approx(want, rel=1e-5, abs=1e-5)


def test_lam_zero_is_plain_cross_entropy_and_lam_one_needs_no_labels():
    student, teacher, labels = torch.randn(32, 10), torch.randn(32, 10), torch.randint(0, 10, (32,))
    pure_ce = distillation_loss(student, teacher, labels, 4.0, 0.0)
    assert pure_ce.total.item() == pytest.approx(torch.nn.functional.cross_entropy(student, labels).item())
    pure_soft = distillation_loss(student, teacher, None, 4.0, 1.0)
    assert pure_soft.total.item() == pytest.approx(pure_soft.soft.item())
    assert pure_soft.hard.item() == 0.0
    with pytest.raises(ValueError, match="labels"):
        distillation_loss(student, teacher, None, 4.0, 0.5)


def test_identical_distributions_have_zero_soft_loss():
    logits = torch.randn(16, 10)
    assert distillation_loss(logits, logits.clone(), None, 3.0, 1.0).soft.item() == pytest.approx(0.0, abs=1e-6)


@pytest.mark.filterwarnings("ignore:reduction")
def test_not_the_seeds_mean_reduction():
    """'mean' divides the KL by batch × classes; ours is the per-sample KL ('batchmean')."""
    student, teacher = torch.randn(8, 10), torch.randn(8, 10)
    T = 2.0
    seed_style = (
        torch.nn.KLDivLoss(reduction="mean")(torch.log_softmax(student / T, 1), torch.softmax(teacher / T, 1)) * T * T
    )
    ours = distillation_loss(student, teacher, None, T, 1.0).soft
    assert ours.item() == pytest.approx(seed_style.item() * 10, rel=1e-5)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf"), -float("inf")])
def test_bad_temperature_is_rejected(bad: float):
    with pytest.raises(ValueError, match="temperature"):
        distillation_loss(torch.randn(2, 3), torch.randn(2, 3), torch.tensor([0, 1]), bad, 0.5)
    with pytest.raises(ValueError, match="temperature"):
        soften(torch.randn(2, 3), bad)


@pytest.mark.parametrize("bad", [-0.01, 1.01, float("nan"), 5.0])
def test_bad_lam_is_rejected(bad: float):
    with pytest.raises(ValueError, match=r"lam.*\[0, 1\]"):
        distillation_loss(torch.randn(2, 3), torch.randn(2, 3), torch.tensor([0, 1]), 2.0, bad)


def test_soften_flattens_as_temperature_rises():
    logits = torch.tensor([[5.0, 2.0, 0.0, -1.0]])
    probabilities = [soften(logits, T) for T in (1, 2, 4, 8, 16)]
    for p in probabilities:
        assert p.sum().item() == pytest.approx(1.0)
    top = [p[0, 0].item() for p in probabilities]
    assert top == sorted(top, reverse=True)  # the winner's share shrinks...
    assert probabilities[-1].max().item() < 0.35  # ...towards uniform (0.25)


def soft_gradient_norm(T: float, scaled: bool, seed: int = 0) -> float:
    generator = torch.Generator().manual_seed(seed)
    student = (torch.randn(256, 10, generator=generator) * 3).requires_grad_()
    teacher = torch.randn(256, 10, generator=generator) * 6
    soft = distillation_loss(student, teacher, None, T, 1.0).soft
    (soft if scaled else soft / T**2).backward()
    return student.grad.norm().item()


def test_t_squared_keeps_soft_gradients_on_one_scale():
    temperatures = [1, 2, 4, 8, 16, 20]
    scaled = [soft_gradient_norm(T, scaled=True) for T in temperatures]
    unscaled = [soft_gradient_norm(T, scaled=False) for T in temperatures]
    # With T², the gradient norm stays within a small factor from T = 1 to T = 20 ...
    assert max(scaled) / min(scaled) < 4, scaled
    # ... without it, it falls roughly like 1/T² (a 400× range): the test can tell the difference.
    assert max(unscaled) / min(unscaled) > 100, unscaled
    assert all(math.isfinite(g) and g > 0 for g in scaled)
