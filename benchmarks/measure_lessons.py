"""Measure every lesson's claim through the product, over several windows of seeds, and write the README's table.

    python -m benchmarks.measure_lessons [--starts 0,5,10] [--jobs 2] [--json lessons.json] [--readme README.md]

For each lesson and each start seed s: ``kd-train --lesson NAME --seed s`` over the lesson's seeds — the
verdict, KD − baseline with its 95 % interval, and in how many seeds KD is ahead.  The unseen-class lesson is
also run for every hidden class.  ``--readme`` rewrites the block between the lesson markers in README.md.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time

import torch

from kd_core import TeacherCache
from kd_core.executors import make_executor
from kd_core.lessons import LESSONS, Lesson
from kd_core.seeds import run_seeds

from .readme import publish


def measure_lesson(lesson: Lesson, starts: list[int], executor, cache: TeacherCache) -> dict:
    windows = []
    for start in starts:
        began = time.perf_counter()
        result = run_seeds(lesson.config(seed=start), lesson.seeds, cache=cache, executor=executor)
        interval = result.interval
        gains = [r.kd_minus_baseline for r in result.runs]
        windows.append({
            "start": start, "seeds": lesson.seeds, "verdict": interval.verdict, "mean": interval.mean,
            "low": interval.low, "high": interval.high, "ahead": sum(g > 0 for g in gains),
            "student": statistics.fmean(r.student.accuracy for r in result.runs),
            "baseline": statistics.fmean(r.baseline.accuracy for r in result.runs),
            "teacher": statistics.fmean(r.teacher.accuracy for r in result.runs),
            "epochs": result.runs[0].config.epochs, "seconds": time.perf_counter() - began,
        })
    return {"lesson": lesson.name, "title": lesson.title, "windows": windows}


def measure_unseen(lesson: Lesson, seeds: int, executor, cache: TeacherCache) -> dict:
    """The unseen-class lesson for every hidden class: the omitted class's accuracy, before and after the bias."""
    rows = []
    for cls in range(10):
        result = run_seeds(lesson.config(omit_class=cls), seeds, cache=cache, executor=executor)
        for run in result.runs:
            report = run.omitted_class
            rows.append({"class": cls, "seed": run.config.seed, "student": report.student_accuracy,
                         "baseline": report.baseline_accuracy, "corrected": report.bias_corrected["class_accuracy"],
                         "bias": report.bias_corrected["bias"], "overall_corrected": report.bias_corrected["overall_accuracy"]})
    mean = lambda key: statistics.fmean(r[key] for r in rows)  # noqa: E731
    return {"rows": rows, "student": mean("student"), "baseline": mean("baseline"), "corrected": mean("corrected"),
            "zero": sum(r["student"] == 0 for r in rows), "n": len(rows)}


def measure_hinton_mnist(data_dir: str) -> dict:
    """The hinton-mnist lesson once, from scratch (a fresh teacher cache), with two torch threads: test errors
    and the whole lesson's time."""
    torch.set_num_threads(2)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        run = run_seeds(LESSONS["hinton-mnist"].config(data_dir=data_dir), 1, cache=TeacherCache(folder)).runs[0]
    torch.set_num_threads(1)
    errors = {phase: round((1 - getattr(run, phase).accuracy) * 10_000) for phase in ("teacher", "student", "baseline")}
    return {"errors": errors, "seconds": time.perf_counter() - began, "training_seconds": sum(run.seconds.values())}


def markdown(measured: dict) -> str:
    lines = [f"Measured with torch {measured['torch']}, one thread per training, "
             f"{measured['jobs']} at a time, on this machine ({measured['seconds']:.0f} s in all).", "",
             "| lesson | seeds | start seed | KD | scratch | KD − scratch (95 % interval) | KD ahead | verdict |",
             "|---|---|---|---|---|---|---|---|"]
    for entry in measured["lessons"]:
        for w in entry["windows"]:
            interval = f"{100 * w['mean']:+.2f} [{100 * w['low']:+.2f}, {100 * w['high']:+.2f}]"
            lines.append(f"| `{entry['lesson']}` | {w['seeds']} | {w['start']} | {100 * w['student']:.2f} % | "
                         f"{100 * w['baseline']:.2f} % | {interval} | {w['ahead']} of {w['seeds']} | {w['verdict']} |")
    unseen = measured.get("unseen")
    if unseen:
        lines += ["", f"`unseen-class` over all ten hidden classes × {unseen['n'] // 10} seeds: the KD student recognises "
                  f"{100 * unseen['student']:.1f} % of the hidden class on average (0 % in {unseen['zero']} of {unseen['n']} "
                  f"runs), the scratch baseline {100 * unseen['baseline']:.1f} %; after the bias correction chosen on the "
                  f"validation split, {100 * unseen['corrected']:.1f} %."]
    mnist = measured.get("hinton_mnist")
    if mnist:
        e = mnist["errors"]
        lines += ["", f"`hinton-mnist` (one seed, two threads, {mnist['seconds']:.0f} s in all, the teacher trained too): "
                  "test errors out of 10,000 — "
                  f"teacher {e['teacher']}, KD student {e['student']}, scratch student {e['baseline']}; the paper: 67, 74 "
                  "and 146."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--starts", default="0,5,10", help="start seeds of the windows, comma-separated")
    parser.add_argument("--lessons", default=",".join(LESSONS), help="which lessons, comma-separated")
    parser.add_argument("--unseen-seeds", type=int, default=3, help="seeds per hidden class (0: skip)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--mnist-dir", help="the data folder holding MNIST/raw: also measure the hinton-mnist lesson")
    parser.add_argument("--json", help="also write the numbers here")
    parser.add_argument("--readme", help="rewrite the lessons block of this README")
    parser.add_argument("--cache-dir")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    executor, cache = make_executor("local", args.jobs, threads=1), TeacherCache(args.cache_dir)
    starts = [int(s) for s in args.starts.split(",")]
    began = time.perf_counter()
    measured: dict = {"torch": torch.__version__, "python": platform.python_version(), "jobs": args.jobs, "lessons": []}
    print(f"torch {torch.__version__}", file=sys.stderr)
    for name in args.lessons.split(","):
        lesson = LESSONS[name]
        if lesson.settings.get("dataset", "digits") != "digits":
            continue  # lessons on downloaded datasets are measured by their own tests
        measured["lessons"].append(measure_lesson(lesson, starts, executor, cache))
        print(json.dumps(measured["lessons"][-1]), file=sys.stderr)
    if args.unseen_seeds and "unseen-class" in LESSONS:
        measured["unseen"] = measure_unseen(LESSONS["unseen-class"], args.unseen_seeds, executor, cache)
    if args.mnist_dir and "hinton-mnist" in LESSONS:
        measured["hinton_mnist"] = measure_hinton_mnist(args.mnist_dir)
    measured["seconds"] = time.perf_counter() - began
    block = markdown(measured)
    publish(block, measured, args.json, args.readme, "lessons", "benchmarks/measure_lessons.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
