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

from typing import Literal

from kd_core.execution.local_processes import LocalProcesses, fork_context, start_fork_server
from kd_core.execution.ray_cluster import RayCluster
from kd_core.execution.workers import Executor, InProcess, WorkerDied

EXECUTORS = ("local", "ray")
__all__ = [
    "EXECUTORS",
    "Executor",
    "InProcess",
    "LocalProcesses",
    "RayCluster",
    "WorkerDied",
    "make_executor",
    "fork_context",
    "start_fork_server",
]


def make_executor(
    kind: Literal["local", "ray"] = "local",
    jobs: int | None = None,
    address: str | None = None,
    threads: int | None = None,
) -> Executor:
    """``local``: worker processes here (``jobs=1``: this process); ``ray``: a Ray cluster (or a local one)."""
    if kind == "ray":
        return RayCluster(jobs, address, threads)
    if kind != "local":
        raise ValueError(f"unknown executor '{kind}'; choose one of: {', '.join(EXECUTORS)}")
    return InProcess() if jobs == 1 else LocalProcesses(jobs, threads)
