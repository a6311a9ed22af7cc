"""Progress of a run, or of a run over several seeds: a fraction, a line of text and an ETA, from its events."""
from __future__ import annotations

import math
from dataclasses import dataclass

from dashboard.figures import LABELS
from kd_core import RunConfig
from kd_core.data import Dataset, student_indices
from kd_core.pipeline import load
from kd_core.records import ProgressEvent


@dataclass(frozen=True)
class Progress:
    """How far a run has got: a fraction in [0, 1], a line of text, and seconds left (None: not known yet)."""

    fraction: float
    text: str
    eta_seconds: float | None


def planned_steps(config: RunConfig, dataset: Dataset, phases: tuple[str, ...]) -> dict[str, int]:
    """Optimizer steps each phase will take, before any event says so."""
    config = load(config)[0]  # the students' epochs as they will train (equal steps resolved)
    teacher_steps = config.teacher_epochs * math.ceil(len(dataset.y_train) / config.batch_size)
    seen = len(student_indices(dataset.y_train, config.student_fraction, config.omit_class, config.seed))
    student_steps = config.epochs * math.ceil(seen / config.batch_size)
    plan = {"teacher": teacher_steps, "student": student_steps, "baseline": student_steps if config.baseline else 0}
    return {phase: plan[phase] for phase in phases}


def progress(events: list[ProgressEvent], plan: dict[str, int], running_seconds: float | None) -> Progress:
    """Progress over all phases, weighted by their steps; the ETA extrapolates the time per step so far."""
    plan, done = dict(plan), {phase: 0 for phase in plan}
    for event in events:
        if event.phase not in plan:
            continue
        plan[event.phase] = event.steps  # the engine's count wins; 0 for a cached teacher
        done[event.phase] = event.step
    total = sum(plan.values())
    finished = sum(min(done[p], plan[p]) for p in plan)
    fraction = finished / total if total else 1.0
    if not events:
        return Progress(0.0, "Starting…", None)
    last = events[-1]
    text = f"{LABELS.get(last.phase, last.phase)}: epoch {last.epoch}/{last.epochs}"
    if last.steps == 0:
        text += " (cached, loaded at once)"
    eta = None
    if running_seconds and finished:
        eta = running_seconds * (total - finished) / finished
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
    return [e.event if isinstance(e, SeedEvent) else e for e in events
            if not isinstance(e, SeedEvent) or e.seed == seed]


def seeds_progress(events: list, plan: dict[str, int], seeds: list[int], running_seconds: float | None) -> Progress:
    """Progress over several seeds' runs, each planned as ``plan``: the mean of their fractions."""
    if not events:
        return Progress(0.0, "Starting…", None)
    each = {seed: progress(of_seed(events, seed), plan, None) for seed in seeds}
    fraction = sum(p.fraction for p in each.values()) / len(seeds)
    done = sum(p.fraction >= 1 for p in each.values())
    last = events[-1].seed if isinstance(events[-1], SeedEvent) else seeds[0]
    text = each[last].text if last in each else "…"
    if len(seeds) > 1:
        text = f"seed {last}, {text[0].lower()}{text[1:]} — {done} of {len(seeds)} seeds done"
    eta = running_seconds * (1 - fraction) / fraction if running_seconds and fraction > 0 else None
    return Progress(min(fraction, 1.0), text, eta)
