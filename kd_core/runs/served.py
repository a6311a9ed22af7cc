"""Finished runs served to many clients: what a page (or any server) asks of a distillation, ready to show.

A *served run* (``DistillOutcome``) is a finished ``kd_core.run`` with what a report draws around it: the teacher's
and the KD student's logits over the test set, and their measured latency per image (kd_core/models/latency.py).

Runs are deterministic (same config, same seed, same torch thread count: the same numbers), so a distillation
someone already ran is served instead of trained again: from the memo of the last ``REMEMBERED_RUNS`` finished runs
in this process (ready to draw), else from ``ResultCache`` on disk.  Identical requests that arrive while the first
is still training wait for it (one lock per run key), so a classroom of thirty identical clicks trains once.  A
training runs in a worker process (``train``): in a server's own interpreter it would compete with every client.

The caller's scheduler is given as ``Turns``: how to get a trainer slot for a training, and how to wait without one.
Also here: the teacher's logits over a split (``load_or_train_teacher``, ``cached_teacher_logits``), the untrained
student's, and the per-seed trainings of a multi-seed request in worker processes (``train_seeds``).
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
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Callable, ContextManager, Iterator

import numpy as np
import torch
from torch import nn

from kd_core.config import RunConfig, validate
from kd_core.data.datasets import Dataset, load_dataset
from kd_core.execution.executors import LocalProcesses, make_executor
from kd_core.models import latency as timing
from kd_core.runs.background import WorkerTask, run_task_niced
from kd_core.runs.cache import ResultCache, TeacherCache
from kd_core.runs.pipeline import run
from kd_core.runs.seeds import SeedTask, map_seed_tasks, run_task
from kd_core.runs.setup import RunSetup, load
from kd_core.runs.stored import replay
from kd_core.train.loop import Cancelled, predict_logits, seeded_model
from kd_core.train.records import RunResult

SPLITS = ("test", "train")
TRAIN_LOGITS_LIMIT = 10_000  # training images behind the dark-knowledge heatmap (all of digits)
REMEMBERED_RUNS = 64  # finished distillations kept in memory, ready to draw (digits: well under 1 MB each)


@dataclass(frozen=True)
class Turns:
    """How a served run takes its turn in the caller's scheduler.  ``trainer()``: a context manager around a
    training, yielding whether a trainer slot was had (False: stopped while queued).  ``waiting()``: one around a
    wait that needs no CPU (an identical run training elsewhere), during which the caller may lend its slot out.
    The defaults schedule nothing: every training goes ahead at once."""

    trainer: Callable[[], ContextManager[bool]] = lambda: nullcontext(True)
    waiting: Callable[[], ContextManager[object]] = nullcontext


NO_SCHEDULER = Turns()


# ---------------------------------------------------------------- logits over a split


def split_of(dataset: Dataset, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(images, labels) of a split ("test" or "train"); the training split cut to TRAIN_LOGITS_LIMIT."""
    if split == "train":
        return dataset.x_train[:TRAIN_LOGITS_LIMIT], dataset.y_train[:TRAIN_LOGITS_LIMIT]
    return dataset.x_test, dataset.y_test


def labels_of(dataset: Dataset, split: str) -> np.ndarray:
    """The labels of ``split_of(dataset, split)``, as numpy."""
    return split_of(dataset, split)[1].numpy()


def test_logits(model: nn.Module, dataset: Dataset, split: str = "test") -> np.ndarray:
    """The model's logits over a split (``split_of``), as numpy on the CPU."""
    images = split_of(dataset, split)[0]
    return predict_logits(model, images.to(next(model.parameters()).device)).cpu().numpy()


test_logits.__test__ = False  # not a pytest test, whatever imports it


def untrained_student(config: RunConfig, dataset: Dataset) -> nn.Module:
    """The student before any training, in eval mode: the very weights the KD student and the baseline start from
    (seed + 1, as ``kd_core.run`` seeds them; the width ``config.student_width``, else the architecture's)."""
    config = validate(config)
    return seeded_model(config.student, dataset, config.seed + 1, config.student_width).eval()


def untrained_student_logits(config: RunConfig, dataset: Dataset) -> np.ndarray:
    """The untrained student's logits over the test set."""
    return test_logits(untrained_student(config, dataset), dataset)


def cached_teacher(config: RunConfig, cache: TeacherCache) -> nn.Module | None:
    """The teacher these settings name, in eval mode, if the cache holds it (never trained here); else None."""
    found = RunSetup(config).cached_teacher(cache)
    return None if found is None else found.model.eval()


def cached_teacher_logits(
    config: RunConfig, dataset: Dataset, cache: TeacherCache, split: str = "test"
) -> np.ndarray | None:
    """The logits over ``split`` of the teacher these settings name, if it is already in the cache; else None."""
    found = RunSetup(config).cached_teacher(cache)
    return None if found is None else test_logits(found.model, dataset, split)


