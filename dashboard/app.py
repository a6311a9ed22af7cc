"""kd-dashboard: see knowledge distillation work.  Start with ``make run`` or ``kd-dashboard``.

Layout: the sidebar holds every input (settings and buttons); the main area holds outputs, in tabs.
Training runs in a background job per browser session (dashboard/jobs.py), so moving a slider or
switching tabs never stops it; a fragment polls the job twice a second to redraw the live charts.
"""
from __future__ import annotations

import datetime
import json
import random
import time
from typing import Callable

import numpy as np
import pandas as pd
import streamlit as st
import torch
# torch.optim's first optimizer imports torch._dynamo: 1.5 s of pure-Python import on an idle machine.  Inside a
# training thread, sharing the GIL with every session's script thread, that import took over a minute in the soak
# test, and every other training waited on its import lock.  So the server does it once, here, before any training.
import torch._dynamo  # noqa: F401

from kd_core import ARCHITECTURES, DATASETS, DEFAULT_PAIRS, ConfigError, Dataset, RunConfig, TeacherCache
from kd_core import load_dataset, soften, validate
from dashboard import experiments_page, figures, jobs, runs

st.set_page_config(page_title="Knowledge distillation", page_icon="🎓", layout="wide")
# One CPU thread per training: dashboard.jobs already runs up to one training per core at once, and torch's
# default (a thread per core, spinning while it waits) made the tiny digits models 5-20x slower whenever
# anything else was busy (the Streamlit server, the browser, other trainings).
torch.set_num_threads(1)
state = st.session_state

LEARNING_RATES = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0]
BATCH_SIZES = [16, 32, 64, 128, 256, 512]
POLL_SECONDS = 0.5  # the live view redraws at least twice a second


# ---------------------------------------------------------------- loaders (cached across reruns and sessions)

@st.cache_resource(show_spinner="Loading the dataset…", ttl=300)
def dataset_or_problem(name: str) -> tuple[Dataset | None, str | None]:
    """The dataset, or None and a one-line reason.  Cached with a TTL so a failed download is not
    retried on every rerun (it takes seconds offline), yet files put in place later are found."""
    try:
        return load_dataset(name), None
    except Exception as error:  # DatasetUnavailable above all; anything else is shown the same way
        return None, jobs.one_line(error)


@st.cache_resource
def teacher_cache() -> TeacherCache:
    """One on-disk teacher cache for the whole server (folder: $KD_CACHE_DIR or a per-user cache)."""
    return TeacherCache()


@st.cache_resource(show_spinner=False, max_entries=32)
def untrained_student_logits(dataset_name: str, student: str, seed: int) -> np.ndarray:
    dataset, _ = dataset_or_problem(dataset_name)
    return runs.untrained_student_logits(RunConfig(dataset=dataset_name, student=student, seed=seed), dataset)


# ---------------------------------------------------------------- sidebar: the inputs

def on_dataset_change() -> None:
    """A new dataset brings its own default teacher/student pair; the sample index starts over."""
    state["teacher"], state["student"] = DEFAULT_PAIRS[state["dataset"]]
    state["sample_index"] = 0


