"""Datasets, loaded once into memory as normalized float tensors, and a registry of them by name.

``digits`` (the default) is scikit-learn's bundled 8×8 handwritten digits: offline, 1,797 images.
``mnist``, ``fashion-mnist`` and ``cifar10`` come through torchvision from a data folder,
downloaded on first use.  Everything is a tensor in RAM: no DataLoader, no per-sample transforms.
Adding a dataset is one entry in ``DATASETS``.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import torch

from kd_core.data.custom import is_custom
from kd_core.data.custom import load as load_custom
from kd_core.data.custom import resolve as resolve_custom
from kd_core.data.spec import Dataset, DatasetSpec, DatasetUnavailable
from kd_core.files import one_line

DATA_DIR_HINT = (
    "or pass --data-dir"  # the command line's way to another folder; the page says its own (dashboard/jobs/runner.py)
)


def default_data_dir() -> Path:
    """``$KD_DATA_DIR``, else a per-user cache folder."""
    if os.environ.get("KD_DATA_DIR"):
        return Path(os.environ["KD_DATA_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "kd-dashboard" / "data"


def _normalize(x: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    mean_t = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
    return ((x - mean_t) / std_t).contiguous()


def _load_digits() -> Dataset:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    images = bunch.images.astype(np.float32) / 16.0  # pixel values are 0..16
    labels = bunch.target.astype(np.int64)
    # A fixed, stratified 80/20 split: the same for every run and every seed.
    x_tr, x_te, y_tr, y_te = train_test_split(images, labels, test_size=0.2, stratify=labels, random_state=0)
    mean, std = (0.5,), (0.5,)
    return Dataset(
        name="digits",
        x_train=_normalize(torch.from_numpy(x_tr).unsqueeze(1), mean, std),
        y_train=torch.from_numpy(y_tr),
        x_test=_normalize(torch.from_numpy(x_te).unsqueeze(1), mean, std),
        y_test=torch.from_numpy(y_te),
        class_names=tuple(str(i) for i in range(10)),
        mean=mean,
        std=std,
    )


def _torchvision_split(name: str, tv_class: str, files: str, root: Path, train: bool):
    """One split of torchvision's dataset class ``tv_class``: from disk if there, else downloaded, else
    DatasetUnavailable."""
    import torchvision

    cls = getattr(torchvision.datasets, tv_class)
    try:
        return cls(root=str(root), train=train, download=False)
    except RuntimeError:
        pass  # not on disk (or corrupt): try to download
    try:
        return cls(root=str(root), train=train, download=True)
    except Exception as error:  # no internet, a mirror down, a partial file...
        reason = one_line(error)
        raise DatasetUnavailable(
            f"dataset '{name}' is not in {root} and could not be downloaded ({reason}); "
            f"put its files there as {root}/{files}, {DATA_DIR_HINT}"
        ) from None


def _torchvision_loader(name: str, tv_class: str, mean: tuple[float, ...], std: tuple[float, ...], files: str):
    """A ``DatasetSpec.load`` for a torchvision dataset, normalized with the given per-channel statistics."""

    def load(root: Path) -> Dataset:
        train, test = (_torchvision_split(name, tv_class, files, root, split) for split in (True, False))

        def as_tensor(split) -> tuple[torch.Tensor, torch.Tensor]:
            data = torch.as_tensor(np.asarray(split.data))
            x = data.unsqueeze(1) if data.ndim == 3 else data.permute(0, 3, 1, 2)  # CIFAR is N×H×W×C
            return x.float().div_(255.0), torch.as_tensor(np.asarray(split.targets), dtype=torch.int64)

        (x_tr, y_tr), (x_te, y_te) = as_tensor(train), as_tensor(test)
        return Dataset(
            name=name,
            x_train=_normalize(x_tr, mean, std),
            y_train=y_tr,
            x_test=_normalize(x_te, mean, std),
            y_test=y_te,
            class_names=tuple(str(c) for c in train.classes),
            mean=mean,
            std=std,
        )

    return load


_MNIST_FILES = "{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]"
_CIFAR_FILES = "cifar-10-batches-py/ (data_batch_1..5, test_batch, batches.meta; from cifar-10-python.tar.gz)"


class DatasetRegistry(dict):
    """The built-in datasets by name; a name of data of one's own (``folder:PATH``, ``csv:PATH``) is looked up too,
    through kd_core.data.custom, so every ``DATASETS[config.dataset]`` works for it, while iterating lists only the
    built-in ones."""

    def __missing__(self, name: str) -> DatasetSpec:
        if not is_custom(name):
            raise KeyError(name)
        return resolve_custom(name)[1]

    def __contains__(self, name: object) -> bool:
        return super().__contains__(name) or is_custom(name)

    def get(self, name, default=None):
        try:
            return self[name]
        except (KeyError, ValueError):
            return default


DATASETS: dict[str, DatasetSpec] = DatasetRegistry(
    {
        "digits": DatasetSpec(
            "scikit-learn's 8×8 handwritten digits (built in, no download)",
            lambda root: _load_digits(),
            (1, 8, 8),
            10,
            "mlp-large",
            "mlp-small",
            30,
            20,
        ),
        "mnist": DatasetSpec(
            "MNIST 28×28 handwritten digits (torchvision, ~12 MB download)",
            _torchvision_loader("mnist", "MNIST", (0.1307,), (0.3081,), "MNIST/raw/" + _MNIST_FILES),
            (1, 28, 28),
            10,
            "cnn-large",
            "cnn-small",
            5,
            4,
            lr=1e-3,
            batch_size=128,
            threads=2,
            schedule="cosine",
        ),  # at a constant 1e-3, seeds' teachers end between 98.8 and 99.1 %
        "fashion-mnist": DatasetSpec(
            "Fashion-MNIST 28×28 clothing images (torchvision, ~30 MB download)",
            _torchvision_loader(
                "fashion-mnist", "FashionMNIST", (0.2860,), (0.3530,), "FashionMNIST/raw/" + _MNIST_FILES
            ),
            (1, 28, 28),
            10,
            "cnn-large",
            "cnn-small",
            5,
            4,
            lr=1e-3,
            batch_size=128,
            threads=2,
        ),
        "cifar10": DatasetSpec(
            "CIFAR-10 32×32 colour images (torchvision, ~170 MB download)",  # normalized as in the seed
            _torchvision_loader("cifar10", "CIFAR10", (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), _CIFAR_FILES),
            (3, 32, 32),
            10,
            "seed-teacher",
            "seed-student",
            40,
            30,
            lr=1e-3,
            batch_size=128,
            threads=2,
        ),
    }
)


# A file each dataset's loader reads, relative to the data folder: whether it is there says, without loading or
# downloading anything, whether the dataset is on disk (the page marks the lessons that need absent files).
_FIRST_FILE = {
    "mnist": "MNIST/raw/train-images-idx3-ubyte",
    "fashion-mnist": "FashionMNIST/raw/train-images-idx3-ubyte",
    "cifar10": "cifar-10-batches-py/data_batch_1",
}


def on_disk(name: str, data_dir: str | os.PathLike | None = None) -> bool:
    """Whether dataset ``name``'s files are in the data folder (digits is built in); a quick look, not a load."""
    if name not in _FIRST_FILE:
        return True
    path = (Path(data_dir) if data_dir is not None else default_data_dir()).expanduser() / _FIRST_FILE[name]
    return path.is_file() or path.with_name(path.name + ".gz").is_file()


