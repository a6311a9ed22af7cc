"""``kd-bench``: the seed's training loop and kd_core's engine, timed side by side in one process.

    kd-bench --json bench.json            # about 1–3 minutes on 2 cores
    kd-bench --batches 5 --repeats 1      # a smoke run

For each dataset — (a) CIFAR-10 with the seed's TeacherNet/StudentNet (the real CIFAR-10 when its
files are on disk, else 50,000 + 10,000 random 32×32×3 images with random labels: only timings
matter here) and (b) digits with the default MLPs — it times, on the same data, nets, batch size and
optimizer:

    teacher_epoch   seed: train_teacher over a DataLoader    engine: fit(teacher)
    student_epoch   seed: train_student (teacher forward on   engine: fit(student) on cached
                    every batch, the seed's KD loss)                  teacher logits
    test_eval       seed: evaluate over a DataLoader         engine: evaluate()
    teacher_logits                                           engine: predict_logits(), once per run

Each phase times ``--batches`` batches after ``--warmup`` untimed ones, ``--repeats`` times, and the
medians are reported, in images per second.  The seed is timed as shipped: its own TeacherNet /
StudentNet code (from the engine's initial weights) and glibc's default allocator.  The engine's
allocator setting (``kd_core.speed.tune``) is process-wide and cannot be undone, so every seed
repeat of every dataset runs first, then ``tune()``, then every engine repeat — same process, same
data.  (Seed and engine therefore no longer alternate: on a busy machine, compare runs made at
similar load; ``uptime`` before and after says.)  The seed's DataLoader workers are started before
its timed batches (its steady state; a real seed epoch also pays their start-up), so the ratios
are, if anything, low.

Each phase's FLOP limit is the fp32 matmul rate measured here divided by the phase's FLOPs per
image (forward = 2·MACs of the conv and linear layers; training = 3× forward).
"""
from __future__ import annotations

import argparse
import contextlib
import itertools
import math
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import seed_reference as seed
from .config import RunConfig, validate
from .data import Dataset, default_data_dir, load_dataset
from .engine import evaluate, fit, predict_logits, run, seeded_model
from .speed import tune

PHASES = ("teacher_epoch", "student_epoch", "test_eval", "teacher_logits")
LABELS = {
    "teacher_epoch": "teacher epoch",
    "student_epoch": "student distillation epoch",
    "test_eval": "test evaluation",
    "teacher_logits": "teacher-logit pass (once)",
}
# The targets, on CIFAR-10: ratios to the seed, or images/s for the one-off logit pass.
TARGETS = {"teacher_epoch": 3.0, "student_epoch": 10.0, "test_eval": 5.0}
TARGET_LOGITS_IPS = 10_000
TARGET_CLASSROOM_S = 2.0


# ---------------------------------------------------------------- machine


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def usable_cores() -> int:
    with contextlib.suppress(AttributeError, OSError):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def matmul_gflops(size: int = 1024, seconds: float = 1.0) -> float:
    """The best fp32 matmul rate seen in about ``seconds``: the machine's practical peak."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    best, deadline = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        for _ in range(4):
            a @ b
        best = max(best, 4 * 2 * size**3 / (time.perf_counter() - start) / 1e9)
    return best


def forward_flops(model: nn.Module, input_shape: tuple[int, ...]) -> float:
    """2 × multiply-adds of one image's forward pass through the conv and linear layers."""
    total = [0.0]

    def count(module, inputs, output):
        if isinstance(module, nn.Conv2d):
            kernel = math.prod(module.kernel_size) * module.in_channels // module.groups
            total[0] += 2.0 * kernel * output[0].numel()
        elif isinstance(module, nn.Linear):
            total[0] += 2.0 * module.in_features * module.out_features

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        with torch.no_grad():
            model(torch.zeros(1, *input_shape))
    finally:
        for hook in hooks:
            hook.remove()
    return total[0]


# ---------------------------------------------------------------- data


