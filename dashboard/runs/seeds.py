"""Distill over several seeds: seeds ``seed … seed+N−1``, each a teacher (cached after the first time), a KD
student and a scratch baseline; the headline is KD − baseline over the seeds, with its 95 % interval.

Page side: which seeds to serve when, among the page's jobs.  The engine serves each seed (kd_core/runs/served.py:
the memo of finished runs, the results cache, one run per key at a time, the trainings in worker processes, the
logits and the latency).  A lesson's seeds share the cores as ``kd-train --lesson`` shares them: as many train at
once as there are trainer slots (one per core) — the job keeps its own slot and takes up to N−1 more, only if they
are free now and nobody is queued (``jobs.extra_slots``) — whatever else the machine runs: other work shares the
cores with them instead of taking them away.  ``served.train_seeds`` runs them in worker processes, their teachers
and baselines handed out ahead (kd_core/runs/seeds.py ``ahead_of_seeds``) — one worker process when no other slot is
free, never the server's own interpreter (``KD_EXECUTOR=ray`` selects Ray).  Seeds another session is training right
now go through ``runs.distill``, which waits for them.

The promise: a report within ``PROMISE_SECONDS`` of the click.  A request over more than ``FIRST_SEEDS`` seeds trains
its first ``FIRST_SEEDS`` first; if other Distills are then queued for a trainer, or the rest would not be done within
the promise, the job shows the report of those seeds (``jobs.report_so_far``: a ``SeedsOutcome`` whose
``so_far_line`` says "3 of 8 seeds so far — the rest are training") and queues again behind the others
(``jobs.back_of_the_line``) for the rest, which complete the report.  A request waiting for an identical one shows
the same first report as soon as those seeds are in.

A request whose runs are all finished or asked for by earlier jobs needs no slot (``needs_a_slot``: the page
starts it without one) and waits for them; a job whose teachers are all being trained by another process waits
for one without its slot, and trains the seeds whose teachers are cached first.  A job's first event for each of
its trainings is its ``Pace`` (dashboard/jobs/progress.py: the measured step times its ETA starts from); seeds
other than the first send one replayed event per phase, not the thousands of a cached curve only the first seed's
live charts would draw.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Callable

from dashboard.jobs import estimate
from dashboard.jobs import runner as jobs
from dashboard.jobs.progress import Pace, SeedEvent, planned_steps
from dashboard.runs import distill as runs
from kd_core import ResultCache, RunConfig, TeacherCache
from kd_core.execution import executors
from kd_core.runs import served
from kd_core.runs.background import NICENESS
from kd_core.runs.seeds import SeedsResult
from kd_core.runs.setup import load
from kd_core.stats import Interval

log = logging.getLogger(__name__)

FIRST_SEEDS = 3  # a report that cannot keep the promise comes first from this many seeds
PROMISE_SECONDS = 30.0  # from the click to the report, for a class on a busy server
PHASES = ("teacher", "student", "baseline")


@dataclass
class SeedsOutcome:
    """One Distill over consecutive seeds: a ``served.DistillOutcome`` per seed (the first with logits and latency)."""

    config: RunConfig  # the settings asked for; seed = the first seed
    outcomes: list[served.DistillOutcome]
    parallel: int = 1  # how many seeds trained at once (at most)
    lesson: str | None = None  # the lesson chosen when it was first shown (sidebar.report_lesson); None: not yet
    planned: int | None = None  # the seeds asked for, in a first report of fewer (``jobs.report_so_far``)

    @property
    def pending(self) -> int:
        """Seeds asked for that this report does not hold yet: they are training (0 for a whole report)."""
        return 0 if self.planned is None else max(0, self.planned - len(self.outcomes))

    @property
    def so_far_line(self) -> str | None:
        """What a first report says about itself ("3 of 8 seeds so far — the rest are training; …"); None for a
        whole report."""
        if not self.pending:
            return None
        return (
            f"{len(self.outcomes)} of {self.planned} seeds so far — the rest are training; this report updates when "
            "they finish."
        )

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
    first Distill over seeds does not wait for it; and time the steps of the settings the page opens with (the
    digits defaults the opening lesson trains: its Pace), so that a class's first Distill does not time them in the
    server's interpreter while thirty pages load.  Called once per server, in a background thread."""
    if os.environ.get("KD_EXECUTOR", "local") == "local":
        executors.start_fork_server()
    phase_cpu(RunConfig())


