"""The one job panel: start and stop buttons, the status line and the polling fragment, for every tab.

A browser's background jobs (dashboard/jobs/runner.py) are kept in its server-side record (dashboard/page/sessions.py,
also ``st.session_state["jobs"]``), name -> Job, so that a reload finds them again:
"main" (the sidebar's Distill / Train / load teacher), "teacher" (the experiment tabs' teacher),
"sweep", "little", "omitted".  A job's ``meta`` holds what the page needs later: ``what`` (its name in
the status line), its ``config``, and for runs with a known number of steps, a ``plan`` (ETA).
"""

from __future__ import annotations

import time
from typing import Any, Callable

import streamlit as st

from dashboard.jobs import progress as seed_progress
from dashboard.jobs import runner as jobs
from dashboard.page import choices, sessions
from dashboard.runs import distill as runs
from dashboard.runs import experiments as experiment_runs
from kd_core import DATASETS, RunConfig

POLL_SECONDS = 0.5  # the live view redraws at least twice a second
# A queued or waiting job has nothing new to draw but its status line: every session polling it twice a second
# would only take the interpreter from the pages and trainings that change.
SLOW_POLL_SECONDS = 2.0
state = st.session_state


def all_jobs() -> dict[str, jobs.Job]:
    return sessions.current().jobs


def job(name: str) -> jobs.Job | None:
    return all_jobs().get(name)


def active(name: str) -> bool:
    current = job(name)
    return current is not None and not current.done


def start(name: str, fn: Callable, **meta) -> None:
    """Run ``fn(on_event, stop)`` as this session's job ``name``."""
    if active(name):
        return  # a double click must not start a second run
    slot = meta.pop("slot", True)  # False: the launcher found it needs no trainer of its own (jobs.start_job)
    all_jobs()[name] = jobs.start_job(fn, name=name, meta=meta, slot=slot, waiting=None if slot else runs.SAME_RUN)


def stop(name: str) -> None:
    current = job(name)
    if current is not None:
        current.stop(wait=5.0)  # the engine checks between steps, so this returns within a step


def run_button(
    where,
    label: str,
    name: str,
    launch: Callable[[], tuple[Callable, dict]],
    *,
    key: str,
    disabled: bool = False,
    **options,
) -> None:
    """A button that starts job ``name`` with ``fn, meta = launch()``; disabled while the job runs."""
    busy = active(name)
    # A click acts in the script run it triggers, on that run's settings.  (An on_click callback with
    # args=(config,) gets the config of the run that drew the button: a click that came before a slider's
    # rerun had finished trained the old settings.)
    if where.button(label, key=key, disabled=busy or disabled, **options) and not (busy or disabled):
        fn, meta = launch()
        start(name, fn, **meta)
        state.setdefault("started_here", set()).add(all_jobs()[name].id)
        st.rerun()  # draw the buttons disabled and start the live view's polling


def started_here(job: jobs.Job) -> bool:
    """Whether this page (not an earlier page of the same browser) started the job."""
    return job.id in state.get("started_here", ())


def stop_button(where, name: str, *, key: str, **options) -> None:
    where.button("Stop", key=key, on_click=stop, args=(name,), disabled=not active(name), **options)


def run_and_stop(name: str, label: str, launch: Callable[[], tuple[Callable, dict]], disabled: bool = False) -> None:
    """Run and Stop side by side, as the experiment tabs show them."""
    left, right, _ = st.columns([2, 1, 4])
    run_button(left, label, name, launch, key=f"exp_run_{name}", type="primary", disabled=disabled, width="stretch")
    stop_button(right, name, key=f"exp_stop_{name}", width="stretch")


def finished_once(name: str) -> jobs.Snapshot | None:
    """The job's snapshot the first time a script run sees it finished, else None: outputs are collected once."""
    current = job(name)
    if current is None or not current.done:
        return None
    collected = sessions.current().collected_jobs
    if collected.get(name) == current.id:
        return None
    collected[name] = current.id
    return current.snapshot()


def error_line(snap: jobs.Snapshot, config: RunConfig | None = None) -> str:
    """The worker's exception as one readable line (never a traceback); a divergence names a learning rate to try."""
    known = {"Diverged": "", "ConfigError": "Invalid setting: ", "DatasetUnavailable": "Dataset not available: "}
    if snap.error_type == "Diverged" and config is not None and (lr := choices.suggested_lr(config)) is not None:
        usual = " (the usual one for this dataset)" if lr == DATASETS[config.dataset].lr else ""
        return f"{snap.error} — try {lr:g}{usual}."
    if snap.error_type in known:
        return known[snap.error_type] + (snap.error or "")
    return f"The training worker stopped with an error ({snap.error_type}): {snap.error}"


