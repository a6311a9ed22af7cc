"""Time an epoch of the CIFAR-10 default — the seed's nets, CIFAR-10's registry defaults — through kd_core's own
training loop, and project the default run's time: teacher + KD student + scratch baseline.

    python -m benchmarks.measure_cifar [--epochs-timed 2] [--docs] [--json cifar-times.json]

The images are random tensors of CIFAR-10's shape (50,000 + 10,000 × 3 × 32 × 32, 10 classes), or the real
CIFAR-10 when its files are in the data folder: an epoch takes as long either way, but the accuracies of random
images mean nothing, so none are reported.  Each phase is ``kd_core.train.loop.fit`` for one epoch at a time (its
per-epoch test accuracy included), as ``kd-train`` runs it: the teacher, the teacher's logits over the training
set (once per run), a KD student epoch and a baseline epoch; the median of ``--epochs-timed`` epochs each.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

from kd_core.config import RunConfig, validate
from kd_core.data.datasets import DATASETS, default_data_dir, load_dataset
from kd_core.methods.losses import cross_entropy
from kd_core.methods.registry import make_loss
from kd_core.train.loop import FitOptions, TrainingData, evaluate, fit, predict_logits, seeded_model

from .datasets import random_cifar
from .readme import add_argument, publish


def cifar(data_dir: str | None):
    root = Path(data_dir) if data_dir else default_data_dir()
    if (root / "cifar-10-batches-py" / "data_batch_1").exists():
        return load_dataset("cifar10", root), "the real CIFAR-10"
    return random_cifar()[0], "random tensors of CIFAR-10's shape (the files are not on this machine)"


def timed(work, label: str = "") -> float:
    started = time.perf_counter()
    work()
    seconds = time.perf_counter() - started
    print(f"{label}: {seconds:.1f} s (load {os.getloadavg()[0]:.1f})", file=sys.stderr, flush=True)
    return seconds


def measure(epochs_timed: int, data_dir: str | None) -> dict:
    spec = DATASETS["cifar10"]
    torch.set_num_threads(spec.threads)  # as kd-train does with the dataset's default --threads
    dataset, data = cifar(data_dir)
    config = validate(RunConfig(dataset="cifar10", device="cpu"), train_size=len(dataset.y_train))
    x, y, test = dataset.x_train, dataset.y_train, (dataset.x_test, dataset.y_test)
    epoch = lambda model, phase, loss, logits=None: fit(
        model, loss, TrainingData(x, y, test, logits), FitOptions(phase, config, 1, shuffle_seed=config.seed)
    )
    teacher = seeded_model(config.teacher, dataset, config.seed)
    teacher_epochs = [
        timed(lambda: epoch(teacher, "teacher", cross_entropy), "teacher epoch") for _ in range(epochs_timed)
    ]
    logits: list[torch.Tensor] = []
    logits_seconds = timed(lambda: logits.append(predict_logits(teacher, x)), "teacher logits")
    student = seeded_model(config.student, dataset, config.seed + 1, config.student_width)
    student_epochs = [
        timed(lambda: epoch(student, "student", make_loss(config.loss), logits[0]), "KD student epoch")
        for _ in range(epochs_timed)
    ]
    baseline = seeded_model(config.student, dataset, config.seed + 1, config.student_width)
    baseline_epochs = [
        timed(lambda: epoch(baseline, "baseline", cross_entropy), "baseline epoch") for _ in range(epochs_timed)
    ]
    reference = evaluate(teacher, *test, dataset.num_classes).predictions
    evaluations = timed(
        lambda: [evaluate(m, *test, dataset.num_classes, reference) for m in (teacher, student, baseline)],
        "final evaluations",
    )
    epoch_seconds = {"teacher": teacher_epochs, "student": student_epochs, "baseline": baseline_epochs}
    per_epoch = {phase: statistics.median(times) for phase, times in epoch_seconds.items()}
    phases = {
        "teacher": config.teacher_epochs * per_epoch["teacher"],
        "teacher logits": logits_seconds,
        "student": config.epochs * per_epoch["student"],
        "baseline": config.epochs * per_epoch["baseline"],
        "final evaluations": evaluations,
    }
    # A busy shared machine slows some epochs down: the fastest epochs say what an idle one would take.
    fastest = (
        config.teacher_epochs * min(teacher_epochs)
        + logits_seconds
        + evaluations
        + config.epochs * (min(student_epochs) + min(baseline_epochs))
    )
    return {
        "data": data,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": spec.threads,
        "load": os.getloadavg()[0],
        "epochs_timed": epochs_timed,
        "config": {
            k: getattr(config, k)
            for k in (
                "teacher",
                "student",
                "teacher_epochs",
                "epochs",
                "optimizer",
                "lr",
                "batch_size",
                "temperature",
                "lam",
            )
        },
        "epoch_seconds": epoch_seconds,
        "per_epoch": per_epoch,
        "phases": phases,
        "total": sum(phases.values()),
        "total_from_fastest": fastest,
    }


def markdown(m: dict) -> str:
    c, e, p = m["config"], m["per_epoch"], m["phases"]
    spread = lambda xs: f"{min(xs):.1f}–{max(xs):.1f}"  # noqa: E731
    return "\n".join(
        [
            f"The CIFAR-10 default — `{c['teacher']}` teacher for {c['teacher_epochs']} epochs, then the KD student "
            f"and the scratch baseline (`{c['student']}`) for {c['epochs']}; {c['optimizer'].capitalize()} "
            f"{c['lr']:g}, batch {c['batch_size']}, {m['threads']} threads — timed through kd_core's training loop on "
            f"{m['data']}, torch {m['torch']}, the median of {m['epochs_timed']} epochs per phase (load average "
            f"{m['load']:.1f}):",
            "",
            "| phase | one epoch | epochs | time |",
            "|---|---:|---:|---:|",
            f"| teacher | {e['teacher']:.1f} s ({spread(m['epoch_seconds']['teacher'])}) | {c['teacher_epochs']} | "
            f"{p['teacher']:.0f} s |",
            f"| teacher's logits over the training set (once) | — | — | {p['teacher logits']:.1f} s |",
            f"| KD student | {e['student']:.1f} s ({spread(m['epoch_seconds']['student'])}) | {c['epochs']} | "
            f"{p['student']:.0f} s |",
            f"| scratch baseline | {e['baseline']:.1f} s ({spread(m['epoch_seconds']['baseline'])}) | {c['epochs']} | "
            f"{p['baseline']:.0f} s |",
            f"| final evaluations | — | — | {p['final evaluations']:.1f} s |",
            f"| **projected run** | | | **{m['total']:.0f} s ({m['total'] / 60:.1f} min)** |",
            "",
            f"From the fastest epoch of each phase instead of the median: {m['total_from_fastest']:.0f} s "
            f"({m['total_from_fastest'] / 60:.1f} min).",
            "",
            "Loading the real files adds their decoding. Accuracies: not measured — the CIFAR-10 files are not on this "
            "machine and cannot be downloaded here, and the accuracy of random images means nothing."
            if "random" in m["data"]
            else "",
        ]
    ).strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs-timed", type=int, default=2, help="epochs timed per phase (the median is used)")
    parser.add_argument(
        "--data-dir", help="where CIFAR-10 might be (default: $KD_DATA_DIR or the per-user data folder)"
    )
    parser.add_argument("--json", help="also write the numbers here")
    add_argument(parser, "cifar")
    args = parser.parse_args(argv)
    measured = measure(args.epochs_timed, args.data_dir)
    block = markdown(measured)
    publish(block, measured, args.json, args.docs, "cifar", "benchmarks/measure_cifar.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
