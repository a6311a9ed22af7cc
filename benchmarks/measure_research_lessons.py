"""Measure every finding after Hinton (kd_core/studies/research.py) from every start seed, and write its table in
docs/lessons.md.

    python -m benchmarks.measure_research_lessons [--starts 0-19] [--findings born-again,...] [--jobs 2]
                                                  [--json research-lessons.json] [--docs]
                                                  [--reuse earlier.json]

For each finding: its first run (start seed 0, its seeds) timed from an empty teacher cache, and again with its
teachers cached; then every seed from 0 to the last start seed's last one, each run once (a window's runs are the
runs ``run_finding(finding, start_seed=s)`` gives, since a seed's run depends on its own seed only), and each
claim judged over every window: its measured difference from start seed 0, and from how many start seeds its
verdict is one the claim allows.  ``--reuse`` takes the findings left out of ``--findings`` from an earlier
``--json`` of the same start seeds (when one finding's settings changed, the others need not run again); the
block says which were reused.  A reused finding whose claims now allow other verdicts is judged again from its
stored windows: each window's measured interval and verdict stay, only whether it holds is decided anew.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

from kd_core.execution.executors import make_executor
from kd_core.runs.cache import ResultCache, TeacherCache
from kd_core.studies.research import FINDINGS, Finding, judge, run_finding

from .machine import cpu_model
from .measure_lessons import parse_starts, span
from .readme import add_argument, publish

SCRIPT = "benchmarks/measure_research_lessons.py"


def measure_finding(finding: Finding, starts: list[int], executor, folder: str) -> dict:
    """The first run's time (cold, then with its teachers cached), and every claim from every start seed."""
    teachers, results = TeacherCache(f"{folder}/{finding.name}-teachers"), ResultCache(f"{folder}/{finding.name}-runs")
    began = time.perf_counter()
    first = run_finding(finding, starts[0], executor=executor, cache=teachers)
    cold = time.perf_counter() - began
    began = time.perf_counter()
    run_finding(finding, starts[0], executor=executor, cache=teachers, results=results)
    warm = time.perf_counter() - began
    n = finding.seeds
    everything = run_finding(
        finding, min(starts), max(starts) + n - min(starts), executor=executor, cache=teachers, results=results
    )
    by_seed = {arm: {r.config.seed: r for r in s.runs} for arm, s in everything.arms.items()}
    windows = []
    for start in starts:
        runs = {arm: [seeds[s] for s in range(start, start + n)] for arm, seeds in by_seed.items()}
        windows.append({"start": start, "claims": [c.to_json() for c in judge(finding, runs)]})
    claims = []
    for i, claim in enumerate(finding.claims):
        held = [w["start"] for w in windows if w["claims"][i]["holds"]]
        claims.append(
            {
                "description": claim.description,
                "first": first.claims[i].to_json(),
                "shown": first.claims[i].shown(),
                "holds_from": held,
                "fails_from": [w["start"] for w in windows if not w["claims"][i]["holds"]],
            }
        )
    arms = {
        arm: {part: first.mean_accuracy(arm, part) for part in ("teacher", "student", "baseline")}
        for arm in finding.arms
    }
    return {
        "finding": finding.name,
        "title": finding.title,
        "seeds": n,
        "cold_seconds": cold,
        "warm_seconds": warm,
        "arms": arms,
        "claims": claims,
        "windows": windows,
    }


def rejudged(row: dict, finding: Finding) -> dict:
    """An earlier measurement of ``finding`` judged by its claims as they read now (their allowed verdicts)."""
    windows = [
        {
            **window,
            "claims": [
                {**c, "claimed": list(claim.verdicts), "holds": c["verdict"] in claim.verdicts}
                for c, claim in zip(window["claims"], finding.claims)
            ],
        }
        for window in row["windows"]
    ]
    claims = [
        {
            **c,
            "first": {**c["first"], "claimed": list(claim.verdicts), "holds": c["first"]["verdict"] in claim.verdicts},
            "holds_from": [w["start"] for w in windows if w["claims"][i]["holds"]],
            "fails_from": [w["start"] for w in windows if not w["claims"][i]["holds"]],
        }
        for i, (c, claim) in enumerate(zip(row["claims"], finding.claims))
    ]
    changed = [c["first"]["claimed"] for c in row["claims"]] != [list(claim.verdicts) for claim in finding.claims]
    return {**row, "claims": claims, "windows": windows, "rejudged": changed or row.get("rejudged", False)}


