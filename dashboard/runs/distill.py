"""What the dashboard's buttons start: thin wrappers over ``kd_core``, run as background jobs.

With dashboard/runs/experiments.py, the only module that calls ``kd_core``: the pages go through these
functions, so a change of the core's API is adapted here.  No training happens here: ``kd_core.run`` and
``kd_core.RunSetup.teacher`` do that.  These functions add what the page needs around them: the
teacher's logits behind the probability bars and the heatmap, the measured inference latency, a progress
estimate with an ETA, and the results cache.

Runs are deterministic (same config, same seed, same torch thread count: the same numbers), so a
distillation someone already ran is served from the results cache instead of trained again: from
memory (the last few, ready to draw) or from ``kd_core.ResultCache`` on disk.  Identical requests that
arrive while the first is still training wait for it (one lock per run key), handing their trainer slots to
other runs, so a classroom of thirty identical clicks trains once.  A training runs in a worker process
(``train``): in the server's own interpreter it would compete with every session's page runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import statistics
import threading
import weakref
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np
import torch
from torch import nn

from dashboard.jobs import runner as jobs
from dashboard.jobs.progress import Progress, format_seconds, planned_steps, progress  # noqa: F401  (re-exported)
from kd_core import (
    ARCHITECTURES,
    DATASETS,
    Cancelled,
    ConfigError,
    ResultCache,
    RunConfig,
    RunResult,
    RunSetup,
    TeacherCache,
    load_dataset,
    predict_logits,
    run,
    soften,
    validate,
)
from kd_core.data.spec import Dataset
from kd_core.execution.executors import LocalProcesses
from kd_core.models import latency as inference
from kd_core.runs.background import WorkerTask, run_task_niced
from kd_core.runs.seeds import SeedTask
from kd_core.runs.setup import load
from kd_core.runs.stored import replay
from kd_core.train.loop import seeded_model

SPLITS = ("test", "train")
SAME_RUN = (
    "the same run is training for a classmate: you get its result when it finishes "
    "(position 0 in the queue: it needs no trainer of its own)."
)
TRAIN_LOGITS_LIMIT = 10_000  # training images behind the dark-knowledge heatmap (all of digits)


# ---------------------------------------------------------------- settings and data, for the sidebar and the tabs


def dataset_names() -> list[str]:
    return list(DATASETS)


def default_pair(dataset: str) -> tuple[str, str]:
    """(teacher, student) architectures a dataset starts with."""
    return DATASETS[dataset].teacher, DATASETS[dataset].student


def architectures() -> dict[str, str]:
    """Architecture name -> one-line description."""
    return {name: entry.description for name, entry in ARCHITECTURES.items()}


def load_data(name: str, data_dir: str | None = None) -> Dataset:
    return load_dataset(name, data_dir)


def new_teacher_cache() -> TeacherCache:
    """The on-disk teacher cache ($KD_CACHE_DIR or a per-user folder)."""
    return TeacherCache()


def problem_with(config: RunConfig, dataset: Dataset | None = None) -> str | None:
    """Why these settings cannot run (one line), or None."""
    try:
        validate(config, train_size=None if dataset is None else len(dataset.y_train))
    except ConfigError as error:
        return str(error)
    return None


def teacher_key(config: RunConfig) -> str | None:
    """Which teacher these settings name (None if they are invalid)."""
    return None if problem_with(config) else validate(config).teacher_key()


def softened(logits: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(logits / T) of one example."""
    return soften(torch.from_numpy(logits), temperature).numpy()


