"""What the experiment tabs start and compute: thin wrappers over ``kd_core.studies.experiments``.

The only module of the dashboard that calls ``kd_core.studies.experiments``, and no Streamlit: the tabs draw what
these functions return.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from kd_core import ConfigError, RunConfig, TeacherCache, validate
from kd_core.board.sweeps import SweepRecorder
from kd_core.config import MAX_EPOCHS  # noqa: F401  (the unseen-class tab's epoch limit)
from kd_core.data.datasets import DATASETS
from kd_core.models.architectures import build_model, count_params
from kd_core.stats import ValueSummary, format_spread
from kd_core.stats import summarize as summarize_rows
from kd_core.studies import experiments as ex
from kd_core.studies.sweeps import SweepEvent, SweepRow, sweep

PARAM_SYMBOLS = {"temperature": "T", "lam": "λ", "student_width": "student width"}
OmittedClassResult = ex.OmittedClassResult


# ------------------------------------------------------- job functions: fn(on_event, stop) for dashboard.jobs.runner


def _rows_and_epochs(on_event: Callable) -> Callable[[SweepEvent], None]:
    """Pass a sweep's finished rows and epoch ends to the job, not every step: the event list stays short."""

    def relay(event: SweepEvent) -> None:
        if event.kind == "row" or (event.progress is not None and event.progress.kind == "epoch"):
            on_event(event)

    return relay


def sweep_job(config: RunConfig, param: str, values: list[float], seeds: list[int], cache: TeacherCache) -> Callable:
    """A sweep of ``param`` over ``values`` × ``seeds`` (the little-data tab sweeps ``student_fraction``)."""
    board = SweepRecorder(config, param)  # each finished row also goes on the class board, as a sweep run
    return lambda on_event, stop: sweep(
        param, values, seeds, config, _rows_and_epochs(board.wrap(on_event)), stop, cache
    )


def omitted_class_job(config: RunConfig, cls: int, cache: TeacherCache) -> Callable:
    """Teacher, KD student and scratch student with class ``cls`` left out of the students' data."""

    def fn(on_event, stop):
        return ex.omitted_class(
            config, cls, lambda event: on_event(event) if event.kind == "epoch" else None, stop, cache
        )

    return fn


def omitted_class_config(config: RunConfig, temperature: float, lam: float, epochs: int) -> RunConfig:
    """The unseen-class tab's run: its own T, λ and epochs over the sidebar's settings, and every training image of
    the other classes (a small share from the sidebar would, with equal steps, multiply the epochs many times over)."""
    return config.replace(temperature=temperature, lam=lam, epochs=epochs, student_fraction=1.0, omit_class=None)


def progress(events: list) -> tuple[float, str]:
    """(fraction done, text) from a job's last sweep or engine event, or an event of its own that says both."""
    last = events[-1] if events else None
    if isinstance(last, SweepEvent):
        value = "" if last.value is None else f", value {last.value:g}"
        return (
            last.fraction,
            f"training {min(last.done + 1, last.total)} of {last.total} (seed {last.seed}{value}, {last.phase})",
        )
    if last is not None and hasattr(last, "epochs"):  # a kd_core ProgressEvent
        return min(1.0, last.epoch / last.epochs), f"{last.phase}, epoch {last.epoch} of {last.epochs}"
    if last is not None and hasattr(last, "fraction") and hasattr(last, "text"):  # any job's own step (ShipEvent)
        return min(1.0, last.fraction), last.text
    return 0.0, "starting…"


# ---------------------------------------------------------------- results


def rows_of(events: list) -> list[SweepRow]:
    """The finished rows among a sweep job's events."""
    return [e.row for e in events if isinstance(e, SweepEvent) and e.kind == "row"]


def summarize(rows: list[SweepRow]) -> list[ValueSummary]:
    return summarize_rows(rows)


def summary_table(summary: list[ValueSummary], value_title: str, percent_values: bool = False) -> pd.DataFrame:
    """One row per swept value: the students' accuracies and the gain, mean ± sd over seeds."""
    return pd.DataFrame(
        [
            {
                value_title: f"{100 * e.value:g} %" if percent_values else f"{e.value:g}",
                "seeds": e.n,
                "student epochs": e.epochs,
                "KD student (%)": format_spread(e.student),
                "scratch baseline (%)": format_spread(e.baseline),
                "KD − scratch (points)": format_spread(e.gain, signed=True),
                "teacher (%)": f"{100 * e.teacher_mean:.2f}",
            }
            for e in sorted(summary, key=lambda e: e.value)
        ]
    )


def signature(config: RunConfig) -> str | None:
    """Results with the same signature belong on one chart: everything but the fraction and the seed
    (``equal_steps`` included).  None for invalid settings."""
    try:
        return validate(config.replace(student_fraction=1.0, seed=0)).run_key()
    except ConfigError:
        return None


def student_params(config: RunConfig, widths) -> dict[float, int]:
    """Width -> parameters of the student architecture of ``config`` at that width (hidden units / channels)."""
    spec = DATASETS[config.dataset]
    student = config.student or spec.student
    return {w: count_params(build_model(student, spec.input_shape, spec.num_classes, int(w))) for w in widths}


def seeds_from(config: RunConfig, count: int) -> list[int]:
    return list(range(config.seed, config.seed + count))


# ---------------------------------------------------------------- instant computations on stored logits


def softened_distributions(logits: np.ndarray, temperatures: list[float]) -> np.ndarray:
    return ex.softened_distributions(logits, temperatures)


def dark_knowledge_matrix(logits: np.ndarray, labels: np.ndarray, temperature: float, num_classes: int) -> np.ndarray:
    return ex.dark_knowledge_matrix(logits, labels, temperature, num_classes)


def bias_curve(result: ex.OmittedClassResult, biases) -> list[ex.BiasPoint]:
    return ex.bias_curve(result.student_logits, result.labels, result.omit_class, biases)


def best_bias(curve: list[ex.BiasPoint]) -> ex.BiasPoint:
    return ex.best_bias(curve)


def bias_correction(result: ex.OmittedClassResult, bias: float) -> ex.BiasPoint:
    return ex.bias_correction(result.student_logits, result.labels, result.omit_class, bias)
