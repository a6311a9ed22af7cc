"""Measure the ship lessons' deployments through the product and write their block in docs/ship.md.

    python -m benchmarks.measure_ship [--data-dir ../shared/data] [--lessons ship-it,ship-it-digits]
                                      [--kernels native,avx2,default] [--jobs 2] [--json ship.json] [--docs]

For each ship lesson (kd_core/studies/lessons.py, a lesson with a ``ShipClaim``): its seeds from seed 0 (the page's
count), trained as ``kd-train --lesson NAME`` trains them (one thread each, ``--jobs`` at a time, a fresh teacher
cache), every seed's models shipped as FP32 and int8 ONNX files (kd_core.deploy.ship.ship_seeds) and the lesson's
claims checked on the files (kd_core.deploy.lesson.check_ship_claim).  Under the first kernel set the files are
also timed in full; under the others (each in a fresh process: ``avx2`` is ATEN_CPU_CAPABILITY=avx2 with oneDNN
and MKL held to AVX2, ``default`` ATEN_CPU_CAPABILITY=default, as ``make test-kernels`` runs) only the claims are
checked, with short timings; ``ship-it`` runs under the first alone unless ``--mnist-kernels`` names more (each
takes minutes).  ``ship-it`` needs the real MNIST files (``--data-dir``); without them it is left out
with a sentence.  The block: per lesson, the 2×2 table (KD or scratch × FP32 or int8), the six files, the lesson's
claims under each kernel set, and the issue's targets against what was measured.
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

import torch

from kd_core import DATASETS, TeacherCache
from kd_core.deploy.lesson import check_ship_claim
from kd_core.deploy.ship import ship_seeds
from kd_core.execution.executors import make_executor
from kd_core.runs.seeds import run_seeds
from kd_core.studies.lessons import LESSONS

from . import kernels
from .readme import add_argument, publish

NAME, SCRIPT = "ship", "benchmarks/measure_ship.py"
SHIP_LESSONS = [name for name, lesson in LESSONS.items() if lesson.ship is not None]
# The kernel sets of make test-kernels (on top of this CPU's own): name -> the variables that select it.
KERNEL_SETS = {
    "native": {},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
    "default": {"ATEN_CPU_CAPABILITY": "default"},
}
SHORT_TIMING = dict(rounds=2, images_per_round=16)  # where only the claims (accuracy, bytes) are measured
MODELS = {"teacher": "teacher", "student": "KD student", "baseline": "scratch student"}
# Issue #28's targets for the files.
TEACHER_INT8_SHARE = 0.30  # the int8 teacher's file, of its FP32 file's bytes, at most
INT8_SHARE = 0.35  # every int8 file, of its FP32 file's bytes, at most
INT8_POINTS = 0.3  # int8 accuracy within this many points of the same model's FP32 (mean over seeds)
TEACHER_SPEED_UP = 1.5  # the int8 teacher's images/s at batch 256 over its FP32 file's, at least


# ---------------------------------------------------------------- measuring (one kernel set, one process)


def measure_here(name: str, data_dir: str | None, jobs: int, timed: bool) -> dict:
    """One ship lesson under the kernel set this process runs with: its seeds trained, shipped and checked."""
    lesson = LESSONS[name]
    torch.set_num_threads(1)
    overrides = {"data_dir": data_dir} if lesson.settings.get("dataset") == "mnist" else {}
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="kd-measure-ship-") as folder:
        result = run_seeds(
            lesson.config(seed=0, **overrides),
            lesson.seeds,
            cache=TeacherCache(Path(folder) / "teachers"),
            executor=make_executor("local", jobs, threads=1),
        )
        if result.status != "completed":
            raise SystemExit(f"{name}: the runs did not complete ({result.status})")
        trained = time.perf_counter()
        deployments = ship_seeds(result.runs, Path(folder) / "ship", **({} if timed else SHORT_TIMING))
        checks = check_ship_claim(lesson.ship, deployments)
    return {
        "lesson": name,
        "machine": kernels.current(),
        "timed": timed,
        "training_seconds": trained - began,
        "shipping_seconds": time.perf_counter() - trained,
        "config": result.runs[0].config.to_dict(),
        "deployments": [d.to_json() for d in deployments],
        "checks": [c.to_json() for c in checks],
    }


def measure_under(kernel_set: str, name: str, data_dir: str | None, jobs: int, timed: bool, folder: str) -> dict:
    """``measure_here`` in a fresh process under ``kernel_set`` (its variables are read at start-up)."""
    out = Path(folder) / f"{name}-{kernel_set}.json"
    env = {k: v for k, v in os.environ.items() if k not in kernels.VARIABLES} | KERNEL_SETS[kernel_set]
    argv = ["-m", "benchmarks.measure_ship", "--only-here", name, "--json", str(out), "--jobs", str(jobs)]
    argv += (["--data-dir", data_dir] if data_dir else []) + ([] if timed else ["--untimed"])
    subprocess.run([sys.executable, *argv], env=env, check=True)
    return json.loads(out.read_text())


# ---------------------------------------------------------------- the block


def mnist_files(data_dir: str | None) -> bool:
    return bool(data_dir) and (Path(data_dir) / "MNIST" / "raw").is_dir()


def files(measured: dict, model: str, format: str) -> list[dict]:
    """One file's records over the seeds."""
    return [
        next(m for m in d["models"] if (m["model"], m["format"]) == (model, format)) for d in measured["deployments"]
    ]


