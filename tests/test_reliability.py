"""Classroom reliability below the browser: start/stop cycles, many sessions at once, the results cache.

Results are deterministic for the same config, seed and torch thread count, so every check compares
against a solo run computed in this process with the dashboard's setting (one torch thread).
"""

from __future__ import annotations

import gc
import os
import threading
import warnings
import weakref
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.jobs import runner as jobs
from dashboard.runs import distill as runs
from kd_core import ResultCache, RunConfig, TeacherCache, run, validate
from kd_core.runs import served
from kd_core.runs.setup import load

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
QUICK = RunConfig(teacher_epochs=2, epochs=2, seed=7)  # about a second on digits


@pytest.fixture(autouse=True)
def nothing_remembered():
    """Every test trains what it compares (tests/conftest.py sets one torch thread, as the dashboard does)."""
    forget_results()
    yield
    forget_results()


def forget_results() -> None:
    """Empty the in-memory layer of the results cache, as a server restart would (the disk cache stays)."""
    served.forget_all()


def job_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("job-") and t.is_alive()]


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def wait_until(predicate, timeout: float = 60.0) -> None:
    pause = threading.Event()
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return
        pause.wait(0.02)
    raise AssertionError("condition not reached")


def same_report(a, b) -> None:
    """Two RunResults with the same numbers: every accuracy, per-class accuracy, agreement and epoch."""
    assert (a.teacher, a.student, a.baseline) == (b.teacher, b.student, b.baseline)
    assert a.history == b.history


# ---------------------------------------------------------------- one session, ten start/stop cycles


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="RSS is read from /proc (Linux)")
def test_ten_start_stop_cycles_leave_no_threads_and_flat_memory():
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.slider(key="teacher_epochs").set_value(100).run()  # long enough to be stopped mid-run
    at.slider(key="epochs").set_value(50).run()
    finished, rss = [], []
    for cycle in range(10):
        at.slider(key="seed").set_value(cycle % 3).run()  # teachers train, then come from the cache
        at.button(key="distill").click().run()
        job = at.session_state["jobs"]["main"]
        enough = 5 * (cycle + 1)  # stop a little later each time
        wait_until(lambda job=job, enough=enough: len(job.snapshot().events) > enough)
        at.button(key="stop").click().run()
        assert job.done and job.snapshot().status == "cancelled", job.snapshot().status
        assert not at.exception and not at.error
        assert any("stopped" in w.value for w in at.warning)
        assert not at.button(key="distill").disabled and at.button(key="stop").disabled
        finished.append(weakref.ref(job))
        gc.collect()
        rss.append(rss_bytes())
    at.run()
    assert job_threads() == [] and jobs._scheduler.running == 0
    del job
    gc.collect()
    alive = [ref for ref in finished if ref() is not None]
    assert len(alive) <= 1, "finished jobs are kept alive"  # the last one is still the session's job
    history = at.session_state["history"]
    assert [row["status"] for row in history] == ["cancelled"] * 10
    growth = rss[-1] - rss[1]  # after a warm-up cycle (first teacher trained, allocator pools filled)
    print(
        f"\nRSS over 10 start/stop cycles: {rss[0] / 2**20:.0f} MiB after the first, {rss[-1] / 2**20:.0f} MiB "
        f"after the last (growth after warm-up {growth / 2**20:+.1f} MiB)"
    )
    assert growth < 64 * 2**20, [f"{r / 2**20:.0f}" for r in rss]


# ---------------------------------------------------------------- many sessions at once


def distill_job(config: RunConfig, teachers: TeacherCache, results: ResultCache | None) -> jobs.Job:
    return jobs.start_job(
        lambda on_event, stop: runs.distill(config, teachers, on_event, stop, results), name="distill"
    )


