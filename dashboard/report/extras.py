"""The Distill report's parts that only some runs have: the unseen class (a run with ``omit_class``), the unseen
classes (a run with ``keep_classes``) and test errors out of 10,000 (a dataset other than digits, with the paper's
numbers for the hinton-mnist lesson)."""

from __future__ import annotations

import statistics

import pandas as pd
import streamlit as st

from dashboard.page import headings, resources, sidebar
from dashboard.runs.seeds import SeedsOutcome
from dashboard.text import run_settings
from kd_core.models.architectures import ARCHITECTURES
from kd_core.models.own_teacher import trained_here
from kd_core.stats import Interval
from kd_core.studies.paper import (
    PAPER_7S_AND_8S,
    PAPER_ERRORS,
    PAPER_OMITTED_3,
    PAPER_OMITTED_3_ERRORS,
    PAPER_OMITTED_3_ON_3S,
    PAPER_TEACHER,
    PAPER_TEST_3S,
    gap_closed,
    gap_interval,
    seed_errors,
)

PAPER_LESSON = "hinton-mnist"
OMITTED_LESSON = "hinton-omitted-3"
PARTS = {"teacher": "Teacher", "student": "KD student", "baseline": "Scratch baseline"}


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def _mean(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.fmean(values) if values else None


def paper_lesson(outcome: SeedsOutcome) -> str | None:
    """The lesson the run belongs to, where its numbers can stand beside the paper's: a run on MNIST (not an upload
    that replaced it); None otherwise."""
    if outcome.config.dataset != "mnist":
        return None
    return getattr(outcome, "lesson", None) or sidebar.state.get("lesson", sidebar.FIRST_LESSON)


def unseen_rows(outcome: SeedsOutcome) -> list[dict]:
    """Per seed: the hidden class's accuracy for the KD student, the baseline and the bias-corrected KD student."""
    rows = []
    for o in outcome.completed:
        report = o.result.omitted_class
        if report is None:
            continue
        fixed = report.bias_corrected or {}
        rows.append(
            {
                "seed": o.result.config.seed,
                "student_overall": o.result.student.accuracy,
                "student": report.student_accuracy,
                "baseline": report.baseline_accuracy,
                "corrected": fixed.get("class_accuracy"),
                "bias": fixed.get("bias"),
                "overall": fixed.get("overall_accuracy"),
            }
        )
    return rows


def holdout_sentence(holdout: float, cls: int) -> str:
    """Where the bias correction's bias was chosen — never on the test set — or why none is shown."""
    if holdout <= 0:
        return (
            f"No bias correction is shown: this run kept no validation split from the training set (holdout 0), "
            f"so the bias on class {cls} would have to be chosen on the test set — and a number chosen on the test "
            "set says nothing about new images."
        )
    return (
        f"The bias added to class {cls}'s output was chosen on a validation split of {100 * holdout:g} % held out from "
        "the training set (the students never trained on it), never on the test set; the test set only measures it."
    )


def unseen_class(outcome: SeedsOutcome) -> None:
    """The hidden class, averaged over seeds (and per seed in a small table), with where the bias came from."""
    cls = outcome.config.omit_class
    rows = unseen_rows(outcome)
    if cls is None or not rows:
        return
    n = len(rows)
    over = "one seed" if n == 1 else f"the mean over {n} seeds"
    headings.section(f"The class the students never saw: {cls}")
    holdout = outcome.config.holdout or 0.0
    cols = st.columns(3)
    cols[0].metric(
        f"KD student on class {cls}",
        _pct(_mean([r["student"] for r in rows])),
        help=f"Share of the test set's class-{cls} images the KD student gets right: {over}.",
    )
    cols[1].metric(
        f"Scratch baseline on class {cls}",
        _pct(_mean([r["baseline"] for r in rows])),
        help=f"The baseline never saw a label {cls}, so it (almost) never answers {cls}: {over}.",
    )
    corrected = _mean([r["corrected"] for r in rows])
    cols[2].metric(
        "KD student after bias correction",
        _pct(corrected) if holdout > 0 else "not shown",
        help=f"The paper's fix: raise class {cls}'s output bias, which the student never had a reason to "
        f"learn. {over.capitalize()}." + ("" if holdout > 0 else " Needs a validation split (holdout)."),
    )
    st.caption(holdout_sentence(holdout, cls))
    if paper_lesson(outcome) == OMITTED_LESSON and cls == 3:
        fixed = [r["corrected"] for r in rows if r["corrected"] is not None]
        here = Interval.of(fixed) if fixed else None
        span = (
            ""
            if here is None or here.low is None
            else (f" (95 % interval {100 * here.low:.1f} – {100 * here.high:.1f} % over {here.n} seeds)")
        )
        omitted_errors(outcome, rows, cls)
        st.caption(
            (f"After the bias correction, {100 * here.mean:.1f} % of the test 3s here{span}; " if here else "")
            + f"the paper's distilled net: {100 * PAPER_OMITTED_3:.1f} %. {what_differs(outcome)}"
        )
    if n > 1 or holdout > 0:
        table = pd.DataFrame(
            [
                {
                    "seed": r["seed"],
                    f"KD student on {cls}": _pct(r["student"]),
                    f"scratch on {cls}": _pct(r["baseline"]),
                    **(
                        {
                            f"KD + bias on {cls}": _pct(r["corrected"]),
                            "bias": "—" if r["bias"] is None else f"{r['bias']:+.2f}",
                            "overall after bias": _pct(r["overall"]),
                        }
                        if holdout > 0
                        else {}
                    ),
                }
                for r in rows
            ]
        )
        st.dataframe(table, hide_index=True, width="content")


def omitted_errors(outcome: SeedsOutcome, rows: list[dict], cls: int) -> None:
    """The omitted-3 experiment in the paper's own units: test errors out of the whole test set and on its 3s, before
    and after the bias, here (means over the seeds) beside the paper's 206 and 109 (133 and 14 on its 1,010 3s)."""
    data, _ = resources.dataset_or_problem(outcome.config.dataset)
    if data is None:
        return
    size, of_class = len(data.y_test), int((data.y_test == cls).sum())
    count = lambda values, total: (  # noqa: E731  (errors out of ``total``, the mean over the seeds)
        "—" if _mean(values) is None else f"{_mean([round((1 - v) * total) for v in values if v is not None]):,.0f}"
    )
    fixed = [r for r in rows if r["corrected"] is not None]
    after = lambda key, total: count([r[key] for r in fixed], total) if fixed else "not shown"  # noqa: E731
    table = pd.DataFrame(
        [
            {
                "test errors": f"on all {size:,} test images",
                "KD student": count([r["student_overall"] for r in rows], size),
                "after the bias": after("overall", size),
                "the paper's": PAPER_OMITTED_3_ERRORS["before"],
                "the paper's after the bias": PAPER_OMITTED_3_ERRORS["after"],
            },
            {
                "test errors": f"on the {of_class:,} test {cls}s",
                "KD student": count([r["student"] for r in rows], of_class),
                "after the bias": after("corrected", of_class),
                "the paper's": PAPER_OMITTED_3_ON_3S["before"],
                "the paper's after the bias": PAPER_OMITTED_3_ON_3S["after"],
            },
        ]
    )
    over = "one seed" if len(rows) == 1 else f"means over {len(rows)} seeds"
    st.markdown(
        f"**Test errors, as the paper counts them** ({over}; the paper's test set: the same {size:,} images, "
        f"{PAPER_TEST_3S:,} of them {cls}s)"
    )
    st.dataframe(table, hide_index=True, width="content")


def seen_only(outcome: SeedsOutcome) -> None:
    """A run whose students saw only some classes: their test errors and how they do on the digits of all the
    others, before and after those classes' biases are raised, means over seeds (and per seed in a table)."""
    reports = [(o.result, o.result.kept_classes) for o in outcome.completed if o.result.kept_classes is not None]
    if not reports:
        return
    kept = " and ".join(f"{c}s" for c in reports[0][1].classes)
    over = "one seed" if len(reports) == 1 else f"the mean over {len(reports)} seeds"
    holdout = outcome.config.holdout or 0.0
    headings.section(f"Students that saw only {kept}")
    fixed = [k.bias_corrected for _, k in reports if k.bias_corrected is not None]
    cols = st.columns(3)
    cols[0].metric(
        "KD student's test errors",
        _pct(_mean([1 - r.student.accuracy for r, _ in reports])),
        help=f"Share of all the test images it gets wrong: {over}.",
    )
    cols[1].metric(
        "Scratch baseline's test errors",
        _pct(_mean([1 - r.baseline.accuracy for r, _ in reports if r.baseline is not None])),
        help=f"It only ever saw the labels of the {kept}, so it answers nothing else: {over}.",
    )
    cols[2].metric(
        "KD student's errors after the bias",
        _pct(_mean([1 - f["overall_accuracy"] for f in fixed])) if fixed else "not shown",
        help="The paper's fix: raise the other digits' output biases, which the student never had a reason "
        f"to learn, by one amount. {over.capitalize()}." + ("" if fixed else " Needs a validation split."),
    )
    st.caption(
        (
            "The amount was chosen on a validation split of "
            f"{100 * holdout:g} % held out from the training set, "
            "never on the test set."
            if holdout > 0
            else "No bias correction: this run kept no validation split."
        )
        + f" The paper's distilled net: {100 * PAPER_7S_AND_8S['before']:.1f} % errors, "
        f"{100 * PAPER_7S_AND_8S['after']:.1f} % after the bias (chosen there on the test set)."
    )
    table = pd.DataFrame(
        [
            {  # the errors first: on a phone the later columns are a scroll away
                "seed": r.config.seed,
                "KD errors": _pct(1 - r.student.accuracy),
                **({"KD + bias errors": _pct(1 - k.bias_corrected["overall_accuracy"])} if k.bias_corrected else {}),
                "scratch errors": _pct(None if r.baseline is None else 1 - r.baseline.accuracy),
                "KD on the other digits": _pct(k.student_unseen_accuracy),
                **({"bias": f"{k.bias_corrected['bias']:+.2f}"} if k.bias_corrected else {}),
            }
            for r, k in reports
        ]
    )
    st.dataframe(table, hide_index=True, width="content")


def errors(outcome: SeedsOutcome, test_size: int) -> None:
    """Test errors (out of ``test_size``) of teacher, KD student and scratch, means over seeds; beside them the
    paper's for the hinton-mnist lesson.  Only for datasets other than digits (MNIST has 10,000 test images)."""
    if outcome.config.dataset == "digits" or not outcome.completed:
        return
    done = [o.result for o in outcome.completed]
    paper = paper_lesson(outcome) == PAPER_LESSON
    table = pd.DataFrame(
        [
            {
                "model": PARTS[part],
                "test accuracy": f"{100 * statistics.fmean(getattr(r, part).accuracy for r in done):.2f} %",
                f"test errors (of {test_size:,})": (
                    f"{statistics.fmean(round((1 - getattr(r, part).accuracy) * test_size) for r in done):,.0f}"
                ),
                **(
                    {"per seed": ", ".join(str(round((1 - getattr(r, part).accuracy) * test_size)) for r in done)}
                    if len(done) > 1
                    else {}
                ),
                **({"the paper's errors": PAPER_ERRORS[part]} if paper else {}),
            }
            for part in PARTS
            if all(getattr(r, part) is not None for r in done)
        ]
    )
    st.markdown(f"**Test errors out of {test_size:,}**" + (", as in Hinton et al.'s MNIST table" if paper else ""))
    st.dataframe(table, hide_index=True, width="content")
    if paper:
        gap_closed_here(done, test_size)
        st.caption(what_differs(outcome))


def what_differs(outcome: SeedsOutcome) -> str:
    """What this run has that the paper's did not, from its own settings (a moved slider shows here too)."""
    c = outcome.config
    epochs = lambda n: f"{n} epoch" + ("" if n == 1 else "s")  # noqa: E731
    if trained_here(c.teacher):
        teacher = ARCHITECTURES[c.teacher].description if c.teacher in ARCHITECTURES else c.teacher
        jitter = f", ±{c.teacher_jitter}-pixel jitter" if c.teacher_jitter else ""
        teacher += f"{jitter}, trained {epochs(c.teacher_epochs)}"
    else:
        teacher = f"{run_settings.teacher_name(c.teacher)}, used as it is"
    return (
        f"What differs from the paper: its teacher was {PAPER_TEACHER}, trained for hours; this "
        f"one is {teacher}. Its students trained to convergence; these "
        f"train {epochs(c.epochs)}, at T = {c.temperature:g} (the paper: T = 20, and any T above 8 did about as well "
        "for students this big; in 10 epochs, T = 50 left fewer errors than 20 here — move T in the sidebar and "
        "Distill again)."
    )


def gap_closed_here(done: list, test_size: int) -> None:
    """The share of the scratch–teacher gap the KD student closes: ours over the seeds with its interval, and the
    paper's."""
    rows = [seed_errors(r, test_size) for r in done]
    paper = gap_closed(*PAPER_ERRORS.values())
    interval = gap_interval(rows)
    if interval is None:
        st.warning(
            "A teacher here makes as many test errors as its scratch student or more: there is no gap for "
            "distillation to close, and a teacher that is no better than its student teaches nothing."
        )
        return
    span = (
        "one seed: no interval"
        if interval.low is None
        else f"95 % interval {100 * interval.low:.0f} – {100 * interval.high:.0f} % over {interval.n} seeds"
    )
    cols = st.columns(2)
    cols[0].metric(
        "Gap closed by distillation, here",
        f"{100 * interval.mean:.0f} %",
        help=(
            "(scratch errors − KD errors) / (scratch errors − teacher errors): 100 % would match the teacher, 0 % "
            f"would be no better than scratch. Per seed: {', '.join(f'{100 * r.gap_closed:.0f} %' for r in rows)}."
        ),
    )
    cols[1].metric("…in the paper", f"{100 * paper:.0f} %", help="146 → 74 errors, with a teacher at 67.")
    st.caption(f"Gap closed here: {100 * interval.mean:.0f} % ({span}); the paper: {100 * paper:.0f} %.")