def idle_cores() -> int:
    """How many seeds of a Distill can train at once now, as ``distill_seeds`` takes them: the trainer slots free
    now, at least one (the job's own, when it gets it).  Not the cores nobody uses: ``kd-train`` shares the cores
    with whatever else runs, and so do the page's seeds; what that costs each of them, the estimate reads from the
    load average (``estimate.load_slowdown``)."""
    return max(1, jobs.free_slots())


def seed_configs(config: RunConfig, seeds: int) -> list[RunConfig]:
    return [config.replace(seed=config.seed + i) for i in range(seeds)]


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


def _wait_for_earlier(configs: list[RunConfig], keys: dict[int, str], results: ResultCache, stop) -> None:
    """When every unfinished run of this job is one an earlier job asks for, wait for them without a slot; show
    the first report as soon as its seeds are in, when the job training them showed one (it queued again for the
    rest)."""
    me = jobs._this_job()
    pending = lambda: [k for k in keys.values() if not served.finished(k)]  # in memory: on disk, it may be mid-map  # noqa: E731
    if me is None or not pending() or not set(pending()) <= _wanted_before(me):
        if me is not None:
            me.waiting = None  # the note the page started it with (job_panel.start): it waits for nothing
        return
    head = [keys[c.seed] for c in configs[:FIRST_SEEDS]]
    shown = len(configs) <= FIRST_SEEDS
    with jobs.waiting_for(runs.SAME_RUN):
        while not stop.is_set() and set(pending()) & _wanted_before(me):
            if not shown and all(served.finished(k) for k in head) and _reported_before(me, head):
                shown = _report_first(configs, keys, results, stop)
            stop.wait(0.2)


def _reported_before(me: jobs.Job, keys: list[str]) -> bool:
    """Whether a live job started before ``me`` asks for all of ``keys`` and has shown a first report."""
    return any(
        job.so_far is not None and set(keys) <= set(job.meta.get("run_keys", ()))
        for job in jobs.live_jobs()
        if job.id < me.id
    )


def _report_first(
    configs: list[RunConfig],
    keys: dict[int, str],
    results: ResultCache,
    stop,
    ours: dict[int, served.DistillOutcome] | None = None,
) -> bool:
    """Show the report of the first ``FIRST_SEEDS`` seeds while the rest train: ``ours`` (this job's outcomes),
    else from memory; False if one of them is not there (forgotten, not completed)."""
    head = configs[:FIRST_SEEDS]
    ours = ours or {}
    found = [ours.get(c.seed) or served.remembered(keys[c.seed], results) for c in head]
    if any(o is None or o.result.status != "completed" for o in found):
        return False
    if not found[0].has_measurements:  # the report's latency and the bars
        found[0] = served.measure_once(head[0], found[0], stop, runs.PAGE_TURNS)
    jobs.report_so_far(SeedsOutcome(head[0], found, planned=len(configs)))
    return True


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


_benchmarks: dict[tuple, dict] = {}  # estimate.benchmark_key -> estimate.run_benchmark's answer, for this server
_measuring: set[tuple] = set()  # keys a thread is measuring now
_benchmarks_lock = threading.Lock()


def phase_cpu(config: RunConfig) -> dict[str, float] | None:
    """Each phase's measured CPU seconds per step (the step benchmark and the evaluations after each epoch,
    dashboard/jobs/estimate.py), measured once per server in a worker process at the trainings' priority — never
    in the server's interpreter, whose page runs it would hold up — and remembered.  None where it cannot be
    measured (an own teacher, data the benchmark cannot build), or while another thread measures it (the first
    Distill of a class while the server's warm-up does): the ETA then waits for timed steps, and nothing else
    changes."""
    try:
        validated, dataset = load(config)
        key = estimate.benchmark_key(validated, len(dataset.y_test))
        with _benchmarks_lock:
            measured, busy = _benchmarks.get(key), key in _measuring
            if measured is None and not busy:
                _measuring.add(key)
        if measured is None and busy:
            return None
        if measured is None:
            try:
                if served.in_workers():
                    worker = executors.LocalProcesses(1, in_process_when_alone=False)
                    measured = worker.map(benchmark_niced, [key])[0]
                else:
                    measured = estimate.run_benchmark(key)
            finally:
                with _benchmarks_lock:
                    _measuring.discard(key)
            with _benchmarks_lock:
                _benchmarks[key] = measured
        return estimate.phase_seconds(validated, planned_steps(config, dataset, PHASES), key[1], measured)
    except Exception:
        log.info("no step benchmark for %s", config, exc_info=True)
        return None


