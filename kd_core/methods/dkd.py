"""Decoupled KD (Zhao, Cui, Song, Qiu & Liang, "Decoupled Knowledge Distillation", CVPR 2022, arXiv 2203.08679).

Official code: megvii-research/mdistiller, ``mdistiller/distillers/DKD.py`` at commit
e8c5bb331e78c9d79a8894ca233caae78531cf7f (defaults in ``mdistiller/engine/cfg.py``: CE_WEIGHT 1, ALPHA 1, BETA 8,
T 4, WARMUP 20).

With p = softmax(z / T) and t the true class, KD's KL splits per sample into
    KL(p_teacher ‖ p_student) = TCKD + (1 − p_t of the teacher) · NCKD
    TCKD = KL([p_t, 1 − p_t] of the teacher ‖ the same of the student)        (target vs the rest)
    NCKD = KL(p̂ of the teacher ‖ p̂ of the student), p̂_i = p_i / (1 − p_t), i ≠ t   (among the non-targets)
so a confident teacher (p_t → 1) mutes the dark knowledge NCKD carries; DKD weighs the two freely:
    loss = CE_WEIGHT · CE + min(epoch / WARMUP, 1) · T² · (α · TCKD + β · NCKD).

Unlike mdistiller, TCKD is computed in log space: mdistiller takes ``torch.log`` of a probability sum, which is
−inf (and then NaN) once a probability underflows.  Here log p_t = z_t/T − logsumexp(z/T) and
log(1 − p_t) = logsumexp(z_≠t / T) − logsumexp(z/T); p̂ is the softmax of the non-target logits alone (mdistiller's
"subtract 1000 from the target logit" gives the same up to e^−1000).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from kd_core.methods.base import Method, MethodError, Param, warmup


def _split(logits: torch.Tensor, labels: torch.Tensor, temperature: float):
    """(log p_t, log(1 − p_t), log p̂ over the non-target classes (N, C−1)) at T, all in log space."""
    z = logits / temperature
    n, c = z.shape
    target = F.one_hot(labels, c).bool()
    others = z[~target].view(n, c - 1)  # each row's non-target logits, in class order
    log_all = torch.logsumexp(z, dim=1)
    log_pt = z[target] - log_all
    log_rest = torch.logsumexp(others, dim=1) - log_all
    return log_pt, log_rest, F.log_softmax(others, dim=1)


def _kl_rows(log_q: torch.Tensor, log_p: torch.Tensor) -> torch.Tensor:
    """Σ_i p_i (log p_i − log q_i) per row, from log-probabilities (exact where p underflows to 0)."""
    return F.kl_div(log_q, log_p, reduction="none", log_target=True).sum(dim=1)


def decompose(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor, temperature: float
) -> dict[str, torch.Tensor]:
    """Per sample, without T²: ``kd`` (the whole KL), ``tckd``, ``nckd`` and ``weight`` = 1 − p_t of the teacher,
    with kd = tckd + weight · nckd.  With two classes NCKD is 0 (one non-target class: nothing to distribute)."""
    if student_logits.shape != teacher_logits.shape or student_logits.dim() != 2:
        raise MethodError(
            f"dkd: student and teacher logits must both be (batch, classes), got "
            f"{tuple(student_logits.shape)} and {tuple(teacher_logits.shape)}"
        )
    s_pt, s_rest, s_hat = _split(student_logits, labels, temperature)
    t_pt, t_rest, t_hat = _split(teacher_logits, labels, temperature)
    tckd = _kl_rows(torch.stack([s_pt, s_rest], 1), torch.stack([t_pt, t_rest], 1))
    nckd = _kl_rows(s_hat, t_hat)
    kd = _kl_rows(F.log_softmax(student_logits / temperature, 1), F.log_softmax(teacher_logits / temperature, 1))
    return {"kd": kd, "tckd": tckd, "nckd": nckd, "weight": t_rest.exp()}


def dkd_parts(student_logits, teacher_logits, labels, temperature, lam, *, epoch, ce, alpha, beta, warmup_epochs):
    """CE · CE-loss + warm-up · T² · (α · TCKD + β · NCKD); parts ``hard``, ``tckd``, ``nckd`` (T²-scaled, batch
    means)."""
    classes = student_logits.shape[-1]
    if classes < 3:
        raise MethodError(
            f"dkd: NCKD needs at least 3 classes (with {classes} there is one non-target class and "
            "nothing to distribute); use kd"
        )
    split = decompose(student_logits, teacher_logits, labels, temperature)
    tckd = split["tckd"].mean() * temperature**2
    nckd = split["nckd"].mean() * temperature**2
    hard = F.cross_entropy(student_logits, labels)
    total = ce * hard + warmup(epoch, warmup_epochs) * (alpha * tckd + beta * nckd)
    return {"total": total, "hard": hard, "tckd": tckd, "nckd": nckd}


DKD = Method(
    name="dkd",
    title="DKD",
    description="KD split into target-vs-rest (TCKD) and among-the-rest (NCKD) terms, weighted freely so a "
    "confident teacher's dark knowledge is not muted.",
    reference="Zhao et al., Decoupled Knowledge Distillation, CVPR 2022; megvii-research/mdistiller "
    "mdistiller/distillers/DKD.py @ e8c5bb331e78c9d79a8894ca233caae78531cf7f",
    parts=dkd_parts,
    params={
        "ce": Param(1.0, 0.0, 100.0, "weight of the cross-entropy with the labels"),
        "alpha": Param(1.0, 0.0, 100.0, "weight of TCKD (target vs the rest)"),
        "beta": Param(8.0, 0.0, 100.0, "weight of NCKD (among the non-target classes)"),
        "warmup_epochs": Param(
            20.0, 0.0, 1000.0, "epochs over which the distillation weight rises linearly", whole=True
        ),
    },
    needs_epoch=True,
    min_classes=3,
)


def nontarget_mass(teacher_logits: torch.Tensor, labels: torch.Tensor, temperature: float) -> torch.Tensor:
    """1 − p_t of the teacher at T, per sample, in log space: the weight KD gives NCKD (DKD's β replaces it)."""
    z = teacher_logits / temperature
    target = F.one_hot(labels, z.shape[1]).bool()
    n, c = z.shape
    return (torch.logsumexp(z[~target].view(n, c - 1), dim=1) - torch.logsumexp(z, dim=1)).exp()
