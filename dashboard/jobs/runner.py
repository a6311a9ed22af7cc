"""A small background-job runner: one thread per job, at most ``MAX_CONCURRENT`` running at once.

    job = start_job(fn)          # fn(on_event, stop) -> result, run in a thread
    job.snapshot()               # events so far, status, error, result, queue position
    job.stop()                   # ask fn to stop (it checks ``stop.is_set()``)

    with extra_slots(3) as more:    # inside fn: up to 3 more free slots, only if nobody is queued; never waits
        ...                         # run 1 + more trainings at once
    start_job(fn, slot=False)       # a job that may need no trainer (an identical run is training): it starts at once
    with waiting_for("note"):       # inside fn, a wait that needs no CPU: hand the slot back, show "note"
        ...
    with trainer_slot() as ok:      # inside fn: a slot for this block (queueing for it if the job has none)
        ...
    report_so_far(partial)          # inside fn: a result to show before the job ends (snapshot().so_far)
    with back_of_the_line() as ok:  # inside fn: hand the slot back and queue again behind those waiting now
        ...

Jobs beyond the limit wait in a first-in, first-out queue.  Nothing here knows about
Streamlit or knowledge distillation: the page keeps a ``Job`` in its session state and
redraws from ``snapshot()``; the worker never touches the page.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
import weakref
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Literal

from kd_core.files import one_line

log = logging.getLogger(__name__)

# Training is CPU-bound: more concurrent trainings than cores only makes every one slower.
MAX_CONCURRENT = os.cpu_count() or 1

JobStatus = Literal["queued", "running", "completed", "cancelled", "failed"]
QUEUED, RUNNING, COMPLETED, CANCELLED, FAILED = "queued", "running", "completed", "cancelled", "failed"
FINISHED = (COMPLETED, CANCELLED, FAILED)

JobFunction = Callable[[Callable[[Any], None], threading.Event], Any]


@dataclass(frozen=True)
class Snapshot:
    """A consistent copy of a job's state, safe to read while the worker goes on."""

    status: JobStatus
    events: list
    result: Any
    error: str | None
    error_type: str | None
    queue_position: int | None  # 1 = next to start; None unless queued
    started_at: float | None  # time.monotonic() when fn began
    finished_at: float | None
    created_at: float
    waiting: str | None = None  # what the job waits for without a slot (waiting_for), if it does
    so_far: Any = None  # a result to show before the job ends (report_so_far), if it gave one

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


