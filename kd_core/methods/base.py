"""What every distillation method in the registry shares: its hyperparameters, its metadata, and the loss object
the trainer calls.

A method's maths is a pure function ``parts(student_logits, teacher_logits, labels, temperature, lam, *, epoch,
**hyperparameters) -> {"total": ..., part: ...}``: "total" is minimised, every other part is reported.  The run's
temperature T is every logit method's temperature (so methods compare at the same T, and a T sweep moves them all);
λ is used only by the methods that say so (``uses_lam``); everything else is a hyperparameter with the official
code's default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn


class MethodError(ValueError):
    """A method that cannot apply to these settings or inputs; the message is one line in plain words."""


@dataclass(frozen=True)
class Param:
    """One hyperparameter: its default (the official code's) and the closed range allowed."""

    default: float
    low: float
    high: float
    help: str
    whole: bool = False  # a whole number (epochs)

    def check(self, method: str, key: str, value) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise MethodError(f"{method}: {key} must be a number, got {value!r}") from None
        if not (math.isfinite(number) and self.low <= number <= self.high):
            raise MethodError(f"{method}: {key} must be between {self.low:g} and {self.high:g}, got {value!r}")
        if self.whole and number != int(number):
            raise MethodError(f"{method}: {key} must be a whole number, got {value!r}")
        return number


PartsFn = Callable[..., dict[str, torch.Tensor]]


@dataclass(frozen=True)
class Method:
    """A distillation method: its loss parts and what it needs."""

    name: str
    title: str  # short, for tables and the page
    description: str  # one sentence
    reference: str  # the paper, and the official code's file and commit
    parts: PartsFn
    params: dict[str, Param] = field(default_factory=dict)
    uses_lam: bool = False  # λ splits its loss between the teacher and the labels
    needs_features: bool = False  # a hidden layer of each model (FitNets)
    needs_epoch: bool = False  # a warm-up over the first epochs
    needs_pairs: bool = False  # a batch of at least 2 (a term computed across the batch)
    min_classes: int = 2
    # A plain loss the trainer is given as it is, when the method has no hyperparameters and no per-step state:
    # Hinton's KD and its two toggles, whose numbers so stay bit for bit those of the recorded runs.
    plain: Callable[..., dict[str, torch.Tensor]] | None = None

    def resolved(self, args: dict[str, float] | None = None) -> dict[str, float]:
        """Every hyperparameter's value: the defaults, with ``args`` (checked) on top."""
        args = dict(args or {})
        unknown = sorted(set(args) - set(self.params))
        if unknown:
            known = ", ".join(self.params) or "none"
            raise MethodError(f"{self.name} has no hyperparameter {unknown[0]!r}; it has: {known}")
        return {key: param.check(self.name, key, args.get(key, param.default)) for key, param in self.params.items()}


class MethodLoss:
    """A method bound to its hyperparameters: the callable ``train.fit`` is given.

    ``fit`` tells it the epoch and the batch's rows before each step (``on_step``), and trains ``trainable`` (a
    FitNets regressor) along with the student.  ``attach``/``detach`` (around training) put and remove any hooks.
    """

    def __init__(self, method: Method, args: dict[str, float]):
        self.method, self.args = method, method.resolved(args)
        self.epoch, self.batch = 1, None
        self.trainable: list[nn.Parameter] = []

    def on_step(self, epoch: int, batch: torch.Tensor) -> None:
        self.epoch, self.batch = epoch, batch

    def attach(self, model: nn.Module) -> None:
        """Nothing to attach for a logit method."""

    def detach(self) -> None:
        """Nothing to remove for a logit method."""

    def __call__(self, student_logits, teacher_logits, labels, temperature, lam) -> dict[str, torch.Tensor]:
        return self.method.parts(
            student_logits, teacher_logits, labels, temperature, lam, epoch=self.epoch, **self.args
        )


def warmup(epoch: int, epochs: float) -> float:
    """mdistiller's linear warm-up, min(epoch / WARMUP, 1), with epochs counted from 1; 0 epochs: none."""
    return 1.0 if epochs <= 0 else min(epoch / epochs, 1.0)
