"""Tab "Distill" while a finding after Hinton is chosen: its job's progress, then its report — each claim with its
verdict, mean, 95 % interval and a dot per seed, the arms' accuracies, and the finding's figure.

The job is the sidebar's ("main": its Distill and Stop serve it; dashboard/page/sidebar.py starts it, and so does
the Distill drawn here on a phone).  Its result is kept with its History row (``collect_finished``, run on every
script run whatever tab is open), so a reload, or coming back to the finding later, finds its last report again.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.figures import charts
from dashboard.figures import findings as figures
from dashboard.jobs import runner as jobs
from dashboard.page import job_panel, resources, sessions, style
from dashboard.runs import findings as runs
from dashboard.tabs import history
from dashboard.text import findings as words
from kd_core.studies import research
from kd_core.studies.research import CHANCE, MEASURES, PARTS, Finding

state = st.session_state
JOB = runs.JOB


def last_outcome(name: str) -> runs.FindingOutcome | None:
    """This browser's last completed run of finding ``name`` (kept with its History row), or None."""
    for row in reversed(sessions.current().history):
        outcome = row.get(history.FINDING_OUTCOME)
        if isinstance(outcome, runs.FindingOutcome) and outcome.name == name and outcome.status == "completed":
            return outcome
    return None


def collect_finished() -> None:
    """Once per finished finding job: its History row, which keeps its outcome for the report."""
    job = job_panel.job(JOB)
    if job is None or not job.done or job.meta.get("kind") != "finding":
        return
    rows = sessions.current().history
    if any(row.get(history.FINDING_JOB) == job.id for row in rows):
        return
    snap = job.snapshot()
    rows.append(history.finding_row(snap, job.id, job.meta["finding"], job_panel.error_line(snap)))


def launch(finding: Finding, start_seed: int):
    return lambda: runs.launch(finding, start_seed, resources.teacher_cache())


def intro(finding: Finding, start_seed: int, usable: bool) -> None:
    """Before the first Distill of this finding: on a phone a Distill right here, first, so that it is on the first
    screen (hidden at 640 px and wider, where the sidebar's is on screen: dashboard/page/style.py); then what it
    runs and what it claims."""
    st.markdown(f"<style>{style.HIDE_PAGE_DISTILL}</style>", unsafe_allow_html=True)
    job_panel.run_button(
        st,
        "Distill",
        JOB,
        launch(finding, start_seed),
        key="distill_main",
        type="primary",
        disabled=not usable,
        help="The same as the sidebar's Distill: every arm of the finding over its seeds.",
    )
    arms = len(finding.arms)
    st.info(
        f"Click **Distill** to run this finding: {'its arm' if arms == 1 else f'its {arms} arms'} over "
        f"{finding.seeds} seeds from seed {start_seed} (teachers from the cache where they were trained before), "
        f"then each claim is judged over the seeds, as `kd-train --lesson {finding.name}` judges it. "
        + words.claims_sentence(finding)
    )


def draw_job(snap: jobs.Snapshot | None) -> None:
    """Under the status line while the finding trains: which arms are done."""
    if snap is None or snap.finished:
        return
    last = next((e for e in reversed(snap.events) if isinstance(e, runs.FindingEvent)), None)
    if last is not None and last.arms_done:
        st.caption(f"{last.arms_done} of {last.arms} arms done; the report comes when every arm has run its seeds.")


def render(finding: Finding, start_seed: int, usable: bool = True) -> None:
    job = job_panel.job(JOB)
    running = job_panel.active(JOB)
    outcome = last_outcome(finding.name)
    mine = job is not None and job.meta.get("kind") == "finding" and job.meta.get("finding") == finding.name
    if outcome is None and not (running and mine) and usable:
        intro(finding, start_seed, usable)
    if not running or mine:  # another lesson's Distill still running: its status line belongs to its own lesson
        job_panel.live(JOB, draw_job)
    else:
        st.info("A Distill of another lesson is running: Stop it in the sidebar, or wait for it, to run this finding.")
    if outcome is not None and not (running and mine):
        if outcome.start_seed != start_seed:
            st.caption(f"From your last run of this finding, from seed {outcome.start_seed}:")
        report(outcome)