def status_line(current: jobs.Job, snap: jobs.Snapshot) -> None:
    """Queue position, a progress bar (with an ETA where the plan is known), or how the job ended."""
    what = current.meta.get("what", "Training")
    if snap.waiting and snap.status == jobs.RUNNING:
        st.info(f"{what}: {snap.waiting}")
    elif snap.status == jobs.QUEUED:
        st.info(
            f"{what} is waiting for a free trainer: position {snap.queue_position} in the queue "
            f"(at most {jobs.MAX_CONCURRENT} train at once on this server)."
        )
    elif snap.status == jobs.RUNNING and "plan" in current.meta:
        running_for = None if snap.started_at is None else time.monotonic() - snap.started_at
        if "seeds" in current.meta:  # a Distill over seeds: its events carry the seed
            progress = seed_progress.seeds_progress(
                snap.events, current.meta["plan"], current.meta["seeds"], running_for
            )
        else:
            progress = runs.progress(snap.events, current.meta["plan"], running_for)
        eta = "" if progress.eta_seconds is None else f" — about {runs.format_seconds(progress.eta_seconds)} left"
        st.progress(progress.fraction, text=f"{what} running: {progress.text}{eta}")
    elif snap.status == jobs.RUNNING:
        fraction, text = experiment_runs.progress(snap.events)
        st.progress(fraction, text=f"{what}: {text}")
    elif snap.status == jobs.FAILED:
        st.error(error_line(snap, current.meta.get("config")))
        lr_button(current, snap)
    elif snap.status == jobs.CANCELLED:
        st.warning(f"{what} stopped. {current.meta.get('stopped', 'The charts keep what was drawn.')}")


def use_lr(lr: float) -> None:
    state["lr"], state["rerun_page"] = lr, True


def lr_button(current: jobs.Job, snap: jobs.Snapshot) -> None:
    """After a divergence, one click under the message sets the learning rate it suggests.  The button is in the
    live fragment, whose click reruns only the fragment: the whole page is rerun from there, so that the
    sidebar's slider moves."""
    if state.pop("rerun_page", False):
        st.rerun()
    config = current.meta.get("config")
    lr = choices.suggested_lr(config) if snap.error_type == "Diverged" and config is not None else None
    if lr is not None and state.get("lr") != lr:
        st.button(
            f"Use learning rate {lr:g}",
            key=f"use_lr_{current.name}",
            on_click=use_lr,
            args=(lr,),
            help="Sets the learning rate in the sidebar; then click Distill.",
        )


def note_running_jobs() -> None:
    """At the start of every script run, before any output is collected: which jobs run now.  A job that ends
    while the script runs (a run served from the results cache ends in a fraction of a second) was not collected
    at the top, and must still trigger the rerun that collects it, or its report would never show."""
    state["running_at_start"] = {name for name in all_jobs() if active(name)}
    state.pop("rerun_page", None)  # this is that full run


def idle(snap: jobs.Snapshot | None) -> bool:
    """Whether the job waits (queued for a trainer, or for another run) and has nothing to draw but its status."""
    return snap is not None and (snap.status == jobs.QUEUED or (snap.status == jobs.RUNNING and bool(snap.waiting)))


def live(
    name: str, draw: Callable[[jobs.Snapshot | None], None], first_report: Callable[[Any], None] | None = None
) -> None:
    """The job's status line and ``draw(snapshot or None)`` now, and every POLL_SECONDS while it runs; while it
    waits (``idle``), the status line only, every SLOW_POLL_SECONDS.  A fragment's interval is fixed by the full
    script run that defines it, so a change between waiting and running reruns the page.

    ``first_report(so_far)``: how to draw a report of fewer seeds the job shows while the rest train
    (``jobs.report_so_far``), above the status line, waiting or not.  It is drawn here, in the fragment, so it
    appears at the next poll without a full rerun of every tab."""
    active_at_rerun = active(name) or name in state.get("running_at_start", ())
    current = job(name)
    idle_at_rerun = idle(current.snapshot()) if current is not None and active_at_rerun else False
    every = (SLOW_POLL_SECONDS if idle_at_rerun else POLL_SECONDS) if active_at_rerun else None

    @st.fragment(run_every=every)  # poll only while the job runs
    def fragment() -> None:
        current = job(name)
        snap = current.snapshot() if current is not None else None
        if snap is not None:
            if active_at_rerun and (snap.finished or idle(snap) != idle_at_rerun):
                st.rerun()  # a full rerun: buttons enabled again, results collected, the polling interval changed
            if first_report is not None and snap.so_far is not None and not snap.finished:
                first_report(snap.so_far)
            status_line(current, snap)
            if idle(snap):
                return  # nothing to chart yet
        draw(snap)

    fragment()
