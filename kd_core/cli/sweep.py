"""``kd-sweep``: KD student vs scratch baseline across values of T, λ or the student's data fraction, over seeds.

    kd-sweep --param temperature --values 1,2,4,8,16 --seeds 3 --json sweep.json
    kd-sweep --param student-fraction --values 3%,5%,10%,100% --seeds 5
    kd-sweep --param lam --values 0,0.5,0.9,1 --omit-class 3
    kd-sweep --param loss --values kd,dkd,dist,logit-std,fitnets,kd-matched --seeds 5
    kd-sweep --dataset grammar --param loss --values kd,reverse-kl,jsd --seeds 3   # a language model's students

Takes every kd-train flag (the swept one is overridden). Seeds run from --seed to --seed + N − 1;
each seed's teacher is trained once (and cached), each distinct baseline once. With --equal-steps (the
default) a student on a fraction of the data trains for more epochs: as many steps as a full-data run.
Bad arguments exit 2 with one line; a diverged run exits 1; Ctrl-C exits 130.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import sys
import time

from tqdm import tqdm

from kd_core.cli import language
from kd_core.cli.common import (
    MAX_JOBS,
    OneLineParser,
    check_common,
    config_from_args,
    executor_arguments,
    flag_value,
    guarded,
    make_parser,
    parse_seeds,
    text_table,
)
from kd_core.execution.local_processes import prefetch_dataset
from kd_core.files import write_json_atomic
from kd_core.language.corpus import CORPORA, TEXT_PREFIX
from kd_core.language.train import LanguageConfig
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
    argv = list(sys.argv[1:] if argv is None else argv)
    dataset = flag_value(argv, "--dataset") or ""
    if dataset in CORPORA or dataset.startswith(TEXT_PREFIX):
        return text_sweep(argv)
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


def text_sweep(argv: list[str]) -> int:
    """``--param loss`` on a text dataset: each loss's students over the same seeds and teacher (a language model,
    kd_core/cli/language.py), seeds side by side in worker processes of one thread each."""
    parser = OneLineParser(prog="kd-sweep", description="kd-sweep on text: the language students of each loss")
    parser.add_argument("--dataset", required=True, help="grammar, tinyshakespeare or text:PATH")
    parser.add_argument("--data-dir", help="where tinyshakespeare/input.txt is (default: $KD_DATA_DIR)")
    parser.add_argument("--param", required=True, type=parse_param, help="loss: the only one swept on text")
    parser.add_argument("--values", required=True, help="method names, e.g. kd,reverse-kl,jsd")
    parser.add_argument("--seeds", type=parse_seeds, default=3, help="how many seeds, from --seed on")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--temperature", "-T", type=float, default=LanguageConfig.temperature)
    parser.add_argument("--lam", type=float, default=LanguageConfig.lam)
    parser.add_argument("--jobs", type=int, help="seeds trained at once (default: the cores, at most the seeds)")
    executor_arguments(parser)
    parser.add_argument("--cache-dir", help="teacher cache (default: $KD_CACHE_DIR, else a per-user cache folder)")
    parser.add_argument("--json", help="write the result here as JSON (atomically)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)
    if args.param != "loss":
        parser.error(f"on text, kd-sweep sweeps --param loss only, not {args.param}")
    try:
        args.values = parse_losses(args.values)
    except argparse.ArgumentTypeError as error:
        parser.error(f"argument --values: {error}")
    jobs = args.jobs or max(1, min(os.cpu_count() or 1, args.seeds))
    if not 1 <= jobs <= MAX_JOBS:
        parser.error(f"--jobs must be between 1 and {MAX_JOBS}, got {jobs}")
    config = LanguageConfig(corpus=args.dataset, seed=args.seed, temperature=args.temperature, lam=args.lam)
    executor = language.executor_of(parser, args, jobs)
    started = time.perf_counter()
    code, found = guarded(
        parser,
        lambda: language.loss_sweep(
            config, args.values, args.seeds, executor, TeacherCache(args.cache_dir), args.data_dir
        ),
        lambda: None,
    )
    if code:
        return code
    print(language.loss_table(found))
    print(f"{len(found)} losses over {args.seeds} seeds in {time.perf_counter() - started:.1f} s")
    if args.json:
        write_json_atomic({"param": "loss", "losses": [summary.to_dict() for summary in found]}, args.json, indent=2)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