@dataclass
class TeacherOutcome:
    """A trained (or cached) teacher and its logits over both splits."""

    config: RunConfig  # validated: architecture names resolved
    logits: dict[str, np.ndarray]  # split -> logits (see split_of)
    from_cache: bool
    cancelled: bool


def load_or_train_teacher(
    config: RunConfig, cache: TeacherCache, on_event: Callable, stop: threading.Event
) -> TeacherOutcome:
    """The teacher from the cache (at once), or trained now and cached; with its logits over both splits."""
    setup = RunSetup(config)
    try:
        teacher = setup.teacher(cache, on_event, stop)
    except Cancelled:
        return TeacherOutcome(setup.config, {}, False, True)
    logits = {split: test_logits(teacher.model, setup.dataset, split) for split in SPLITS}
    return TeacherOutcome(setup.config, logits, teacher.from_cache, False)


# ---------------------------------------------------------------- a served run


@dataclass
class DistillOutcome:
    """A finished ``kd_core.run`` plus what a report and the probability bars need."""

    result: RunResult
    teacher_logits: np.ndarray | None  # over the test set
    student_logits: np.ndarray | None
    latency_seconds: dict[str, float]  # per image, batch of one: "teacher", "student" (the medians of latency_rounds)
    latency_rounds: dict[str, list[float]] = field(default_factory=dict)  # per round (kd_core/models/latency.py)

    @property
    def has_measurements(self) -> bool:
        """Whether it carries both its logits and its latency (a seed trained beside the report's has no latency)."""
        return bool(self.latency_seconds) and self.student_logits is not None


def outcome_of(result: RunResult, latency: bool = True) -> DistillOutcome:
    """A completed run with its models' logits over the test set and (``latency``) their latency per image."""
    dataset = load_dataset(result.config.dataset, result.config.data_dir)
    teacher, student = result.models["teacher"], result.models["student"]
    example = dataset.x_test[:1].to(next(student.parameters()).device)
    rounds = timing.rounds({"teacher": teacher, "student": student}, example) if latency else {}
    seconds = {name: statistics.median(values) for name, values in rounds.items()}
    return DistillOutcome(result, test_logits(teacher, dataset), test_logits(student, dataset), seconds, rounds)


def not_finished(result: RunResult) -> DistillOutcome:
    """A run that did not complete (cancelled, diverged): nothing to draw but its result."""
    return DistillOutcome(result, None, None, {})


def distill(
    config: RunConfig,
    cache: TeacherCache,
    on_event: Callable | None,
    stop: threading.Event,
    results: ResultCache | None = None,
    turns: Turns = NO_SCHEDULER,
) -> DistillOutcome:
    """``kd_core.run`` (teacher, KD student, scratch baseline), then logits and latency for the report.

    An identical request already finished comes from memory or the results cache (``result.from_results_cache``);
    one still training for another client is waited for (in ``turns.waiting``), then served.  A training needs a
    trainer slot (``turns.trainer``); reading a stored run needs none.  ``results``: the on-disk layer, by default
    ``shared_results()``.
    """
    results = results if results is not None else shared_results()
    key = load(config)[0].run_key()
    with one_run_per_key(key, stop, turns) as acquired:
        if not acquired:  # stopped while an identical run was still training
            return not_finished(RunResult(config, "cancelled"))
        outcome = from_memory(key, results, on_event)
        if outcome is not None:
            return outcome
        stored = results.on_disk and results.path(key).exists()  # read here, with no trainer: no training
        with contextlib.nullcontext(True) if stored else turns.trainer() as slot:  # a waiting job lent its slot
            result = train(config, on_event, stop, cache, results, stored) if slot else RunResult(config, "cancelled")
        if result.status != "completed":
            return not_finished(result)
        outcome = outcome_of(result)
        remember(key, outcome)
        return outcome


def measure_once(
    config: RunConfig, outcome: DistillOutcome, stop: threading.Event, turns: Turns = NO_SCHEDULER
) -> DistillOutcome:
    """``outcome`` with its logits and latency, measured once per run key: identical requests that need it at the
    same time wait for the first measurement (under the run's lock) and take it from memory."""
    key = load(config)[0].run_key()
    with one_run_per_key(key, stop, turns):
        again = remembered(key)
        if again is not None and again.has_measurements:
            return again
        outcome = outcome_of(outcome.result)
        remember(key, outcome)
        return outcome


# ---------------------------------------------------------------- trainings, in worker processes


def in_workers() -> bool:
    """Whether trainings go to local worker processes (``KD_EXECUTOR=ray`` sends a request's seeds to Ray)."""
    return os.environ.get("KD_EXECUTOR", "local") == "local"


