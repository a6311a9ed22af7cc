"""The Distill tab's report: the verdict over seeds on top (words, interval, dots), the details below the charts.

Every line reads the run's own resolved settings and results (``outcome``), never the page's defaults; its data's
test set sizes the "near zero" of the λ caption and says what one test image is worth.
"""

from __future__ import annotations

import statistics

import streamlit as st

from dashboard.figures import charts
from dashboard.jobs import runner as jobs
from dashboard.page import resources, sidebar
from dashboard.runs.seeds import SeedsOutcome
from dashboard.text import run_settings, verdict, wording
from kd_core import DATASETS
from kd_core.methods.losses import soft_weight_factor
from kd_core.models import latency
from kd_core.models.architectures import ARCHITECTURES


def _mean(values) -> float:
    return statistics.fmean(values)


def settings_line(outcome: SeedsOutcome) -> str:
    """Every setting of the run that differs from the defaults, the student's width and the epochs really trained."""
    c = outcome.config
    ran = outcome.first.result.config.epochs if outcome.outcomes else None  # final: scaled for equal steps
    return run_settings.describe(c, ran, run_settings.seeds_text(c.seed, len(outcome.outcomes)))


def trained_seconds(outcome: SeedsOutcome) -> float:
    """Seconds the run took when it was trained (teacher, student and baseline; the mean over seeds): kept with
    a cached result, so a run served from the cache can say what it cost, not the instant it took to load."""
    return _mean(sum(o.result.seconds.values()) for o in outcome.completed) if outcome.completed else 0.0


def from_results_cache(outcome: SeedsOutcome) -> bool:
    return bool(outcome.completed) and all(o.result.from_results_cache for o in outcome.completed)


def cache_note(outcome: SeedsOutcome) -> str:
    """Where a run served from the results cache came from, and what it took to train ("" for a run trained now)."""
    if not from_results_cache(outcome):
        return ""
    each = " per seed" if len(outcome.completed) > 1 else ""
    # Short: at 1024 × 768 the report's loss curves must still start on screen below this caption.
    return f"served from the results cache, trained before in {trained_seconds(outcome):.1f} s{each}."


def test_counts(outcome: SeedsOutcome) -> list[int] | None:
    """The run's test images per class (None where its data is not on the server any more)."""
    data, _ = resources.dataset_or_problem(outcome.config.dataset)
    if data is None:
        return None
    return [n for n in data.y_test.bincount().tolist() if n]


def test_set_lines(outcome: SeedsOutcome) -> tuple[str, str | None]:
    """("+2.8 points is 10 more of the 360 test images right.", a warning for a test set where one image is a point
    or more, else None); ("", None) without the data or a verdict."""
    counts, interval = test_counts(outcome), outcome.interval
    if not counts or interval is None:
        return "", None
    size, noun = sum(counts), run_settings.examples(outcome.config.dataset)
    line = wording.sentence(verdict.in_images(interval.mean, size, noun))
    if not verdict.coarse(size):
        return line, None
    return line, (
        f"Few test {noun}: {run_settings.test_set_text(size, counts, noun)}. This report's accuracies move in steps "
        f"of {run_settings.one_image(size):.2g} points, and its verdict speaks for these {size:,} {noun} only: more "
        f"{noun} of each class give a finer answer."
    )


def headline(outcome: SeedsOutcome) -> None:
    """Verdict, interval and per-seed dots; which loss was used; why λ matters little; the full-data lesson."""
    interval = outcome.interval
    note = cache_note(outcome)
    caption = f"Settings of this run: {settings_line(outcome)}" + (f" — {note}" if note else "")
    previous = other_lesson(outcome)
    if previous:
        st.warning(previous)
    if interval is None:
        st.warning("No seed finished with a baseline, so there is nothing to compare.")
        st.caption(caption)
        return
    words, _ = verdict.verdict_label(interval)
    colour = {"KD helps": "green", "KD hurts": "red"}.get(words, "gray")
    left, right = st.columns([2, 3], vertical_alignment="center")
    with left:
        st.markdown(f"## :{colour}-background[{words}]")
        st.markdown(f"**KD − baseline: {verdict.headline(interval)}**")
    charts.show(verdict.gain_figure(outcome.gains, interval), key="gain_chart", where=right)
    in_images, few = test_set_lines(outcome)
    st.markdown(verdict.meaning(interval) + (f" {in_images}" if in_images else ""))
    if few:
        st.warning(few)
    full_data_button(outcome)
    st.caption(caption)
    c = outcome.config
    if c.loss != "kd":
        factor = soft_weight_factor(c.loss, c.temperature, DATASETS[c.dataset].num_classes)
        st.warning(
            f"This run used the loss **{sidebar.LOSS_NAMES.get(c.loss, c.loss)}**. "
            + verdict.loss_weight_text(c.loss, factor, c.temperature, c.lam)
        )