@dataclass(eq=False)
class Job:
    """One call of ``fn(on_event, stop)`` in a background thread."""

    fn: JobFunction
    name: str = ""
    id: int = 0
    status: JobStatus = QUEUED
    result: Any = None
    error: str | None = None
    error_type: str | None = None
    events: list = field(default_factory=list)
    created_at: float = field(default_factory=time.monotonic)
    started_at: float | None = None
    finished_at: float | None = None
    stop_event: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    holds_slot: bool = False
    extra: int = 0  # free slots taken on top of its own (extra_slots)
    meta: dict = field(default_factory=dict)  # the caller's notes on the job (its settings, its plan)
    slot: bool = True  # whether it queues for a trainer slot before fn starts
    waiting: str | None = None
    so_far: Any = None  # report_so_far

    def on_event(self, event: Any) -> None:
        """The callback handed to ``fn``: record one progress event."""
        with self.lock:
            self.events.append(event)

    def stop(self, wait: float = 0.0) -> None:
        """Ask the job to stop; a queued job is cancelled before it starts. Optionally wait for it."""
        self.stop_event.set()
        _scheduler.wake()
        if wait and self.thread is not None and self.thread is not threading.current_thread():
            self.thread.join(timeout=wait)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end; True if it has."""
        if self.thread is not None:
            self.thread.join(timeout)
        return self.done

    @property
    def done(self) -> bool:
        with self.lock:
            return self.status in FINISHED

    def snapshot(self) -> Snapshot:
        position = _scheduler.position(self)
        with self.lock:
            return Snapshot(
                status=self.status,
                events=list(self.events),
                result=self.result,
                error=self.error,
                error_type=self.error_type,
                queue_position=position if self.status == QUEUED else None,
                started_at=self.started_at,
                finished_at=self.finished_at,
                created_at=self.created_at,
                waiting=self.waiting if self.status == RUNNING else None,
                so_far=self.so_far,
            )

    def _finish(self, status: JobStatus, result: Any = None, error: BaseException | None = None) -> None:
        with self.lock:
            self.status, self.result, self.finished_at = status, result, time.monotonic()
            if error is not None:
                self.error, self.error_type = one_line(error), type(error).__name__

    def _main(self) -> None:
        _current.job = self
        if self.slot and not _scheduler.acquire(self):
            self._finish(CANCELLED)
            return
        self.holds_slot = self.slot
        try:
            with self.lock:
                self.status, self.started_at = RUNNING, time.monotonic()
            try:
                result = self.fn(self.on_event, self.stop_event)
            except Exception as error:  # shown to the user as one line; the traceback goes to the log
                log.warning("job %s (%s) failed", self.id, self.name, exc_info=True)
                self._finish(FAILED, error=error)
                return
            self._finish(CANCELLED if self.stop_event.is_set() else COMPLETED, result)
        finally:
            if self.holds_slot:
                self.holds_slot = False
                _scheduler.release()


class _Scheduler:
    """Counts running jobs and hands out free slots in arrival order."""

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self.waiting: deque[Job] = deque()
        self.running = 0

    def acquire(self, job: Job) -> bool:
        """Block until ``job`` is first in line and a slot is free (True), or it is stopped first (False)."""
        with self.condition:
            self.waiting.append(job)
            while not job.stop_event.is_set():
                if self.waiting[0] is job and self.running < MAX_CONCURRENT:
                    self.waiting.popleft()
                    self.running += 1
                    self.condition.notify_all()  # the next in line may also fit
                    return True
                self.condition.wait(timeout=1.0)  # the timeout also picks up a changed MAX_CONCURRENT
            self.waiting.remove(job)
            self.condition.notify_all()
            return False

    def release(self, count: int = 1) -> None:
        with self.condition:
            self.running -= count
            self.condition.notify_all()

    def take_free(self, most: int) -> int:
        """Up to ``most`` free slots at once (0 while any job is queued: they come first); never waits."""
        with self.condition:
            if self.waiting or most <= 0:
                return 0
            taken = max(0, min(most, MAX_CONCURRENT - self.running))
            self.running += taken
            return taken

    def free(self) -> int:
        with self.condition:
            return max(0, MAX_CONCURRENT - self.running)

    def wake(self) -> None:
        with self.condition:
            self.condition.notify_all()

    def position(self, job: Job) -> int | None:
        with self.condition:
            for index, waiting in enumerate(self.waiting):
                if waiting is job:
                    return index + 1
        return None


_scheduler = _Scheduler()
_ids = itertools.count(1)
_current = threading.local()  # .job: the Job whose fn this thread runs


@contextmanager
def extra_slots(most: int) -> Iterator[int]:
    """Inside a job's fn: take up to ``most`` trainer slots besides its own, without waiting — only slots that
    are free now and wanted by no queued job — and yield how many were taken (0 outside a job).  A job can
    then run 1 + that many trainings at once; the slots are given back when the block ends."""
    job: Job | None = getattr(_current, "job", None)
    if job is None or not job.holds_slot:
        yield 0
        return
    taken = _scheduler.take_free(most)
    job.extra += taken
    try:
        yield taken
    finally:
        job.extra -= taken
        if taken:
            _scheduler.release(taken)


def _this_job() -> Job | None:
    return getattr(_current, "job", None)


@contextmanager
def waiting_for(note: str) -> Iterator[None]:
    """Inside a job's fn, around a wait that needs no CPU: the job hands its trainer slot back for good (the next
    job in line gets it at once; ``trainer_slot`` takes one again if the job must train after all), and its
    snapshot shows ``note`` meanwhile.  Outside a job it does nothing."""
    job = _this_job()
    if job is None:
        yield
        return
    if job.holds_slot:
        job.holds_slot = False
        _scheduler.release()
    job.waiting = note
    try:
        yield
    finally:
        job.waiting = None


@contextmanager
def trainer_slot() -> Iterator[bool]:
    """Inside a job's fn: a trainer slot for the block.  A job holding one keeps it; one without (``slot=False``,
    or after ``waiting_for``) queues for one, shown as queued meanwhile, and gives it back after the block.
    Yields False if the job was stopped while queued (True outside a job)."""
    job = _this_job()
    if job is None or job.holds_slot:
        yield True
        return
    with job.lock:
        job.status = QUEUED
    acquired = _scheduler.acquire(job)
    with job.lock:
        job.status = RUNNING
    job.holds_slot = acquired
    try:
        yield acquired
    finally:
        if acquired and job.holds_slot:
            job.holds_slot = False
            _scheduler.release()


def report_so_far(result: Any) -> None:
    """Inside a job's fn: a result to show before the job ends — a Distill's first seeds while the rest train
    (``Snapshot.so_far``).  Outside a job it does nothing."""
    job = _this_job()
    if job is not None:
        with job.lock:
            job.so_far = result


@contextmanager
def back_of_the_line() -> Iterator[bool]:
    """Inside a job's fn: give its trainer slot back and queue for one again, behind every job waiting now (what
    the job trains next can wait for their first results); yields whether it got one (False: stopped while
    queued; True outside a job)."""
    job = _this_job()
    if job is not None and job.holds_slot:
        job.holds_slot = False
        _scheduler.release()
    with trainer_slot() as slot:
        yield slot


def free_slots() -> int:
    """Trainer slots nobody holds now."""
    return _scheduler.free()


def queued() -> int:
    """Jobs waiting for a trainer slot now."""
    with _scheduler.condition:
        return len(_scheduler.waiting)


def live_jobs() -> list[Job]:
    """The jobs not finished yet, oldest first."""
    with _live_lock:
        return sorted((job for job in _live if not job.done), key=lambda job: job.id)


_live: weakref.WeakSet[Job] = weakref.WeakSet()
_live_lock = threading.Lock()


def start_job(
    fn: JobFunction, name: str = "", meta: dict | None = None, slot: bool = True, waiting: str | None = None
) -> Job:
    """Run ``fn(on_event, stop)`` in a daemon thread, as soon as a slot is free (at once with ``slot=False``, showing
    ``waiting`` until fn says otherwise); return its Job at once."""
    job = Job(
        fn=fn,
        name=name,
        id=next(_ids),
        meta=dict(meta or {}),
        slot=slot,
        waiting=waiting,
        status=QUEUED if slot else RUNNING,
    )
    with _live_lock:
        _live.add(job)
    # daemon: a server shut down with Ctrl-C must not wait for a training to finish.
    job.thread = threading.Thread(target=job._main, name=f"job-{job.id}-{name}", daemon=True)
    job.thread.start()
    settled = time.monotonic() + 0.5  # until it holds a slot or a place in the queue: the page shows which
    while job.status == QUEUED and _scheduler.position(job) is None and time.monotonic() < settled:
        time.sleep(0.002)
    return job
