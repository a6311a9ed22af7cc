"""dashboard.jobs.runner: the background runner behind the dashboard (no Streamlit involved)."""

from __future__ import annotations

import threading

import pytest

from dashboard.jobs import runner as jobs


def wait_for(predicate, timeout: float = 60.0) -> None:
    done = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if predicate():
            return
        done.wait(0.01)
    raise AssertionError("condition not reached")


def test_a_job_reports_events_and_its_result():
    def fn(on_event, stop):
        for i in range(3):
            on_event(i)
        return "done"

    job = jobs.start_job(fn, name="count")
    assert job.join(10)
    snap = job.snapshot()
    assert (snap.status, snap.events, snap.result, snap.error) == (jobs.COMPLETED, [0, 1, 2], "done", None)
    assert snap.finished and snap.started_at is not None and snap.finished_at >= snap.started_at


def test_stop_ends_a_running_job_as_cancelled_and_keeps_its_events():
    def fn(on_event, stop):
        on_event("first")
        stop.wait(10)
        return "partial"

    job = jobs.start_job(fn)
    wait_for(lambda: job.snapshot().events)
    job.stop(wait=5)
    snap = job.snapshot()
    assert snap.status == jobs.CANCELLED and snap.events == ["first"] and snap.result == "partial"


def test_an_exception_becomes_one_readable_line():
    def fn(on_event, stop):
        on_event("before")
        raise ValueError("the loss went to infinity\n  and a second line")

    job = jobs.start_job(fn)
    job.join(10)
    snap = job.snapshot()
    assert snap.status == jobs.FAILED
    assert snap.error == "the loss went to infinity" and snap.error_type == "ValueError"
    assert snap.events == ["before"]


def test_extra_jobs_wait_in_a_fifo_queue(monkeypatch):
    monkeypatch.setattr(jobs, "MAX_CONCURRENT", 1)
    release = threading.Event()
    order: list[str] = []

    def blocker(name):
        def fn(on_event, stop):
            order.append(name)
            release.wait(10)

        return fn

    first = jobs.start_job(blocker("first"))
    wait_for(lambda: first.snapshot().status == jobs.RUNNING)
    second, third, fourth = (jobs.start_job(blocker(n)) for n in ("second", "third", "fourth"))
    wait_for(lambda: fourth.snapshot().queue_position == 3)
    assert [j.snapshot().queue_position for j in (second, third, fourth)] == [1, 2, 3]
    assert first.snapshot().queue_position is None

    third.stop(wait=5)  # leaving the queue: cancelled without ever running
    assert third.snapshot().status == jobs.CANCELLED and third.snapshot().started_at is None
    wait_for(lambda: fourth.snapshot().queue_position == 2)

    release.set()
    for job in (first, second, fourth):
        assert job.join(10)
    assert order == ["first", "second", "fourth"]
    assert jobs._scheduler.running == 0  # every slot handed back


@pytest.mark.parametrize("limit", [2])
def test_up_to_the_limit_run_at_once(monkeypatch, limit):
    monkeypatch.setattr(jobs, "MAX_CONCURRENT", limit)
    release = threading.Event()
    started = [jobs.start_job(lambda on_event, stop: release.wait(10)) for _ in range(limit + 1)]
    wait_for(lambda: sum(j.snapshot().status == jobs.RUNNING for j in started) == limit)
    assert started[-1].snapshot().status == jobs.QUEUED
    release.set()
    assert all(j.join(10) for j in started)


def test_extra_slots_take_only_free_slots_never_wait_and_leave_queued_jobs_first(monkeypatch):
    monkeypatch.setattr(jobs, "MAX_CONCURRENT", 3)
    seen, release = {}, threading.Event()

    def greedy(on_event, stop):
        with jobs.extra_slots(5) as more:
            seen["more"] = more
            release.wait(10)
        with jobs.extra_slots(5) as again:  # given back at the end of the block: free again
            seen["again"] = again

    job = jobs.start_job(greedy)
    wait_for(lambda: "more" in seen)
    assert seen["more"] == 2  # 3 slots, one its own: it took the 2 free ones, not 5
    blocked = jobs.start_job(lambda on_event, stop: "ran")  # every slot is taken: this one queues
    wait_for(lambda: blocked.snapshot().status == jobs.QUEUED)
    release.set()
    assert job.join(10) and blocked.join(10) and blocked.result == "ran"
    assert seen["again"] in (0, 1, 2)
    with jobs.extra_slots(3) as outside:  # outside a job it takes nothing
        assert outside == 0


def test_extra_slots_leave_a_queued_job_its_turn(monkeypatch):
    monkeypatch.setattr(jobs, "MAX_CONCURRENT", 2)
    seen, hold = {}, threading.Event()
    first = jobs.start_job(lambda on_event, stop: hold.wait(10))
    wait_for(lambda: first.snapshot().status == jobs.RUNNING)
    monkeypatch.setattr(jobs, "MAX_CONCURRENT", 1)  # now full: the next job queues behind it

    def greedy(on_event, stop):
        with jobs.extra_slots(3) as more:
            seen["more"] = more

    second = jobs.start_job(greedy)
    third = jobs.start_job(lambda on_event, stop: None)
    wait_for(lambda: third.snapshot().status == jobs.QUEUED)
    monkeypatch.setattr(jobs, "MAX_CONCURRENT", 2)
    hold.set()
    assert first.join(10) and second.join(10) and third.join(10)
    assert seen["more"] in (0, 1)  # never more than what was free, and nothing while the third waited
