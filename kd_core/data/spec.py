"""What a dataset is to the engine: its tensors in memory (``Dataset``), how it is registered (``DatasetSpec``), and
the error a missing one raises.  The built-in datasets are in datasets.py, data of one's own in custom.py."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch


class DatasetUnavailable(RuntimeError):
    """A dataset that is neither on disk nor downloadable; the message is one line for the user."""


@dataclass(frozen=True)
class Dataset:
    name: str
    x_train: torch.Tensor  # float32, (N, C, H, W), normalized
    y_train: torch.Tensor  # int64, (N,)
    x_test: torch.Tensor
    y_test: torch.Tensor
    class_names: tuple[str, ...]
    mean: tuple[float, ...]  # per channel, to undo the normalization for display
    std: tuple[float, ...]

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def image(self, index: int, split: str = "test") -> np.ndarray:
        """Test (or train) image ``index`` as an (H, W) or (H, W, 3) array in [0, 1], for display."""
        x = (self.x_test if split == "test" else self.x_train)[index]
        mean = torch.tensor(self.mean).view(-1, 1, 1)
        std = torch.tensor(self.std).view(-1, 1, 1)
        pixels = (x * std + mean).clamp(0, 1)
        return pixels[0].numpy() if pixels.shape[0] == 1 else pixels.permute(1, 2, 0).numpy()


@dataclass(frozen=True)
class DatasetSpec:
    """One registered dataset: how to load it, what it holds, and the models and epochs a run uses by default."""

    description: str
    load: Callable[[Path], Dataset]  # (data folder) -> Dataset; raises DatasetUnavailable
    input_shape: tuple[int, ...]
    num_classes: int
    teacher: str  # default architectures (models.ARCHITECTURES)
    student: str
    teacher_epochs: int
    epochs: int  # the students'
    lr: float = 1e-2  # Adam's step size
    batch_size: int = 64
    schedule: str = "constant"  # the learning rate over each phase (config.SCHEDULES)
    threads: int = 1  # kd-train's default --threads: results are bit-identical for a fixed thread count only
