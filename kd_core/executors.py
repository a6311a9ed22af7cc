"""Where trainings run: in this process, in local worker processes, or on a Ray cluster — one interface.

    executor = make_executor("local", jobs=2)
    results = executor.map(task, items, on_event, stop)     # [task(item, on_event, stop) for item in items]

A task is a module-level function ``task(item, on_event, stop) -> result`` (picklable, so it can run
elsewhere).  Its progress events come back to ``on_event(index, event)`` in this process, from whichever
worker runs it; a set ``stop`` reaches every worker.  Every worker runs torch with the same number of
threads as this process asks for, so a seed gives the same numbers whichever executor ran it.

The first error a task raises (``Diverged``, say) is raised by ``map`` once the other tasks have stopped; a
worker that dies (killed, out of memory) is reported as ``WorkerDied``, one line.  No worker process outlives
the ``map`` that started it (the local fork server, which only forks workers, stays for the next ``map``).
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Literal, Protocol, Sequence

import torch

from .records import StopFlag

Task = Callable[[Any, Callable[[Any], None], StopFlag], Any]
IndexedCallback = Callable[[int, Any], None]
EXECUTORS = ("local", "ray")
POLL_SECONDS = 0.05  # how often map relays events and the stop flag
GRACE_SECONDS = 10.0  # after an error, how long running tasks get to stop at their next step before being killed


class WorkerDied(RuntimeError):
    """A worker process ended abruptly (killed, out of memory, crashed) while the map was running."""


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


def _task_name(task: Task) -> str:
    return f"{getattr(task, '__module__', '?')}.{getattr(task, '__qualname__', type(task).__name__)}"


def _exit_description(code: int | None) -> str:
    if code is None:
        return "no exit status"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}" + (", out of memory?" if -code == signal.SIGKILL else "")
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


# ---- local worker processes ------------------------------------------------------------------------

# Imported once in the fork server, so a forked worker has them already: torch._dynamo (imported lazily by the
# first optimizer, over a second), scikit-learn's datasets (the digits loader, another second), and kd_core.
# A module that cannot be imported is skipped by the fork server.
PRELOAD = ["torch._dynamo", "sklearn.datasets", "sklearn.model_selection", "kd_core.pipeline", "kd_core.seeds",
           "kd_core.sweeps"]

_worker: dict[str, Any] = {}  # in a worker process: its event queue and the shared stop flag


def _start_worker(events, stop, threads: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it relays stop to us
    torch.set_num_threads(threads)
    _worker.update(events=events, stop=stop)


def _run_in_worker(task: Task, index: int, item: Any) -> Any:
    events = _worker["events"]
    # SimpleQueue.put writes to the pipe before returning: every event is in the pipe before the task's result
    # is sent back, so the parent's last drain sees them all.
    return task(item, lambda event: events.put((index, event)), _worker["stop"])


class LocalProcesses:
    """Up to ``jobs`` worker processes on this machine, started per ``map`` from a fork server that has kd_core
    imported already (a worker starts in a fraction of a second instead of importing torch again), and ended
    before ``map`` returns or raises."""

    def __init__(self, jobs: int | None = None, threads: int | None = None):
        self.jobs = max(1, jobs or os.cpu_count() or 1)
        self.threads = threads or torch.get_num_threads()
        if self.jobs > 1:
            _start_fork_server()  # it imports its modules while this process gets on with its own set-up

    def map(self, task: Task, items: Sequence, on_event: IndexedCallback | None = None, stop: StopFlag | None = None) -> list:
        items = list(items)
        workers = min(self.jobs, len(items))
        if workers <= 1:
            return InProcess().map(task, items, on_event, stop)
        context = _context()
        events, shared_stop = context.SimpleQueue(), context.Event()
        pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                                   initargs=(events, shared_stop, self.threads))
        futures: list = []
        processes: dict = {}
        try:
            futures = [pool.submit(_run_in_worker, task, i, item) for i, item in enumerate(items)]
            processes = dict(getattr(pool, "_processes", None) or {})  # to tell how a dead worker died
            first_error: BaseException | None = None
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=POLL_SECONDS, return_when=FIRST_EXCEPTION)
                failed = [f for f in futures if f in done and not f.cancelled() and f.exception() is not None]
                if failed and first_error is None:
                    first_error = failed[0].exception()
                    shared_stop.set()  # the others stop at their next step; the first error is raised below
                    for f in pending:
                        f.cancel()  # those not started yet
                if not isinstance(first_error, BrokenProcessPool):  # a half-written event may be in a broken pool's pipe
                    _drain(events, on_event)
                if stop is not None and stop.is_set():
                    shared_stop.set()
            if first_error is not None:
                raise _local_error(first_error, processes, task)
            return [f.result() for f in futures]
        except BaseException as error:
            shared_stop.set()
            for f in futures:
                f.cancel()
            _settle(futures, events, processes)
            if isinstance(error, BrokenProcessPool):  # broken while the tasks were being handed out
                raise _local_error(error, processes, task) from None
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            for process in processes.values():
                process.join(timeout=GRACE_SECONDS)
            events.close()


def _drain(events, on_event: IndexedCallback | None) -> None:
    while True:
        try:
            if events.empty():
                return
            index, event = events.get()
        except (EOFError, OSError):
            return
        if on_event is not None:
            on_event(index, event)


def _settle(futures: list, events, processes: dict) -> None:
    """After an error: give the running tasks ``GRACE_SECONDS`` to stop (reading their events so none blocks on a
    full pipe), then kill the workers still running."""
    deadline = time.monotonic() + GRACE_SECONDS
    while time.monotonic() < deadline and not all(f.done() for f in futures):
        wait(futures, timeout=POLL_SECONDS)
        if not any(isinstance(f.exception(), BrokenProcessPool) for f in futures if f.done() and not f.cancelled()):
            _drain(events, None)
    if not all(f.done() for f in futures):
        for process in processes.values():
            if process.is_alive():
                process.kill()


def _local_error(error: BaseException, processes: dict, task: Task) -> BaseException:
    if not isinstance(error, BrokenProcessPool):
        return error
    codes = []
    for process in processes.values():
        process.join(timeout=1.0)  # the pool terminates the others: the worker that died first has the telling code
        codes.append(process.exitcode)
    telling = [c for c in codes if c not in (None, 0, -signal.SIGTERM)] or [c for c in codes if c is not None] or [None]
    return WorkerDied(f"a worker process died ({_exit_description(telling[0])}) while running {_task_name(task)}; "
                      "the map's other tasks were stopped")


_context_lock = threading.Lock()


def _context():
    """The fork server, preloaded with kd_core: forked workers start without importing torch again, and do not
    inherit the threads of the process that asks (a Streamlit server has many)."""
    with _context_lock:
        if "context" not in _worker:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(PRELOAD)
            _worker["context"] = context
        return _worker["context"]


def _start_fork_server() -> None:
    """Start the fork server now, not at the first ``map``: it spends seconds importing ``PRELOAD``, in parallel
    with whatever this process does meanwhile (loading the dataset, validating the settings)."""
    _context()
    from multiprocessing import forkserver

    forkserver.ensure_running()


# ---- Ray ---------------------------------------------------------------------------------------------


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

    def map(self, task: Task, items: Sequence, on_event: IndexedCallback | None = None, stop: StopFlag | None = None) -> list:
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
                ready, _ = ray.wait(list(running), num_returns=len(running), timeout=POLL_SECONDS)
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
    if isinstance(error, (ray.exceptions.WorkerCrashedError, ray.exceptions.OutOfMemoryError,
                          ray.exceptions.NodeDiedError)):
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        return WorkerDied(f"a Ray worker died while running {_task_name(task)} ({type(error).__name__}: {first_line}); "
                          "the map's other tasks were stopped")
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


def make_executor(kind: Literal["local", "ray"] = "local", jobs: int | None = None, address: str | None = None,
                  threads: int | None = None) -> Executor:
    """``local``: worker processes here (``jobs=1``: this process); ``ray``: a Ray cluster (or a local one)."""
    if kind == "ray":
        return RayCluster(jobs, address, threads)
    if kind != "local":
        raise ValueError(f"unknown executor '{kind}'; choose one of: {', '.join(EXECUTORS)}")
    return InProcess() if jobs == 1 else LocalProcesses(jobs, threads)
