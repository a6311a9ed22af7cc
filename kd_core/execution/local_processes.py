"""Local worker processes: up to ``jobs`` trainings at once on this machine (see kd_core/execution/executors.py)."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Sequence

import torch

from kd_core.execution.workers import (
    GRACE_SECONDS,
    POLL_SECONDS,
    PRELOAD,
    IndexedCallback,
    InProcess,
    Task,
    WorkerDied,
    exit_description,
    task_name,
)
from kd_core.train.records import StopFlag

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
    before ``map`` returns or raises.  One worker runs in this process unless ``in_process_when_alone=False``: a
    server keeps its trainings out of its own interpreter, where they would compete with its page runs."""

    def __init__(self, jobs: int | None = None, threads: int | None = None, in_process_when_alone: bool = True):
        self.jobs = max(1, jobs or os.cpu_count() or 1)
        self.threads = threads or torch.get_num_threads()
        self.in_process_when_alone = in_process_when_alone
        if (self.jobs > 1 or not in_process_when_alone) and _fork_now() is None:
            start_fork_server()  # it imports its modules while this process gets on with its own set-up

    def map(
        self, task: Task, items: Sequence, on_event: IndexedCallback | None = None, stop: StopFlag | None = None
    ) -> list:
        items = list(items)
        workers = min(self.jobs, len(items))
        if workers <= 1 and (self.in_process_when_alone or not items):
            return InProcess().map(task, items, on_event, stop)
        context = _fork_now() or fork_context()
        events, shared_stop = context.SimpleQueue(), context.Event()
        pool = ProcessPoolExecutor(
            workers, mp_context=context, initializer=_start_worker, initargs=(events, shared_stop, self.threads)
        )
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
                if not isinstance(
                    first_error, BrokenProcessPool
                ):  # a half-written event may be in a broken pool's pipe
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
    # The worker that died first tells how: a signal (other than the SIGTERM the pool sends the rest) before an
    # exit status (a plainly forked worker whose pipe broke under it exits with 255).
    killed = [c for c in codes if c is not None and c < 0 and c != -signal.SIGTERM]
    telling = (
        killed
        or [c for c in codes if c not in (None, 0, -signal.SIGTERM)]
        or [c for c in codes if c is not None]
        or [None]
    )
    return WorkerDied(
        f"a worker process died ({exit_description(telling[0])}) while running {task_name(task)}; "
        "the map's other tasks were stopped"
    )


_context_lock = threading.Lock()


def fork_context():
    """The fork server, preloaded with kd_core: forked workers start without importing torch again, do not
    inherit the threads of the process that asks (a Streamlit server has many), and never re-run its main script
    (see kd_core/execution/fork_server.py)."""
    with _context_lock:
        if "context" not in _worker:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(PRELOAD)
            _worker["context"] = context
        return _worker["context"]


def _fork_now():
    """Plain fork, when this process has no other thread (a command-line run): workers start with everything this
    process imported and loaded, at no cost.  A process with threads — a server's, or an OpenMP pool that torch
    starts for more than one thread — forks from the fork server instead: a fork copies locks those threads may hold."""
    alone = threading.active_count() == 1 and torch.get_num_threads() == 1
    if alone and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return None


def start_fork_server() -> None:
    """Start the fork server now, not at the first ``map``: it spends seconds importing ``PRELOAD``, in parallel
    with whatever this process does meanwhile (loading the dataset, validating the settings)."""
    fork_context()
    from multiprocessing import forkserver

    forkserver.ensure_running()


class DatasetPrefetch:
    """A dataset being loaded by a forked child while this process does something else; ``adopt()`` waits for it
    and makes this process's ``load_dataset`` return it (see ``prefetch_dataset``)."""

    def __init__(self, name: str, data_dir: str | None):
        self.name, self.data_dir = name, data_dir
        context = multiprocessing.get_context("fork")
        self.receiver, sender = context.Pipe(duplex=False)
        self.process = context.Process(target=_load_and_send, args=(sender, name, data_dir), daemon=True)
        self.process.start()
        sender.close()

    def adopt(self) -> bool:
        """True once the child's copy is this process's; False if the child failed (the caller's own ``load_dataset``
        then loads it, or raises its error)."""
        from kd_core.data.datasets import adopt_dataset
        from kd_core.data.spec import Dataset

        try:
            dataset = pickle.loads(self.receiver.recv_bytes())
        except (EOFError, OSError, pickle.UnpicklingError):
            dataset = None
        finally:
            self.receiver.close()
            self.process.join()
        if not isinstance(dataset, Dataset):
            return False
        adopt_dataset(dataset, self.data_dir)
        return True


def _load_and_send(sender, name: str, data_dir: str | None) -> None:
    from kd_core.data.datasets import load_dataset

    try:
        sender.send_bytes(pickle.dumps(load_dataset(name, data_dir), protocol=pickle.HIGHEST_PROTOCOL))
    except Exception:  # noqa: BLE001 — the parent loads it itself, and reports what goes wrong there
        pass
    finally:
        sender.close()


def prefetch_dataset(name: str, data_dir: str | None) -> DatasetPrefetch | None:
    """Start loading a dataset in a forked child — for digits, most of that is importing scikit-learn and SciPy —
    while this process imports what its trainings need (a command line's first steps); None where this process
    cannot fork safely (it has other threads)."""
    return DatasetPrefetch(name, data_dir) if _fork_now() is not None else None
