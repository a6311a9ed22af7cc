"""What the tabs share: the dataset and the teacher cache (per server), the teacher's logits (per session).

The memo of teacher logits, ``st.session_state["teacher_logits"]``, maps (teacher key, split) to the
logits over that split (``kd_core.runs.served.split_of``).  It is filled by the sidebar's jobs, by the
experiment tabs' teacher job, or from the disk cache when the teacher is already there; the Probabilities
and "What is happening" tabs, the sweep tab's "one input as T rises" chart and the heatmap read it.

A teacher is looked for in the disk cache on every rerun until it is found, and only what is found is kept (the
logits per session, the model per server for the Draw tab): a teacher trained after the page loaded — by this
browser, another one, or ``kd-train`` on the same cache folder — appears on the next rerun.  A "not found" is
never cached: kept for the server's life, it hid a teacher cached a minute later from every browser.
"""

from __future__ import annotations

import threading

import numpy as np
import streamlit as st
from torch import nn

from dashboard.jobs import estimate
from dashboard.jobs import runner as jobs
from dashboard.page import job_panel
from dashboard.runs import distill as runs
from dashboard.runs import seeds as seed_runs
from kd_core import Dataset, RunConfig, validate
from kd_core.data.datasets import DATA_DIR_HINT
from kd_core.files import one_line
from kd_core.runs import served
from kd_core.runs.setup import load

state = st.session_state


@st.cache_resource(show_spinner="Loading the dataset…", ttl=300)
def dataset_or_problem(name: str) -> tuple[Dataset | None, str | None]:
    """The dataset, or None and a one-line reason.  Cached with a TTL so a failed download is not
    retried on every rerun (it takes seconds offline), yet files put in place later are found."""
    try:
        return runs.load_data(name), None
    except Exception as error:  # DatasetUnavailable above all; anything else is shown the same way
        return None, page_words(one_line(error))


PAGE_DATA_DIR_HINT = "or start the server with KD_DATA_DIR set to another folder"


def page_words(message: str) -> str:
    """kd_core's message as the page says it: the page takes no command-line flags, so "or pass --data-dir" (the
    command line's way to another data folder) becomes the page's own way."""
    return message.replace(DATA_DIR_HINT, PAGE_DATA_DIR_HINT)


@st.cache_resource(show_spinner=False)
def warm_workers() -> bool:
    """Once per server: start the seeds' worker processes in the background (dashboard/runs/seeds.py)."""
    threading.Thread(target=seed_runs.warm_workers, name="warm-workers", daemon=True).start()
    return True


@st.cache_resource
def teacher_cache():
    """One on-disk teacher cache for the whole server (folder: $KD_CACHE_DIR or a per-user cache)."""
    return runs.new_teacher_cache()


@st.cache_resource(show_spinner=False, max_entries=32)
def untrained_student_logits(dataset_name: str, student: str, seed: int) -> np.ndarray:
    dataset, _ = dataset_or_problem(dataset_name)
    return served.untrained_student_logits(RunConfig(dataset=dataset_name, student=student, seed=seed), dataset)


@st.cache_resource(show_spinner="Timing a few training steps on this server…", max_entries=64)
def step_seconds(architecture: str, dataset: str, width: int | None, batch_size: int) -> float:
    """Seconds per training step of one architecture here, measured once per server: the measurement a job's ETA
    starts from too (dashboard/jobs/estimate.py); this wrapper only adds the spinner the first time."""
    return estimate.measured_step_seconds(architecture, dataset, width, batch_size)


def teacher_cached(config: RunConfig) -> bool:
    """Whether the teacher these settings name is in the disk cache already (a Distill then loads it at once)."""
    key = runs.teacher_key(config)
    try:
        return key is not None and teacher_cache().path(key).exists()
    except Exception:  # an unusable cache folder: count the teacher as one to train
        return False


