"""``kd-bench`` under every kernel set: how much the engine's speed-ups depend on the CPU's float kernels.

    python -m benchmarks.bench_kernels [--kernels native,avx2,default] [--json F] [--docs]

Each kernel set (benchmarks/kernels.py) imitates another CPU on this one; kd-bench runs once under each, in a
fresh process, and its engine ÷ seed ratios are gathered into one table: the spread docs/performance.md's targets are
stated with.  Ratios are taken within one kd-bench run (seed and engine on the same machine, minutes apart), so
they hold up on a busy machine better than raw images per second do.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from . import kernels
from .readme import add_argument, publish

# (dataset, phase, target ratio or None): the rows of kd-bench's table that have an engine ÷ seed ratio.
ROWS = (
    ("cifar", "teacher_epoch", 3.0),
    ("cifar", "student_epoch", 10.0),
    ("cifar", "test_eval", 5.0),
    ("digits", "teacher_epoch", None),
    ("digits", "student_epoch", None),
    ("digits", "test_eval", None),
)
NAMES = {
    "teacher_epoch": "teacher epoch",
    "student_epoch": "student distillation epoch",
    "test_eval": "test evaluation",
}


def markdown(measured: dict) -> str:
    sets = measured["kernel_sets"]
    first = next(iter(sets.values()))
    lines = [
        f"kd-bench under each kernel set, on {first['machine']['cpu']}, {first['machine']['cores']} cores, torch "
        f"{first['machine']['torch']} ({measured['seconds']:.0f} s in all; engine ÷ seed, each from one kd-bench run):",
        "",
        "| data | phase | " + " | ".join(sets) + " | lowest | target |",
        "|---|---|" + "---:|" * (len(sets) + 1) + "---|",
    ]
    for data, phase, target in ROWS:
        ratios = [info[data][phase]["ratio"] for info in sets.values()]
        lines.append(
            f"| {data} | {NAMES[phase]} | "
            + " | ".join(f"{r:.1f}×" for r in ratios)
            + f" | {min(ratios):.1f}× | {'' if target is None else f'≥ {target:g}×'} |"
        )
    lines += [
        "",
        "fp32 matmul GFLOP/s: "
        + ", ".join(f"{name} {info['matmul_gflops']:.0f}" for name, info in sets.items())
        + ". Load average during each (a shared machine): "
        + ", ".join(f"{name} {info['load']:.1f}" for name, info in sets.items())
        + ".",
    ]
    if all(info.get("classroom") for info in sets.values()):
        lines[-1] += (
            " Default classroom run: "
            + ", ".join(f"{name} {info['classroom']['total']:.2f} s" for name, info in sets.items())
            + "."
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kernels", default=",".join(kernels.KERNEL_SETS), help="kernel sets, comma-separated")
    parser.add_argument("--bench-args", default="", help="extra kd-bench flags, e.g. '--batches 5 --repeats 1'")
    parser.add_argument("--json")
    add_argument(parser, "bench-kernels")
    args = parser.parse_args(argv)
    began, measured = time.perf_counter(), {"kernel_sets": {}}
    with tempfile.TemporaryDirectory() as folder:
        for name in args.kernels.split(","):
            out = Path(folder) / f"{name}.json"
            print(f"kernel set {name}", file=sys.stderr)
            load = os.getloadavg()[0]  # other users' work: the ratios hold up better than the rates under it
            kernels.run_under(name, ["-m", "benchmarks.bench", "--json", str(out), *args.bench_args.split()])
            measured["kernel_sets"][name] = {**json.loads(out.read_text()), "load": (load + os.getloadavg()[0]) / 2}
    measured["seconds"] = time.perf_counter() - began
    publish(markdown(measured), measured, args.json, args.docs, "bench-kernels", "benchmarks/bench_kernels.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
