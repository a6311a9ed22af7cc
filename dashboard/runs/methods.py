"""Methods side by side: the job the Methods tab starts, and what its figures are made of.

    methods_job(config, ["kd", "dkd", ...], seeds, cache) -> fn(on_event, stop) -> MethodsOutcome
    comparisons(outcome) -> [Comparison per method]      # method − scratch and method − KD, per seed and interval
    costs(found) -> [Cost per method but KD]             # its student's time over KD's, per seed and interval
    student_steps(config) -> the training steps every method's student takes (the same for all: only the loss differs)

Each method trains over the seeds through ``seed_runs.distill_seeds`` — the very path (worker processes, the
results cache, one run per key) Distill uses — on the page's settings with only the loss changed, so a method's
runs are Distill's runs and a second click loads them.  No Streamlit here.

A method's cost is not its seconds alone: seconds vary with the machine's load (other seeds and other students train
alongside), so the time of two runs of the very same loss differs.  Costs are paired by seed, the student's seconds
over KD's student's, with a 95 % interval of their geometric mean; a method is slower or faster only when the whole
interval is on one side of 1×.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Callable

from dashboard.jobs.progress import SeedEvent, planned_steps
from dashboard.runs import seeds as seed_runs
from kd_core import RunConfig, TeacherCache
from kd_core.config import ConfigError
from kd_core.data.spec import DatasetUnavailable
from kd_core.methods.registry import COMPARED, METHODS
from kd_core.runs.setup import load
from kd_core.stats import Interval
from kd_core.train.records import ProgressEvent, RunResult


@dataclass(frozen=True)
class MethodEvent:
    """An epoch's end in one method's run of one seed: the status line reads ``phase``, ``epoch``, ``epochs``."""

    method: str
    seed: int
    event: ProgressEvent

    @property
    def phase(self) -> str:
        return f"{METHODS[self.method].title}, seed {self.seed}, {self.event.phase}"

    @property
    def epoch(self) -> int:
        return self.event.epoch

    @property
    def epochs(self) -> int:
        return self.event.epochs


@dataclass
class MethodsOutcome:
    """Every method's runs over the same seeds and settings (``config``: the page's, its loss that of KD)."""

    config: RunConfig
    seeds: list[int]
    runs: dict[str, list[RunResult]] = field(default_factory=dict)  # method -> one completed run per seed
    skipped: dict[str, str] = field(default_factory=dict)  # method -> why it cannot run on this data (plain words)


def method_config(config: RunConfig, name: str) -> RunConfig:
    """The page's settings with method ``name`` (KD keeps the page's own loss settings: λ, T)."""
    return config.replace(loss=name, loss_args=()) if name != "kd" else config.replace(loss="kd", loss_args=())


def chosen(names: list[str]) -> list[str]:
    """The methods to run: KD always, first, then the others in registry order."""
    return ["kd"] + [name for name in COMPARED if name != "kd" and name in names]


def methods_job(config: RunConfig, names: list[str], seeds: int, cache: TeacherCache) -> Callable:
    """A job: each method over ``seeds`` seeds (from ``config.seed``), one after another; passes epoch ends on."""

    def fn(on_event, stop) -> MethodsOutcome:
        outcome = MethodsOutcome(config, [config.seed + i for i in range(seeds)])
        for name in chosen(names):
            if stop.is_set():
                break

            def relay(event, name=name) -> None:
                if isinstance(event, SeedEvent) and event.event.kind == "epoch":
                    on_event(MethodEvent(name, event.seed, event.event))

            try:
                found = seed_runs.distill_seeds(method_config(config, name), seeds, cache, relay, stop)
            except ValueError as error:  # ConfigError, MethodError: this method cannot apply here; the others go on
                outcome.skipped[name] = str(error)
                continue
            if found.status == "completed":
                outcome.runs[name] = [o.result for o in found.outcomes]
        return outcome

    return fn


@dataclass(frozen=True)
class Comparison:
    """One method over the seeds: accuracy, method − scratch and method − KD (fractions), and its time."""

    method: str
    accuracy: float  # mean over seeds
    vs_scratch: list[float]  # per seed, in the order of ``seeds``
    vs_kd: list[float]
    seeds: list[int]
    seconds: list[float]  # the student's training seconds, per seed
    time_vs_kd: list[float]  # per seed: those seconds over KD's student's of the same seed
    from_cache: bool = False  # a run came from the results cache: its seconds are those of when it was trained

    @property
    def scratch_interval(self) -> Interval:
        return Interval.of(self.vs_scratch)

    @property
    def kd_interval(self) -> Interval:
        return Interval.of(self.vs_kd)


def comparisons(outcome: MethodsOutcome) -> list[Comparison]:
    """Per method that completed (KD first): paired by seed with its own scratch baseline and with KD's student."""
    kd = {r.config.seed: r for r in outcome.runs.get("kd", [])}
    out = []
    for name, results in outcome.runs.items():
        paired = [r for r in results if r.config.seed in kd and r.baseline is not None]
        if not paired:
            continue
        out.append(
            Comparison(
                method=name,
                accuracy=statistics.fmean(r.student.accuracy for r in paired),
                vs_scratch=[r.student.accuracy - r.baseline.accuracy for r in paired],
                vs_kd=[r.student.accuracy - kd[r.config.seed].student.accuracy for r in paired],
                seeds=[r.config.seed for r in paired],
                seconds=[r.seconds.get("student", 0.0) for r in paired],
                time_vs_kd=[ratio(r.seconds.get("student"), kd[r.config.seed].seconds.get("student")) for r in paired],
                from_cache=any(r.from_results_cache for r in paired),
            )
        )
    return out