def sidebar_config() -> RunConfig:
    """Every setting of a run, from the sidebar's widgets.  Other tabs reuse this config."""
    sidebar = st.sidebar
    sidebar.header("Settings")
    state.setdefault("dataset", "digits")
    dataset = sidebar.selectbox(
        "Dataset", list(DATASETS), key="dataset", on_change=on_dataset_change,
        format_func=lambda name: f"{name} (built in)" if name == "digits" else name,
        help="The images teacher and student learn from; digits is built in, the others need their files on disk.",
    )
    state.setdefault("teacher", DEFAULT_PAIRS[dataset][0])
    state.setdefault("student", DEFAULT_PAIRS[dataset][1])
    names = list(ARCHITECTURES)
    describe = lambda name: f"{name} — {ARCHITECTURES[name][0]}"  # noqa: E731
    teacher = sidebar.selectbox("Teacher architecture", names, key="teacher", format_func=describe,
                                help="The big model trained first on the labels; its softened outputs become the student's targets.")
    student = sidebar.selectbox("Student architecture", names, key="student", format_func=describe,
                                help="The small model that learns from the teacher (KD student) and, as a control, from labels alone (baseline).")
    temperature = sidebar.slider("Temperature T", 1.0, 20.0, 4.0, 0.5, key="temperature",
                                 help="Divides the logits before the softmax: higher T spreads probability onto the wrong-but-plausible classes.")
    lam = sidebar.slider("λ (weight of the soft loss)", 0.0, 1.0, 0.7, 0.05, key="lam",
                         help="How much the student copies the teacher's softened outputs (λ) versus the true labels (1 − λ).")
    epochs = sidebar.slider("Epochs (student)", 1, 50, 20, key="epochs",
                            help="Passes over the training set for the KD student and the scratch baseline alike.")
    teacher_epochs = sidebar.slider("Teacher epochs", 1, 100, 30, key="teacher_epochs",
                                    help="Passes over the training set for the teacher; a teacher already trained with these settings loads from the cache.")
    lr = sidebar.select_slider("Learning rate", LEARNING_RATES, 1e-2, key="lr", format_func=lambda v: f"{v:g}",
                               help="Adam's step size for teacher and students; too high and the loss diverges.")
    batch_size = sidebar.select_slider("Batch size", BATCH_SIZES, 64, key="batch_size",
                                       help="Images per optimizer step; the student sees the teacher's soft targets for the same images.")
    seed = sidebar.slider("Seed", 0, 100, 0, key="seed",
                          help="Fixes the initial weights and batch order: KD student and baseline start identical, so the comparison is fair.")
    return RunConfig(dataset=dataset, teacher=teacher, student=student, temperature=float(temperature), lam=float(lam),
                     epochs=int(epochs), teacher_epochs=int(teacher_epochs), lr=float(lr), batch_size=int(batch_size),
                     seed=int(seed))


# ---------------------------------------------------------------- the background job of this session

def current_job() -> jobs.Job | None:
    return state.get("job")


def job_is_active() -> bool:
    job = current_job()
    return job is not None and not job.done


def start(kind: str, config: RunConfig, fn: Callable) -> None:
    """Start ``fn(on_event, stop)`` as this session's job."""
    if job_is_active():
        return  # a double click must not start a second run
    dataset, _ = dataset_or_problem(config.dataset)
    phases = ("teacher",) if kind == "teacher" else ("teacher", "student", "baseline")
    state["job_kind"], state["job_config"] = kind, config
    state["job_plan"] = runs.planned_steps(config, dataset, phases)
    state["job"] = jobs.start_job(fn, name=kind)


def start_teacher(config: RunConfig) -> None:
    cache = teacher_cache()
    start("teacher", config, lambda on_event, stop: runs.load_or_train_teacher(config, cache, on_event, stop))


def start_distill(config: RunConfig) -> None:
    cache = teacher_cache()
    start("distill", config, lambda on_event, stop: runs.distill(config, cache, on_event, stop))


def stop_job() -> None:
    job = current_job()
    if job is not None:
        job.stop(wait=5.0)  # the engine checks between steps, so this returns within a step


def collect_finished_job() -> None:
    """Once per finished job: keep its outputs (teacher logits, report, history row)."""
    job = current_job()
    if job is None or not job.done or state.get("collected_job") == job.id:
        return
    state["collected_job"] = job.id
    snap = job.snapshot()
    outcome = snap.result
    if isinstance(outcome, runs.TeacherOutcome) and not outcome.cancelled:
        state.setdefault("teacher_logits", {})[outcome.config.teacher_key()] = outcome.teacher_logits
    if state.get("job_kind") != "distill":
        return
    if isinstance(outcome, runs.DistillOutcome) and outcome.result.status == "completed":
        state["outcome"] = outcome
        state.setdefault("teacher_logits", {})[outcome.result.config.teacher_key()] = outcome.teacher_logits
    state.setdefault("history", []).append(history_row(state["job_config"], snap))


