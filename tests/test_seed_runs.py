"""dashboard.runs.seeds: Distill over several seeds, in worker processes, as many at once as trainer slots are
free; a first report of fewer seeds when the whole one cannot keep the promise (no Streamlit)."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
from test_jobs import wait_for

from dashboard.jobs import runner as jobs
from dashboard.jobs.progress import Pace, SeedEvent
from dashboard.runs import distill as runs
from dashboard.runs import seeds as seed_runs
from kd_core import ResultCache, RunConfig, TeacherCache, run
from kd_core.runs import served
from kd_core.train.records import PhaseReport, ProgressEvent, RunResult

TINY = RunConfig(teacher_epochs=1, epochs=1, student_fraction=0.05, seed=11)


def distill_in_a_job(config: RunConfig, seeds: int, cache: TeacherCache) -> jobs.Job:
    job = jobs.start_job(lambda on_event, stop: seed_runs.distill_seeds(config, seeds, cache, on_event, stop))
    assert job.join(300), "the job did not finish"
    assert job.status == jobs.COMPLETED, job.error
    return job


@pytest.mark.slow
def test_seeds_train_in_parallel_on_free_cores_give_the_solo_numbers_and_are_then_cached(monkeypatch, tmp_path):
    monkeypatch.setattr(jobs, "MAX_CONCURRENT", 3)
    cache = TeacherCache(tmp_path / "teachers")
    job = distill_in_a_job(TINY, 3, cache)
    outcome: seed_runs.SeedsOutcome = job.result
    assert outcome.parallel == 3 and outcome.status == "completed"
    assert [o.result.config.seed for o in outcome.outcomes] == [11, 12, 13]
    assert {e.seed for e in job.events if isinstance(e, SeedEvent)} == {11, 12, 13}
    assert outcome.first.latency_seconds and outcome.first.student_logits is not None  # the report and the bars
    for o in outcome.outcomes:  # worker processes give the numbers of the same run trained alone, here
        solo = run(o.result.config, cache=TeacherCache(tmp_path / "solo"))
        assert (o.result.student.accuracy, o.result.baseline.accuracy) == (
            solo.student.accuracy,
            solo.baseline.accuracy,
        )
    assert outcome.interval.n == 3 and outcome.interval.low is not None
    again = distill_in_a_job(TINY, 3, cache)  # the same click again: from memory, nothing trains
    assert all(o.result.from_results_cache for o in again.result.outcomes)
    steps = [e.event for e in again.events if e.event.kind == "step"]
    assert steps and all(e.replayed for e in steps)  # the loss chart is redrawn from the stored steps
    assert len([e for e in again.events if e.seed == 11]) > 3  # the others: one event per phase, "done"
    for seed in (12, 13):
        replayed = [e.event for e in again.events if e.seed == seed]
        assert sorted(e.phase for e in replayed) == ["baseline", "student", "teacher"]


def test_without_another_free_trainer_the_seeds_train_one_after_another_in_one_worker_process(monkeypatch, tmp_path):
    import kd_core.runs.seeds

    monkeypatch.setattr(jobs, "MAX_CONCURRENT", 1)
    calls = []
    monkeypatch.setattr(runs, "distill", lambda *args, **options: calls.append(args))

    def not_here(*args, **kwargs):  # the fork server's workers import kd_core afresh: this replaces nothing there
        raise AssertionError("a seed trained in the server's own process")

    monkeypatch.setattr(kd_core.runs.seeds, "run", not_here)
    job = distill_in_a_job(TINY.replace(seed=21), 2, TeacherCache(tmp_path / "teachers"))
    assert calls == [] and job.result.parallel == 1 and job.result.status == "completed"
    assert [o.result.config.seed for o in job.result.outcomes] == [21, 22]
    assert {e.seed for e in job.events if isinstance(e, SeedEvent)} == {21, 22}


def test_one_seed_trains_in_a_worker_process(monkeypatch, tmp_path):
    import kd_core.runs.seeds

    monkeypatch.setattr(kd_core.runs.seeds, "run", lambda *a, **k: (_ for _ in ()).throw(AssertionError("in-process")))
    monkeypatch.setattr(served, "run", lambda *a, **k: (_ for _ in ()).throw(AssertionError("in-process")))
    job = distill_in_a_job(TINY.replace(seed=31), 1, TeacherCache(tmp_path / "teachers"))
    (outcome,) = job.result.outcomes
    solo = run(TINY.replace(seed=31), cache=TeacherCache(tmp_path / "solo"))
    assert (outcome.result.student.accuracy, outcome.result.baseline.accuracy) == (
        solo.student.accuracy,
        solo.baseline.accuracy,
    )
    assert outcome.latency_seconds and outcome.student_logits is not None


# ---------------------------------------------------------------- which seeds when: trainings replaced by fakes


def fake_outcome(config: RunConfig) -> served.DistillOutcome:
    """A completed run of ``config`` with its logits and latency, as the report needs them (nothing trained)."""
    gain = 0.01 * (config.seed % 5)
    report = lambda accuracy: PhaseReport(accuracy, [accuracy] * 10, 1, 4)  # noqa: E731
    result = RunResult(config, "completed", report(0.9), report(0.8 + gain), report(0.8))
    return served.DistillOutcome(result, np.zeros((1, 10)), np.zeros((1, 10)), {"teacher": 1e-3, "student": 1e-4})


class FakeTrainings:
    """In place of served.train_seeds and runs.distill: each call is recorded as (job name, seeds, workers) and
    takes ``seconds``; its runs are then remembered, as the real ones are."""

    def __init__(self, seconds: float = 0.05):
        self.calls: list[tuple[str, list[int], int]] = []
        self.seconds = seconds
        self.lock = threading.Lock()

    def finish(self, configs, workers, on_seed_event=None):
        job = jobs._this_job()
        with self.lock:
            self.calls.append((job.name if job else "", [c.seed for c in configs], workers))
        threading.Event().wait(self.seconds)
        out = {}
        for c in configs:
            if on_seed_event is not None:
                on_seed_event(c.seed, ProgressEvent("student", "step", 1, 1, 10, 10, 1.0, at=1.0))
            out[c.seed] = fake_outcome(c)
            served.remember(seed_runs.load(c)[0].run_key(), out[c.seed])
        return out

    def install(self, monkeypatch):
        def train_seeds(configs, workers, cache, results, on_seed_event, stop, first=None):
            return self.finish(configs, workers, on_seed_event)

        def distill(config, cache, on_event, stop, results=None):
            return self.finish([config], 1)[config.seed]

        monkeypatch.setattr(served, "train_seeds", train_seeds)
        monkeypatch.setattr(runs, "distill", distill)


@pytest.fixture
def fakes(monkeypatch, tmp_path):
    served.forget_all()
    trainings = FakeTrainings()
    trainings.install(monkeypatch)
    results = ResultCache(tmp_path / "results")
    yield trainings, TeacherCache(tmp_path / "teachers"), results
    served.forget_all()


def distill_job(config, seeds, cache, results, name=""):
    keys = seed_runs.run_keys(config, seeds)
    return jobs.start_job(
        lambda on_event, stop: seed_runs.distill_seeds(config, seeds, cache, on_event, stop, results),
        name=name,
        meta={"run_keys": keys},
        slot=seed_runs.needs_a_slot(keys, results),
    )


def test_the_seeds_share_the_cores_as_kd_train_does_whatever_the_load_average(fakes, monkeypatch):
    """The issue: the page trained seeds in parallel only on idle cores (from the load average), so on a machine
    doing anything else they ran one by one (hinton-mnist: 647 s and 1,213 s at load 3-9).  kd-train runs a
    lesson's seeds on every core; so does the page, as far as its trainer slots go."""
    trainings, cache, results = fakes
    monkeypatch.setattr(jobs, "MAX_CONCURRENT", 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (9.0, 9.0, 9.0))
    job = distill_job(TINY.replace(seed=300), 3, cache, results)
    assert job.join(30) and job.status == jobs.COMPLETED, job.error
    assert trainings.calls == [("", [300, 301, 302], 2)] and job.result.parallel == 2
    pace = next(e.event for e in job.events if isinstance(e.event, Pace))  # the ETA's measured start
    assert pace.parallel == 2 and pace.slowdown > 1  # a busy machine: every step slower, and the ETA says so
    assert set(pace.step_seconds) == {"teacher", "student", "baseline"}
    assert seed_runs.idle_cores() == 2  # what the estimate divides by: the seeds that train at once


