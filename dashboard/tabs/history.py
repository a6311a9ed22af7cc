"""Tab "History": every Distill of this session, one row each: its settings, the means over its seeds, the mean
KD − baseline with its 95 % interval and the verdict; downloadable."""
from __future__ import annotations

import datetime
import json
import statistics

import pandas as pd
import streamlit as st

from dashboard import jobs, seed_runs, verdict
from kd_core import RunConfig

SETTINGS = ("dataset", "teacher", "student", "temperature", "lam", "loss", "student_fraction", "omit_class", "epochs",
            "teacher_epochs", "lr", "batch_size", "seed")


def row(config: RunConfig, snap: jobs.Snapshot, error: str) -> dict:
    """One line of the session's run history: the settings and, when the run completed, its results."""
    line = {
        "finished": datetime.datetime.now().strftime("%H:%M:%S"), "status": snap.status,
        **{name: value for name, value in config.to_dict().items() if name in SETTINGS},
    }
    outcome = snap.result
    if isinstance(outcome, seed_runs.SeedsOutcome) and outcome.completed:
        done = [o.result for o in outcome.completed]
        mean = lambda values: round(100 * statistics.fmean(values), 2)  # noqa: E731
        interval, first = outcome.interval, outcome.first
        line.update({
            "seeds": len(outcome.outcomes),
            "teacher_acc_%": mean(r.teacher.accuracy for r in done),
            "student_acc_%": mean(r.student.accuracy for r in done),
            "baseline_acc_%": mean(r.baseline.accuracy for r in done),
            "kd_minus_baseline_points": None if interval is None else round(100 * interval.mean, 2),
            "interval_low_points": None if interval is None or interval.low is None else round(100 * interval.low, 2),
            "interval_high_points": None if interval is None or interval.high is None else round(100 * interval.high, 2),
            "verdict": None if interval is None else verdict.verdict_label(interval)[0],
            "agreement_%": mean(r.student.agreement for r in done),
            "teacher_params": first.result.teacher.params, "student_params": first.result.student.params,
            "teacher_from_cache": all(r.teacher_from_cache for r in done),
            "from_results_cache": all(r.from_results_cache for r in done),
        })
        if first.latency_seconds:
            line["teacher_latency_us"] = round(1e6 * first.latency_seconds["teacher"], 1)
            line["student_latency_us"] = round(1e6 * first.latency_seconds["student"], 1)
    if snap.finished_at is not None:
        line["seconds"] = round(snap.finished_at - snap.created_at, 2)
    if snap.error:
        line["error"] = error
    return line


def render() -> None:
    rows = st.session_state.get("history", [])
    if not rows:
        st.info("Every distillation of this session is listed here, with its settings and results.")
        return
    table = pd.DataFrame(rows)
    st.dataframe(table, hide_index=True, width="stretch")
    left, right = st.columns(2)
    left.download_button("Download CSV", table.to_csv(index=False), "kd-history.csv", "text/csv", key="download_csv")
    right.download_button("Download JSON", json.dumps(rows, indent=2), "kd-history.json", "application/json",
                          key="download_json")
