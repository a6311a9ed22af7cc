"""Inference latency per image (a batch of one), teacher and student timed in alternating rounds, with its spread.

On a shared two-core server one number moves from run to run (the speed-up of the same two models read 1.7× to
3.8×): whatever else runs on the machine slows whichever model is being timed just then.  Timing the two models
in alternating rounds exposes both to the same moments, and the report shows the median with the range over the
rounds, not one number as if it were exact.  No Streamlit here.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import torch
from torch import nn

ROUNDS = 7
REPEATS = 100  # forward passes per round
WARM_UP = 20  # first calls allocate


def rounds(models: dict[str, nn.Module], example: torch.Tensor, repeats: int = REPEATS,
           count: int = ROUNDS) -> dict[str, list[float]]:
    """Seconds per forward pass on one image, per round, for each model; the models take turns round by round."""
    example = example[:1]
    modes = {name: model.training for name, model in models.items()}
    out: dict[str, list[float]] = {name: [] for name in models}
    with torch.inference_mode():
        for model in models.values():
            model.eval()
            for _ in range(WARM_UP):
                model(example)
        for _ in range(count):
            for name, model in models.items():
                started = time.perf_counter()
                for _ in range(repeats):
                    model(example)
                out[name].append((time.perf_counter() - started) / repeats)
    for name, model in models.items():
        model.train(modes[name])
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
