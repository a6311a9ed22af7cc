"""A run served from a cache draws what the fresh run drew: its stored per-step losses are replayed as step
events (at most MAX_STORED_STEPS per phase, at their own step numbers), and the report says where it came from."""

from __future__ import annotations

import threading

import pytest
import torch

from kd_core import ProgressEvent, ResultCache, RunConfig, TeacherCache, run
from kd_core.train.records import MAX_STORED_STEPS, StepRecord, StepRecorder

CONFIG = RunConfig(teacher_epochs=2, epochs=2, seed=7)
PHASES = ("teacher", "student", "baseline")


def steps_of(events: list[ProgressEvent], phase: str) -> list[ProgressEvent]:
    return [e for e in events if e.kind == "step" and e.phase == phase]


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """One run trained now, its events and the folder whose teacher and results caches now hold it."""
    folder = tmp_path_factory.mktemp("cached-steps")
    events: list[ProgressEvent] = []
    result = run(CONFIG, on_event=events.append, cache=TeacherCache(folder), results=ResultCache(folder))
    return result, events, folder


def test_a_long_phase_stores_every_kth_step_at_most_500_and_passes_every_event_on():
    seen = []
    recorder = StepRecorder(seen.append)
    total = 3 * MAX_STORED_STEPS + 7
    for i in range(1, total + 1):
        recorder(ProgressEvent("teacher", "step", 1, 1, i, total, 1.0 / i, {}))
    recorder(ProgressEvent("teacher", "epoch", 1, 1, total, total, 0.5, {}, 0.9))
    assert len(seen) == total + 1  # the page still sees every step
    kept = [row.step for row in recorder.steps]
    assert 0 < len(kept) <= MAX_STORED_STEPS and kept[0] == 1  # the first, highest loss is kept
    stride = kept[1] - kept[0]
    assert kept == list(range(1, total + 1, stride))  # evenly spaced: the x axis of the fresh run
    assert recorder.steps[2].loss == 1.0 / kept[2]  # the step's own loss, not a mean


def test_fresh_run_stores_its_steps_in_json_and_keeps_every_old_key(fresh):
    result, events, _ = fresh
    out = result.to_json()
    assert {"config", "status", "teacher", "student", "baseline", "history", "seconds", "teacher_from_cache"} < set(out)
    assert [StepRecord.from_dict(row) for row in out["steps"]] == result.steps
    for phase in PHASES:
        stored = [(r.step, r.loss, r.parts) for r in result.steps if r.phase == phase]
        trained = [(e.step, e.loss, e.parts) for e in steps_of(events, phase)]
        assert stored and stored == trained[: len(stored)]  # a phase this short keeps every step
    student = next(r for r in result.steps if r.phase == "student")
    assert set(student.to_dict()) == {"phase", "epoch", "step", "loss", "soft_loss", "hard_loss"}


def test_a_run_from_the_results_cache_replays_every_phase_like_the_fresh_run(fresh):
    first, trained, folder = fresh
    events: list[ProgressEvent] = []
    second = run(CONFIG, on_event=events.append, cache=TeacherCache(folder), results=ResultCache(folder))
    assert second.from_results_cache and second.steps == first.steps
    assert second.seconds == first.seconds and sum(second.seconds.values()) > 0  # the original training time
    for phase in PHASES:
        replayed = steps_of(events, phase)
        assert 0 < len(replayed) <= MAX_STORED_STEPS and all(e.replayed for e in replayed)
        assert [(e.step, e.loss, e.parts) for e in replayed] == [
            (e.step, e.loss, e.parts) for e in steps_of(trained, phase)
        ]
    # In the fresh run's order: each epoch's steps, then its end; teacher, student, baseline.
    assert [(e.phase, e.kind, e.epoch) for e in events] == [(e.phase, e.kind, e.epoch) for e in trained]


