"""Latency per image: teacher and student timed in alternating rounds, the speed-up with its range."""

from __future__ import annotations

import time

import pytest
import torch
from torch import nn

from kd_core.models import latency


class Recorder(nn.Module):
    def __init__(self, name: str, log: list):
        super().__init__()
        self.name, self.log = name, log
        self.layer = nn.Linear(4, 2)

    def forward(self, x):
        self.log.append(self.name)
        return self.layer(x)


def test_the_two_models_take_turns_so_a_busy_moment_slows_both():
    log: list[str] = []
    models = {"teacher": Recorder("teacher", log), "student": Recorder("student", log)}
    timed = latency.rounds(models, torch.zeros(3, 4), repeats=2, count=3)
    assert [len(v) for v in timed.values()] == [3, 3]
    timed_calls = log[2 * latency.WARM_UP :]
    assert timed_calls == ["teacher", "teacher", "student", "student"] * 3  # round by round, not all teacher first
    assert all(m.training for m in models.values())  # back in training mode, as they were


def test_the_speed_up_is_paired_by_round_and_shown_with_its_range():
    timed = {"teacher": [300e-6, 200e-6, 260e-6], "student": [100e-6, 100e-6, 80e-6]}
    spread = latency.speed_ups(timed)
    assert (spread.median, spread.low, spread.high) == pytest.approx((3.0, 2.0, 3.25))
    assert latency.times(spread) == "3.0× (2.0–3.2)"
    assert latency.microseconds(latency.Spread.of(timed["teacher"])) == "260 µs (200–300)"
    assert latency.speed_ups({}) is None


class Waiting(nn.Module):
    """A model whose every pass also waits 1 ms without using the CPU: like a pass held up by a busy server."""

    def forward(self, x):
        time.sleep(0.001)
        return x


def test_the_time_per_image_is_the_models_cost_not_the_wait():
    waited = latency.rounds({"teacher": Waiting(), "student": Waiting()}, torch.zeros(1, 4), repeats=3, count=2)
    wall = latency.rounds(
        {"teacher": Waiting(), "student": Waiting()}, torch.zeros(1, 4), repeats=3, count=2, clock=time.perf_counter
    )
    assert min(wall["teacher"]) >= 0.001  # what a wall clock reports: the wait
    assert max(waited["teacher"]) < 0.0005  # CPU time: the pass itself
