"""Time ``kd-sweep`` as a user runs it — the whole command, from the shell to its exit — with one process, two
worker processes and a local Ray of two, and check that all of them give the very same rows.

    python -m benchmarks.measure_sweep [--repeats 5] [--kernels native,default] [--docs] [--json F]

The sweep: ``kd-sweep --param temperature --values 1,2,4,8,16 --seeds 3`` on digits (5 values × 3 seeds: 3
cached teachers, 3 baselines, 15 KD students), its teachers cached by an untimed first run.  The three ways are
run in turn, ``--repeats`` times, so that a busy spell on a shared machine hits all of them alike; the block
gives each one's median, min and max.  ``in the sweep`` is the time ``kd-sweep`` reports for the sweep itself;
the rest is Python's start, the imports and the exit.  With ``--kernels`` every way is timed under each kernel set
(benchmarks/kernels.py: this CPU imitating others), and the block names the CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import kernels
from .readme import add_argument, publish

SWEEP = ["--dataset", "digits", "--param", "temperature", "--values", "1,2,4,8,16", "--seeds", "3", "--quiet"]
WAYS = {
    "--jobs 1": ["--jobs", "1"],
    "--jobs 2": ["--jobs", "2"],
    "--executor ray --jobs 2": ["--executor", "ray", "--jobs", "2"],
}


def kd_sweep() -> list[str]:
    """The installed console script next to this Python (what a user types), else the module."""
    script = Path(sys.executable).with_name("kd-sweep")
    return [str(script)] if script.exists() else [sys.executable, "-m", "kd_core.cli.sweep"]


def run_once(flags: list[str], cache: str, out: Path, kernel_set: str = "native") -> dict:
    env = {**kernels.kernel_env(kernel_set), "KD_CACHE_DIR": cache, "RAY_LOG_TO_DRIVER": "0"}
    load = os.getloadavg()[0]
    started = time.perf_counter()
    done = subprocess.run(kd_sweep() + SWEEP + flags + ["--json", str(out)], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"kd-sweep {' '.join(flags)} exited {done.returncode}: {done.stderr.strip()[-2000:]}")
    data = json.loads(out.read_text())
    return {"seconds": seconds, "in_sweep": data["seconds"], "rows": data["runs"], "load": load}


def measure(repeats: int, ways: dict[str, list[str]], kernel_set: str = "native") -> dict:
    with tempfile.TemporaryDirectory() as folder:
        cache, out = str(Path(folder) / "cache"), Path(folder) / "sweep.json"
        run_once(WAYS["--jobs 1"], cache, out, kernel_set)  # trains and caches the three teachers
        runs: dict[str, list[dict]] = {way: [] for way in ways}
        for _ in range(repeats):
            for way, flags in ways.items():
                runs[way].append(run_once(flags, cache, out, kernel_set))
                print(
                    f"{kernel_set} {way}: {runs[way][-1]['seconds']:.2f} s (load {runs[way][-1]['load']:.1f})",
                    file=sys.stderr,
                )
    reference = next(iter(runs.values()))[0]["rows"]
    identical = all(run["rows"] == reference for way_runs in runs.values() for run in way_runs)
    summary = {}
    for way, way_runs in runs.items():
        times = [run["seconds"] for run in way_runs]
        inside = [run["in_sweep"] for run in way_runs]
        summary[way] = {
            "median": statistics.median(times),
            "min": min(times),
            "max": max(times),
            "times": times,
            "in_sweep_median": statistics.median(inside),
            "load_median": statistics.median(run["load"] for run in way_runs),
        }
    import torch

    return {
        "ways": summary,
        "identical": identical,
        "rows": len(reference),
        "repeats": repeats,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cores": os.cpu_count(),
    }


def markdown(measured: dict) -> str:
    first = next(iter(measured["kernel_sets"].values()))
    lines = [
        f"`kd-sweep {' '.join(SWEEP[:-1])} …` on digits, teachers cached; the whole command, {first['repeats']} "
        f"runs of each way taken in turn, torch {first['torch']}, {first['cores']} cores of an {measured['cpu']} "
        "(a shared machine: the load average is the other users' work).",
        "",
        "| kernel set | executor | median | min … max | in the sweep (median) | `--jobs 1` ÷ this | load average |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, info in measured["kernel_sets"].items():
        one = info["ways"]["--jobs 1"]["median"]
        for way, s in info["ways"].items():
            lines.append(
                f"| {name} | `{way}` | {s['median']:.2f} s | {s['min']:.2f} … {s['max']:.2f} s | "
                f"{s['in_sweep_median']:.2f} s | {one / s['median']:.2f}× | {s['load_median']:.1f} |"
            )
    same = (
        "identical in every run"
        if all(i["identical"] for i in measured["kernel_sets"].values())
        else "NOT identical across the runs"
    )
    lines += [
        "",
        f"The {first['rows']} rows (value, seed, KD student, baseline, teacher, epochs) are {same}. "
        "Ray's times include starting a local Ray.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-ray", action="store_true", help="only the local executor")
    parser.add_argument("--kernels", default="native", help="kernel sets (benchmarks/kernels.py), comma-separated")
    parser.add_argument("--json", help="also write the numbers here")
    add_argument(parser, "sweep")
    args = parser.parse_args(argv)
    ways = {k: v for k, v in WAYS.items() if not (args.no_ray and "ray" in k)}
    from .machine import cpu_model

    measured = {
        "cpu": cpu_model(),
        "kernel_sets": {name: measure(args.repeats, ways, name) for name in args.kernels.split(",")},
    }
    block = markdown(measured)
    publish(block, measured, args.json, args.docs, "sweep", "benchmarks/measure_sweep.py")
    return 0 if all(i["identical"] for i in measured["kernel_sets"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
