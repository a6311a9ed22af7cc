"""Ship the student: the job the Ship tab starts, and the numbers its chart, table and sentences are made of.

    problem(seeds_outcome) -> why the last Distill cannot be shipped, or None
    ship_job(seeds_outcome) -> fn(on_event, stop) -> ShipOutcome      # every seed's six files, measured
    shipped(keys) -> the ShipOutcome of these runs if this server has shipped them
    headline(outcome) -> text.ship.Headline                          # the sentence's numbers, paired by seed
    estimate_seconds(seeds_outcome) -> how long a click takes, before it is clicked

The engine ships (kd_core.deploy: each model as an FP32 and an int8 ONNX file, each file measured through
onnxruntime).  Here: its work runs in a worker process — never in the server's interpreter, whose Python work
would hold the lock every session's page needs — into a temporary folder; the first seed's six files are read into
memory for the downloads and the folder is deleted, so nothing is left on disk per browser.  What was shipped is
remembered per server by the runs' keys (``RunConfig.run_key``), so a class that ran the same settings ships once.
No Streamlit here.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import statistics
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from dashboard.text.ship import Headline
from kd_core.deploy.export import DeployError
from kd_core.deploy.measure import CURVE_BATCHES, IMAGES_PER_ROUND
from kd_core.deploy.ship import MODELS, Deployment, SummaryRow, ship, summarize
from kd_core.execution import executors
from kd_core.models.latency import ROUNDS
from kd_core.models.own_teacher import OnnxTeacher
from kd_core.runs.background import NICENESS
from kd_core.runs.setup import load
from kd_core.stats import Interval
from kd_core.train.records import RunResult

MEMO_ENTRIES = 16  # shipments kept per server: a digits run's six files are ~0.7 MB, a CIFAR CNN's a few MB
# What one seed costs besides the timing rounds, measured on this project's 2-core machine with the digits MLPs (2
# seeds shipped in 14.1 s): torch's dynamo exporter (~1 s a model), onnxruntime's quantizer, the accuracy passes.
FIXED_SECONDS_PER_SEED = 6.0
WORKER_START_SECONDS = 2.0  # a worker forked from the fork server, which has torch and kd_core imported already


@dataclass(frozen=True)
class ShipFile:
    """One shipped file, in memory for its download: its bytes and what a program needs to run it."""

    model: str  # "teacher", "student" (KD) or "baseline" (scratch)
    format: str  # "fp32" or "int8"
    name: str  # e.g. student-int8.onnx
    data: bytes
    input_name: str
    input_shape: tuple  # each dimension a number, or a name for one left free (the batch)
    input_type: str  # numpy's name of the input's element type, e.g. float32


@dataclass(frozen=True)
class ShipOutcome:
    """Every completed seed of one Distill, shipped and measured; the first seed's files in memory."""

    keys: tuple[str, ...]  # the runs' keys, one per seed, in seed order
    seeds: list[int]
    deployments: list[Deployment]  # one per seed (their folders are gone: the files are in ``files``)
    files: tuple[ShipFile, ...]  # the first seed's
    teacher_note: str | None  # why the teacher is not among the files, where it is not
    mean: tuple[float, ...]  # the normalisation the models expect, per channel: (pixel − mean) / std
    std: tuple[float, ...]
    seconds: float  # how long shipping took, start to end

    @property
    def first_seed(self) -> int:
        return self.deployments[0].seed

    @property
    def summary(self) -> list[SummaryRow]:
        return summarize(self.deployments)

    def row(self, model: str, format: str) -> SummaryRow | None:
        return next((r for r in self.summary if (r.model, r.format) == (model, format)), None)

    def file(self, model: str, format: str) -> ShipFile | None:
        return next((f for f in self.files if (f.model, f.format) == (model, format)), None)


@dataclass(frozen=True)
class ShipRequest:
    """What the worker process needs: the runs (their models; no curves) and the server's KD_ settings."""

    results: tuple[RunResult, ...]
    environ: dict[str, str]


@dataclass(frozen=True)
class ShipEvent:
    """A seed's files written and measured: ``done`` of ``total`` seeds."""

    done: int
    total: int

    @property
    def fraction(self) -> float:
        return self.done / self.total

    @property
    def text(self) -> str:  # the job panel's status line
        return f"{self.done} of {self.total} seeds' files written and measured"


# ---------------------------------------------------------------- what can be shipped


def results_of(seeds_outcome) -> list[RunResult]:
    """The completed runs of a Distill (a dashboard.runs.seeds.SeedsOutcome), in seed order."""
    return sorted((o.result for o in seeds_outcome.completed), key=lambda r: r.config.seed)


def keys_of(results: list[RunResult]) -> tuple[str, ...]:
    return tuple(r.config.run_key() for r in results)