def test_a_busy_class_gets_a_first_report_of_three_seeds_and_the_rest_after_the_others_first_reports(
    fakes, monkeypatch
):
    trainings, cache, results = fakes
    monkeypatch.setattr(jobs, "MAX_CONCURRENT", 1)
    trainings.seconds = 0.3
    first = distill_job(TINY.replace(seed=400), 8, cache, results, name="first")
    wait_for(lambda: trainings.calls)  # it trains; a classmate with other settings clicks meanwhile
    other = distill_job(TINY.replace(seed=500, temperature=2.0), 8, cache, results, name="other")
    assert first.join(60) and other.join(60), (first.error, other.error)
    assert [(name, seeds) for name, seeds, _ in trainings.calls] == [
        ("first", [400, 401, 402]),
        ("other", [500, 501, 502]),  # the classmate's first report before the rest of the first one
        ("first", [403, 404, 405, 406, 407]),
        ("other", [503, 504, 505, 506, 507]),
    ]
    so_far = first.snapshot().so_far
    assert [o.result.config.seed for o in so_far.outcomes] == [400, 401, 402] and so_far.pending == 5
    assert so_far.so_far_line.startswith("3 of 8 seeds so far — the rest are training")
    assert so_far.status == "completed" and so_far.interval.n == 3  # its own seeds' interval, said to be 3
    whole = first.result
    assert whole.status == "completed" and len(whole.outcomes) == 8 and whole.pending == 0 and not whole.so_far_line


