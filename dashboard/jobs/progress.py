"""Progress of a run, or of a run over several seeds: a fraction, a line of text and an ETA, from its events.

The ETA is each phase's steps left × its seconds per step ÷ the seeds training at once, and a phase's seconds
per step are measured, never extrapolated from the time since the click (that holds the start-up: data, models,
the first steps' allocations, and once read "242 min" for a run of 20):

* A Distill job sends its ``Pace`` first: each phase's seconds per step from the step benchmark
  (dashboard/jobs/estimate.py), slowed down by the load on the machine when it began, and how many seeds train
  at once.  That is the ETA until steps are timed.
* Steps are timed between two read-backs of a phase (the events' ``at``), pooled over the seeds; a phase's first
  ``WARM_UP`` of its steps are not (start-up: the first read-back, allocations, other workers starting).  What was
  measured ``HALF_LIFE_SECONDS`` before the latest read-back counts half as much as what was measured at it.
* The load now: how much slower than their Pace all phases' recent steps ran, the Pace itself counted in at 1× as
  ``PRIOR_SECONDS`` of steps (aging from when it was sent, like any measurement).
* A phase's pace: its own recent steps, beside ``PRIOR_SECONDS`` of steps at its Pace × the load now.  A phase not
  timed yet (the students, while the teacher trains) takes its Pace × the load now: a teacher's step time is never
  used for a student's steps; a phase timed long ago follows the load met since.  A change of load is followed
  within a minute or two, without a jump.
* Every phase's seconds per step stay within [1/``MAX_SPEEDUP``, ``MAX_SLOWDOWN``] × its benchmark.
* Not all of a worker's time is steps: each seed starts, writes its results, or waits for a teacher another
  worker trains.  The share of the workers' time since the first read-back spent between read-backs is the
  efficiency the steps left are divided by (from 1, as it is measured; at least ``MIN_EFFICIENCY``).

Without a Pace (a job that sends none) a phase's own timed steps give its pace once ``MIN_TIMED_STEPS`` are timed,
and a phase not timed yet takes the mean pace of those that are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from dashboard.figures.plots import LABELS
from dashboard.text import wording
from kd_core import RunConfig
from kd_core.data.datasets import student_indices
from kd_core.data.spec import Dataset
from kd_core.runs.setup import load, view_key
from kd_core.train.records import ProgressEvent

# Steps a phase must have timed (between two of its read-backs) before an ETA without a Pace shows.
MIN_TIMED_STEPS = 20
WARM_UP = 0.05  # the share of a phase's steps, from its start, that is never timed
PRIOR_SECONDS = 30.0  # the Pace's weight: as much as this many seconds of timed steps
HALF_LIFE_SECONDS = 30.0  # what was measured this long before the latest read-back counts half
MAX_SLOWDOWN = 20.0  # no phase's step is taken to be slower than this × its benchmark (CPU time)...
MAX_SPEEDUP = 4.0  # ...or faster than its benchmark ÷ this (a last, smaller batch is faster than a full one)
EFFICIENCY_PRIOR_SECONDS = 5.0  # the workers are taken to spend all their time in steps until measured this long
MIN_EFFICIENCY = 0.25


@dataclass(frozen=True)
class Progress:
    """How far a run has got: a fraction in [0, 1], a line of text, and seconds left (None: not known yet)."""

    fraction: float
    text: str
    eta_seconds: float | None


@dataclass(frozen=True)
class Pace:
    """What a Distill job knows of its pace before a step is timed, sent as its first event (``SeedEvent``).

    ``step_seconds``: each phase's expected wall seconds per step (the benchmark × ``slowdown``); ``benchmark``:
    the step benchmark itself (CPU seconds), which bounds the ETA's pace; ``parallel``: seeds training at once."""

    step_seconds: dict[str, float]
    parallel: int = 1
    benchmark: dict[str, float] = field(default_factory=dict)
    slowdown: float = 1.0
    at: float | None = None  # time.monotonic() when it was measured (the events' clock); None: at the first step
    kind: str = "pace"  # not a step or an epoch: whatever picks events by kind passes it by
    phase: str = "pace"


def planned_steps(config: RunConfig, dataset: Dataset, phases: tuple[str, ...]) -> dict[str, int]:
    """Optimizer steps each phase will take, before any event says so."""
    config = load(config)[0]  # the students' epochs as they will train (equal steps resolved)
    teacher_steps = config.teacher_epochs * math.ceil(len(dataset.y_train) / config.for_teacher().batch_size)
    seen = len(student_indices(dataset.y_train, *view_key(config)))
    student_steps = config.epochs * math.ceil(seen / config.batch_size)
    plan = {"teacher": teacher_steps, "student": student_steps, "baseline": student_steps if config.baseline else 0}
    return {phase: plan[phase] for phase in phases}


def work(events: list[ProgressEvent], plan: dict[str, int]) -> tuple[int, int]:
    """(steps in all, steps done) over the plan's phases; the engine's count of a phase wins (0: cached)."""
    plan, done = dict(plan), {phase: 0 for phase in plan}
    for event in events:
        if event.phase not in plan:
            continue
        plan[event.phase] = event.steps
        done[event.phase] = event.step
    return sum(plan.values()), sum(min(done[p], plan[p]) for p in plan)


