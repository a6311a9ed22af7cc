"""Shared test set-up: one torch thread (as every tool defaults to), one teacher cache for the whole session, one
dashboard server for the browser tests, and a fresh page in AppTest (``app``)."""

from __future__ import annotations

import os

import pytest
import torch
from app_support import APP, main_job
from streamlit.testing.v1 import AppTest

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


@pytest.fixture(scope="session")
def shared_dashboard(tmp_path_factory):
    """One dashboard server for every browser test that needs no empty cache and no environment of its own, started
    on first use and stopped at the end of the run (the first page load imports torch: ~10 s saved per module).

    Its KD_CACHE_DIR is a temporary folder of its own (not the session's teacher cache above), so what it holds is
    only what the browser tests asked of it.  Tests on it must not depend on each other's order: a test that needs
    "nothing trained yet" starts its own server (browser_support.own_dashboard) or uses settings no other test uses.
    Yields a benchmarks.loadtest_server.DashboardServer (``.url``, ``.cache_dir``)."""
    from browser_support import own_dashboard, require_browser

    require_browser()
    with own_dashboard(tmp_path_factory.mktemp("shared-dashboard")) as server:
        yield server


@pytest.fixture
def app():
    """A fresh page in AppTest (streamlit.testing), its sidebar job stopped afterwards."""
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception, at.exception
    yield at
    job = main_job(at)
    if job is not None:  # never leak a worker into the next test
        job.stop(wait=30)


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray of 2 CPUs for the module that asks for it (skipped only where Ray is not installed)."""
    ray = pytest.importorskip("ray")
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False)
    yield ray
    if started:
        ray.shutdown()
