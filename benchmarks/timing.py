"""Timing the seed and the engine phase by phase, on the same data, nets, batch size and optimizer.

A runner returns the seconds its timed batches took.  The seed's runners feed its own training loop from a
``DataLoader``; the engine's run ``kd_core.train.loop.fit`` / ``evaluate`` / ``predict_logits`` on tensors already on
their device (moved there once), and wait for the device (``torch.cuda.synchronize``) before reading a timer.
"""

from __future__ import annotations

import itertools
import statistics
import time

import torch
from torch import nn

from kd_core.config import RunConfig
from kd_core.data.spec import Dataset
from kd_core.methods.losses import cross_entropy, hinton_kd
from kd_core.train.loop import Cancelled, FitOptions, TrainingData, evaluate, fit, predict_logits, seeded_model

from . import seed_reference as seed
from .machine import forward_flops

PHASES = ("teacher_epoch", "student_epoch", "test_eval", "teacher_logits")
LABELS = {
    "teacher_epoch": "teacher epoch",
    "student_epoch": "student distillation epoch",
    "test_eval": "test evaluation",
    "teacher_logits": "teacher-logit pass (once)",
}


def synchronize(device: torch.device) -> None:
    """Wait for the work queued on ``device`` (a GPU runs asynchronously; a CPU has nothing to wait for)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class StepStop:
    """A ``stop`` flag for ``fit``, which asks it once before every step: the clock starts after ``warmup`` steps,
    and the flag is set after ``steps`` more (``fit`` then raises ``Cancelled``)."""

    def __init__(self, warmup: int, steps: int, device: torch.device):
        self.warmup, self.limit, self.device = warmup, warmup + steps, device
        self.done, self.started = 0, None  # steps done so far; the clock's start

    def is_set(self) -> bool:
        done, self.done = self.done, self.done + 1
        if done == self.warmup and self.started is None:
            synchronize(self.device)
            self.started = time.perf_counter()
        return done >= self.limit


def timed_engine_fit(model, phase, x, y, config, loss, warmup, steps, teacher_logits=None) -> float:
    """Seconds ``fit`` takes for ``steps`` batches after ``warmup`` untimed ones (``x`` holds at least one more)."""
    clock = StepStop(warmup, steps, x.device)
    if warmup == 0:
        clock.started = time.perf_counter()
    try:
        data = TrainingData(x, y, (x[:1], y[:1]), teacher_logits)
        fit(model, loss, data, FitOptions(phase, config, 1), stop=clock)
    except Cancelled:
        synchronize(x.device)
        return time.perf_counter() - clock.started
    raise RuntimeError("the engine ran out of batches")


def timed_seed(loader, warmup, steps, body) -> float:
    """Start the loader's workers, run ``warmup`` batches through ``body`` untimed, then time ``steps``."""
    batches = iter(loader)
    if warmup:
        body(itertools.islice(batches, warmup))
    started = time.perf_counter()
    body(itertools.islice(batches, steps))
    seconds = time.perf_counter() - started
    del batches  # shuts the workers down
    return seconds


def seed_optimizer(model: nn.Module, config: RunConfig) -> torch.optim.Optimizer:
    """The seed's optimizer: ``optim.SGD(params, lr, momentum=0.9)``; Adam for a config that says so."""
    if config.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=0.9)
    return torch.optim.Adam(model.parameters(), lr=config.lr)


class EngineSide:
    """The engine's runner for every phase on one device, with its own nets (the seed's initial weights) and the
    bench's data moved there once (on the CPU, ``.to`` returns the very tensors)."""

    def __init__(self, bench: "DatasetBench", device: str):
        config, dataset = bench.config, bench.dataset
        self.device = torch.device(device)
        to = lambda t: t.to(self.device)  # noqa: E731
        self.x, self.y = to(bench.x), to(bench.y)
        self.x_eval, self.y_eval = to(dataset.x_test[: bench.n_eval]), to(dataset.y_test[: bench.n_eval])
        self.x_logits = to(dataset.x_train[: bench.n_logits])
        self.num_classes = dataset.num_classes
        self.teacher = seeded_model(config.teacher, dataset, config.seed).to(self.device)  # stays untrained
        trainee = seeded_model(config.teacher, dataset, config.seed).to(self.device)
        self.student = seeded_model(config.student, dataset, config.seed + 1).to(self.device)
        self.logits: torch.Tensor | None = None
        warmup, steps = bench.warmup, bench.steps
        self.runners = {
            "teacher_epoch": lambda: timed_engine_fit(
                trainee, "teacher", self.x, self.y, config, cross_entropy, warmup, steps
            ),
            "student_epoch": lambda: timed_engine_fit(
                self.student,
                "student",
                self.x,
                self.y,
                config,
                hinton_kd,
                warmup,
                steps,
                teacher_logits=self.teacher_logits(),
            ),
            "test_eval": self.timed_eval,
            "teacher_logits": self.timed_logits,
        }

    def teacher_logits(self) -> torch.Tensor:
        """The logits the student distills from: computed once, untimed (their pass is timed apart)."""
        if self.logits is None:
            self.logits = predict_logits(self.teacher, self.x)
        return self.logits

    def timed_eval(self) -> float:
        synchronize(self.device)
        started = time.perf_counter()
        evaluate(self.student, self.x_eval, self.y_eval, self.num_classes)
        synchronize(self.device)
        return time.perf_counter() - started

    def timed_logits(self) -> float:
        synchronize(self.device)
        started = time.perf_counter()
        predict_logits(self.teacher, self.x_logits)
        synchronize(self.device)
        return time.perf_counter() - started


