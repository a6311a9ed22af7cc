"""A run's models shipped: each as an FP32 and an int8 ONNX file in one folder, and what each file measures.

    deployment = ship(result, "out/")             # teacher-fp32.onnx, teacher-int8.onnx, student-…, baseline-…
    deployment.get("student", "int8").accuracy   # measured on the whole test set through onnxruntime
    deployments = ship_seeds(seeds_result, "out/")  # one subfolder per seed: out/seed-0/, out/seed-1/, …
    summarize(deployments)                        # each figure's mean and 95 % interval over the seeds

Files: ``{model}-{format}.onnx`` with model ``teacher``, ``student`` (the KD student) or ``baseline`` (the scratch
student) and format ``fp32`` or ``int8`` (kd_core.deploy.quantize says which int8 scheme each model gets).  Each
file stands alone (no second weights file) and carries the run's settings in its metadata.

Nothing half-written stays: every file is written into a hidden folder beside the target, which is renamed to the
target only once every file is written and measured; on any error it is removed.  A target that exists and holds
anything is refused, so a shipped folder is never a mix of two runs.  Over several seeds every seed's files are
shipped (one subfolder ``seed-N`` each, renamed into place together), because every figure reported over the seeds
is measured on a file that is there to check.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch

from kd_core.config import RunConfig
from kd_core.data.spec import Dataset
from kd_core.deploy.export import DeployError, onnx_bytes
from kd_core.deploy.measure import (
    CURVE_BATCHES,
    IMAGES_PER_ROUND,
    THROUGHPUT_BATCH,
    BatchTiming,
    Runner,
    agreement,
    count_macs,
    count_params,
    spread_json,
    throughput,
    timings,
    top1,
)
from kd_core.deploy.quantize import CALIBRATION_IMAGES, Scheme, quantize
from kd_core.files import one_line
from kd_core.models.latency import ROUNDS, Spread
from kd_core.runs.setup import load as load_run_data
from kd_core.stats import Interval
from kd_core.train.loop import predict_logits
from kd_core.train.records import RunResult

MODELS = ("teacher", "student", "baseline")  # RunResult.models' keys, in the order they are shipped
FORMATS = ("fp32", "int8")


@dataclass(frozen=True)
class ShippedModel:
    """One shipped file and what it measures through onnxruntime (every time: CPU seconds on one thread)."""

    model: str  # "teacher", "student" (KD) or "baseline" (scratch)
    format: str  # "fp32" or "int8"
    file: str  # its name in the deployment's folder
    quantization: Scheme | None  # None for fp32
    bytes: int  # the file's size on disk
    params: int  # the model's weights (the FP32 graph's; int8 stores the same weights in a byte each)
    macs: int | None  # multiply-accumulates per image (the same for int8); None where shapes are unknown
    correct: int  # test images it classifies right
    images: int  # test images
    agreement: float  # top-1 agreement with the run's FP32 model (PyTorch) on the test set
    latency: Spread  # seconds per image at batch 1
    throughput: Spread  # images per second at batch THROUGHPUT_BATCH
    batch_curve: tuple[BatchTiming, ...]  # seconds per image at each of CURVE_BATCHES

    @property
    def accuracy(self) -> float:
        return self.correct / self.images

    def to_json(self) -> dict:
        return {
            "model": self.model,
            "format": self.format,
            "file": self.file,
            "quantization": self.quantization,
            "bytes": self.bytes,
            "params": self.params,
            "macs": self.macs,
            "accuracy": self.accuracy,
            "correct": self.correct,
            "images": self.images,
            "agreement": self.agreement,
            "latency_seconds": spread_json(self.latency),
            "throughput_images_per_second": {**spread_json(self.throughput), "batch": THROUGHPUT_BATCH},
            "batch_curve": [timing.to_json() for timing in self.batch_curve],
        }


@dataclass(frozen=True)
class Deployment:
    """A run's shipped files: where they are, which seed, and each file's measurements."""

    folder: str
    seed: int
    calibration_images: int  # training images that calibrated a static int8 model
    models: tuple[ShippedModel, ...]

    def get(self, model: str, format: str) -> ShippedModel:
        found = next((m for m in self.models if (m.model, m.format) == (model, format)), None)
        if found is None:
            raise KeyError(f"no {format} {model} in this deployment")
        return found

    def bytes_ratio(self, model: str) -> float:
        """The int8 file's bytes over the FP32 file's."""
        return self.get(model, "int8").bytes / self.get(model, "fp32").bytes

    def to_json(self) -> dict:
        return {
            "folder": self.folder,
            "seed": self.seed,
            "calibration_images": self.calibration_images,
            "timing": "CPU seconds of one onnxruntime thread; median and range over rounds",
            "models": [model.to_json() for model in self.models],
        }


# ---------------------------------------------------------------- the folder


def check_folder(folder: str | os.PathLike) -> Path:
    """``folder`` as a target to ship to: absent or empty; DeployError, one line, otherwise."""
    path = Path(folder).expanduser()
    if path.exists() and not path.is_dir():
        raise DeployError(f"{folder} is a file, not a folder")
    if path.is_dir() and any(path.iterdir()):
        raise DeployError(f"folder {folder} exists and is not empty; name a new or empty folder")
    return path


@contextmanager
def _staged(folder: Path) -> Iterator[Path]:
    """A hidden folder beside ``folder`` to write into, renamed to ``folder`` when the block ends without an error
    and removed when it raises: the target holds every file or none."""
    check_folder(folder)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = folder.parent / f".{folder.name}.{secrets.token_hex(4)}.tmp"
        staging.mkdir()  # with the umask's permissions (mkdtemp's are the owner's alone)
    except OSError as error:
        raise DeployError(f"cannot write to {folder.parent} ({one_line(error)})") from None
    try:
        yield staging
        check_folder(folder)  # still absent or empty: nobody wrote there meanwhile
        if folder.is_dir():
            folder.rmdir()
        os.replace(staging, folder)
    except OSError as error:  # a full disk, a folder that cannot be written
        shutil.rmtree(staging, ignore_errors=True)
        raise DeployError(f"could not write {folder} ({one_line(error)}); nothing was left there") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _write(path: Path, data: bytes) -> None:
    """One file's bytes, flushed to disk."""
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _with_metadata(model: bytes, metadata: dict[str, str]) -> bytes:
    import onnx

    proto = onnx.load_model_from_string(model)
    known = {entry.key for entry in proto.metadata_props}
    for key, value in metadata.items():
        if key not in known:
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
    return proto.SerializeToString()