def interval_text(values: list[float], scale: float = 100.0) -> str:
    """``mean [low, high]`` over seeds (Student's t, as kd_core.stats.Interval), scaled; the mean alone for one."""
    from kd_core.stats import Interval

    interval = Interval.of([scale * v for v in values])
    if interval.low is None:
        return f"{interval.mean:.2f}"
    return f"{interval.mean:.2f} [{interval.low:.2f}, {interval.high:.2f}]"


def mean(values) -> float:
    return statistics.fmean(values)


def lesson_markdown(name: str, runs: dict[str, dict]) -> list[str]:
    """One ship lesson's part of the block: ``runs`` maps kernel set -> measure_here's record, the timed one
    first."""
    lesson = LESSONS[name]
    timed = next(iter(runs.values()))
    config = timed["config"]
    seeds = [d["seed"] for d in timed["deployments"]]
    accuracy = lambda model, format: [m["accuracy"] for m in files(timed, model, format)]  # noqa: E731
    lines = [
        f"### `{name}`: {lesson.title}",
        "",
        f"{config['dataset']}, {architecture(config, 'teacher')} → {architecture(config, 'student')} (students on "
        f"{100 * config['student_fraction']:g} % of the training images, T = {config['temperature']:g}, "
        f"λ = {config['lam']:g}), seeds {seeds[0]}–{seeds[-1]}: trained in {timed['training_seconds']:.0f} s, "
        f"shipped and timed in {timed['shipping_seconds']:.0f} s ({machine_text(timed)}).",
        "",
        "Test accuracy, % — mean [95 % interval] over the seeds:",
        "",
        "| student | FP32 | int8 |",
        "|---|---|---|",
    ]
    for model in ("student", "baseline"):
        lines.append(
            f"| {MODELS[model]} | {interval_text(accuracy(model, 'fp32'))} | {interval_text(accuracy(model, 'int8'))} |"
        )
    lines += [
        "",
        "The six files (means over the seeds; times are CPU time of one onnxruntime thread, each seed's median):",
        "",
        "| model | format | file KB | test accuracy % | µs per image at batch 1 | images/s at batch 256 |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for model in MODELS:
        for format in ("fp32", "int8"):
            shipped = files(timed, model, format)
            kind = "FP32" if format == "fp32" else f"int8 ({shipped[0]['quantization']})"
            lines.append(
                f"| {MODELS[model]} | {kind} | {mean(m['bytes'] for m in shipped) / 1024:,.1f} | "
                f"{100 * mean(m['accuracy'] for m in shipped):.2f} | "
                f"{1e6 * mean(m['latency_seconds']['median'] for m in shipped):,.1f} | "
                f"{mean(m['throughput_images_per_second']['median'] for m in shipped):,.0f} |"
            )
    lines += ["", "The lesson's claims, checked on the files under each kernel set:", ""]
    lines += ["| claim | " + " | ".join(runs) + " |", "|---|" + "---|" * len(runs)]
    for i, check in enumerate(timed["checks"]):
        cells = [
            f"{'holds' if r['checks'][i]['holds'] else '**fails**'}: {r['checks'][i]['measured']}"
            for r in runs.values()
        ]
        lines.append(f"| {check['claim']} | " + " | ".join(cells) + " |")
    lines += ["", "Issue #28's targets:", "", "| target | measured | met |", "|---|---|---|"]
    lines += [f"| {target} | {measured} | {met} |" for target, measured, met in targets(timed)]
    return lines


def architecture(config: dict, role: str) -> str:
    """The run's teacher or student architecture: its own, or the dataset's default."""
    return config[role] or getattr(DATASETS[config["dataset"]], role)


def machine_text(measured: dict) -> str:
    machine = measured["machine"]
    return f"{machine['cpu']}, PyTorch kernels {machine['aten']}"


def targets(measured: dict) -> list[tuple[str, str, str]]:
    """(target, what was measured, whether it is met — or by how much it is not) for the issue's four targets."""
    share = lambda model: max(  # noqa: E731
        i["bytes"] / f["bytes"] for i, f in zip(files(measured, model, "int8"), files(measured, model, "fp32"))
    )
    teacher_share = share("teacher")
    worst = max(MODELS, key=share)
    points = {
        model: abs(
            100
            * mean(
                i["accuracy"] - f["accuracy"]
                for i, f in zip(files(measured, model, "int8"), files(measured, model, "fp32"))
            )
        )
        for model in MODELS
    }
    farthest = max(points, key=points.get)
    speed_ups = [
        i["throughput_images_per_second"]["median"] / f["throughput_images_per_second"]["median"]
        for i, f in zip(files(measured, "teacher", "int8"), files(measured, "teacher", "fp32"))
    ]
    speed_up = mean(speed_ups)

    def met(ok: bool, short: str) -> str:
        return "yes" if ok else f"no: {short}"

    return [
        (
            f"int8 teacher's file ≤ {100 * TEACHER_INT8_SHARE:g} % of its FP32 file",
            f"{100 * teacher_share:.1f} % (largest over the seeds)",
            met(teacher_share <= TEACHER_INT8_SHARE, f"{100 * (teacher_share - TEACHER_INT8_SHARE):.1f} points over"),
        ),
        (
            f"every int8 file ≤ {100 * INT8_SHARE:g} % of its FP32 file",
            f"largest: the {MODELS[worst]}'s, {100 * share(worst):.1f} %",
            met(share(worst) <= INT8_SHARE, f"{100 * (share(worst) - INT8_SHARE):.1f} points over"),
        ),
        (
            f"int8 accuracy within {INT8_POINTS:g} points of FP32",
            f"farthest: the {MODELS[farthest]}, {points[farthest]:.2f} points (mean over the seeds)",
            met(points[farthest] <= INT8_POINTS, f"{points[farthest] - INT8_POINTS:.2f} points over"),
        ),
        (
            f"int8 teacher ≥ {TEACHER_SPEED_UP:g}× its FP32 file's images/s at batch 256",
            f"{speed_up:.2f}× (mean over the seeds; {', '.join(f'{s:.2f}' for s in speed_ups)})",
            met(speed_up >= TEACHER_SPEED_UP, f"{TEACHER_SPEED_UP - speed_up:.2f}× short"),
        ),
    ]


def markdown(measured: dict) -> str:
    lines = [
        f"Measured with torch {measured['torch']} and onnxruntime {measured['onnxruntime']} "
        f"({measured['seconds']:.0f} s in all). Each lesson runs the seeds the page runs from seed 0, as "
        "`kd-train --lesson NAME` does; the kernel sets are those `make test-kernels` imitates "
        "(avx2: ATEN_CPU_CAPABILITY=avx2 with ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2; "
        "default: ATEN_CPU_CAPABILITY=default).",
    ]
    for name, runs in measured["lessons"].items():
        lines += [""] + lesson_markdown(name, runs)
    for name, why in measured.get("left_out", {}).items():
        lines += ["", f"`{name}` was not measured: {why}."]
    return "\n".join(lines)


# ---------------------------------------------------------------- the command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lessons", default=",".join(SHIP_LESSONS), help="which ship lessons, comma-separated")
    parser.add_argument("--data-dir", help="the folder holding MNIST/raw (for ship-it)")
    parser.add_argument(
        "--kernels", default=",".join(KERNEL_SETS), help="kernel sets, comma-separated; the first is timed"
    )
    parser.add_argument(
        "--mnist-kernels", help="kernel sets for ship-it, comma-separated (default: the first of --kernels: it is slow)"
    )
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--json", help="also write the numbers here")
    add_argument(parser, NAME)
    parser.add_argument("--only-here", metavar="LESSON", help=argparse.SUPPRESS)  # one kernel set's worker
    parser.add_argument("--untimed", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.only_here:
        Path(args.json).write_text(json.dumps(measure_here(args.only_here, args.data_dir, args.jobs, not args.untimed)))
        return 0
    import onnxruntime

    names, sets = args.lessons.split(","), args.kernels.split(",")
    mnist_sets = args.mnist_kernels.split(",") if args.mnist_kernels else sets[:1]
    unknown = [n for n in names if n not in SHIP_LESSONS] + [k for k in {*sets, *mnist_sets} if k not in KERNEL_SETS]
    if unknown:
        parser.error(f"unknown ship lesson or kernel set: {', '.join(unknown)}")
    began = time.perf_counter()
    measured: dict = {
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
        "python": platform.python_version(),
        "lessons": {},
        "left_out": {},
    }
    with tempfile.TemporaryDirectory() as folder:
        for name in names:
            if LESSONS[name].settings.get("dataset") == "mnist" and not mnist_files(args.data_dir):
                measured["left_out"][name] = "the real MNIST files were not found (--data-dir holding MNIST/raw)"
                continue
            runs = {}
            for i, kernel_set in enumerate(mnist_sets if LESSONS[name].settings.get("dataset") == "mnist" else sets):
                print(f"{name} under kernel set {kernel_set}", file=sys.stderr)
                runs[kernel_set] = measure_under(kernel_set, name, args.data_dir, args.jobs, i == 0, folder)
            measured["lessons"][name] = runs
    measured["seconds"] = time.perf_counter() - began
    if args.json:  # the numbers first: a block that cannot be written loses nothing measured
        Path(args.json).write_text(json.dumps(measured, indent=2))
    publish(markdown(measured), measured, args.json, args.docs, NAME, SCRIPT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
