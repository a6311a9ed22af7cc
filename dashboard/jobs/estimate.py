"""An honest estimate of a Distill's run time, before it starts: planned steps × a per-step time measured here.

The per-step times come from a tiny benchmark on this server (optimizer steps of the teacher and of the student at
the run's batch size, on random inputs of the dataset's shape), measured once per architecture, width and batch size
(dashboard/page/resources.py caches them).  They are this thread's CPU time, the least of a few repeats, not the wall
clock: on a server that has just started, its worker processes import torch on the same cores, and a wall-clock
benchmark of a few milliseconds measured that crowd — 3–5× the step's real cost, kept for the server's life (a 25 s
run announced as "about 2 minutes").  The page trains with one thread per process, as this benchmark does.

A training also evaluates its model on the test set after every epoch (``evaluation_seconds``; with few images per
epoch, as the opening lesson's students have, that is most of their time), and on a busy machine it gets only a
share of a core: ``load_slowdown`` reads it from the load average, the CPU weight of the workers' niceness against
the others' (kd_core/runs/background.py), bounded by ``MAX_SLOWDOWN``.  ``phase_seconds`` puts these together for
the settings of a run: what a Distill job sends as its Pace (dashboard/jobs/progress.py), and what the estimate
before a run counts.  No Streamlit here.
"""

from __future__ import annotations

import functools
import os
import time

import torch
import torch.nn.functional as F

from dashboard.jobs import runner
from kd_core import DATASETS, RunConfig, build_model
from kd_core.runs.background import NICENESS
from kd_core.train.loop import make_optimizer, predict_logits

BENCH_STEPS = 20
REPEATS = 3  # the least of these: a repeat interrupted by another process's work counts for nothing
WARM_UP_STEPS = 3  # first-call allocations, Adam's state
SHOW_ABOVE_SECONDS = 60.0  # a shorter run needs no warning
MAX_SLOWDOWN = 20.0  # the most a busy machine is taken to slow a training down (progress.py bounds the ETA so)
NICE_0_WEIGHT = 1024  # Linux's CPU weight of a process at niceness 0; each step of niceness is 1.25× less


def nice_weight(niceness: int) -> float:
    return NICE_0_WEIGHT / 1.25**niceness


def step_seconds(
    architecture: str,
    dataset: str,
    width: int | None,
    batch_size: int,
    lr: float = 1e-3,
    steps: int = BENCH_STEPS,
    clock=time.thread_time,
) -> float:
    """CPU seconds per optimizer step (forward, backward, Adam) of ``architecture`` at ``batch_size``: the least
    mean over ``REPEATS`` runs of ``steps`` steps, after a warm-up; ``clock`` is this thread's CPU time, so time
    spent waiting for a core another process holds is not counted."""
    spec = DATASETS[dataset]
    torch.manual_seed(0)
    model = build_model(architecture, spec.input_shape, spec.num_classes, width)
    optimizer = make_optimizer(model, RunConfig(dataset=dataset, lr=lr))
    x = torch.randn(batch_size, *spec.input_shape)
    y = torch.randint(0, spec.num_classes, (batch_size,))
    model.train()

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        optimizer.step()

    for _ in range(WARM_UP_STEPS):
        step()
    best = float("inf")
    for _ in range(REPEATS):
        start = clock()
        for _ in range(steps):
            step()
        best = min(best, (clock() - start) / steps)
    return best


@functools.lru_cache(maxsize=64)
def measured_step_seconds(architecture: str, dataset: str, width: int | None, batch_size: int) -> float:
    """``step_seconds``, measured once per process and remembered (a job asks for it at every Distill)."""
    return step_seconds(architecture, dataset, width, batch_size)


EVALUATION_SAMPLE = 512  # test images the evaluation benchmark times; a larger test set is scaled from it


@functools.lru_cache(maxsize=64)
def evaluation_seconds(architecture: str, dataset: str, width: int | None, images: int) -> float:
    """CPU seconds of one evaluation on ``images`` test images (the forward passes the training loop makes after
    every epoch, in its batches of 256): ``EVALUATION_SAMPLE`` of them timed, the least of ``REPEATS``, scaled to
    ``images``; measured once per process."""
    spec = DATASETS[dataset]
    torch.manual_seed(0)
    model = build_model(architecture, spec.input_shape, spec.num_classes, width).eval()
    x = torch.randn(min(images, EVALUATION_SAMPLE), *spec.input_shape)
    predict_logits(model, x[:64])  # warm-up
    best = float("inf")
    for _ in range(REPEATS):
        start = time.thread_time()
        predict_logits(model, x)
        best = min(best, time.thread_time() - start)
    return best * images / len(x)


