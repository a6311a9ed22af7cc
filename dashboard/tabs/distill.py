"""Tab "Distill": the sidebar's buttons, the live view of the "main" job, and the report of the last run."""
from __future__ import annotations

import streamlit as st

from dashboard import figures, job_panel, jobs, resources, runs
from dashboard.tabs import history
from kd_core import RunConfig

state = st.session_state
JOB = "main"  # Distill and Train / load teacher share one job: one Stop button serves both


def launcher(kind: str, config: RunConfig):
    """What ``job_panel.run_button`` starts for Distill ("distill") or Train / load teacher ("teacher")."""

    def launch():
        cache = resources.teacher_cache()
        dataset, _ = resources.dataset_or_problem(config.dataset)
        if kind == "teacher":
            fn, what, phases = runs.load_or_train_teacher, "Teacher", ("teacher",)
        else:
            fn, what, phases = runs.distill, "Distillation", ("teacher", "student", "baseline")
        # runs.distill is looked up at the click (not bound earlier), so tests can replace it
        return (lambda on_event, stop: fn(config, cache, on_event, stop)), \
            {"kind": kind, "what": what, "config": config, "plan": runs.planned_steps(config, dataset, phases)}

    return launch


def sidebar_buttons(where, config: RunConfig, usable: bool) -> None:
    job_panel.run_button(where, "Distill", JOB, launcher("distill", config), key="distill", type="primary",
                         disabled=not usable, width="stretch",
                         help="Train the KD student from the teacher's soft targets, and the same small model from scratch for comparison.")
    job_panel.stop_button(where, JOB, key="stop", width="stretch", help="End the run now; what was drawn stays on the page.")
    job_panel.run_button(where, "Train / load teacher", JOB, launcher("teacher", config), key="teacher_button",
                         disabled=not usable, width="stretch",
                         help="Train the teacher with these settings, or load it at once if it is already cached.")


def collect_finished_job() -> None:
    """Once per finished job: keep its outputs (teacher logits, report, history row)."""
    snap = job_panel.finished_once(JOB)
    if snap is None:
        return
    meta = job_panel.job(JOB).meta
    outcome = snap.result
    resources.remember_teacher(outcome)
    if meta.get("kind") != "distill":
        return
    if isinstance(outcome, runs.DistillOutcome) and outcome.result.status == "completed":
        state["outcome"] = outcome
        resources.remember(outcome.result.config, "test", outcome.teacher_logits)
    state.setdefault("history", []).append(history.row(meta["config"], snap, job_panel.error_line(snap)))


def draw_job(snap: jobs.Snapshot | None) -> None:
    """The live charts of the "main" job (its status line is drawn by the job panel)."""
    if snap is None:
        st.info("Click **Distill** in the sidebar to train the teacher (or load it from the cache), "
                "the KD student and the scratch baseline. The charts draw live.")
        return
    if snap.status == jobs.COMPLETED and job_panel.job(JOB).meta.get("kind") == "teacher" and snap.result is not None:
        st.success("Teacher loaded from the cache." if snap.result.from_cache else "Teacher trained and cached.")
    left, right = st.columns(2)
    left.plotly_chart(figures.loss_figure(snap.events), width="stretch", key="loss_chart")
    right.plotly_chart(figures.accuracy_figure(snap.events), width="stretch", key="accuracy_chart")
    if any(e.kind == "epoch" and e.phase == "teacher" and e.steps == 0 for e in snap.events):
        st.caption("The teacher came from the cache: its accuracy per epoch is replayed; its per-step losses were not stored.")


def report(outcome: runs.DistillOutcome, job: jobs.Job | None) -> None:
    """The payoff: how the small student compares with the teacher and with itself trained from scratch."""
    result = outcome.result
    teacher, student, baseline = result.teacher, result.student, result.baseline
    st.subheader("Results")
    c = result.config
    settings = (f"{c.teacher} → {c.student}, T = {c.temperature:g}, λ = {c.lam:g}, {c.teacher_epochs} + {c.epochs} epochs, "
                f"lr {c.lr:g}, batch {c.batch_size}, seed {c.seed}")
    cached = " — served from the results cache: these exact settings were trained before, so nothing retrained."
    st.caption(f"Settings of this run: {settings}" + (cached if result.from_results_cache else ""))
    cols = st.columns(4)
    cols[0].metric("Teacher accuracy", f"{teacher.accuracy:.2%}")
    cols[1].metric("KD student accuracy", f"{student.accuracy:.2%}")
    cols[2].metric("Scratch baseline accuracy", f"{baseline.accuracy:.2%}")
    gain = 100 * (student.accuracy - baseline.accuracy)
    cols[3].metric("KD − baseline", f"{gain:+.2f} points", delta=f"{gain:+.2f}",
                   help="Same small model, same initial weights, same batches: the only difference is the teacher's soft targets.")
    cols = st.columns(4)
    cols[0].metric("Student–teacher agreement", f"{student.agreement:.1%}",
                   help="Share of test images where the student predicts the same class as the teacher.")
    cols[1].metric("Baseline–teacher agreement", f"{baseline.agreement:.1%}")
    cols[2].metric("Parameters: teacher / student", f"{teacher.params:,} / {student.params:,}",
                   help=f"Sizes: {teacher.size_bytes / 1024:.1f} KiB vs {student.size_bytes / 1024:.1f} KiB")
    cols[3].metric("Size ratio", f"{teacher.size_bytes / student.size_bytes:.1f}× smaller",
                   help="How many times fewer bytes the student's weights take than the teacher's.")
    latency = outcome.latency_seconds
    cols = st.columns(4)
    cols[0].metric("Teacher latency per image", f"{1e6 * latency['teacher']:.0f} µs")
    cols[1].metric("Student latency per image", f"{1e6 * latency['student']:.0f} µs")
    cols[2].metric("Speed-up", f"{latency['teacher'] / latency['student']:.1f}×",
                   help="Measured now, one image per forward pass, median of 5 × 200 calls: the reason KD exists.")
    if job is not None and job.finished_at is not None:
        cols[3].metric("Run time", f"{job.finished_at - job.created_at:.1f} s",
                       help="From the click to the report" + (" (teacher loaded from the cache)." if result.teacher_from_cache else "."))


def render(config: RunConfig) -> None:
    outcome: runs.DistillOutcome | None = state.get("outcome")
    job = job_panel.job(JOB)
    if outcome is not None and not job_panel.active(JOB):
        same_job = job is not None and job.meta.get("kind") == "distill" and job.result is outcome
        if not same_job:
            st.caption("From your last completed distillation:")
        report(outcome, job if same_job else None)
    job_panel.live(JOB, draw_job)