def _as_uint8_images(x: torch.Tensor, mean, std) -> np.ndarray:
    """Normalized (N, C, H, W) floats back to the uint8 (N, H, W[, C]) images a torchvision dataset holds."""
    m = torch.tensor(mean).view(1, -1, 1, 1)
    s = torch.tensor(std).view(1, -1, 1, 1)
    pixels = (x * s + m).mul_(255).round_().clamp_(0, 255).to(torch.uint8)
    pixels = pixels[:, 0] if pixels.shape[1] == 1 else pixels.permute(0, 2, 3, 1)
    return pixels.contiguous().numpy()


def random_cifar(train: int = 50_000, test: int = 10_000, seed: int = 0) -> tuple[Dataset, tuple, tuple]:
    """CIFAR-10-shaped random images and labels: the engine's tensors and the seed's uint8 arrays."""
    rng = np.random.default_rng(seed)
    arrays = []
    for count in (train, test):
        images = rng.integers(0, 256, size=(count, 32, 32, 3), dtype=np.uint8)
        arrays.append((images, rng.integers(0, 10, size=count)))

    def tensors(images, labels):
        x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255.0)
        return x.sub_(0.5).div_(0.5).contiguous(), torch.from_numpy(labels).long()

    (x_tr, y_tr), (x_te, y_te) = tensors(*arrays[0]), tensors(*arrays[1])
    dataset = Dataset("cifar10", x_tr, y_tr, x_te, y_te, tuple(str(i) for i in range(10)), (0.5,) * 3, (0.5,) * 3)
    return dataset, arrays[0], arrays[1]


def cifar_data(data_dir: str | None, size: tuple[int, int]):
    """(engine Dataset, seed train set, seed test set, "real" | "random")."""
    root = Path(data_dir) if data_dir else default_data_dir()
    if (root / "cifar-10-batches-py" / "data_batch_1").exists():
        import torchvision

        dataset = load_dataset("cifar10", root)
        make = lambda train: torchvision.datasets.CIFAR10(str(root), train=train, download=False, transform=seed.seed_transform())
        return dataset, make(True), make(False), "real CIFAR-10"
    dataset, train, test = random_cifar(*size)
    transform = seed.seed_transform()
    return (
        dataset,
        seed.ImageDataset(*train, transform=transform),
        seed.ImageDataset(*test, transform=transform),
        f"random CIFAR-10-shaped ({size[0]:,} + {size[1]:,} images)",
    )


def digits_data():
    dataset = load_dataset("digits")
    transform = seed.seed_transform(channels=1)
    as_seed = lambda x, y: seed.ImageDataset(_as_uint8_images(x, dataset.mean, dataset.std), y.tolist(), transform)
    return dataset, as_seed(dataset.x_train, dataset.y_train), as_seed(dataset.x_test, dataset.y_test), "digits (1,437 + 360)"


# ---------------------------------------------------------------- timing


class StepClock:
    """A ``stop`` flag and event callback for ``fit``: starts the clock after ``warmup`` steps, stops after ``steps`` more."""

    def __init__(self, warmup: int, steps: int):
        self.warmup, self.limit, self.done, self.started = warmup, warmup + steps, 0, None

    def is_set(self) -> bool:
        return self.done >= self.limit

    def __call__(self, event) -> None:
        if event.kind == "step":
            self.done += 1
            if self.done == self.warmup:
                self.started = time.perf_counter()


def _timed_engine_fit(model, phase, x, y, config, warmup, steps, teacher_logits=None) -> float:
    clock = StepClock(warmup, steps)
    if warmup == 0:
        clock.started = time.perf_counter()
    fit(model, phase, x, y, (x[:1], y[:1]), config, 1, teacher_logits=teacher_logits, on_event=clock, stop=clock)
    assert clock.done == warmup + steps, "the engine ran out of batches"
    return time.perf_counter() - clock.started


def _timed_seed(loader, warmup, steps, body) -> float:
    """Start the loader's workers, run ``warmup`` batches through ``body`` untimed, then time ``steps``."""
    batches = iter(loader)
    if warmup:
        body(itertools.islice(batches, warmup))
    started = time.perf_counter()
    body(itertools.islice(batches, steps))
    seconds = time.perf_counter() - started
    del batches  # shuts the workers down
    return seconds


