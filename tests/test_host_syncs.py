"""The training loop never waits on a GPU per step: reads of device values are batched.

On a GPU every read of a tensor's value on the host (``item``, ``tolist``, ``float(t)``, ``if t``…) waits for all
queued kernels.  Counting those calls made by kd_core over a CPU run shows what a GPU run would do.  Not counted:
torch's own (Adam keeps its step counter on the CPU, where reading it costs no sync) and cache.py's (saving a
trained model copies its weights to the host once, by nature).
"""

from __future__ import annotations

import math
import sys

import pytest
import torch

from kd_core import RunConfig, TeacherCache, run

SYNCING = ("item", "tolist", "__float__", "__int__", "__bool__", "__index__", "numpy", "cpu")


@pytest.fixture
def sync_counter(monkeypatch):
    counts = {"calls": 0}
    for name in SYNCING:
        original = getattr(torch.Tensor, name)

        def counted(self, *args, _original=original, **kwargs):
            caller = sys._getframe(1).f_code.co_filename.replace("\\", "/")
            if "/kd_core/" in caller and not caller.endswith("/cache.py"):
                counts["calls"] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)
    return counts


def test_a_digits_run_reads_back_at_most_once_per_ten_steps_plus_once_per_epoch(sync_counter, tmp_path):
    config = RunConfig(teacher_epochs=6, epochs=5, device="cpu")
    events = []
    result = run(config, on_event=events.append, cache=TeacherCache(tmp_path))
    assert result.status == "completed"
    steps = sum(1 for e in events if e.kind == "step")
    epochs = sum(1 for e in events if e.kind == "epoch")
    per_step_events = [e.step for e in events if e.kind == "step" and e.phase == "student"]
    assert per_step_events == list(range(1, len(per_step_events) + 1))  # still every step, in order
    # One-off reads per run: the three evaluations, and the class list of the student's data.
    one_off = 4
    assert sync_counter["calls"] <= math.ceil(steps / 10) + epochs + one_off, (sync_counter["calls"], steps, epochs)
