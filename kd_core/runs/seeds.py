"""One setting over several seeds, and the verdict: does KD help here, with what uncertainty?

    result = run_seeds(config, seeds=5, executor=make_executor("local", jobs=2))
    result.interval            # KD − baseline over the seeds: mean, sd and its 95 % interval
    result.interval.verdict    # "helps" | "no clear difference" | "hurts"

Seeds run from ``config.seed`` to ``config.seed + seeds − 1``, each a full run (its own teacher, a KD student
and a baseline from the same initial weights), through the executor: in parallel when it has workers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from kd_core.config import ConfigError, RunConfig, validate
from kd_core.execution.executors import Executor, InProcess
from kd_core.models.own_teacher import is_external
from kd_core.runs.cache import ResultCache, TeacherCache
from kd_core.runs.pipeline import run
from kd_core.runs.setup import RunSetup
from kd_core.stats import Interval
from kd_core.train.loop import Cancelled
from kd_core.train.records import ProgressEvent, RunResult, StopFlag

MAX_SEEDS = 100
SeedCallback = Callable[[int, ProgressEvent], None]  # (seed, event)


@dataclass(frozen=True)
class SeedTask:
    """What a worker needs to run one seed: the config and where the caches live (paths travel, objects not).
    ``part``: "run" (the seed's run), or "teacher" / "baseline": train only that into the cache (see
    ``ahead_of_seeds``); ``ahead``: the parts handed to tasks of their own in the same map.

    A part's events are passed on by whichever task trains it; its replays from the cache are dropped, in the
    part's task and in the seed's.  An executor may start a seed's task before its parts' tasks (Ray does not
    keep the order), and then the seed's task trains the teacher and the teacher's task only finds it cached."""

    config: RunConfig
    teacher_cache: str | None
    result_cache: str | None
    part: str = "run"
    ahead: tuple[str, ...] = ()


def run_task(task: SeedTask, on_event, stop) -> RunResult | None:
    """One seed's run, wherever the executor runs it (module level, so it can be pickled); None for a part."""
    if task.part != "run":
        on_event = None if on_event is None else _without_replays((task.part,), on_event)
        setup, cache = RunSetup(task.config), TeacherCache(task.teacher_cache)
        try:
            setup.teacher(cache, on_event, stop) if task.part == "teacher" else setup.baseline_into(
                cache, on_event, stop
            )
        except Cancelled:
            pass  # the seed's own task reports the cancelled run
        return None
    if task.ahead and on_event is not None:
        on_event = _without_replays(task.ahead, on_event)
    results = None if task.result_cache is None else ResultCache(task.result_cache)
    result = run(task.config, on_event, stop, TeacherCache(task.teacher_cache), results)
    result.models = {name: model.cpu() for name, model in result.models.items()}  # the way back is through the CPU
    return result


def _without_replays(phases: tuple[str, ...], on_event):
    return lambda event: None if event.phase in phases and event.replayed else on_event(event)


def ahead_of_seeds(tasks: list[SeedTask], jobs: int) -> list[SeedTask]:
    """``tasks``, after a task for each teacher and then each scratch baseline still to train (of seeds whose
    run is not cached whole), when ``jobs`` workers share a disk cache.

    Why: a worker that takes a seed trains its teacher, then both students, one after another.  Three seeds on
    two workers then end with one seed's whole run alone on one core.  In smaller pieces — the teachers first,
    then the baselines (which need no teacher), then each seed's KD student — the workers stay busy to the end.
    Every training still runs on one worker's threads, so the numbers are those of the plain order.  A task that
    needs a part another worker is training waits for it (the cache's claim) instead of training it twice.
    """
    if jobs < 2 or len(tasks) < 2:
        return list(tasks)
    parts: dict[str, list[SeedTask]] = {"teacher": [], "baseline": []}
    then, keys = [], set()
    for task in tasks:
        then.append(task)
        if task.teacher_cache is None or task.part != "run":
            continue  # a part kept in one process's memory cannot be handed to another
        try:
            config = validate(task.config)
        except ConfigError:
            continue  # the seed's own task reports it
        if task.result_cache is not None and ResultCache(task.result_cache).path(config.run_key()).exists():
            continue  # nothing to train
        cache = TeacherCache(task.teacher_cache)
        missing = {
            "teacher": (
                config.teacher_key(),
                not is_external(config.teacher) and not cache.path(config.teacher_key()).exists(),
            ),
            "baseline": (
                config.baseline_key(),
                config.baseline and not cache.baselines.path(config.baseline_key()).exists(),
            ),
        }
        ahead = []
        for part, (key, needed) in missing.items():
            if needed and (part, key) not in keys:
                keys.add((part, key))
                parts[part].append(SeedTask(config, task.teacher_cache, task.result_cache, part=part))
                ahead.append(part)
        then[-1] = replace(task, ahead=tuple(ahead))
    return parts["teacher"] + parts["baseline"] + then


def map_seed_tasks(
    executor: Executor,
    task_function,
    tasks: list[SeedTask],
    on_event: SeedCallback | None,
    stop: StopFlag | None,
    wrap=None,
) -> list:
    """``executor.map`` of ``task_function`` over ``ahead_of_seeds(tasks)``: the seed tasks' results, in order.
    Events come back as (seed, event), a part's under its seed.  ``wrap``: how each task is handed to
    ``task_function`` (the dashboard adds its environment)."""
    items = ahead_of_seeds(tasks, executor.jobs)
    relay = None if on_event is None else (lambda index, event: on_event(items[index].config.seed, event))
    results = executor.map(task_function, [wrap(t) for t in items] if wrap else items, relay, stop)
    return results[len(items) - len(tasks) :]


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
        out["runs"] = [
            {"seed": r.config.seed, **{k: v for k, v in r.to_json().items() if k in keys}} for r in self.runs
        ]
        interval = self.interval
        out["summary"] = (
            None if interval is None else {"kd_minus_baseline": interval.to_dict(), "verdict": interval.verdict}
        )
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
    return SeedsResult(map_seed_tasks(executor, run_task, tasks, on_event, stop))
