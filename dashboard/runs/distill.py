"""What a Distill click starts, page side: ``distill``, a served run scheduled among the page's jobs, and the small
settings helpers the sidebar asks for (datasets, architectures, why settings cannot run).

The engine serves the run (kd_core/runs/served.py): the memo of finished runs, one lock per run key so that a
classroom of identical clicks trains once, the training in a worker process, the test logits and the measured
latency.  This module gives it the page's scheduler (dashboard/jobs/runner.py): a training takes one of the
server's trainer slots, and a wait for an identical run hands the slot to other jobs meanwhile, the job panel
saying why (``SAME_RUN``).
"""

from __future__ import annotations

import threading
from typing import Callable

from dashboard.jobs import runner as jobs
from dashboard.jobs.progress import Progress, format_seconds, planned_steps, progress  # noqa: F401  (re-exported)
from kd_core import (
    ARCHITECTURES,
    DATASETS,
    ConfigError,
    Dataset,
    ResultCache,
    RunConfig,
    TeacherCache,
    load_dataset,
    validate,
)
from kd_core.runs import served

SAME_RUN = (
    "the same run is training for a classmate: you get its result when it finishes "
    "(position 0 in the queue: it needs no trainer of its own)."
)
# A training takes a trainer slot; a wait for an identical run gives the job's slot away, saying so.
PAGE_TURNS = served.Turns(trainer=lambda: jobs.trainer_slot(), waiting=lambda: jobs.waiting_for(SAME_RUN))


# ---------------------------------------------------------------- settings and data, for the sidebar and the tabs


def dataset_names() -> list[str]:
    return list(DATASETS)


def default_pair(dataset: str) -> tuple[str, str]:
    """(teacher, student) architectures a dataset starts with."""
    return DATASETS[dataset].teacher, DATASETS[dataset].student


def architectures() -> dict[str, str]:
    """Architecture name -> one-line description."""
    return {name: entry.description for name, entry in ARCHITECTURES.items()}


def load_data(name: str, data_dir: str | None = None) -> Dataset:
    return load_dataset(name, data_dir)


def new_teacher_cache() -> TeacherCache:
    """The on-disk teacher cache ($KD_CACHE_DIR or a per-user folder)."""
    return TeacherCache()


def problem_with(config: RunConfig, dataset: Dataset | None = None) -> str | None:
    """Why these settings cannot run (one line), or None."""
    try:
        validate(config, train_size=None if dataset is None else len(dataset.y_train))
    except ConfigError as error:
        return str(error)
    return None


def teacher_key(config: RunConfig) -> str | None:
    """Which teacher these settings name (None if they are invalid)."""
    return None if problem_with(config) else validate(config).teacher_key()


# ---------------------------------------------------------------- a Distill of one seed


def distill(
    config: RunConfig,
    cache: TeacherCache,
    on_event: Callable,
    stop: threading.Event,
    results: ResultCache | None = None,
) -> served.DistillOutcome:
    """One seed's distillation, served by ``kd_core.runs.served.distill`` in the page's turns (``PAGE_TURNS``):
    from memory or the results cache when an identical run finished, else trained in a worker process."""
    return served.distill(config, cache, on_event, stop, results, PAGE_TURNS)
