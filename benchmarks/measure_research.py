"""Measure the findings of a decade of distillation research (issue #30) on digits, on tuning seeds the lessons do
not run, to choose the lessons' settings: where each effect is real, or that it does not reproduce at this scale.

    python -m benchmarks.measure_research [--start 100] [--seeds 8] [--only born-again,capacity,...]
                                          [--cache-dir DIR] [--json research.json]

Each finding is a set of paired comparisons over seeds ``start`` … ``start + seeds − 1`` (the same seed on both
sides, so the shared randomness cancels): the mean difference in accuracy points with its 95 % Student-t interval
(kd_core.stats.Interval) and its verdict.  Every run goes through the product's pipeline (kd_core.runs.pipeline.run,
one torch thread, CPU), its teachers in one teacher cache, so a teacher shared by two findings trains once.

* born-again (Furlanello et al. 2018): teacher = student architecture; generation 1 (taught by the teacher) against
  the teacher, generation 2 (taught by generation 1, ``teacher_from``) against generation 1.
* capacity (Cho & Hariharan 2019; Mirzadeh et al. 2020): a width-16 student taught by teachers 32 … 1024 wide, and
  by the widest through a teacher assistant (``teacher_from``).
* smoothing (Müller et al. 2019; Yuan et al. 2020): teachers trained with label smoothing ε, their students; and
  poor teachers (a tiny one, a barely trained one) against the scratch baseline.
* fidelity (Stanton et al. 2021): a student as large as its teacher, its top-1 agreement and KL with the teacher
  over the epochs (``track_fidelity``), against the scratch baseline's.
* noise (data-free transfer): a KD student that sees only uniform noise (``transfer="noise"``, λ = 1) against the
  same student taught on the real images at λ = 1, and against chance and the scratch baseline.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import tempfile
import time
from typing import Callable

import torch

from kd_core.config import RunConfig, student_as_teacher
from kd_core.runs.cache import TeacherCache
from kd_core.runs.pipeline import run
from kd_core.stats import Interval
from kd_core.train.records import RunResult

FINDINGS = ("born-again", "capacity", "smoothing", "fidelity", "noise")
# Two regimes, both annealed as every digits lesson is (at a constant rate a seed's teacher lands anywhere from 88
# to 98 %): the whole training set, where KD barely matters on digits, and the little-data lessons' 5 % at λ = 0.5,
# where it helps.  Digits' defaults otherwise: teacher mlp-large 256-256 (30 epochs), student mlp-small 16 (20).
FULL = RunConfig(device="cpu", schedule="cosine")
LITTLE = FULL.replace(student_fraction=0.05, lam=0.5)
REGIMES = {"full data": FULL, "5 % data": LITTLE}


class Runs:
    """Runs of a config over the tuning seeds, memoised by settings (a config measured twice is run once)."""

    def __init__(self, seeds: list[int], cache: TeacherCache):
        self.seeds, self.cache, self.done = seeds, cache, {}

    def __call__(self, config: RunConfig) -> list[RunResult]:
        key = json.dumps(config.to_dict(), sort_keys=True, default=str)
        if key not in self.done:
            self.done[key] = [run(config.replace(seed=seed), cache=self.cache) for seed in self.seeds]
        return self.done[key]


def paired(left: list[float], right: list[float]) -> dict:
    """``left − right`` seed by seed, in points: mean, 95 % interval and verdict."""
    differences = [100 * (a - b) for a, b in zip(left, right)]
    interval = Interval.of(differences)
    return {**interval.to_dict(), "verdict": interval.verdict, "per_seed": [round(d, 3) for d in differences]}


def mean(values) -> float:
    return 100 * statistics.fmean(values)


def acc(runs: list[RunResult], phase: str) -> list[float]:
    return [getattr(r, phase).accuracy for r in runs]


def agreement(runs: list[RunResult], phase: str) -> list[float]:
    return [getattr(r, phase).agreement for r in runs]


def agreement_curve(runs: list[RunResult], phase: str) -> list[float]:
    """The phase's agreement with the teacher after each epoch (``track_fidelity``), in %, mean over the seeds."""
    epochs = range(1, runs[0].config.epochs + 1)
    return [
        mean([row.agreement for r in runs for row in r.history if (row.phase, row.epoch) == (phase, e)]) for e in epochs
    ]


