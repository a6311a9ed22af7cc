"""Measure Hinton's temperature, λ and little-data sweeps on digits, over seeds, through the product (the unseen
class is a lesson: benchmarks/measure_lessons.py).  The numbers docs/lessons.md quotes.

    python -m benchmarks.measure_experiments [--seeds 5] [--json measured.json] [--docs]

Prints torch's version and the thread count with the tables: results are bit-for-bit reproducible for a fixed
thread count only.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time

import torch

from kd_core import RunConfig, TeacherCache
from kd_core.execution.executors import make_executor
from kd_core.stats import ValueSummary, format_spread, summarize
from kd_core.studies.sweeps import sweep

from .readme import add_argument, replace_block

TEMPERATURES = (1.0, 2.0, 4.0, 8.0, 16.0)
LAMS = (0.0, 0.25, 0.5, 0.7, 0.9, 1.0)
FRACTIONS = (0.03, 0.05, 0.1, 0.25, 1.0)


def measure(seeds: range, config: RunConfig, cache: TeacherCache, executor) -> dict:
    out: dict = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "seeds": list(seeds),
        "config": config.to_dict(),
    }
    out["temperature"] = summarize(sweep("temperature", TEMPERATURES, seeds, config, cache=cache, executor=executor))
    out["lam"] = summarize(sweep("lam", LAMS, seeds, config, cache=cache, executor=executor))
    out["student_fraction"] = summarize(
        sweep("student_fraction", FRACTIONS, seeds, config, cache=cache, executor=executor)
    )
    return out


def format_report(measured: dict) -> str:
    lines = [f"torch {measured['torch']}, {measured['threads']} thread(s), seeds {measured['seeds']}"]
    for param in ("temperature", "lam", "student_fraction"):
        lines.append(
            f"\n{param}: value | KD student % | baseline % | KD − baseline points (mean ± sd; min..max) | epochs"
        )
        for e in measured[param]:
            lines.append(
                f"  {e.value:<6g} | {format_spread(e.student)} | {format_spread(e.baseline)} | "
                f"{format_spread(e.gain, signed=True)} ({100 * e.gain.low:+.2f}..{100 * e.gain.high:+.2f}) | {e.epochs}"
            )
    return "\n".join(lines)


def as_json(measured: dict) -> dict:
    def plain(value):
        if isinstance(value, ValueSummary):
            return {
                "value": value.value,
                "epochs": value.epochs,
                "n": value.n,
                "student": vars(value.student),
                "baseline": value.baseline and vars(value.baseline),
                "gain": value.gain and vars(value.gain),
                "teacher_mean": value.teacher_mean,
            }
        return [plain(v) for v in value] if isinstance(value, list) else value

    return {key: plain(value) for key, value in measured.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--json", help="also write the numbers here")
    parser.add_argument("--jobs", type=int, default=2, help="trainings at once (worker processes)")
    parser.add_argument("--cache-dir", help="teacher cache (default: $KD_CACHE_DIR, else a per-user cache folder)")
    add_argument(parser, "experiments")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # as kd-train, kd-sweep and the dashboard
    started = time.perf_counter()
    measured = measure(
        range(args.seeds),
        RunConfig(device="cpu"),
        TeacherCache(args.cache_dir),
        make_executor("local", args.jobs, threads=1),
    )
    report = format_report(measured)
    print(report)
    if args.docs:
        replace_block(args.docs, "experiments", "benchmarks/measure_experiments.py", f"```\n{report}\n```")
    print(f"\nmeasured in {time.perf_counter() - started:.0f} s")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(as_json(measured), handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