def report(outcome: runs.FindingOutcome) -> None:
    """The finding's report: the headline, each claim, the figure, the arms' accuracies."""
    result = outcome.result
    text, colour = words.headline(result)
    st.markdown(f"### :{colour}-background[{text}]")
    st.caption(f"{outcome.finding.title}: {words.seeds_line(result)}; this run took {outcome.seconds:.0f} s.")
    note = words.one_seed_note(result)
    if note:
        st.warning(note)
    for index, claim in enumerate(result.claims):
        left, right = st.columns([2, 3], vertical_alignment="center")
        left.markdown(words.claim_line(claim))
        figure = figures.claim_figure(
            claim.claim.description,
            claim.differences,
            result.seeds,
            claim.interval,
            MEASURES[claim.claim.measure][0],
            words.HOLDS_COLOUR if claim.holds else words.FAILS_COLOUR,
        )
        charts.show(
            figure,
            key=f"finding_claim_{index}",
            where=right,
            alt=f"{claim.claim.description}, seed by seed: {words.shown(claim)}, verdict {claim.verdict}.",
        )
    finding_figure(outcome)
    arms_table(outcome)
    st.caption(
        f"Source: {outcome.finding.source}. Each claim pairs seed s of one arm with seed s of the other; its verdict "
        "is that of the 95 % interval of the differences (higher or lower when the whole interval is on one side of "
        "0). The same runs and verdicts as `kd-train --lesson " + outcome.name + "`."
    )


def accuracies(result: research.FindingResult) -> dict[str, dict[str, float | None]]:
    return {arm: {part: result.mean_accuracy(arm, part) for part in PARTS} for arm in result.arms}


def finding_figure(outcome: runs.FindingOutcome) -> None:
    """The figure the finding is about (its ``figure``, else one by its name)."""
    result, finding = outcome.result, outcome.finding
    if finding.name in ("capacity-gap", "teacher-assistant"):
        curve = research.capacity_curve(result)
        charts.show(figures.capacity_figure(curve), key="finding_capacity")
        return
    if finding.figure == "class similarity" and outcome.similarity:
        temperature = finding.config(research.base_arm(finding)).temperature
        charts.show(figures.similarity_figure(outcome.similarity, temperature), key="finding_similarity")
        st.caption(
            f"Each row: the test images of one class, and where the teacher (seed {outcome.start_seed}) puts the "
            "probability it does not give that class, as shares of it. A plain teacher puts it on the digits that "
            "look alike; a smoothed teacher spreads it evenly — the dark knowledge that smoothing erases."
        )
        charts.show(figures.arms_figure(accuracies(result)), key="finding_arms")
        return
    if finding.figure == "agreement by epoch":
        arm = research.base_arm(finding)
        agreement = research.fidelity_by_epoch(result, arm, "agreement")
        try:
            kl = research.fidelity_by_epoch(result, arm, "teacher_kl")
        except ValueError:  # runs stored before the KL was recorded by epoch
            kl = None
        charts.show(figures.fidelity_figure(agreement, kl), key="finding_fidelity")
        return
    if finding.name == "noise-transfer":
        noise = result.mean_accuracy("noise", "student")
        real = result.mean_accuracy("real images", "student")
        charts.show(figures.noise_figure(noise, real, CHANCE), key="finding_noise")
        return
    series, colours, dashes = {}, {}, {}
    for index, (arm, seeds) in enumerate(result.arms.items()):
        for part in PARTS:
            values = [getattr(r, part) for r in seeds.runs]
            if all(v is not None for v in values):
                name = f"{arm}: {figures.PART_NAMES[part]}"
                series[name] = [v.accuracy for v in values]
                colours[name], dashes[name] = figures.PART_COLOURS[part], ("solid", "dot", "dash")[index % 3]
    charts.show(figures.per_seed_figure(series, result.seeds, colours=colours, dashes=dashes), key="finding_per_seed")


def arms_table(outcome: runs.FindingOutcome) -> None:
    """Each arm's mean test accuracy over the seeds, and what it changes from the first."""
    changes = words.arm_changes(outcome.finding)
    rows = []
    for arm, means in accuracies(outcome.result).items():
        rows.append(
            {
                "arm": arm,
                "what it changes": changes.get(arm, "the base settings"),
                **{f"{figures.PART_NAMES[p]} %": "–" if means[p] is None else f"{100 * means[p]:.2f}" for p in PARTS},
            }
        )
    st.markdown("**Each arm's mean test accuracy over the seeds**")
    st.table(pd.DataFrame(rows), hide_index=True, border="horizontal")
