"""Progress of a run, or of a run over several seeds: a fraction, a line of text and an ETA, from its events."""

from __future__ import annotations

import math
from dataclasses import dataclass

from dashboard.figures.plots import LABELS
from dashboard.text import wording
from kd_core import RunConfig
from kd_core.data.datasets import student_indices
from kd_core.data.spec import Dataset
from kd_core.runs.setup import load, view_key
from kd_core.train.records import ProgressEvent

# Steps a phase must have timed (between two of its read-backs) before an ETA shows.  Time since the click is
# no measure: it holds the start-up (data, models, the first steps' allocations), and early on, divided by the
# few steps done, it predicted runs many times longer than they took.
MIN_TIMED_STEPS = 20


@dataclass(frozen=True)
class Progress:
    """How far a run has got: a fraction in [0, 1], a line of text, and seconds left (None: not known yet)."""

    fraction: float
    text: str
    eta_seconds: float | None


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
        if event.at is None or event.replayed:
            continue
        first.setdefault(event.phase, event)
        last[event.phase] = event
    for phase in reversed(list(last)):  # the phase training now first, else the one before
        steps, seconds = last[phase].step - first[phase].step, last[phase].at - first[phase].at
        if steps >= MIN_TIMED_STEPS and seconds > 0:
            return seconds / steps
    return None


def progress(events: list[ProgressEvent], plan: dict[str, int], running_seconds: float | None = None) -> Progress:
    """Progress over all phases, weighted by their steps.  The ETA is the steps left × the seconds per step timed
    so far (``seconds_per_step``); none until enough steps are timed.  ``running_seconds`` is not used for it."""
    total, finished = work(events, plan)
    fraction = finished / total if total else 1.0
    if not events:
        return Progress(0.0, "Starting…", None)
    last = events[-1]
    text = f"{LABELS.get(last.phase, last.phase)}: epoch {last.epoch}/{last.epochs}"
    if last.steps == 0:
        text += " (cached, loaded at once)"
    per_step = seconds_per_step(events)
    eta = None if per_step is None else per_step * (total - finished)
    return Progress(min(fraction, 1.0), text, eta)


def format_seconds(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


@dataclass(frozen=True)
class SeedEvent:
    """A progress event of one seed's run (the jobs of a Distill over several seeds record these)."""

    seed: int
    event: ProgressEvent


def of_seed(events: list, seed: int) -> list[ProgressEvent]:
    """One seed's progress events, from a job's events (plain ProgressEvents count as that seed's)."""
    return [
        e.event if isinstance(e, SeedEvent) else e for e in events if not isinstance(e, SeedEvent) or e.seed == seed
    ]


def seeds_progress(
    events: list, plan: dict[str, int], seeds: list[int], running_seconds: float | None = None
) -> Progress:
    """Progress over several seeds' runs, each planned as ``plan``: the mean of their fractions.

    The ETA: every seed's steps left × the seconds per step timed in the seeds so far (their mean), divided by
    the seeds training now (started, not finished: one when they run one after another); none until a seed has
    timed enough steps."""
    if not events:
        return Progress(0.0, "Starting…", None)
    per_seed = {seed: of_seed(events, seed) for seed in seeds}
    each = {seed: progress(seed_events, plan) for seed, seed_events in per_seed.items()}
    fraction = sum(p.fraction for p in each.values()) / len(seeds)
    done = sum(p.fraction >= 1 for p in each.values())
    last = events[-1].seed if isinstance(events[-1], SeedEvent) else seeds[0]
    text = each[last].text if last in each else "…"
    if len(seeds) > 1:
        text = f"seed {last}, {wording.lower_first(text)} — {done} of {len(seeds)} seeds done"
    timed = [t for t in (seconds_per_step(e) for e in per_seed.values()) if t is not None]
    eta = None
    if timed:
        left = sum(total - finished for total, finished in (work(e, plan) for e in per_seed.values()))
        training = sum(1 for seed in seeds if per_seed[seed] and each[seed].fraction < 1)
        eta = sum(timed) / len(timed) * left / max(1, training)
    return Progress(min(fraction, 1.0), text, eta)
