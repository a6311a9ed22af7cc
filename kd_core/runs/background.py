"""A seed's run as the dashboard's worker processes run it: at a lower CPU priority than the server, with the
server's current ``KD_*`` settings.

The server's interpreter draws every session's page; a training can wait a moment, a student's click should
not.  On a machine with as many trainings as cores, equal priorities left the page reruns queueing behind the
workers.  Priority changes no number: the worker runs the same ``kd_core.runs.seeds.run_task``.

Workers are forked from a fork server started once per server process, with that moment's environment: a
``KD_DATA_DIR`` set later (a test, a lesson's data folder) would not reach them, so each task carries it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from kd_core.runs.seeds import SeedTask, run_task

NICENESS = 5  # a little below the server: it still gets every core the server leaves idle


def _kd_environ() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name.startswith("KD_")}


@dataclass(frozen=True)
class WorkerTask:
    """One seed's task and the server's ``KD_*`` environment variables when it was handed out."""

    seed: SeedTask
    environ: dict[str, str] = field(default_factory=_kd_environ)


def run_task_niced(task: WorkerTask, on_event, stop):
    """``run_task`` after lowering this worker process's priority (once: a worker may run several seeds)."""
    for name in [name for name in os.environ if name.startswith("KD_") and name not in task.environ]:
        del os.environ[name]
    os.environ.update(task.environ)
    if hasattr(os, "getpriority"):  # not on Windows
        try:
            if os.getpriority(os.PRIO_PROCESS, 0) < NICENESS:
                os.setpriority(os.PRIO_PROCESS, 0, NICENESS)
        except OSError:  # not allowed here: it runs at the server's priority
            pass
    return run_task(task.seed, on_event, stop)