def problem(seeds_outcome) -> str | None:
    """Why this Distill cannot be shipped (plain words), or None.  Every seed's run must carry its trained models:
    a run served without them (a results-cache entry from before models were stored) has nothing to export."""
    results = results_of(seeds_outcome) if seeds_outcome is not None else []
    if not results:
        return "There is no completed Distill to ship: click **Distill** first."
    wanted = lambda r: {"student", "baseline"} if r.config.baseline else {"student"}  # noqa: E731
    missing = [r.config.seed for r in results if not wanted(r) <= set(r.models)]
    if missing:
        seeds = ", ".join(str(s) for s in missing)
        return (
            f"The trained models of seed{'s' if len(missing) > 1 else ''} {seeds} are not on this server (the run "
            "came back without them), so they cannot be exported: click **Distill** again to train them here."
        )
    return None


# ---------------------------------------------------------------- the work, in a worker process


def _input_of(data: bytes) -> tuple[str, tuple, str]:
    """A file's first input: its name, shape (a name for a free dimension) and numpy element type."""
    import onnx

    graph = onnx.load_model_from_string(data).graph
    initializers = {t.name for t in graph.initializer}
    first = next(i for i in graph.input if i.name not in initializers)
    tensor = first.type.tensor_type
    shape = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or "batch") for d in tensor.shape.dim)
    return first.name, shape, onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type).name


def _lower_priority() -> None:
    """This worker process at the trainings' priority: the pages come first (timings are CPU time, which priority
    does not change)."""
    if hasattr(os, "getpriority"):
        try:
            if os.getpriority(os.PRIO_PROCESS, 0) < NICENESS:
                os.setpriority(os.PRIO_PROCESS, 0, NICENESS)
        except OSError:
            pass


def _ship_all(results: tuple[RunResult, ...], folder: Path, on_event, stop) -> list[Deployment] | None:
    deployments = []
    for done, result in enumerate(results):
        if stop is not None and stop.is_set():
            return None
        deployments.append(ship(result, folder / f"seed-{result.config.seed}"))
        if on_event is not None:
            on_event(ShipEvent(done + 1, len(results)))
    return deployments