def born_again(runs: Runs) -> dict:
    """Teacher and student of one architecture and width, on the same (whole) training set: only then can the
    student beat its teacher by what it learnt from it."""
    out = {}
    for width, lam, epochs in itertools.product((16, 64), (0.5, 1.0), (20, 30)):  # 30: the teacher's own epochs
        gen1 = FULL.replace(
            teacher="mlp-small",
            student="mlp-small",
            teacher_width=width,
            student_width=width,
            lam=lam,
            epochs=epochs,
        )
        gen2 = gen1.replace(teacher_from=student_as_teacher(gen1))
        one, two = runs(gen1), runs(gen2)
        out[f"width {width}, lambda {lam}, {epochs} student epochs"] = {
            "teacher": mean(acc(one, "teacher")),
            "gen1": mean(acc(one, "student")),
            "gen2": mean(acc(two, "student")),
            "scratch": mean(acc(one, "baseline")),
            "gen1 - teacher": paired(acc(one, "student"), acc(one, "teacher")),
            "gen2 - gen1": paired(acc(two, "student"), acc(one, "student")),
            "gen2 - teacher": paired(acc(two, "student"), acc(one, "teacher")),
            "gen1 - scratch": paired(acc(one, "student"), acc(one, "baseline")),
        }
    return out


def capacity(runs: Runs) -> dict:
    out = {}
    by_width = {}
    for (regime, base), student_width in itertools.product(REGIMES.items(), (8, 16)):
        where = f"{regime}, student {student_width}"
        for width in (32, 64, 256, 1024):
            by_width[width] = got = runs(base.replace(teacher_width=width, student_width=student_width))
            out[f"{where}, teacher {width}"] = {
                "teacher": mean(acc(got, "teacher")),
                "student": mean(acc(got, "student")),
                "kd - scratch": paired(acc(got, "student"), acc(got, "baseline")),
            }
        widest, small = by_width[1024], by_width[32]
        out[f"{where}: from 1024 - from 32"] = paired(acc(widest, "student"), acc(small, "student"))
        assistant = base.replace(teacher_width=1024, student_width=64)
        chained = runs(base.replace(student_width=student_width, teacher_from=student_as_teacher(assistant)))
        out[f"{where}: 1024 -> assistant 64 -> student"] = {
            "assistant": mean(acc(chained, "teacher")),
            "student": mean(acc(chained, "student")),
            "assistant chain - direct from 1024": paired(acc(chained, "student"), acc(widest, "student")),
        }
        if base is not FULL:  # the assistant distilled on the whole training set, as the teacher was
            assistant = FULL.replace(teacher_width=1024, student_width=64)
            chained = runs(base.replace(student_width=student_width, teacher_from=student_as_teacher(assistant)))
            out[f"{where}: 1024 -> assistant 64 (full data) -> student"] = {
                "assistant": mean(acc(chained, "teacher")),
                "student": mean(acc(chained, "student")),
                "assistant chain - direct from 1024": paired(acc(chained, "student"), acc(widest, "student")),
                "assistant chain - from a 64 teacher": paired(acc(chained, "student"), acc(by_width[64], "student")),
            }
    return out


