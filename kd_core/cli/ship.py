"""``kd-train --ship DIR``: a run's models written as FP32 and int8 ONNX files, measured, and shown as a table.

    kd-train --ship out/                 # out/teacher-fp32.onnx, out/teacher-int8.onnx, out/student-…, out/baseline-…
    kd-train --ship out/ --seeds 3       # out/seed-0/…, out/seed-1/…, out/seed-2/…: each figure over the seeds

The folder must be new or empty (checked before anything trains: one line, exit 2).  ``--json`` gains a
``deployment`` section (kd_core.deploy.ship.deployment_json).

A ship lesson (``kd-train --lesson ship-it``: a lesson with a ``ShipClaim``) ships its models even without
``--ship`` — into a temporary folder, removed at exit — and prints each of its claims (kd_core.deploy.lesson) with
what was measured and whether it holds; ``--json`` then gains a ``ship_claims`` section too.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

from kd_core.cli.common import text_table
from kd_core.deploy.export import DeployError
from kd_core.deploy.lesson import ClaimCheck
from kd_core.deploy.measure import CURVE_BATCHES, THROUGHPUT_BATCH
from kd_core.deploy.ship import Deployment, check_folder, ship, ship_seeds, summarize
from kd_core.stats import Interval
from kd_core.train.records import RunResult

NAMES = {"teacher": "teacher", "student": "KD student", "baseline": "scratch student"}


def add_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ship",
        metavar="DIR",
        help="write each model as FP32 and int8 ONNX files into this new or empty folder (one subfolder per seed "
        "with --seeds), measure them through onnxruntime and add a deployment section to --json",
    )


def check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Before anything trains: the --ship folder is new or empty."""
    if args.ship is not None:
        try:
            check_folder(args.ship)
        except DeployError as error:
            parser.error(f"--ship: {error}")


def ship_runs(runs: list[RunResult], folder: str, quiet: bool = False) -> list[Deployment]:
    """The runs' files in ``folder`` (one run: in it; several seeds: a subfolder each), measured."""
    if not quiet:
        print(f"shipping to {folder}: exporting, quantizing and timing each model…", file=sys.stderr)
    if len(runs) == 1:
        return [ship(runs[0], folder)]
    return ship_seeds(runs, folder)


def _kb(size: float) -> str:
    return f"{size / 1024:,.1f}"


def _us(seconds: float) -> str:
    return f"{1e6 * seconds:,.2f}" if seconds < 1e-4 else f"{1e6 * seconds:,.0f}"


def deployment_table(deployment: Deployment) -> str:
    """One row per file: size, share of the FP32 file, parameters, MACs, accuracy, agreement, latency, throughput;
    then each file's time per image against the batch size."""
    rows = [
        (
            "model",
            "format",
            "file KB",
            "of fp32",
            "params",
            "MACs/image",
            "test acc",
            "agrees",
            "µs/image at 1 (range)",
            f"images/s at {THROUGHPUT_BATCH}",
        )
    ]
    for m in deployment.models:
        fp32 = deployment.get(m.model, "fp32")
        fmt = m.format if m.quantization is None else f"int8 {m.quantization}"
        rows.append(
            (
                NAMES.get(m.model, m.model),
                fmt,
                _kb(m.bytes),
                f"{m.bytes / fp32.bytes:.0%}",
                f"{m.params:,}",
                "?" if m.macs is None else f"{m.macs:,}",
                f"{m.accuracy:.2%}",
                f"{m.agreement:.2%}",
                f"{_us(m.latency.median)} ({_us(m.latency.low)}–{_us(m.latency.high)})",
                f"{m.throughput.median:,.0f}",
            )
        )
    curve = [("µs per image at batch", "", *(str(b) for b in CURVE_BATCHES))]
    for m in deployment.models:
        curve.append((NAMES.get(m.model, m.model), m.format, *(_us(t.per_image.median) for t in m.batch_curve)))
    return "\n".join(
        [
            f"deployment in {deployment.folder} (CPU time of one onnxruntime thread, median over rounds; agrees: "
            "top-1 with the run's PyTorch model)",
            text_table(rows, left_columns=2),
            "",
            text_table(curve, left_columns=2),
        ]
    )


def _interval(interval: Interval, scale: float = 1.0, digits: int = 2) -> str:
    """``mean [low, high]`` (scaled), or the mean alone without an interval."""
    mean = f"{scale * interval.mean:,.{digits}f}"
    if interval.low is None:
        return mean
    return f"{mean} [{scale * interval.low:,.{digits}f}, {scale * interval.high:,.{digits}f}]"


def seeds_deployment_table(deployments: list[Deployment]) -> str:
    """Each file's figures over the seeds: mean and 95 % interval."""
    rows = [
        (
            "model",
            "format",
            "file KB",
            "of fp32 %",
            "test acc %",
            "agrees %",
            "µs/image at 1",
            f"images/s at {THROUGHPUT_BATCH}",
        )
    ]
    for row in summarize(deployments):
        f = row.figures
        fmt = row.format if row.quantization is None else f"int8 {row.quantization}"
        rows.append(
            (
                NAMES.get(row.model, row.model),
                fmt,
                _interval(f["bytes"], 1 / 1024, 1),
                _interval(f["bytes_ratio"], 100, 1),
                _interval(f["accuracy"], 100),
                _interval(f["agreement"], 100),
                _interval(f["latency_seconds"], 1e6),
                _interval(f["throughput_images_per_second"], 1, 0),
            )
        )
    folders = ", ".join(d.folder for d in deployments)
    return "\n".join(
        [
            f"deployment over {len(deployments)} seeds: mean [95 % interval] (files in {folders}; CPU time of one "
            "onnxruntime thread)",
            text_table(rows, left_columns=2),
        ]
    )


def table(deployments: list[Deployment]) -> str:
    return deployment_table(deployments[0]) if len(deployments) == 1 else seeds_deployment_table(deployments)


@contextmanager
def target(folder: str | None, lesson_ships: bool) -> Iterator[tuple[str | None, bool]]:
    """(where to ship, whether that folder is temporary): ``--ship``'s folder; for a ship lesson without one, a new
    folder inside a temporary directory, removed when the block ends; None when nothing is to be shipped."""
    if folder is not None or not lesson_ships:
        yield folder, False
        return
    with tempfile.TemporaryDirectory(prefix="kd-ship-") as temporary:
        yield str(Path(temporary) / "deployment"), True  # inside it, so the hidden staging folder is too


def claims_text(lesson: str, checks: Sequence[ClaimCheck], temporary: bool = False) -> str:
    """The lesson's ship claims, one line each, with what was measured and whether it holds."""
    held = sum(check.holds for check in checks)
    lines = [f"{lesson}: {held} of {len(checks)} ship claims hold (measured on the shipped files)"]
    lines += [f"  {check.line()}" for check in checks]
    if temporary:
        lines.append("(the files were shipped to a temporary folder, now removed: --ship DIR keeps them)")
    return "\n".join(lines)