def split_of(dataset: Dataset, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(images, labels) of a split; the training split cut to TRAIN_LOGITS_LIMIT."""
    if split == "train":
        return dataset.x_train[:TRAIN_LOGITS_LIMIT], dataset.y_train[:TRAIN_LOGITS_LIMIT]
    return dataset.x_test, dataset.y_test


def labels_of(dataset: Dataset, split: str) -> np.ndarray:
    return split_of(dataset, split)[1].numpy()


# ---------------------------------------------------------------- teachers, students, runs


@dataclass
class TeacherOutcome:
    """A trained (or cached) teacher and its logits over both splits."""

    config: RunConfig  # validated: architecture names resolved
    logits: dict[str, np.ndarray]  # split -> logits (see split_of)
    from_cache: bool
    cancelled: bool


@dataclass
class DistillOutcome:
    """A finished ``kd_core.run`` plus what the report and the probability bars need."""

    result: RunResult
    teacher_logits: np.ndarray | None  # over the test set
    student_logits: np.ndarray | None
    latency_seconds: dict[str, float]  # per image, batch of one: "teacher", "student" (the medians of latency_rounds)
    latency_rounds: dict[str, list[float]] = field(default_factory=dict)  # per round (kd_core/models/latency.py)


def test_logits(model: nn.Module, dataset: Dataset, split: str = "test") -> np.ndarray:
    images = split_of(dataset, split)[0]
    return predict_logits(model, images.to(next(model.parameters()).device)).cpu().numpy()


def untrained_student_logits(config: RunConfig, dataset: Dataset) -> np.ndarray:
    """The student before any training: the very weights the KD student and the baseline start from."""
    config = validate(config)
    return test_logits(seeded_model(config.student, dataset, config.seed + 1), dataset)  # as kd_core.run seeds it


def cached_teacher_logits(
    config: RunConfig, dataset: Dataset, cache: TeacherCache, split: str = "test"
) -> np.ndarray | None:
    """The logits over ``split`` of the teacher these settings name, if it is already in the cache; else None."""
    found = RunSetup(config).cached_teacher(cache)
    return None if found is None else test_logits(found.model, dataset, split)


def load_or_train_teacher(
    config: RunConfig, cache: TeacherCache, on_event: Callable, stop: threading.Event
) -> TeacherOutcome:
    """The teacher from the cache (at once), or trained now and cached."""
    setup = RunSetup(config)
    try:
        teacher = setup.teacher(cache, on_event, stop)
    except Cancelled:
        return TeacherOutcome(setup.config, {}, False, True)
    logits = {split: test_logits(teacher.model, setup.dataset, split) for split in SPLITS}
    return TeacherOutcome(setup.config, logits, teacher.from_cache, False)


def distill(
    config: RunConfig,
    cache: TeacherCache,
    on_event: Callable,
    stop: threading.Event,
    results: ResultCache | None = None,
) -> DistillOutcome:
    """``kd_core.run`` (teacher, KD student, scratch baseline), then logits and latency for the report.

    An identical request already finished comes from the results cache (``result.from_results_cache``);
    one still training in another session is waited for, then served from the cache.  ``results``: the
    on-disk layer, by default ``shared_results()``.
    """
    results = results if results is not None else shared_results()
    key = load(config)[0].run_key()
    with _one_run_per_key(key, stop) as acquired:
        if not acquired:  # stopped while an identical run was still training
            return DistillOutcome(RunResult(config, "cancelled"), None, None, {})
        outcome = _remembered(key, results)
        if outcome is not None:
            replay(outcome.result.history, outcome.result.config, on_event, outcome.result.steps)
            return outcome
        stored = results.on_disk and results.path(key).exists()  # read here, with no trainer: no training
        with (
            contextlib.nullcontext(True) if stored else jobs.trainer_slot() as slot
        ):  # a waiting job gave its slot away
            result = train(config, on_event, stop, cache, results, stored) if slot else RunResult(config, "cancelled")
        if result.status != "completed":
            return DistillOutcome(result, None, None, {})
        outcome = outcome_of(result)
        _remember(key, outcome)
        return outcome


def in_workers() -> bool:
    """Whether trainings go to local worker processes (``KD_EXECUTOR=ray`` sends a Distill's seeds to Ray)."""
    return os.environ.get("KD_EXECUTOR", "local") == "local"


def train(
    config: RunConfig,
    on_event: Callable,
    stop: threading.Event,
    cache: TeacherCache,
    results: ResultCache,
    stored: bool = False,
) -> RunResult:
    """``kd_core.run`` in one worker process, its events relayed here; in this process only when a cache is kept
    in memory here (a worker could not share it), or the run is ``stored`` already (read here; a damaged file is
    reported here and, rarely, trained again here).  The worker runs torch with this process's thread count: the
    same numbers either way."""
    if stored or cache.disk_folder is None or results.disk_folder is None or not in_workers():
        return run(config, on_event=on_event, stop=stop, cache=cache, results=results)
    task = SeedTask(config, cache.disk_folder, results.disk_folder)
    relay = None if on_event is None else (lambda _, event: on_event(event))
    return LocalProcesses(1, in_process_when_alone=False).map(run_task_niced, [WorkerTask(task)], relay, stop)[0]


def finished(key: str, results: ResultCache | None = None) -> bool:
    """Whether an identical run is finished: in memory, or (given ``results``) in the results cache on disk."""
    with _guard:
        if key in _remembered_runs:
            return True
    return results is not None and results.on_disk and results.path(key).exists()


def outcome_of(result: RunResult, latency: bool = True) -> DistillOutcome:
    """A completed run with its models' logits over the test set and (``latency``) their latency per image."""
    dataset = load_dataset(result.config.dataset, result.config.data_dir)
    teacher, student = result.models["teacher"], result.models["student"]
    example = dataset.x_test[:1].to(next(student.parameters()).device)
    timed = inference.rounds({"teacher": teacher, "student": student}, example) if latency else {}
    seconds = {name: statistics.median(values) for name, values in timed.items()}
    return DistillOutcome(result, test_logits(teacher, dataset), test_logits(student, dataset), seconds, timed)


# ---------------------------------------------------------------- the in-memory layer of the results cache


@functools.cache
def shared_results() -> ResultCache:
    """The server's on-disk results cache ($KD_CACHE_DIR or the per-user folder), created on first use."""
    return ResultCache()


REMEMBERED_RUNS = 64  # finished distillations kept in memory, ready to draw (digits: well under 1 MB each)
_remembered_runs: OrderedDict[str, DistillOutcome] = OrderedDict()
_run_locks: weakref.WeakValueDictionary[str, threading.Lock] = weakref.WeakValueDictionary()  # gone when unused
_guard = threading.Lock()


@contextmanager
def _one_run_per_key(key: str, stop: threading.Event) -> Iterator[bool]:
    """Hold the run key's lock (yields True); yields False instead if ``stop`` is set while waiting for it."""
    with _guard:
        lock = _run_locks.setdefault(key, threading.Lock())
    acquired = lock.acquire(blocking=False)
    if not acquired:  # an identical run is training: wait for it without holding a trainer slot
        with jobs.waiting_for(SAME_RUN):
            while not acquired and not stop.is_set():
                acquired = lock.acquire(timeout=0.2)
    try:
        yield acquired
    finally:
        if acquired:
            lock.release()


def try_lock(key: str) -> threading.Lock | None:
    """The run key's lock, acquired, if no identical run holds it now (the caller releases it); else None."""
    with _guard:
        lock = _run_locks.setdefault(key, threading.Lock())
    return lock if lock.acquire(blocking=False) else None


def _remembered(key: str, results: ResultCache | None = None) -> DistillOutcome | None:
    """A finished identical run from memory, marked as served from the results cache (and, in ``results``, as
    finished now, for the class board); else None."""
    with _guard:
        outcome = _remembered_runs.get(key)
        if outcome is None:
            return None
        _remembered_runs.move_to_end(key)
    if results is not None:
        results.served(key)
    return dataclasses.replace(outcome, result=dataclasses.replace(outcome.result, from_results_cache=True))


def _remember(key: str, outcome: DistillOutcome) -> None:
    with _guard:
        _remembered_runs[key] = outcome
        _remembered_runs.move_to_end(key)
        while len(_remembered_runs) > REMEMBERED_RUNS:
            _remembered_runs.popitem(last=False)