def error_line(snap: jobs.Snapshot) -> str:
    """The worker's exception as one readable line (never a traceback)."""
    known = {"Diverged": "", "ConfigError": "Invalid setting: ", "DatasetUnavailable": "Dataset not available: "}
    if snap.error_type in known:
        return known[snap.error_type] + (snap.error or "")
    return f"The training worker stopped with an error ({snap.error_type}): {snap.error}"


# ---------------------------------------------------------------- sidebar: the buttons

def sidebar_buttons(where, config: RunConfig, usable: bool) -> None:
    active = job_is_active()
    # A click acts in the script run it triggers, on that run's settings.  (An on_click callback with
    # args=(config,) gets the config of the run that drew the button: a click that came before a slider's
    # rerun had finished trained the old settings.)
    distill = where.button("Distill", key="distill", type="primary", disabled=active or not usable, width="stretch",
                           help="Train the KD student from the teacher's soft targets, and the same small model from scratch for comparison.")
    where.button("Stop", key="stop", on_click=stop_job, disabled=not active, width="stretch",
                 help="End the run now; what was drawn stays on the page.")
    teacher = where.button("Train / load teacher", key="teacher_button", disabled=active or not usable, width="stretch",
                           help="Train the teacher with these settings, or load it at once if it is already cached.")
    if (distill or teacher) and usable and not active:
        (start_distill if distill else start_teacher)(config)
        st.rerun()  # draw the buttons disabled and start the live view's polling


# ---------------------------------------------------------------- tab: Distill (live view and report)

def live_view(active_at_rerun: bool) -> None:
    """Progress, errors and the live charts of this session's job; polls only while a job runs."""

    @st.fragment(run_every=POLL_SECONDS if active_at_rerun else None)
    def draw() -> None:
        job = current_job()
        if job is None:
            st.info("Click **Distill** in the sidebar to train the teacher (or load it from the cache), "
                    "the KD student and the scratch baseline. The charts draw live.")
            return
        snap = job.snapshot()
        if active_at_rerun and snap.finished:
            st.rerun()  # a full rerun refreshes the buttons, the report and the history, and stops polling
        kind = "Teacher" if state.get("job_kind") == "teacher" else "Distillation"
        if snap.status == jobs.QUEUED:
            st.info(f"{kind} is waiting for a free trainer: position {snap.queue_position} in the queue "
                    f"(at most {jobs.MAX_CONCURRENT} train at once on this server).")
        elif snap.status == jobs.RUNNING:
            running_for = seconds_since(snap.started_at)
            progress = runs.progress(snap.events, state["job_plan"], running_for)
            eta = "" if progress.eta_seconds is None else f" — about {runs.format_seconds(progress.eta_seconds)} left"
            st.progress(progress.fraction, text=f"{kind} running: {progress.text}{eta}")
        elif snap.status == jobs.FAILED:
            st.error(error_line(snap))
        elif snap.status == jobs.CANCELLED:
            st.warning(f"{kind} stopped. The charts keep what was drawn.")
        elif kind == "Teacher" and snap.result is not None:
            st.success("Teacher loaded from the cache." if snap.result.from_cache else "Teacher trained and cached.")
        left, right = st.columns(2)
        left.plotly_chart(figures.loss_figure(snap.events), width="stretch", key="loss_chart")
        right.plotly_chart(figures.accuracy_figure(snap.events), width="stretch", key="accuracy_chart")
        if any(e.kind == "epoch" and e.phase == "teacher" and e.steps == 0 for e in snap.events):
            st.caption("The teacher came from the cache: its accuracy per epoch is replayed; its per-step losses were not stored.")

    draw()


