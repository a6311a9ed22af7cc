"""Datasets: digits in memory, and the torchvision loaders offline through tiny fixtures in the real formats."""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

from kd_core import RunConfig, TeacherCache, run
from kd_core.data.datasets import load_dataset
from kd_core.data.spec import DatasetUnavailable


def test_digits_is_built_in_normalized_and_stratified():
    data = load_dataset("digits")
    assert data.input_shape == (1, 8, 8) and data.num_classes == 10
    assert len(data.y_train) + len(data.y_test) == 1797
    assert len(data.y_test) == pytest.approx(0.2 * 1797, abs=1)
    assert data.x_train.dtype == torch.float32 and data.y_train.dtype == torch.int64
    assert data.x_train.min() >= -1.0 and data.x_train.max() <= 1.0
    train_share = torch.bincount(data.y_train) / len(data.y_train)
    test_share = torch.bincount(data.y_test) / len(data.y_test)
    assert torch.allclose(train_share, test_share, atol=0.01)  # stratified split
    assert load_dataset("digits") is data  # loaded once per process
    image = data.image(0)
    assert image.shape == (8, 8) and 0.0 <= image.min() and image.max() <= 1.0


def test_unknown_dataset_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown dataset 'imagenet'.*digits"):
        load_dataset("imagenet")


def write_idx(path, array: np.ndarray) -> None:
    """The IDX format of MNIST: magic (0x08 = uint8, then the number of dimensions), sizes, raw bytes."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def write_mnist_fixture(root, folder: str = "MNIST", train: int = 60, test: int = 20) -> None:
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, count in (("train", train), ("t10k", test)):
        write_idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (count, 28, 28)))
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", np.arange(count) % 10)


@pytest.mark.parametrize("name, folder", [("mnist", "MNIST"), ("fashion-mnist", "FashionMNIST")])
def test_mnist_format_loads_through_the_real_loader(tmp_path, name, folder):
    write_mnist_fixture(tmp_path, folder)
    data = load_dataset(name, tmp_path)
    assert data.x_train.shape == (60, 1, 28, 28) and data.x_test.shape == (20, 1, 28, 28)
    assert data.y_train.tolist() == [i % 10 for i in range(60)]
    assert abs(data.x_train.mean().item()) < 3  # normalized, not raw bytes
    assert len(data.class_names) == 10


def test_a_whole_run_on_an_mnist_fixture(tmp_path):
    write_mnist_fixture(tmp_path)
    result = run(
        RunConfig(dataset="mnist", data_dir=str(tmp_path), teacher_epochs=1, epochs=1, batch_size=16),
        cache=TeacherCache(tmp_path / "cache"),
    )
    assert result.status == "completed" and result.config.teacher == "cnn-large"
    assert 0.0 <= result.student.accuracy <= 1.0


def write_cifar_fixture(root, per_batch: int = 10, test: int = 10) -> None:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)

    def batch(name: str, count: int) -> None:
        entry = {
            "data": rng.integers(0, 256, (count, 3 * 32 * 32), dtype=np.uint8),
            "labels": list(np.arange(count) % 10),
        }
        (folder / name).write_bytes(pickle.dumps(entry))

    for i in range(1, 6):
        batch(f"data_batch_{i}", per_batch)
    batch("test_batch", test)
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": names}))


def test_cifar10_pickle_format_loads_through_the_real_loader(tmp_path, monkeypatch):
    write_cifar_fixture(tmp_path)
    # The fixture's files cannot match CIFAR-10's md5 sums: bypass only that check.
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "_check_integrity", lambda self: True)
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *args, **kwargs: True)
    data = load_dataset("cifar10", tmp_path)
    assert data.x_train.shape == (50, 3, 32, 32) and data.x_test.shape == (10, 3, 32, 32)
    assert data.class_names[3] == "cat"
    assert data.x_train.min() >= -1.0 and data.x_train.max() <= 1.0  # the seed's (0.5, 0.5) normalization
    assert data.image(0).shape == (32, 32, 3)


def test_missing_dataset_offline_names_the_folder_and_files(tmp_path, monkeypatch):
    def no_network(self, *args, **kwargs):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    monkeypatch.setattr(torchvision.datasets.MNIST, "download", no_network)
    with pytest.raises(DatasetUnavailable) as caught:
        load_dataset("mnist", tmp_path / "empty")
    message = str(caught.value)
    assert "\n" not in message
    assert "mnist" in message and str(tmp_path / "empty") in message and "train-images-idx3-ubyte" in message


REAL_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.mark.realdata
@pytest.mark.skipif(not (REAL_DATA / "MNIST" / "raw").is_dir(), reason="the real MNIST files are not beside this clone")
def test_the_real_mnist_files_load_and_a_short_run_learns_them(tmp_path):
    from kd_core import RunConfig, TeacherCache, load_dataset, run

    dataset = load_dataset("mnist", REAL_DATA)
    assert (len(dataset.y_train), len(dataset.y_test), dataset.input_shape) == (60_000, 10_000, (1, 28, 28))
    assert sorted(dataset.y_train.unique().tolist()) == list(range(10))
    assert abs(float(dataset.x_train.mean())) < 0.01 and abs(float(dataset.x_train.std()) - 1) < 0.01  # normalized
    config = RunConfig(
        dataset="mnist",
        data_dir=str(REAL_DATA),
        teacher="mlp-small",
        student="mlp-tiny",
        teacher_epochs=1,
        epochs=1,
        student_fraction=0.05,
        device="cpu",
    )
    result = run(config, cache=TeacherCache(tmp_path))
    assert result.config.batch_size == 128 and result.config.lr == 1e-3  # MNIST's defaults, from its registry entry
    assert result.teacher.accuracy > 0.85 and result.student.accuracy > 0.5


def test_a_dataset_loaded_by_a_forked_child_is_adopted_equal(tmp_path):
    """kd-sweep has a child load the data while it imports; this process then uses the child's copy, equal to its own
    in every tensor (digits ignores its folder: ``tmp_path`` keeps the adopted copy apart from the usual one)."""
    from kd_core.execution.local_processes import prefetch_dataset

    torch.set_num_threads(1)
    prefetch = prefetch_dataset("digits", str(tmp_path))
    if prefetch is None:
        pytest.skip("this test process has other threads: it does not fork")
    assert prefetch.adopt()
    adopted, here = load_dataset("digits", tmp_path), load_dataset("digits")
    assert adopted is not here and load_dataset("digits", tmp_path) is adopted
    for name in ("x_train", "y_train", "x_test", "y_test"):
        assert torch.equal(getattr(adopted, name), getattr(here, name))
    assert (adopted.class_names, adopted.mean, adopted.std) == (here.class_names, here.mean, here.std)


def test_cifar10_defaults_are_the_seed_nets_sized_for_minutes():
    """The defaults benchmarks/measure_cifar.py times (docs/performance.md): the seed's nets for 40 + 30 epochs,
    Adam 1e-3, batch 128, 2 threads."""
    from kd_core.data.datasets import DATASETS

    spec = DATASETS["cifar10"]
    assert (spec.teacher, spec.student, spec.teacher_epochs, spec.epochs) == ("seed-teacher", "seed-student", 40, 30)
    assert (spec.lr, spec.batch_size, spec.threads) == (1e-3, 128, 2)
