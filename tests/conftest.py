"""Shared test set-up: one teacher cache for the whole session, so each teacher trains once."""
from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def shared_teacher_cache(tmp_path_factory) -> str:
    """Point KD_CACHE_DIR (read by kd_core.cache.default_cache_dir) at a per-session temp folder."""
    folder = str(tmp_path_factory.mktemp("teacher-cache"))
    previous = os.environ.get("KD_CACHE_DIR")
    os.environ["KD_CACHE_DIR"] = folder
    yield folder
    if previous is None:
        os.environ.pop("KD_CACHE_DIR", None)
    else:
        os.environ["KD_CACHE_DIR"] = previous
