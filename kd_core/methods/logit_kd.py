"""KD and its variants that change only the logits or the weights: Hinton's KD (and its two teaching toggles), the
weight-matched KD control, and logit standardisation.

Weight-matched KD: DKD's distillation weight (α 1 + β 8 = 9, beside CE 1) is far larger than KD's usual λ.
This control is KD (= TCKD + (1 − p_t)·NCKD per sample) scaled to DKD's α + β, with DKD's CE weight and warm-up:
the two then differ only in how TCKD and NCKD are weighed, so "DKD beats KD" can be split into what the larger
weight does and what the decoupling does.

Logit standardisation (Sun, Ren, Li, Wang & Cao, "Logit Standardization in Knowledge Distillation", CVPR 2024,
arXiv 2403.01427).  Official code: sunshangquan/logit-standardization-KD, ``mdistiller/distillers/KD.py`` at
commit f6e5aa5172bad618e801163c3385322eea673754: z' = (z − mean z) / (1e-7 + std z) per sample (torch.std,
unbiased) for both models, then KD at T; defaults in its ``mdistiller/engine/cfg.py``: CE 0.1, KD 9 (and T 2).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from kd_core.methods.base import Method, Param, warmup
from kd_core.methods.losses import hinton_kd, hinton_kd_without_t2, seed_script_kd


def _kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """T² · KL(softmax(t/T) ‖ softmax(s/T)), summed over classes, averaged over the batch."""
    kl = F.kl_div(
        F.log_softmax(student_logits / temperature, dim=-1),
        F.log_softmax(teacher_logits / temperature, dim=-1),
        reduction="batchmean",
        log_target=True,
    )
    return kl * temperature**2


def standardize(logits: torch.Tensor) -> torch.Tensor:
    """Each row's logits as z-scores, as the official code does it (1e-7 keeps a constant row finite)."""
    return (logits - logits.mean(dim=-1, keepdim=True)) / (1e-7 + logits.std(dim=-1, keepdim=True))


def matched_parts(student_logits, teacher_logits, labels, temperature, lam, *, epoch, ce, weight, warmup_epochs):
    """CE · CE-loss + warm-up · weight · T² · KL; parts ``hard`` and ``soft`` (T² · KL)."""
    soft = _kl(student_logits, teacher_logits, temperature)
    hard = F.cross_entropy(student_logits, labels)
    return {"total": ce * hard + warmup(epoch, warmup_epochs) * weight * soft, "hard": hard, "soft": soft}


def logit_std_parts(student_logits, teacher_logits, labels, temperature, lam, *, epoch, ce, weight):
    """CE · CE-loss + weight · T² · KL between the standardised logits; parts ``hard`` and ``soft``."""
    soft = _kl(standardize(student_logits), standardize(teacher_logits), temperature)
    hard = F.cross_entropy(student_logits, labels)
    return {"total": ce * hard + weight * soft, "hard": hard, "soft": soft}


def _hinton(loss):
    """One of Hinton's three losses as a method's parts (the trainer is given ``loss`` itself: ``Method.plain``)."""
    return lambda s, t, y, temperature, lam, *, epoch: loss(s, t, y, temperature, lam)


KD = Method(
    "kd",
    "KD",
    "Hinton's loss: λ · T² · KL(teacher ‖ student) at temperature T, plus (1 − λ) · cross-entropy.",
    "Hinton, Vinyals & Dean, Distilling the Knowledge in a Neural Network, 2015 (kd_core/methods/losses.py)",
    _hinton(hinton_kd),
    uses_lam=True,
    plain=hinton_kd,
)
KD_NO_T2 = Method(
    "kd-no-t2",
    "KD without T²",
    "KD without the T² factor (a teaching toggle: the soft part fades at high T).",
    "kd_core/methods/losses.py",
    _hinton(hinton_kd_without_t2),
    uses_lam=True,
    plain=hinton_kd_without_t2,
)
SEED_SCRIPT = Method(
    "seed-script",
    "seed script's KD",
    "KD as the seed script wrote it (mean over classes, × 2), kept to show what it does.",
    "kd_core/methods/losses.py",
    _hinton(seed_script_kd),
    uses_lam=True,
    plain=seed_script_kd,
)

KD_MATCHED = Method(
    name="kd-matched",
    title="KD, DKD's weight",
    description="KD with DKD's total distillation weight and warm-up: the control that separates DKD's decoupling "
    "from its larger loss weight.",
    reference="the control DKD lacks: mdistiller DKD defaults (α 1 + β 8, CE 1, WARMUP 20), "
    "mdistiller/engine/cfg.py @ e8c5bb331e78c9d79a8894ca233caae78531cf7f",
    parts=matched_parts,
    params={
        "ce": Param(1.0, 0.0, 100.0, "weight of the cross-entropy with the labels"),
        "weight": Param(9.0, 0.0, 100.0, "weight of T² · KL (DKD's α + β)"),
        "warmup_epochs": Param(
            20.0, 0.0, 1000.0, "epochs over which the distillation weight rises linearly", whole=True
        ),
    },
    needs_epoch=True,
)

LOGIT_STD = Method(
    name="logit-std",
    title="logit standardisation",
    description="KD between z-scored logits, so the student matches the teacher's logit ranking rather than its scale.",
    reference="Sun et al., Logit Standardization in Knowledge Distillation, CVPR 2024; sunshangquan/"
    "logit-standardization-KD mdistiller/distillers/KD.py @ f6e5aa5172bad618e801163c3385322eea673754",
    parts=logit_std_parts,
    params={
        "ce": Param(0.1, 0.0, 100.0, "weight of the cross-entropy with the labels"),
        "weight": Param(9.0, 0.0, 100.0, "weight of T² · KL between the standardised logits"),
    },
)
