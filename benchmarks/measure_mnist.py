"""Measure the Hinton lessons on the real MNIST files over seeds 0–2, and write their tables in docs/hinton-mnist.md.

    python -m benchmarks.measure_mnist --data-dir ../shared/data [--seeds 3] [--json mnist.json] [--docs]

``hinton-mnist``: seeds 0–2 as ``kd-train --lesson hinton-mnist`` runs them (one seed per core, one thread each,
the teachers handed out first; a fresh teacher cache), per seed the test errors of the teacher, the KD student and
the scratch student, the share of the scratch–teacher gap the KD student closes, and the time.  ``hinton-omitted-3``
then runs on the same teachers (cached): the students' errors, their share of the test 3s, and the KD student's
after the bias correction chosen on the validation split; ``hinton-7s-and-8s`` likewise, for students that saw only
the 7s and 8s.  ``--docs`` rewrites the block between the mnist-lessons markers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from kd_core import TeacherCache
from kd_core.execution.executors import LocalProcesses
from kd_core.runs.seeds import run_seeds
from kd_core.stats import Interval
from kd_core.studies.lessons import LESSONS
from kd_core.studies.paper import (
    PAPER_7S_AND_8S,
    PAPER_ERRORS,
    PAPER_OMITTED_3,
    SeedErrors,
    errors,
    gap_interval,
    seed_errors,
)

from .readme import add_argument, publish

NAME, SCRIPT = "mnist-lessons", "benchmarks/measure_mnist.py"
LESSON_NAMES = ("hinton-mnist", "hinton-omitted-3", "hinton-7s-and-8s")


def lesson_runs(name: str, data_dir: str, seeds: int, cache: TeacherCache) -> tuple[list, float]:
    """A lesson's seeds 0 … seeds − 1 as ``kd-train --lesson`` runs them (one per core, one thread each, the
    teachers handed out first), and the wall time of the whole lesson."""
    executor = LocalProcesses(jobs=min(os.cpu_count() or 1, seeds), threads=1)
    began = time.perf_counter()
    result = run_seeds(LESSONS[name].config(seed=0, data_dir=data_dir), seeds, cache=cache, executor=executor)
    return result.runs, time.perf_counter() - began


def _table_row(result) -> dict:
    row = seed_errors(result)
    return {**vars(row), "gap_closed": row.gap_closed, **_timing(result)}


def _omitted_row(result) -> dict:
    report = result.omitted_class
    return {
        **_transfer(result, report.bias_corrected),
        "student_on_class": report.student_accuracy,
        "baseline_on_class": report.baseline_accuracy,
        "corrected_on_class": (report.bias_corrected or {}).get("class_accuracy"),
    }


def _kept_row(result) -> dict:
    report = result.kept_classes
    return {
        **_transfer(result, report.bias_corrected),
        "student_unseen": report.student_unseen_accuracy,
        "baseline_unseen": report.baseline_unseen_accuracy,
    }


def _transfer(result, fixed: dict | None) -> dict:
    """What both transfer lessons report: the students' errors, and the bias chosen and the errors after it."""
    fixed = fixed or {}
    return {
        "seed": result.config.seed,
        "student": errors(result.student.accuracy),
        "baseline": errors(result.baseline.accuracy),
        "bias": fixed.get("bias"),
        "corrected_errors": None if fixed.get("overall_accuracy") is None else errors(fixed["overall_accuracy"]),
        **_timing(result),
    }


def _timing(result) -> dict:
    return {"seconds": sum(result.seconds.values()), "phase_seconds": dict(result.seconds)}


ROWS = {"hinton-mnist": _table_row, "hinton-omitted-3": _omitted_row, "hinton-7s-and-8s": _kept_row}


