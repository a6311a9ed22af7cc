"""What every executor shares: the task's shape, the in-process executor, the modules workers preload, and
how a dead worker is described."""

from __future__ import annotations

import signal
from typing import Any, Callable, Protocol, Sequence

from kd_core.train.records import StopFlag

Task = Callable[[Any, Callable[[Any], None], StopFlag], Any]
IndexedCallback = Callable[[int, Any], None]
POLL_SECONDS = 0.05  # how often map relays events and the stop flag
GRACE_SECONDS = 10.0  # after an error, how long running tasks get to stop at their next step before being killed


class WorkerDied(RuntimeError):
    """A worker process ended abruptly (killed, out of memory, crashed) while the map was running."""


class Executor(Protocol):
    jobs: int

    def map(
        self, task: Task, items: Sequence, on_event: IndexedCallback | None = None, stop: StopFlag | None = None
    ) -> list: ...


class InProcess:
    """One item after another, in this process (``jobs=1``; also what a single item needs)."""

    jobs = 1

    def map(
        self, task: Task, items: Sequence, on_event: IndexedCallback | None = None, stop: StopFlag | None = None
    ) -> list:
        return [task(item, _indexed(on_event, i), stop) for i, item in enumerate(items)]


def _indexed(on_event: IndexedCallback | None, index: int) -> Callable[[Any], None] | None:
    return None if on_event is None else (lambda event: on_event(index, event))


def task_name(task: Task) -> str:
    return f"{getattr(task, '__module__', '?')}.{getattr(task, '__qualname__', type(task).__name__)}"


def exit_description(code: int | None) -> str:
    if code is None:
        return "no exit status"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}" + (", out of memory?" if -code == signal.SIGKILL else "")
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


# Imported once in the fork server, so a forked worker has them already: torch._dynamo (imported lazily by the
# first optimizer, over a second), scikit-learn's datasets (the digits loader, another second), and kd_core;
# kd_core.execution.fork_server first, which keeps the workers from re-running the parent's main script.
# A module that cannot be imported is skipped by the fork server.
PRELOAD = [
    "kd_core.execution.fork_server",
    "torch._dynamo",
    "sklearn.datasets",
    "sklearn.model_selection",
    "kd_core.runs.pipeline",
    "kd_core.runs.seeds",
    "kd_core.studies.sweeps",
]