def smoothing(runs: Runs) -> dict:
    out = {}
    for (regime, base), epsilon in itertools.product(REGIMES.items(), (0.1, 0.3)):
        plain = runs(base)
        got = runs(base.replace(teacher_label_smoothing=epsilon))
        out[f"{regime}, epsilon {epsilon}"] = {
            "teacher": mean(acc(got, "teacher")),
            "plain teacher": mean(acc(plain, "teacher")),
            "student": mean(acc(got, "student")),
            "plain teacher's student": mean(acc(plain, "student")),
            "kd - scratch": paired(acc(got, "student"), acc(got, "baseline")),
            "teacher - plain teacher": paired(acc(got, "teacher"), acc(plain, "teacher")),
            "student - plain teacher's student": paired(acc(got, "student"), acc(plain, "student")),
        }
    for (regime, base), (name, changes) in itertools.product(
        REGIMES.items(),
        (
            ("tiny teacher mlp-tiny (8)", {"teacher": "mlp-tiny"}),
            ("barely trained teacher (2 epochs)", {"teacher_epochs": 2}),
        ),
    ):
        got = runs(base.replace(**changes))
        out[f"{regime}, {name}"] = {
            "teacher": mean(acc(got, "teacher")),
            "student": mean(acc(got, "student")),
            "kd - scratch": paired(acc(got, "student"), acc(got, "baseline")),
        }
    return out


def fidelity(runs: Runs) -> dict:
    out = {}
    for name, config in (
        ("student 16", FULL.replace(track_fidelity=True)),
        ("student as large as the teacher", FULL.replace(student="mlp-large", lam=1.0, track_fidelity=True)),
        ("student as large, T 1", FULL.replace(student="mlp-large", lam=1.0, temperature=1.0, track_fidelity=True)),
    ):
        got = runs(config)
        out[name] = {
            "teacher": mean(acc(got, "teacher")),
            "student": mean(acc(got, "student")),
            "student agreement": mean(agreement(got, "student")),
            "scratch agreement": mean(agreement(got, "baseline")),
            "student KL": statistics.fmean(r.student.teacher_kl for r in got),
            "scratch KL": statistics.fmean(r.baseline.teacher_kl for r in got),
            "kd - scratch accuracy": paired(acc(got, "student"), acc(got, "baseline")),
            "kd - scratch agreement": paired(agreement(got, "student"), agreement(got, "baseline")),
            "student agreement by epoch": agreement_curve(got, "student"),
            "scratch agreement by epoch": agreement_curve(got, "baseline"),
        }
    return out


def noise(runs: Runs) -> dict:
    out = {"chance": 10.0}
    for (regime, base), (student, epochs) in itertools.product(
        REGIMES.items(), (("mlp-small", 20), ("mlp-small", 60), ("mlp-wide", 20))
    ):
        config = base.replace(student=student, epochs=epochs)
        real, got = runs(config.replace(lam=1.0)), runs(config.replace(transfer="noise"))
        out[f"{regime}, {student}, {epochs} epochs"] = {
            "teacher": mean(acc(got, "teacher")),
            "noise student": mean(acc(got, "student")),
            "real-data student (lambda 1)": mean(acc(real, "student")),
            "scratch (labels)": mean(acc(got, "baseline")),
            "noise - chance": paired(acc(got, "student"), [0.1] * len(got)),
            "noise - real": paired(acc(got, "student"), acc(real, "student")),
            "noise agreement": mean([r.student.agreement for r in got]),
        }
    return out


MEASURES: dict[str, Callable[[Runs], dict]] = {
    "born-again": born_again,
    "capacity": capacity,
    "smoothing": smoothing,
    "fidelity": fidelity,
    "noise": noise,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", type=int, default=100, help="first tuning seed (the lessons run 0 and up)")
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--only", default=",".join(FINDINGS), help="comma-separated: " + ", ".join(FINDINGS))
    parser.add_argument("--cache-dir", default=None, help="teacher cache (default: a temporary folder)")
    parser.add_argument("--json", default=None, help="write the measurements here")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    seeds = list(range(args.start, args.start + args.seeds))
    with tempfile.TemporaryDirectory() as folder:
        runs = Runs(seeds, TeacherCache(args.cache_dir or folder))
        out = {"seeds": seeds, "torch": torch.__version__}
        for name in args.only.split(","):
            started = time.perf_counter()
            out[name] = MEASURES[name](runs)
            out[name]["seconds"] = round(time.perf_counter() - started, 1)
            print(json.dumps({name: out[name]}, indent=1), flush=True)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(out, handle, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
