"""The History tab's table and downloads: readable headings, results first, and types that a cancelled first row
(which has no results) cannot change."""

from __future__ import annotations

import csv
import io
import json

import pandas as pd

from dashboard.tabs import history

CANCELLED = {
    "finished": "2026-12-04T10:00:01+00:00",
    "lesson": "little-data",
    "status": "cancelled",
    "dataset": "digits",
    "teacher": "mlp-large",
    "student": "mlp-small",
    "student_width": 16,
    "temperature": 4.0,
    "lam": 0.5,
    "loss": "kd",
    "student_fraction": 0.05,
    "omit_class": None,
    "epochs": 20,
    "teacher_epochs": 30,
    "lr": 0.01,
    "batch_size": 64,
    "seed": 0,
    "seconds": 1.5,
}
COMPLETED = {
    **CANCELLED,
    "finished": "2026-12-04T10:01:07+00:00",
    "status": "completed",
    "omit_class": 3,
    "seeds": 5,
    "teacher_acc_%": 96.11,
    "student_acc_%": 87.29,
    "baseline_acc_%": 84.51,
    "kd_minus_baseline_points": 2.78,
    "interval_low_points": 1.87,
    "interval_high_points": 3.68,
    "verdict": "KD helps",
    "agreement_%": 88.5,
    "teacher_params": 83_466,
    "student_params": 1_210,
    "teacher_from_cache": True,
    "from_results_cache": False,
    "teacher_latency_us": 30.1,
    "student_latency_us": 9.8,
    "seconds": 5.25,
}
FAILED = {
    **CANCELLED,
    "finished": "2026-12-04T10:02:00+00:00",
    "status": "failed",
    "error": "the loss diverged at epoch 1, step 3",
}
ROWS = [CANCELLED, COMPLETED, FAILED]


def test_headings_are_readable_and_results_come_before_settings():
    headings = list(history.table(ROWS).columns)
    for heading in ("T", "λ", "KD student %", "Baseline %", "KD − baseline (points)", "Status", "Verdict", "Seeds"):
        assert heading in headings
    assert headings[:7] == [
        "Finished",
        "Lesson",
        "Status",
        "KD student %",
        "Baseline %",
        "KD − baseline (points)",
        "Verdict",
    ]
    assert headings.index("Seeds") < headings.index("Dataset") < headings.index("T") < headings.index("λ")
    assert not any("_" in h for h in headings)  # no programmer's names left


def test_a_cancelled_first_row_changes_neither_the_order_nor_the_types():
    alone, after = history.table([COMPLETED]), history.table(ROWS)
    assert list(alone.columns) == list(after.columns) == [history.label(k) for k in history.COLUMNS]
    assert str(after["Seeds"].dtype) == "Int64" and str(after["Teacher parameters"].dtype) == "Int64"
    assert str(after["KD student %"].dtype) == "Float64" and str(after["Teacher from cache"].dtype) == "boolean"
    assert after["Seeds"].isna().tolist() == [True, False, True]


def test_the_csv_keeps_whole_numbers_whole_and_the_column_order():
    text = history.csv_text(ROWS)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == [history.label(k) for k in history.COLUMNS]
    assert [r["Seeds"] for r in rows] == ["", "5", ""]  # not "5.0": a cancelled first row makes no floats
    assert [r["Teacher parameters"] for r in rows] == ["", "83466", ""]
    assert [r["Hidden class"] for r in rows] == ["", "3", ""] and rows[1]["Batch size"] == "64"
    assert rows[1]["KD − baseline (points)"] == "2.78" and rows[2]["Error"].startswith("the loss diverged")
    back = pd.read_csv(io.StringIO(text))
    assert back["Batch size"].tolist() == [64, 64, 64] and back["Status"].tolist() == [
        "cancelled",
        "completed",
        "failed",
    ]


def test_the_json_has_every_column_in_order_with_stable_types():
    rows = json.loads(history.json_text(ROWS))
    keys = [history.label(k) for k in history.COLUMNS]
    assert all(list(r) == keys for r in rows)
    assert rows[0]["Seeds"] is None and rows[1]["Seeds"] == 5 and isinstance(rows[1]["Teacher parameters"], int)
    assert (
        isinstance(rows[0]["Batch size"], int)
        and isinstance(rows[0]["T"], float)
        and rows[1]["Teacher from cache"] is True
    )
    assert rows[1]["λ"] == 0.5 and "λ" in history.json_text(ROWS)  # readable, not \\u03bb


def test_a_column_the_table_does_not_know_is_kept_at_the_end():
    rows = [CANCELLED, {**COMPLETED, "new_measure": 7}]
    assert list(history.table(rows).columns)[-1] == "new_measure"
    assert json.loads(history.json_text(rows))[0]["new_measure"] is None


# ---------------------------------------------------------------- the summary a student reads first