def measure(data_dir: str, seeds: int, lessons: tuple[str, ...] = LESSON_NAMES, cache_dir: str | None = None) -> dict:
    torch.set_num_threads(1)  # as kd-train and the page run a lesson's seeds
    rows: dict[str, list[dict]] = {name: [] for name in LESSON_NAMES}
    walls = {}
    with tempfile.TemporaryDirectory() as folder:
        cache = TeacherCache(cache_dir or folder)  # fresh unless given: every teacher is trained, and timed
        for name in (name for name in LESSON_NAMES if name in lessons):  # hinton-mnist first: it trains the teachers
            runs, walls[name] = lesson_runs(name, data_dir, seeds, cache)
            for result in runs:
                rows[name].append(ROWS[name](result))
                print(f"{name}: {rows[name][-1]}", file=sys.stderr, flush=True)
    return {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": 1,
        "jobs": min(os.cpu_count() or 1, seeds),
        "cpus": os.cpu_count(),
        "load": os.getloadavg()[0],
        **rows,
        "wall_seconds": walls,
    }


def _interval(values: list[float], digits: int = 0) -> str:
    """A mean of fractions as percent with its 95 % interval: ``72 % [60, 84]``."""
    i = Interval.of(values)
    if i.low is None:
        return f"{100 * i.mean:.{digits}f} %"
    return f"{100 * i.mean:.{digits}f} % [{100 * i.low:.{digits}f}, {100 * i.high:.{digits}f}]"


def _student_seconds(row: dict) -> float:
    """Both students' training time (for a measurement without phase_seconds, its whole cached-teacher run)."""
    phases = row.get("phase_seconds")
    return row["seconds"] if phases is None else phases["student"] + phases["baseline"]


