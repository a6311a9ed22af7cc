"""Sweeps: a KD student for every value of one setting and every seed, against the scratch baseline.

    sweep("temperature", [1, 2, 4, 8, 16], seeds, config) -> [SweepRow, ...]

Every row has the very numbers ``kd-train`` gives for that value, seed and epochs.  Each seed's teacher is
trained once (then loaded from the cache), and the scratch baseline — which ignores T and λ — is trained once
per seed and looked up for every value.  The trainings go through an executor, so ``--jobs 2`` uses two cores.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from typing import Callable, Iterable, Literal, Sequence

import torch

from kd_core.config import ConfigError, RunConfig
from kd_core.execution.executors import Executor, InProcess
from kd_core.runs.cache import TeacherCache
from kd_core.runs.setup import RunSetup, load
from kd_core.train.loop import Cancelled
from kd_core.train.records import Phase, ProgressEvent, StopFlag

# Settings a sweep can vary: RunConfig field -> how the CLI spells it.
SWEEP_PARAMS: dict[str, str] = {
    "temperature": "temperature",
    "lam": "lam",
    "student_fraction": "student-fraction",
    "student_width": "student-width",
    "loss": "loss",
}


@dataclass(frozen=True)
class SweepRow:
    """One (value, seed): accuracies as fractions; ``epochs`` is what the students trained."""

    value: float | str  # a method's name when the sweep is over the loss
    seed: int
    student_accuracy: float
    baseline_accuracy: float | None
    teacher_accuracy: float
    epochs: int

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class SweepEvent:
    """A training step or epoch inside the sweep (``kind="progress"``), or a finished row (``kind="row"``).

    ``done``/``total`` count trainings (a teacher — instant when cached —, a baseline, a KD student);
    ``fraction`` also counts the share of the trainings under way already done.
    """

    kind: Literal["progress", "row"]
    done: int
    total: int
    fraction: float
    seed: int
    value: float | None  # None while a seed's teacher trains
    phase: Phase
    progress: ProgressEvent | None = None
    row: SweepRow | None = None


SweepCallback = Callable[[SweepEvent], None]


def normalize_param(param: str) -> str:
    """``"student-fraction"`` → ``"student_fraction"``; ValueError for anything not sweepable."""
    name = param.strip().lower().replace("-", "_")
    name = {"t": "temperature", "lambda": "lam", "λ": "lam"}.get(name, name)
    if name not in SWEEP_PARAMS:
        raise ValueError(f"cannot sweep '{param}'; choose one of: {', '.join(SWEEP_PARAMS.values())}")
    return name


def sweep_configs(param: str, values: Sequence[float], seeds: Sequence[int], base_config: RunConfig) -> list[RunConfig]:
    """The resolved config (``pipeline.load``) of every (seed, value) pair, seeds outer; ConfigError names the first
    bad one.  With ``base_config.equal_steps`` a student on a fraction trains for more epochs (``epochs`` in its
    row)."""
    param = normalize_param(param)
    if not values:
        raise ConfigError("a sweep needs at least one value")
    if not seeds:
        raise ConfigError("a sweep needs at least one seed")
    configs = []
    for seed in seeds:
        for value in values:
            try:
                value = int(value) if param == "student_width" and float(value).is_integer() else value
                configs.append(load(base_config.replace(**{param: value, "seed": seed}))[0])
            except ConfigError as error:
                raise ConfigError(f"{SWEEP_PARAMS[param]} value {value!r}: {error}") from None
    return configs


def _baseline_key(config: RunConfig) -> RunConfig:
    """Two configs with the same key train the very same scratch baseline (it ignores T, λ and the KD loss)."""
    return config.replace(temperature=1.0, lam=1.0, loss="kd", loss_args=())


@dataclass(frozen=True)
class _Training:
    """One training of a sweep, as an executor task: a seed's teacher, or a baseline or KD student of a config."""

    config: RunConfig
    phase: Phase
    cache_folder: str | None


_local = threading.local()  # per thread (and so per worker process): the set-up of the last seed trained here


def _setup(job: _Training) -> RunSetup:
    """The seed's set-up — dataset, teacher, the teacher's logits over each student view — built once per worker
    and reused by every following training of that seed (tasks come seed by seed), not reloaded per task."""
    # The thread count is part of it: the teacher's logits depend on it in their last bits.
    key = (job.config.teacher_key(), job.config.data_dir, job.cache_folder, torch.get_num_threads())
    if getattr(_local, "key", None) != key:
        _local.key, _local.setup = None, None  # drop the previous seed's first: one set-up held at a time
        _local.setup, _local.key = RunSetup(job.config), key
    return _local.setup


def _forget_setup() -> None:
    _local.key, _local.setup = None, None


def _train(job: _Training, on_event, stop) -> float | None:
    """The test accuracy of the trained model; None if stopped.  Runs wherever the executor puts it."""
    setup = _setup(job)
    try:
        setup.teacher(TeacherCache(job.cache_folder), on_event if job.phase == "teacher" else None, stop)
        if job.phase == "teacher":
            return setup.teacher_evaluation().accuracy
        return setup.train_student(job.config, job.phase, on_event, stop).report.accuracy
    except Cancelled:
        return None


