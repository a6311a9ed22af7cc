"""Tab "History": every run of this session, with its settings and results, downloadable."""
from __future__ import annotations

import datetime
import json

import pandas as pd
import streamlit as st

from dashboard import jobs, runs
from kd_core import RunConfig

SETTINGS = ("dataset", "teacher", "student", "temperature", "lam", "epochs", "teacher_epochs", "lr", "batch_size", "seed")


def row(config: RunConfig, snap: jobs.Snapshot, error: str) -> dict:
    """One line of the session's run history: the settings and, when the run completed, its results."""
    line = {
        "finished": datetime.datetime.now().strftime("%H:%M:%S"), "status": snap.status,
        **{name: value for name, value in config.to_dict().items() if name in SETTINGS},
    }
    outcome = snap.result
    if isinstance(outcome, runs.DistillOutcome) and outcome.result.status == "completed":
        r = outcome.result
        line.update({
            "teacher_acc_%": round(100 * r.teacher.accuracy, 2),
            "student_acc_%": round(100 * r.student.accuracy, 2),
            "baseline_acc_%": round(100 * r.baseline.accuracy, 2),
            "kd_minus_baseline_points": round(100 * (r.student.accuracy - r.baseline.accuracy), 2),
            "agreement_%": round(100 * r.student.agreement, 2),
            "teacher_params": r.teacher.params, "student_params": r.student.params,
            "teacher_latency_us": round(1e6 * outcome.latency_seconds["teacher"], 1),
            "student_latency_us": round(1e6 * outcome.latency_seconds["student"], 1),
            "teacher_from_cache": r.teacher_from_cache,
            "from_results_cache": r.from_results_cache,
        })
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
