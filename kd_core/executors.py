"""Where trainings run: in this process, in local worker processes, or on a Ray cluster — one interface.

    executor = make_executor("local", jobs=2)
    results = executor.map(task, items, on_event, stop)     # [task(item, on_event, stop) for item in items]

A task is a module-level function ``task(item, on_event, stop) -> result`` (picklable, so it can run
elsewhere).  Its progress events come back to ``on_event(index, event)`` in this process, from whichever
worker runs it; a set ``stop`` reaches every worker.  Every worker runs torch with the same number of
threads as this process asks for, so a seed gives the same numbers whichever executor ran it.
"""
from __future__ import annotations

import multiprocessing
import os
import queue
import threading
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from typing import Any, Callable, Literal, Protocol, Sequence

import torch

from .records import StopFlag

Task = Callable[[Any, Callable[[Any], None], StopFlag], Any]
IndexedCallback = Callable[[int, Any], None]
EXECUTORS = ("local", "ray")


class Executor(Protocol):
    jobs: int

    def map(self, task: Task, items: Sequence, on_event: IndexedCallback | None = None,
            stop: StopFlag | None = None) -> list: ...


class InProcess:
    """One item after another, in this process (``jobs=1``; also what a single item needs)."""

    jobs = 1

    def map(self, task: Task, items: Sequence, on_event: IndexedCallback | None = None, stop: StopFlag | None = None) -> list:
        return [task(item, _indexed(on_event, i), stop) for i, item in enumerate(items)]


def _indexed(on_event: IndexedCallback | None, index: int) -> Callable[[Any], None] | None:
    return None if on_event is None else (lambda event: on_event(index, event))


# ---- local worker processes ------------------------------------------------------------------------

_worker: dict[str, Any] = {}  # in a worker process: its event queue and the shared stop flag


def _start_worker(events, stop, threads: int) -> None:
    torch.set_num_threads(threads)
    _worker.update(events=events, stop=stop)


def _run_in_worker(task: Task, index: int, item: Any) -> Any:
    events = _worker["events"]
    return task(item, lambda event: events.put((index, event)), _worker["stop"])


class LocalProcesses:
    """Up to ``jobs`` worker processes on this machine, started per ``map`` from a fork server that has kd_core
    imported already (a worker starts in a fraction of a second instead of importing torch again)."""

    def __init__(self, jobs: int | None = None, threads: int | None = None):
        self.jobs = max(1, jobs or os.cpu_count() or 1)
        self.threads = threads or torch.get_num_threads()

    def map(self, task: Task, items: Sequence, on_event: IndexedCallback | None = None, stop: StopFlag | None = None) -> list:
        items = list(items)
        workers = min(self.jobs, len(items))
        if workers <= 1:
            return InProcess().map(task, items, on_event, stop)
        context = _context()
        events, shared_stop = context.Queue(), context.Event()
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                                 initargs=(events, shared_stop, self.threads)) as pool:
            futures = [pool.submit(_run_in_worker, task, i, item) for i, item in enumerate(items)]
            pending = set(futures)
            while pending:
                _, pending = wait(pending, timeout=0.05, return_when=FIRST_EXCEPTION)
                _drain(events, on_event)
                if stop is not None and stop.is_set():
                    shared_stop.set()
                if any(f.done() and f.exception() is not None for f in futures):
                    shared_stop.set()  # the others stop at their next step; the first error is raised below
            _drain(events, on_event)
            return [f.result() for f in futures]


def _drain(events, on_event: IndexedCallback | None) -> None:
    while True:
        try:
            index, event = events.get_nowait()
        except queue.Empty:
            return
        if on_event is not None:
            on_event(index, event)


_context_lock = threading.Lock()


def _context():
    """The fork server, preloaded with kd_core: forked workers start without importing torch again, and do not
    inherit the threads of the process that asks (a Streamlit server has many)."""
    with _context_lock:
        if "context" not in _worker:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["torch._dynamo", "kd_core.pipeline", "kd_core.sweeps"])  # see dashboard/app.py
            _worker["context"] = context
        return _worker["context"]


# ---- Ray ---------------------------------------------------------------------------------------------


class RayCluster:
    """Tasks on a Ray cluster (``address``; or ``$KD_RAY_ADDRESS``; or a local Ray started here), one CPU each.

    Progress comes back through a Ray queue; a set ``stop`` is relayed through a small actor.
    """

    def __init__(self, jobs: int | None = None, address: str | None = None, threads: int | None = None):
        try:
            import ray
        except ImportError:
            raise ValueError("the ray executor needs Ray: pip install 'kd-dashboard[ray]'") from None
        self.ray = ray
        if not ray.is_initialized():
            address = address or os.environ.get("KD_RAY_ADDRESS") or None
            ray.init(address=address, include_dashboard=False, log_to_driver=False,
                     **({} if address else {"num_cpus": jobs or os.cpu_count() or 1}))
        self.jobs = jobs or int(ray.cluster_resources().get("CPU", 1))
        self.threads = threads or torch.get_num_threads()

    def map(self, task: Task, items: Sequence, on_event: IndexedCallback | None = None, stop: StopFlag | None = None) -> list:
        from ray.util.queue import Queue

        ray = self.ray
        events = Queue()
        flag = _ray_flag(ray).remote()
        remote = ray.remote(num_cpus=1)(_run_on_ray)
        refs = [remote.remote(task, i, item, events, flag, self.threads) for i, item in enumerate(items)]
        pending = list(refs)
        try:
            while pending:
                _, pending = ray.wait(pending, num_returns=len(pending), timeout=0.05)
                for index, event in events.get_nowait_batch(events.qsize()):
                    if on_event is not None:
                        on_event(index, event)
                if stop is not None and stop.is_set():
                    flag.set.remote()
            for index, event in events.get_nowait_batch(events.qsize()):
                if on_event is not None:
                    on_event(index, event)
            return ray.get(refs)
        finally:
            events.shutdown()
            ray.kill(flag)


def _ray_flag(ray):
    @ray.remote(num_cpus=0)
    class Flag:
        def __init__(self):
            self.value = False

        def set(self):
            self.value = True

        def is_set(self):
            return self.value

    return Flag


class _RemoteStop:
    """A stop flag backed by the Ray actor, read at most every 0.2 s (a remote call each time)."""

    def __init__(self, flag):
        self.flag, self.checked, self.value = flag, 0.0, False

    def is_set(self) -> bool:
        import time

        import ray

        if not self.value and time.monotonic() - self.checked > 0.2:
            self.checked, self.value = time.monotonic(), ray.get(self.flag.is_set.remote())
        return self.value


def _run_on_ray(task: Task, index: int, item: Any, events, flag, threads: int) -> Any:
    torch.set_num_threads(threads)
    return task(item, lambda event: events.put((index, event)), _RemoteStop(flag))


def make_executor(kind: Literal["local", "ray"] = "local", jobs: int | None = None, address: str | None = None,
                  threads: int | None = None) -> Executor:
    """``local``: worker processes here (``jobs=1``: this process); ``ray``: a Ray cluster (or a local one)."""
    if kind == "ray":
        return RayCluster(jobs, address, threads)
    if kind != "local":
        raise ValueError(f"unknown executor '{kind}'; choose one of: {', '.join(EXECUTORS)}")
    return InProcess() if jobs == 1 else LocalProcesses(jobs, threads)
