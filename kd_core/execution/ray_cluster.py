"""Trainings on a Ray cluster, one CPU each (see kd_core/execution/executors.py)."""

from __future__ import annotations

import os
import time
from typing import Any, Sequence

import torch

from kd_core.execution.workers import GRACE_SECONDS, POLL_SECONDS, PRELOAD, IndexedCallback, Task, WorkerDied, task_name
from kd_core.train.records import StopFlag


class RayCluster:
    """Tasks on a Ray cluster (``address``; or ``$KD_RAY_ADDRESS`` / ``$RAY_ADDRESS``; or a local Ray started here
    with ``jobs`` CPUs), one CPU each, at most ``jobs`` at once.

    Progress comes back through a small actor (an inbox) that also carries the stop flag; each task sends its
    events in batches, at most every ``RAY_FLUSH_SECONDS``, and all of them before it returns.  The inbox is
    killed when ``map`` returns or raises.  Worker output reaches this terminal (``RAY_LOG_TO_DRIVER=0`` silences it).
    Caches travel as folder paths: on a multi-node cluster, point ``--cache-dir`` at a shared folder.
    """

    def __init__(self, jobs: int | None = None, address: str | None = None, threads: int | None = None):
        try:
            import ray
        except ImportError:
            raise ValueError("the ray executor needs Ray: pip install 'kd-dashboard[ray]'") from None
        self.ray = ray
        if not ray.is_initialized():
            address = address or os.environ.get("KD_RAY_ADDRESS") or os.environ.get("RAY_ADDRESS") or None
            if address:
                ray.init(address=address)
            else:
                ray.init(num_cpus=jobs or os.cpu_count() or 1, include_dashboard=False)
        self.jobs = max(1, jobs or int(ray.cluster_resources().get("CPU", 1)))
        self.threads = threads or torch.get_num_threads()
        self._remote = ray.remote(num_cpus=1, max_retries=0)(_run_on_ray)
        self._inbox = ray.remote(num_cpus=0, max_restarts=0)(_inbox_class())
        warm = ray.remote(num_cpus=1, max_retries=0)(_warm_up)
        self._warming = [warm.remote() for _ in range(self.jobs)]  # not waited for: tasks queue behind them

    def map(
        self, task: Task, items: Sequence, on_event: IndexedCallback | None = None, stop: StopFlag | None = None
    ) -> list:
        ray = self.ray
        items = list(items)
        if not items:
            return []
        inbox = self._inbox.remote()
        results: list = [None] * len(items)
        running: dict = {}  # ref -> index
        submitted, first_error, stopped = 0, None, False
        try:
            while running or (submitted < len(items) and first_error is None):
                while submitted < len(items) and len(running) < self.jobs and first_error is None:
                    running[self._remote.remote(task, submitted, items[submitted], inbox, self.threads)] = submitted
                    submitted += 1
                # Back as soon as one task is done (not after the whole poll): its CPU gets the next task at once.
                ready, _ = ray.wait(list(running), num_returns=1, timeout=POLL_SECONDS) if running else ([], [])
                for ref in ready:
                    index = running.pop(ref)
                    try:
                        results[index] = ray.get(ref)
                    except Exception as error:  # noqa: BLE001 — the first one is raised once the others stopped
                        if first_error is None:
                            first_error = _ray_error(ray, error, task)
                            inbox.stop.remote()
                if on_event is not None:
                    _relay(ray.get(inbox.take.remote()), on_event)
                if stop is not None and stop.is_set() and not stopped:
                    stopped = True
                    inbox.stop.remote()
            if first_error is not None:
                raise first_error
            return results
        except BaseException:
            _stop_ray_tasks(ray, inbox, list(running))
            raise
        finally:
            ray.kill(inbox)


RAY_FLUSH_SECONDS = 0.1  # a task sends its buffered events at most this often (each send is one actor call)
RAY_STOP_SECONDS = 0.2  # ...and asks whether to stop at most this often


