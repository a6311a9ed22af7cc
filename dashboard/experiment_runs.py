"""What the experiment tabs start and compute: thin wrappers over ``kd_core.experiments``.

The only module of the dashboard that calls ``kd_core.experiments`` (dashboard/runs.py holds the other
calls into ``kd_core``), and no Streamlit: the tabs draw what these functions return.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
import torch

from kd_core import ConfigError, RunConfig, TeacherCache, validate
from kd_core import experiments as ex
from kd_core.config import MAX_EPOCHS  # noqa: F401  (the unseen-class tab's epoch limit)

PARAM_SYMBOLS = {"temperature": "T", "lam": "λ"}
MEASURED = ex.MEASURED  # this project's measurements, quoted under the little-data chart
OmittedClassResult = ex.OmittedClassResult


# ---------------------------------------------------------------- job functions: fn(on_event, stop) for dashboard.jobs

def _rows_and_epochs(on_event: Callable) -> Callable[[ex.SweepEvent], None]:
    """Pass a sweep's finished rows and epoch ends to the job, not every step: the event list stays short."""

    def relay(event: ex.SweepEvent) -> None:
        if event.kind == "row" or (event.progress is not None and event.progress.kind == "epoch"):
            on_event(event)

    return relay


def sweep_job(config: RunConfig, param: str, values: list[float], seeds: list[int], cache: TeacherCache,
              equal_steps: bool = False) -> Callable:
    """A sweep of ``param`` over ``values`` × ``seeds`` (the little-data tab sweeps ``student_fraction``)."""
    return lambda on_event, stop: ex.sweep(param, values, seeds, config, _rows_and_epochs(on_event), stop, cache,
                                           equal_steps)


def omitted_class_job(config: RunConfig, cls: int, cache: TeacherCache) -> Callable:
    """Teacher, KD student and scratch student with class ``cls`` left out of the students' data."""

    def fn(on_event, stop):
        return ex.omitted_class(config, cls, lambda event: on_event(event) if event.kind == "epoch" else None, stop, cache)

    return fn


def progress(events: list) -> tuple[float, str]:
    """(fraction done, text) from a job's last sweep or engine event."""
    last = events[-1] if events else None
    if isinstance(last, ex.SweepEvent):
        value = "" if last.value is None else f", value {last.value:g}"
        return last.fraction, f"training {min(last.done + 1, last.total)} of {last.total} (seed {last.seed}{value}, {last.phase})"
    if last is not None and hasattr(last, "epochs"):  # a kd_core ProgressEvent
        return min(1.0, last.epoch / last.epochs), f"{last.phase}, epoch {last.epoch} of {last.epochs}"
    return 0.0, "starting…"


# ---------------------------------------------------------------- results

def rows_of(events: list) -> list[dict]:
    """The finished rows among a sweep job's events."""
    return [e.row for e in events if isinstance(e, ex.SweepEvent) and e.kind == "row"]


def summarize(rows: list[dict]) -> list[dict]:
    return ex.summarize(rows)


def mean_sd(mean: float | None, sd: float, digits: int = 2, signed: bool = False) -> str:
    """Fractions as "mean ± sd" in percent or points; "–" where there is no mean."""
    if mean is None:
        return "–"
    return f"{100 * mean:{'+' if signed else ''}.{digits}f} ± {100 * sd:.{digits}f}"


def summary_table(summary: list[dict], value_title: str, percent_values: bool = False) -> pd.DataFrame:
    """One row per swept value: the students' accuracies and the gain, mean ± sd over seeds."""
    return pd.DataFrame([{
        value_title: f"{100 * e['value']:g} %" if percent_values else f"{e['value']:g}",
        "seeds": e["n"],
        "student epochs": e.get("epochs"),
        "KD student (%)": mean_sd(e["student_mean"], e["student_std"]),
        "scratch baseline (%)": mean_sd(e["baseline_mean"], e["baseline_std"]),
        "KD − scratch (points)": mean_sd(e["gain_mean"], e["gain_std"], signed=True),
        "teacher (%)": f"{100 * e['teacher_mean']:.2f}",
    } for e in sorted(summary, key=lambda e: e["value"])])


def measured_caption(param: str) -> str | None:
    """This project's measured gains for ``param``, as one sentence; None if none were measured."""
    measured = MEASURED.get(param)
    if not measured:
        return None
    return ("This project measured (seeds 0–4, default digits settings, equal steps): " + "; ".join(
        f"{100 * e['value']:g} %: KD − scratch {mean_sd(e['gain_mean'], e['gain_std'], 1, signed=True)} points"
        for e in measured) + ". Where the gain's spread straddles 0 there is no difference to see.")


def signature(config: RunConfig, equal_steps: bool) -> str | None:
    """Results with the same signature belong on one chart: everything but the fraction and the seed.
    None for invalid settings."""
    try:
        return validate(config.replace(student_fraction=1.0, seed=0)).run_key() + ("-equal" if equal_steps else "")
    except ConfigError:
        return None


def seeds_from(config: RunConfig, count: int) -> list[int]:
    return list(range(config.seed, config.seed + count))


def describe(config: RunConfig, *skip: str) -> str:
    """The settings a result came from, for a caption."""
    parts = {"temperature": f"T = {config.temperature:g}", "lam": f"λ = {config.lam:g}",
             "epochs": f"{config.epochs} student epochs", "models": f"{config.teacher or 'default'} → {config.student or 'default'}",
             "dataset": config.dataset}
    return ", ".join(text for key, text in parts.items() if key not in skip)


# ---------------------------------------------------------------- instant computations on stored logits

def softened_distributions(logits: np.ndarray, temperatures: list[float]) -> np.ndarray:
    return ex.softened_distributions(torch.from_numpy(logits), temperatures)


def dark_knowledge_matrix(logits: np.ndarray, labels: np.ndarray, temperature: float, num_classes: int) -> np.ndarray:
    return ex.dark_knowledge_matrix(torch.from_numpy(logits), torch.from_numpy(labels), temperature, num_classes)


def bias_curve(result: ex.OmittedClassResult, biases) -> list[dict]:
    return ex.bias_curve(result.student_logits, result.labels, result.omit_class, biases)


def best_bias(curve: list[dict]) -> dict:
    return ex.best_bias(curve)


def bias_correction(result: ex.OmittedClassResult, bias: float) -> dict:
    return ex.bias_correction(result.student_logits, result.labels, result.omit_class, bias)