def first_report(outcome: SeedsOutcome) -> None:
    """The report of the first seeds while the rest train (``SeedsOutcome.so_far_line``): verdict, interval and
    accuracies, and what it is.  Drawn in the job's live view, so it has no button: the whole report replaces it."""
    interval = outcome.interval
    if interval is None:
        return
    words, _ = verdict.verdict_label(interval)
    colour = {"KD helps": "green", "KD hurts": "red"}.get(words, "gray")
    st.markdown(f"### :{colour}-background[{words}] — so far")
    st.markdown(f"**KD − baseline: {verdict.headline(interval)}**")
    st.caption(outcome.so_far_line)
    metrics(outcome, None)


def full_data_button(outcome: SeedsOutcome) -> None:
    """The full-data lesson, one click away from a report where KD did not help with most of the data."""
    lesson = sidebar.current_lesson()
    if sidebar.FULL_DATA in sidebar.LESSONS and verdict.full_data_applies(
        outcome.config, outcome.interval, None if lesson is None else lesson.name, sidebar.FULL_DATA
    ):
        st.button(
            "Why does KD not help with all the data?",
            key="full_data_lesson",
            on_click=sidebar.choose_lesson,
            args=(sidebar.FULL_DATA,),
            help="Switch to the full-data lesson: all the training images, and why KD does not help there.",
        )


def other_lesson(outcome: SeedsOutcome) -> str | None:
    """A warning when the report on screen was run in another lesson than the one chosen now (None when not)."""
    ran_in, now = sidebar.report_lesson(), sidebar.state.get("lesson", sidebar.FIRST_LESSON)
    if ran_in is None or ran_in == now or ran_in not in sidebar.lesson_names():
        return None
    return (
        f"This report is from the previous lesson, “{sidebar.lesson_title(ran_in)}”, "
        f"not from “{sidebar.lesson_title(now)}”. Click **Distill** to run this lesson."
    )


def why_lambda(outcome: SeedsOutcome) -> None:
    """Where KD − baseline is near zero (or not clearly positive): which part of the loss dominates, in numbers."""
    interval, lam = outcome.interval, outcome.config.lam
    if interval is None:
        return
    counts = test_counts(outcome)
    size = sum(counts) if counts else None
    small = verdict.near_zero(interval.mean, size) if size else abs(100 * interval.mean) < 1.0
    near_zero = small or interval.verdict != "helps"
    balance = verdict.balance(outcome.first.result.history, lam)
    if near_zero and balance is not None:
        outcome_words = None if interval.low is None else interval.verdict
        st.caption(
            "**Why λ may change little here.** "
            + verdict.balance_text(balance, lam, outcome_words, outcome.config.loss)
        )


def metrics(outcome: SeedsOutcome, job: jobs.Job | None) -> None:
    """Accuracies (means over the seeds) in one row."""
    done = [o.result for o in outcome.completed]
    n = len(done)
    over = "" if n == 1 else f" Mean over {n} seeds."
    teacher, student, baseline = (
        _mean(getattr(r, part).accuracy for r in done) for part in ("teacher", "student", "baseline")
    )
    cols = st.columns(4)
    cols[0].metric("Teacher accuracy", f"{teacher:.2%}", help="On the test set." + over)
    cols[1].metric(
        "KD student accuracy", f"{student:.2%}", help="The small model trained on the teacher's soft targets." + over
    )
    cols[2].metric(
        "Scratch baseline accuracy", f"{baseline:.2%}", help="The same small model trained on the labels alone." + over
    )
    gain = student - baseline  # rounded as the verdict above rounds it: one decimal, 0.0 with no sign
    cols[3].metric(
        "KD − baseline",
        f"{verdict.points(gain)} points",
        **verdict.delta(100 * gain),
        help="Same small model, same initial weights, same batches: the only difference is the teacher's soft targets."
        + over,
    )