def _seed_optimizer(model: nn.Module, config: RunConfig) -> torch.optim.Optimizer:
    """The seed's optimizer: ``optim.SGD(params, lr, momentum=0.9)``; Adam for a config that says so."""
    if config.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=0.9)
    return torch.optim.Adam(model.parameters(), lr=config.lr)


class DatasetBench:
    """One dataset's phases, each as (seed runner, engine runner, images per timed run); a runner returns seconds.

    ``time_seed`` and ``time_engine`` are separate because the engine's allocator setting
    (``kd_core.speed.tune``, applied by its first ``fit``) is process-wide and cannot be undone: every
    seed timing must happen before it, or the seed would run faster than it does as shipped.
    """

    def __init__(self, name, dataset, seed_train, seed_test, config, batches, warmup, gflops):
        self.name, self.dataset, self.config = name, dataset, config
        bs = config.batch_size
        steps = max(1, min(batches, len(dataset.y_train) // bs - warmup - 1))
        eval_steps = max(1, min(batches, len(seed_test) // bs - 1))
        subset = (warmup + steps + 1) * bs  # the engine's training slice: one batch more than it times
        self.x, self.y = dataset.x_train[:subset], dataset.y_train[:subset]
        self.n_eval, self.n_logits = eval_steps * bs, min(len(dataset.y_train), max(steps * bs, 2048))

        self.teacher = seeded_model(config.teacher, dataset, config.seed)
        self.student = seeded_model(config.student, dataset, config.seed + 1)
        flops = {"teacher": forward_flops(self.teacher, dataset.input_shape), "student": forward_flops(self.student, dataset.input_shape)}
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

        # The seed trains its own TeacherNet/StudentNet (its forward pass as it wrote it), from the engine's initial weights.
        seed_models = {"teacher": seed.seed_net(self.teacher), "student": seed.seed_net(self.student)}
        seed_opts = {k: _seed_optimizer(m, config) for k, m in seed_models.items()}
        engine_teacher = seeded_model(config.teacher, dataset, config.seed)
        x, y = self.x, self.y
        self.runners = {
            "teacher_epoch": (
                lambda: _timed_seed(train_loader, warmup, steps, lambda it: seed.train_teacher(seed_models["teacher"], it, seed_opts["teacher"], num_epochs=1)),
                lambda: _timed_engine_fit(engine_teacher, "teacher", x, y, config, warmup, steps),
                steps * bs,
            ),
            "student_epoch": (
                lambda: _timed_seed(train_loader, warmup, steps, lambda it: seed.train_student(seed_models["teacher"], seed_models["student"], it, seed_opts["student"], T, alpha)),
                lambda: _timed_engine_fit(self.student, "student", x, y, config, warmup, steps, teacher_logits=self._teacher_logits()),
                steps * bs,
            ),
            "test_eval": (
                lambda: _timed_seed(test_loader, 1, eval_steps, lambda it: seed.evaluate(seed_models["student"], it)),
                lambda: _timed_eval(self.student, dataset, self.n_eval),
                eval_steps * bs,
            ),
            "teacher_logits": (None, self._timed_logits, self.n_logits),
        }
        self.seed_times = {phase: [] for phase in PHASES}
        self.engine_times = {phase: [] for phase in PHASES}

    def _teacher_logits(self) -> torch.Tensor:
        """The logits the engine's student distils from: computed once, untimed (their pass is timed apart)."""
        if not hasattr(self, "logits"):
            self.logits = predict_logits(self.teacher, self.x)
        return self.logits

    def _timed_logits(self) -> float:
        started = time.perf_counter()
        predict_logits(self.teacher, self.dataset.x_train[: self.n_logits])
        return time.perf_counter() - started

    def time_seed(self, repeats: int) -> None:
        for phase in PHASES:
            seed_run = self.runners[phase][0]
            self.seed_times[phase] += [seed_run() for _ in range(repeats)] if seed_run is not None else []

    def time_engine(self, repeats: int) -> None:
        for phase in PHASES:
            engine_run = self.runners[phase][1]
            if phase in ("test_eval", "teacher_logits"):
                engine_run()  # untimed warm-up (the training phases warm up inside fit)
            self.engine_times[phase] += [engine_run() for _ in range(repeats)]

    def results(self, log) -> dict:
        """Median images/s of the seed and the engine for every phase."""
        results: dict = {}
        for phase in PHASES:
            images = self.runners[phase][2]
            row = {}
            if self.seed_times[phase]:
                row["seed"] = images / statistics.median(self.seed_times[phase])
            row["engine"] = images / statistics.median(self.engine_times[phase])
            if "seed" in row:
                row["ratio"] = row["engine"] / row["seed"]
            limit = self.limit[phase]
            row.update(flop_limit=limit, fraction_of_limit=row["engine"] / limit, flops_per_image=self.per_image[phase], images=images)
            results[phase] = row
            log(f"  {self.name:6s} {LABELS[phase]:28s} " + (f"seed {row['seed']:9,.0f} img/s  " if "seed" in row else " " * 22)
                + f"engine {row['engine']:9,.0f} img/s" + (f"  {row['ratio']:5.1f}×" if "ratio" in row else ""))
        return results


def _timed_eval(model, dataset, n) -> float:
    started = time.perf_counter()
    evaluate(model, dataset.x_test[:n], dataset.y_test[:n], dataset.num_classes)
    return time.perf_counter() - started


def classroom_run() -> dict:
    """The default ``kd-train`` run (digits; teacher + KD student + baseline) with an empty teacher cache."""
    from .cache import TeacherCache

    with tempfile.TemporaryDirectory() as folder:
        result = run(RunConfig(device="cpu"), cache=TeacherCache(folder))
    seconds = {k: round(v, 3) for k, v in result.seconds.items()}
    return {"seconds": seconds, "total": round(sum(result.seconds.values()), 3), "target": TARGET_CLASSROOM_S}


# ---------------------------------------------------------------- report


def format_table(report: dict) -> str:
    machine = report["machine"]
    lines = [
        f"kd-bench — {machine['cpu']}, {machine['cores']} cores, torch {machine['torch']} "
        f"({machine['threads']} threads); fp32 matmul {report['matmul_gflops']:.0f} GFLOP/s",
        f"{report['settings']['batches']} timed batches per phase after {report['settings']['warmup']} warm-up, "
        f"median of {report['settings']['repeats']}; the seed first, as shipped (default allocator), "
        f"then the engine with tuning: {report['settings']['tuning']}",
        "",
        "| data | phase | seed img/s | engine img/s | engine ÷ seed | target | FLOP limit img/s | engine % of limit |",
        "|---|---|---:|---:|---:|---|---:|---:|",
    ]
    for name in ("cifar", "digits"):
        if name not in report:
            continue
        for phase in PHASES:
            row = report[name][phase]
            target = ""
            if name == "cifar":
                target = f"≥ {TARGETS[phase]:g}×" if phase in TARGETS else f"≥ {TARGET_LOGITS_IPS:,} img/s"
            seed_cell = f"{row['seed']:,.0f}" if "seed" in row else "—"
            ratio = f"{row['ratio']:.1f}×" if "ratio" in row else "—"
            lines.append(
                f"| {name} | {LABELS[phase]} | {seed_cell} | {row['engine']:,.0f} | {ratio} | {target} | "
                f"{row['flop_limit']:,.0f} | {100 * row['fraction_of_limit']:.0f}% |"
            )
    if "classroom" in report:
        c = report["classroom"]
        s = c["seconds"]
        lines += ["", f"default classroom run (digits, kd-train defaults): teacher {s['teacher']:.2f} s + KD student "
                      f"{s['student']:.2f} s + baseline {s['baseline']:.2f} s = {c['total']:.2f} s (target ≤ {c['target']:g} s)"]
    for name in ("cifar", "digits"):
        if name in report:
            lines.append(f"{name}: {report[name]['data']}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kd-bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--batches", type=int, default=30, help="timed batches per phase (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed batches before each timed run (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per phase; the median counts (default: %(default)s)")
    parser.add_argument("--datasets", default="cifar,digits", help="comma-separated: cifar, digits (default: %(default)s)")
    parser.add_argument("--data-dir", help="where CIFAR-10 might be (default: $KD_DATA_DIR or the per-user data folder)")
    parser.add_argument("--cifar-size", type=int, nargs=2, default=(50_000, 10_000), metavar=("TRAIN", "TEST"),
                        help="random CIFAR-shaped images when the real ones are absent (default: 50000 10000)")
    parser.add_argument("--no-classroom", action="store_true", help="skip timing the default kd-train run")
    parser.add_argument("--no-tuning", action="store_true", help="leave the allocator as it is (KD_NO_TUNING=1)")
    parser.add_argument("--channels-last", action="store_true",
                        help="the engine's opt-in channels-last layout (KD_CHANNELS_LAST=1; may change the last bits)")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.no_tuning:
        os.environ["KD_NO_TUNING"] = "1"
    if args.channels_last:
        os.environ["KD_CHANNELS_LAST"] = "1"
    if args.threads:
        torch.set_num_threads(args.threads)
    if min(args.batches, args.repeats) < 1 or args.warmup < 0:
        print("kd-bench: error: --batches and --repeats must be ≥ 1, --warmup ≥ 0", file=sys.stderr)
        return 2
    names = [n.strip() for n in args.datasets.split(",") if n.strip()]
    if not names or set(names) - {"cifar", "digits"}:
        print("kd-bench: error: --datasets takes cifar and/or digits", file=sys.stderr)
        return 2
    warnings.filterwarnings("ignore", message=".*reduction: 'mean'.*")  # the seed's nn.KLDivLoss()
    log = lambda text: print(text, file=sys.stderr, flush=True)
    started = time.perf_counter()
    gflops = matmul_gflops()
    report: dict = {
        "machine": {"cpu": cpu_model(), "cores": usable_cores(), "torch": torch.__version__, "threads": torch.get_num_threads(),
                    "python": platform.python_version()},
        "matmul_gflops": round(gflops, 1),
        "settings": {"batches": args.batches, "warmup": args.warmup, "repeats": args.repeats},
    }
    log(f"kd-bench: fp32 matmul {gflops:.0f} GFLOP/s on {report['machine']['cores']} cores")
    configs = {
        "cifar": RunConfig(dataset="cifar10", teacher="seed-teacher", student="seed-student", batch_size=128,
                           optimizer="sgd", lr=0.001, temperature=20.0, lam=0.7, device="cpu"),
        "digits": RunConfig(device="cpu"),  # kd-train's defaults: MLPs, batch 64, Adam 0.01, T = 4, λ = 0.7
    }
    benches = []
    for name in names:
        dataset, seed_train, seed_test, description = cifar_data(args.data_dir, tuple(args.cifar_size)) if name == "cifar" else digits_data()
        config = validate(configs[name], train_size=len(dataset.y_train))
        benches.append(DatasetBench(name, dataset, seed_train, seed_test, config, args.batches, args.warmup, gflops))
        report[name] = {"data": description,
                        "config": {k: getattr(config, k) for k in ("teacher", "student", "batch_size", "optimizer", "lr", "temperature", "lam")}}
    # The seed first, as shipped (glibc's default allocator); then the engine with its process-wide settings,
    # which cannot be undone.  Same process, same data, same initial weights.
    for bench in benches:
        log(f"{bench.name}: the seed ({report[bench.name]['data']})")
        bench.time_seed(args.repeats)
    tuning = tune()
    report["settings"]["tuning"] = ", ".join(k for k, v in tuning.items() if v) or "none"
    for bench in benches:
        log(f"{bench.name}: the engine")
        bench.time_engine(args.repeats)
        report[bench.name].update(bench.results(log))
    del benches
    if not args.no_classroom:
        log("classroom: the default kd-train run")
        report["classroom"] = classroom_run()
    report["seconds"] = round(time.perf_counter() - started, 1)
    print(format_table(report))
    print(f"(kd-bench took {report['seconds']:.0f} s)")
    if args.json:
        from .cli import write_json_atomic

        write_json_atomic(report, args.json)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
