"""The distillation methods, side by side: a registry in the style of mdistiller's, one module per method.

    METHODS["dkd"].params           # hyperparameters: defaults (the official code's) and ranges
    normalize_args("dkd", {"beta": "2"}) -> (("beta", 2.0),)      # RunConfig.loss_args: checked, sorted, hashable
    make_loss(config, ...)          # what train.fit is given for a validated config

A new method is one module here and one line in ``METHODS``.  The first three are Hinton's KD and its two teaching
toggles (``KD_VARIANTS``, the sidebar's Loss choices); the trainer is given their ``Method.plain`` loss as it is.
Every method's parts are named: "total" is minimised, the others are reported per step and per epoch.
"""

from __future__ import annotations

from typing import Mapping

import torch

from kd_core.methods.base import Method, MethodError, MethodLoss, Param, warmup
from kd_core.methods.dist import DIST
from kd_core.methods.dkd import DKD, decompose, nontarget_mass
from kd_core.methods.fitnets import FITNETS, FitNetsLoss, check_pair, hint_features
from kd_core.methods.jsd import JSD
from kd_core.methods.logit_kd import KD, KD_MATCHED, KD_NO_T2, LOGIT_STD, SEED_SCRIPT
from kd_core.methods.reverse_kl import REVERSE_KL
from kd_core.models.architectures import ARCHITECTURES, build_model

METHODS: dict[str, Method] = {
    m.name: m for m in (KD, KD_NO_T2, SEED_SCRIPT, DKD, DIST, LOGIT_STD, FITNETS, KD_MATCHED, REVERSE_KL, JSD)
}
# The methods compared on the Methods tab and by benchmarks/measure_methods.py (the toggles are not methods; the
# sequence losses reverse-kl and jsd, written for kd_core.language, apply to the classifiers too but are not
# measured there).
COMPARED = ("kd", "dkd", "dist", "logit-std", "fitnets", "kd-matched")
# Hinton's KD and its two teaching toggles: the sidebar's choice of loss.
KD_VARIANTS = tuple(name for name, m in METHODS.items() if m.plain is not None)

LossArgs = tuple[tuple[str, float], ...]


def method(name: str) -> Method:
    if name not in METHODS:
        raise MethodError(f"unknown loss {name!r}; choose one of: {', '.join(METHODS)}")
    return METHODS[name]


def parse_loss_arg(text: str) -> tuple[str, str]:
    """``"beta=2"`` -> ``("beta", "2")``; MethodError for anything else."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip() or not value.strip():
        raise MethodError(f"a loss argument is KEY=VALUE, got {text!r}")
    return key.strip(), value.strip()


def normalize_args(name: str, args: Mapping[str, object] | tuple | list | None) -> LossArgs:
    """The loss arguments given for method ``name`` (a mapping or (key, value) pairs), checked against its
    hyperparameters and sorted: the canonical form in ``RunConfig.loss_args`` and its run key.  Values equal to the
    default are kept (the user said them), so the key still says what was asked for."""
    pairs = list(args.items()) if isinstance(args, Mapping) else [tuple(pair) for pair in (args or ())]
    keys = [key for key, _ in pairs]
    duplicated = sorted({key for key in keys if keys.count(key) > 1})
    if duplicated:
        raise MethodError(f"loss argument {duplicated[0]!r} given twice")
    given = dict(pairs)
    resolved = method(name).resolved(given)  # raises for unknown keys and bad values
    return tuple(sorted((key, resolved[key]) for key in given))


def check_applies(
    name: str,
    num_classes: int,
    teacher: str | None = None,
    student: str | None = None,
    input_shape: tuple[int, ...] = (),
    width: int | None = None,
) -> None:
    """MethodError where method ``name`` cannot apply: too few classes, or (FitNets, given the architectures'
    names) no regressor between the two hint layers.  The models are built on the meta device: shapes only."""
    m = method(name)
    if num_classes < m.min_classes:
        raise MethodError(f"{name} needs at least {m.min_classes} classes, the dataset has {num_classes}")
    if m.needs_features and teacher in ARCHITECTURES and student in ARCHITECTURES:
        with torch.device("meta"):
            check_pair(
                build_model(teacher, input_shape, num_classes),
                build_model(student, input_shape, num_classes, width),
                input_shape,
            )


def check_batches(name: str, examples: int, batch_size: int) -> None:
    """MethodError if a method that needs pairs would see a batch of one (the last batch of an epoch)."""
    if method(name).needs_pairs and (examples == 1 or examples % batch_size == 1):
        raise MethodError(
            f"{name} needs batches of at least 2, but {examples} examples in batches of {batch_size} "
            "leave a last batch of 1; choose another batch size"
        )


def make_loss(
    name: str,
    loss_args: LossArgs = (),
    teacher_features: torch.Tensor | None = None,
    student_shape: tuple[int, ...] | None = None,
    seed: int = 0,
):
    """The callable ``train.fit`` is given for method ``name``: ``Method.plain`` itself for Hinton's three,
    a ``MethodLoss`` (FitNets: a ``FitNetsLoss``, which needs the teacher's features) for the others."""
    m = method(name)
    if m.plain is not None:
        return m.plain
    if m.needs_features:
        if teacher_features is None or student_shape is None:
            raise MethodError(f"{name} needs the teacher's features and the student's feature shape")
        return FitNetsLoss(m, dict(loss_args), teacher_features, student_shape, seed)
    return MethodLoss(m, dict(loss_args))


__all__ = [
    "COMPARED",
    "METHODS",
    "LossArgs",
    "Method",
    "MethodError",
    "MethodLoss",
    "Param",
    "check_applies",
    "check_batches",
    "decompose",
    "hint_features",
    "make_loss",
    "method",
    "nontarget_mass",
    "normalize_args",
    "parse_loss_arg",
    "warmup",
]
