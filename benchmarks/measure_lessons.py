"""Measure every lesson's claim through the product, from many start seeds and under several kernel sets, and
write its table in docs/lessons.md.

    python -m benchmarks.measure_lessons [--starts 0-19] [--kernels native,avx2,default] [--jobs 2]
                                         [--json lessons.json] [--docs]

For each kernel set (benchmarks/kernels.py, in a fresh process), each digits lesson and each start seed s: what
``kd-train --lesson NAME --seed s`` gives over the lesson's seeds (the page's count) — the verdict, KD − baseline
with its 95 % interval, in how many seeds KD is ahead, and whether the verdict is one the lesson claims.  The
unseen-class lesson is also run for every hidden class.  The block names the CPU and each kernel set's kernels.
``--docs`` rewrites the block between the lesson markers in docs/lessons.md (about 8 minutes for five kernel sets).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from kd_core import TeacherCache
from kd_core.execution.executors import make_executor
from kd_core.runs.seeds import SeedsResult, run_seeds
from kd_core.studies.lessons import LESSONS, Lesson

from . import kernels
from .readme import add_argument, publish


def window(lesson: Lesson, runs: list) -> dict:
    """One window of consecutive seeds: the verdict, KD − baseline with its interval, and seeds KD is ahead in."""
    interval = SeedsResult(runs).interval
    gains = [r.kd_minus_baseline for r in runs]
    return {
        "start": runs[0].config.seed,
        "seeds": len(runs),
        "verdict": interval.verdict,
        "holds": interval.verdict in lesson.verdicts,
        "mean": interval.mean,
        "low": interval.low,
        "high": interval.high,
        "ahead": sum(g > 0 for g in gains),
        "student": statistics.fmean(r.student.accuracy for r in runs),
        "baseline": statistics.fmean(r.baseline.accuracy for r in runs),
        "teacher": statistics.fmean(r.teacher.accuracy for r in runs),
        "worst_teacher": min(r.teacher.accuracy for r in runs),
        "epochs": runs[0].config.epochs,
    }


def measure_lesson(lesson: Lesson, starts: list[int], executor, cache: TeacherCache) -> dict:
    """Every window of ``lesson.seeds`` seeds from each start seed (the page's count).  Each seed is run once,
    through the product: a window's runs are the same seeds' runs as ``kd-train --lesson NAME --seed s`` gives,
    since a seed's run depends on its own seed only."""
    began, n = time.perf_counter(), lesson.seeds
    first, last = min(starts), max(starts) + n
    result = run_seeds(lesson.config(seed=first), last - first, cache=cache, executor=executor)
    by_seed = {r.config.seed: r for r in result.runs}
    windows = [window(lesson, [by_seed[s] for s in range(start, start + n)]) for start in starts]
    return {
        "lesson": lesson.name,
        "title": lesson.title,
        "claim": list(lesson.verdicts),
        "windows": windows,
        "gains": {seed: r.kd_minus_baseline for seed, r in by_seed.items()},
        "teachers": {seed: r.teacher.accuracy for seed, r in by_seed.items()},
        "seconds": time.perf_counter() - began,
    }


def measure_unseen(lesson: Lesson, seeds: int, executor, cache: TeacherCache) -> dict:
    """The unseen-class lesson for every hidden class: the omitted class's accuracy, before and after the bias."""
    rows = []
    for cls in range(10):
        result = run_seeds(lesson.config(omit_class=cls), seeds, cache=cache, executor=executor)
        for run in result.runs:
            report = run.omitted_class
            rows.append(
                {
                    "class": cls,
                    "seed": run.config.seed,
                    "student": report.student_accuracy,
                    "baseline": report.baseline_accuracy,
                    "corrected": report.bias_corrected["class_accuracy"],
                    "bias": report.bias_corrected["bias"],
                    "overall_corrected": report.bias_corrected["overall_accuracy"],
                }
            )
    mean = lambda key: statistics.fmean(r[key] for r in rows)  # noqa: E731
    return {
        "rows": rows,
        "student": mean("student"),
        "baseline": mean("baseline"),
        "corrected": mean("corrected"),
        "zero": sum(r["student"] == 0 for r in rows),
        "n": len(rows),
    }


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


def span(starts: list[int]) -> str:
    return (
        f"{starts[0]}–{starts[-1]}" if starts == list(range(starts[0], starts[-1] + 1)) else ", ".join(map(str, starts))
    )


def markdown(measured: dict) -> str:
    sets = measured["kernel_sets"]  # name -> {"machine": …, "lessons": […]}
    native = next(iter(sets.values()))
    starts = [w["start"] for w in native["lessons"][0]["windows"]] if native["lessons"] else []
    lines = [
        f"Measured on {native['machine']['cpu']} with torch {measured['torch']}, one thread per training, "
        f"{measured['jobs']} at a time ({measured['seconds']:.0f} s in all). Each lesson runs the seeds the page "
        f"runs, from every start seed {span(starts)}, under each kernel set (`benchmarks/kernels.py`: "
        + ", ".join(
            f"{name} = {info['machine']['aten']}"
            + (
                " " + " ".join(f"{k}={v}" for k, v in info["machine"]["variables"].items())
                if info["machine"]["variables"]
                else ""
            )
            for name, info in sets.items()
        )
        + ").",
        "",
        "| lesson | seeds | claim | "
        + " | ".join(f"holds ({name})" for name in sets)
        + " | KD − scratch, mean over windows (lowest … highest) | KD ahead (fewest) | weakest teacher |",
        "|---|---|---|" + "---|" * len(sets) + "---|---|---|",
    ]
    for i, entry in enumerate(native["lessons"]):
        per_set = [info["lessons"][i] for info in sets.values()]
        windows = [w for e in per_set for w in e["windows"]]
        holds = [f"{sum(w['holds'] for w in e['windows'])} of {len(e['windows'])}" for e in per_set]
        means = [100 * w["mean"] for w in windows]
        lines.append(
            f"| `{entry['lesson']}` | {entry['windows'][0]['seeds']} | {' or '.join(entry['claim'])} | "
            + " | ".join(holds)
            + f" | {min(means):+.2f} … {max(means):+.2f} | "
            f"{min(w['ahead'] for w in windows)} of {entry['windows'][0]['seeds']} | "
            f"{100 * min(w['worst_teacher'] for w in windows):.2f} % |"
        )
    name = next(iter(sets))
    lines += [
        "",
        f"Three of those windows in full ({name}):",
        "",
        "| lesson | seeds | start seed | KD | scratch | KD − scratch (95 % interval) | KD ahead | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for entry in native["lessons"]:
        for w in entry["windows"][:: max(1, len(entry["windows"]) // 3)][:3]:
            interval = f"{100 * w['mean']:+.2f} [{100 * w['low']:+.2f}, {100 * w['high']:+.2f}]"
            lines.append(
                f"| `{entry['lesson']}` | {w['seeds']} | {w['start']} | {100 * w['student']:.2f} % | "
                f"{100 * w['baseline']:.2f} % | {interval} | {w['ahead']} of {w['seeds']} | {w['verdict']} |"
            )
    unseen = measured.get("unseen")
    if unseen:
        lines += [
            "",
            f"`unseen-class` over all ten hidden classes × {unseen['n'] // 10} seeds: the KD student recognises "
            f"{100 * unseen['student']:.1f} % of the hidden class on average (0 % in {unseen['zero']} of {unseen['n']} "
            f"runs), the scratch baseline {100 * unseen['baseline']:.1f} %; after the bias correction chosen on the "
            f"validation split, {100 * unseen['corrected']:.1f} %.",
        ]
    mnist = measured.get("hinton_mnist")
    if mnist:
        e = mnist["errors"]
        lines += [
            "",
            f"`hinton-mnist` (one seed, two threads, {mnist['seconds']:.0f} s in all, the teacher trained too): "
            "test errors out of 10,000 — "
            f"teacher {e['teacher']}, KD student {e['student']}, scratch student {e['baseline']}; the paper: 67, 74 "
            "and 146.",
        ]
    return "\n".join(lines)


def parse_starts(text: str) -> list[int]:
    """``"0-19"`` or ``"0,5,10"``."""
    if "-" in text:
        first, last = (int(x) for x in text.split("-"))
        return list(range(first, last + 1))
    return [int(s) for s in text.split(",")]


def measure_here(names: list[str], starts: list[int], jobs: int, cache_dir: str | None) -> dict:
    """Every digits lesson under the kernel set this process runs with."""
    torch.set_num_threads(1)
    executor = make_executor("local", jobs, threads=1)
    with tempfile.TemporaryDirectory() as folder:  # a kernel set's teachers are its own unless a cache is named
        cache = TeacherCache(cache_dir or folder)
        lessons = []
        for name in names:
            if LESSONS[name].settings.get("dataset", "digits") == "digits":
                lessons.append(measure_lesson(LESSONS[name], starts, executor, cache))
                print(json.dumps({k: v for k, v in lessons[-1].items() if k != "windows"}), file=sys.stderr)
        return {"machine": kernels.current(), "lessons": lessons}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--starts", default="0-19", help="start seeds of the windows: 0-19 or 0,5,10")
    parser.add_argument("--lessons", default=",".join(LESSONS), help="which lessons, comma-separated")
    parser.add_argument("--kernels", default="native", help="kernel sets (benchmarks/kernels.py), comma-separated")
    parser.add_argument("--unseen-seeds", type=int, default=3, help="seeds per hidden class (0: skip)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--mnist-dir", help="the data folder holding MNIST/raw: also measure the hinton-mnist lesson")
    parser.add_argument("--json", help="also write the numbers here")
    add_argument(parser, "lessons")
    parser.add_argument("--cache-dir")
    parser.add_argument("--only-here", action="store_true", help=argparse.SUPPRESS)  # one kernel set's worker
    args = parser.parse_args(argv)
    starts, names = parse_starts(args.starts), args.lessons.split(",")
    if args.only_here:
        Path(args.json).write_text(json.dumps(measure_here(names, starts, args.jobs, args.cache_dir)))
        return 0
    began = time.perf_counter()
    measured: dict = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "jobs": args.jobs,
        "kernel_sets": {},
    }
    with tempfile.TemporaryDirectory() as folder:
        for name in args.kernels.split(","):  # each in a fresh process: the variables are read at start-up
            out = Path(folder) / f"{name}.json"
            print(f"kernel set {name}", file=sys.stderr)
            kernels.run_under(
                name,
                [
                    "-m",
                    "benchmarks.measure_lessons",
                    "--only-here",
                    "--json",
                    str(out),
                    "--starts",
                    args.starts,
                    "--lessons",
                    args.lessons,
                    "--jobs",
                    str(args.jobs),
                ]
                + (["--cache-dir", args.cache_dir] if args.cache_dir else []),
            )
            measured["kernel_sets"][name] = json.loads(out.read_text())
    torch.set_num_threads(1)
    if args.unseen_seeds and "unseen-class" in names:
        executor, cache = make_executor("local", args.jobs, threads=1), TeacherCache(args.cache_dir)
        measured["unseen"] = measure_unseen(LESSONS["unseen-class"], args.unseen_seeds, executor, cache)
    if args.mnist_dir and "hinton-mnist" in names:
        measured["hinton_mnist"] = measure_hinton_mnist(args.mnist_dir)
    measured["seconds"] = time.perf_counter() - began
    block = markdown(measured)
    publish(block, measured, args.json, args.docs, "lessons", "benchmarks/measure_lessons.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
