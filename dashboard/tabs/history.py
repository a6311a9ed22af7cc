"""Tab "History": every Distill of this session, one row each, in what a student compares: the lesson, when, the
settings changed from the lesson's, the three accuracies, KD − scratch with its 95 % interval and the verdict
(``summary``).  Every column (the settings one by one, the models' sizes and speeds, the caches) is one click away
and in the CSV and JSON downloads, which carry the lesson and the date and time each run finished.

The rows in the session keep short keys (``row``); the table and the downloads give them readable headings and
fixed types (``COLUMNS``)."""

from __future__ import annotations

import datetime
import json
import statistics

import pandas as pd
import streamlit as st

from dashboard.jobs import runner as jobs
from dashboard.page import choices
from dashboard.report import history_table as summary
from dashboard.runs import findings as finding_runs
from dashboard.runs import seeds as seed_runs
from dashboard.text import findings as finding_text
from dashboard.text import run_settings, verdict
from kd_core import RunConfig
from kd_core.data.custom import is_custom
from kd_core.models.own_teacher import trained_here

# The settings a History row keeps: the sidebar's controls.
SETTINGS = choices.CONTROLS

# Every column the table can have, in the order shown: results first, then the settings, then the run's details.
# key in a history row -> (heading, type).  The types are fixed here, not guessed from the rows, so a cancelled first
# row (no results yet) changes neither the order nor the types: counts stay whole numbers in the CSV and the JSON.
COLUMNS: dict[str, tuple[str, str]] = {
    "finished": ("Finished", "str"),
    "lesson": ("Lesson", "str"),
    "status": ("Status", "str"),
    "student_acc_%": ("KD student %", "float"),
    "baseline_acc_%": ("Baseline %", "float"),
    "kd_minus_baseline_points": ("KD − baseline (points)", "float"),
    "verdict": ("Verdict", "str"),
    "interval_low_points": ("95 % low (points)", "float"),
    "interval_high_points": ("95 % high (points)", "float"),
    "teacher_acc_%": ("Teacher %", "float"),
    "agreement_%": ("Student–teacher agreement %", "float"),
    "seeds": ("Seeds", "int"),
    "dataset": ("Dataset", "str"),
    "teacher": ("Teacher", "str"),
    "student": ("Student", "str"),
    "student_width": ("Student width", "int"),
    "temperature": ("T", "float"),
    "lam": ("λ", "float"),
    "loss": ("Loss", "str"),
    "student_fraction": ("Student's share of data", "float"),
    "omit_class": ("Hidden class", "int"),
    "epochs": ("Student epochs", "int"),
    "teacher_epochs": ("Teacher epochs", "int"),
    "lr": ("Learning rate", "float"),
    "batch_size": ("Batch size", "int"),
    "seed": ("First seed", "int"),
    "teacher_params": ("Teacher parameters", "int"),
    "student_params": ("Student parameters", "int"),
    "teacher_latency_us": ("Teacher µs per image", "float"),
    "student_latency_us": ("Student µs per image", "float"),
    "teacher_from_cache": ("Teacher from cache", "bool"),
    "from_results_cache": ("From results cache", "bool"),
    "seconds": ("Seconds", "float"),
    "error": ("Error", "str"),
}
# How the page shows a few columns (the downloads keep the plain numbers): points with their sign, two decimals.
FORMATS = {
    **{
        COLUMNS[k][0]: st.column_config.NumberColumn(format="%+.2f")
        for k in ("kd_minus_baseline_points", "interval_low_points", "interval_high_points")
    },
    **{
        COLUMNS[k][0]: st.column_config.NumberColumn(format="%.2f")
        for k in ("student_acc_%", "baseline_acc_%", "teacher_acc_%")
    },
}
# A finding's row keeps its outcome (the report reads it back) and its job's id under these keys: never columns, never
# in the downloads (``_keys`` leaves out every key that starts with "_").
FINDING_OUTCOME, FINDING_JOB = "_finding_outcome", "_finding_job"
CASTS = {"str": str, "float": float, "int": int, "bool": bool}
DTYPES = {"str": "string", "float": "Float64", "int": "Int64", "bool": "boolean"}  # pandas' nullable types: NA, not NaN