class NotInCache(LookupError):
    """A teacher the cache does not hold (yet): raised inside a cached function, so that Streamlit keeps nothing."""


@st.cache_resource(show_spinner=False, max_entries=8)
def _found_teacher(teacher_key: str, _config: RunConfig) -> nn.Module:
    """The teacher ``teacher_key`` names, loaded once per server once the disk cache holds it (the key names its
    weights); ``NotInCache`` until then: a call that raises is not cached, so the next one looks again."""
    model = served.cached_teacher(_config, teacher_cache())
    if model is None:
        raise NotInCache(teacher_key)
    return model


def cached_teacher(config: RunConfig) -> nn.Module | None:
    """The teacher these settings name, in eval mode, if the disk cache holds it now (never trained here); else
    None, and the next call looks again."""
    key = runs.teacher_key(config)
    if key is None:  # settings that cannot run are reported above the tabs
        return None
    try:
        return _found_teacher(key, validate(config))
    except Exception:  # NotInCache; or its data gone from the server: no teacher to show either way
        return None


def baseline_cached(config: RunConfig) -> bool:
    """Whether the scratch baseline these settings train is on disk already (trained by a run that differed only
    in T, λ or the loss): a Distill then loads it instead of training it."""
    try:
        key = load(config)[0].baseline_key()
        return teacher_cache().baselines.path(key).exists()
    except Exception:  # invalid settings, missing data or an unusable cache folder: count it as one to train
        return False


def remember(config: RunConfig, split: str, logits: np.ndarray | None) -> None:
    """Keep a teacher's logits for this session (``config``: the settings that named the teacher)."""
    key = runs.teacher_key(config)
    if key is not None and logits is not None:
        state.setdefault("teacher_logits", {})[(key, split)] = logits


def remember_teacher(outcome) -> None:
    """Keep the logits of a finished teacher job (a ``served.TeacherOutcome``)."""
    if isinstance(outcome, served.TeacherOutcome) and not outcome.cancelled:
        for split, logits in outcome.logits.items():
            remember(outcome.config, split, logits)


def teacher_logits(config: RunConfig, split: str = "test") -> np.ndarray | None:
    """The logits over ``split`` of the teacher these settings name: from this session, else from the disk
    cache (instant); None if it has not been trained yet (or the settings are invalid)."""
    snap = job_panel.finished_once("teacher")
    if snap is not None:
        remember_teacher(snap.result)
    key = runs.teacher_key(config)
    if key is None:
        return None
    memo = state.setdefault("teacher_logits", {})
    if (key, split) not in memo:
        dataset, _ = dataset_or_problem(config.dataset)
        logits = None if dataset is None else served.cached_teacher_logits(config, dataset, teacher_cache(), split)
        if logits is None:
            return None
        memo[(key, split)] = logits
    return memo[(key, split)]


def teacher_logits_or_button(config: RunConfig, split: str, where: str, key: str) -> np.ndarray | None:
    """The logits, or a one-click way to get them (the "teacher" job) and None."""
    logits = teacher_logits(config, split)
    if logits is not None:
        return logits
    st.info(f"No teacher is trained with these settings yet: {where} needs one.")
    dataset, _ = dataset_or_problem(config.dataset)

    def launch():
        cache = teacher_cache()
        plan = runs.planned_steps(config, dataset, ("teacher",))
        return (lambda on_event, stop: served.load_or_train_teacher(config, cache, on_event, stop)), {
            "what": "Teacher",
            "config": config,
            "plan": plan,
        }

    job_panel.run_button(st, "Train / load teacher", "teacher", launch, key=f"exp_teacher_{key}")
    if job_panel.active("teacher"):
        job_panel.live("teacher", lambda snap: None)  # progress, then a full rerun that draws the chart
    elif job_panel.job("teacher") is not None:
        snap = job_panel.job("teacher").snapshot()
        if snap.status == jobs.FAILED:
            st.error(job_panel.error_line(snap))
    return None