def test_a_cached_teacher_replays_its_steps_before_the_students_train(fresh):
    first, _, folder = fresh
    events: list[ProgressEvent] = []
    other = run(CONFIG.replace(temperature=8.0), on_event=events.append, cache=TeacherCache(folder))  # same teacher
    assert other.teacher_from_cache
    teacher = steps_of(events, "teacher")
    assert teacher and all(e.replayed for e in teacher)
    assert [(e.step, e.loss) for e in teacher] == [(r.step, r.loss) for r in first.steps if r.phase == "teacher"]
    assert events.index(teacher[-1]) < events.index(steps_of(events, "student")[0])
    assert not any(e.replayed for e in steps_of(events, "student"))  # the students train now
    assert other.seconds["teacher"] == first.seconds["teacher"]


def strip_steps(path, where) -> None:
    """Make a cache file look like one written before steps were stored (the checksum covers the weights only)."""
    entry = torch.load(path, weights_only=True)
    where(entry["meta"]).pop("steps")
    torch.save(entry, path)


def test_cache_entries_older_than_stored_steps_still_load_and_replay_their_epochs(tmp_path):
    config = CONFIG.replace(seed=8)
    first = run(config, cache=TeacherCache(tmp_path), results=ResultCache(tmp_path))
    (teacher_file,) = tmp_path.glob("teacher-*.pt")
    (result_file,) = tmp_path.glob("result-*.pt")
    strip_steps(teacher_file, lambda meta: meta)
    strip_steps(result_file, lambda meta: meta["result"])
    events: list[ProgressEvent] = []
    again = run(config, on_event=events.append, cache=TeacherCache(tmp_path), results=ResultCache(tmp_path))
    assert again.from_results_cache and again.student == first.student and again.steps == []
    assert not [e for e in events if e.kind == "step"]
    assert [(e.phase, e.epoch) for e in events] == [(r.phase, r.epoch) for r in first.history]
    events.clear()
    teacher_only = run(config.replace(temperature=2.0), on_event=events.append, cache=TeacherCache(tmp_path))
    assert teacher_only.teacher_from_cache and not steps_of(events, "teacher")
    assert [e.epoch for e in events if e.phase == "teacher"] == [1, 2]
    assert steps_of(events, "student")  # trained now, drawn live


def test_the_dashboards_memory_of_finished_runs_replays_steps_too(tmp_path):
    from dashboard.runs import distill as runs

    config = CONFIG.replace(seed=9)
    stop = threading.Event()
    first = runs.distill(config, TeacherCache(tmp_path), lambda event: None, stop, ResultCache(tmp_path))
    events: list[ProgressEvent] = []
    again = runs.distill(config, TeacherCache(tmp_path), events.append, stop, ResultCache(tmp_path))
    assert again.result.from_results_cache
    for phase in PHASES:
        replayed = steps_of(events, phase)
        assert replayed and [(e.step, e.loss) for e in replayed] == [
            (r.step, r.loss) for r in first.result.steps if r.phase == phase
        ]


def test_the_report_of_a_cached_run_says_so_and_gives_the_original_training_time(fresh):
    import dataclasses

    from dashboard.report import summary as report
    from dashboard.runs.seeds import SeedsOutcome
    from kd_core.runs.served import DistillOutcome

    result = fresh[0]
    trained = SeedsOutcome(CONFIG, [DistillOutcome(result, None, None, {})])
    assert report.cache_note(trained) == ""
    served = dataclasses.replace(result, from_results_cache=True)
    cached = SeedsOutcome(CONFIG, [DistillOutcome(served, None, None, {})])
    original = sum(result.seconds.values())
    assert report.trained_seconds(cached) == pytest.approx(original) and original > 0.05
    note = report.cache_note(cached)
    assert "served from the results cache" in note and f"trained before in {original:.1f} s" in note
    two = SeedsOutcome(CONFIG, [DistillOutcome(served, None, None, {})] * 2)
    assert report.cache_note(two).endswith("s per seed.")
