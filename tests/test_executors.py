"""Executors: the same seeds give the very same numbers in this process, in local worker processes and on Ray;
events and the stop flag cross the process boundary; errors come back as themselves; no worker is left behind."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import threading
import time
from collections import defaultdict

import pytest
import torch

from kd_core.config import RunConfig
from kd_core.execution.executors import InProcess, LocalProcesses, RayCluster, WorkerDied
from kd_core.runs.cache import TeacherCache
from kd_core.runs.seeds import run_seeds
from kd_core.studies.sweeps import sweep
from kd_core.train.loop import Diverged

CONFIG = RunConfig(teacher_epochs=3, epochs=2)
SEEDS = 3


@pytest.fixture(params=["local", pytest.param("ray", marks=pytest.mark.slow)])
def executor(request):
    if request.param == "ray":
        request.getfixturevalue("ray_cluster")
        return RayCluster(jobs=2)
    return LocalProcesses(jobs=2)


def recorder():
    events: dict[int, list] = defaultdict(list)
    return events, lambda seed, event: events[seed].append(event)


def comparable(result) -> list[dict]:
    """Everything a run reports but its timings and whether the teacher or baseline came from the cache."""
    skip = ("seconds", "teacher_from_cache", "baseline_from_cache")
    return [{k: v for k, v in run.to_json().items() if k not in skip} for run in result.runs]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The seeds, and a small sweep, in this process: what every executor must reproduce bit for bit."""
    events, on_event = recorder()
    seeds = run_seeds(
        CONFIG, SEEDS, on_event, cache=TeacherCache(tmp_path_factory.mktemp("teachers")), executor=InProcess()
    )
    rows = sweep(
        "temperature",
        [1, 4],
        [0, 1],
        CONFIG,
        cache=TeacherCache(tmp_path_factory.mktemp("sweep")),
        executor=InProcess(),
    )
    return seeds, dict(events), rows


def test_seeds_give_identical_results_and_every_event(executor, reference, tmp_path):
    expected, expected_events, _ = reference
    events, on_event = recorder()
    # A fresh cache shared by the workers: the teachers train in the workers too.
    result = run_seeds(CONFIG, SEEDS, on_event, cache=TeacherCache(tmp_path), executor=executor)
    assert result.status == "completed"
    assert [r.config.seed for r in result.runs] == [0, 1, 2]
    assert comparable(result) == comparable(expected)  # accuracies, per-class accuracies, every history row
    for mine, theirs in zip(result.runs, expected.runs):
        assert (mine.student.accuracy, mine.baseline.accuracy) == (theirs.student.accuracy, theirs.baseline.accuracy)
    # Every seed's step and epoch events came back from its worker, in order, the same as in this process.
    assert sorted(events) == [0, 1, 2]
    for seed, seen in events.items():
        for phase in ("teacher", "student", "baseline"):
            mine = [e for e in seen if e.phase == phase]
            assert {e.kind for e in mine} == {"step", "epoch"}, (seed, phase)
            assert [e.epoch for e in mine if e.kind == "epoch"] == list(range(1, mine[0].epochs + 1))
            assert max(e.step for e in mine) == mine[0].steps
        for phase in ("teacher", "student", "baseline"):  # each phase's events as in this process; the
            # baseline's may come before the KD student's (ahead_of_seeds trains it in a task of its own)
            assert [e for e in seen if e.phase == phase] == [e for e in expected_events[seed] if e.phase == phase]


class _SeedsFirst:
    """Two "workers" that start the tasks in the reverse order, as Ray may: each seed trains its own teacher and
    baseline, and their tasks only find them cached."""

    jobs = 2

    def map(self, task, items, on_event=None, stop=None):
        results = [None] * len(items)
        for i in reversed(range(len(items))):
            results[i] = task(items[i], None if on_event is None else (lambda e, i=i: on_event(i, e)), stop)
        return results


def test_whichever_task_trains_a_part_reports_it_once(reference, tmp_path):
    """Seeds started before their teachers' and baselines' tasks report the same trained events as in order:
    the part's task finds it cached and its replay is dropped, not passed on instead of the training."""
    _, expected_events, _ = reference
    events, on_event = recorder()
    run_seeds(CONFIG, SEEDS, on_event, cache=TeacherCache(tmp_path), executor=_SeedsFirst())
    for seed in range(SEEDS):
        for phase in ("teacher", "student", "baseline"):
            mine = [e for e in events[seed] if e.phase == phase]
            assert mine and not any(e.replayed for e in mine), (seed, phase)
            assert mine == [e for e in expected_events[seed] if e.phase == phase]


