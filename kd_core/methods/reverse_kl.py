"""Reverse KL: the student's distribution is the one that weighs the divergence, KL(student ‖ teacher).

MiniLLM (Gu, Dong, Wei & Huang, "MiniLLM: Knowledge Distillation of Large Language Models", ICLR 2024, arXiv
2306.08543) replaces KD's forward KL(teacher ‖ student) with the reverse KL(student ‖ teacher): a small student
that cannot cover every mode of its teacher puts its probability where the teacher's is high (mode-seeking)
instead of spreading it over every place the teacher has some (mode-covering, kd_core/language/modes.py draws it).
MiniLLM optimises the sequence-level reverse KL by policy gradient; its per-token term is the one here.

Official code: microsoft/LMOps, ``minillm/minillm/losses.py`` at commit 7b14befcfabd699129d5223500c47742f31b4d88,
``Loss._reg_loss``: the single-step term ``xent − s_ent`` = −Σ q log p + Σ q log q = KL(q ‖ p) per token, q the
student's and p the teacher's softmax (at MiniLLM's temperature).  The same per-token loss is ``reverse_kl`` in
jongwooko/distillm, ``distillm/losses.py`` at commit 17c0f98bc263b1861a02d5df578c84aea652ee65.

Here, as KD (kd_core/methods/losses.py) does, at the run's temperature T and weighted λ · T² beside (1 − λ) ·
cross-entropy with the labels, so the two losses differ only in the direction of the KL:
    total = λ · T² · KL(softmax(s/T) ‖ softmax(t/T)) + (1 − λ) · CE(s, y)
At T = 1 and λ = 1 it is MiniLLM's per-token term exactly.  Rows are samples (images) or positions of a sequence
(flattened), summed over classes and averaged over rows.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from kd_core.methods.base import Method


def reverse_kl_rows(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL(softmax(s/T) ‖ softmax(t/T)) per row, from log-probabilities (exact where a probability underflows)."""
    student_log_probs = F.log_softmax(student_logits / temperature, dim=-1)
    teacher_log_probs = F.log_softmax(teacher_logits / temperature, dim=-1)
    # F.kl_div(input, target) is KL(target ‖ input): the student's log-probabilities are the target here.
    return F.kl_div(teacher_log_probs, student_log_probs, reduction="none", log_target=True).sum(dim=-1)


def reverse_kl_parts(student_logits, teacher_logits, labels, temperature, lam, *, epoch):
    """λ · T² · KL(student_T ‖ teacher_T) + (1 − λ) · CE; parts ``soft`` (T² · reverse KL) and ``hard``."""
    soft = reverse_kl_rows(student_logits, teacher_logits, temperature).mean() * temperature**2
    hard = F.cross_entropy(student_logits, labels) if labels is not None else torch.zeros((), dtype=soft.dtype)
    return {"total": lam * soft + (1.0 - lam) * hard, "soft": soft, "hard": hard}


REVERSE_KL = Method(
    name="reverse-kl",
    title="reverse KL",
    description="KD with the KL turned round, KL(student ‖ teacher): the student seeks the teacher's main mode "
    "instead of covering all of them.",
    reference="Gu et al., MiniLLM: Knowledge Distillation of Large Language Models, ICLR 2024; microsoft/LMOps "
    "minillm/minillm/losses.py (_reg_loss) @ 7b14befcfabd699129d5223500c47742f31b4d88",
    parts=reverse_kl_parts,
    uses_lam=True,
)
