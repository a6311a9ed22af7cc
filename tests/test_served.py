"""kd_core.runs.served without the page: a finished run served again from memory with its logits and latency, one
run per key at a time, and the memo emptied as a server restart would."""

from __future__ import annotations

import threading
from contextlib import contextmanager

import numpy as np
import pytest

from kd_core import ResultCache, RunConfig, TeacherCache, load_dataset
from kd_core.runs import served
from kd_core.runs.setup import load

QUICK = RunConfig(teacher_epochs=1, epochs=1, student_fraction=0.2, seed=5)


@pytest.fixture(autouse=True)
def nothing_remembered():
    served.forget_all()
    yield
    served.forget_all()


def test_an_identical_request_is_served_from_memory_with_its_logits_and_latency():
    teachers, results = TeacherCache(on_disk=False), ResultCache(on_disk=False)  # in memory: trained in this process
    stop = threading.Event()
    first = served.distill(QUICK, teachers, None, stop, results)
    assert first.result.status == "completed" and not first.result.from_results_cache
    assert first.has_measurements and set(first.latency_seconds) == {"teacher", "student"}
    dataset = load_dataset("digits")
    assert first.student_logits.shape == (len(dataset.y_test), 10)
    key = load(QUICK)[0].run_key()
    assert served.finished(key) and served.remembered(key) is not None
    events = []
    again = served.distill(QUICK, teachers, events.append, stop, results)
    assert again.result.from_results_cache and events  # replayed: the charts draw it as a fresh run
    np.testing.assert_array_equal(again.student_logits, first.student_logits)
    served.forget_all()
    assert not served.finished(key) and served.remembered(key) is None


def test_a_run_key_is_held_by_one_request_at_a_time_and_a_stopped_waiter_gets_false():
    notes = []

    @contextmanager
    def waiting():
        notes.append("waiting")
        yield

    turns = served.Turns(waiting=waiting)
    lock = served.try_lock("some-key")
    assert lock is not None and served.try_lock("some-key") is None
    stop, acquired = threading.Event(), []
    stop.set()
    with served.one_run_per_key("some-key", stop, turns) as got:  # held elsewhere: waits (in turns), is stopped
        acquired.append(got)
    lock.release()
    with served.one_run_per_key("some-key", threading.Event(), turns) as got:  # free: no wait
        acquired.append(got)
    assert acquired == [False, True] and notes == ["waiting"]


def test_a_teacher_is_found_as_soon_as_another_process_caches_it(tmp_path):
    """``cached_teacher`` and ``cached_teacher_logits`` look in the cache folder each time: None while it lacks the
    teacher, the teacher once another cache object on the same folder (another server, kd-train) has stored it."""
    from kd_core import RunSetup, validate

    config = RunConfig(teacher_epochs=1, seed=7)
    page, trainer = TeacherCache(tmp_path), TeacherCache(tmp_path)  # two processes' views of one folder
    dataset = load_dataset("digits")
    assert served.cached_teacher(config, page) is None
    assert served.cached_teacher_logits(config, dataset, page) is None
    trained = RunSetup(validate(config)).teacher(trainer).model
    found = served.cached_teacher(config, page)
    assert found is not None and not found.training
    logits = served.cached_teacher_logits(config, dataset, page)
    np.testing.assert_array_equal(logits, served.test_logits(trained, dataset))
