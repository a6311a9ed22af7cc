"""Distill over several seeds: seeds ``seed … seed+N−1``, each a teacher (cached after the first time), a KD
student and a scratch baseline; the headline is KD − baseline over the seeds, with its 95 % interval.

Every seed keeps what ``runs.distill`` gives one run: the results cache (memory, then disk) and one run per key
at a time, so a classroom of identical clicks trains once.  Seeds run in parallel where the server has free
trainer slots: the job keeps its own slot and takes up to N−1 more, only if they are free now and nobody is
queued (``jobs.extra_slots``), and no more than the load average says are idle (other work on the machine
counts too), and runs that many seeds at once in worker processes
(``kd_core.executors.make_executor``; ``KD_EXECUTOR=ray`` selects Ray).  Seeds another session is training
right now, and all seeds when no slot is free, run one after another through ``runs.distill``.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Callable

from dashboard import jobs, runs
from dashboard.progress import SeedEvent
from kd_core import ResultCache, RunConfig, TeacherCache
from kd_core import executors
from kd_core.executors import make_executor
from kd_core.pipeline import load, replay
from kd_core.seeds import SeedsResult, SeedTask, run_task
from kd_core.stats import Interval


@dataclass
class SeedsOutcome:
    """One Distill over consecutive seeds: a ``runs.DistillOutcome`` per seed (the first with logits and latency)."""

    config: RunConfig  # the settings asked for; seed = the first seed
    outcomes: list[runs.DistillOutcome]
    parallel: int = 1  # how many seeds trained at once (at most)

    @property
    def first(self) -> runs.DistillOutcome:
        return self.outcomes[0]

    @property
    def completed(self) -> list[runs.DistillOutcome]:
        return [o for o in self.outcomes if o.result.status == "completed"]

    @property
    def status(self) -> str:
        return "completed" if self.outcomes and len(self.completed) == len(self.outcomes) else "cancelled"

    @property
    def gains(self) -> list[tuple[int, float]]:
        """(seed, KD − baseline as a fraction) per completed seed."""
        return [(o.result.config.seed, o.result.kd_minus_baseline) for o in self.completed
                if o.result.kd_minus_baseline is not None]

    @property
    def interval(self) -> Interval | None:
        """KD − baseline over the completed seeds, as kd-train --seeds computes it."""
        return SeedsResult([o.result for o in self.outcomes]).interval


def warm_workers() -> None:
    """Start the worker processes' fork server now (it imports torch and kd_core once, a few seconds), so that the
    first Distill over seeds does not wait for it.  Called once per server, in a background thread."""
    if os.environ.get("KD_EXECUTOR", "local") == "local":
        executors.start_fork_server()


def idle_cores() -> int:
    """Cores nobody uses now (this job's own included as busy), from the 1-minute load average: the scheduler's
    free slots count only this server's trainings, and on a machine busy with other work, more worker
    processes only make every seed slower."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # not on every platform
        return os.cpu_count() or 1
    return max(0, int((os.cpu_count() or 1) - load + 0.5))


def seed_configs(config: RunConfig, seeds: int) -> list[RunConfig]:
    return [config.replace(seed=config.seed + i) for i in range(seeds)]


def _tagged(on_event: Callable, seed: int) -> Callable:
    return lambda event: on_event(SeedEvent(seed, event))


def distill_seeds(config: RunConfig, seeds: int, cache: TeacherCache, on_event: Callable, stop: threading.Event,
                  results: ResultCache | None = None) -> SeedsOutcome:
    """``seeds`` distillations of ``config`` (seeds config.seed …), in parallel where trainer slots are free."""
    asked = {} if results is None else {"results": results}  # runs.distill's own default otherwise
    results = results if results is not None else runs.shared_results()
    configs = seed_configs(config, seeds)
    outcomes: dict[int, runs.DistillOutcome] = {}
    for c in configs:  # what this server ran before is ready at once
        remembered = runs._remembered(load(c)[0].run_key(), results)
        if remembered is not None:
            replay(remembered.result.history, remembered.result.config, _tagged(on_event, c.seed), remembered.result.steps)
            outcomes[c.seed] = remembered
    todo = [c for c in configs if c.seed not in outcomes]
    parallel = 1
    wanted = min(len(todo) - 1, idle_cores())
    if wanted > 0 and not stop.is_set():
        with jobs.extra_slots(wanted) as more:
            if more:
                parallel = more + 1
                outcomes.update(_in_parallel(todo, parallel, cache, results, on_event, stop))
    for c in todo:  # one after another: no free slot, or a seed another session was training
        if stop.is_set():
            break
        if c.seed not in outcomes:
            outcomes[c.seed] = runs.distill(c, cache, _tagged(on_event, c.seed), stop, **asked)
    ordered = [outcomes[c.seed] for c in configs if outcomes.get(c.seed) is not None]
    if stop.is_set() or len(ordered) < len(configs):
        return SeedsOutcome(config, ordered, parallel)
    first = ordered[0]
    if first.result.status == "completed" and (not first.latency_seconds or first.student_logits is None):
        ordered[0] = runs.outcome_of(first.result)  # the report's latency and the bars come from the first seed
    return SeedsOutcome(config, ordered, parallel)


def _in_parallel(configs: list[RunConfig], workers: int, cache: TeacherCache, results: ResultCache,
                 on_event: Callable, stop: threading.Event) -> dict[int, runs.DistillOutcome]:
    """The seeds whose run key is free, ``workers`` at a time in worker processes; each seed's key is held meanwhile."""
    held, mine = [], []
    try:
        for c in configs:
            key = load(c)[0].run_key()
            lock = runs.try_lock(key)
            if lock is None:
                continue  # an identical run is training in another session: runs.distill waits for it later
            held.append(lock)
            mine.append((key, c))
        if len(mine) < 2:
            return {}
        try:
            executor = make_executor(os.environ.get("KD_EXECUTOR", "local"), jobs=min(workers, len(mine)))
        except (ValueError, ImportError, RuntimeError):
            return {}  # Ray asked for but not usable: the seeds run one after another instead
        tasks = [SeedTask(c, cache.disk_folder, results.disk_folder) for _, c in mine]
        relay = lambda index, event: on_event(SeedEvent(mine[index][1].seed, event))  # noqa: E731
        finished = executor.map(run_task, tasks, relay, stop)
        out = {}
        for (key, c), result in zip(mine, finished):
            if result.status != "completed":
                out[c.seed] = runs.DistillOutcome(result, None, None, {})
                continue
            outcome = runs.outcome_of(result, latency=False)
            runs._remember(key, outcome)
            out[c.seed] = outcome
        return out
    finally:
        for lock in held:
            lock.release()