@dataclass(frozen=True)
class _Plan:
    """A sweep's trainings in the order they run, and the baseline training each config's row reads."""

    trainings: list[_Training]
    baselines: dict[tuple[int, RunConfig], _Training]  # (seed, _baseline_key): empty when the sweep has none

    def baseline_of(self, config: RunConfig) -> _Training:
        return self.baselines[(config.seed, _baseline_key(config))]


def _plan(configs: list[RunConfig], seeds: list[int], folder: str | None) -> _Plan:
    """Each seed's teacher first, then seed by seed its baselines and KD students: every row is complete as early
    as possible, and a worker loads a seed's teacher once.  One baseline per seed and distinct baseline setting:
    a row looks it up rather than training a second."""
    per_seed = len(configs) // len(seeds)
    by_seed = {seed: configs[i * per_seed : (i + 1) * per_seed] for i, seed in enumerate(seeds)}
    teachers = [_Training(cs[0], "teacher", folder) for cs in by_seed.values()]
    baselines = {}
    if configs[0].baseline:
        baselines = {(c.seed, _baseline_key(c)): _Training(c, "baseline", folder) for c in configs}
    trainings = teachers + [
        job
        for seed, cs in by_seed.items()
        for job in [b for (s, _), b in baselines.items() if s == seed] + [_Training(c, "student", folder) for c in cs]
    ]
    return _Plan(trainings, baselines)


def _run_trainings(
    plan: _Plan, name: str, executor: Executor, on_event: SweepCallback | None, stop: StopFlag | None
) -> dict[tuple, float]:
    """Every training of ``plan`` in one map through ``executor``, so its workers stay warm from the first to the
    last; progress relayed as SweepEvents.  Returns the accuracies of those that finished, keyed by
    ("teacher", seed) or (phase, config)."""
    trainings, within = plan.trainings, {}  # within: index -> share of that training done
    total = len(trainings)

    def relay(index: int, event: ProgressEvent) -> None:
        job = trainings[index]
        within[index] = 1.0 if event.replayed else event.step / event.steps
        if on_event is not None:
            done = sum(1 for share in within.values() if share >= 1.0)
            fraction = sum(within.values()) / total
            value = None if job.phase == "teacher" else getattr(job.config, name)
            on_event(SweepEvent("progress", done, total, min(1.0, fraction), job.config.seed, value, job.phase, event))

    try:
        accuracies = executor.map(_train, trainings, relay, stop)
    finally:
        _forget_setup()  # in this process (the in-process executor): no set-up outlives the sweep
    return {
        (job.phase, job.config.seed if job.phase == "teacher" else job.config): accuracy
        for job, accuracy in zip(trainings, accuracies)
        if accuracy is not None
    }


def _rows(
    plan: _Plan, finished: dict[tuple, float], configs: list[RunConfig], values: list, on_event: SweepCallback | None
) -> list[SweepRow]:
    """The row of every (config, value) whose teacher, KD student and baseline (where it has one) all finished,
    each announced as a SweepEvent; the others (stopped) are left out."""
    total, rows = len(plan.trainings), []
    for config, value in zip(configs, values):
        teacher, student = finished.get(("teacher", config.seed)), finished.get(("student", config))
        baseline = finished.get(("baseline", plan.baseline_of(config).config)) if plan.baselines else None
        if teacher is None or student is None or (plan.baselines and baseline is None):
            continue
        row = SweepRow(value, config.seed, student, baseline, teacher, config.epochs)
        rows.append(row)
        if on_event is not None:
            on_event(
                SweepEvent("row", len(finished), total, len(finished) / total, config.seed, value, "student", row=row)
            )
    return rows


def sweep(
    param: str,
    values: Sequence[float],
    seeds: Iterable[int],
    base_config: RunConfig,
    on_event: SweepCallback | None = None,
    stop: StopFlag | None = None,
    cache: TeacherCache | None = None,
    executor: Executor | None = None,
) -> list[SweepRow]:
    """Train a KD student for every value of ``param`` and every seed; returns the rows, seeds outer.

    The trainings are planned (``_plan``), run in one map through ``executor`` (in parallel where it has workers),
    then gathered into rows.  A student whose teacher another worker is still training waits for it on the cache's
    lock.  A set ``stop`` ends the sweep between steps and returns the rows finished so far.  Raises ConfigError
    (any bad value, checked before anything trains), DatasetUnavailable, Diverged.
    """
    values, seeds = list(values), list(seeds)
    configs = sweep_configs(param, values, seeds, base_config)
    cache = cache if cache is not None else TeacherCache()
    executor = executor if executor is not None else InProcess()
    plan = _plan(configs, seeds, cache.disk_folder)
    finished = _run_trainings(plan, normalize_param(param), executor, on_event, stop)
    return _rows(plan, finished, configs, values * len(seeds), on_event)


def sweep_json(
    param: str, rows: list[SweepRow], base_config: RunConfig | None = None, seconds: float | None = None
) -> dict:
    """The documented ``kd-sweep --json`` format: ``{"param": ..., "runs": [...]}`` (plus the base config and time)."""
    out: dict = {"param": normalize_param(param), "runs": [row.to_dict() for row in rows]}
    if base_config is not None:
        out["config"] = base_config.to_dict()
    if seconds is not None:
        out["seconds"] = seconds
    return out