# ---------------------------------------------------------------- shipping


def ship(
    result: RunResult,
    folder: str | os.PathLike,
    dataset: Dataset | None = None,
    *,
    schemes: dict[str, Scheme] | None = None,
    rounds: int = ROUNDS,
    images_per_round: int = IMAGES_PER_ROUND,
) -> Deployment:
    """Write ``result``'s models to ``folder`` (absent or empty) as FP32 and int8 ONNX files and measure each file.

    ``dataset``: the run's (loaded from its config when None): its training images calibrate, its test set
    measures.  ``schemes``: an int8 scheme per model name, where not ``quantize.scheme_for``'s.  ``rounds`` and
    ``images_per_round``: how long each timing runs.  DeployError, one line, for a run without models, a model that
    cannot be exported or quantized, a folder that is not empty or a disk that is full; then nothing is left there.
    """
    path = check_folder(folder)
    dataset = dataset if dataset is not None else _dataset(result.config)
    with _staged(path) as staging:
        return _ship_into(result, staging, path, dataset, schemes or {}, rounds, images_per_round)


def ship_seeds(
    results: Sequence[RunResult],
    folder: str | os.PathLike,
    dataset: Dataset | None = None,
    *,
    schemes: dict[str, Scheme] | None = None,
    rounds: int = ROUNDS,
    images_per_round: int = IMAGES_PER_ROUND,
) -> list[Deployment]:
    """Each run of several seeds shipped into its own subfolder ``seed-N`` of ``folder``, all or none."""
    if not results:
        raise DeployError("there are no runs to ship")
    path = check_folder(folder)
    dataset = dataset if dataset is not None else _dataset(results[0].config)
    with _staged(path) as staging:
        return [
            _ship_into(
                r,
                staging / f"seed-{r.config.seed}",
                path / f"seed-{r.config.seed}",
                dataset,
                schemes or {},
                rounds,
                images_per_round,
            )
            for r in results
        ]


def _dataset(config: RunConfig) -> Dataset:
    return load_run_data(config)[1]