class DatasetBench:
    """One dataset's phases: the seed's runners, the engine's on each device timed, and the images each run covers.

    ``time_seed`` and ``time_engine`` are separate because the engine's allocator setting
    (``kd_core.train.fastpaths.tune``, applied by its first ``fit``) is process-wide and cannot be undone: every
    seed timing must happen before it, or the seed would run faster than it does as shipped.
    """

    def __init__(self, name, dataset: Dataset, seed_train, seed_test, config: RunConfig, batches, warmup, gflops):
        self.name, self.dataset, self.config, self.warmup = name, dataset, config, warmup
        bs = config.batch_size
        self.steps = steps = max(1, min(batches, len(dataset.y_train) // bs - warmup - 1))
        eval_steps = max(1, min(batches, len(seed_test) // bs - 1))
        subset = (warmup + steps + 1) * bs  # the engine's training slice: one batch more than it times
        self.x, self.y = dataset.x_train[:subset], dataset.y_train[:subset]
        self.n_eval, self.n_logits = eval_steps * bs, min(len(dataset.y_train), max(steps * bs, 2048))
        self.images = {
            "teacher_epoch": steps * bs,
            "student_epoch": steps * bs,
            "test_eval": eval_steps * bs,
            "teacher_logits": self.n_logits,
        }

        teacher = seeded_model(config.teacher, dataset, config.seed)
        student = seeded_model(config.student, dataset, config.seed + 1)
        flops = {
            "teacher": forward_flops(teacher, dataset.input_shape),
            "student": forward_flops(student, dataset.input_shape),
        }
        self.per_image = {
            "teacher_epoch": 3 * flops["teacher"],
            "student_epoch": 3 * flops["student"],
            "test_eval": flops["student"],
            "teacher_logits": flops["teacher"],
        }
        self.limit = {phase: gflops * 1e9 / f for phase, f in self.per_image.items()}
        train_loader = seed.seed_loader(seed_train, train=True, batch_size=bs)
        test_loader = seed.seed_loader(seed_test, train=False, batch_size=bs)
        T, alpha = config.temperature, config.lam

        # The seed trains its own TeacherNet/StudentNet (its forward pass as it wrote it), from the engine's initial
        # weights.
        nets = {"teacher": seed.seed_net(teacher), "student": seed.seed_net(student)}
        opts = {k: seed_optimizer(m, config) for k, m in nets.items()}
        self.seed_runners = {
            "teacher_epoch": lambda: timed_seed(
                train_loader,
                warmup,
                steps,
                lambda it: seed.train_teacher(nets["teacher"], it, opts["teacher"], num_epochs=1),
            ),
            "student_epoch": lambda: timed_seed(
                train_loader,
                warmup,
                steps,
                lambda it: seed.train_student(nets["teacher"], nets["student"], it, opts["student"], T, alpha),
            ),
            "test_eval": lambda: timed_seed(test_loader, 1, eval_steps, lambda it: seed.evaluate(nets["student"], it)),
            "teacher_logits": None,  # the seed has no such pass: its teacher runs on every distillation batch
        }
        self.times: dict[str, dict[str, list[float]]] = {"seed": {phase: [] for phase in PHASES}}

    def time_seed(self, repeats: int) -> None:
        for phase in PHASES:
            seed_run = self.seed_runners[phase]
            self.times["seed"][phase] += [seed_run() for _ in range(repeats)] if seed_run is not None else []

    def time_engine(self, repeats: int, device: str = "cpu", label: str = "engine") -> None:
        """The engine on ``device``; its times are reported under ``label``."""
        side = EngineSide(self, device)
        times = self.times.setdefault(label, {phase: [] for phase in PHASES})
        for phase in PHASES:
            engine_run = side.runners[phase]
            if phase in ("test_eval", "teacher_logits"):
                engine_run()  # untimed warm-up (the training phases warm up inside fit)
            times[phase] += [engine_run() for _ in range(repeats)]

    def results(self, log) -> dict:
        """Median images/s of the seed and the engine (and the engine on CUDA, when timed) for every phase."""
        results: dict = {}
        for phase in PHASES:
            images = self.images[phase]
            ips = {
                label: images / statistics.median(times[phase]) for label, times in self.times.items() if times[phase]
            }
            row = {}
            if "seed" in ips:
                row["seed"] = ips["seed"]
            row["engine"] = ips["engine"]
            if "seed" in row:
                row["ratio"] = row["engine"] / row["seed"]
            limit = self.limit[phase]
            row.update(
                flop_limit=limit,
                fraction_of_limit=row["engine"] / limit,
                flops_per_image=self.per_image[phase],
                images=images,
            )
            if "cuda" in ips:
                row["cuda"] = ips["cuda"]
                if "seed" in row:
                    row["cuda_ratio"] = row["cuda"] / row["seed"]
            results[phase] = row
            log(
                f"  {self.name:6s} {LABELS[phase]:28s} "
                + (f"seed {row['seed']:9,.0f} img/s  " if "seed" in row else " " * 22)
                + f"engine {row['engine']:9,.0f} img/s"
                + (f"  {row['ratio']:5.1f}×" if "ratio" in row else "")
                + (f"  cuda {row['cuda']:11,.0f} img/s" if "cuda" in row else "")
            )
        return results