def test_a_quiet_server_reports_all_seeds_at_once(fakes, monkeypatch):
    trainings, cache, results = fakes
    monkeypatch.setattr(jobs, "MAX_CONCURRENT", 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    job = distill_job(TINY.replace(seed=600), 8, cache, results)
    assert job.join(30) and job.status == jobs.COMPLETED, job.error
    assert job.snapshot().so_far is None and len(job.result.outcomes) == 8
    assert [seeds for _, seeds, _ in trainings.calls] == [[600, 601, 602], [603, 604, 605, 606, 607]]


def test_an_identical_request_shows_the_same_first_report_while_the_rest_train(fakes, monkeypatch):
    trainings, cache, results = fakes
    monkeypatch.setattr(jobs, "MAX_CONCURRENT", 1)
    trainings.seconds = 0.3
    config = TINY.replace(seed=700)
    first = distill_job(config, 8, cache, results, name="first")
    wait_for(lambda: trainings.calls)
    same = distill_job(config, 8, cache, results, name="same")  # needs no slot: it waits for the first
    other = distill_job(TINY.replace(seed=800, temperature=2.0), 8, cache, results, name="other")  # queued
    wait_for(lambda: same.snapshot().so_far is not None)
    assert not first.done and [o.result.config.seed for o in same.snapshot().so_far.outcomes] == [700, 701, 702]
    assert all(o.result.from_results_cache for o in same.snapshot().so_far.outcomes)
    assert first.join(60) and same.join(60) and other.join(60)
    assert "same" not in {name for name, _, _ in trainings.calls}
    assert len(same.result.outcomes) == 8 and same.result.pending == 0


def test_only_the_first_seeds_replayed_curves_reach_the_page():
    events = []
    relay = seed_runs._relay(events.append, first=0)
    replayed = [ProgressEvent(phase, "step", 1, 1, i, 0, 1.0) for phase in ("teacher", "student") for i in (1, 2, 3)]
    trained = ProgressEvent("baseline", "step", 1, 1, 5, 10, 1.0, at=2.0)
    for seed in (0, 1):
        for event in replayed + [trained]:
            relay(seed, event)
    assert len([e for e in events if e.seed == 0]) == 7
    assert [(e.event.phase, e.event.step) for e in events if e.seed == 1] == [
        ("teacher", 1),
        ("student", 1),
        ("baseline", 5),
    ]


@pytest.mark.slow
def test_a_teacher_trained_for_one_browser_is_never_trained_again_for_another(monkeypatch, tmp_path):
    """Two classmates at two temperatures share every seed's teacher and baseline: each is trained once, by
    whichever job gets to it first; the other waits for it (the cache's claim) and loads it."""
    monkeypatch.setattr(jobs, "MAX_CONCURRENT", 2)
    served.forget_all()
    cache, results = TeacherCache(tmp_path / "teachers"), ResultCache(tmp_path / "results")
    pair = [distill_job(TINY.replace(seed=900, temperature=t), 3, cache, results, name=f"T{t}") for t in (4.0, 2.0)]
    assert all(job.join(300) for job in pair) and all(job.status == jobs.COMPLETED for job in pair)
    trained: dict[tuple[int, str], int] = {}
    for job in pair:
        streams = {(e.seed, e.event.phase) for e in job.events if isinstance(e.event, ProgressEvent)}
        for seed, phase in streams:
            if any(e.seed == seed and e.event.phase == phase and not e.event.replayed for e in job.events):
                trained[seed, phase] = trained.get((seed, phase), 0) + 1
    assert {key: n for key, n in trained.items() if key[1] in ("teacher", "baseline")} == {
        (seed, phase): 1 for seed in (900, 901, 902) for phase in ("teacher", "baseline")
    }
    assert [trained[seed, "student"] for seed in (900, 901, 902)] == [2, 2, 2]  # one KD student per temperature