def benchmark_niced(key: tuple, on_event=None, stop=None) -> dict:
    """``estimate.run_benchmark`` in a worker process, at the trainings' lower priority (it measures CPU time, which
    priority does not change): the page's own work comes first."""
    if hasattr(os, "setpriority"):
        try:
            os.setpriority(os.PRIO_PROCESS, 0, max(os.getpriority(os.PRIO_PROCESS, 0), NICENESS))
        except OSError:
            pass
    return estimate.run_benchmark(key)


def pace(cpu: dict[str, float] | None, parallel: int) -> Pace | None:
    """What the ETA starts from before a step is timed: ``phase_cpu`` times how much the load on the machine slows
    ``parallel`` trainings down now."""
    if cpu is None:
        return None
    slowdown = estimate.load_slowdown(parallel)  # this server's trainings are in the load average already
    return Pace({p: s * slowdown for p, s in cpu.items()}, parallel, dict(cpu), slowdown, at=time.monotonic())


def _serve(
    stage: list[RunConfig],
    keys: dict[int, str],
    cache: TeacherCache,
    results: ResultCache,
    on_event: Callable,
    stop: threading.Event,
    first: int,
    asked: dict,
) -> tuple[dict[int, served.DistillOutcome], int]:
    """The seeds of ``stage``: those to train in worker processes, in parallel where trainer slots are free; the
    others (stored, or training for another session) one by one through ``runs.distill``.  (outcomes, parallel)."""
    outcomes: dict[int, served.DistillOutcome] = {}
    to_train = [c for c in stage if not served.finished(keys[c.seed], results)]  # stored: runs.distill reads them
    order, parallel = list(stage), 1
    cpu = phase_cpu(to_train[0]) if to_train and not stop.is_set() else None  # before the slots: once per server
    if len(to_train) > 1 and not stop.is_set():
        order = _teacher_order(to_train, cache, stop) + [c for c in stage if c not in to_train]
        with jobs.trainer_slot() as slot:
            with jobs.extra_slots(min(len(to_train), jobs.MAX_CONCURRENT) - 1 if slot else 0) as more:
                parallel = more + 1
                if slot:
                    _send(on_event, first, pace(cpu, parallel))
                    relay = _relay(on_event, first)
                    outcomes.update(
                        served.train_seeds(order[: len(to_train)], parallel, cache, results, relay, stop, first)
                    )
    elif to_train and not stop.is_set():
        _send(on_event, first, pace(cpu, 1))
    for c in order:  # a seed another session was training (or a single one): runs.distill waits for it or trains it
        if stop.is_set():
            break
        if c.seed not in outcomes:
            outcomes[c.seed] = runs.distill(c, cache, _tagged(on_event, c.seed, first), stop, **asked)
    return outcomes, parallel


def replays_once(on_event: Callable) -> Callable:
    """``on_event``, passed only the first replayed event of each phase (steps 0: done at once, which is all its
    progress needs); trained events all."""
    seen: set[str] = set()

    def relay(event) -> None:
        if getattr(event, "replayed", False):
            if event.phase in seen:
                return
            seen.add(event.phase)
        on_event(event)

    return relay


def _send(on_event: Callable, first: int, found: Pace | None) -> None:
    if found is not None:
        on_event(SeedEvent(first, found))


