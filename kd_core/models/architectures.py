"""Teacher and student architectures: plain ``nn.Module``s, and a registry of them by name.

Adding an architecture is one entry in ``ARCHITECTURES``.  The CPU fast paths that train these nets faster (with
the very same numbers) live in ``fastpaths.py`` and are applied by the trainer, not here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn


class MLP(nn.Module):
    """Flatten, then Linear-ReLU layers: the digits models."""

    def __init__(self, input_shape: tuple[int, ...], hidden: tuple[int, ...], num_classes: int, dropout: float = 0.0):
        super().__init__()
        sizes = (math.prod(input_shape), *hidden)
        layers: list[nn.Module] = [nn.Flatten()]
        for fan_in, fan_out in zip(sizes, sizes[1:]):
            layers += [nn.Linear(fan_in, fan_out), nn.ReLU()] + ([nn.Dropout(dropout)] if dropout else [])
        layers.append(nn.Linear(sizes[-1], num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ConvNet(nn.Module):
    """conv(3×3, padding 1) → ReLU → max-pool(2) → flatten → linear.

    With 64 channels on 3×32×32 input this is exactly the seed's ``TeacherNet``;
    with 16 channels, its ``StudentNet``.
    """

    def __init__(self, input_shape: tuple[int, ...], channels: int, num_classes: int):
        super().__init__()
        in_channels, height, width = input_shape
        self.conv1 = nn.Conv2d(in_channels, channels, 3, padding=1)
        self.pool = nn.MaxPool2d(2, 2)
        self.fc = nn.Linear(channels * (height // 2) * (width // 2), num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The seed writes pool(relu(conv(x))); relu(pool(conv(x))) is the same function with the same
        # gradients, bit for bit: ReLU is monotonic, so it commutes with a max, and the max-pool routes each
        # window's gradient to the same element (the first maximum) either way; where a window's maximum is
        # ≤ 0 both give it a zero gradient.  ReLU then touches a 4× smaller tensor.
        return self.fc(torch.flatten(F.relu(self.pool(self.conv1(x))), 1))


class SmallCNN(nn.Module):
    """Two conv blocks and a classifier: a stronger teacher for 28×28 and 32×32 images (``dropout`` before its
    last layer when > 0)."""

    def __init__(
        self, input_shape: tuple[int, ...], channels: int, num_classes: int, hidden: int = 128, dropout: float = 0.0
    ):
        super().__init__()
        in_channels, height, width = input_shape
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, channels, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(channels, 2 * channels, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(2 * channels * (height // 4) * (width // 4), hidden),
            nn.ReLU(),
            *([nn.Dropout(dropout)] if dropout else []),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


@dataclass(frozen=True)
class Architecture:
    description: str  # one line, shown in the dashboard and --help
    build: Callable[[tuple[int, ...], int, int], nn.Module]  # (input shape, classes, width) -> a fresh model
    needs_images: bool  # True: input must be (C, H, W) images
    width: int  # hidden units of an MLP's layers, or a CNN's (first) channels: what --student-width changes


ARCHITECTURES: dict[str, Architecture] = {
    "mlp-large": Architecture("MLP 256-256 (digits teacher)", lambda shape, n, w: MLP(shape, (w, w), n), False, 256),
    "mlp-small": Architecture("MLP 16 (digits student)", lambda shape, n, w: MLP(shape, (w,), n), False, 16),
    "mlp-tiny": Architecture("MLP 8", lambda shape, n, w: MLP(shape, (w,), n), False, 8),
    "mlp-wide": Architecture(
        "MLP 256 (a student big enough to learn an unseen class)", lambda shape, n, w: MLP(shape, (w,), n), False, 256
    ),
    "mlp-dropout": Architecture(
        "MLP 1200-1200 with dropout 0.2 (Hinton's MNIST teacher)",
        lambda shape, n, w: MLP(shape, (w, w), n, dropout=0.2),
        False,
        1200,
    ),
    "mlp-800": Architecture(
        "MLP 800-800 (Hinton's MNIST student)", lambda shape, n, w: MLP(shape, (w, w), n), False, 800
    ),
    "cnn-large": Architecture("2 conv blocks 32-64 + FC 128", lambda shape, n, w: SmallCNN(shape, w, n), True, 32),
    "cnn-dropout": Architecture(
        "2 conv blocks 32-64 + FC 256, dropout 0.3 (a CNN in place of Hinton's MNIST teacher)",
        lambda shape, n, w: SmallCNN(shape, w, n, hidden=256, dropout=0.3),
        True,
        32,
    ),
    "cnn-small": Architecture("conv 8 + linear", lambda shape, n, w: ConvNet(shape, w, n), True, 8),
    "seed-teacher": Architecture(
        "the seed's TeacherNet: conv 64 + linear", lambda shape, n, w: ConvNet(shape, w, n), True, 64
    ),
    "seed-student": Architecture(
        "the seed's StudentNet: conv 16 + linear", lambda shape, n, w: ConvNet(shape, w, n), True, 16
    ),
}


def build_model(name: str, input_shape: tuple[int, ...], num_classes: int, width: int | None = None) -> nn.Module:
    """A freshly initialised model (seed torch's RNG first for reproducible weights); ``width``: the
    architecture's own unless given."""
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture '{name}'; choose one of: {', '.join(ARCHITECTURES)}")
    architecture = ARCHITECTURES[name]
    if architecture.needs_images and len(input_shape) != 3:
        raise ValueError(f"architecture '{name}' needs image input (C, H, W), got shape {input_shape}")
    return architecture.build(tuple(input_shape), num_classes, architecture.width if width is None else width)


def count_params(model: nn.Module) -> int:
    """The model's parameters; a model whose weights live outside torch (an ONNX teacher) counts its own."""
    own = getattr(model, "weight_count", None)
    return int(own) if own is not None else sum(p.numel() for p in model.parameters())


def size_bytes(model: nn.Module) -> int:
    """Bytes of the parameters and buffers: what the model costs in memory and on disk (an ONNX teacher: its
    weights' bytes)."""
    own = getattr(model, "weight_bytes", None)
    if own is not None:
        return int(own)
    tensors = list(model.parameters()) + list(model.buffers())
    return sum(t.numel() * t.element_size() for t in tensors)
