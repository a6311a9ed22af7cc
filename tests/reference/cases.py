"""Seven recorded runs: each is a kd-train or kd-sweep command line, and ``expected.json`` holds what the code gave
for it before the one-pipeline redesign (CPU, one thread, on an Intel Xeon).

Two promises are tested with them (tests/test_reference.py):
* on one machine, a run repeated gives bit-identical numbers (the results cache depends on it);
* on any machine, the numbers reproduce the recorded ones within the spread that other float kernels cause.
  That spread is measured, not guessed: ``--spread`` runs every case under every kernel set of
  benchmarks/kernels.py (this CPU imitating others) and writes ``spread.json``.

    python tests/reference/cases.py            # regenerate expected.json (only when a change of numbers is intended)
    python tests/reference/cases.py --spread   # measure the spread across kernel sets into spread.json (~1 min)
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
EXPECTED = HERE / "expected.json"
SPREAD = HERE / "spread.json"
TEST_IMAGES = 360  # digits' test split: an accuracy moves in steps of 1/360

# name -> (command, arguments); every one on digits, small enough to run in a second or two.
CASES: dict[str, tuple[str, list[str]]] = {
    "default": ("kd-train", []),
    "omitted-class": ("kd-train", ["--temperature", "8", "--lam", "1", "--omit-class", "3", "--epochs", "10"]),
    "little-data-sgd": (
        "kd-train",
        [
            "--student-fraction",
            "0.1",
            "--no-equal-steps",
            "--optimizer",
            "sgd",
            "--lr",
            "0.05",
            "--batch-size",
            "32",
            "--seed",
            "2",
            "--epochs",
            "10",
            "--teacher-epochs",
            "5",
        ],
    ),
    "cnn": (
        "kd-train",
        [
            "--teacher",
            "cnn-large",
            "--student",
            "cnn-small",
            "--teacher-epochs",
            "3",
            "--epochs",
            "3",
            "--batch-size",
            "37",
            "--seed",
            "1",
        ],
    ),
    "seed-nets": (
        "kd-train",
        [
            "--teacher",
            "seed-teacher",
            "--student",
            "seed-student",
            "--teacher-epochs",
            "2",
            "--epochs",
            "2",
            "--lr",
            "0.001",
            "--seed",
            "3",
            "--no-baseline",
        ],
    ),
    "sweep-temperature": (
        "kd-sweep",
        ["--param", "temperature", "--values", "1,4", "--seeds", "2", "--epochs", "5", "--teacher-epochs", "5"],
    ),
    "sweep-fraction": (
        "kd-sweep",
        ["--param", "student-fraction", "--values", "5%,50%", "--seeds", "2", "--epochs", "3", "--teacher-epochs", "4"],
    ),
}

# Keys that are timings or cache facts, not results.
VOLATILE = {"seconds", "teacher_from_cache", "baseline_from_cache", "config"}


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


def run_all(out: str) -> None:
    """Every case in this process (one torch thread, a fresh teacher cache), its JSON written to ``out``."""
    import torch

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as cache:
        Path(out).write_text(json.dumps({name: run_case(name, cache) for name in CASES}, indent=1, sort_keys=True))


def accuracies(record: dict) -> list[float]:
    """The final accuracies in a case's record, each a share of the test images: the three models' accuracy and
    agreement, or a sweep's rows.  (Per-class shares are out: a class has ~36 images.)"""
    if "runs" in record:  # a sweep
        return [
            row[key] for row in record["runs"] for key in ("student_accuracy", "baseline_accuracy", "teacher_accuracy")
        ]
    return [
        record[m][key]
        for m in ("teacher", "student", "baseline")
        if record.get(m)
        for key in ("accuracy", "agreement")
        if record[m].get(key) is not None
    ]


def first_epoch_losses(record: dict, phases: tuple[str, ...]) -> list[float]:
    """The losses of the first epoch of ``phases``: before training has had time to amplify last-bit differences.
    (The KD student's first epoch comes after the whole teacher's training, so it is measured apart.)"""
    firsts = [h for h in record.get("history", []) if h["epoch"] == 1 and h["phase"] in phases]
    return [h[key] for h in firsts for key in ("loss", "soft_loss", "hard_loss") if h.get(key) is not None]


METRICS = ("images", "scratch_loss_rel", "student_loss_rel")


def deviation(expected: dict, got: dict) -> dict:
    """How far ``got`` is from ``expected``: the largest final-accuracy difference in test images, and the largest
    relative difference of the first-epoch losses of the phases trained from scratch (teacher, baseline) and of
    the KD student."""

    def rel(phases):
        pairs = zip(first_epoch_losses(expected, phases), first_epoch_losses(got, phases), strict=True)
        return max((abs(a - b) / abs(a) for a, b in pairs if a), default=0.0)

    pairs = zip(accuracies(expected), accuracies(got), strict=True)
    return {
        "images": max((round(abs(a - b) * TEST_IMAGES) for a, b in pairs), default=0),
        "scratch_loss_rel": rel(("teacher", "baseline")),
        "student_loss_rel": rel(("student",)),
    }


def measure_spread() -> dict:
    """Every case under every kernel set, each in a fresh process; the largest deviation from expected.json."""
    import subprocess

    sys.path.insert(0, str(HERE.parents[1]))
    from benchmarks import kernels

    expected, by_set = json.loads(EXPECTED.read_text()), {}
    with tempfile.TemporaryDirectory() as folder:
        for name in kernels.KERNEL_SETS:
            out = Path(folder) / f"{name}.json"
            subprocess.run([sys.executable, __file__, "--run", str(out)], env=kernels.kernel_env(name), check=True)
            got = json.loads(out.read_text())
            by_set[name] = {case: deviation(expected[case], got[case]) for case in CASES}
            print(name, json.dumps(by_set[name]), file=sys.stderr)
    info = json.loads(
        subprocess.run(
            [sys.executable, "-c", "import json, benchmarks.kernels as k; print(json.dumps(k.current()))"],
            cwd=HERE.parents[1],
            env=kernels.kernel_env("native"),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    worst = {case: {key: max(by_set[s][case][key] for s in by_set) for key in METRICS} for case in CASES}
    return {
        "recorded_on": "Intel Xeon (expected.json)",
        "measured_on": info["cpu"],
        "torch": info["torch"],
        "kernel_sets": list(by_set),
        "worst": worst,
        "by_set": by_set,
    }


if __name__ == "__main__":
    if sys.argv[1:2] == ["--run"]:
        run_all(sys.argv[2])
    elif sys.argv[1:2] == ["--spread"]:
        SPREAD.write_text(json.dumps(measure_spread(), indent=1) + "\n")
        print(f"wrote {SPREAD}", file=sys.stderr)
    else:
        run_all(str(EXPECTED))
        print(f"wrote {EXPECTED} ({len(CASES)} cases)", file=sys.stderr)
