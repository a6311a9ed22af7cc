"""Tab "Unseen class": Hinton's experiment 3, students trained without one class, and the bias correction."""

from __future__ import annotations

import numpy as np
import streamlit as st

from dashboard.figures import charts, closer
from dashboard.figures import experiments as ef
from dashboard.jobs import runner as jobs
from dashboard.page import headings, job_panel, resources
from dashboard.runs import experiments as er
from dashboard.text import run_settings, verdict, wording
from kd_core import RunConfig

TITLE = "Experiment 3 — a class the student never sees"
INTRO = (
    "The teacher learns every class; the students are trained with one class removed from their data. "
    "The scratch student cannot predict a class it never saw. The KD student never sees one either — "
    "but the teacher's soft targets on the *other* images (how much a 5 or an 8 looks like a 3) tell it "
    "something. In the paper the distilled student got 98.6 % of the omitted 3s right after a bias correction."
)

state = st.session_state
JOB = "omitted"
BIASES = np.round(np.arange(-2.0, 12.001, 0.25), 2)


def launcher(config: RunConfig, cls: int):
    def launch():
        return er.omitted_class_job(config, cls, resources.teacher_cache()), {
            "what": "Training",
            "stopped": "The charts keep what finished.",
            "config": config,
            "class": cls,
        }

    return launch


def render(config: RunConfig) -> None:
    headings.title(TITLE)
    st.caption(INTRO)
    dataset, problem = resources.dataset_or_problem(config.dataset)
    if dataset is None:  # the app already shows why the dataset is unavailable
        st.info(f"Pick an available dataset ({problem}).")
        return
    names = dataset.class_names
    cols = st.columns(4)
    cls = cols[0].selectbox(
        "Class to hide", list(range(len(names))), index=3, key="exp_omit_class", format_func=lambda c: names[c]
    )
    temperature = cols[1].slider(
        "T", 1.0, 20.0, 8.0, 0.5, key="exp_omit_T", help="Paper-like: high T, soft targets only."
    )
    lam = cols[2].slider("λ", 0.0, 1.0, 1.0, 0.05, key="exp_omit_lam", help="1 = soft targets only.")
    epochs = int(
        cols[3].number_input(
            "Student epochs",
            1,
            er.MAX_EPOCHS,
            50,
            key="exp_omit_epochs",
            help="A small student needs more than the default 20 to copy the teacher's view of a class it never sees.",
        )
    )
    run_config = er.omitted_class_config(config, temperature, lam, epochs)
    st.caption(
        f"This tab's controls win over the sidebar's, and the students see every training image of the other "
        f"classes (the sidebar's share of the data does not apply here). The run: class {names[cls]} hidden, "
        f"{run_settings.describe(run_config, seeds=f'seed {config.seed}')}. The rest (models, width, learning rate, "
        "seed) comes from the sidebar: change it there."
    )
    job_panel.run_and_stop(JOB, "Train without it", launcher(run_config, cls))

    def draw(snap: jobs.Snapshot | None) -> None:
        if snap is None:
            st.info(
                "Click **Train without it**: the teacher (cached), a KD student and a scratch student, "
                "a few seconds on digits."
            )
        elif snap.status == jobs.COMPLETED and snap.result is not None and snap.result.status == "completed":
            state["exp_omitted_result"] = snap.result

    job_panel.live(JOB, draw)
    result: er.OmittedClassResult | None = state.get("exp_omitted_result")
    if result is None or job_panel.active(JOB):
        return
    shown = names[result.omit_class]
    st.caption(
        f"Result of: class {shown} hidden, "
        + run_settings.describe(result.config, result.config.epochs, f"seed {result.config.seed}", skip=("omit_class",))
        + "."
    )
    cols = st.columns(4)
    run = result.result
    cols[0].metric(f"KD student on {shown}", f"{result.class_accuracy('student'):.0%}")
    if run.baseline is not None:
        cols[1].metric(f"Scratch student on {shown}", f"{result.class_accuracy('baseline'):.0%}")
        cols[3].metric("Scratch overall", f"{run.baseline.accuracy:.2%}")
    cols[2].metric("KD overall", f"{run.student.accuracy:.2%}")
    per_class = {
        phase: None if getattr(run, phase) is None else getattr(run, phase).per_class_accuracy
        for phase in ("teacher", "student", "baseline")
    }
    charts.show(closer.per_class_figure(per_class, names, result.omit_class), key="exp_per_class_chart")

    headings.section("The bias correction")
    st.caption(
        f"The KD student learned *what* {wording.with_article(shown)} looks like, but its output bias for {shown} "
        f"was only ever pushed down. Adding a constant to that one logit after training — no retraining — "
        f"recovers much of it. "
        f"The curve is computed on the test set, so the best bias is a demonstration, not a tuned model."
    )
    curve = er.bias_curve(result, BIASES)
    best = er.best_bias(curve)
    bias = st.slider(
        f"Added to class {shown}'s output bias", float(BIASES[0]), float(BIASES[-1]), 0.0, 0.25, key="exp_bias"
    )
    point = er.bias_correction(result, bias)
    plain = curve[int(np.argmin(np.abs(BIASES)))]
    cols = st.columns(3)
    cols[0].metric(
        f"KD on {shown} at this bias",
        f"{point.class_accuracy:.0%}",
        **verdict.delta(100 * (point.class_accuracy - plain.class_accuracy), 0),
    )
    cols[1].metric(
        "KD overall at this bias",
        f"{point.overall_accuracy:.2%}",
        **verdict.delta(100 * (point.overall_accuracy - plain.overall_accuracy), 2),
    )
    cols[2].metric(
        "Best overall bias",
        f"{best.bias:+g}",
        help=f"{best.overall_accuracy:.2%} overall, {best.class_accuracy:.0%} on {shown}",
    )
    charts.show(ef.bias_curve_figure(curve, shown, bias, best), key="exp_bias_chart")
