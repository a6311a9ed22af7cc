"""An honest estimate of a Distill's run time, before it starts: planned steps × a per-step time measured here.

The per-step times come from a tiny benchmark on this server (optimizer steps of the teacher and of the student at
the run's batch size, on random inputs of the dataset's shape), measured once per architecture, width and batch size
(dashboard/page/resources.py caches them).  They are this thread's CPU time, the least of a few repeats, not the wall
clock: on a server that has just started, its worker processes import torch on the same cores, and a wall-clock
benchmark of a few milliseconds measured that crowd — 3–5× the step's real cost, kept for the server's life (a 25 s
run announced as "about 2 minutes").  The page trains with one thread per process, as this benchmark does.
No Streamlit here.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

from kd_core import DATASETS, RunConfig, build_model
from kd_core.train.loop import make_optimizer

BENCH_STEPS = 20
REPEATS = 3  # the least of these: a repeat interrupted by another process's work counts for nothing
WARM_UP_STEPS = 3  # first-call allocations, Adam's state
SHOW_ABOVE_SECONDS = 60.0  # a shorter run needs no warning


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


def estimate_seconds(
    plan: dict[str, int],
    teacher_step: float,
    student_step: float,
    seeds: int,
    slots: int,
    teachers_to_train: int | None = None,
    baselines_to_train: int | None = None,
) -> float:
    """Seconds for ``seeds`` seeds of a run planned as ``plan`` (steps per phase), ``slots`` seeds at a time.

    Each seed trains its KD student, and its own teacher and scratch baseline unless those are cached
    (``teachers_to_train``, ``baselines_to_train``: how many are not; all of them by default); the total is divided
    by the slots training at once.
    """
    teachers = seeds if teachers_to_train is None else teachers_to_train
    baselines = seeds if baselines_to_train is None else baselines_to_train
    work = teachers * plan.get("teacher", 0) * teacher_step
    work += (seeds * plan.get("student", 0) + baselines * plan.get("baseline", 0)) * student_step
    return work / max(1, min(slots, seeds))


def estimate_text(seconds: float) -> str | None:
    """ "about N minutes" for a run over a minute; None for a shorter one."""
    if seconds <= SHOW_ABOVE_SECONDS:
        return None
    minutes = max(1, round(seconds / 60))
    return "about 1 minute" if minutes == 1 else f"about {minutes} minutes"
