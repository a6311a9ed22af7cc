"""Two dashboard replicas on this machine sharing one KD_CACHE_DIR, each driven by kd-loadtest's websocket client
(a browser tab's messages, no browser): a run finished on A is served from the cache on B, and the same run
asked for on both at once is trained once, with no entry corrupted.  Small runs: one seed, few epochs."""

from __future__ import annotations

import asyncio
import warnings

import pytest

from benchmarks.loadtest_server import dashboard_server
from benchmarks.streamlit_client import DISTILL_LABEL, StreamlitClient
from kd_core import ResultCache, TeacherCache

pytestmark = pytest.mark.slow
# Slider key -> value: one seed, few epochs, so each run takes a second or two.
SMALL = {"seeds": 1, "epochs": 2, "teacher_epochs": 3}
TIMEOUT = 180.0


async def distill(url: str, seed: int) -> dict:
    """One tab: open the page, set the small settings and the seed, click Distill, wait for the report."""
    async with StreamlitClient(url) as tab:
        await tab.load(TIMEOUT)
        for key, value in {**SMALL, "seed": seed}.items():
            await tab.set_slider(key, value, TIMEOUT)
        await tab.click(DISTILL_LABEL)
        page = tab.page

        def reported():
            if page.errors():
                raise AssertionError(page.errors()[0])
            return page.report()

        accuracies = await tab.wait_for(reported, TIMEOUT)
        return {"accuracies": accuracies, "from_cache": page.from_cache()}


@pytest.fixture(scope="module")
def replicas(tmp_path_factory):
    """Two servers, one cache folder."""
    folder = tmp_path_factory.mktemp("shared-cache")
    logs = tmp_path_factory.mktemp("logs")
    with dashboard_server(folder, logs / "a.log") as a, dashboard_server(folder, logs / "b.log") as b:
        asyncio.run(warm(a.url, b.url))  # the first script run imports torch
        yield a.url, b.url, folder


async def warm(*urls: str) -> None:
    async def one(url: str) -> None:
        async with StreamlitClient(url) as tab:
            await tab.load(TIMEOUT)

    await asyncio.gather(*(one(url) for url in urls))


def entries_intact(folder) -> tuple[int, int]:
    """(results, teachers) in the folder, after checking that every one loads with its checksum and no file
    was left half-written."""
    assert not list(folder.glob("*.tmp")) and not list(folder.glob(".*.tmp"))
    counts = []
    for cache, kind in ((ResultCache(folder), "result"), (TeacherCache(folder), "teacher")):
        files = sorted(folder.glob(f"{kind}-*.pt"))
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a corrupt entry warns before it is removed
            assert all(cache.get(f.stem.split("-", 1)[1]) is not None for f in files)
        counts.append(len(files))
    return counts[0], counts[1]


def test_a_run_finished_on_one_replica_is_served_from_the_cache_on_the_other(replicas):
    a, b, folder = replicas
    first = asyncio.run(distill(a, seed=11))
    assert first["from_cache"] is False
    second = asyncio.run(distill(b, seed=11))
    assert second["from_cache"] is True
    assert second["accuracies"] == first["accuracies"]
    assert entries_intact(folder) == (1, 1)


def test_the_same_run_asked_on_both_at_once_is_trained_once(replicas):
    a, b, folder = replicas
    results_before, teachers_before = entries_intact(folder)

    async def both():
        return await asyncio.gather(distill(a, seed=23), distill(b, seed=23))

    one, other = asyncio.run(both())
    assert one["accuracies"] == other["accuracies"]
    assert sorted([one["from_cache"], other["from_cache"]]) == [False, True]  # one trained, the other waited and loaded
    assert entries_intact(folder) == (results_before + 1, teachers_before + 1)
