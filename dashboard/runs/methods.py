"""Methods side by side: the job the Methods tab starts, and what its figures are made of.

    methods_job(config, ["kd", "dkd", ...], seeds, cache) -> fn(on_event, stop) -> MethodsOutcome
    comparisons(outcome) -> [Comparison per method]      # method − scratch and method − KD, per seed and interval
    timings(found) -> [Timing per method]                # its student's seconds per seed, mean ± sd: no verdict
    student_steps(config) -> the training steps every method's student takes (the same for all: only the loss differs)

Each method trains over the seeds through ``seed_runs.distill_seeds`` — the very path (worker processes, the
results cache, one run per key) Distill uses — on the page's settings with only the loss changed, so a method's
runs are Distill's runs and a second click loads them.  No Streamlit here.

A method's cost is its training steps, the same for every method.  Its seconds are no measure of it: the methods
train one after another, in worker processes that share the machine with other seeds, other students and other
work, so the load changes between methods and moves all of one method's seeds together.  Even paired by seed, the
very same computation (KD, and KD at DKD's weight) came out 3.2× "slower" (95 % interval 2.4× to 4.2×) in one run
and 0.79× in another.  So seconds are shown as they were measured, with their spread, and never as a verdict.
"""

from __future__ import annotations

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
from kd_core.stats import Interval, Spread
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
    seconds: list[float]  # the student's training seconds, per seed (0: not measured)
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
                seconds=[r.seconds.get("student") or 0.0 for r in paired],
                from_cache=any(r.from_results_cache for r in paired),
            )
        )
    return out


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
class Timing:
    """A method's student training seconds over the seeds: per seed, and their mean and sample sd."""

    method: str
    seconds: list[float]
    seeds: list[int]

    @property
    def spread(self) -> Spread:
        return Spread.of(self.seconds)

    def words(self) -> str:
        """``0.22 ± 0.05 s``, or ``0.22 s`` for one seed."""
        spread = self.spread
        return f"{spread.mean:.2f} s" if spread.n < 2 else f"{spread.mean:.2f} ± {spread.sd:.2f} s"


def timings(found: list[Comparison]) -> list[Timing]:
    """Each method's student seconds over the seeds where they were measured (KD too: no method is the reference)."""
    out = []
    for c in found:
        timed = [(seed, s) for seed, s in zip(c.seeds, c.seconds) if s > 0]
        if timed:
            out.append(Timing(c.method, [s for _, s in timed], [seed for seed, _ in timed]))
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
