"""The data kd-bench times on, in both forms: the engine's normalized tensors and the seed's per-sample datasets.

CIFAR-10 is the real one when its files are on disk, else random CIFAR-10-shaped images with random labels (only
timings matter here); digits is kd_core's built-in dataset, turned back into the uint8 images the seed would decode.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from kd_core.data.datasets import default_data_dir, load_dataset
from kd_core.data.spec import Dataset

from . import seed_reference as seed


def _as_uint8_images(x: torch.Tensor, mean, std) -> np.ndarray:
    """Normalized (N, C, H, W) floats back to the uint8 (N, H, W[, C]) images a torchvision dataset holds."""
    m = torch.tensor(mean).view(1, -1, 1, 1)
    s = torch.tensor(std).view(1, -1, 1, 1)
    pixels = (x * s + m).mul_(255).round_().clamp_(0, 255).to(torch.uint8)
    pixels = pixels[:, 0] if pixels.shape[1] == 1 else pixels.permute(0, 2, 3, 1)
    return pixels.contiguous().numpy()


def random_cifar(train: int = 50_000, test: int = 10_000, seed: int = 0) -> tuple[Dataset, tuple, tuple]:
    """CIFAR-10-shaped random images and labels: the engine's tensors and the seed's uint8 arrays."""
    rng = np.random.default_rng(seed)
    arrays = []
    for count in (train, test):
        images = rng.integers(0, 256, size=(count, 32, 32, 3), dtype=np.uint8)
        arrays.append((images, rng.integers(0, 10, size=count)))

    def tensors(images, labels):
        x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255.0)
        return x.sub_(0.5).div_(0.5).contiguous(), torch.from_numpy(labels).long()

    (x_tr, y_tr), (x_te, y_te) = tensors(*arrays[0]), tensors(*arrays[1])
    dataset = Dataset("cifar10", x_tr, y_tr, x_te, y_te, tuple(str(i) for i in range(10)), (0.5,) * 3, (0.5,) * 3)
    return dataset, arrays[0], arrays[1]


def cifar_data(data_dir: str | None, size: tuple[int, int]):
    """(engine Dataset, seed train set, seed test set, "real" | "random")."""
    root = Path(data_dir) if data_dir else default_data_dir()
    if (root / "cifar-10-batches-py" / "data_batch_1").exists():
        import torchvision

        dataset = load_dataset("cifar10", root)
        make = lambda train: torchvision.datasets.CIFAR10(
            str(root), train=train, download=False, transform=seed.seed_transform()
        )
        return dataset, make(True), make(False), "real CIFAR-10"
    dataset, train, test = random_cifar(*size)
    transform = seed.seed_transform()
    return (
        dataset,
        seed.ImageDataset(*train, transform=transform),
        seed.ImageDataset(*test, transform=transform),
        f"random CIFAR-10-shaped ({size[0]:,} + {size[1]:,} images)",
    )


def digits_data():
    dataset = load_dataset("digits")
    transform = seed.seed_transform(channels=1)
    as_seed = lambda x, y: seed.ImageDataset(_as_uint8_images(x, dataset.mean, dataset.std), y.tolist(), transform)
    return (
        dataset,
        as_seed(dataset.x_train, dataset.y_train),
        as_seed(dataset.x_test, dataset.y_test),
        "digits (1,437 + 360)",
    )