def _inbox_class():
    """The inbox actor's class, defined here so that Ray ships it by value: the actor process imports only Ray,
    not kd_core and torch (which would add seconds to every map)."""

    class Inbox:
        def __init__(self):
            self.events, self.stopped = [], False

        def put(self, batch):
            self.events.extend(batch)

        def take(self):
            events, self.events = self.events, []
            return events

        def stop(self):
            self.stopped = True

        def is_set(self):
            return self.stopped

    return Inbox


def _relay(events: list, on_event: IndexedCallback | None) -> None:
    if on_event is not None:
        for index, event in events:
            on_event(index, event)


def _stop_ray_tasks(ray, inbox, refs: list) -> None:
    """After an error: the stop flag, ``GRACE_SECONDS`` for the tasks to stop at their next step, then cancel them."""
    try:
        inbox.stop.remote()
        _, left = ray.wait(refs, num_returns=len(refs), timeout=GRACE_SECONDS) if refs else ([], [])
        for ref in left:
            ray.cancel(ref, force=True)
    except Exception:  # noqa: BLE001 — already raising the error that brought us here
        pass


def _ray_error(ray, error: Exception, task: Task) -> BaseException:
    """The task's own exception (``Diverged`` with its fields), not Ray's wrapper; a dead worker as ``WorkerDied``."""
    if isinstance(error, ray.exceptions.RayTaskError):
        cause = getattr(error, "cause", None)
        if isinstance(cause, BaseException) and not isinstance(cause, ray.exceptions.RayError):
            return cause
    if isinstance(
        error, (ray.exceptions.WorkerCrashedError, ray.exceptions.OutOfMemoryError, ray.exceptions.NodeDiedError)
    ):
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        return WorkerDied(
            f"a Ray worker died while running {task_name(task)} ({type(error).__name__}: {first_line}); "
            "the map's other tasks were stopped"
        )
    return error


class _RayEvents:
    """A task's ``on_event`` on Ray: buffers events and sends them to the inbox in one call at a time."""

    def __init__(self, inbox, index: int):
        self.inbox, self.index, self.buffer, self.sent = inbox, index, [], time.monotonic()

    def __call__(self, event: Any) -> None:
        self.buffer.append((self.index, event))
        if time.monotonic() - self.sent >= RAY_FLUSH_SECONDS:
            self.flush(wait=False)

    def flush(self, wait: bool) -> None:
        import ray

        ref = self.inbox.put.remote(self.buffer)  # an actor runs one caller's calls in order
        self.buffer, self.sent = [], time.monotonic()
        if wait:
            ray.get(ref)  # this and every earlier batch have arrived


class _RemoteStop:
    """A stop flag backed by the inbox actor.  Never blocks a training step: a question is sent at most every
    ``RAY_STOP_SECONDS`` and its answer read once it has arrived (the inbox may still be starting)."""

    def __init__(self, inbox):
        self.inbox, self.asked, self.answer, self.value = inbox, 0.0, None, False

    def is_set(self) -> bool:
        import ray

        if self.value:
            return True
        if self.answer is not None and ray.wait([self.answer], timeout=0)[0]:
            self.value, self.answer = bool(ray.get(self.answer)), None
        if self.answer is None and not self.value and time.monotonic() - self.asked >= RAY_STOP_SECONDS:
            self.answer, self.asked = self.inbox.is_set.remote(), time.monotonic()
        return self.value


def _warm_up() -> None:
    """Run once per CPU when the executor starts: the Ray workers import kd_core (torch) and ``PRELOAD`` while
    this process sets up, so the first map does not wait seconds for them."""
    import importlib

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass


def _run_on_ray(task: Task, index: int, item: Any, inbox, threads: int) -> Any:
    # A Ray worker is a long-lived process that may have run other tasks with other settings, and Ray sets
    # OMP_NUM_THREADS from the task's CPUs: set the thread count here, every time.
    torch.set_num_threads(threads)
    events = _RayEvents(inbox, index)
    try:
        return task(item, events, _RemoteStop(inbox))
    finally:
        try:
            events.flush(wait=True)
        except Exception:  # noqa: BLE001 — the inbox is gone (the map was abandoned); keep the task's own outcome
            pass