@pytest.mark.slow
def test_ten_concurrent_sessions_each_get_their_solo_result(monkeypatch, tmp_path):
    inside, most = [0], [0]
    lock, real_run = threading.Lock(), served.train

    def counted_run(config, *args, **kwargs):  # how many trainings run at once
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        try:
            return real_run(config, *args, **kwargs)
        finally:
            with lock:
                inside[0] -= 1

    monkeypatch.setattr(served, "train", counted_run)
    teachers = TeacherCache(tmp_path / "teachers")
    configs = [
        QUICK.replace(temperature=t, lam=lam, seed=seed)
        for seed, (t, lam) in zip(
            (7, 7, 7, 7, 7, 8, 8, 8, 9, 9, 9, 9),
            [
                (1.0, 0.5),
                (2.0, 0.5),
                (3.0, 0.9),
                (4.0, 0.7),
                (6.0, 0.3),
                (2.0, 0.5),
                (8.0, 1.0),
                (12.0, 0.7),
                (4.0, 0.0),
                (4.0, 0.7),
                (16.0, 0.7),
                (20.0, 0.2),
            ],
        )
    ]
    assert len(set(c.run_key() for c in configs)) == len(configs) == 12

    # Twelve sessions click Distill while every trainer is busy: each is shown its place in the queue.
    monkeypatch.setattr(jobs, "MAX_CONCURRENT", 0)
    started = [distill_job(c, teachers, ResultCache(tmp_path / "results")) for c in configs]
    wait_until(lambda: sorted(j.snapshot().queue_position or 0 for j in started) == list(range(1, 13)))
    monkeypatch.setattr(jobs, "MAX_CONCURRENT", 2)  # two trainers free up: two run, ten wait
    jobs._scheduler.wake()
    assert all(j.join(300) for j in started)
    assert most[0] == 2, f"{most[0]} trainings ran at once"
    assert job_threads() == [] and jobs._scheduler.running == 0

    for config, job in zip(configs, started):
        snap = job.snapshot()
        assert snap.status == jobs.COMPLETED, snap.error
        outcome = snap.result
        assert outcome.result.config == load(config)[0]  # its own settings, resolved
        assert (outcome.result.config.teacher, outcome.result.config.student) == ("mlp-large", "mlp-small")
        assert not outcome.result.from_results_cache
        solo = run(config, cache=TeacherCache(tmp_path / "solo-teachers"))  # trained alone, nothing shared
        same_report(outcome.result, solo)
        np.testing.assert_array_equal(
            outcome.student_logits, served.test_logits(solo.models["student"], runs.load_data("digits"))
        )
        # This session's live charts show its own run only: its epoch events are its own history.
        epochs = [e for e in snap.events if e.kind == "epoch" and e.phase != "teacher"]
        assert [(e.phase, e.epoch, e.test_accuracy) for e in epochs] == [
            (r.phase, r.epoch, r.test_accuracy) for r in solo.history if r.phase != "teacher"
        ]


@pytest.mark.slow
def test_identical_requests_train_once_and_wait_for_the_first(monkeypatch, tmp_path):
    monkeypatch.setattr(jobs, "MAX_CONCURRENT", 2)
    trained = []
    real_run = served.train  # the training, in its worker process

    def counting_run(config, *args, **kwargs):
        result = real_run(config, *args, **kwargs)
        trained.append(result.from_results_cache)
        return result

    monkeypatch.setattr(served, "train", counting_run)
    teachers, results = TeacherCache(tmp_path / "teachers"), ResultCache(tmp_path / "results")
    config = QUICK.replace(seed=11)
    classroom = [distill_job(config, teachers, results) for _ in range(8)]
    assert all(j.join(300) for j in classroom)
    outcomes = [j.snapshot().result for j in classroom]
    assert trained == [False], "identical requests trained more than once"
    assert sum(not o.result.from_results_cache for o in outcomes) == 1
    for outcome in outcomes:
        same_report(outcome.result, outcomes[0].result)
        np.testing.assert_array_equal(outcome.student_logits, outcomes[0].student_logits)
    # Every session still sees the whole curve: the cached runs replay their per-epoch history.
    for job in classroom:
        accuracies = [e.test_accuracy for e in job.snapshot().events if e.kind == "epoch"]
        assert accuracies == [r.test_accuracy for r in outcomes[0].result.history]

    # The server restarts (memory empty): the disk cache serves it, without a single training step.
    forget_results()
    again = distill_job(config, teachers, results)
    assert again.join(60)
    snap = again.snapshot()
    assert snap.result.result.from_results_cache and trained == [False, True]
    steps = [e for e in snap.events if e.kind == "step"]
    assert steps and all(e.replayed for e in steps)  # replayed from the stored steps, none trained
    same_report(snap.result.result, outcomes[0].result)


