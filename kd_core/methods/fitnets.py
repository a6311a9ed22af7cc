"""FitNets hint (Romero, Ballas, Kahou, Chassang, Gatta & Bengio, "FitNets: Hints for Thin Deep Nets", ICLR 2015).

A trainable regressor r maps a hidden layer of the student onto the teacher's, and the student learns
    loss = CE · CE-loss + weight · MSE(r(f_student), f_teacher)
in one stage, as mdistiller does it: megvii-research/mdistiller ``mdistiller/distillers/FitNet.py`` at commit
e8c5bb331e78c9d79a8894ca233caae78531cf7f (CE_WEIGHT 1, FEAT_WEIGHT 100 in ``mdistiller/engine/cfg.py``; its
``ConvReg`` in ``mdistiller/distillers/_common.py``, reproduced here).

Where the features come from — chosen once, here: **forward hooks**, so the models in ``models.py`` stay plain and
the trainer's fast paths (``fastpaths.training_forward`` calls ``ConvNet.fc`` but not ``conv1``) still see every
layer they need.  The hint layer is the last hidden representation before the classifier:
    MLP       the input of its last Linear (the last hidden layer)           a vector: a linear regressor
    ConvNet   the input of ``fc``, unflattened to its pooled conv map        a map: mdistiller's ConvReg
    SmallCNN  the output of ``features`` (its second conv block)            a map: mdistiller's ConvReg
The teacher's features over a student's training view are computed once per run, like its logits
(``pipeline.RunSetup.teacher_features``).
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from kd_core.methods.base import Method, MethodError, MethodLoss, Param
from kd_core.models.architectures import MLP, ConvNet, SmallCNN

Tap = Callable[[torch.Tensor], None]


def hook_hint(model: nn.Module, tap: Tap) -> torch.utils.hooks.RemovableHandle:
    """Call ``tap(features)`` with ``model``'s hint-layer features at every forward pass; returns the handle."""
    if isinstance(model, MLP):
        return model.net[-1].register_forward_pre_hook(lambda module, inputs: tap(inputs[0]))
    if isinstance(model, ConvNet):
        channels = model.conv1.out_channels
        side = math.isqrt(model.fc.in_features // channels)
        if channels * side * side != model.fc.in_features:
            raise MethodError("fitnets: the conv net's pooled map is not square")
        return model.fc.register_forward_pre_hook(lambda module, inputs: tap(inputs[0].view(-1, channels, side, side)))
    if isinstance(model, SmallCNN):
        return model.features.register_forward_hook(lambda module, inputs, output: tap(output))
    raise MethodError(f"fitnets: no hint layer is known for a {type(model).__name__}")


@torch.no_grad()
def hint_features(model: nn.Module, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """``model``'s hint-layer features for every row of ``x``, in eval mode (like ``train.predict_logits``)."""
    found: list[torch.Tensor] = []
    handle = hook_hint(model, lambda f: found.append(f.detach().contiguous()))
    was_training = model.training
    model.eval()
    try:
        for i in range(0, len(x), batch_size):
            model(x[i : i + batch_size])
    finally:
        handle.remove()
        model.train(was_training)
    return torch.cat(found)


class ConvReg(nn.Module):
    """mdistiller's convolutional regressor: a conv that also matches the map's size, then BatchNorm and ReLU."""

    def __init__(self, s_shape: tuple[int, ...], t_shape: tuple[int, ...]):
        super().__init__()
        (s_c, s_h, s_w), (t_c, t_h, t_w) = s_shape, t_shape
        if s_h == 2 * t_h:
            self.conv = nn.Conv2d(s_c, t_c, kernel_size=3, stride=2, padding=1)
        elif s_h * 2 == t_h:
            self.conv = nn.ConvTranspose2d(s_c, t_c, kernel_size=4, stride=2, padding=1)
        elif s_h >= t_h:
            self.conv = nn.Conv2d(s_c, t_c, kernel_size=(1 + s_h - t_h, 1 + s_w - t_w))
        else:
            raise MethodError(
                f"fitnets: the student's {s_h}×{s_w} map cannot be regressed onto the teacher's "
                f"{t_h}×{t_w} (mdistiller's ConvReg needs it the same size, half or twice, or larger)"
            )
        self.bn = nn.BatchNorm2d(t_c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def regressor(student_shape: tuple[int, ...], teacher_shape: tuple[int, ...], seed: int) -> nn.Module:
    """The regressor from one student feature (shape without the batch) to one teacher feature, its weights drawn
    from ``seed`` (PyTorch's default initialisation, from a generator of its own: the global RNG is left alone)."""
    if len(student_shape) != len(teacher_shape) or len(student_shape) not in (1, 3):
        kind = lambda shape: "a vector (an MLP)" if len(shape) == 1 else "a feature map (a CNN)"  # noqa: E731
        raise MethodError(
            f"fitnets: the student's hint layer is {kind(student_shape)} and the teacher's "
            f"{kind(teacher_shape)}; no regressor maps one onto the other (use two MLPs or two CNNs)"
        )
    module = (
        nn.Linear(student_shape[0], teacher_shape[0])
        if len(student_shape) == 1
        else ConvReg(student_shape, teacher_shape)
    )
    generator = torch.Generator().manual_seed(seed)
    for layer in module.modules():
        if isinstance(layer, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):  # as their reset_parameters() does
            nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
            fan_in, _ = nn.init._calculate_fan_in_and_fan_out(layer.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
    return module


def check_pair(teacher: nn.Module, student: nn.Module, input_shape: tuple[int, ...]) -> None:
    """MethodError unless a regressor can map ``student``'s hint layer onto ``teacher``'s (one dummy forward each)."""
    x = torch.zeros(2, *input_shape)
    shapes = [tuple(hint_features(model, x).shape[1:]) for model in (student, teacher)]
    regressor(shapes[0], shapes[1], 0)


def fitnets_parts(
    student_logits, teacher_logits, labels, temperature, lam, *, epoch, ce, weight, hint: torch.Tensor | None = None
):
    """Parts ``hard`` and ``hint`` (the MSE of the regressed student features against the teacher's)."""
    if hint is None:
        raise MethodError("fitnets needs hidden features: train it through kd_core.runs.pipeline (FitNetsLoss)")
    hard = F.cross_entropy(student_logits, labels)
    return {"total": ce * hard + weight * hint, "hard": hard, "hint": hint}


class FitNetsLoss(MethodLoss):
    """FitNets as ``train.fit`` calls it: a hook on the student's hint layer, the regressor trained with it, and the
    teacher's precomputed features picked by the batch's rows."""

    def __init__(
        self,
        method: Method,
        args: dict[str, float],
        teacher_features: torch.Tensor,
        student_shape: tuple[int, ...],
        seed: int,
    ):
        super().__init__(method, args)
        self.teacher_features = teacher_features
        self.regressor = regressor(student_shape, tuple(teacher_features.shape[1:]), seed).to(teacher_features.device)
        self.trainable = list(self.regressor.parameters())
        self._handle, self._student_features = None, None

    def attach(self, model: nn.Module) -> None:
        self._handle = hook_hint(model, self._keep)

    def _keep(self, features: torch.Tensor) -> None:
        if features.requires_grad:  # a training step's, not an evaluation's
            self._student_features = features

    def detach(self) -> None:
        if self._handle is not None:
            self._handle.remove()
        self._handle, self._student_features = None, None

    def __call__(self, student_logits, teacher_logits, labels, temperature, lam) -> dict[str, torch.Tensor]:
        if self._student_features is None or self.batch is None:
            raise MethodError("fitnets: no student features were seen; attach() the loss to the student first")
        target = self.teacher_features.index_select(0, self.batch)
        hint = F.mse_loss(self.regressor(self._student_features), target)
        self._student_features = None  # each step's own
        return self.method.parts(
            student_logits, teacher_logits, labels, temperature, lam, epoch=self.epoch, hint=hint, **self.args
        )


FITNETS = Method(
    name="fitnets",
    title="FitNets hint",
    description="A trainable regressor maps the student's last hidden layer onto the teacher's, and the student "
    "learns to make the two match (mean squared error) beside the labels.",
    reference="Romero et al., FitNets: Hints for Thin Deep Nets, ICLR 2015; megvii-research/mdistiller "
    "mdistiller/distillers/FitNet.py @ e8c5bb331e78c9d79a8894ca233caae78531cf7f",
    parts=fitnets_parts,
    params={
        "ce": Param(1.0, 0.0, 100.0, "weight of the cross-entropy with the labels"),
        "weight": Param(100.0, 0.0, 1000.0, "weight of the hint's mean squared error"),
    },
    needs_features=True,
)