def seconds_per_step(events: list[ProgressEvent]) -> float | None:
    """Seconds per step of the latest phase timed over at least MIN_TIMED_STEPS steps: from its first trained
    event to its last (their ``at``, taken at read-backs after the phase began), so start-up is left out."""
    first: dict[str, ProgressEvent] = {}
    last: dict[str, ProgressEvent] = {}
    for event in events:
        if not isinstance(event, ProgressEvent) or event.at is None or event.replayed:
            continue
        first.setdefault(event.phase, event)
        last[event.phase] = event
    for phase in reversed(list(last)):  # the phase training now first, else the one before
        steps, seconds = last[phase].step - first[phase].step, last[phase].at - first[phase].at
        if steps >= MIN_TIMED_STEPS and seconds > 0:
            return seconds / steps
    return None


@dataclass
class _Phase:
    """One phase's timed steps, pooled over the seeds: (time of the later read-back, steps, seconds) each."""

    spans: list[tuple[float, int, float]] = field(default_factory=list)
    steps: int = 0  # timed, unweighted (MIN_TIMED_STEPS)

    def weighted(self, now: float) -> tuple[float, float]:
        """(steps, seconds), each span weighted by its age: half every HALF_LIFE_SECONDS before ``now``."""
        steps = seconds = 0.0
        for at, n, s in self.spans:
            w = 0.5 ** (max(0.0, now - at) / HALF_LIFE_SECONDS)
            steps, seconds = steps + w * n, seconds + w * s
        return steps, seconds


@dataclass
class _Seed:
    plan: dict[str, int]
    done: dict[str, int]
    last_timed: dict[str, tuple[float, int]] = field(default_factory=dict)  # phase -> (at, step)
    seen: bool = False

    @property
    def total(self) -> int:
        return sum(self.plan.values())

    @property
    def finished(self) -> int:
        return sum(min(self.done[p], self.plan[p]) for p in self.plan)

    def left(self, phase: str) -> int:
        return max(0, self.plan[phase] - self.done[phase])


@dataclass
class _Events:
    """What one pass over a job's events found (``_read``)."""

    seeds: dict  # seed -> _Seed
    phases: dict[str, _Phase]
    pace: Pace | None = None
    now: float = -math.inf  # the latest read-back
    since: float | None = None  # the first read-back: where the efficiency is measured from
    stepping: float = 0.0  # seconds between two read-backs of a phase, every seed's, every span (warm-up too)


def _read(events: list, plan: dict[str, int], seeds: list) -> _Events:
    """One pass over a job's events: each seed's steps planned and done, each phase's timed spans, the latest Pace
    and the latest read-back time.  Plain ProgressEvents count as the first seed's."""
    found = _Events(
        {seed: _Seed(dict(plan), {phase: 0 for phase in plan}) for seed in seeds}, {p: _Phase() for p in plan}
    )
    for item in events:
        seed, event = (item.seed, item.event) if isinstance(item, SeedEvent) else (seeds[0], item)
        if isinstance(event, Pace):
            found.pace = event
            continue
        mine = found.seeds.get(seed)
        if mine is None or not isinstance(event, ProgressEvent) or event.phase not in plan:
            continue
        mine.seen = True
        mine.plan[event.phase], mine.done[event.phase] = event.steps, event.step
        if event.at is None or event.replayed:
            continue
        found.now = max(found.now, event.at)
        before = mine.last_timed.get(event.phase)
        mine.last_timed[event.phase] = (event.at, event.step)
        if found.since is None:
            found.since = event.at
        if before is None or event.step <= before[1] or event.at < before[0]:
            continue
        found.stepping += event.at - before[0]
        if before[1] >= WARM_UP * event.steps:
            timed = found.phases[event.phase]
            timed.spans.append((event.at, event.step - before[1], event.at - before[0]))
            timed.steps += event.step - before[1]
    return found


