"""``kd-train --lesson NAME`` for a finding after Hinton (kd_core/studies/research.py): its arms over its seeds,
each arm's mean accuracies, and each claim with its 95 % interval and verdict.

    kd-train --lesson capacity-gap                    # the finding's seeds from seed 0, two at a time
    kd-train --lesson fidelity --seed 5 --seeds 3 --json fidelity.json

A finding's arms are fixed settings, so only the seeds, the workers and the files can be chosen.  Bad arguments
exit 2 with one line; a diverged run exits 1; Ctrl-C or a stopped run exits 130.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch

from kd_core.cli.common import MAX_JOBS, OneLineParser, guarded, parse_seeds, text_table
from kd_core.execution.executors import make_executor
from kd_core.files import write_json_atomic
from kd_core.runs.cache import TeacherCache
from kd_core.studies.research import FINDINGS, PARTS, FindingResult, run_finding


def list_findings() -> str:
    """One line per finding: its name, title and seeds (as ``kd-train --list-lessons`` lists the lessons)."""
    return "\n".join(f"{f.name:16s} {f.title} ({f.seeds} seeds)" for f in FINDINGS.values())


def whole_number(least: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"must be at least {least}, got {value}")
        return value

    return parse


def make_parser() -> OneLineParser:
    parser = OneLineParser(prog="kd-train", description=__doc__.split("\n")[0])
    parser.add_argument("--lesson", required=True, choices=list(FINDINGS), help="the finding to run")
    parser.add_argument("--seed", type=whole_number(0), default=0, help="the first seed")
    parser.add_argument("--seeds", type=parse_seeds, help="how many seeds, from --seed on (default: the finding's)")
    parser.add_argument("--jobs", type=whole_number(1), help="seeds trained at a time (default: up to the cores)")
    parser.add_argument("--json", help="also write the result here, as JSON")
    parser.add_argument("--cache-dir", help="the teacher cache (default: $KD_CACHE_DIR or a per-user folder)")
    return parser


def arms_table(result: FindingResult) -> str:
    """Each arm's mean test accuracy over the seeds: its teacher, KD student and scratch student ("-": not run)."""
    rows = [("arm", "teacher %", "student %", "scratch %")]
    for arm in result.arms:
        means = [result.mean_accuracy(arm, part) for part in PARTS]
        rows.append((arm, *("-" if m is None else f"{100 * m:.2f}" for m in means)))
    return text_table(rows, left_columns=1)


def claims_table(result: FindingResult) -> str:
    """Each claim: the paired difference with its 95 % interval, the verdict, what is claimed, whether it holds."""
    rows = [("claim", "measured: mean [95 % interval]", "verdict", "claimed", "holds")]
    for c in result.claims:
        rows.append(
            (c.claim.description, c.shown(), c.verdict, " or ".join(c.claim.verdicts), "yes" if c.holds else "no")
        )
    return text_table(rows, left_columns=1)


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    finding = FINDINGS[args.lesson]
    seeds = args.seeds or finding.seeds
    jobs = args.jobs or max(1, min(os.cpu_count() or 1, seeds))
    if jobs > MAX_JOBS:
        parser.error(f"--jobs must be between 1 and {MAX_JOBS}, got {jobs}")
    if args.json and not Path(args.json).expanduser().resolve().parent.is_dir():
        parser.error(f"--json: folder {Path(args.json).parent} does not exist")
    torch.set_num_threads(1)  # one thread per training, as the lessons run: their numbers
    executor = make_executor("local", jobs, threads=1)
    work = lambda: run_finding(  # noqa: E731
        finding, args.seed, seeds, executor=executor, cache=TeacherCache(args.cache_dir)
    )
    code, result = guarded(parser, work, lambda: None)
    if code:
        return code
    last = result.seeds[-1] if result.seeds else args.seed
    print(f"{finding.name}: {finding.title} — seeds {args.seed}–{last} ({finding.source})")
    print(arms_table(result))
    if result.status != "completed":
        print("stopped before every arm finished: no claim judged")
        return 130
    print()
    print(claims_table(result))
    if len(result.seeds) < 2:
        print("one seed gives no interval, and its verdicts are all 'no clear difference': run --seeds 2 or more")
    print("every claim holds" if result.holds else "not every claim holds over these seeds")
    if args.json:
        write_json_atomic(result.to_json(), args.json, indent=2)
        print(f"wrote {args.json}")
    return 0
