"""Generalised Jensen–Shannon divergence, GKD's loss (Agarwal, Vieillard, Zhou, Stanczyk, Ramos, Geist & Bachem,
"On-Policy Distillation of Language Models: Learning from Self-Generated Mistakes", ICLR 2024, arXiv 2306.13649,
eq. 1), which moves between forward and reverse KL with one number β.

Official code: huggingface/trl, ``trl/trainer/gkd_trainer.py`` at commit a9fa292c2d1df64c6f0189ebe32d37b46ce64438,
``GKDTrainer.generalized_jsd_loss`` (β default 0.5, ``GKDConfig``).  With P the teacher's and Q the student's softmax
at T and the mixture M = β · P + (1 − β) · Q:
    JSD(β) = β · KL(P ‖ M) + (1 − β) · KL(Q ‖ M)             for 0 < β < 1
    JSD(0) = KL(P ‖ Q)   forward KL, Hinton's KD              (TRL's special case)
    JSD(1) = KL(Q ‖ P)   reverse KL, MiniLLM's                (TRL's special case)
Mind the convention: in TRL β is the TEACHER's weight in the mixture, so β = 0 is the forward KL and β = 1 the
reverse.  Between them the divergence itself goes to 0 at both ends (M tends to the distribution weighed), but
divided by its weight it tends to the special cases: JSD(β)/β → KL(P ‖ Q) as β → 0 and JSD(β)/(1 − β) → KL(Q ‖ P)
as β → 1 (tests/test_sequence_losses.py checks both).  log M is a logsumexp of the two log-probabilities, as TRL
computes it, so it stays finite where a probability underflows.

As KD here: total = λ · T² · JSD(β) + (1 − λ) · CE(s, y); at T = 1 and λ = 1 it is TRL's loss with rows as tokens.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from kd_core.methods.base import Method, Param


def generalized_jsd_rows(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, beta: float, temperature: float = 1.0
) -> torch.Tensor:
    """JSD(β) between softmax(t/T) (weight β in the mixture) and softmax(s/T), per row; β = 0 and β = 1 are the
    forward and reverse KL exactly (TRL's convention)."""
    student_log_probs = F.log_softmax(student_logits / temperature, dim=-1)
    teacher_log_probs = F.log_softmax(teacher_logits / temperature, dim=-1)
    # F.kl_div(input=log A, target=log B, log_target=True) is KL(B ‖ A), summed over the last dimension below.
    if beta == 0:
        rows = F.kl_div(student_log_probs, teacher_log_probs, reduction="none", log_target=True)
    elif beta == 1:
        rows = F.kl_div(teacher_log_probs, student_log_probs, reduction="none", log_target=True)
    else:
        mixture_log_probs = torch.logsumexp(
            torch.stack([teacher_log_probs + math.log(beta), student_log_probs + math.log(1 - beta)]), dim=0
        )
        kl_teacher = F.kl_div(mixture_log_probs, teacher_log_probs, reduction="none", log_target=True)
        kl_student = F.kl_div(mixture_log_probs, student_log_probs, reduction="none", log_target=True)
        rows = beta * kl_teacher + (1 - beta) * kl_student
    return rows.sum(dim=-1)


def jsd_parts(student_logits, teacher_logits, labels, temperature, lam, *, epoch, beta):
    """λ · T² · JSD(β) + (1 − λ) · CE; parts ``soft`` (T² · JSD(β)) and ``hard``."""
    soft = generalized_jsd_rows(student_logits, teacher_logits, beta, temperature).mean() * temperature**2
    hard = F.cross_entropy(student_logits, labels) if labels is not None else torch.zeros((), dtype=soft.dtype)
    return {"total": lam * soft + (1.0 - lam) * hard, "soft": soft, "hard": hard}


JSD = Method(
    name="jsd",
    title="generalised JSD",
    description="GKD's generalised Jensen–Shannon divergence: β = 0 is KD's forward KL, β = 1 the reverse KL, "
    "between them a bounded mix of the two.",
    reference="Agarwal et al., On-Policy Distillation of Language Models (GKD), ICLR 2024; huggingface/trl "
    "trl/trainer/gkd_trainer.py (generalized_jsd_loss) @ a9fa292c2d1df64c6f0189ebe32d37b46ce64438",
    parts=jsd_parts,
    params={"beta": Param(0.5, 0.0, 1.0, "the teacher's weight in the mixture: 0 forward KL, 1 reverse KL")},
    uses_lam=True,
)