def test_teachers_and_baselines_are_handed_out_ahead_of_the_seeds(tmp_path):
    """With two workers and a disk cache, each teacher and then each scratch baseline still to train gets a task
    of its own ahead of the seeds, so the last round is one student rather than a whole seed alone; not with one
    worker, not for parts kept in memory or already trained, and no baseline task for a run without one."""
    from kd_core.runs.seeds import SeedTask, ahead_of_seeds
    from kd_core.runs.setup import RunSetup

    cache = TeacherCache(tmp_path)
    tasks = [SeedTask(CONFIG.replace(seed=seed), str(tmp_path), None) for seed in range(3)]
    shape = lambda items: [(t.config.seed, t.part, t.ahead) for t in items]  # noqa: E731
    both = ("teacher", "baseline")
    assert shape(ahead_of_seeds(tasks, jobs=2)) == [
        (0, "teacher", ()),
        (1, "teacher", ()),
        (2, "teacher", ()),
        (0, "baseline", ()),
        (1, "baseline", ()),
        (2, "baseline", ()),
        (0, "run", both),
        (1, "run", both),
        (2, "run", both),
    ]
    assert ahead_of_seeds(tasks, jobs=1) == tasks
    in_memory = [SeedTask(t.config, None, None) for t in tasks]
    assert ahead_of_seeds(in_memory, jobs=2) == in_memory
    no_baseline = [SeedTask(t.config.replace(baseline=False), str(tmp_path), None) for t in tasks]
    assert [t.part for t in ahead_of_seeds(no_baseline, jobs=2)] == ["teacher"] * 3 + ["run"] * 3
    setup = RunSetup(CONFIG.replace(seed=1))
    setup.teacher(cache)
    setup.baseline_into(cache)
    assert shape(ahead_of_seeds(tasks, jobs=2)) == [
        (0, "teacher", ()),
        (2, "teacher", ()),
        (0, "baseline", ()),
        (2, "baseline", ()),
        (0, "run", both),
        (1, "run", ()),
        (2, "run", both),
    ]


def test_a_baseline_trained_ahead_is_the_one_its_run_would_train(tmp_path):
    """baseline_into trains, without the teacher, the very scratch student the seed's run would train itself."""
    from kd_core.runs.pipeline import run
    from kd_core.runs.setup import RunSetup

    alone = run(CONFIG, cache=TeacherCache(tmp_path / "alone"))
    cache = TeacherCache(tmp_path / "ahead")
    RunSetup(CONFIG).baseline_into(cache)
    assert not any(cache.folder.glob("teacher-*.pt"))  # no teacher was needed
    ahead = run(CONFIG, cache=cache)
    assert ahead.baseline_from_cache and not alone.baseline_from_cache
    assert ahead.baseline.to_dict() == alone.baseline.to_dict()
    for a, b in zip(ahead.models["baseline"].parameters(), alone.models["baseline"].parameters()):
        assert torch.equal(a, b)


def test_sweep_gives_identical_rows(executor, reference, tmp_path):
    _, _, expected = reference
    rows = sweep("temperature", [1, 4], [0, 1], CONFIG, cache=TeacherCache(tmp_path), executor=executor)
    assert len(rows) == 4
    assert rows == expected


def test_an_in_process_sweep_keeps_no_set_up_after_it_ends(reference, tmp_path):
    """Each worker keeps the set-up (teacher, its logits) of the seed it trains; in this process, not past the sweep."""
    from kd_core.studies import sweeps

    _, _, expected = reference
    assert sweep("temperature", [1, 4], [0, 1], CONFIG, cache=TeacherCache(tmp_path), executor=InProcess()) == expected
    assert getattr(sweeps._local, "setup", None) is None


def test_a_set_stop_ends_the_map_early(executor, reference, tmp_path):
    stop = threading.Event()
    steps = []

    def on_event(seed, event):
        if event.kind == "step":
            steps.append(seed)
            stop.set()  # at the first step any worker reports

    started = time.monotonic()
    # 300 student epochs would take minutes; the stop must end every seed within a step or two.
    result = run_seeds(
        RunConfig(teacher_epochs=3, epochs=300), SEEDS, on_event, stop, cache=TeacherCache(tmp_path), executor=executor
    )
    assert steps, "no step event arrived"
    assert result.status == "cancelled"
    assert [r.status for r in result.runs] == ["cancelled"] * SEEDS
    assert time.monotonic() - started < 60


