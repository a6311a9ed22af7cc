"""Tab "T & λ sweep": Hinton's experiment 1, KD student accuracy against T (or λ), the compression curve (KD vs
scratch against the student's size, sweeping its width), and one input as T rises."""

from __future__ import annotations

import streamlit as st

from dashboard.figures import charts
from dashboard.figures import experiments as ef
from dashboard.figures import plots as figures
from dashboard.jobs import runner as jobs
from dashboard.page import headings, job_panel, resources
from dashboard.runs import experiments as er
from dashboard.text import run_settings, wording
from kd_core import RunConfig

TITLE = "Experiment 1 — how much does the temperature (or λ) matter?"
INTRO = (
    "For each value, a KD student is trained from the same initial weights as the scratch baseline; "
    "the baseline ignores T and λ, so it is trained once per seed and drawn as a reference line. "
    "The teacher is trained once per seed and cached."
)

SWEEP_OPTIONS = {
    "temperature": [0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 20.0, 32.0],
    "lam": [0.0, 0.1, 0.25, 0.5, 0.7, 0.9, 1.0],
    "student_width": [1, 2, 4, 8, 16, 32, 64, 128, 256],
}
SWEEP_DEFAULTS = {
    "temperature": [1.0, 2.0, 4.0, 8.0, 16.0],
    "lam": [0.0, 0.25, 0.5, 0.7, 0.9, 1.0],
    "student_width": [2, 4, 8, 16, 32, 64],
}
WIDTH_NOTE = (
    "**Compression curve.** Each width (hidden units of an MLP student, channels of a CNN one) trains its own KD "
    "student and its own scratch baseline from the same initial weights; x is the student's parameter count. "
    "Where the two curves part, the teacher's soft targets make up for the missing capacity or data; "
    "where they meet, the student is big enough to learn alone — or too small to hold what the teacher knows."
)
MULTIPLE_TEMPERATURES = [1.0, 2.0, 4.0, 8.0, 16.0]
JOB = "sweep"


def launcher(config: RunConfig, param: str, values: list[float], seeds: list[int]):
    def launch():
        fn = er.sweep_job(config, param, values, seeds, resources.teacher_cache())
        return fn, {
            "what": "Sweep",
            "stopped": "The charts keep what finished.",
            "config": config,
            "param": param,
            "values": values,
            "seeds": seeds,
        }

    return launch


def draw(snap: jobs.Snapshot | None) -> None:
    if snap is None:
        st.info("Pick values and click **Run sweep**: 5 values × 3 seeds on digits take well under a minute.")
        return
    meta = job_panel.job(JOB).meta
    param = meta["param"]
    rows = er.rows_of(snap.events)
    summary = er.summarize(rows)
    params = er.student_params(meta["config"], meta["values"]) if param == "student_width" else None
    charts.show(ef.sweep_figure(summary, param, rows, params), key="exp_sweep_chart")
    if summary:
        table = er.summary_table(summary, er.PARAM_SYMBOLS[param])
        if params:
            table.insert(
                1, "student parameters", [f"{params[e.value]:,}" for e in sorted(summary, key=lambda e: e.value)]
            )
        st.dataframe(table, hide_index=True, width="stretch")
    seeds = run_settings.seeds_text(meta["seeds"][0], len(meta["seeds"]))
    st.caption(f"Settings of this sweep: {run_settings.describe(meta['config'], seeds=seeds, skip=(param,))}.")


def one_input_as_t_rises(config: RunConfig) -> None:
    headings.section("One input, as T rises")
    st.caption(
        "The teacher's softmax(logits / T) for one test image: at T = 1 nearly all probability sits on one class; "
        "as T rises the runner-up classes — what the teacher thinks the image *resembles* — become visible. "
        "This is what the KD student is trained to match."
    )
    logits = resources.teacher_logits_or_button(config, "test", "this chart", "multiples")
    if logits is None:
        return
    dataset, _ = resources.dataset_or_problem(config.dataset)
    labels = dataset.y_test.numpy()
    left, right = charts.columns([1, 5])  # the panels full width, under the image, in presentation mode
    index = int(left.number_input("Test image #", 0, len(labels) - 1, 0, key="exp_sample_index"))
    image = figures.image_figure(
        dataset.image(index), wording.with_article(dataset.class_names[int(labels[index])]), size=140
    )
    charts.show(image, width="content", key="exp_sample_image", where=left)
    probabilities = er.softened_distributions(logits[index], MULTIPLE_TEMPERATURES)
    charts.show(
        ef.temperature_multiples_figure(
            probabilities,
            MULTIPLE_TEMPERATURES,
            dataset.class_names,
            int(labels[index]),
            every_class=bool(st.session_state.get("present")),  # full width there: ten labels at 16 px fit a panel
        ),
        key="exp_multiples_chart",
        where=right,
    )


def render(config: RunConfig) -> None:
    headings.title(TITLE)
    st.caption(INTRO)
    cols = st.columns([1, 3, 1])
    param = cols[0].radio(
        "Sweep", list(SWEEP_OPTIONS), key="exp_sweep_param", horizontal=True, format_func=lambda p: er.PARAM_SYMBOLS[p]
    )
    values = cols[1].multiselect(
        "Values",
        SWEEP_OPTIONS[param],
        default=SWEEP_DEFAULTS[param],
        key=f"exp_sweep_values_{param}",
        format_func=lambda v: f"{v:g}",
    )
    count = cols[2].slider(
        "Seeds", 1, 5, 3, key="exp_sweep_seeds", help="From the sidebar's seed on; mean ± sd over seeds."
    )
    st.caption(f"Fixed from the sidebar (change them there): {run_settings.describe(config, skip=(param,))}.")
    if param == "student_width":
        st.markdown(WIDTH_NOTE)
    values = sorted(values)
    job_panel.run_and_stop(
        JOB, "Run sweep", launcher(config, param, values, er.seeds_from(config, count)), disabled=not values
    )
    job_panel.live(JOB, draw)
    one_input_as_t_rises(config)
