"""Shared test set-up: one torch thread (as every tool defaults to), one teacher cache for the whole session."""

from __future__ import annotations

import os

import pytest
import torch

# Results are bit-for-bit deterministic for a fixed thread count, and with several threads a busy machine can
# change how work is split (and so the last bits). kd-train, kd-sweep and the dashboard all use one thread;
# so do the tests, whatever order they run in.
torch.set_num_threads(1)


@pytest.fixture(scope="session", autouse=True)
def shared_teacher_cache(tmp_path_factory) -> str:
    """Point KD_CACHE_DIR (read by kd_core.runs.cache.default_cache_dir) at a per-session temp folder."""
    folder = str(tmp_path_factory.mktemp("teacher-cache"))
    previous = os.environ.get("KD_CACHE_DIR")
    os.environ["KD_CACHE_DIR"] = folder
    yield folder
    if previous is None:
        os.environ.pop("KD_CACHE_DIR", None)
    else:
        os.environ["KD_CACHE_DIR"] = previous