def markdown(measured: dict) -> str:
    starts = measured["starts"]
    reused = [f for f in measured["findings"] if f.get("reused")]
    lines = [
        f"Measured on {measured['cpu']} with torch {measured['torch']}, one thread per training, {measured['jobs']} "
        f"at a time ({measured['seconds']:.0f} s in all). Each finding runs its seeds from start seed 0 (the "
        f"measured column: mean [95 % interval] of the paired difference over them) and from every start seed "
        f"{span(starts)}; the time is its first run from an empty teacher cache, then again with its teachers "
        "cached."
        + (
            " Measured in an earlier run with the same settings: "
            + ", ".join(f"`{f['finding']}`" for f in reused)
            + "."
            if reused
            else ""
        )
        + (
            " Judged again, from the same windows, by claims restated as measured: "
            + ", ".join(f"`{f['finding']}`" for f in measured["findings"] if f.get("rejudged"))
            + "."
            if any(f.get("rejudged") for f in measured["findings"])
            else ""
        ),
        "",
        "| finding | claim | claimed | measured (from seed 0) | holds from start seeds | time (cold / cached) |",
        "|---|---|---|---|---|---|",
    ]
    for f in measured["findings"]:
        for i, claim in enumerate(f["claims"]):
            head = f"`{f['finding']}` ({f['seeds']} seeds)" if i == 0 else ""
            time_cell = f"{f['cold_seconds']:.0f} s / {f['warm_seconds']:.0f} s" if i == 0 else ""
            lines.append(
                f"| {head} | {claim['description']} | {' or '.join(claim['first']['claimed'])} | {claim['shown']} "
                f"({claim['first']['verdict']}) | {len(claim['holds_from'])}/{len(starts)} | {time_cell} |"
            )
    failed = [
        f"`{f['finding']}` {c['description']} from {', '.join(map(str, c['fails_from']))}"
        for f in measured["findings"]
        for c in f["claims"]
        if c["fails_from"]
    ]
    lines += ["", "Every claim holds from every start seed." if not failed else "Not held: " + "; ".join(failed) + "."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--starts", default="0-19", help="start seeds of the windows: 0-19 or 0,5,10")
    parser.add_argument("--findings", default=",".join(FINDINGS), help="which findings, comma-separated")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--json", help="also write the numbers here")
    parser.add_argument("--reuse", help="an earlier --json: the findings not measured now are taken from it")
    add_argument(parser, "research")
    args = parser.parse_args(argv)
    starts = parse_starts(args.starts)
    names = args.findings.split(",")
    earlier = json.loads(Path(args.reuse).read_text()) if args.reuse else None
    if earlier is not None and earlier["starts"] != starts:
        parser.error(f"--reuse: {args.reuse} was measured from start seeds {earlier['starts']}, not {starts}")
    torch.set_num_threads(1)
    executor = make_executor("local", args.jobs, threads=1)
    began = time.perf_counter()
    measured: dict = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu": cpu_model(),
        "jobs": args.jobs,
        "starts": starts,
        "findings": [],
    }
    reused = {f["finding"]: f for f in earlier["findings"] if f["finding"] not in names} if earlier else {}
    for name, row in reused.items():  # a finding whose seeds or claims changed since must be measured again
        if (row["seeds"], [c["description"] for c in row["claims"]]) != (
            FINDINGS[name].seeds,
            [c.description for c in FINDINGS[name].claims],
        ):
            parser.error(f"--reuse: {name} changed since {args.reuse}; name it in --findings")
    with tempfile.TemporaryDirectory() as folder:
        for name in FINDINGS:
            if name in reused:
                measured["findings"].append({**rejudged(reused[name], FINDINGS[name]), "reused": True})
            elif name in names:
                measured["findings"].append(measure_finding(FINDINGS[name], starts, executor, folder))
                row = measured["findings"][-1]
                print(json.dumps({k: v for k, v in row.items() if k != "windows"}), file=sys.stderr, flush=True)
    measured["seconds"] = time.perf_counter() - began + (earlier["seconds"] if reused else 0)
    publish(markdown(measured), measured, args.json, args.docs, "research", SCRIPT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