def test_a_request_waiting_for_an_identical_run_can_be_stopped(monkeypatch, tmp_path):
    monkeypatch.setattr(jobs, "MAX_CONCURRENT", 2)
    release, entered = threading.Event(), threading.Event()

    def slow_run(config, *args, **kwargs):
        entered.set()
        release.wait(30)
        return real_run(config, *args, **kwargs)

    real_run = served.train  # the training, in its worker process
    monkeypatch.setattr(served, "train", slow_run)
    teachers = TeacherCache(tmp_path / "teachers")
    config = QUICK.replace(seed=12)
    first = distill_job(config, teachers, None)
    assert entered.wait(30)
    second = distill_job(config, teachers, None)  # waits for the first one's lock, without a slot
    wait_until(lambda: second.snapshot().status == jobs.RUNNING)
    second.stop(wait=5)
    assert second.done and second.snapshot().status == jobs.CANCELLED
    assert second.snapshot().result.result.status == "cancelled"
    release.set()
    assert first.join(120) and first.snapshot().status == jobs.COMPLETED


def test_a_request_waiting_for_an_identical_run_leaves_its_trainer_slot_to_others(monkeypatch, tmp_path):
    monkeypatch.setattr(jobs, "MAX_CONCURRENT", 2)
    started, release = [], threading.Event()

    def slow_run(config, *args, **kwargs):
        started.append(config.seed)
        release.wait(30)
        return real_run(config, *args, **kwargs)

    real_run = served.train  # the training, in its worker process
    monkeypatch.setattr(served, "train", slow_run)
    teachers = TeacherCache(tmp_path / "teachers")
    first = distill_job(QUICK.replace(seed=13), teachers, None)
    wait_until(lambda: started == [13])
    twin = distill_job(QUICK.replace(seed=13), teachers, None)  # the same settings: it waits for the first
    wait_until(lambda: twin.snapshot().status == jobs.RUNNING)
    other = distill_job(QUICK.replace(seed=14), teachers, None)  # trains on the slot the twin left free
    wait_until(lambda: started == [13, 14])
    assert jobs._scheduler.running == 2
    release.set()
    assert all(job.join(120) for job in (first, twin, other))
    assert twin.snapshot().result.result.from_results_cache and started == [13, 14]
    same_report(twin.snapshot().result.result, first.snapshot().result.result)
    assert jobs._scheduler.running == 0


def test_a_corrupt_result_file_is_rebuilt_with_a_warning(tmp_path):
    teachers, folder = TeacherCache(tmp_path / "teachers"), tmp_path / "results"
    config = QUICK.replace(seed=13)
    first = runs.distill(config, teachers, None, threading.Event(), ResultCache(folder))
    forget_results()
    (path,) = folder.glob("result-*.pt")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # truncated, as by a crash mid-copy
    with pytest.warns(UserWarning, match="corrupt"):
        rebuilt = runs.distill(config, teachers, None, threading.Event(), ResultCache(folder))
    assert not rebuilt.result.from_results_cache  # trained again, and equal
    same_report(rebuilt.result, first.result)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the rewritten file is whole
        assert ResultCache(folder).get(validate(config).run_key()) is not None
