"""Measure every finding after Hinton (kd_core/studies/research.py) from every start seed, and write its table in
docs/lessons.md.

    python -m benchmarks.measure_research_lessons [--starts 0-19] [--findings born-again,...] [--jobs 2]
                                                  [--kernels native,avx2,default]
                                                  [--json research-lessons.json] [--docs]
                                                  [--reuse earlier.json]

For each finding: its first run (start seed 0, its seeds) timed from an empty teacher cache, and again with its
teachers cached; then every seed from 0 to the last start seed's last one, each run once (a window's runs are the
runs ``run_finding(finding, start_seed=s)`` gives, since a seed's run depends on its own seed only), and each
claim judged over every window: its measured difference from start seed 0, and from how many start seeds its
verdict is one the claim allows.  ``--reuse`` takes the findings left out of ``--findings`` from an earlier
``--json`` of the same start seeds (when one finding's settings changed, the others need not run again); the
block says which were reused.  Each kernel set (benchmarks/kernels.py) runs in a fresh process with its own
teacher cache; ``--reuse`` also keeps an earlier measurement's kernel sets that ``--kernels`` does not name, so
the sets can be measured one at a time.  A reused finding whose claims now allow other verdicts is judged again from its
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

from . import kernels
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


def kernel_sets(measured: dict) -> dict[str, dict]:
    """Kernel set -> {"machine", "findings", "seconds"}; a measurement from before kernel sets is one "native" set."""
    if "kernel_sets" in measured:
        return measured["kernel_sets"]
    machine = {"cpu": measured["cpu"], "torch": measured["torch"], "aten": "native", "variables": {}}
    return {"native": {"machine": machine, "findings": measured["findings"], "seconds": measured["seconds"]}}


def described(name: str, machine: dict) -> str:
    if machine["aten"] == "native":  # a measurement from before kernel sets: no variables set, kernels not named
        return f"{name} = this CPU's own kernels"
    extra = " ".join(f"{k}={v}" for k, v in machine["variables"].items())
    return f"{name} = {machine['aten']}" + (f" {extra}" if extra else "")


def verdict_counts(sets: dict[str, dict], finding: int, claim: int) -> str:
    """``"higher 58, no clear difference 2"``: each verdict's windows, over every kernel set."""
    verdicts = [w["claims"][claim]["verdict"] for info in sets.values() for w in info["findings"][finding]["windows"]]
    return ", ".join(f"{v} {verdicts.count(v)}" for v in sorted(set(verdicts), key=lambda v: -verdicts.count(v)))


def window_range(sets: dict[str, dict], finding: int, claim: int) -> str:
    """``"-5.62 … -1.05 points"``: the lowest and highest mean difference of one claim over every window of every
    kernel set (what a class sees, whichever start seed and CPU)."""
    windows = [w for info in sets.values() for w in info["findings"][finding]["windows"]]
    means = [w["claims"][claim]["difference"]["mean"] for w in windows]
    digits = 2 if windows[0]["claims"][claim]["unit"] == "points" else 4
    return f"{min(means):+.{digits}f} … {max(means):+.{digits}f} {windows[0]['claims'][claim]['unit']}"


def markdown(measured: dict) -> str:
    starts = measured["starts"]
    sets = kernel_sets(measured)
    native = next(iter(sets.values()))["findings"]  # the first set's first window is the measured column
    everywhere = [f for info in sets.values() for f in info["findings"]]
    reused = {name: [f["finding"] for f in info["findings"] if f.get("reused")] for name, info in sets.items()}
    rejudged = sorted({f["finding"] for f in everywhere if f.get("rejudged")}, key=list(FINDINGS).index)
    lines = [
        f"Measured on {measured['cpu']} with torch {measured['torch']}, one thread per training, {measured['jobs']} "
        f"at a time ({sum(info['seconds'] for info in sets.values()):.0f} s in all). Each finding runs its seeds "
        "from start seed 0 (the measured column: mean [95 % interval] of the paired difference over them) and from "
        f"every start seed {span(starts)}, under each kernel set (`benchmarks/kernels.py`: "
        + ", ".join(described(name, info["machine"]) for name, info in sets.items())
        + f"); the time is its first run ({next(iter(sets))}) from an empty teacher cache, then again with its "
        "teachers cached."
        + "".join(
            f" Under {name}, measured in an earlier run with the same settings: "
            + ("every finding" if len(names) == len(sets[name]["findings"]) else ", ".join(f"`{f}`" for f in names))
            + "."
            for name, names in reused.items()
            if names
        )
        + (
            " Judged again, from the same windows, by claims restated as measured: "
            + ", ".join(f"`{f}`" for f in rejudged)
            + "."
            if rejudged
            else ""
        ),
        "",
        "| finding | claim | claimed | measured (from seed 0) | "
        + " | ".join(f"holds ({name})" for name in sets)
        + " | verdicts over the windows | mean over the windows (lowest … highest) | time (cold / cached) |",
        "|---|---|---|---|" + "---|" * len(sets) + "---|---|---|",
    ]
    for j, f in enumerate(native):
        for i, claim in enumerate(f["claims"]):
            head = f"`{f['finding']}` ({f['seeds']} seeds)" if i == 0 else ""
            time_cell = f"{f['cold_seconds']:.0f} s / {f['warm_seconds']:.0f} s" if i == 0 else ""
            held = [len(info["findings"][j]["claims"][i]["holds_from"]) for info in sets.values()]
            lines.append(
                f"| {head} | {claim['description']} | {' or '.join(claim['first']['claimed'])} | {claim['shown']} "
                f"({claim['first']['verdict']}) | "
                + " | ".join(f"{n}/{len(starts)}" for n in held)
                + f" | {verdict_counts(sets, j, i)} | {window_range(sets, j, i)} | {time_cell} |"
            )
    failed = [
        f"`{f['finding']}` {c['description']} ({name}) from {', '.join(map(str, c['fails_from']))}"
        for name, info in sets.items()
        for f in info["findings"]
        for c in f["claims"]
        if c["fails_from"]
    ]
    lines += ["", "Every claim holds from every start seed." if not failed else "Not held: " + "; ".join(failed) + "."]
    return "\n".join(lines)


