"""``kd-bench``: the seed's training loop and kd_core's engine, timed side by side in one process.

    kd-bench --json bench.json            # about 1–3 minutes on 2 cores
    kd-bench --batches 5 --repeats 1      # a smoke run
    kd-bench --device cuda                # the engine on CUDA too, next to the CPU figures

For each dataset — (a) CIFAR-10 with the seed's TeacherNet/StudentNet (the real CIFAR-10 when its
files are on disk, else 50,000 + 10,000 random 32×32×3 images with random labels: only timings
matter here) and (b) digits with the default MLPs — it times, on the same data, nets, batch size and
optimizer:

    teacher_epoch   seed: train_teacher over a DataLoader    engine: fit(teacher, cross-entropy)
    student_epoch   seed: train_student (teacher forward on   engine: fit(student, KD loss)    on
                    every batch, the seed's KD loss)                  cached teacher logits
    test_eval       seed: evaluate over a DataLoader         engine: evaluate()
    teacher_logits                                           engine: predict_logits(), once per run

Each phase times ``--batches`` batches after ``--warmup`` untimed ones, ``--repeats`` times, and the
medians are reported, in images per second.  The seed is timed as shipped: its own TeacherNet /
StudentNet code (from the engine's initial weights) and glibc's default allocator.  The engine's
allocator setting (``kd_core.train.fastpaths.tune``) is process-wide and cannot be undone, so every seed
repeat of every dataset runs first, then ``tune()``, then every engine repeat — same process, same
data.  (Seed and engine therefore do not alternate: on a busy machine, compare runs made at
similar load; ``uptime`` before and after says.)  The seed's DataLoader workers are started before
its timed batches (its steady state; a real seed epoch also pays their start-up), so the ratios
are, if anything, low.

With ``--device cuda`` the engine is then timed once more on the GPU (its data moved there once, the
timers read after ``torch.cuda.synchronize()``), reported as "engine on CUDA" next to the CPU figures.

Each phase's FLOP limit is the fp32 matmul rate measured here divided by the phase's FLOPs per
image (forward = 2·MACs of the conv and linear layers; training = 3× forward); it is the CPU's.

The parts: ``machine`` (the CPU and its FLOP rate), ``datasets`` (the data in both forms), ``timing``
(the runners), ``table`` (the report), ``seed_reference`` (the seed's loop as it wrote it).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import warnings

import torch

from kd_core.config import RunConfig, validate
from kd_core.runs.cache import TeacherCache
from kd_core.runs.pipeline import run
from kd_core.train.fastpaths import tune

from .datasets import cifar_data, digits_data
from .machine import cpu_model, matmul_gflops, usable_cores
from .readme import add_argument, replace_block
from .table import TARGET_CLASSROOM_S, format_table
from .timing import PHASES, DatasetBench

__all__ = ["PHASES", "build_parser", "classroom_run", "main"]


def classroom_run() -> dict:
    """The default ``kd-train`` run (digits; teacher + KD student + baseline) with an empty teacher cache."""
    with tempfile.TemporaryDirectory() as folder:
        result = run(RunConfig(device="cpu"), cache=TeacherCache(folder))
    seconds = {k: round(v, 3) for k, v in result.seconds.items()}
    return {"seconds": seconds, "total": round(sum(result.seconds.values()), 3), "target": TARGET_CLASSROOM_S}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kd-bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    add_argument(parser, "bench")
    parser.add_argument("--batches", type=int, default=30, help="timed batches per phase (default: %(default)s)")
    parser.add_argument(
        "--warmup", type=int, default=2, help="untimed batches before each timed run (default: %(default)s)"
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed runs per phase; the median counts (default: %(default)s)"
    )
    parser.add_argument(
        "--datasets", default="cifar,digits", help="comma-separated: cifar, digits (default: %(default)s)"
    )
    parser.add_argument(
        "--data-dir", help="where CIFAR-10 might be (default: $KD_DATA_DIR or the per-user data folder)"
    )
    parser.add_argument(
        "--cifar-size",
        type=int,
        nargs=2,
        default=(50_000, 10_000),
        metavar=("TRAIN", "TEST"),
        help="random CIFAR-shaped images when the real ones are absent (default: 50000 10000)",
    )
    parser.add_argument(
        "--device",
        choices=("cpu", "cuda"),
        default="cpu",
        help="cuda: also time the engine on the GPU, next to the CPU figures (default: %(default)s)",
    )
    parser.add_argument("--no-classroom", action="store_true", help="skip timing the default kd-train run")
    parser.add_argument("--no-tuning", action="store_true", help="leave the allocator as it is (KD_NO_TUNING=1)")
    parser.add_argument(
        "--channels-last",
        action="store_true",
        help="the engine's opt-in channels-last layout (KD_CHANNELS_LAST=1; may change the last bits)",
    )
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if min(args.batches, args.repeats) < 1 or args.warmup < 0:
        print("kd-bench: error: --batches and --repeats must be ≥ 1, --warmup ≥ 0", file=sys.stderr)
        return 2
    names = [n.strip() for n in args.datasets.split(",") if n.strip()]
    if not names or set(names) - {"cifar", "digits"}:
        print("kd-bench: error: --datasets takes cifar and/or digits", file=sys.stderr)
        return 2
    if args.device == "cuda" and not torch.cuda.is_available():
        print("kd-bench: error: --device cuda was asked for but no CUDA device is available", file=sys.stderr)
        return 2
    if args.no_tuning:
        os.environ["KD_NO_TUNING"] = "1"
    if args.channels_last:
        os.environ["KD_CHANNELS_LAST"] = "1"
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message=".*reduction: 'mean'.*")  # the seed's nn.KLDivLoss()
    log = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    started = time.perf_counter()
    gflops = matmul_gflops()
    report: dict = {
        "machine": {
            "cpu": cpu_model(),
            "cores": usable_cores(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "python": platform.python_version(),
        },
        "matmul_gflops": round(gflops, 1),
        "settings": {"batches": args.batches, "warmup": args.warmup, "repeats": args.repeats, "device": args.device},
    }
    if args.device == "cuda":
        report["machine"]["cuda"] = torch.cuda.get_device_name()
    log(f"kd-bench: fp32 matmul {gflops:.0f} GFLOP/s on {report['machine']['cores']} cores")
    configs = {
        "cifar": RunConfig(
            dataset="cifar10",
            teacher="seed-teacher",
            student="seed-student",
            batch_size=128,
            optimizer="sgd",
            lr=0.001,
            temperature=20.0,
            lam=0.7,
            device="cpu",
        ),
        "digits": RunConfig(device="cpu"),  # kd-train's defaults: MLPs, batch 64, Adam 0.01, T = 4, λ = 0.7
    }
    benches = []
    for name in names:
        dataset, seed_train, seed_test, description = (
            cifar_data(args.data_dir, tuple(args.cifar_size)) if name == "cifar" else digits_data()
        )
        config = validate(configs[name], train_size=len(dataset.y_train))
        benches.append(DatasetBench(name, dataset, seed_train, seed_test, config, args.batches, args.warmup, gflops))
        report[name] = {
            "data": description,
            "config": {
                k: getattr(config, k)
                for k in ("teacher", "student", "batch_size", "optimizer", "lr", "temperature", "lam")
            },
        }
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
        if args.device == "cuda":
            log(f"{bench.name}: the engine on CUDA")
            bench.time_engine(args.repeats, device="cuda", label="cuda")
        report[bench.name].update(bench.results(log))
    del benches
    if not args.no_classroom:
        log("classroom: the default kd-train run")
        report["classroom"] = classroom_run()
    report["seconds"] = round(time.perf_counter() - started, 1)
    table = format_table(report)
    print(table)
    print(f"(kd-bench took {report['seconds']:.0f} s)")
    if args.docs:
        replace_block(args.docs, "bench", "kd-bench", f"{table}\n\n(kd-bench took {report['seconds']:.0f} s.)")
    if args.json:
        from kd_core.files import write_json_atomic

        write_json_atomic(report, args.json, indent=2)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
