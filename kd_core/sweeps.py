"""Sweeps: a KD student for every value of one setting and every seed, against the scratch baseline.

    sweep("temperature", [1, 2, 4, 8, 16], seeds, config) -> [SweepRow, ...]

Every row has the very numbers ``kd-train`` gives for that value, seed and epochs: each seed's run is set up
once (``pipeline.RunSetup``: data, device, teacher from the cache), and the scratch baseline — which ignores T
and λ — is looked up among the baselines this seed already trained before a new one is trained.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable, Iterable, Literal, Sequence


from .cache import TeacherCache
from .config import ConfigError, RunConfig
from .pipeline import RunSetup, load
from .records import Phase, ProgressEvent, StopFlag
from .train import Cancelled

# Settings a sweep can vary: RunConfig field -> how the CLI spells it.
SWEEP_PARAMS: dict[str, str] = {"temperature": "temperature", "lam": "lam", "student_fraction": "student-fraction"}


@dataclass(frozen=True)
class SweepRow:
    """One (value, seed): accuracies as fractions; ``epochs`` is what the students trained."""

    value: float
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

    ``done``/``total`` count trainings (a teacher — instant when cached —, a baseline, a KD student).
    """

    kind: Literal["progress", "row"]
    done: int
    total: int
    seed: int
    value: float | None  # None while a seed's teacher trains
    phase: Phase
    progress: ProgressEvent | None = None
    row: SweepRow | None = None

    @property
    def fraction(self) -> float:
        within = self.progress.step / self.progress.steps if self.progress is not None and self.progress.steps else 0.0
        return min(1.0, (self.done + within) / self.total) if self.total else 1.0


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
    bad one.  With ``base_config.equal_steps`` a student on a fraction trains for more epochs (``epochs`` in its row)."""
    param = normalize_param(param)
    if not values:
        raise ConfigError("a sweep needs at least one value")
    if not seeds:
        raise ConfigError("a sweep needs at least one seed")
    configs = []
    for seed in seeds:
        for value in values:
            try:
                configs.append(load(base_config.replace(**{param: value, "seed": seed}))[0])
            except ConfigError as error:
                raise ConfigError(f"{SWEEP_PARAMS[param]} value {value!r}: {error}") from None
    return configs


def _baseline_key(config: RunConfig) -> RunConfig:
    """Two configs with the same key train the very same scratch baseline (it ignores T, λ and the KD loss)."""
    return config.replace(temperature=1.0, lam=1.0, loss="kd")


def sweep(
    param: str,
    values: Sequence[float],
    seeds: Iterable[int],
    base_config: RunConfig,
    on_event: SweepCallback | None = None,
    stop: StopFlag | None = None,
    cache: TeacherCache | None = None,
) -> list[SweepRow]:
    """Train a KD student for every value of ``param`` and every seed; returns the rows, seeds outer.

    A set ``stop`` ends the sweep between steps and returns the rows finished so far.
    Raises ConfigError (any bad value, checked before anything trains), DatasetUnavailable, Diverged.
    """
    values, seeds = list(values), list(seeds)
    configs = sweep_configs(param, values, seeds, base_config)
    per_seed = [configs[i * len(values) : (i + 1) * len(values)] for i in range(len(seeds))]
    with_baseline = configs[0].baseline
    total = sum(1 + len(cs) + (len({_baseline_key(c) for c in cs}) if with_baseline else 0) for cs in per_seed)
    done, rows = 0, []

    def relay(seed: int, value: float | None):
        if on_event is None:
            return None
        return lambda event: on_event(SweepEvent("progress", done, total, seed, value, event.phase, progress=event))

    try:
        for seed, seed_configs in zip(seeds, per_seed):
            setup = RunSetup(seed_configs[0])
            setup.teacher(cache, relay(seed, None), stop)
            done += 1
            baselines: dict[RunConfig, float] = {}
            for value, config in zip(values, seed_configs):
                baseline = None
                if with_baseline:
                    key = _baseline_key(config)
                    if key not in baselines:
                        baselines[key] = setup.train_student(config, "baseline", relay(seed, value), stop).report.accuracy
                        done += 1
                    baseline = baselines[key]
                student = setup.train_student(config, "student", relay(seed, value), stop)
                done += 1
                row = SweepRow(value, seed, student.report.accuracy, baseline, setup.teacher_evaluation().accuracy,
                               config.epochs)
                rows.append(row)
                if on_event is not None:
                    on_event(SweepEvent("row", done, total, seed, value, "student", row=row))
    except Cancelled:
        pass
    return rows


def sweep_json(param: str, rows: list[SweepRow], base_config: RunConfig | None = None, seconds: float | None = None) -> dict:
    """The documented ``kd-sweep --json`` format: ``{"param": ..., "runs": [...]}`` (plus the base config and time)."""
    out: dict = {"param": normalize_param(param), "runs": [row.to_dict() for row in rows]}
    if base_config is not None:
        out["config"] = base_config.to_dict()
    if seconds is not None:
        out["seconds"] = seconds
    return out
