"""``kd-sweep``: KD student vs scratch baseline across values of T, λ or the student's data fraction, over seeds.

    kd-sweep --param temperature --values 1,2,4,8,16 --seeds 3 --json sweep.json
    kd-sweep --param student-fraction --values 3%,5%,10%,100% --seeds 5
    kd-sweep --param lam --values 0,0.5,0.9,1 --omit-class 3
    kd-sweep --param loss --values kd,dkd,dist,logit-std,fitnets,kd-matched --seeds 5

Takes every kd-train flag (the swept one is overridden). Seeds run from --seed to --seed + N − 1;
each seed's teacher is trained once (and cached), each distinct baseline once. With --equal-steps (the
default) a student on a fraction of the data trains for more epochs: as many steps as a full-data run.
Bad arguments exit 2 with one line; a diverged run exits 1; Ctrl-C exits 130.
"""

from __future__ import annotations

import argparse
import gc
import math
import sys
import time

from tqdm import tqdm

from kd_core.cli.common import (
    check_common,
    config_from_args,
    guarded,
    make_parser,
    parse_seeds,
    text_table,
)
from kd_core.execution.local_processes import prefetch_dataset
from kd_core.files import write_json_atomic
from kd_core.runs.cache import TeacherCache
from kd_core.stats import format_spread, summarize
from kd_core.studies.sweeps import SWEEP_PARAMS, SweepEvent, SweepRow, normalize_param, sweep, sweep_json

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


def parse_losses(text: str) -> list[str]:
    """``"kd,dkd"`` → ["kd", "dkd"] (distinct method names; validate() checks each); ArgumentTypeError otherwise."""
    names = [token.strip() for token in text.split(",")]
    if not text.strip() or any(not name for name in names):
        raise argparse.ArgumentTypeError(f"expected comma-separated method names such as kd,dkd,dist, got {text!r}")
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"a value appears twice in {text!r}")
    if len(names) > MAX_VALUES:
        raise argparse.ArgumentTypeError(f"at most {MAX_VALUES} values, got {len(names)}")
    return names


def show_value(value) -> str:
    """A swept value as the tables print it: a number with %g, a method by its name."""
    return value if isinstance(value, str) else f"{value:g}"


def parse_param(text: str) -> str:
    try:
        return normalize_param(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


class SweepBar:
    """One tqdm bar on stderr over the whole sweep, counted in trainings (teacher, baseline, KD student)."""

    def __init__(self, enabled: bool = True):
        self.enabled, self.bar, self.last = enabled, None, None

    def __call__(self, event: SweepEvent) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            self.bar = tqdm(
                total=event.total,
                desc="sweep",
                unit="run",
                file=sys.stderr,
                bar_format="{l_bar}{bar}| {n:.1f}/{total} runs [{elapsed}<{remaining}{postfix}]",
            )
        position = event.fraction * event.total
        self.bar.update(position - self.bar.n)
        label = (event.seed, event.value, event.phase)
        if label != self.last:
            self.last = label
            value = "-" if event.value is None else show_value(event.value)
            self.bar.set_postfix_str(f"seed {event.seed}, value {value}, {event.phase}", refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def summary_table(param: str, rows: list[SweepRow]) -> str:
    """Per value: KD student, baseline and KD − baseline over seeds, mean ± sample sd, in %/points."""
    table = [(SWEEP_PARAMS[param], "seeds", "KD student %", "baseline %", "KD − baseline (points)", "teacher %")]
    for e in summarize(rows):
        table.append(
            (
                show_value(e.value),
                str(e.n),
                format_spread(e.student),
                format_spread(e.baseline),
                format_spread(e.gain, signed=True),
                f"{100 * e.teacher_mean:.2f}",
            )
        )
    return text_table(table)


def main(argv: list[str] | None = None) -> int:
    parser = make_parser("kd-sweep", __doc__)
    parser.add_argument(
        "--param",
        required=True,
        type=parse_param,
        metavar="{temperature,lam,student-fraction,loss}",
        help="the setting to sweep",
    )
    parser.add_argument(
        "--values",
        required=True,
        help="comma-separated values, e.g. 1,2,4,8,16 (student-fraction also takes 3%%,5%%; loss takes "
        "method names, e.g. kd,dkd,dist)",
    )
    parser.add_argument("--seeds", type=parse_seeds, default=3, help="how many seeds, from --seed on")
    args = parser.parse_args(argv)
    try:  # the values' kind depends on --param: numbers, or (loss) method names
        args.values = (parse_losses if args.param == "loss" else parse_values)(args.values)
    except argparse.ArgumentTypeError as error:
        parser.error(f"argument --values: {error}")
    executor = check_common(parser, args)
    config = config_from_args(args)
    # A child loads the data meanwhile (not beside Ray's threads, which a fork would copy mid-call).
    prefetch = prefetch_dataset(config.dataset, config.data_dir) if args.executor == "local" else None
    if args.executor == "local" and (args.jobs == 1 or prefetch is not None):
        # The trainings' first optimizer imports torch._dynamo, a second's work: here, while the child loads the
        # data, once for this process and every worker forked from it.
        import torch._dynamo  # noqa: F401
    if prefetch is not None:
        prefetch.adopt()
    seeds = range(args.seed, args.seed + args.seeds)
    bar = SweepBar(enabled=not args.quiet)
    started = time.perf_counter()
    code, rows = guarded(
        parser,
        lambda: sweep(
            args.param, args.values, seeds, config, on_event=bar, cache=TeacherCache(args.cache_dir), executor=executor
        ),
        bar.close,
    )
    if code:
        return code
    seconds = time.perf_counter() - started
    print(summary_table(args.param, rows))
    print(f"{len(rows)} runs in {seconds:.1f} s")
    if args.json:
        write_json_atomic(sweep_json(args.param, rows, config, seconds), args.json, indent=2)
        print(f"wrote {args.json}")
    if argv is None:  # this process's own command line, which ends now: Python's last full garbage collection
        gc.freeze()  # would walk every object torch and its imports made, for nothing (the memory goes back anyway)
    return 0


if __name__ == "__main__":
    sys.exit(main())
