"""Tab "Little data": Hinton's experiment 2, KD and scratch students trained on a small share of the data."""

from __future__ import annotations

import streamlit as st

from dashboard.figures import charts
from dashboard.figures import experiments as ef
from dashboard.jobs import runner as jobs
from dashboard.page import headings, job_panel, resources
from dashboard.runs import experiments as er
from dashboard.text import run_settings
from kd_core import RunConfig

TITLE = "Experiment 2 — little data"
INTRO = (
    "Hinton et al. trained a speech model on 3 % of its data: 44.5 % accuracy with hard targets, 57.0 % with the "
    "teacher's soft targets. Here the KD student and the scratch baseline see the *same* seeded, class-balanced "
    "subset; the teacher was trained on everything. Each run adds its points to the chart."
)

state = st.session_state
JOB = "little"


def launcher(config: RunConfig, fractions: list[float], seeds: list[int]):
    def launch():
        fn = er.sweep_job(config, "student_fraction", fractions, seeds, resources.teacher_cache())
        return fn, {
            "what": "Little data",
            "stopped": "The charts keep what finished.",
            "config": config,
            "fractions": fractions,
            "seeds": seeds,
        }

    return launch


def collect(store: dict) -> None:
    """A finished run's rows join the chart of its settings."""
    snap = job_panel.finished_once(JOB)
    if snap is not None:
        meta = job_panel.job(JOB).meta
        for row in er.rows_of(snap.events):
            store.setdefault(er.signature(meta["config"]), {})[(row.value, row.seed)] = row


PAPER_PERCENT = 3  # Hinton et al.'s little-data share


def start_percent(config: RunConfig) -> int:
    """Where the share slider starts: the sidebar's share in whole percent, or the paper's 3 % when the sidebar
    gives the students all the data (then there is no little data to show)."""
    if config.student_fraction >= 1:
        return PAPER_PERCENT
    return min(99, max(1, round(100 * config.student_fraction)))


def render(config: RunConfig) -> None:
    headings.title(TITLE)
    st.caption(INTRO)
    cols = st.columns([3, 1, 2])
    percent = cols[0].slider(
        "Share of the training set the students see (%)",
        1,
        100,
        start_percent(config),
        key="exp_little_percent",
        help="This tab's share wins over the sidebar's. It starts at the sidebar's share, or at the paper's 3 % "
        "when the sidebar gives the students all the data.",
    )
    count = cols[1].slider("Seeds", 1, 5, 3, key="exp_little_seeds")
    with cols[2]:
        with_full = st.checkbox("Also run 100 % (reference)", value=True, key="exp_little_full")
        equal_steps = st.checkbox(
            "Equal steps",
            value=True,
            key="exp_little_equal",
            help="Each student takes as many gradient steps as a full-data run (more epochs on a "
            "small subset). Without it, a 3 % student takes one step per epoch and both "
            "students are simply under-trained.",
        )
    fractions = sorted({percent / 100, 1.0} if with_full else {percent / 100})
    config = config.replace(equal_steps=equal_steps)
    job_panel.run_and_stop(JOB, "Run", launcher(config, fractions, er.seeds_from(config, count)))
    at_share = config.replace(student_fraction=percent / 100)
    st.caption(
        f"At {percent} %: {run_settings.describe(at_share, skip=('student_fraction',))}. The models, T, λ and "
        "epochs come from the sidebar: change them there."
    )

    store = state.setdefault("exp_little_rows", {})  # signature -> {(value, seed): row}
    collect(store)

    def draw(snap: jobs.Snapshot | None) -> None:
        signature = er.signature(config)
        if signature is None:
            return
        rows = dict(store.get(signature, {}))
        running = snap is not None and not snap.finished
        if running:
            meta = job_panel.job(JOB).meta
            if er.signature(meta["config"]) == signature:
                rows.update({(r.value, r.seed): r for r in er.rows_of(snap.events)})
        if not rows:
            st.info(
                "The first points appear as soon as a KD student and its scratch baseline finish."
                if running
                else "Pick a share and click **Run**. The chart collects every run with these sidebar settings."
            )
            return
        summary = er.summarize(sorted(rows.values(), key=lambda r: (r.value, r.seed)))
        charts.show(ef.little_data_figure(summary), key="exp_little_chart")
        st.dataframe(er.summary_table(summary, "share seen", percent_values=True), hide_index=True, width="stretch")
        st.caption("Where the KD − scratch spread straddles 0 there is no difference to see.")

    job_panel.live(JOB, draw)
    if store:
        st.button("Clear the chart", key="exp_little_clear", on_click=store.clear)
