"""DIST (Huang, You, Wang, Qian & Xu, "Knowledge Distillation from A Stronger Teacher", NeurIPS 2022).

Official code: hunto/image_classification_sota, ``lib/models/losses/dist_kd.py`` at commit
d9662f7df68fe46b973c4580b7c9b896cedcd301; its CIFAR recipe ``configs/strategies/distill/dist_cifar.yaml``
(repository commit 6f7a70a1dd57fd88413d83909d3d53243068f701): ``dist_t4`` (β 1, γ 1, τ 4), CE weight 1, KD weight 2.

With Y = softmax(z / τ):
    inter = 1 − mean over samples of Pearson(Y_s[i, :], Y_t[i, :])    (each sample's ranking of the classes)
    intra = 1 − mean over classes of Pearson(Y_s[:, j], Y_t[:, j])    (each class's ranking of the batch)
    loss  = CE · CE-loss + weight · τ² · (β · inter + γ · intra)
Pearson is the official cosine of the centred vectors with eps 1e-8 in the denominator.  Matching correlations
instead of probabilities lets a weak student follow a much stronger teacher's relations without its exact values.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from kd_core.methods.base import Method, MethodError, Param


def pearson_rows(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Pearson correlation of each row of ``a`` with the same row of ``b`` (the official formula)."""
    a = a - a.mean(dim=1, keepdim=True)
    b = b - b.mean(dim=1, keepdim=True)
    return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1) + eps)


def dist_parts(student_logits, teacher_logits, labels, temperature, lam, *, epoch, ce, weight, beta, gamma):
    """Parts ``hard``, ``inter`` and ``intra`` (each τ²-scaled, before β and γ)."""
    if gamma != 0 and len(student_logits) < 2:
        raise MethodError(
            "dist: the class term (γ) correlates each class across the batch and needs a batch of at least 2; got 1"
        )
    y_s = F.softmax(student_logits / temperature, dim=1)
    y_t = F.softmax(teacher_logits / temperature, dim=1)
    inter = (1 - pearson_rows(y_s, y_t).mean()) * temperature**2
    intra = (1 - pearson_rows(y_s.T, y_t.T).mean()) * temperature**2
    hard = F.cross_entropy(student_logits, labels)
    return {"total": ce * hard + weight * (beta * inter + gamma * intra), "hard": hard, "inter": inter, "intra": intra}


DIST = Method(
    name="dist",
    title="DIST",
    description="Matches the Pearson correlation of student and teacher probabilities within each sample and each "
    "class, not their values, so a small student can follow a much stronger teacher.",
    reference="Huang et al., Knowledge Distillation from A Stronger Teacher, NeurIPS 2022; hunto/"
    "image_classification_sota lib/models/losses/dist_kd.py @ d9662f7df68fe46b973c4580b7c9b896cedcd301",
    parts=dist_parts,
    params={
        "ce": Param(1.0, 0.0, 100.0, "weight of the cross-entropy with the labels"),
        "weight": Param(2.0, 0.0, 100.0, "weight of the DIST term (the CIFAR recipe's kd_loss_weight)"),
        "beta": Param(1.0, 0.0, 100.0, "weight of the per-sample (inter-class) term"),
        "gamma": Param(1.0, 0.0, 100.0, "weight of the per-class (intra-class) term; needs batches of 2 or more"),
    },
    needs_pairs=True,
)