def models_of(config: RunConfig) -> dict[str, tuple[str, int | None, int, int]]:
    """Each phase's (architecture, width, batch size, epochs) in a validated ``config``."""
    teacher = config.for_teacher()
    student = (config.student, config.student_width, config.batch_size, config.epochs)
    return {
        "teacher": (teacher.teacher, None, teacher.batch_size, config.teacher_epochs),
        "student": student,
        "baseline": student,
    }


def benchmark_key(config: RunConfig, test_images: int) -> tuple:
    """What ``run_benchmark`` measures for a validated ``config``: (dataset, test images, each phase's model)."""
    return (config.dataset, test_images, tuple((p, m[:3]) for p, m in models_of(config).items()))


def run_benchmark(key: tuple, on_event=None, stop=None) -> dict[str, tuple[float, float]]:
    """phase -> (CPU seconds of one step, of one evaluation) for a ``benchmark_key``: a task of module level (an
    executor's ``task(item, on_event, stop)``), so that a worker process can run it away from a server's
    interpreter, whose lock its small operations would hold."""
    dataset, images, models = key
    return {
        phase: (measured_step_seconds(a, dataset, width, batch), evaluation_seconds(a, dataset, width, images))
        for phase, (a, width, batch) in models
    }


def phase_seconds(
    config: RunConfig, plan: dict[str, int], test_images: int, measured: dict | None = None
) -> dict[str, float]:
    """CPU seconds per step of each phase of a validated ``config`` planned as ``plan`` (steps per phase): its
    optimizer step, and its share of the evaluation after each epoch.  ``measured``: ``run_benchmark``'s answer
    (by default measured here)."""
    measured = measured if measured is not None else run_benchmark(benchmark_key(config, test_images))
    models = models_of(config)
    out = {}
    for phase, steps in plan.items():
        step, evaluation = measured[phase]
        out[phase] = step + (evaluation * models[phase][3] / steps if steps else 0.0)
    return out


def load_slowdown(
    workers: int,
    load: float | None = None,
    cores: int | None = None,
    running_here: int | None = None,
    niceness: int = NICENESS,
) -> float:
    """How many times slower than alone each of ``workers`` trainings at ``niceness`` runs now: the cores go to the
    runnable processes by CPU weight (the load average's other ``load − running_here`` at niceness 0, which a
    niced worker yields to), at most one core each; at least 1, at most ``MAX_SLOWDOWN``.  ``load``: the
    1-minute load average (read now by default); ``running_here``: trainings of this server already in it (by
    default, the trainer slots held now)."""
    cores = cores or os.cpu_count() or 1
    if running_here is None:
        running_here = runner.MAX_CONCURRENT - runner.free_slots()
    if load is None:
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):  # not on every platform
            load = 0.0
    others = max(0.0, load - running_here)
    weight = nice_weight(niceness)
    share = cores * weight / (others * NICE_0_WEIGHT + max(1, workers) * weight)
    return min(MAX_SLOWDOWN, max(1.0, 1.0 / min(1.0, share)))


def estimate_seconds(
    plan: dict[str, int],
    teacher_step: float,
    student_step: float,
    seeds: int,
    slots: int,
    teachers_to_train: int | None = None,
    baselines_to_train: int | None = None,
    slowdown: float | None = None,
) -> float:
    """Seconds for ``seeds`` seeds of a run planned as ``plan`` (steps per phase), ``slots`` seeds at a time.

    Each seed trains its KD student, and its own teacher and scratch baseline unless those are cached
    (``teachers_to_train``, ``baselines_to_train``: how many are not; all of them by default); the total is divided
    by the slots training at once, and multiplied by ``slowdown`` — by default ``load_slowdown`` of those slots
    now, so that the estimate on a busy machine is that of a busy machine.
    """
    teachers = seeds if teachers_to_train is None else teachers_to_train
    baselines = seeds if baselines_to_train is None else baselines_to_train
    at_once = max(1, min(slots, seeds))
    if slowdown is None:
        slowdown = load_slowdown(at_once)
    work = teachers * plan.get("teacher", 0) * teacher_step
    work += (seeds * plan.get("student", 0) + baselines * plan.get("baseline", 0)) * student_step
    return work / at_once * slowdown


def estimate_text(seconds: float) -> str | None:
    """ "about N minutes" for a run over a minute; None for a shorter one."""
    if seconds <= SHOW_ABOVE_SECONDS:
        return None
    minutes = max(1, round(seconds / 60))
    return "about 1 minute" if minutes == 1 else f"about {minutes} minutes"
