"""``kd-train``: train (or load) a teacher, distil a student, compare with a scratch baseline.

    kd-train --dataset digits --temperature 4 --lam 0.7 --epochs 20 --baseline --json result.json

Bad arguments exit 2 with one line; a diverged run exits 1; Ctrl-C exits 130.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import warnings
from pathlib import Path

import torch
from tqdm import tqdm

from .cache import TeacherCache
from .config import ConfigError, RunConfig
from .data import DATASETS, DatasetUnavailable
from .engine import Diverged, ProgressEvent, RunResult, run
from .models import ARCHITECTURES


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and still exit code 2)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags every kd_core command shares; defaults come from RunConfig."""
    d = RunConfig()
    parser.add_argument("--dataset", default=d.dataset, choices=list(DATASETS), help="default: %(default)s (built in)")
    parser.add_argument("--data-dir", help="where torchvision datasets live (default: a per-user cache folder)")
    parser.add_argument("--teacher", choices=list(ARCHITECTURES), help="teacher architecture (default: the dataset's)")
    parser.add_argument("--student", choices=list(ARCHITECTURES), help="student architecture (default: the dataset's)")
    parser.add_argument("--teacher-epochs", type=int, default=d.teacher_epochs, help="default: %(default)s")
    parser.add_argument("--epochs", type=int, default=d.epochs, help="student epochs (default: %(default)s)")
    parser.add_argument("--temperature", "-T", type=float, default=d.temperature, help="softmax temperature T (default: %(default)s)")
    parser.add_argument("--lam", type=float, default=d.lam, help="λ, weight of the soft loss in [0, 1] (default: %(default)s)")
    parser.add_argument("--lr", type=float, default=d.lr, help="learning rate (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=d.batch_size, help="default: %(default)s")
    parser.add_argument("--optimizer", choices=["adam", "sgd"], default=d.optimizer, help="default: %(default)s")
    parser.add_argument("--seed", type=int, default=d.seed, help="default: %(default)s")
    parser.add_argument("--student-fraction", type=float, default=d.student_fraction,
                        help="share of the training set the student sees, in (0, 1] (default: %(default)s)")
    parser.add_argument("--omit-class", type=int, help="a class left out of the student's training set")
    parser.add_argument("--device", default=d.device, choices=["auto", "cpu", "cuda", "mps"], help="default: %(default)s")
    parser.add_argument("--cache-dir", help="teacher cache (default: $KD_CACHE_DIR, else a per-user cache folder)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default: %(default)s, as in the dashboard). Results depend on the thread "
                             "count, so 1 gives the same numbers here, in the dashboard and on any machine; it is also "
                             "the fastest for the small digits models. Raise it for CNNs on an idle machine.")


def set_threads(parser: argparse.ArgumentParser, threads: int) -> None:
    if threads < 1:
        parser.error(f"--threads must be at least 1, got {threads}")
    torch.set_num_threads(threads)


def config_from_args(args: argparse.Namespace, **overrides) -> RunConfig:
    fields = RunConfig.__dataclass_fields__
    values = {name: getattr(args, name) for name in fields if hasattr(args, name)}
    return RunConfig(**{**values, **overrides})


def write_json_atomic(data: dict, path: str) -> None:
    """Write the whole file or nothing: a temporary file in the same folder, then a rename."""
    target = Path(path).expanduser().resolve()
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class ProgressBars:
    """One tqdm bar per phase, on stderr, fed from the engine's event stream."""

    def __init__(self, enabled: bool = True):
        self.enabled, self.bar, self.phase = enabled, None, None

    def __call__(self, event: ProgressEvent) -> None:
        if not self.enabled:
            return
        if event.phase != self.phase:
            self.close()
            self.phase = event.phase
            self.bar = tqdm(total=event.steps or event.epochs, desc=f"{event.phase:8s}", unit="step", file=sys.stderr, leave=True)
        if event.kind == "step":
            self.bar.update(event.step - self.bar.n)
            self.bar.set_postfix(epoch=f"{event.epoch}/{event.epochs}", loss=f"{event.loss:.4f}", refresh=False)
        elif event.steps == 0:  # a cached teacher: its epochs are replayed, not trained
            self.bar.set_description(f"{event.phase:8s} (cached)")
            self.bar.update(1)
        else:
            self.bar.set_postfix(epoch=f"{event.epoch}/{event.epochs}", test_acc=f"{event.test_accuracy:.3f}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def summary_table(result: RunResult) -> str:
    rows = [("model", "params", "test acc", "agreement", "seconds")]
    for phase in ("teacher", "student", "baseline"):
        report = getattr(result, phase)
        if report is None:
            continue
        name = {"student": "KD student", "baseline": "scratch baseline"}.get(phase, phase)
        agreement = f"{report['agreement']:.1%}" if "agreement" in report else "-"
        rows.append((name, f"{report['params']:,}", f"{report['accuracy']:.2%}", agreement, f"{result.seconds[phase]:.2f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    if result.student and result.baseline:
        lines.append(f"KD − baseline: {100 * (result.student['accuracy'] - result.baseline['accuracy']):+.2f} points")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="kd-train", description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_run_arguments(parser)
    parser.add_argument("--baseline", action=argparse.BooleanOptionalAction, default=True,
                        help="also train the scratch student from the same initial weights")
    parser.add_argument("--json", help="write the result here as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    warnings.showwarning = lambda message, *_: print(f"kd-train: warning: {message}", file=sys.stderr)
    set_threads(parser, args.threads)
    if args.json and not Path(args.json).expanduser().resolve().parent.is_dir():
        parser.error(f"--json: folder {Path(args.json).parent} does not exist")

    bars = ProgressBars(enabled=not args.quiet)
    try:
        result = run(config_from_args(args), on_event=bars, cache=TeacherCache(args.cache_dir))
    except (ConfigError, DatasetUnavailable, ValueError) as error:
        bars.close()
        parser.error(str(error))
    except Diverged as error:
        bars.close()
        print(f"kd-train: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        bars.close()
        print("kd-train: interrupted", file=sys.stderr)
        return 130
    bars.close()
    print(summary_table(result))
    if args.json:
        write_json_atomic(result.to_json(), args.json)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
