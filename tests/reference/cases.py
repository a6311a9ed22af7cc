"""Runs whose every number must never change: each is a kd-train or kd-sweep command line, and
``expected.json`` holds what the code gave for it before the one-pipeline redesign (CPU, one thread).

    python tests/reference/cases.py   # regenerate expected.json (only when a change of numbers is intended)
"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
EXPECTED = HERE / "expected.json"

# name -> (command, arguments); every one on digits, small enough to run in a second or two.
CASES: dict[str, tuple[str, list[str]]] = {
    "default": ("kd-train", []),
    "omitted-class": ("kd-train", ["--temperature", "8", "--lam", "1", "--omit-class", "3", "--epochs", "10"]),
    "little-data-sgd": ("kd-train", ["--student-fraction", "0.1", "--no-equal-steps", "--optimizer", "sgd", "--lr", "0.05", "--batch-size", "32",
                                     "--seed", "2", "--epochs", "10", "--teacher-epochs", "5"]),
    "cnn": ("kd-train", ["--teacher", "cnn-large", "--student", "cnn-small", "--teacher-epochs", "3", "--epochs", "3",
                         "--batch-size", "37", "--seed", "1"]),
    "seed-nets": ("kd-train", ["--teacher", "seed-teacher", "--student", "seed-student", "--teacher-epochs", "2",
                               "--epochs", "2", "--lr", "0.001", "--seed", "3", "--no-baseline"]),
    "sweep-temperature": ("kd-sweep", ["--param", "temperature", "--values", "1,4", "--seeds", "2", "--epochs", "5",
                                       "--teacher-epochs", "5"]),
    "sweep-fraction": ("kd-sweep", ["--param", "student-fraction", "--values", "5%,50%", "--seeds", "2", "--epochs", "3",
                                    "--teacher-epochs", "4"]),
}

# Keys that are timings or cache facts, not results.
VOLATILE = {"seconds", "teacher_from_cache", "config"}


def strip(value):
    """``value`` without its volatile keys, recursively."""
    if isinstance(value, dict):
        return {k: strip(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [strip(v) for v in value]
    return value


def run_case(name: str, cache_dir: str) -> dict:
    """The case's JSON output (volatile keys removed), run in this process."""
    command, args = CASES[name]
    if command == "kd-train":
        from kd_core.cli.train import main
    else:
        from kd_core.cli.sweep import main
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out.json"
        code = main([*args, "--quiet", "--cache-dir", cache_dir, "--device", "cpu", "--json", str(out)])
        assert code == 0, f"{name}: exit code {code}"
        return strip(json.loads(out.read_text()))


if __name__ == "__main__":
    import torch

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as cache:
        results = {name: run_case(name, cache) for name in CASES}
    EXPECTED.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    print(f"wrote {EXPECTED} ({len(results)} cases)", file=sys.stderr)
