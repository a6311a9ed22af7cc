"""Distill over several seeds: seeds ``seed … seed+N−1``, each a teacher (cached after the first time), a KD
student and a scratch baseline; the headline is KD − baseline over the seeds, with its 95 % interval.

Page side: which seeds to serve when, among the page's jobs.  The engine serves each seed (kd_core/runs/served.py:
the memo of finished runs, the results cache, one run per key at a time, the trainings in worker processes, the
logits and the latency).  Seeds run in parallel where the server has free trainer slots: the job keeps its own slot
and takes up to N−1 more, only if they are free now and nobody is queued (``jobs.extra_slots``), and no more than
the load average says are idle (other work on the machine counts too), and ``served.train_seeds`` runs that many
seeds at once in worker processes — one worker process when no other slot is free, never the server's own
interpreter (``KD_EXECUTOR=ray`` selects Ray).  Seeds another session is training right now go through
``runs.distill``, which waits for them.

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
from kd_core.runs import served
from kd_core.runs.seeds import SeedsResult
from kd_core.runs.setup import load
from kd_core.stats import Interval


@dataclass
class SeedsOutcome:
    """One Distill over consecutive seeds: a ``served.DistillOutcome`` per seed (the first with logits and latency)."""

    config: RunConfig  # the settings asked for; seed = the first seed
    outcomes: list[served.DistillOutcome]
    parallel: int = 1  # how many seeds trained at once (at most)
    lesson: str | None = None  # the lesson chosen when it was first shown (sidebar.report_lesson); None: not yet

    @property
    def first(self) -> served.DistillOutcome:
        return self.outcomes[0]

    @property
    def completed(self) -> list[served.DistillOutcome]:
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
    results = results if results is not None else served.shared_results()
    return not all(k in _wanted_before(None) or served.finished(k, results) for k in keys)


def _wait_for_earlier(keys: list[str], results: ResultCache, stop: threading.Event) -> None:
    """When every unfinished run of this job is one an earlier job asks for, wait for them without a slot."""
    me = jobs._this_job()
    pending = lambda: [k for k in keys if not served.finished(k)]  # in memory: on disk, it may be mid-map  # noqa: E731
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
    results = results if results is not None else served.shared_results()
    configs = seed_configs(config, seeds)
    _wait_for_earlier([load(c)[0].run_key() for c in configs], results, stop)
    outcomes: dict[int, served.DistillOutcome] = {}
    for c in configs:  # what this server ran before is ready at once
        remembered = served.from_memory(load(c)[0].run_key(), results, _tagged(on_event, c.seed))
        if remembered is not None:
            outcomes[c.seed] = remembered
    todo = [c for c in configs if c.seed not in outcomes]
    to_train = [c for c in todo if not served.finished(load(c)[0].run_key(), results)]  # stored: runs.distill reads
    parallel = 1
    if len(to_train) > 1 and not stop.is_set():
        todo = _teacher_order(to_train, cache, stop) + [c for c in todo if c not in to_train]
        with jobs.trainer_slot() as slot:
            with jobs.extra_slots(min(len(to_train) - 1, idle_cores()) if slot else 0) as more:
                parallel = more + 1
                if slot:
                    relay = lambda seed, event: on_event(SeedEvent(seed, event))  # noqa: E731
                    first = configs[0].seed
                    outcomes.update(
                        served.train_seeds(todo[: len(to_train)], parallel, cache, results, relay, stop, first)
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
    if first.result.status == "completed" and not first.has_measurements:  # the report's latency and the bars
        ordered[0] = served.measure_once(configs[0], first, stop, runs.PAGE_TURNS)
    return SeedsOutcome(config, ordered, parallel)