def files_needed(name: str, data_dir: str | os.PathLike | None = None) -> str:
    """Where dataset ``name``'s files go, in words: the folder and what it must hold."""
    root = (Path(data_dir) if data_dir is not None else default_data_dir()).expanduser()
    files = {
        "mnist": "MNIST/raw/" + _MNIST_FILES,
        "fashion-mnist": "FashionMNIST/raw/" + _MNIST_FILES,
        "cifar10": _CIFAR_FILES,
    }
    return f"{root}/{files[name]}" if name in files else ""


@functools.lru_cache(maxsize=4)
def _load_cached(name: str, data_dir: str) -> Dataset:
    return DATASETS[name].load(Path(data_dir))


_ADOPTED: dict[tuple[str, str], Dataset] = {}  # (name, data folder) -> a copy another process loaded


def _key(name: str, data_dir: str | os.PathLike | None) -> tuple[str, str]:
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    return name, str(root.expanduser().resolve())


def load_dataset(name: str = "digits", data_dir: str | os.PathLike | None = None) -> Dataset:
    """The named dataset, loaded once per process and kept in memory."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset '{name}'; choose one of: {', '.join(DATASETS)}")
    key = _key(name, data_dir)
    if key in _ADOPTED:
        return _ADOPTED[key]
    if not dict.__contains__(DATASETS, name):  # data of one's own: custom.py keeps its own loads, by content hash
        return load_custom(name).dataset
    return _load_cached(*key)


def adopt_dataset(dataset: Dataset, data_dir: str | os.PathLike | None = None) -> None:
    """From now on, ``load_dataset(dataset.name, data_dir)`` in this process returns ``dataset``: a copy another
    process loaded (kd_core.execution.local_processes.prefetch_dataset), so this one neither imports its loader's
    libraries nor loads it again."""
    _ADOPTED[_key(dataset.name, data_dir)] = dataset


def holdout_indices(labels: torch.Tensor, holdout: float) -> torch.Tensor:
    """A fixed, class-stratified share of the training set that students never train on: a validation split
    (the same for every seed, as the test split is).  Empty for ``holdout == 0``."""
    if holdout <= 0:
        return torch.zeros(0, dtype=torch.int64)
    generator = torch.Generator().manual_seed(2**31 - 1)
    held = []
    for cls in labels.unique().tolist():
        members = (labels == cls).nonzero().flatten()
        held.append(members[torch.randperm(len(members), generator=generator)[: round(holdout * len(members))]])
    return torch.cat(held).sort().values


def student_indices(
    labels: torch.Tensor,
    fraction: float = 1.0,
    omit_class: int | None = None,
    seed: int = 0,
    holdout: float = 0.0,
    keep_classes: tuple[int, ...] | None = None,
) -> torch.Tensor:
    """Indices of the training examples the student may see.

    ``fraction``: a seeded, class-stratified share of the training set (Hinton's "little data").
    ``omit_class``: drop every example of that class (Hinton's "a class the student never sees").
    ``keep_classes``: drop every example of the other classes (the paper's transfer set of only 7s and 8s).
    ``holdout``: first set aside ``holdout_indices`` (a validation split), then sample from the rest.
    The teacher always trains on everything.
    """
    generator = torch.Generator().manual_seed(seed)
    held = holdout_indices(labels, holdout)
    keep = []
    for cls in labels.unique().tolist():
        if cls == omit_class:
            continue
        if keep_classes is not None and cls not in keep_classes:
            continue
        members = (labels == cls).nonzero().flatten()
        if len(held):
            members = members[~torch.isin(members, held)]
        count = max(1, round(fraction * len(members)))  # at least one example of each kept class
        keep.append(members[torch.randperm(len(members), generator=generator)[:count]])
    return torch.cat(keep).sort().values