def markdown(m: dict) -> str:
    rows, omitted = m["hinton-mnist"], m["hinton-omitted-3"]
    gaps = gap_interval([SeedErrors(r["seed"], r["teacher"], r["student"], r["baseline"]) for r in rows])
    gap = "—" if gaps is None else _interval([r["gap_closed"] for r in rows])
    mean = lambda key, rs=rows: statistics.fmean(r[key] for r in rs)  # noqa: E731
    paper = PAPER_ERRORS
    paper_gap = (paper["baseline"] - paper["student"]) / (paper["baseline"] - paper["teacher"])
    lines = [
        f"`hinton-mnist` on the real MNIST files, seeds 0–{len(rows) - 1}, run as `kd-train --lesson hinton-mnist` "
        f"runs them ({m.get('jobs', 1)} at once, {m['threads']} torch thread each, on {m['cpus']} CPUs, torch "
        f"{m['torch']}, load average {m['load']:.1f} at the end; a fresh teacher cache). Test errors out of 10,000; "
        "the gap closed is (scratch − KD) / (scratch − teacher), its mean with the 95 % interval over the seeds:",
        "",
        "| seed | teacher | KD student | scratch student | gap closed | time (teacher + students) |",
        "|---|---:|---:|---:|---:|---:|",
        *(
            f"| {r['seed']} | {r['teacher']} | {r['student']} | {r['baseline']} | {100 * r['gap_closed']:.0f} % | "
            f"{r['seconds']:.0f} s ({r['phase_seconds']['teacher']:.0f} + {r['phase_seconds']['student']:.0f} + "
            f"{r['phase_seconds']['baseline']:.0f}) |"
            for r in rows
        ),
        f"| **mean** | **{mean('teacher'):.0f}** | **{mean('student'):.0f}** | **{mean('baseline'):.0f}** | "
        f"**{gap}** | {mean('seconds'):.0f} s |",
        f"| the paper | {PAPER_ERRORS['teacher']} | {PAPER_ERRORS['student']} | {PAPER_ERRORS['baseline']} | "
        f"{100 * paper_gap:.0f} % | hours |",
        "",
        *(
            [
                f"The whole lesson took {m['wall_seconds']['hinton-mnist']:.0f} s from a fresh cache; a seed's time is "
                "its three trainings, each on one core."
            ]
            if m.get("wall_seconds", {}).get("hinton-mnist")
            else []
        ),
        "",
    ]
    if omitted:
        fixed = [r["corrected_on_class"] for r in omitted if r["corrected_on_class"] is not None]
        lines += [
            "`hinton-omitted-3` on the same teachers (cached): the students never see a 3. Share of the 1,010 test 3s "
            "recognised, and the KD student's after its 3-bias is raised by the amount chosen on the 10 % validation "
            "split (never the test set):",
            "",
            "| seed | KD errors | scratch errors | KD on 3s | scratch on 3s | bias | KD + bias on 3s "
            "| KD + bias errors | time (students) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
            *(
                f"| {r['seed']} | {r['student']} | {r['baseline']} | {100 * r['student_on_class']:.1f} % | "
                f"{100 * r['baseline_on_class']:.1f} % | {r['bias']:+.2f} | {100 * r['corrected_on_class']:.1f} % | "
                f"{r['corrected_errors']} | {_student_seconds(r):.0f} s |"
                for r in omitted
            ),
            f"| **mean** | **{mean('student', omitted):.0f}** | **{mean('baseline', omitted):.0f}** | "
            f"**{100 * mean('student_on_class', omitted):.1f} %** | "
            f"**{100 * mean('baseline_on_class', omitted):.1f} %** | | "
            f"**{_interval(fixed, 1) if fixed else '—'}** | | |",
            f"| the paper | 206 | | | | | {100 * PAPER_OMITTED_3:.1f} % | 109 | hours |",
        ]
    kept = m.get("hinton-7s-and-8s") or []
    if kept:
        share = lambda n: f"{n / 100:.1f} %"  # noqa: E731 — errors out of 10,000 as a share
        lines += [
            "",
            "`hinton-7s-and-8s` on the same teachers (cached): the students see only the 7s and 8s. Test errors "
            "(of all 10,000 digits), the share of the other digits' test images each reads right, and the KD student's "
            "errors once the other digits' biases are raised by the amount chosen on the 10 % validation split:",
            "",
            "| seed | KD errors | scratch errors | KD on the other digits | scratch on them | bias | KD + bias errors "
            "| time (students) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
            *(
                f"| {r['seed']} | {share(r['student'])} | {share(r['baseline'])} | {100 * r['student_unseen']:.1f} % | "
                f"{100 * r['baseline_unseen']:.1f} % | {r['bias']:+.2f} | {share(r['corrected_errors'])} | "
                f"{_student_seconds(r):.0f} s |"
                for r in kept
            ),
            f"| **mean** | **{share(mean('student', kept))}** | **{share(mean('baseline', kept))}** | "
            f"**{100 * mean('student_unseen', kept):.1f} %** | **{100 * mean('baseline_unseen', kept):.1f} %** | | "
            f"**{_interval([r['corrected_errors'] / 10_000 for r in kept], 1)}** | |",
            f"| the paper | {100 * PAPER_7S_AND_8S['before']:.1f} % | | | | | "
            f"{100 * PAPER_7S_AND_8S['after']:.1f} % | hours |",
        ]
    return "\n".join(lines).strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", help="the folder holding MNIST/raw/ (required unless --from-json)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0 to N − 1")
    parser.add_argument("--json", help="also write the numbers here")
    add_argument(parser, NAME)
    parser.add_argument("--only", choices=LESSON_NAMES, help="measure one lesson (default: both)")
    parser.add_argument("--cache-dir", help="a teacher cache to share (default: a fresh one, so teachers are timed)")
    parser.add_argument(
        "--from-json",
        nargs="+",
        help="publish the numbers of one or more --json files (merged: each "
        "lesson's rows from the file that has them), without measuring",
    )
    args = parser.parse_args(argv)
    if args.seeds < 2:
        parser.error("--seeds must be at least 2 (an interval needs two)")
    if not args.from_json and not args.data_dir:
        parser.error("--data-dir is required (the folder holding MNIST/raw/)")
    if args.from_json:
        parts = [json.loads(Path(path).read_text()) for path in args.from_json]
        measured = {**parts[0], **{name: next((p[name] for p in parts if p.get(name)), []) for name in LESSON_NAMES}}
    else:
        measured = measure(args.data_dir, args.seeds, (args.only,) if args.only else LESSON_NAMES, args.cache_dir)
    publish(markdown(measured), measured, args.json, args.docs, NAME, SCRIPT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
