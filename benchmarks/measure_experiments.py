"""Measure Hinton's three experiments on digits, over seeds, through the product: the numbers the README quotes.

    python -m benchmarks.measure_experiments [--seeds 5] [--json measured.json]

Prints torch's version and the thread count with the tables: results are bit-for-bit reproducible for a fixed
thread count only.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time

import numpy as np
import torch

from kd_core import RunConfig, TeacherCache
from kd_core.experiments import best_bias, bias_curve, omitted_class
from kd_core.stats import ValueSummary, format_spread, summarize
from kd_core.sweeps import sweep

TEMPERATURES = (1.0, 2.0, 4.0, 8.0, 16.0)
LAMS = (0.0, 0.25, 0.5, 0.7, 0.9, 1.0)
FRACTIONS = (0.03, 0.05, 0.1, 0.25, 1.0)
OMIT = {"class": 3, "temperature": 8.0, "lam": 1.0, "epochs": 50}


def measure(seeds: range, config: RunConfig, cache: TeacherCache) -> dict:
    out: dict = {"torch": torch.__version__, "threads": torch.get_num_threads(), "python": platform.python_version(),
                 "seeds": list(seeds), "config": config.to_dict()}
    out["temperature"] = summarize(sweep("temperature", TEMPERATURES, seeds, config, cache=cache))
    out["lam"] = summarize(sweep("lam", LAMS, seeds, config, cache=cache))
    out["student_fraction"] = summarize(sweep("student_fraction", FRACTIONS, seeds, config, cache=cache, equal_steps=True))
    omitted = []
    for seed in seeds:
        settings = config.replace(seed=seed, temperature=OMIT["temperature"], lam=OMIT["lam"], epochs=OMIT["epochs"])
        result = omitted_class(settings, OMIT["class"], cache=cache)
        best = best_bias(bias_curve(result.student_logits, result.labels, OMIT["class"], np.arange(0, 10.01, 0.25)))
        omitted.append({"seed": seed, "student_class": result.class_accuracy("student"),
                        "baseline_class": result.class_accuracy("baseline"), "best_bias": best.bias,
                        "corrected_class": best.class_accuracy, "corrected_accuracy": best.overall_accuracy})
    out["omitted_class"] = omitted
    return out


def format_report(measured: dict) -> str:
    lines = [f"torch {measured['torch']}, {measured['threads']} thread(s), seeds {measured['seeds']}"]
    for param in ("temperature", "lam", "student_fraction"):
        lines.append(f"\n{param}: value | KD student % | baseline % | KD − baseline points (mean ± sd; min..max) | epochs")
        for e in measured[param]:
            lines.append(f"  {e.value:<6g} | {format_spread(e.student)} | {format_spread(e.baseline)} | "
                         f"{format_spread(e.gain, signed=True)} ({100 * e.gain.low:+.2f}..{100 * e.gain.high:+.2f}) | {e.epochs}")
    lines.append(f"\nomitted class {OMIT['class']} (T = {OMIT['temperature']:g}, λ = {OMIT['lam']:g}, {OMIT['epochs']} epochs): "
                 "seed | KD on class % | scratch on class % | best bias (on the test set) → class % / overall %")
    for r in measured["omitted_class"]:
        lines.append(f"  {r['seed']} | {100 * r['student_class']:.1f} | {100 * r['baseline_class']:.1f} | "
                     f"+{r['best_bias']:g} → {100 * r['corrected_class']:.1f} / {100 * r['corrected_accuracy']:.2f}")
    return "\n".join(lines)


def as_json(measured: dict) -> dict:
    def plain(value):
        if isinstance(value, ValueSummary):
            return {"value": value.value, "epochs": value.epochs, "n": value.n, "student": vars(value.student),
                    "baseline": value.baseline and vars(value.baseline), "gain": value.gain and vars(value.gain),
                    "teacher_mean": value.teacher_mean}
        return [plain(v) for v in value] if isinstance(value, list) else value

    return {key: plain(value) for key, value in measured.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--json", help="also write the numbers here")
    parser.add_argument("--cache-dir", help="teacher cache (default: $KD_CACHE_DIR, else a per-user cache folder)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # as kd-train, kd-sweep and the dashboard
    started = time.perf_counter()
    measured = measure(range(args.seeds), RunConfig(device="cpu"), TeacherCache(args.cache_dir))
    print(format_report(measured))
    print(f"\nmeasured in {time.perf_counter() - started:.0f} s")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(as_json(measured), handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
