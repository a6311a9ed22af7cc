"""A finding after Hinton as a page job: every arm over the finding's seeds, then its claims judged.

    fn, meta = launch(finding, start_seed, cache)   # job_panel.start("main", fn, **meta)
    outcome = fn(on_event, stop)                    # a FindingOutcome: the FindingResult, the similarity matrices

Each arm's seeds go through ``seed_runs.distill_seeds`` — the path every Distill takes (trainer slots, worker
processes, the results memo and cache, one training per run key, teachers from the shared teacher cache) — so a
finding's runs are Distill's runs: a second browser, or ``kd-train --lesson`` on the same cache, trains no teacher
again, and a second click loads every arm at once.  The claims are judged by the engine's ``judge`` over the same
seeds of every arm (``research.finding_result``), exactly as ``kd-train --lesson NAME`` judges them.

Progress: the job passes on one ``FindingEvent`` (a fraction and a line, which the job panel draws as it draws any
job's own step) per epoch end and at most a few a second, with an ETA: the arm training now from its events
(dashboard/jobs/progress.py, which starts from the Pace that distill_seeds sends), and the arms after it at the
same seconds per step over their planned steps (less the teachers cached and the runs stored by then).  No Streamlit.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from dashboard.jobs import progress as seed_progress
from dashboard.runs import seeds as seed_runs
from kd_core import RunConfig, TeacherCache
from kd_core.runs import served
from kd_core.runs.setup import load
from kd_core.studies import research
from kd_core.studies.research import FINDINGS, Finding, FindingResult

JOB = "main"  # the sidebar's job: its Distill and Stop serve a finding as they serve a lesson
PHASES = ("teacher", "student", "baseline")
EVENT_SECONDS = 0.25  # at most this often a FindingEvent between epoch ends: the job's event list stays short


@dataclass(frozen=True)
class FindingEvent:
    """Where a finding's job is: ``fraction`` and ``text`` are what the job panel's progress bar shows."""

    fraction: float
    text: str
    arm: str
    arms_done: int
    arms: int


@dataclass
class FindingOutcome:
    """A finding run on the page: its result (every arm's runs, the claims judged) and, for the smoothed teacher,
    each arm's teacher as a class-similarity matrix (seed ``start_seed``'s teachers, at the arm's T)."""

    name: str
    start_seed: int
    result: FindingResult
    similarity: dict[str, np.ndarray] | None = None
    seconds: float = 0.0
    arms_done: list[str] = field(default_factory=list)

    @property
    def finding(self) -> Finding:
        return self.result.finding

    @property
    def status(self) -> str:
        """ "completed" when every arm ran every seed (its claims are then judged), else "cancelled"."""
        complete = set(self.result.arms) == set(self.finding.arms) and self.result.status == "completed"
        return "completed" if complete else "cancelled"


def is_finding(name: str | None) -> bool:
    return name in FINDINGS


def run_arm(config: RunConfig, seeds: int, cache: TeacherCache, on_event: Callable, stop: threading.Event):
    """One arm's seeds, as a Distill serves them (looked up at call time: tests replace it)."""
    return seed_runs.distill_seeds(config, seeds, cache, on_event, stop)


def similarity_of(finding: Finding, seed: int, cache: TeacherCache) -> dict[str, np.ndarray]:
    """The arms' teachers as class-similarity matrices: the teachers the arms just used, loaded from the cache."""
    return research.class_similarity(finding, seed=seed, cache=cache)


def planned_work(config: RunConfig, seeds: int, cache: TeacherCache) -> int:
    """The steps an arm's seeds still have to train now: nothing for a seed whose run is stored or in memory, no
    teacher steps for a teacher in the cache (a chain's teacher included: it is cached like any)."""
    validated, dataset = load(config)
    plan = seed_runs.planned_steps(config, dataset, PHASES)
    total = 0
    for c in seed_runs.seed_configs(config, seeds):
        run = load(c)[0]
        if served.finished(run.run_key(), served.shared_results()):
            continue
        cached = cache.on_disk and cache.path(run.teacher_key()).exists()
        total += sum(steps for phase, steps in plan.items() if not (phase == "teacher" and cached))
    return total


def eta_text(seconds: float | None) -> str:
    return "" if seconds is None else f" — about {seed_progress.format_seconds(seconds)} left"


class _Tracker:
    """Turns one arm's seed events into FindingEvents: the whole finding's fraction (arms weighted by their planned
    steps at the start) and an ETA (see the module's docstring)."""

    def __init__(self, finding: Finding, start_seed: int, cache: TeacherCache, on_event: Callable):
        self.finding, self.start_seed, self.cache, self.on_event = finding, start_seed, cache, on_event
        self.arms = list(finding.arms)
        self.seeds = [start_seed + i for i in range(finding.seeds)]
        self.work = {arm: max(1, self._work(arm)) for arm in self.arms}
        self.index, self.events, self.last, self.plan = 0, [], 0.0, {}

    def _config(self, arm: str) -> RunConfig:
        return self.finding.config(arm, seed=self.start_seed)

    def _work(self, arm: str) -> int:
        try:
            return planned_work(self._config(arm), self.finding.seeds, self.cache)
        except Exception:  # the settings cannot be loaded: the arm's own run says why
            return 1

    def start(self, index: int) -> None:
        self.index, self.events = index, []
        config = self._config(self.arms[index])
        self.plan = seed_runs.planned_steps(config, load(config)[1], PHASES)  # once per arm, not per event
        self.send(force=True)

    def relay(self, event) -> None:
        self.events.append(event)
        inner = getattr(event, "event", event)
        self.send(force=getattr(inner, "kind", "") == "epoch")

    def send(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < EVENT_SECONDS:
            return
        self.last = now
        arm = self.arms[self.index]
        found = seed_progress.seeds_progress(self.events, self.plan, self.seeds)
        before = sum(self.work[a] for a in self.arms[: self.index])
        total = sum(self.work.values())
        fraction = (before + found.fraction * self.work[arm]) / total
        eta = None
        if found.eta_seconds is not None:
            left_here = (1 - found.fraction) * self.work[arm]
            rate = found.eta_seconds / left_here if left_here > 0 else 0.0
            later = sum(self.work[a] for a in self.arms[self.index + 1 :])
            eta = found.eta_seconds + rate * later
        where = f"arm {self.index + 1} of {len(self.arms)}, “{arm}”"
        text = f"{where}: {found.text[:1].lower()}{found.text[1:]}{eta_text(eta)}"
        self.on_event(FindingEvent(min(1.0, fraction), text, arm, self.index, len(self.arms)))


def finding_job(finding: Finding, start_seed: int, cache: TeacherCache) -> Callable:
    """A job: each arm of ``finding`` over its seeds from ``start_seed``, one arm after another, then its claims
    judged (and, for the class-similarity figure, the arms' teachers as matrices)."""

    def fn(on_event, stop) -> FindingOutcome:
        began = time.monotonic()
        tracker = _Tracker(finding, start_seed, cache, on_event)
        runs: dict[str, list] = {}
        for index, arm in enumerate(finding.arms):
            if stop.is_set():
                break
            tracker.start(index)
            found = run_arm(finding.config(arm, seed=start_seed), finding.seeds, cache, tracker.relay, stop)
            if found.status != "completed" or len(found.outcomes) < finding.seeds:
                break
            # Without the models and the per-step losses: the report needs neither, and it is kept per browser.
            runs[arm] = [dataclasses.replace(o.result, models={}, steps=[]) for o in found.outcomes]
        result = research.finding_result(finding, runs)
        outcome = FindingOutcome(finding.name, start_seed, result, arms_done=list(runs))
        if outcome.status == "completed" and finding.figure == "class similarity" and not stop.is_set():
            outcome.similarity = similarity_of(finding, start_seed, cache)
        outcome.seconds = time.monotonic() - began
        return outcome

    return fn


def launch(finding: Finding, start_seed: int, cache: TeacherCache) -> tuple[Callable, dict]:
    """What ``job_panel.start`` takes for a finding's Distill: the job and its meta (its kind, name, first seed and
    the run keys of its first arm, which a Distill of the same settings waits for instead of training again)."""
    config = finding.config(research.base_arm(finding), seed=start_seed)
    keys = seed_runs.run_keys(config, finding.seeds)
    meta = {
        "kind": "finding",
        "what": f"“{finding.title}” over {finding.seeds} seeds",
        "finding": finding.name,
        "config": config,
        "start_seed": start_seed,
        "run_keys": keys,
        "slot": seed_runs.needs_a_slot(keys),
    }
    return finding_job(finding, start_seed, cache), meta