def test_the_summary_has_what_a_student_compares_and_the_settings_in_words():
    from dashboard.report import history_table as summary

    frame = summary.table(ROWS)
    assert list(frame.columns) == [
        "Lesson",
        "When",
        "Changed settings",
        "Accuracy %: teacher / KD / scratch",
        "KD − scratch, points [95 % interval]",
        "Verdict",
    ]
    done = frame.iloc[1]
    assert done["Lesson"] == "KD shines with little data" and done["When"] == summary.when(COMPLETED["finished"])
    assert done["Changed settings"] == "class 3 hidden, 5 seeds"  # the rest is the lesson's own
    assert done["KD − scratch, points [95 % interval]"] == "+2.78 [+1.87, +3.68]"
    assert done["Accuracy %: teacher / KD / scratch"] == "96.11 / 87.29 / 84.51"
    assert frame["Verdict"].tolist() == ["Stopped before the end", "KD helps", "Failed"]
    assert frame.iloc[0]["Changed settings"] == "none" and frame.iloc[0]["KD − scratch, points [95 % interval]"] == ""
    assert frame.iloc[0]["Accuracy %: teacher / KD / scratch"] == ""  # a stopped run has no accuracies


def test_changed_settings_are_read_against_the_runs_own_lesson():
    from dashboard.report import history_table as summary

    moved = {
        **COMPLETED,
        "lesson": "little-data",
        "omit_class": None,
        "seeds": 8,
        "temperature": 8.0,
        "lam": 0.3,
        "student_fraction": 0.1,
        "kd_minus_baseline_points": -0.04,
        "interval_low_points": -1.2,
        "interval_high_points": 1.1,
    }
    row = summary.table([moved]).iloc[0]
    assert row["Changed settings"] == "T = 8, λ = 0.3, students see 10 %"
    assert row["KD − scratch, points [95 % interval]"] == "−0.04 [−1.20, +1.10]"  # real minus signs, as the report
    # The same settings in the temperature lesson (T = 1 there): T is the change, the share is not.
    other = summary.table([{**moved, "lesson": "temperature", "student_fraction": 0.05}]).iloc[0]
    assert other["Lesson"] == "What the temperature does" and other["Changed settings"] == "T = 8, λ = 0.3"


def test_when_is_a_time_today_and_a_date_otherwise():
    import datetime

    from dashboard.report import history_table as summary

    day = datetime.date(2026, 12, 4)
    assert summary.when("2026-12-04T10:01:07", today=day) == "10:01"
    assert summary.when("2026-12-03T23:59:00", today=day) == "2026-12-03 23:59"
    assert summary.when("10:01:07", today=day) == "10:01:07"  # an entry from before dates were kept


def test_a_row_records_the_lesson_and_an_iso_date_time():
    import datetime
    from types import SimpleNamespace

    from kd_core import RunConfig

    snap = SimpleNamespace(status="cancelled", result=None, finished_at=12.5, created_at=10.0, error=None)
    line = history.row(RunConfig(temperature=6.0), snap, "", lesson="temperature")
    assert line["lesson"] == "temperature" and line["temperature"] == 6.0 and line["seconds"] == 2.5
    finished = datetime.datetime.fromisoformat(line["finished"])  # a date, a time and the UTC offset
    assert finished.tzinfo is not None and abs((datetime.datetime.now().astimezone() - finished).total_seconds()) < 60
    rows = list(csv.DictReader(io.StringIO(history.csv_text([line]))))
    assert rows[0]["Lesson"] == "temperature" and rows[0]["Finished"] == line["finished"]


def test_a_row_names_uploads_by_file_and_hash_and_a_teacher_file_has_no_epochs():
    from types import SimpleNamespace

    from dashboard.report import history_table as summary
    from kd_core import RunConfig

    snap = SimpleNamespace(status="cancelled", result=None, finished_at=12.5, created_at=10.0, error=None)
    config = RunConfig(
        dataset="folder:/srv/kd/uploads/508e072389b522d3/d7a65439a05721db/zip/shapes;sha=171d0ec80eab51d3",
        teacher="onnx:/srv/kd/uploads/508e072389b522d3/0123/mine.onnx;sha=0123456789abcdef",
        teacher_epochs=10,
        student="cnn-small",
    )
    line = history.row(config, snap, "", lesson="little-data")
    assert line["dataset"] == "your shapes (sha 171d0ec8)" and line["teacher"] == "your mine.onnx (sha 01234567)"
    assert line["teacher_epochs"] is None  # never trained: no teacher epochs, in the table or the downloads
    everything = history.csv_text([line]) + history.json_text([line]) + summary.table([line]).to_string()
    assert "/srv" not in everything and "uploads" not in everything
    changed = summary.table([line]).iloc[0]["Changed settings"]
    assert "dataset your shapes (sha 171d0ec8)" in changed and "teacher your mine.onnx (sha 01234567)" in changed
    assert "teacher epochs" not in changed
    built_in = history.row(RunConfig(dataset="mnist", teacher="mlp-large"), snap, "", lesson="hinton-mnist")
    assert built_in["dataset"] == "mnist" and built_in["teacher"] == "mlp-large"  # as a lesson names them
