"""One setting over several seeds, and the verdict: does KD help here, with what uncertainty?

    result = run_seeds(config, seeds=5, executor=make_executor("local", jobs=2))
    result.interval            # KD − baseline over the seeds: mean, sd and its 95 % interval
    result.interval.verdict    # "helps" | "no clear difference" | "hurts"

Seeds run from ``config.seed`` to ``config.seed + seeds − 1``, each a full run (its own teacher, a KD student
and a baseline from the same initial weights), through the executor: in parallel when it has workers.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .cache import ResultCache, TeacherCache
from .config import ConfigError, RunConfig
from .executors import Executor, InProcess
from .pipeline import run
from .records import ProgressEvent, RunResult, StopFlag
from .stats import Interval

MAX_SEEDS = 100
SeedCallback = Callable[[int, ProgressEvent], None]  # (seed, event)


@dataclass(frozen=True)
class SeedTask:
    """What a worker needs to run one seed: the config and where the caches live (paths travel, objects not)."""

    config: RunConfig
    teacher_cache: str | None
    result_cache: str | None


def run_task(task: SeedTask, on_event, stop) -> RunResult:
    """One seed's run, wherever the executor runs it (module level, so it can be pickled)."""
    results = None if task.result_cache is None else ResultCache(task.result_cache)
    result = run(task.config, on_event, stop, TeacherCache(task.teacher_cache), results)
    result.models = {name: model.cpu() for name, model in result.models.items()}  # the way back is through the CPU
    return result


@dataclass
class SeedsResult:
    """Runs of one setting over consecutive seeds; the headline is the paired KD − baseline difference."""

    runs: list[RunResult]

    @property
    def status(self) -> str:
        return "completed" if all(r.status == "completed" for r in self.runs) else "cancelled"

    @property
    def seeds(self) -> list[int]:
        return [r.config.seed for r in self.runs]

    @property
    def interval(self) -> Interval | None:
        """KD − baseline (fractions) over the completed seeds; None without a baseline or a completed seed."""
        gains = [r.kd_minus_baseline for r in self.runs if r.status == "completed" and r.kd_minus_baseline is not None]
        return Interval.of(gains) if gains else None

    def to_json(self) -> dict:
        """The first seed's run in the ``kd-train --json`` format, plus ``runs`` (one per seed) and ``summary``."""
        out = self.runs[0].to_json()
        keys = ("teacher", "student", "baseline", "omitted_class", "kept_classes")
        out["runs"] = [{"seed": r.config.seed, **{k: v for k, v in r.to_json().items() if k in keys}} for r in self.runs]
        interval = self.interval
        out["summary"] = None if interval is None else {"kd_minus_baseline": interval.to_dict(), "verdict": interval.verdict}
        return out


def run_seeds(
    config: RunConfig,
    seeds: int,
    on_event: SeedCallback | None = None,
    stop: StopFlag | None = None,
    cache: TeacherCache | None = None,
    results: ResultCache | None = None,
    executor: Executor | None = None,
) -> SeedsResult:
    """``seeds`` runs of ``config``, seeds ``config.seed`` … ``config.seed + seeds − 1``."""
    if isinstance(seeds, bool) or not isinstance(seeds, int) or not 1 <= seeds <= MAX_SEEDS:
        raise ConfigError(f"seeds must be a whole number between 1 and {MAX_SEEDS}, got {seeds!r}")
    cache = cache if cache is not None else TeacherCache()
    results_folder = None if results is None else results.disk_folder
    tasks = [SeedTask(config.replace(seed=config.seed + i), cache.disk_folder, results_folder) for i in range(seeds)]
    executor = executor if executor is not None else InProcess()
    relay = None if on_event is None else (lambda index, event: on_event(tasks[index].config.seed, event))
    return SeedsResult(executor.map(run_task, tasks, relay, stop))
