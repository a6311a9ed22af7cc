"""The knowledge-distillation loss (Hinton, Vinyals & Dean, 2015).

    total = λ · T² · KL(softmax(t/T) ‖ softmax(s/T)) + (1 − λ) · CE(s, y)

How this differs from the seed's reference code
(``nn.KLDivLoss()(F.log_softmax(s/T), F.softmax(t/T)) * (T*T * 2.0 * alpha)``):

* ``nn.KLDivLoss()`` defaults to ``reduction='mean'``, which averages over every
  *element* — batch size × number of classes — so its soft term is C times too
  small (10× on CIFAR-10).  The KL divergence is a sum over classes; we average it
  over the batch only (``reduction='batchmean'``), which is the true KL per sample.
* The seed multiplies by an unexplained ``2.0``.  It happens to partly offset the
  ``'mean'`` bug but is not part of the method; we drop it.

Why T²: the gradient of the soft term with respect to a student logit is
``(softmax(s/T) − softmax(t/T)) / T``, and for large T those probability
differences themselves shrink like 1/T, so the gradient shrinks like 1/T².
Multiplying by T² keeps the soft term's gradients on the same scale as the hard
term's whatever the temperature, so λ means the same thing at T = 2 and T = 20.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F


class LossParts(NamedTuple):
    """The three scalar tensors of one distillation step."""

    total: torch.Tensor
    soft: torch.Tensor
    hard: torch.Tensor


def check_temperature(temperature: float) -> float:
    """Return ``temperature`` as a float, or raise ValueError if it is not finite and > 0."""
    value = float(temperature)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
    return value


def check_lam(lam: float) -> float:
    """Return ``lam`` as a float, or raise ValueError if it is not in [0, 1]."""
    value = float(lam)
    if not (0.0 <= value <= 1.0):  # also rejects NaN
        raise ValueError(f"lam (λ, the soft-loss weight) must be in [0, 1], got {lam!r}")
    return value


def soften(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """softmax(logits / T) over the last dimension: T > 1 spreads probability onto the runner-up classes."""
    return F.softmax(logits / check_temperature(temperature), dim=-1)


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    labels: torch.Tensor | None,
    temperature: float,
    lam: float,
) -> LossParts:
    """λ · T² · KL(teacher_T ‖ student_T) + (1 − λ) · CE(student, labels).

    soft: T²-scaled KL divergence between the softened teacher and student
          distributions, summed over classes and averaged over the batch.
    hard: ordinary cross-entropy with the labels at T = 1.
    With λ = 1 the labels are not used and may be None (hard is then reported as 0).
    """
    temperature = check_temperature(temperature)
    lam = check_lam(lam)
    student_log_probs = F.log_softmax(student_logits / temperature, dim=-1)
    teacher_log_probs = F.log_softmax(teacher_logits / temperature, dim=-1)
    # log_target=True: exact even where the teacher's probabilities underflow to 0.
    kl = F.kl_div(student_log_probs, teacher_log_probs, reduction="batchmean", log_target=True)
    soft = kl * temperature**2
    if labels is None:
        if lam != 1.0:
            raise ValueError("labels are required unless lam (λ) is 1")
        hard = torch.zeros((), dtype=soft.dtype, device=soft.device)
    else:
        hard = F.cross_entropy(student_logits, labels)
    total = lam * soft + (1.0 - lam) * hard
    return LossParts(total, soft, hard)


# ---- Losses the trainer is given -------------------------------------------------------------------
# A loss takes (student logits, teacher logits or None, labels, temperature, λ) and returns its named parts as
# scalar tensors: "total" is what is minimised; every other part is reported (per step, per epoch, in the charts).
# Hinton's KD and its two teaching toggles are registered in kd_core/methods/logit_kd.py; every other method is a
# module of its own in kd_core/methods/ and one line in kd_core/methods/registry.py's METHODS.

Loss = Callable[[torch.Tensor, "torch.Tensor | None", torch.Tensor, float, float], dict[str, torch.Tensor]]


def cross_entropy(student_logits, teacher_logits, labels, temperature, lam) -> dict[str, torch.Tensor]:
    """Labels only: how the teacher and the scratch baseline learn."""
    return {"total": F.cross_entropy(student_logits, labels)}


def hinton_kd(student_logits, teacher_logits, labels, temperature, lam) -> dict[str, torch.Tensor]:
    """Hinton's distillation loss, with its soft (T²·KL) and hard (CE) parts."""
    parts = distillation_loss(student_logits, teacher_logits, labels, temperature, lam)
    return {"total": parts.total, "soft": parts.soft, "hard": parts.hard}


def hinton_kd_without_t2(student_logits, teacher_logits, labels, temperature, lam) -> dict[str, torch.Tensor]:
    """The same loss without the T² factor: at high T the soft part's gradients shrink like 1/T², so the labels win."""
    parts = distillation_loss(student_logits, teacher_logits, labels, temperature, lam)
    soft = parts.soft / temperature**2
    return {"total": lam * soft + (1.0 - lam) * parts.hard, "soft": soft, "hard": parts.hard}


def seed_script_kd(student_logits, teacher_logits, labels, temperature, lam) -> dict[str, torch.Tensor]:
    """The loss as the seed's reference script wrote it: ``nn.KLDivLoss()`` with its default mean over batch ×
    classes (the KL divided by the number of classes too), times an unexplained 2 — kept to show what it does."""
    pointwise = F.kl_div(
        F.log_softmax(student_logits / temperature, dim=-1),
        F.softmax(teacher_logits / temperature, dim=-1),
        reduction="none",
    )
    kl_mean = pointwise.mean()  # what nn.KLDivLoss()'s default reduction='mean' computes
    soft = kl_mean * (temperature * temperature * 2.0)
    hard = F.cross_entropy(student_logits, labels)
    return {"total": lam * soft + (1.0 - lam) * hard, "soft": soft, "hard": hard}


def soft_weight_factor(loss: str, temperature: float, num_classes: int) -> float:
    """The soft term's weight relative to the correct ``kd`` loss: 1, 1/T², or 2/C (mean over classes, × 2)."""
    return {"kd": 1.0, "kd-no-t2": 1.0 / temperature**2, "seed-script": 2.0 / num_classes}[loss]
