"""The paper's post-hoc fix for a class the student never saw: add a constant to that class's logit — or, for
the transfer set of only 7s and 8s, to every class the student never saw (the paper lowers the 7 and 8 biases
instead, which moves the same argmax).

Pure functions of logits and labels.  ``choose_bias`` picks the constant on a validation split (data the
students never trained on) and reports what it does on the test set; choosing it on the test set would
flatter the result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

BIASES = tuple(float(b) for b in np.arange(0.0, 15.001, 0.25))  # the grid a bias is chosen from


Classes = int | Sequence[int]  # the class, or classes, whose logits the bias raises


@dataclass(frozen=True)
class BiasPoint:
    """The student's accuracy after adding ``bias`` to the raised classes' logits (fractions); ``class_accuracy``
    over the examples of those classes."""

    bias: float
    class_accuracy: float
    overall_accuracy: float
    per_class_accuracy: list[float]


def bias_correction(logits: torch.Tensor, labels: torch.Tensor, cls: Classes, bias: float) -> BiasPoint:
    """Add ``bias`` to class ``cls``'s logit (or those of every class in it) and re-evaluate (the paper's
    post-hoc fix; instant)."""
    return bias_curve(logits, labels, cls, [bias])[0]


def bias_curve(logits: torch.Tensor, labels: torch.Tensor, cls: Classes, biases: Sequence[float]) -> list[BiasPoint]:
    """``bias_correction`` for every bias in ``biases``, vectorised."""
    logits = torch.as_tensor(logits, dtype=torch.float32).cpu()
    labels = torch.as_tensor(labels).cpu()
    num_classes = logits.shape[1]
    raised = [cls] if isinstance(cls, int) else list(cls)
    if not raised or not all(0 <= c < num_classes for c in raised):
        raise ValueError(f"classes must be between 0 and {num_classes - 1}, got {cls}")
    shift = torch.zeros(len(biases), 1, num_classes)
    shift[:, 0, raised] = torch.as_tensor([float(b) for b in biases]).unsqueeze(1)
    correct = ((logits.unsqueeze(0) + shift).argmax(dim=2) == labels.unsqueeze(0)).float()  # (B, N)
    in_raised = torch.isin(labels, torch.as_tensor(raised))
    out = []
    for i, bias in enumerate(biases):
        per_class = [
            correct[i, labels == c].mean().item() if (labels == c).any() else math.nan for c in range(num_classes)
        ]
        on_raised = correct[i, in_raised].mean().item() if in_raised.any() else math.nan
        out.append(BiasPoint(float(bias), on_raised, correct[i].mean().item(), per_class))
    return out


def best_bias(curve: list[BiasPoint]) -> BiasPoint:
    """The point of a ``bias_curve`` with the highest overall accuracy (the smallest such bias on ties).

    Chosen on whatever data the curve was computed on: on the test set it is a demonstration only.
    """
    return max(curve, key=lambda point: (point.overall_accuracy, -point.bias))


@dataclass(frozen=True)
class BiasCorrection:
    """The bias chosen on the validation split, and the student's test accuracy with it (fractions)."""

    bias: float
    class_accuracy: float
    overall_accuracy: float

    def to_dict(self) -> dict:
        return {"bias": self.bias, "class_accuracy": self.class_accuracy, "overall_accuracy": self.overall_accuracy}


def choose_bias(
    validation_logits: torch.Tensor,
    validation_labels: torch.Tensor,
    test_logits: torch.Tensor,
    test_labels: torch.Tensor,
    cls: Classes,
    biases: Sequence[float] = BIASES,
) -> BiasCorrection:
    """The bias with the best overall accuracy on the validation split, applied to the test set."""
    best = best_bias(bias_curve(validation_logits, validation_labels, cls, biases))
    on_test = bias_correction(test_logits, test_labels, cls, best.bias)
    return BiasCorrection(best.bias, on_test.class_accuracy, on_test.overall_accuracy)