def seconds_since(since: float | None) -> float | None:
    return None if since is None else time.monotonic() - since


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
    cols[0].metric("Teacher accuracy", f"{teacher['accuracy']:.2%}")
    cols[1].metric("KD student accuracy", f"{student['accuracy']:.2%}")
    cols[2].metric("Scratch baseline accuracy", f"{baseline['accuracy']:.2%}")
    gain = 100 * (student["accuracy"] - baseline["accuracy"])
    cols[3].metric("KD − baseline", f"{gain:+.2f} points", delta=f"{gain:+.2f}",
                   help="Same small model, same initial weights, same batches: the only difference is the teacher's soft targets.")
    cols = st.columns(4)
    cols[0].metric("Student–teacher agreement", f"{student['agreement']:.1%}",
                   help="Share of test images where the student predicts the same class as the teacher.")
    cols[1].metric("Baseline–teacher agreement", f"{baseline['agreement']:.1%}")
    cols[2].metric("Parameters: teacher / student", f"{teacher['params']:,} / {student['params']:,}",
                   help=f"Sizes: {teacher['size_bytes'] / 1024:.1f} KiB vs {student['size_bytes'] / 1024:.1f} KiB")
    cols[3].metric("Size ratio", f"{teacher['size_bytes'] / student['size_bytes']:.1f}× smaller",
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


def distill_tab(config: RunConfig) -> None:
    active = job_is_active()
    outcome: runs.DistillOutcome | None = state.get("outcome")
    job = current_job()
    if outcome is not None and not active:
        same_job = job is not None and state.get("job_kind") == "distill" and job.result is outcome
        if not same_job:
            st.caption("From your last completed distillation:")
        report(outcome, job if same_job else None)
    live_view(active)


# ---------------------------------------------------------------- tab: Probabilities

def pick_random_sample(count: int) -> None:
    state["sample_index"] = random.randrange(count)


def pick_sample_of_class(labels: np.ndarray) -> None:
    chosen = state.get("sample_class")
    if chosen is not None:
        state["sample_index"] = int(random.choice(np.flatnonzero(labels == chosen)))


def models_for_bars(config: RunConfig, dataset: Dataset) -> tuple[np.ndarray | None, np.ndarray, str, str]:
    """(teacher logits or None, student logits, student label, caption) over the test set."""
    outcome: runs.DistillOutcome | None = state.get("outcome")
    if outcome is not None and outcome.result.config.dataset == config.dataset:
        c = outcome.result.config
        return (outcome.teacher_logits, outcome.student_logits, "KD student",
                f"Models from your last distillation ({c.teacher} → {c.student}, trained at T = {c.temperature:g}, λ = {c.lam:g}).")
    teacher = teacher_logits_for(config, dataset)
    student = untrained_student_logits(config.dataset, config.student, config.seed)
    caption = "Before any distillation: the student's bars are those of the **untrained** student (random initial weights)."
    if teacher is None:
        caption += " No teacher is trained with these settings yet: click **Train / load teacher**."
    return teacher, student, "Untrained student", caption


def teacher_logits_for(config: RunConfig, dataset: Dataset) -> np.ndarray | None:
    """The test-set logits of the teacher these settings name: from this session, else from the disk cache."""
    known = state.setdefault("teacher_logits", {})
    key = validate(config).teacher_key()
    if key not in known:
        logits = runs.cached_teacher_logits(config, dataset, teacher_cache())
        if logits is None:
            return None
        known[key] = logits
    return known[key]


def probabilities_tab(config: RunConfig, dataset: Dataset) -> None:
    labels = dataset.y_test.numpy()
    count = len(labels)
    state.setdefault("sample_index", 0)
    state["sample_index"] = min(state["sample_index"], count - 1)
    cols = st.columns([2, 1, 2, 2], vertical_alignment="bottom")
    index = cols[0].number_input("Test sample #", 0, count - 1, key="sample_index", step=1,
                                 help="Which test image to look at.")
    cols[1].button("Random sample", on_click=pick_random_sample, args=(count,), key="random_sample")
    cols[2].selectbox("Random sample of class", list(range(dataset.num_classes)), index=None, key="sample_class",
                      format_func=lambda c: dataset.class_names[c], placeholder="any class",
                      on_change=pick_sample_of_class, args=(labels,))
    compare = cols[3].toggle("Compare with T = 1", key="compare_t1",
                             help="Add the unsoftened probabilities (T = 1): what the labels-only view looks like.")
    teacher_logits, student_logits, student_label, caption = models_for_bars(config, dataset)
    st.caption(caption)
    index = int(index)
    T = config.temperature

    def probs(logits: np.ndarray | None, temperature: float) -> np.ndarray | None:
        return None if logits is None else soften(torch.from_numpy(logits[index]), temperature).numpy()

    image_col, bars_col = st.columns([1, 3])
    true_class = dataset.class_names[labels[index]]
    image_col.plotly_chart(figures.image_figure(dataset.image(index), f"#{index}: a {true_class}"),
                           width="content", key="sample_image")
    if teacher_logits is not None:
        image_col.write(f"Teacher predicts **{dataset.class_names[int(teacher_logits[index].argmax())]}**")
    image_col.write(f"{student_label} predicts **{dataset.class_names[int(student_logits[index].argmax())]}**")
    figure = figures.probability_figure(
        probs(teacher_logits, T), probs(student_logits, T), dataset.class_names, T, student_label,
        teacher_at_1=probs(teacher_logits, 1.0) if compare else None,
        student_at_1=probs(student_logits, 1.0) if compare else None,
    )
    bars_col.plotly_chart(figure, width="stretch", key="probability_bars")
    st.caption("Move **Temperature T** in the sidebar: the bars redraw at once from stored logits — nothing retrains.")


# ---------------------------------------------------------------- tab: What is happening

def explanation_tab(config: RunConfig, dataset: Dataset | None) -> None:
    T, lam = config.temperature, config.lam
    st.markdown("The student minimises a weighted sum of two losses:")
    st.latex(r"\mathcal{L} = \lambda\,T^2\,\mathrm{KL}\big(\mathrm{softmax}(z_t/T)\,\|\,\mathrm{softmax}(z_s/T)\big)"
             r" + (1-\lambda)\,\mathrm{CE}\big(\mathrm{softmax}(z_s),\,y\big)")
    st.markdown(f"With your settings, **T = {T:g}** and **λ = {lam:g}**:")
    st.latex(rf"\mathcal{{L}} = {lam:g}\cdot {T:g}^2\,\mathrm{{KL}}\big(\mathrm{{softmax}}(z_t/{T:g})\,\|\,"
             rf"\mathrm{{softmax}}(z_s/{T:g})\big) + {1 - lam:.2f}\,\mathrm{{CE}}\big(\mathrm{{softmax}}(z_s),\,y\big)"
             rf" = {lam * T * T:.4g}\,\mathrm{{KL}} + {1 - lam:.2f}\,\mathrm{{CE}}")
    st.markdown(
        "$z_t$ and $z_s$ are the teacher's and the student's logits, $y$ the true label. "
        "The **soft loss** (KL) pulls the student's softened probabilities toward the teacher's; the **hard loss** (CE) "
        "toward the label. The $T^2$ keeps the soft loss's gradients on the same scale whatever the temperature, "
        "so λ means the same thing at T = 2 and at T = 20."
    )
    st.markdown(
        "**Why softened targets carry “dark knowledge”.** A one-hot label says only *this is a 3*. A trained teacher "
        "says much more: that this 3 looks a little like an 8 and a bit like a 5, but nothing like a 1. At T = 1 those "
        "wrong-answer probabilities are tiny (0.001 vs 0.0000001) and barely affect the loss. Dividing the logits by "
        "T > 1 lifts them, so the student learns *which wrong answers the teacher finds plausible* — how the classes "
        "resemble each other. That similarity structure is information the labels never contained, and it lets a small "
        "student generalise better than the same model trained on labels alone (the scratch baseline)."
    )
    if dataset is None:
        return
    teacher = models_for_bars(config, dataset)[0]
    if teacher is None:
        return
    index = int(state.get("sample_index", 0))
    p = soften(torch.from_numpy(teacher[index]), T).numpy()
    order = np.argsort(p)[::-1]
    runners = ", ".join(f"{dataset.class_names[c]} ({p[c]:.1%})" for c in order[1:4])
    st.info(f"Right now, on test sample #{index} (a {dataset.class_names[int(dataset.y_test[index])]}), the teacher at "
            f"T = {T:g} gives {p[order[0]]:.1%} to **{dataset.class_names[order[0]]}**, and to the runners-up: {runners}. "
            "Those runner-up probabilities are the dark knowledge the student is trained on.")


# ---------------------------------------------------------------- tab: History

def history_row(config: RunConfig, snap: jobs.Snapshot) -> dict:
    """One line of the session's run history: the settings and, when the run completed, its results."""
    row = {
        "finished": datetime.datetime.now().strftime("%H:%M:%S"), "status": snap.status,
        **{name: value for name, value in config.to_dict().items()
           if name in ("dataset", "teacher", "student", "temperature", "lam", "epochs", "teacher_epochs", "lr", "batch_size", "seed")},
    }
    outcome = snap.result
    if isinstance(outcome, runs.DistillOutcome) and outcome.result.status == "completed":
        r = outcome.result
        row.update({
            "teacher_acc_%": round(100 * r.teacher["accuracy"], 2),
            "student_acc_%": round(100 * r.student["accuracy"], 2),
            "baseline_acc_%": round(100 * r.baseline["accuracy"], 2),
            "kd_minus_baseline_points": round(100 * (r.student["accuracy"] - r.baseline["accuracy"]), 2),
            "agreement_%": round(100 * r.student["agreement"], 2),
            "teacher_params": r.teacher["params"], "student_params": r.student["params"],
            "teacher_latency_us": round(1e6 * outcome.latency_seconds["teacher"], 1),
            "student_latency_us": round(1e6 * outcome.latency_seconds["student"], 1),
            "teacher_from_cache": r.teacher_from_cache,
            "from_results_cache": r.from_results_cache,
        })
    if snap.finished_at is not None:
        row["seconds"] = round(snap.finished_at - snap.created_at, 2)
    if snap.error:
        row["error"] = error_line(snap)
    return row


def history_tab() -> None:
    rows = state.get("history", [])
    if not rows:
        st.info("Every distillation of this session is listed here, with its settings and results.")
        return
    table = pd.DataFrame(rows)
    st.dataframe(table, hide_index=True, width="stretch")
    left, right = st.columns(2)
    left.download_button("Download CSV", table.to_csv(index=False), "kd-history.csv", "text/csv", key="download_csv")
    right.download_button("Download JSON", json.dumps(rows, indent=2), "kd-history.json", "application/json",
                          key="download_json")


# ---------------------------------------------------------------- the page

def main() -> None:
    collect_finished_job()
    buttons = st.sidebar.container()  # drawn first so the buttons sit at the top; filled once the config is known
    config = sidebar_config()
    st.title("Knowledge distillation, live")
    st.caption("A big **teacher** learns the labels; a small **student** learns from the teacher's softened probabilities; "
               "the same small model trained on labels alone (the **scratch baseline**) shows what the teacher adds.")
    dataset, problem = dataset_or_problem(config.dataset)
    usable = dataset is not None
    if problem:
        st.error(f"Dataset '{config.dataset}' is not available offline: {problem}")
    try:
        validate(config, train_size=None if dataset is None else len(dataset.y_train))
    except ConfigError as error:
        st.error(f"Invalid setting: {error}")
        usable = False
    sidebar_buttons(buttons, config, usable)

    # Tabs are name -> function(config, dataset); a new tab is one more entry here.
    tabs: dict[str, Callable[[], None]] = {
        "Distill": lambda: distill_tab(config),
        "Probabilities": lambda: probabilities_tab(config, dataset) if usable else st.info("Pick an available dataset."),
        "What is happening": lambda: explanation_tab(config, dataset if usable else None),
        "History": history_tab,
        **experiments_page.tabs(config, usable),  # Hinton's three experiments + dark knowledge
    }
    for container, draw in zip(st.tabs(list(tabs), key="main_tabs"), tabs.values()):
        with container:
            draw()


main()
