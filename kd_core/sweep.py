"""``kd-sweep``: KD student vs scratch baseline across values of T, λ or the student's data fraction, over seeds.

    kd-sweep --param temperature --values 1,2,4,8,16 --seeds 3 --json sweep.json
    kd-sweep --param student-fraction --values 3%,5%,10%,100% --seeds 5
    kd-sweep --param lam --values 0,0.5,0.9,1 --omit-class 3

Takes every kd-train flag (the swept one is overridden). Seeds run from --seed to --seed + N − 1;
each seed's teacher is trained once (and cached), each distinct baseline once. With --equal-steps (the
default) a student on a fraction of the data trains for more epochs: as many steps as a full-data run.
Bad arguments exit 2 with one line; a diverged run exits 1; Ctrl-C exits 130.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from pathlib import Path

from tqdm import tqdm

from .cache import TeacherCache
from .cli import OneLineParser, add_run_arguments, config_from_args, set_threads, write_json_atomic
from .config import ConfigError
from .data import DatasetUnavailable
from .engine import Diverged
from .experiments import SWEEP_PARAMS, SweepEvent, normalize_param, summarize, sweep, sweep_json

MAX_SEEDS = 100
MAX_VALUES = 100


def parse_values(text: str) -> list[float]:
    """``"1,2,4"`` → [1.0, 2.0, 4.0]; ``"3%"`` → 0.03; argparse.ArgumentTypeError (one line) otherwise."""
    tokens = [token.strip() for token in text.split(",")]
    if not text.strip() or any(not token for token in tokens):
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers such as 1,2,4,8,16, got {text!r}")
    values = []
    for token in tokens:
        percent = token.endswith("%")
        try:
            value = float(token[:-1] if percent else token)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{token!r} is not a number") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{token!r} is not a finite number")
        values.append(value / 100 if percent else value)
    if len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(f"a value appears twice in {text!r}")
    if len(values) > MAX_VALUES:
        raise argparse.ArgumentTypeError(f"at most {MAX_VALUES} values, got {len(values)}")
    return values


def parse_param(text: str) -> str:
    try:
        return normalize_param(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def parse_seeds(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of seeds, got {text!r}") from None
    if not 1 <= count <= MAX_SEEDS:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_SEEDS}, got {count}")
    return count


class SweepBar:
    """One tqdm bar on stderr over the whole sweep, counted in trainings (teacher, baseline, KD student)."""

    def __init__(self, enabled: bool = True):
        self.enabled, self.bar, self.last = enabled, None, None

    def __call__(self, event: SweepEvent) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            self.bar = tqdm(total=event.total, desc="sweep", unit="run", file=sys.stderr,
                            bar_format="{l_bar}{bar}| {n:.1f}/{total} runs [{elapsed}<{remaining}{postfix}]")
        position = event.fraction * event.total
        self.bar.update(position - self.bar.n)
        label = (event.seed, event.value, event.phase)
        if label != self.last:
            self.last = label
            value = "-" if event.value is None else f"{event.value:g}"
            self.bar.set_postfix_str(f"seed {event.seed}, value {value}, {event.phase}", refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def summary_table(param: str, rows: list[dict]) -> str:
    """Per value: KD student, baseline and KD − baseline over seeds, mean ± sample sd, in %/points."""

    def pm(entry: dict, name: str, signed: bool = False) -> str:
        if entry[f"{name}_mean"] is None:
            return "-"
        mean = f"{100 * entry[f'{name}_mean']:+.2f}" if signed else f"{100 * entry[f'{name}_mean']:.2f}"
        return f"{mean} ± {100 * entry[f'{name}_std']:.2f}"

    summary = summarize(rows)
    table = [(SWEEP_PARAMS[param], "seeds", "KD student %", "baseline %", "KD − baseline (points)", "teacher %")]
    for e in summary:
        table.append((f"{e['value']:g}", str(e["n"]), pm(e, "student"), pm(e, "baseline"), pm(e, "gain", True),
                      f"{100 * e['teacher_mean']:.2f}"))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(row, widths)) for row in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="kd-sweep", description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--param", required=True, type=parse_param, metavar="{temperature,lam,student-fraction}",
                        help="the setting to sweep")
    parser.add_argument("--values", required=True, type=parse_values,
                        help="comma-separated values, e.g. 1,2,4,8,16 (student-fraction also takes 3%%,5%%)")
    parser.add_argument("--seeds", type=parse_seeds, default=3, help="how many seeds, from --seed on")
    add_run_arguments(parser)
    parser.add_argument("--baseline", action=argparse.BooleanOptionalAction, default=True,
                        help="also train the scratch student (once per seed for T and λ sweeps)")
    parser.add_argument("--equal-steps", action=argparse.BooleanOptionalAction, default=True,
                        help="scale each student's epochs so it takes as many gradient steps as --epochs on the full "
                             "training set (matters for small --student-fraction; the JSON rows say the epochs used)")
    parser.add_argument("--json", help="write every run as JSON here (atomically)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    warnings.showwarning = lambda message, *_: print(f"kd-sweep: warning: {message}", file=sys.stderr)
    if args.json and not Path(args.json).expanduser().resolve().parent.is_dir():
        parser.error(f"--json: folder {Path(args.json).parent} does not exist")
    set_threads(parser, args.threads)
    config = config_from_args(args)
    seeds = range(args.seed, args.seed + args.seeds)
    bar = SweepBar(enabled=not args.quiet)
    started = time.perf_counter()
    try:
        rows = sweep(args.param, args.values, seeds, config, on_event=bar, cache=TeacherCache(args.cache_dir),
                     equal_steps=args.equal_steps)
    except (ConfigError, DatasetUnavailable, ValueError) as error:
        bar.close()
        parser.error(str(error))
    except Diverged as error:
        bar.close()
        print(f"kd-sweep: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        bar.close()
        print("kd-sweep: interrupted", file=sys.stderr)
        return 130
    bar.close()
    seconds = time.perf_counter() - started
    print(summary_table(args.param, rows))
    print(f"{len(rows)} runs in {seconds:.1f} s")
    if args.json:
        write_json_atomic(sweep_json(args.param, rows, config, seconds), args.json)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