def ship_task(request: ShipRequest, on_event=None, stop=None) -> ShipOutcome | None:
    """Ship every run of ``request`` into a temporary folder, read the first seed's files, delete the folder
    (a module-level function: it runs in a worker process).  An uploaded ONNX teacher is shipped as it came; if
    onnxruntime cannot quantize it, the teacher is left out and ``teacher_note`` says why.  None when stopped."""
    _lower_priority()
    for name in [name for name in os.environ if name.startswith("KD_") and name not in request.environ]:
        del os.environ[name]
    os.environ.update(request.environ)
    started = time.monotonic()
    results, note = request.results, None
    folder = Path(tempfile.mkdtemp(prefix="kd-ship-"))
    try:
        try:
            deployments = _ship_all(results, folder / "try", on_event, stop)
        except DeployError as error:
            if not isinstance(results[0].models.get("teacher"), OnnxTeacher):
                raise
            note = f"Your uploaded ONNX teacher is left out: {error}."
            results = tuple(
                dataclasses.replace(r, models={k: m for k, m in r.models.items() if k != "teacher"}) for r in results
            )
            deployments = _ship_all(results, folder / "again", on_event, stop)
        if deployments is None:
            return None
        first = deployments[0]
        files = []
        for shipped in first.models:
            data = (Path(first.folder) / shipped.file).read_bytes()
            files.append(ShipFile(shipped.model, shipped.format, shipped.file, data, *_input_of(data)))
        dataset = load(results[0].config)[1]
        return ShipOutcome(
            keys=keys_of(list(results)),
            seeds=[r.config.seed for r in results],
            deployments=deployments,
            files=tuple(files),
            teacher_note=note,
            mean=tuple(float(m) for m in (dataset.mean or ())),
            std=tuple(float(s) for s in (dataset.std or ())),
            seconds=time.monotonic() - started,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # nothing is left on disk per browser


def _request(results: list[RunResult]) -> ShipRequest:
    """The runs as the worker needs them: their models and settings, not their curves and steps."""
    light = tuple(dataclasses.replace(r, history=[], steps=[]) for r in results)
    return ShipRequest(light, {k: v for k, v in os.environ.items() if k.startswith("KD_")})


# ---------------------------------------------------------------- shipped once per server


class Shipments:
    """Run keys -> ShipOutcome, for the whole server, least recently used dropped first; one shipment per keys at
    a time (a second browser asking for the same runs waits for the first and gets its outcome)."""

    def __init__(self, entries: int = MEMO_ENTRIES):
        self.entries = entries
        self.items: OrderedDict[tuple[str, ...], ShipOutcome] = OrderedDict()
        self.lock = threading.Lock()
        self.busy: dict[tuple[str, ...], threading.Lock] = {}

    def get(self, keys: tuple[str, ...]) -> ShipOutcome | None:
        with self.lock:
            found = self.items.get(keys)
            if found is not None:
                self.items.move_to_end(keys)
            return found

    def make(self, keys: tuple[str, ...], make: Callable[[], ShipOutcome | None]) -> ShipOutcome | None:
        """The outcome of ``keys``: remembered, or made now (one ``make`` per keys at a time)."""
        with self.lock:
            key_lock = self.busy.setdefault(keys, threading.Lock())
        with key_lock:
            found = self.get(keys)
            if found is not None:
                return found
            outcome = make()
            if outcome is not None:
                with self.lock:
                    self.items[keys] = outcome
                    while len(self.items) > self.entries:
                        self.items.popitem(last=False)
            return outcome

    def clear(self) -> None:
        with self.lock:
            self.items.clear()


SHIPMENTS = Shipments()
_seconds_per_seed: dict[tuple, float] = {}  # (dataset, teacher, student) -> measured shipping seconds per seed


def shipped(keys: tuple[str, ...]) -> ShipOutcome | None:
    """These runs' shipment, if this server has made it."""
    return SHIPMENTS.get(keys)


def ship_job(seeds_outcome) -> Callable:
    """A job: ship every completed seed of ``seeds_outcome`` in one worker process, or find it shipped already."""
    results = results_of(seeds_outcome)
    keys = keys_of(results)

    def fn(on_event, stop) -> ShipOutcome | None:
        def make() -> ShipOutcome | None:
            worker = executors.LocalProcesses(1, in_process_when_alone=False)
            relay = lambda index, event: on_event(event)  # noqa: E731
            outcome = worker.map(ship_task, [_request(results)], on_event=relay, stop=stop)[0]
            if outcome is not None:
                _seconds_per_seed[_kind(results[0])] = outcome.seconds / len(outcome.seeds)
            return outcome

        return SHIPMENTS.make(keys, make)

    return fn


def _kind(result: RunResult) -> tuple:
    c = result.config
    return (c.dataset, c.teacher, c.student, c.teacher_width, c.student_width)


def estimate_seconds(seeds_outcome) -> float:
    """How long shipping these runs takes here: as long per seed as the last shipment of the same models on this
    server took; before any, the fixed cost per seed (exports, quantization) plus the timing rounds, computed from
    the run's PyTorch latency at batch 1 (its ONNX files run about as fast)."""
    results = results_of(seeds_outcome)
    measured = _seconds_per_seed.get(_kind(results[0]))
    if measured is not None:
        return WORKER_START_SECONDS + measured * len(results)
    latency = seeds_outcome.first.latency_seconds
    per_image = statistics.fmean([latency.get("teacher", 0.0), latency.get("student", 0.0)]) if latency else 1e-5
    # each of 6 files: ROUNDS rounds at each batch size, IMAGES_PER_ROUND images a round; a batch's image costs
    # less than one alone, so batch 1's cost bounds them
    timing = 6 * ROUNDS * len(CURVE_BATCHES) * IMAGES_PER_ROUND * per_image
    return WORKER_START_SECONDS + len(results) * (FIXED_SECONDS_PER_SEED + timing)


# ---------------------------------------------------------------- the numbers the page shows


def headline(outcome: ShipOutcome) -> Headline:
    """The sentence's numbers, seed by seed: the FP32 teacher against the int8 KD student (file bytes, seconds per
    image at batch 1, accuracy), and the int8 KD student against the int8 scratch student (accuracy)."""
    by_seed = outcome.deployments
    has = lambda d, model: any(m.model == model for m in d.models)  # noqa: E731
    scratch = None
    if all(has(d, "baseline") for d in by_seed):
        scratch = Interval.of([d.get("student", "int8").accuracy - d.get("baseline", "int8").accuracy for d in by_seed])
    if not all(has(d, "teacher") for d in by_seed):
        return Headline(None, None, None, scratch)
    pairs = [(d.get("teacher", "fp32"), d.get("student", "int8")) for d in by_seed]
    return Headline(
        size_ratio=Interval.of([t.bytes / s.bytes for t, s in pairs]),
        speed_ratio=Interval.of([t.latency.median / s.latency.median for t, s in pairs]),
        vs_teacher=Interval.of([s.accuracy - t.accuracy for t, s in pairs]),
        vs_scratch=scratch,
    )


def curve(outcome: ShipOutcome, model: str, format: str) -> list[tuple[int, float, float, float]] | None:
    """The first seed's (batch, median, low, high) seconds per image of one file, or None if it was not shipped."""
    deployment = outcome.deployments[0]
    found = next((m for m in deployment.models if (m.model, m.format) == (model, format)), None)
    if found is None:
        return None
    return [(t.batch, t.per_image.median, t.per_image.low, t.per_image.high) for t in found.batch_curve]


def models_shipped(outcome: ShipOutcome) -> list[str]:
    """The models shipped, in MODELS' order."""
    present = {m.model for m in outcome.deployments[0].models}
    return [m for m in MODELS if m in present]