def _paces(phases: dict[str, _Phase], pace: Pace | None, now: float) -> dict[str, float] | None:
    """Each phase's seconds per step (see the module's docstring); None while nothing is known."""
    weighted = {phase: timed.weighted(now) for phase, timed in phases.items() if timed.spans}
    if pace is None:
        known = {
            phase: seconds / steps
            for phase, (steps, seconds) in weighted.items()
            if phases[phase].steps >= MIN_TIMED_STEPS and steps > 0 and seconds > 0
        }
        if not known:
            return None
        mean = sum(known.values()) / len(known)
        return {phase: known.get(phase, mean) for phase in phases}
    prior = {phase: pace.step_seconds.get(phase) for phase in phases}
    age = 0.0 if pace.at is None or now == -math.inf else max(0.0, now - pace.at)
    trust = PRIOR_SECONDS * 0.5 ** (age / HALF_LIFE_SECONDS)  # seconds of timed steps the Pace is worth now
    # How much slower than their Pace the phases run now (every phase's recent steps), the Pace counted in at 1×.
    seen = sum(seconds for phase, (_, seconds) in weighted.items() if prior[phase])
    expected = sum(steps * prior[phase] for phase, (steps, _) in weighted.items() if prior[phase])
    ratio = (seen + trust) / (expected + trust) if trust > 0 or expected > 0 else 1.0
    out = {}
    for phase in phases:
        p = prior[phase]
        steps, seconds = weighted.get(phase, (0.0, 0.0))
        if p is None:  # no benchmark for it: its own steps, else the others' mean
            out[phase] = seconds / steps if steps > 0 else None
            continue
        # Its own recent steps, beside PRIOR_SECONDS of steps at its Pace × that ratio: a phase timed long ago
        # (the students of the first seeds) follows the load the phases timed since have met.
        rate = (seconds + PRIOR_SECONDS) / (steps + PRIOR_SECONDS / (p * ratio))
        bench = pace.benchmark.get(phase)
        if bench:
            rate = min(max(rate, bench / MAX_SPEEDUP), bench * MAX_SLOWDOWN)
        out[phase] = rate
    known = [r for r in out.values() if r is not None]
    if not known:
        return None
    mean = sum(known) / len(known)
    return {phase: mean if rate is None else rate for phase, rate in out.items()}


def _eta(found: _Events) -> float | None:
    rates = _paces(found.phases, found.pace, found.now)
    if rates is None:
        return None
    state, pace = found.seeds, found.pace
    left = sum(seed.left(phase) * rates[phase] for seed in state.values() for phase in seed.plan)
    unfinished = [seed for seed in state.values() if seed.finished < seed.total]
    if pace is None:  # seeds started and not finished: one when they run one after another
        return left / max(1, sum(1 for seed in unfinished if seed.seen))
    return left / max(1, min(pace.parallel, len(unfinished))) / _efficiency(found)


def _efficiency(found: _Events) -> float:
    """The share of the workers' time since the first read-back spent between two read-backs of a phase — steps;
    the rest is each seed's start, its phases' first steps and evaluations, results written, a wait for a teacher
    another worker trains.  1 until measured, the measurement weighing in as it lasts (``EFFICIENCY_PRIOR_SECONDS``);
    at least ``MIN_EFFICIENCY``."""
    if found.since is None or found.now <= found.since:
        return 1.0
    seconds = found.now - found.since
    workers = min(found.pace.parallel, max(1, sum(1 for seed in found.seeds.values() if seed.total)))
    measured = found.stepping / (seconds * workers)
    blended = (seconds * measured + EFFICIENCY_PRIOR_SECONDS) / (seconds + EFFICIENCY_PRIOR_SECONDS)
    return min(1.0, max(MIN_EFFICIENCY, blended))


def progress(events: list[ProgressEvent], plan: dict[str, int], running_seconds: float | None = None) -> Progress:
    """Progress over all phases, weighted by their steps, with the ETA of the module's docstring.
    ``running_seconds`` is not used for it."""
    return seeds_progress(events, plan, [None], running_seconds, label_seeds=False)


def format_seconds(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


@dataclass(frozen=True)
class SeedEvent:
    """A progress event of one seed's run (the jobs of a Distill over several seeds record these), or the job's
    ``Pace``."""

    seed: int
    event: ProgressEvent | Pace


def of_seed(events: list, seed: int) -> list[ProgressEvent]:
    """One seed's progress events, from a job's events (plain ProgressEvents count as that seed's; a Pace is none)."""
    out = []
    for e in events:
        if isinstance(e, SeedEvent):
            if e.seed == seed and isinstance(e.event, ProgressEvent):
                out.append(e.event)
        elif isinstance(e, ProgressEvent):
            out.append(e)
    return out


def seeds_progress(
    events: list, plan: dict[str, int], seeds: list, running_seconds: float | None = None, label_seeds: bool = True
) -> Progress:
    """Progress over several seeds' runs, each planned as ``plan``: the mean of their fractions, and the ETA of the
    module's docstring (``running_seconds`` is not used for it)."""
    found = _read(events, plan, seeds)
    state, eta = found.seeds, _eta(found)
    last = next((e for e in reversed(events) if not isinstance(getattr(e, "event", e), Pace)), None)
    if last is None:
        return Progress(0.0, "Starting…", eta)
    fraction = sum(s.finished / s.total if s.total else 1.0 for s in state.values()) / len(seeds)
    seed, event = (last.seed, last.event) if isinstance(last, SeedEvent) else (seeds[0], last)
    text = f"{LABELS.get(event.phase, event.phase)}: epoch {event.epoch}/{event.epochs}"
    if event.steps == 0:
        text += " (cached, loaded at once)"
    if label_seeds and len(seeds) > 1:
        done = sum(1 for s in state.values() if s.finished >= s.total)
        text = f"seed {seed}, {wording.lower_first(text)} — {done} of {len(seeds)} seeds done"
    return Progress(min(fraction, 1.0), text, eta)