def test_diverged_in_a_worker_reaches_the_caller_with_its_fields(executor, tmp_path):
    """Both seeds diverge; whichever worker reports first stops the other, so the error is one of the two seeds'
    own, field for field, as it is in this process."""
    config = RunConfig(teacher_epochs=3, epochs=2, lr=10.0)
    expected = {}
    for seed in (0, 1):
        with pytest.raises(Diverged) as here:
            run_seeds(config.replace(seed=seed), 1, cache=TeacherCache(tmp_path / "here"), executor=InProcess())
        expected[str(here.value)] = here.value
    with pytest.raises(Diverged) as there:
        run_seeds(config, 2, cache=TeacherCache(tmp_path / "there"), executor=executor)
    error = there.value
    assert type(error) is Diverged and str(error) in expected
    same = expected[str(error)]
    assert (error.phase, error.epoch, error.step, error.lr, error.loss) == (
        same.phase,
        same.epoch,
        same.step,
        10.0,
        same.loss,
    )


# ---- local worker processes: nothing left behind ------------------------------------------------------


def fork_server_children() -> list[int]:
    """Worker processes: children of the fork server (which itself stays, to fork the next map's workers)."""
    from multiprocessing import forkserver

    server = getattr(forkserver._forkserver, "_forkserver_pid", None)
    if server is None:
        return []
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(server)], capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split()]


def sleep_or_die(item, on_event, stop):
    """A task: item 1 kills its own worker; the others wait for the stop flag (at most 30 s)."""
    if item == "die":
        time.sleep(0.3)
        os.kill(os.getpid(), signal.SIGKILL)
    on_event(item)
    deadline = time.monotonic() + 30
    while not stop.is_set() and time.monotonic() < deadline:
        time.sleep(0.01)
    return item


def no_workers_left() -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if not multiprocessing.active_children() and not fork_server_children():
            return True
        time.sleep(0.05)
    return False


def test_no_worker_outlives_a_map(tmp_path):
    executor = LocalProcesses(jobs=2)
    result = run_seeds(CONFIG, 2, cache=TeacherCache(tmp_path), executor=executor)
    assert result.status == "completed"
    assert no_workers_left()


def test_a_dead_worker_is_one_clear_error_and_leaves_nothing_behind():
    seen = []
    started = time.monotonic()
    with pytest.raises(WorkerDied) as info:
        LocalProcesses(jobs=2).map(sleep_or_die, ["wait", "die", "wait"], lambda i, e: seen.append(e))
    message = str(info.value)
    assert "\n" not in message and "SIGKILL" in message and "sleep_or_die" in message, message
    assert time.monotonic() - started < 25  # the waiting task was stopped, not waited out
    assert no_workers_left()


def test_an_error_in_the_callback_stops_the_workers():
    def on_event(index, event):
        raise KeyboardInterrupt  # as Ctrl-C would, inside the map's loop

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        LocalProcesses(jobs=2).map(sleep_or_die, ["wait", "wait"], on_event)
    assert time.monotonic() - started < 25
    assert no_workers_left()


def test_workers_never_run_the_callers_main_script(tmp_path, monkeypatch):
    """A Streamlit page or an AppTest script is the caller's ``__main__``, replaced at every rerun from another
    thread: a worker forked from the fork server must not run it (an AppTest script dies there, and its job with it)."""
    import sys
    import types

    from kd_core.execution import local_processes

    marker = tmp_path / "ran"
    script = tmp_path / "page.py"
    script.write_text(f"open({str(marker)!r}, 'w').close()\nraise SystemExit(3)\n")
    page = types.ModuleType("__main__")
    page.__file__ = str(script)  # no __spec__: as Streamlit's script runner leaves it
    monkeypatch.setitem(sys.modules, "__main__", page)
    monkeypatch.setattr(local_processes, "_fork_now", lambda: None)  # the fork server even if this process is alone
    assert LocalProcesses(jobs=2).map(sleep_or_die, ["a", "b"], stop=_set_flag()) == ["a", "b"]
    assert not marker.exists()


def _set_flag():
    flag = threading.Event()
    flag.set()
    return flag