def _ship_into(
    result: RunResult,
    staging: Path,
    final: Path,
    dataset: Dataset,
    schemes: dict[str, Scheme],
    rounds: int,
    images_per_round: int,
) -> Deployment:
    names = [name for name in MODELS if name in result.models]
    if result.status != "completed" or not names:
        raise DeployError(f"this run has no trained models to ship yet (status: {result.status})")
    staging.mkdir(parents=True, exist_ok=True)
    config_json = json.dumps(result.config.to_dict())
    x_test = dataset.x_test.detach().cpu().float()
    test_images = x_test.numpy()
    labels = dataset.y_test.detach().cpu().numpy()
    files: dict[tuple[str, str], tuple[str, bytes, Scheme | None]] = {}
    for name in names:
        model = result.models[name]
        metadata = {"kd-dashboard part": name, "kd-dashboard config": config_json}
        fp32 = _with_metadata(onnx_bytes(model, x_test[:1]), metadata)
        int8, scheme = quantize(fp32, dataset.x_train, schemes.get(name), f"the {name}", seed=result.config.seed)
        int8 = _with_metadata(int8, {**metadata, "kd-dashboard quantization": scheme})
        files[(name, "fp32")] = (f"{name}-fp32.onnx", fp32, None)
        files[(name, "int8")] = (f"{name}-int8.onnx", int8, scheme)
    for file_name, data, _ in files.values():
        _write(staging / file_name, data)
    # Measured from the files as written, each read back into a fresh session.
    runners = {key: Runner((staging / file_name).read_bytes()) for key, (file_name, _, _) in files.items()}
    references = {name: top1(_predictions(result.models[name], x_test)) for name in names}
    curve = timings(runners, test_images, CURVE_BATCHES, rounds, images_per_round)
    shipped = []
    for (name, format), (file_name, _, scheme) in files.items():
        predictions = top1(runners[(name, format)].logits(test_images))
        fp32 = files[(name, "fp32")][1]
        per_batch = curve[(name, format)]
        shipped.append(
            ShippedModel(
                model=name,
                format=format,
                file=file_name,
                quantization=scheme,
                bytes=(staging / file_name).stat().st_size,
                params=count_params(fp32),
                macs=_macs(fp32),
                correct=int((predictions == labels).sum()),
                images=len(labels),
                agreement=agreement(predictions, references[name]),
                latency=per_batch[1],
                throughput=throughput(per_batch[THROUGHPUT_BATCH]),
                batch_curve=tuple(BatchTiming(batch, per_batch[batch]) for batch in CURVE_BATCHES),
            )
        )
    static = any(scheme == "static-qdq" for _, _, scheme in files.values())
    calibration = min(CALIBRATION_IMAGES, len(dataset.x_train)) if static else 0
    return Deployment(str(final), result.config.seed, calibration, tuple(shipped))


def _predictions(model: torch.nn.Module, x: torch.Tensor) -> np.ndarray:
    """The run's own (PyTorch) model's logits, on whatever device it was left on."""
    device = next(iter(model.parameters()), torch.zeros(0)).device
    return predict_logits(model, x.to(device)).cpu().numpy()


def _macs(fp32: bytes) -> int | None:
    """count_macs, or None for a model of one's own whose shapes onnx cannot infer (its files are still shipped)."""
    try:
        return count_macs(fp32)
    except ValueError:
        return None


# ---------------------------------------------------------------- over seeds

FIGURES = ("bytes", "bytes_ratio", "accuracy", "agreement", "latency_seconds", "throughput_images_per_second")


@dataclass(frozen=True)
class SummaryRow:
    """One model in one format over the seeds: each figure's mean, sd and 95 % interval (kd_core.stats.Interval;
    no interval for one seed).  ``bytes_ratio``: the file's bytes over the same model's FP32 file's; the times are
    each seed's median."""

    model: str
    format: str
    quantization: Scheme | None
    figures: dict[str, Interval]

    def to_json(self) -> dict:
        return {
            "model": self.model,
            "format": self.format,
            "quantization": self.quantization,
            **{name: interval.to_dict() for name, interval in self.figures.items()},
        }


def summarize(deployments: Sequence[Deployment]) -> list[SummaryRow]:
    """Each (model, format) of the deployments, its figures over them (one deployment per seed); the intervals of
    accuracy and agreement are cut to [0, 1]."""
    rows = []
    for first in deployments[0].models:
        same = [d.get(first.model, first.format) for d in deployments]
        values = {
            "bytes": [m.bytes for m in same],
            "bytes_ratio": [m.bytes / d.get(first.model, "fp32").bytes for m, d in zip(same, deployments)],
            "accuracy": [m.accuracy for m in same],
            "agreement": [m.agreement for m in same],
            "latency_seconds": [m.latency.median for m in same],
            "throughput_images_per_second": [m.throughput.median for m in same],
        }
        figures = {name: Interval.of(numbers) for name, numbers in values.items()}
        for name in ("accuracy", "agreement"):  # fractions: an interval past 100 % says only "near 100 %"
            interval = figures[name]
            if interval.low is not None:
                figures[name] = dataclasses.replace(interval, low=max(0.0, interval.low), high=min(1.0, interval.high))
        rows.append(SummaryRow(first.model, first.format, first.quantization, figures))
    return rows


def deployment_json(deployments: Sequence[Deployment]) -> dict:
    """The ``deployment`` section of ``kd-train --json``: one seed's deployment, or every seed's and the summary."""
    if len(deployments) == 1:
        return deployments[0].to_json()
    return {
        "seeds": [d.to_json() for d in deployments],
        "summary": [row.to_json() for row in summarize(deployments)],
    }
