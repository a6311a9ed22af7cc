"""A seed's run as the dashboard's worker processes run it: at a lower CPU priority than the server.

The server's interpreter draws every session's page; a training can wait a moment, a student's click should
not.  On a machine with as many trainings as cores, equal priorities left the page reruns queueing behind the
workers.  Priority changes no number: the worker runs the same ``kd_core.seeds.run_task``.
"""
from __future__ import annotations

import os

from kd_core.seeds import SeedTask, run_task

NICENESS = 5  # a little below the server: it still gets every core the server leaves idle


def run_task_niced(task: SeedTask, on_event, stop):
    """``run_task`` after lowering this worker process's priority (once: a worker may run several seeds)."""
    if hasattr(os, "getpriority"):  # not on Windows
        try:
            if os.getpriority(os.PRIO_PROCESS, 0) < NICENESS:
                os.setpriority(os.PRIO_PROCESS, 0, NICENESS)
        except OSError:  # not allowed here: it runs at the server's priority
            pass
    return run_task(task, on_event, stop)
