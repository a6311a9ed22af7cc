"""dashboard.runs.seeds: Distill over several seeds, in worker processes where cores are free (no Streamlit)."""

from __future__ import annotations

import pytest

from dashboard.jobs import runner as jobs
from dashboard.jobs.progress import SeedEvent
from dashboard.runs import distill as runs
from dashboard.runs import seeds as seed_runs
from kd_core import RunConfig, TeacherCache, run
from kd_core.runs import served

TINY = RunConfig(teacher_epochs=1, epochs=1, student_fraction=0.05, seed=11)


def distill_in_a_job(config: RunConfig, seeds: int, cache: TeacherCache) -> jobs.Job:
    job = jobs.start_job(lambda on_event, stop: seed_runs.distill_seeds(config, seeds, cache, on_event, stop))
    assert job.join(300), "the job did not finish"
    assert job.status == jobs.COMPLETED, job.error
    return job


@pytest.mark.slow
def test_seeds_train_in_parallel_on_free_cores_give_the_solo_numbers_and_are_then_cached(monkeypatch, tmp_path):
    monkeypatch.setattr(jobs, "MAX_CONCURRENT", 3)
    monkeypatch.setattr(seed_runs, "idle_cores", lambda: 2)
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


def test_without_idle_cores_the_seeds_train_one_after_another_in_one_worker_process(monkeypatch, tmp_path):
    import kd_core.runs.seeds

    monkeypatch.setattr(seed_runs, "idle_cores", lambda: 0)
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
