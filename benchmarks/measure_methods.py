"""Every distillation method on the lessons, over their seeds: method − scratch and method − KD with 95 % intervals.

    python -m benchmarks.measure_methods                         # print the block
    python -m benchmarks.measure_methods --docs                  # and rewrite docs/methods.md's "methods" block
    python -m benchmarks.measure_methods --mnist-dir DIR         # also the hinton-mnist lesson

Each (lesson, method) is ``kd-train --lesson L --loss M --seeds N``: the lesson's settings and seeds, the method's
official defaults (kd_core/methods), one thread per training.  Scratch is each seed's own baseline (the same for
every method); method − KD pairs each seed's student with KD's student of the same seed.  Accuracies are the
final epoch's on the test set.  Seconds per run: the KD student's training alone, the mean over seeds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import torch

from kd_core import TeacherCache
from kd_core.execution.executors import make_executor
from kd_core.methods.registry import COMPARED, METHODS
from kd_core.runs.seeds import run_seeds
from kd_core.stats import Interval
from kd_core.studies.lessons import LESSONS

from .machine import cpu_model
from .readme import add_argument, publish

DEFAULT_LESSONS = ("little-data", "tiny-student", "full-data")


def measure_lesson(name: str, methods: list[str], executor, cache: TeacherCache, seeds: int | None = None) -> dict:
    lesson = LESSONS[name]
    count = seeds or lesson.seeds
    runs = {}
    for method in methods:
        started = time.perf_counter()
        result = run_seeds(lesson.config(loss=method), count, cache=cache, executor=executor)
        if result.status != "completed":
            raise RuntimeError(f"{name}/{method} did not complete")
        runs[method] = {
            "seeds": [r.config.seed for r in result.runs],
            "student": [r.student.accuracy for r in result.runs],
            "baseline": [r.baseline.accuracy for r in result.runs],
            "seconds": statistics.fmean(r.seconds["student"] for r in result.runs),
            "wall": time.perf_counter() - started,
        }
        print(f"{name} {method}: {statistics.fmean(runs[method]['student']):.4f}", file=sys.stderr)
    kd = runs["kd"]["student"]
    rows = []
    for method, r in runs.items():
        scratch = Interval.of([s - b for s, b in zip(r["student"], r["baseline"])])
        versus = Interval.of([s - k for s, k in zip(r["student"], kd)])
        rows.append(
            {
                "method": method,
                "student": statistics.fmean(r["student"]),
                "seconds": r["seconds"],
                "scratch": {**scratch.to_dict(), "verdict": scratch.verdict},
                "kd": {**versus.to_dict(), "verdict": versus.verdict},
                "runs": r,
            }
        )
    return {"lesson": name, "seeds": count, "rows": rows}


def interval_text(entry: dict) -> str:
    if entry["low"] is None:
        return f"{100 * entry['mean']:+.2f}"
    return f"{100 * entry['mean']:+.2f} [{100 * entry['low']:+.2f}, {100 * entry['high']:+.2f}]"


def block(measured: dict) -> str:
    lines = [
        f"Measured on {measured['cpu']} with torch {measured['torch']}, one thread per training, {measured['jobs']} "
        f"at a time ({measured['seconds']:.0f} s in all), each method at its official defaults "
        "(`kd_core/methods`) on the lesson's settings and seeds (final-epoch test accuracy). Intervals are 95 % "
        "(Student's t over the paired seeds); a verdict needs the whole interval on one side of 0.",
        "",
        "| lesson | seeds | method | student | method − scratch (points) | vs scratch | method − KD (points) | vs KD | "
        "s / run |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for entry in measured["lessons"]:
        for row in entry["rows"]:
            versus_kd = ("–", "–") if row["method"] == "kd" else (interval_text(row["kd"]), row["kd"]["verdict"])
            lines.append(
                f"| `{entry['lesson']}` | {entry['seeds']} | {METHODS[row['method']].title} | "
                f"{100 * row['student']:.2f} % | {interval_text(row['scratch'])} | {row['scratch']['verdict']} | "
                f"{versus_kd[0]} | {versus_kd[1]} | {row['seconds']:.2f} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lessons", default=",".join(DEFAULT_LESSONS), help="comma-separated lesson names")
    parser.add_argument("--methods", default=",".join(COMPARED), help="comma-separated methods (kd is always run)")
    parser.add_argument("--seeds", type=int, help="seeds per lesson (default: the lesson's own)")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--mnist-dir", help="the data folder holding MNIST/raw: also measure hinton-mnist")
    parser.add_argument("--json", help="also write the numbers here")
    add_argument(parser, "methods")
    parser.add_argument("--cache-dir")
    args = parser.parse_args(argv)
    lessons = [name.strip() for name in args.lessons.split(",")]
    methods = ["kd"] + [m.strip() for m in args.methods.split(",") if m.strip() and m.strip() != "kd"]
    unknown = [n for n in lessons if n not in LESSONS] + [m for m in methods if m not in METHODS]
    if unknown:
        parser.error(f"unknown lesson or method {unknown[0]!r}")
    if args.mnist_dir:
        os.environ["KD_DATA_DIR"] = args.mnist_dir
        lessons.append("hinton-mnist")
    torch.set_num_threads(1)
    executor = make_executor("local", args.jobs, threads=1)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        cache = TeacherCache(args.cache_dir or folder)
        measured_lessons = [measure_lesson(name, methods, executor, cache, args.seeds) for name in lessons]
    measured = {
        "cpu": cpu_model(),
        "torch": torch.__version__,
        "jobs": args.jobs,
        "seconds": time.perf_counter() - started,
        "lessons": measured_lessons,
    }
    publish(block(measured), measured, args.json, args.docs, "methods", "benchmarks/measure_methods.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