def train(
    config: RunConfig,
    on_event: Callable | None,
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


def train_seeds(
    configs: list[RunConfig],
    workers: int,
    cache: TeacherCache,
    results: ResultCache,
    on_seed_event: Callable[[int, object], None],
    stop: threading.Event,
    first: int | None = None,
) -> dict[int, DistillOutcome]:
    """The seeds whose run key is free, ``workers`` at a time in worker processes (their teachers and baselines
    handed out ahead: ``map_seed_tasks``), each key held meanwhile; seed -> outcome, remembered.  Seed ``first``
    (the report's) has its logits and latency measured before it is remembered: identical requests waiting for it
    find it complete, instead of each measuring it again; the other seeds carry their result only.  Empty when fewer
    than two keys are free, when a cache is kept in this process's memory, or when Ray is asked for and unusable:
    the caller then serves the seeds one by one (``distill``)."""
    held, mine = [], []
    try:
        for c in configs:
            key = load(c)[0].run_key()
            lock = try_lock(key)
            if lock is None:
                continue  # an identical run is training for another client: ``distill`` waits for it later
            held.append(lock)
            mine.append((key, c))
        if len(mine) < 2:
            return {}
        if cache.disk_folder is None or results.disk_folder is None:
            return {}  # a cache kept in this process's memory: ``distill`` trains here instead
        try:  # one worker too: a training in the server's interpreter would compete with every client
            executor = (
                LocalProcesses(min(workers, len(mine)), in_process_when_alone=False)
                if in_workers()
                else make_executor(os.environ.get("KD_EXECUTOR", "local"), jobs=min(workers, len(mine)))
            )
        except (ValueError, ImportError, RuntimeError):
            return {}  # Ray asked for but not usable: the seeds run one after another instead
        tasks = [SeedTask(c, cache.disk_folder, results.disk_folder) for _, c in mine]
        if in_workers():
            done = map_seed_tasks(executor, run_task_niced, tasks, on_seed_event, stop, wrap=WorkerTask)
        else:
            done = map_seed_tasks(executor, run_task, tasks, on_seed_event, stop)
        out = {}
        for (key, c), result in zip(mine, done):
            if result.status != "completed":
                out[c.seed] = not_finished(result)
                continue
            # The report's seed gets its logits and latency here; the others none (``measure_once`` measures one if
            # it becomes another request's report): a forward pass over the test set in the server's interpreter
            # for every seed, MNIST's 10,000 images through a CNN, drawn by nobody.
            outcome = outcome_of(result) if c.seed == first else DistillOutcome(result, None, None, {})
            remember(key, outcome)
            out[c.seed] = outcome
        return out
    finally:
        for lock in held:
            lock.release()


# ---------------------------------------------------------------- the memo of finished runs, and one run per key


@functools.cache
def shared_results() -> ResultCache:
    """This process's on-disk results cache ($KD_CACHE_DIR or the per-user folder), created on first use."""
    return ResultCache()


_remembered_runs: OrderedDict[str, DistillOutcome] = OrderedDict()
_run_locks: weakref.WeakValueDictionary[str, threading.Lock] = weakref.WeakValueDictionary()  # gone when unused
_guard = threading.Lock()


@contextmanager
def one_run_per_key(key: str, stop: threading.Event, turns: Turns = NO_SCHEDULER) -> Iterator[bool]:
    """Hold the run key's lock (yields True); yields False instead if ``stop`` is set while waiting for it.  The
    wait for an identical run happens inside ``turns.waiting()``: it needs no trainer slot."""
    with _guard:
        lock = _run_locks.setdefault(key, threading.Lock())
    acquired = lock.acquire(blocking=False)
    if not acquired:
        with turns.waiting():
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


def finished(key: str, results: ResultCache | None = None) -> bool:
    """Whether an identical run is finished: in memory, or (given ``results``) in the results cache on disk."""
    with _guard:
        if key in _remembered_runs:
            return True
    return results is not None and results.on_disk and results.path(key).exists()


def remembered(key: str, results: ResultCache | None = None) -> DistillOutcome | None:
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


def from_memory(key: str, results: ResultCache | None, on_event: Callable | None) -> DistillOutcome | None:
    """``remembered``, its training replayed to ``on_event`` (every chart drawn as for a fresh run); else None."""
    outcome = remembered(key, results)
    if outcome is not None:
        replay(outcome.result.history, outcome.result.config, on_event, outcome.result.steps)
    return outcome


def remember(key: str, outcome: DistillOutcome) -> None:
    """Keep a finished run in memory, the least recently served dropped beyond ``REMEMBERED_RUNS``."""
    with _guard:
        _remembered_runs[key] = outcome
        _remembered_runs.move_to_end(key)
        while len(_remembered_runs) > REMEMBERED_RUNS:
            _remembered_runs.popitem(last=False)


def forget_all() -> None:
    """Empty the memo, as a server restart would (the results cache on disk stays)."""
    with _guard:
        _remembered_runs.clear()