def details(outcome: SeedsOutcome, job: jobs.Job | None) -> None:
    """Agreement (means over the seeds, as in History), sizes, latency with its spread (the first seed's models),
    and the run time."""
    why_lambda(outcome)
    first = outcome.first
    result = first.result
    teacher, student = result.teacher, result.student
    done = [o.result for o in outcome.completed]
    over = f" Mean over {len(done)} seeds, as in History." if len(done) > 1 else ""
    seed = f" (seed {result.config.seed})" if len(outcome.outcomes) > 1 else ""
    cols = st.columns(4)
    cols[0].metric(
        "Student–teacher agreement",
        f"{_mean(r.student.agreement for r in done):.1%}",
        help="Share of test images where the KD student predicts the same class as the teacher." + over,
    )
    cols[1].metric(
        "Baseline–teacher agreement",
        f"{_mean(r.baseline.agreement for r in done):.1%}",
        help="The same for the scratch baseline." + over,
    )
    known = lambda count: f"{count:,}" if count else "—"  # noqa: E731  (a result kept from before counts: none)
    own = "" if first.result.config.teacher in ARCHITECTURES else " The teacher's: its file's weights."
    cols[2].metric(
        "Parameters: teacher / student",
        f"{known(teacher.params)} / {known(student.params)}",
        help=f"Sizes: {teacher.size_bytes / 1024:.1f} KiB vs {student.size_bytes / 1024:.1f} KiB.{own}",
    )
    cols[3].metric(
        "Size ratio",
        run_settings.size_ratio(teacher.size_bytes, student.size_bytes),
        help="The student's weights against the teacher's, in bytes: how many times smaller (or larger) the "
        "student is.",
    )
    timed = getattr(first, "latency_rounds", None) or {}  # an outcome kept from before rounds were kept has none
    cols = st.columns(4)
    if timed.get("teacher") and timed.get("student"):
        how = (
            f"The CPU time of one forward pass on one image, on one thread{seed}: what the model costs, not the "
            f"time spent waiting for a busy server. The median of {len(timed['teacher'])} rounds of {latency.REPEATS} "
            "passes, teacher and student taking turns; in brackets the least and greatest round."
        )
        cols[0].metric("Teacher latency per image", latency.microseconds(latency.Spread.of(timed["teacher"])), help=how)
        cols[1].metric("Student latency per image", latency.microseconds(latency.Spread.of(timed["student"])), help=how)
        cols[2].metric(
            "Speed-up",
            latency.times(latency.speed_ups(timed)),
            help="Teacher time over student time, round by round: the reason KD exists. " + how,
        )
    run_time(
        outcome, job, cols[3], result.teacher_from_cache, all(o.result.baseline_from_cache for o in outcome.completed)
    )


def run_time(
    outcome: SeedsOutcome, job: jobs.Job | None, where, teacher_cached: bool, baseline_cached: bool = False
) -> None:
    """From the click to the report, or what training took for a run served from the results cache."""
    if job is None or job.finished_at is None:
        return
    served = job.finished_at - job.created_at
    if from_results_cache(outcome):  # loading took no time: say what training did, and where it came from
        where.metric(
            "Run time",
            f"{trained_seconds(outcome):.1f} s (cached)",
            help=f"Trained originally in {trained_seconds(outcome):.1f} s"
            + (" per seed" if len(outcome.completed) > 1 else "")
            + f"; served from the results cache in {served:.1f} s.",
        )
        return
    help_text = "From the click to the report." + (" Teachers loaded from the cache." if teacher_cached else "")
    if baseline_cached:  # only T, λ or the loss changed since these scratch students were trained
        help_text += (
            " Scratch baselines loaded from the cache: they learn from the labels alone, so T, λ and the "
            "loss do not change them."
        )
    if outcome.parallel > 1:
        help_text += f" Up to {outcome.parallel} seeds trained at once."
    where.metric("Run time", f"{served:.1f} s", help=help_text)
