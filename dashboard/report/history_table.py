"""The History tab's first table: one row per Distill with only what a student compares, readable at 1024 px
(a static table whose cells wrap: every column on screen beside the sidebar, and on a phone).

Lesson, when, the settings changed from the lesson's (one column, in words), teacher / KD student / scratch
accuracy, KD − scratch with its 95 % interval, and the verdict (or what became of a run that did not finish).
The settings are compared with the lesson the run belongs to, so "lesson + changes" is exactly what ran; data and a
teacher of one's own are in the rows by their names and short hashes (dashboard/tabs/history.py ``own_files``).
Pure functions of the history rows (dashboard/tabs/history.py ``row``); no widgets but the column formats.
"""

from __future__ import annotations

import datetime

import pandas as pd

from dashboard.page import sidebar

CAPTION = (
    "Changed settings: what differs from the lesson's own settings. Accuracy: the means over the seeds on the "
    "test images. KD − scratch: the mean, in percentage points, with its 95 % interval in brackets."
)
ACCURACY = "Accuracy %: teacher / KD / scratch"
HEADINGS = ("Lesson", "When", "Changed settings", ACCURACY, "KD − scratch, points [95 % interval]", "Verdict")
STATUS_WORDS = {"cancelled": "Stopped before the end", "failed": "Failed", "running": "Running"}


def _number(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def phrase(field: str, value) -> str:
    """One setting as a student reads it: "T = 8", "students see 10 %", "class 3 hidden"."""
    words = {
        "dataset": lambda v: f"dataset {v}",
        "teacher": lambda v: f"teacher {v}",
        "student": lambda v: f"student {v}",
        "student_width": lambda v: f"student width {v}",
        "temperature": lambda v: f"T = {_number(v)}",
        "lam": lambda v: f"λ = {_number(v)}",
        "loss": lambda v: f"loss {v}",
        "student_fraction": lambda v: f"students see {_number(round(100 * v, 4))} %",
        "omit_class": lambda v: "no hidden class" if v is None else f"class {v} hidden",
        "epochs": lambda v: f"{v} student epochs",
        "teacher_epochs": lambda v: f"{v} teacher epochs",
        "lr": lambda v: f"learning rate {_number(v)}",
        "batch_size": lambda v: f"batches of {v}",
        "seed": lambda v: f"first seed {v}",
        "seeds": lambda v: f"{v} seed" + ("" if v == 1 else "s"),
    }
    return words[field](value) if field in words else f"{field.replace('_', ' ')} {value}"


def _differs(a, b) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return abs(a - b) > 1e-9 * max(1.0, abs(b))
    return a != b


def changes(row: dict, base: dict) -> str:
    """The row's settings that differ from ``base`` (a lesson's settings), in words; "none" when it is the lesson.
    A teacher of one's own has no epochs (None in its row): nothing is said of them."""
    fields = [f for f in base if f in row and _differs(row[f], base[f])]
    if row.get("teacher_epochs") is None and "teacher_epochs" in fields:
        fields.remove("teacher_epochs")
    if "seeds" in fields and row.get("status") != "completed":  # a stopped run counts only the seeds it finished
        fields.remove("seeds")
    return ", ".join(phrase(f, row[f]) for f in fields) or "none"


def when(finished: str | None, today: datetime.date | None = None) -> str:
    """The time a run finished ("09:31"), with its date when it is not today; an old time-only entry as it is."""
    if not finished:
        return ""
    try:
        moment = datetime.datetime.fromisoformat(finished)
    except ValueError:
        return finished
    if moment.tzinfo is not None:
        moment = moment.astimezone()  # the server's local time, as the page shows it
    return (
        moment.strftime("%H:%M")
        if moment.date() == (today or datetime.date.today())
        else moment.strftime("%Y-%m-%d %H:%M")
    )


def signed(points: float) -> str:
    return f"{points:+.2f}".replace("-", "−")  # a real minus sign, as the report writes it


def difference(row: dict) -> str:
    """KD − scratch with its interval: "+2.78 [+1.87, +3.68]"; the mean alone for one seed; "" without results."""
    mean = row.get("kd_minus_baseline_points")
    if mean is None:
        return ""
    low, high = row.get("interval_low_points"), row.get("interval_high_points")
    return signed(mean) + ("" if low is None or high is None else f" [{signed(low)}, {signed(high)}]")


def outcome(row: dict) -> str:
    if row.get("status") != "completed":
        return STATUS_WORDS.get(row.get("status"), str(row.get("status") or "").capitalize())
    return row.get("verdict") or "One seed: no verdict"


def accuracies(row: dict) -> str:
    """The three means, "97.22 / 87.29 / 84.51"; "" for a run without results."""
    values = [row.get(k) for k in ("teacher_acc_%", "student_acc_%", "baseline_acc_%")]
    return "" if any(v is None for v in values) else " / ".join(f"{v:.2f}" for v in values)


def lesson_title(name: str | None) -> str:
    if not name:
        return ""
    return sidebar.lesson_title(name) if name in sidebar.lesson_names() else name


def table(rows: list[dict]) -> pd.DataFrame:
    """The summary, one row per Distill, newest last (as they happened)."""
    records = []
    for row in rows:
        lesson = row.get("lesson")
        base = sidebar.settings_of(lesson if lesson in sidebar.lesson_names() else sidebar.FREE_PLAY)
        records.append(
            dict(
                zip(
                    HEADINGS,
                    (
                        lesson_title(lesson),
                        when(row.get("finished")),
                        changes(row, base),
                        accuracies(row),
                        difference(row),
                        outcome(row),
                    ),
                )
            )
        )
    return pd.DataFrame(records, columns=list(HEADINGS))
