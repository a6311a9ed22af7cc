"""Jobs that wait without a trainer slot: an identical request, a job whose teachers another run is training, and
the live view's slow polling while a job waits (the load test's causes; no browser, no server)."""

from __future__ import annotations

import threading

import pytest
from test_jobs import wait_for

from dashboard.jobs import runner as jobs
from dashboard.page import job_panel
from dashboard.runs import distill as runs
from dashboard.runs import seeds as seed_runs
from kd_core import ResultCache, RunConfig, TeacherCache

TINY = RunConfig(teacher_epochs=1, epochs=1, student_fraction=0.05, seed=51)


def test_a_job_without_a_slot_starts_at_once_and_queues_only_for_its_training(monkeypatch):
    monkeypatch.setattr(jobs, "MAX_CONCURRENT", 1)
    hold, seen = threading.Event(), {}
    busy = jobs.start_job(lambda on_event, stop: hold.wait(10))
    wait_for(lambda: busy.snapshot().status == jobs.RUNNING)

    def patient(on_event, stop):
        with jobs.waiting_for("waiting for a classmate"):
            seen["waited"] = True
        with jobs.trainer_slot() as slot:
            seen["slot"] = slot
        return "done"

    job = jobs.start_job(patient, slot=False)
    wait_for(lambda: "waited" in seen)
    assert job.snapshot().status in (jobs.RUNNING, jobs.QUEUED)
    wait_for(lambda: job.snapshot().queue_position == 1)  # its training queues like any other job
    assert job.snapshot().status == jobs.QUEUED
    hold.set()
    assert job.join(10) and job.result == "done" and seen["slot"] is True
    assert jobs._scheduler.running == 0


def test_waiting_for_hands_the_slot_to_the_next_job_and_shows_its_note(monkeypatch):
    monkeypatch.setattr(jobs, "MAX_CONCURRENT", 1)
    release, noted = threading.Event(), {}

    def waiting(on_event, stop):
        with jobs.waiting_for("the same run is training"):
            release.wait(10)

    first = jobs.start_job(waiting)
    wait_for(lambda: first.snapshot().waiting == "the same run is training")
    second = jobs.start_job(lambda on_event, stop: noted.setdefault("ran", True))
    assert second.join(10) and noted["ran"]  # it did not wait for the first job's slot
    release.set()
    assert first.join(10) and first.snapshot().waiting is None and jobs._scheduler.running == 0


def test_a_stopped_job_queued_for_its_training_slot_is_cancelled(monkeypatch):
    monkeypatch.setattr(jobs, "MAX_CONCURRENT", 0)

    def needs_a_trainer(on_event, stop):
        with jobs.trainer_slot() as slot:
            return slot

    job = jobs.start_job(needs_a_trainer, slot=False)
    wait_for(lambda: job.snapshot().queue_position == 1)
    job.stop(wait=5)
    assert job.done and job.snapshot().status == jobs.CANCELLED and jobs._scheduler.running == 0


@pytest.mark.slow
def test_an_identical_request_never_takes_a_slot_and_gets_the_first_ones_result(monkeypatch, tmp_path):
    monkeypatch.setattr(jobs, "MAX_CONCURRENT", 1)
    teachers, results = TeacherCache(tmp_path / "teachers"), ResultCache(tmp_path / "results")
    acquired, real_acquire = [], jobs._scheduler.acquire
    monkeypatch.setattr(jobs._scheduler, "acquire", lambda job: acquired.append(job.name) or real_acquire(job))
    keys = seed_runs.run_keys(TINY, 2)
    assert seed_runs.needs_a_slot(keys, results)  # nobody asked for these yet

    def distill(on_event, stop):
        return seed_runs.distill_seeds(TINY, 2, teachers, on_event, stop, results)

    first = jobs.start_job(distill, name="first", meta={"run_keys": keys})
    assert not seed_runs.needs_a_slot(keys, results)  # the first job asks for them: the same click needs no slot
    same = jobs.start_job(distill, name="same", meta={"run_keys": keys}, slot=False)
    wait_for(lambda: same.snapshot().waiting == runs.SAME_RUN or same.done)
    assert first.join(300) and same.join(300)
    assert first.snapshot().status == same.snapshot().status == jobs.COMPLETED, (first.error, same.error)
    assert "same" not in acquired
    ours, theirs = first.result.outcomes, same.result.outcomes
    assert all(o.result.from_results_cache for o in theirs) and not any(o.result.from_results_cache for o in ours)
    assert [o.result.student.accuracy for o in ours] == [o.result.student.accuracy for o in theirs]
    assert not seed_runs.needs_a_slot(keys, results)  # finished: served at once from now on


def test_a_queued_jobs_view_polls_slowly_and_draws_only_its_status(monkeypatch):
    monkeypatch.setattr(jobs, "MAX_CONCURRENT", 0)
    everies, drawn = [], []

    def fragment(run_every=None):
        everies.append(run_every)
        return lambda fn: fn

    queued = jobs.start_job(lambda on_event, stop: None, meta={"what": "Distillation"})
    monkeypatch.setattr(job_panel.st, "fragment", fragment)
    monkeypatch.setattr(job_panel, "state", {})
    monkeypatch.setattr(job_panel, "all_jobs", lambda: {"main": queued})
    try:
        job_panel.live("main", drawn.append)
        assert everies == [job_panel.SLOW_POLL_SECONDS] and drawn == []  # a queued job has nothing to chart
    finally:
        queued.stop(wait=5)
    running = jobs.start_job(lambda on_event, stop: stop.wait(10), slot=False)
    monkeypatch.setattr(job_panel, "all_jobs", lambda: {"main": running})
    try:
        wait_for(lambda: running.snapshot().status == jobs.RUNNING)
        job_panel.live("main", drawn.append)
        assert everies[-1] == job_panel.POLL_SECONDS and len(drawn) == 1
    finally:
        running.stop(wait=5)


def test_a_job_sharing_teachers_with_an_earlier_one_trains_them_from_the_far_end(tmp_path):
    cache = TeacherCache(tmp_path / "teachers")
    configs = seed_runs.seed_configs(TINY.replace(seed=60), 4)
    keys = seed_runs.teacher_keys(TINY.replace(seed=60), 4)
    cache.path(keys[2]).write_bytes(b"")  # seed 62's teacher is cached: it goes first
    hold = threading.Event()
    earlier = jobs.start_job(lambda on_event, stop: hold.wait(10), slot=False, meta={"teacher_keys": keys})
    order = lambda: [c.seed for c in seed_runs._teacher_order(configs, cache, threading.Event())]  # noqa: E731
    try:
        later = jobs.start_job(lambda on_event, stop: order(), slot=False)
        assert later.join(10) and later.result == [62, 63, 61, 60]
    finally:
        hold.set()
    assert earlier.join(10)
    alone = jobs.start_job(lambda on_event, stop: order(), slot=False)  # nobody else wants them: in seed order
    assert alone.join(10) and alone.result == [62, 60, 61, 63]