def row(config: RunConfig, snap: jobs.Snapshot, error: str, lesson: str | None = None) -> dict:
    """One line of the session's run history: the lesson, the settings and, when the run completed, its results.
    ``lesson``: the lesson the run belongs to (default: the report's own, else the one chosen now)."""
    lesson = lesson or getattr(snap.result, "lesson", None) or st.session_state.get("lesson")
    line = {
        # An ISO date-time with its offset: a CSV opened tomorrow, or in another time zone, still says when.
        "finished": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "lesson": lesson,
        "status": snap.status,
        **{name: value for name, value in config.to_dict().items() if name in SETTINGS},
        **own_files(config),
    }
    outcome = snap.result
    if isinstance(outcome, seed_runs.SeedsOutcome) and outcome.completed:
        done = [o.result for o in outcome.completed]
        mean = lambda values: round(100 * statistics.fmean(values), 2)  # noqa: E731
        interval, first = outcome.interval, outcome.first
        line.update(
            {
                "seeds": len(outcome.outcomes),
                "teacher_acc_%": mean(r.teacher.accuracy for r in done),
                "student_acc_%": mean(r.student.accuracy for r in done),
                "baseline_acc_%": mean(r.baseline.accuracy for r in done),
                "kd_minus_baseline_points": None if interval is None else round(100 * interval.mean, 2),
                "interval_low_points": None
                if interval is None or interval.low is None
                else round(100 * interval.low, 2),
                "interval_high_points": None
                if interval is None or interval.high is None
                else round(100 * interval.high, 2),
                "verdict": None if interval is None else verdict.verdict_label(interval)[0],
                "agreement_%": mean(r.student.agreement for r in done),
                "teacher_params": first.result.teacher.params,
                "student_params": first.result.student.params,
                "teacher_from_cache": all(r.teacher_from_cache for r in done),
                "from_results_cache": all(r.from_results_cache for r in done),
            }
        )
        if first.latency_seconds:
            line["teacher_latency_us"] = round(1e6 * first.latency_seconds["teacher"], 1)
            line["student_latency_us"] = round(1e6 * first.latency_seconds["student"], 1)
    if snap.finished_at is not None:
        line["seconds"] = round(snap.finished_at - snap.created_at, 2)
    if snap.error:
        line["error"] = error
    return line


def finding_row(snap: jobs.Snapshot, job_id: int, name: str, error: str = "") -> dict:
    """One line for a finding after Hinton: the finding, its first seed and seeds, and each claim's verdict (the
    Verdict column); its outcome kept for the report.  A finding compares arms, so it has no KD − scratch."""
    outcome = snap.result
    line = {
        "finished": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "lesson": name,
        "status": snap.status,
        FINDING_JOB: job_id,
    }
    if isinstance(outcome, finding_runs.FindingOutcome):
        line.update(seed=outcome.start_seed, status=outcome.status if snap.status == "completed" else snap.status)
        line["seeds"] = len(outcome.result.seeds) if outcome.arms_done else None  # the seeds every arm finished
        if outcome.status == "completed":
            line["verdict"] = finding_text.history_cell(outcome.result)
            line[FINDING_OUTCOME] = outcome
    if snap.finished_at is not None:
        line["seconds"] = round(snap.finished_at - snap.created_at, 2)
    if snap.error:
        line["error"] = error or snap.error
    return line


def own_files(config: RunConfig) -> dict:
    """A row's dataset and teacher where they are files of one's own: their names and short hashes, never a path on
    the server; a teacher file is not trained here, so it has no teacher epochs."""
    names = {}
    if is_custom(config.dataset):
        names["dataset"] = run_settings.data_name(config.dataset)
    if not trained_here(config.teacher):
        names.update(teacher=run_settings.teacher_name(config.teacher), teacher_epochs=None)
    return names


def label(key: str) -> str:
    """The heading a history row's ``key`` has in the table and the downloads."""
    return COLUMNS[key][0] if key in COLUMNS else key


def _keys(rows: list[dict]) -> list[str]:
    """COLUMNS' keys, then any other key the rows have (first seen first): nothing is dropped."""
    extra = [k for r in rows for k in r if k not in COLUMNS and not k.startswith("_")]
    return [*COLUMNS, *dict.fromkeys(extra)]


def typed_rows(rows: list[dict]) -> list[dict]:
    """The rows with readable headings, every column in the same order, each value of its column's type
    (None where a run has none): what the JSON download holds and the table shows."""
    keys = _keys(rows)
    cast = lambda key, value: value if value is None or key not in COLUMNS else CASTS[COLUMNS[key][1]](value)  # noqa: E731
    return [{label(k): cast(k, r.get(k)) for k in keys} for r in rows]


def table(rows: list[dict]) -> pd.DataFrame:
    """The history as a DataFrame with fixed column types (whole numbers stay whole, missing values are <NA>)."""
    keys = _keys(rows)
    frame = pd.DataFrame(typed_rows(rows), columns=[label(k) for k in keys])
    return frame.astype({label(k): DTYPES[COLUMNS[k][1]] for k in keys if k in COLUMNS})


def csv_text(rows: list[dict]) -> str:
    return table(rows).to_csv(index=False)


def json_text(rows: list[dict]) -> str:
    return json.dumps(typed_rows(rows), indent=2, ensure_ascii=False)


def render() -> None:
    rows = st.session_state.get("history", [])
    if not rows:
        st.info(
            "Every distillation of this session is listed here: its lesson, the settings you changed, and its results."
        )
        return
    st.table(summary.table(rows), hide_index=True, border="horizontal")
    st.caption(summary.CAPTION)
    with st.expander(
        f"Every column ({len(table(rows).columns)}): each setting, the models' sizes and speeds, the caches"
    ):
        st.dataframe(table(rows), hide_index=True, width="stretch", column_config=FORMATS)
    left, right = st.columns(2)
    left.download_button("Download CSV", csv_text(rows), "kd-history.csv", "text/csv", key="download_csv")
    right.download_button("Download JSON", json_text(rows), "kd-history.json", "application/json", key="download_json")