def ratio(seconds: float | None, kd_seconds: float | None) -> float:
    """``seconds / kd_seconds``; NaN when either was not measured (0 or absent)."""
    return seconds / kd_seconds if seconds and kd_seconds and seconds > 0 and kd_seconds > 0 else math.nan


def verdict_vs_kd(interval: Interval) -> str:
    """ "better than KD", "worse than KD" or "no clear difference from KD" (the whole 95 % interval decides)."""
    return {"helps": "better than KD", "hurts": "worse than KD"}.get(interval.verdict, "no clear difference from KD")


def summary_line(found: list[Comparison]) -> str:
    """One plain sentence on the whole comparison (markdown)."""
    others = [c for c in found if c.method != "kd"]
    if not others:
        return "Only KD has finished: pick other methods to compare."
    if any(c.kd_interval.low is None for c in others):
        return "With one seed there is no interval: use at least 2 seeds (the lesson's own are best) to compare."
    apart = [c for c in others if c.kd_interval.verdict != "no clear difference"]
    if not apart:
        return (
            "**The methods do not differ from KD on this setting**: every interval of method − KD includes 0. "
            "That is a finding, not a failure — on small problems the teacher's signal is simple, and how it is "
            "matched matters less than that it is there."
        )
    return (
        "; ".join(f"**{METHODS[c.method].title}** is {verdict_vs_kd(c.kd_interval)}" for c in apart)
        + "; the others do not differ clearly from KD."
    )


@dataclass(frozen=True)
class Cost:
    """A method's student time over KD's student's, paired by seed: the ratios, their geometric mean and its 95 %
    interval (Student's t on the log ratios, so 2× slower and 2× faster weigh alike); no interval for one seed."""

    method: str
    ratios: list[float]
    seeds: list[int]
    mean: float
    low: float | None
    high: float | None

    @classmethod
    def of(cls, method: str, ratios: list[float], seeds: list[int]) -> "Cost":
        interval = Interval.of([math.log(r) for r in ratios])
        exp = lambda v: None if v is None else math.exp(v)  # noqa: E731
        return cls(method, ratios, seeds, math.exp(interval.mean), exp(interval.low), exp(interval.high))

    @property
    def verdict(self) -> str:
        """ "slower than KD" or "faster than KD" when the whole interval is on one side of 1×, else "no clear
        difference from KD" (one seed never decides)."""
        if self.low is not None and self.low > 1:
            return "slower than KD"
        if self.high is not None and self.high < 1:
            return "faster than KD"
        return "no clear difference from KD"

    def words(self) -> str:
        """``1.05× [0.91×, 1.21×]`` (the table's cell), or the ratio alone for one seed."""
        if self.low is None:
            return f"{self.mean:.2f}× (one seed)"
        return f"{self.mean:.2f}× [{self.low:.2f}×, {self.high:.2f}×]"


def costs(found: list[Comparison]) -> list[Cost]:
    """Each method but KD (the reference, 1×): its time relative to KD's over the seeds where both were timed."""
    out = []
    for c in found:
        if c.method == "kd":
            continue
        timed = [(seed, r) for seed, r in zip(c.seeds, c.time_vs_kd) if math.isfinite(r)]
        if timed:
            out.append(Cost.of(c.method, [r for _, r in timed], [seed for seed, _ in timed]))
    return out


def student_steps(config: RunConfig) -> int | None:
    """The training steps each student takes on these settings (epochs × batches of the examples it sees): the same
    for every method, since only the loss changes; None when the settings or the data cannot be loaded."""
    try:
        return planned_steps(config, load(config)[1], ("student",))["student"]
    except (ConfigError, DatasetUnavailable):
        return None


def part_curves(outcome: MethodsOutcome, seed: int) -> dict[str, dict[str, list[float]]]:
    """Per method, ``seed``'s student loss parts per epoch (each part's epoch mean; "total" included)."""
    curves: dict[str, dict[str, list[float]]] = {}
    for name, results in outcome.runs.items():
        run = next((r for r in results if r.config.seed == seed), None)
        if run is None:
            continue
        rows = [row for row in run.history if row.phase == "student"]
        parts = {"total": [row.loss for row in rows]}
        for row in rows:
            for part, value in row.parts.items():
                parts.setdefault(part, []).append(value)
        curves[name] = parts
    return curves