def measure_here(names: list[str], starts: list[int], jobs: int, earlier: dict | None) -> dict:
    """The named findings under the kernel set this process runs with; the others taken from ``earlier`` (one
    kernel set's findings), judged again by their claims as they read now."""
    torch.set_num_threads(1)
    executor = make_executor("local", jobs, threads=1)
    began = time.perf_counter()
    reused = {f["finding"]: f for f in earlier["findings"] if f["finding"] not in names} if earlier else {}
    findings = []
    with tempfile.TemporaryDirectory() as folder:  # a kernel set's teachers are its own
        for name in FINDINGS:
            if name in reused:
                findings.append({**rejudged(reused[name], FINDINGS[name]), "reused": True})
            elif name in names:
                findings.append(measure_finding(FINDINGS[name], starts, executor, folder))
                print(
                    json.dumps({k: v for k, v in findings[-1].items() if k != "windows"}), file=sys.stderr, flush=True
                )
    seconds = time.perf_counter() - began + (earlier["seconds"] if reused else 0)
    return {"machine": kernels.current(), "findings": findings, "seconds": seconds}


def check_reusable(parser: argparse.ArgumentParser, earlier: dict, names: list[str], source: str) -> None:
    """A reused finding must have the seeds and claims it has now, else it must be measured again."""
    for info in kernel_sets(earlier).values():
        for row in info["findings"]:
            name = row["finding"]
            if name in names or name not in FINDINGS:
                continue
            if (row["seeds"], [c["description"] for c in row["claims"]]) != (
                FINDINGS[name].seeds,
                [c.description for c in FINDINGS[name].claims],
            ):
                parser.error(f"--reuse: {name} changed since {source}; name it in --findings")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--starts", default="0-19", help="start seeds of the windows: 0-19 or 0,5,10")
    parser.add_argument("--findings", default=",".join(FINDINGS), help="which findings, comma-separated")
    parser.add_argument(
        "--kernels",
        default="native",
        help="kernel sets (benchmarks/kernels.py), comma-separated; none: measure nothing, write --reuse's block",
    )
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--json", help="also write the numbers here")
    parser.add_argument("--reuse", help="an earlier --json: what is not measured now is taken from it")
    parser.add_argument("--only-here", action="store_true", help=argparse.SUPPRESS)  # one kernel set's worker
    add_argument(parser, "research")
    args = parser.parse_args(argv)
    starts = parse_starts(args.starts)
    names = args.findings.split(",")
    earlier = json.loads(Path(args.reuse).read_text()) if args.reuse else None
    if args.only_here:  # earlier is then one kernel set's {"findings", "seconds"}
        Path(args.json).write_text(json.dumps(measure_here(names, starts, args.jobs, earlier)))
        return 0
    if earlier is not None and earlier["starts"] != starts:
        parser.error(f"--reuse: {args.reuse} was measured from start seeds {earlier['starts']}, not {starts}")
    if earlier is not None:
        check_reusable(parser, earlier, names, args.reuse)
    measuring = [] if args.kernels == "none" else args.kernels.split(",")
    unknown = [name for name in measuring if name not in kernels.KERNEL_SETS]
    if unknown:
        parser.error(f"--kernels: no kernel set {unknown[0]!r} (one of {', '.join(kernels.KERNEL_SETS)})")
    before = kernel_sets(earlier) if earlier else {}
    measured: dict = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu": cpu_model(),
        "jobs": args.jobs,
        "starts": starts,
        # a kept set is judged again by the claims as they read now: each window's interval and verdict stay
        "kernel_sets": {
            name: {**info, "findings": [rejudged(f, FINDINGS[f["finding"]]) for f in info["findings"]]}
            for name, info in before.items()
        },
    }
    with tempfile.TemporaryDirectory() as folder:
        for name in measuring:  # each in a fresh process: the variables are read at start-up
            out, given = Path(folder) / f"{name}.json", Path(folder) / f"{name}-earlier.json"
            extra = []
            if name in before:
                given.write_text(json.dumps(before[name]))
                extra = ["--reuse", str(given)]
            print(f"kernel set {name}", file=sys.stderr, flush=True)
            argv = ["-m", "benchmarks.measure_research_lessons", "--only-here", "--json", str(out)]
            argv += ["--starts", args.starts, "--findings", args.findings, "--jobs", str(args.jobs), *extra]
            kernels.run_under(name, argv)
            measured["kernel_sets"][name] = json.loads(out.read_text())
    order = [*measuring, *(n for n in before if n not in measuring)]
    if "native" in order:  # the measured column and the times come from this CPU's own kernels when measured
        order.remove("native")
        order.insert(0, "native")
    measured["kernel_sets"] = {n: measured["kernel_sets"][n] for n in order}
    measured["findings"] = next(iter(measured["kernel_sets"].values()))["findings"]
    publish(markdown(measured), measured, args.json, args.docs, "research", SCRIPT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
