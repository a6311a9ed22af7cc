"""Time the whole ``hinton-mnist`` lesson (its three seeds) on the real MNIST files, and write its block in
docs/hinton-mnist.md.

    python -m benchmarks.measure_lesson_time --data-dir ../shared/data [--json time.json] [--docs]

Each way runs ``kd-train --lesson hinton-mnist`` as a child process, timed from its start to its exit:
- **kd-train** as it runs a lesson by default, and as Distill runs a lesson's seeds on a server's idle cores: one
  seed per core, one thread each, the teachers handed out first (``kd_core.runs.seeds.teachers_first``);
- **one seed after another** on two threads (``--jobs 1 --threads 2``), for comparison.
Each way first runs from an empty cache (every teacher and student trained), then again at another T with that
cache: the teachers and the scratch students are found there, and only the KD students train — what a class waits
for after "move T and Distill again".
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from kd_core.studies.lessons import LESSONS
from kd_core.studies.paper import SeedErrors, errors, gap_interval

from .readme import add_argument, publish

NAME, SCRIPT = "lesson-time", "benchmarks/measure_lesson_time.py"
LESSON = "hinton-mnist"
WAYS = {"kd-train (as the page runs it)": [], "one seed after another, two threads": ["--jobs", "1", "--threads", "2"]}
RERUN_T = 20.0  # the paper's T; the lesson's own is 50


def timed_run(data_dir: str, cache_dir: str, extra: list[str]) -> dict:
    """One ``kd-train --lesson`` run: its wall time, and the errors and gap closed of each seed."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "result.json"
        command = [
            sys.executable,
            "-m",
            "kd_core.cli.train",
            "--lesson",
            LESSON,
            "--data-dir",
            data_dir,
            "--cache-dir",
            cache_dir,
            "--json",
            str(out),
            "--quiet",
            *extra,
        ]
        began = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - began
        result = json.loads(out.read_text())
    rows = [
        SeedErrors(r["seed"], *(errors(r[p]["accuracy"]) for p in ("teacher", "student", "baseline")))
        for r in result["runs"]
    ]
    gaps = gap_interval(rows)
    return {
        "seconds": seconds,
        "errors": [vars(r) for r in rows],
        "baseline_from_cache": result["baseline_from_cache"],
        "gap_closed": None if gaps is None else {"mean": gaps.mean, "low": gaps.low, "high": gaps.high},
    }


def measure(data_dir: str) -> dict:
    out = {}
    for way, extra in WAYS.items():
        with tempfile.TemporaryDirectory() as cache_dir:
            fresh = timed_run(data_dir, cache_dir, extra)
            print(f"{way}, fresh: {fresh}", file=sys.stderr, flush=True)
            rerun = timed_run(data_dir, cache_dir, [*extra, "--temperature", str(RERUN_T)])
            print(f"{way}, T = {RERUN_T:g} after it: {rerun}", file=sys.stderr, flush=True)
        out[way] = {"fresh": fresh, "rerun": rerun}
    return {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load": os.getloadavg()[0],
        "seeds": LESSONS[LESSON].seeds,
        "ways": out,
    }


def _gap(run: dict) -> str:
    g = run["gap_closed"]
    return "—" if g is None else f"{100 * g['mean']:.0f} % [{100 * g['low']:.0f}, {100 * g['high']:.0f}]"


def markdown(m: dict) -> str:
    lines = [
        f"The whole `{LESSON}` lesson ({m['seeds']} seeds) on {m['cpus']} CPUs, timed from start to exit of "
        f'`kd-train --lesson {LESSON}` (torch {m["torch"]}, load average {m["load"]:.1f} at the end). "Fresh": an '
        f'empty cache. "T = {RERUN_T:g} after it": the same cache at another T — teachers and scratch students are '
        "found there, only the KD students train:",
        "",
        f"| way | fresh | gap closed | T = {RERUN_T:g} after it | gap closed |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {way}{' (`' + ' '.join(WAYS[way]) + '`)' if WAYS[way] else ''} | {w['fresh']['seconds']:.0f} s | "
            f"{_gap(w['fresh'])} | {w['rerun']['seconds']:.0f} s | {_gap(w['rerun'])} |"
            for way, w in m["ways"].items()
        ),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", help="the folder holding MNIST/raw/ (required unless --from-json)")
    parser.add_argument("--json", help="also write the numbers here")
    add_argument(parser, NAME)
    parser.add_argument("--from-json", help="publish the numbers of a --json file, without measuring")
    args = parser.parse_args(argv)
    if not args.from_json and not args.data_dir:
        parser.error("--data-dir is required (the folder holding MNIST/raw/)")
    measured = json.loads(Path(args.from_json).read_text()) if args.from_json else measure(args.data_dir)
    publish(markdown(measured), measured, args.json, args.docs, NAME, SCRIPT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
