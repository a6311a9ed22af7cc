"""Distill over several seeds: seeds ``seed … seed+N−1``, each a teacher (cached after the first time), a KD
student and a scratch baseline; the headline is KD − baseline over the seeds, with its 95 % interval.

Every seed keeps what ``runs.distill`` gives one run: the results cache (memory, then disk) and one run per key
at a time, so a classroom of identical clicks trains once.  Seeds run in parallel where the server has free
trainer slots: the job keeps its own slot and takes up to N−1 more, only if they are free now and nobody is
queued (``jobs.extra_slots``), and no more than the load average says are idle (other work on the machine
counts too), and runs that many seeds at once in worker processes — one worker process when no other slot is
free, never the server's own interpreter (``KD_EXECUTOR=ray`` selects Ray).  Seeds another session is training
right now go through ``runs.distill``, which waits for them.

A request whose runs are all finished or asked for by earlier jobs needs no slot (``needs_a_slot``: the page
starts it without one) and waits for them; a job whose teachers are all being trained by another process waits
for one without its slot, and trains the seeds whose teachers are cached first.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Callable

from dashboard.jobs import runner as jobs
from dashboard.jobs.progress import SeedEvent
from dashboard.runs import distill as runs
from kd_core import ResultCache, RunConfig, TeacherCache
from kd_core.execution import executors
from kd_core.execution.executors import LocalProcesses, make_executor
from kd_core.runs.background import WorkerTask, run_task_niced
from kd_core.runs.seeds import SeedsResult, SeedTask, map_seed_tasks, run_task
from kd_core.runs.setup import load
from kd_core.runs.stored import replay
from kd_core.stats import Interval


@dataclass
class SeedsOutcome:
    """One Distill over consecutive seeds: a ``runs.DistillOutcome`` per seed (the first with logits and latency)."""

    config: RunConfig  # the settings asked for; seed = the first seed
    outcomes: list[runs.DistillOutcome]
    parallel: int = 1  # how many seeds trained at once (at most)
    lesson: str | None = None  # the lesson chosen when it was first shown (sidebar.report_lesson); None: not yet

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
        return [
            (o.result.config.seed, o.result.kd_minus_baseline)
            for o in self.completed
            if o.result.kd_minus_baseline is not None
        ]

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


def run_keys(config: RunConfig, seeds: int) -> list[str]:
    """The run key of every seed (what the results cache and the per-key locks go by)."""
    return [load(c)[0].run_key() for c in seed_configs(config, seeds)]


def teacher_keys(config: RunConfig, seeds: int) -> list[str]:
    """The teacher key of every seed (a job's meta names them: later jobs train shared teachers the other way)."""
    return [load(c)[0].teacher_key() for c in seed_configs(config, seeds)]


def _wanted_before(me: jobs.Job | None) -> set[str]:
    """Run keys that live jobs started before ``me`` ask for (their meta's ``run_keys``)."""
    return {k for job in jobs.live_jobs() if me is None or job.id < me.id for k in job.meta.get("run_keys", ())}


def needs_a_slot(keys: list[str], results: ResultCache | None = None) -> bool:
    """False when every run is finished or asked for by a live job already: the request then needs no trainer
    slot of its own (it waits for those), and must not queue for one to find that out."""
    results = results if results is not None else runs.shared_results()
    return not all(k in _wanted_before(None) or runs.finished(k, results) for k in keys)


def _wait_for_earlier(keys: list[str], results: ResultCache, stop: threading.Event) -> None:
    """When every unfinished run of this job is one an earlier job asks for, wait for them without a slot."""
    me = jobs._this_job()
    pending = lambda: [k for k in keys if not runs.finished(k)]  # in memory: on disk, it may be mid-map  # noqa: E731
    if me is None or not pending() or not set(pending()) <= _wanted_before(me):
        if me is not None:
            me.waiting = None  # the note the page started it with (job_panel.start): it waits for nothing
        return
    with jobs.waiting_for(runs.SAME_RUN):
        while not stop.is_set() and set(pending()) & _wanted_before(me):
            stop.wait(0.2)


_ALREADY_STOPPED = threading.Event()
_ALREADY_STOPPED.set()


def teacher_busy(key: str, cache: TeacherCache) -> bool:
    """Whether another process holds this teacher's claim now (is training it): one try, no wait."""
    with cache.claim(key, _ALREADY_STOPPED) as free:
        return not free


def _teacher_order(configs: list[RunConfig], cache: TeacherCache, stop: threading.Event) -> list[RunConfig]:
    """Seeds whose teacher is cached first; if another process is training one of the other teachers now, or an
    earlier job asks for one, the rest from the far end (that run goes up from its first seed: the two meet once
    instead of waiting on each other's teacher at every seed), waiting without a slot while all of them are busy."""
    keys = {c.seed: load(c)[0].teacher_key() for c in configs}
    cached = lambda c: cache.on_disk and cache.path(keys[c.seed]).exists()  # noqa: E731
    busy = lambda c: not cached(c) and teacher_busy(keys[c.seed], cache)  # noqa: E731
    ready, rest = [c for c in configs if cached(c)], [c for c in configs if not cached(c)]
    if rest and all(busy(c) for c in rest) and not ready:
        with jobs.waiting_for("waiting for a teacher that another run is training (it needs no trainer meanwhile)."):
            while not stop.is_set() and all(busy(c) for c in rest):
                stop.wait(0.2)
    me = jobs._this_job()
    theirs = {
        k for job in jobs.live_jobs() if me is not None and job.id < me.id for k in job.meta.get("teacher_keys", ())
    }
    if any(busy(c) or keys[c.seed] in theirs for c in rest):
        rest.reverse()
    return ready + rest


def distill_seeds(
    config: RunConfig,
    seeds: int,
    cache: TeacherCache,
    on_event: Callable,
    stop: threading.Event,
    results: ResultCache | None = None,
) -> SeedsOutcome:
    """``seeds`` distillations of ``config`` (seeds config.seed …), in worker processes, in parallel where trainer
    slots are free."""
    asked = {} if results is None else {"results": results}  # runs.distill's own default otherwise
    results = results if results is not None else runs.shared_results()
    configs = seed_configs(config, seeds)
    _wait_for_earlier([load(c)[0].run_key() for c in configs], results, stop)
    outcomes: dict[int, runs.DistillOutcome] = {}
    for c in configs:  # what this server ran before is ready at once
        remembered = runs._remembered(load(c)[0].run_key(), results)
        if remembered is not None:
            replay(
                remembered.result.history, remembered.result.config, _tagged(on_event, c.seed), remembered.result.steps
            )
            outcomes[c.seed] = remembered
    todo = [c for c in configs if c.seed not in outcomes]
    to_train = [c for c in todo if not runs.finished(load(c)[0].run_key(), results)]  # stored ones: runs.distill reads
    parallel = 1
    if len(to_train) > 1 and not stop.is_set():
        todo = _teacher_order(to_train, cache, stop) + [c for c in todo if c not in to_train]
        with jobs.trainer_slot() as slot:
            with jobs.extra_slots(min(len(to_train) - 1, idle_cores()) if slot else 0) as more:
                parallel = more + 1
                if slot:
                    outcomes.update(
                        _in_parallel(todo[: len(to_train)], parallel, cache, results, on_event, stop, configs[0].seed)
                    )
    for c in todo:  # a seed another session was training (or a single one): runs.distill waits for it or trains it
        if stop.is_set():
            break
        if c.seed not in outcomes:
            outcomes[c.seed] = runs.distill(c, cache, _tagged(on_event, c.seed), stop, **asked)
    ordered = [outcomes[c.seed] for c in configs if outcomes.get(c.seed) is not None]
    if stop.is_set() or len(ordered) < len(configs):
        return SeedsOutcome(config, ordered, parallel)
    first = ordered[0]
    if first.result.status == "completed" and (not first.latency_seconds or first.student_logits is None):
        ordered[0] = _measured(configs[0], first, stop)  # the report's latency and the bars come from the first seed
    return SeedsOutcome(config, ordered, parallel)


def _measured(config: RunConfig, outcome: runs.DistillOutcome, stop: threading.Event) -> runs.DistillOutcome:
    """``outcome`` with its logits and latency, measured once per run key in the server: identical requests that
    need it at the same time wait for the first measurement (under the run's lock) and take it from memory."""
    key = load(config)[0].run_key()
    with runs._one_run_per_key(key, stop):
        again = runs._remembered(key)
        if again is not None and again.latency_seconds and again.student_logits is not None:
            return again
        measured = runs.outcome_of(outcome.result)
        runs._remember(key, measured)
        return measured


def _in_parallel(
    configs: list[RunConfig],
    workers: int,
    cache: TeacherCache,
    results: ResultCache,
    on_event: Callable,
    stop: threading.Event,
    first: int | None = None,
) -> dict[int, runs.DistillOutcome]:
    """The seeds whose run key is free, ``workers`` at a time in worker processes; each seed's key is held meanwhile.
    Seed ``first`` (the report's) has its latency measured before it is remembered: identical requests waiting for
    it find it complete, instead of each measuring it again in the server."""
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
        if cache.disk_folder is None or results.disk_folder is None:
            return {}  # a cache kept in this process's memory: runs.distill trains here instead
        try:  # one worker too: a training in the server's interpreter would compete with every page run
            executor = (
                LocalProcesses(min(workers, len(mine)), in_process_when_alone=False)
                if runs.in_workers()
                else make_executor(os.environ.get("KD_EXECUTOR", "local"), jobs=min(workers, len(mine)))
            )
        except (ValueError, ImportError, RuntimeError):
            return {}  # Ray asked for but not usable: the seeds run one after another instead
        tasks = [SeedTask(c, cache.disk_folder, results.disk_folder) for _, c in mine]
        relay = lambda seed, event: on_event(SeedEvent(seed, event))  # noqa: E731
        if runs.in_workers():
            finished = map_seed_tasks(executor, run_task_niced, tasks, relay, stop, wrap=WorkerTask)
        else:
            finished = map_seed_tasks(executor, run_task, tasks, relay, stop)
        out = {}
        for (key, c), result in zip(mine, finished):
            if result.status != "completed":
                out[c.seed] = runs.DistillOutcome(result, None, None, {})
                continue
            outcome = runs.outcome_of(result, latency=c.seed == first)
            runs._remember(key, outcome)
            out[c.seed] = outcome
        return out
    finally:
        for lock in held:
            lock.release()
