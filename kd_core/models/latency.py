"""Inference time per image (a batch of one), teacher and student timed in alternating rounds, with its spread.

On a shared two-core server the speed-up of the same two models read 1.7× to 3.8× from run to run, and a
wall-clock timing in the page's process reads anything from 0.4× to 8.7× round by round: a round of 100 passes
lasts about 2 ms, less than Python's 5 ms GIL switch interval, so another thread of the server (a page polling its
charts) or another process on the cores can swallow a whole round.  So each pass is timed in this thread's CPU
time — what the model costs, not how long it waited — on one thread, the two models in alternating rounds, and
the report shows the median with the range over the rounds, not one number as if it were exact.  Measured
here, loaded: teacher 22–24 µs, student 13–15 µs, speed-up 1.7× (1.5–1.9).  No Streamlit here.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

ROUNDS = 7
REPEATS = 100  # forward passes per round
WARM_UP = 20  # first calls allocate


def rounds(
    models: dict[str, nn.Module],
    example: torch.Tensor,
    repeats: int = REPEATS,
    count: int = ROUNDS,
    clock=time.thread_time,
) -> dict[str, list[float]]:
    """CPU seconds per forward pass on one image, per round, for each model; the models take turns round by round."""
    example = example[:1]
    modes = {name: model.training for name, model in models.items()}
    out: dict[str, list[float]] = {name: [] for name in models}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one request, one thread: as a server answers them, and comparable between the two
    try:
        _timed_rounds(models, example, repeats, count, out, clock)
    finally:
        torch.set_num_threads(threads)  # a worker process trains its next seed with its own threads
    for name, model in models.items():
        model.train(modes[name])
    return out


def _timed_rounds(
    models: dict[str, nn.Module], example: torch.Tensor, repeats: int, count: int, out: dict[str, list[float]], clock
) -> None:
    with torch.inference_mode():
        for model in models.values():
            model.eval()
        calls = {name: (lambda model=model: model(example)) for name, model in models.items()}
        for name, seconds in call_rounds(calls, repeats, count, clock).items():
            out[name] += seconds


def call_rounds(
    calls: dict[str, Callable[[], object]],
    repeats: int = REPEATS,
    count: int = ROUNDS,
    clock=time.thread_time,
    warm_up: int = WARM_UP,
) -> dict[str, list[float]]:
    """CPU seconds per call of each callable, per round: ``warm_up`` calls each first, then ``count`` rounds in
    which the callables take turns, each called ``repeats`` times.  The same rounds time a PyTorch model here and
    an onnxruntime session in kd_core.deploy.measure (one thread: the work runs in the calling thread, so its CPU
    time is what the model costs)."""
    out: dict[str, list[float]] = {name: [] for name in calls}
    for call in calls.values():
        for _ in range(warm_up):
            call()
    for _ in range(count):
        for name, call in calls.items():
            started = clock()
            for _ in range(repeats):
                call()
            out[name].append((clock() - started) / repeats)
    return out


@dataclass(frozen=True)
class Spread:
    """The median of some measurements with their least and greatest."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: list[float]) -> "Spread":
        return cls(statistics.median(values), min(values), max(values))


def speed_ups(timings: dict[str, list[float]]) -> Spread | None:
    """Teacher time over student time, round by round (the two timed at the same moments); None without rounds."""
    teacher, student = timings.get("teacher") or [], timings.get("student") or []
    ratios = [t / s for t, s in zip(teacher, student) if s > 0]
    return Spread.of(ratios) if ratios else None


def microseconds(spread: Spread) -> str:
    """``180 µs (150–240)``: the median per image, and the range over the rounds."""
    return f"{1e6 * spread.median:.0f} µs ({1e6 * spread.low:.0f}–{1e6 * spread.high:.0f})"


def times(spread: Spread) -> str:
    """``2.9× (2.1–3.4)``."""
    return f"{spread.median:.1f}× ({spread.low:.1f}–{spread.high:.1f})"