def _relay(on_event: Callable, first: int) -> Callable[[int, object], None]:
    """(seed, event) -> the job's SeedEvent; seeds but the first pass each phase's first replayed event only."""
    quiet: dict[int, Callable] = {}

    def relay(seed: int, event) -> None:
        if seed != first and getattr(event, "replayed", False):
            if seed not in quiet:
                quiet[seed] = replays_once(lambda e, seed=seed: on_event(SeedEvent(seed, e)))
            quiet[seed](event)
            return
        on_event(SeedEvent(seed, event))

    return relay


def _tagged(on_event: Callable, seed: int, first: int | None = None) -> Callable:
    tag = lambda event: on_event(SeedEvent(seed, event))  # noqa: E731
    return tag if first is None or seed == first else replays_once(tag)


def _report_now(elapsed: float, rest: list[RunConfig], parallel: int) -> bool:
    """After the first seeds: show their report and queue again for the rest when other Distills wait for a
    trainer, or when the rest, at their measured pace, would end after the promise."""
    if jobs.queued():
        return True
    found = pace(phase_cpu(rest[0]), parallel) if rest else None
    if found is None:
        return False
    plan = planned_steps(rest[0], load(rest[0])[1], PHASES)
    seconds = len(rest) * sum(plan[p] * found.step_seconds[p] for p in PHASES) / max(1, min(parallel, len(rest)))
    return elapsed + seconds > PROMISE_SECONDS


def distill_seeds(
    config: RunConfig,
    seeds: int,
    cache: TeacherCache,
    on_event: Callable,
    stop: threading.Event,
    results: ResultCache | None = None,
) -> SeedsOutcome:
    """``seeds`` distillations of ``config`` (seeds config.seed …), in worker processes, in parallel where trainer
    slots are free; a first report of ``FIRST_SEEDS`` seeds when the whole one cannot keep the promise."""
    asked = {} if results is None else {"results": results}  # runs.distill's own default otherwise
    results = results if results is not None else served.shared_results()
    configs = seed_configs(config, seeds)
    keys = {c.seed: load(c)[0].run_key() for c in configs}
    first = configs[0].seed
    _wait_for_earlier(configs, keys, results, stop)
    outcomes: dict[int, served.DistillOutcome] = {}
    for c in configs:  # what this server ran before is ready at once
        remembered = served.from_memory(keys[c.seed], results, _tagged(on_event, c.seed, first))
        if remembered is not None:
            outcomes[c.seed] = remembered
    todo = [c for c in configs if c.seed not in outcomes]
    late = [c for c in todo[FIRST_SEEDS:] if not served.finished(keys[c.seed], results)]
    head = [c for c in todo if c.seed in {h.seed for h in configs[:FIRST_SEEDS]}]
    me = jobs._this_job()
    if seeds > FIRST_SEEDS and late and any(not served.finished(keys[c.seed], results) for c in head):
        served_head, parallel = _serve(head, keys, cache, results, on_event, stop, first, asked)
        outcomes.update(served_head)
        rest = [c for c in todo if c.seed not in outcomes]
        elapsed = 0.0 if me is None else time.monotonic() - me.created_at
        if (
            not stop.is_set()
            and _report_now(elapsed, rest, parallel)
            and _report_first(configs, keys, results, stop, outcomes)
        ):
            with jobs.back_of_the_line() as slot:
                if slot:
                    served_rest, more = _serve(rest, keys, cache, results, on_event, stop, first, asked)
                    outcomes.update(served_rest)
                    parallel = max(parallel, more)
        else:
            served_rest, more = _serve(rest, keys, cache, results, on_event, stop, first, asked)
            outcomes.update(served_rest)
            parallel = max(parallel, more)
    else:
        served_all, parallel = _serve(todo, keys, cache, results, on_event, stop, first, asked)
        outcomes.update(served_all)
    ordered = [outcomes[c.seed] for c in configs if outcomes.get(c.seed) is not None]
    if stop.is_set() or len(ordered) < len(configs):
        return SeedsOutcome(config, ordered, parallel)
    first_outcome = ordered[0]
    if first_outcome.result.status == "completed" and not first_outcome.has_measurements:  # latency and the bars
        ordered[0] = served.measure_once(configs[0], first_outcome, stop, runs.PAGE_TURNS)
    return SeedsOutcome(config, ordered, parallel)
