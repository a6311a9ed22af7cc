"""Hinton's three experiments and the dark-knowledge heatmap, as dashboard tabs.

    experiments_page.tabs(config) -> {"T & λ sweep": draw, "Little data": draw, "Unseen class": draw, "Dark knowledge": draw}

Each ``render_*`` function takes the sidebar's RunConfig. Training runs as background jobs
(``dashboard/jobs.py``), one per tab and browser session, drawn live by a polling fragment; the engine
work is ``kd_core.experiments``. Widget and session-state keys all start with ``exp_``.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import pandas as pd
import streamlit as st
import torch

from dashboard import experiment_figures as ef
from dashboard import jobs
from kd_core import ConfigError, RunConfig, TeacherCache, load_dataset, validate
from kd_core import experiments as ex
from kd_core.config import MAX_EPOCHS

state = st.session_state
POLL_SECONDS = 0.5
SWEEP_OPTIONS = {
    "temperature": [0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 20.0, 32.0],
    "lam": [0.0, 0.1, 0.25, 0.5, 0.7, 0.9, 1.0],
}
SWEEP_DEFAULTS = {"temperature": [1.0, 2.0, 4.0, 8.0, 16.0], "lam": [0.0, 0.25, 0.5, 0.7, 0.9, 1.0]}
MULTIPLE_TEMPERATURES = [1.0, 2.0, 4.0, 8.0, 16.0]
DARK_KNOWLEDGE_LIMIT = 10_000  # examples of the training set behind the heatmap (all of digits)
BIASES = np.round(np.arange(-2.0, 12.001, 0.25), 2)


@st.cache_resource
def teacher_cache() -> TeacherCache:
    """The on-disk teacher cache ($KD_CACHE_DIR or the per-user folder), shared with the rest of the app."""
    return TeacherCache()


def tabs(config: RunConfig, usable: bool = True) -> dict[str, Callable[[], None]]:
    """The experiment tabs, name -> draw(), for the app's tab list; with ``usable`` False (no dataset, or an
    invalid setting, which the app already reports) each tab only says so."""
    renders = {
        "T & λ sweep": render_sweep_tab,
        "Little data": render_little_data_tab,
        "Unseen class": render_omitted_class_tab,
        "Dark knowledge": render_dark_knowledge_tab,
    }
    if not usable:
        return {name: lambda: st.info("Pick an available dataset and valid settings in the sidebar.") for name in renders}
    return {name: (lambda render=render: render(config)) for name, render in renders.items()}


# ---------------------------------------------------------------- jobs: one per tab and session

def job(name: str) -> jobs.Job | None:
    return state.get(f"exp_job_{name}")


def job_active(name: str) -> bool:
    current = job(name)
    return current is not None and not current.done


def start_job(name: str, fn: Callable, meta: dict) -> None:
    """Run ``fn(on_event, stop)`` as this tab's job (a double click starts nothing more)."""
    if job_active(name):
        return
    state[f"exp_meta_{name}"] = meta
    state[f"exp_job_{name}"] = jobs.start_job(fn, name=f"experiment-{name}")


def stop_job(name: str) -> None:
    current = job(name)
    if current is not None:
        current.stop(wait=5.0)


def run_buttons(name: str, label: str, on_start: Callable, args: tuple, disabled: bool = False) -> None:
    """Run and Stop.  Run acts in the script run its click triggers, on that run's settings (see app.sidebar_buttons)."""
    active = job_active(name)
    left, right, _ = st.columns([2, 1, 4])
    clicked = left.button(label, key=f"exp_run_{name}", type="primary", disabled=active or disabled, width="stretch")
    right.button("Stop", key=f"exp_stop_{name}", on_click=stop_job, args=(name,), disabled=not active, width="stretch")
    if clicked and not (active or disabled):
        on_start(*args)
        st.rerun()  # draw the buttons disabled and start the live view's polling


def status_line(snap: jobs.Snapshot, what: str) -> None:
    """Queue position, a progress bar while running, or how the job ended."""
    if snap.status == jobs.QUEUED:
        st.info(f"{what} is waiting for a free trainer: position {snap.queue_position} in the queue "
                f"(at most {jobs.MAX_CONCURRENT} train at once on this server).")
    elif snap.status == jobs.RUNNING:
        last = snap.events[-1] if snap.events else None
        if isinstance(last, ex.SweepEvent):
            value = "" if last.value is None else f", value {last.value:g}"
            st.progress(last.fraction, text=f"{what}: training {min(last.done + 1, last.total)} of {last.total} "
                                            f"(seed {last.seed}{value}, {last.phase})")
        elif last is not None and hasattr(last, "epochs"):  # a kd_core ProgressEvent
            st.progress(min(1.0, last.epoch / last.epochs), text=f"{what}: {last.phase}, epoch {last.epoch} of {last.epochs}")
        else:
            st.progress(0.0, text=f"{what}: starting…")
    elif snap.status == jobs.FAILED:
        prefix = "Invalid setting: " if snap.error_type == "ConfigError" else ""
        st.error(f"{prefix}{snap.error}")
    elif snap.status == jobs.CANCELLED:
        st.warning(f"{what} stopped: the charts keep what finished.")


def live(name: str, what: str, draw: Callable[[jobs.Snapshot | None], None]) -> None:
    """Draw this tab's job (or its absence) now, and every POLL_SECONDS while it runs."""
    active_at_rerun = job_active(name)

    @st.fragment(run_every=POLL_SECONDS if active_at_rerun else None)
    def fragment() -> None:
        current = job(name)
        snap = current.snapshot() if current is not None else None
        if snap is not None:
            if active_at_rerun and snap.finished:
                st.rerun()  # a full rerun: buttons enabled again, results collected, polling stops
            status_line(snap, what)
        draw(snap)

    fragment()


def relay_rows(on_event: Callable) -> Callable[[ex.SweepEvent], None]:
    """Pass a sweep's finished rows and epoch ends to the job, not every step: the event list stays short."""

    def relay(event: ex.SweepEvent) -> None:
        if event.kind == "row" or (event.progress is not None and event.progress.kind == "epoch"):
            on_event(event)

    return relay


def rows_of(snap: jobs.Snapshot | None) -> list[dict]:
    if snap is None:
        return []
    return [e.row for e in snap.events if isinstance(e, ex.SweepEvent) and e.kind == "row"]


def seeds_from(config: RunConfig, count: int) -> list[int]:
    return list(range(config.seed, config.seed + count))


def describe(config: RunConfig, *skip: str) -> str:
    """The settings a result came from, for a caption."""
    parts = {"temperature": f"T = {config.temperature:g}", "lam": f"λ = {config.lam:g}",
             "epochs": f"{config.epochs} student epochs", "models": f"{config.teacher or 'default'} → {config.student or 'default'}",
             "dataset": config.dataset}
    return ", ".join(text for key, text in parts.items() if key not in skip)


def summary_table(summary: list[dict], value_title: str, percent_values: bool = False) -> pd.DataFrame:
    def pm(entry: dict, name: str, signed: bool = False) -> str:
        if entry.get(f"{name}_mean") is None:
            return "–"
        mean = 100 * entry[f"{name}_mean"]
        return f"{mean:+.2f} ± {100 * entry[f'{name}_std']:.2f}" if signed else f"{mean:.2f} ± {100 * entry[f'{name}_std']:.2f}"

    return pd.DataFrame([{
        value_title: f"{100 * e['value']:g} %" if percent_values else f"{e['value']:g}",
        "seeds": e["n"],
        "student epochs": e.get("epochs"),
        "KD student (%)": pm(e, "student"),
        "scratch baseline (%)": pm(e, "baseline"),
        "KD − scratch (points)": pm(e, "gain", True),
        "teacher (%)": f"{100 * e['teacher_mean']:.2f}",
    } for e in sorted(summary, key=lambda e: e["value"])])


# ---------------------------------------------------------------- teacher logits (for the distributions and the heatmap)

def _logits_key(config: RunConfig, split: str) -> tuple:
    config = validate(config)
    return (config.dataset, config.teacher_key(), split)


def known_teacher_logits(config: RunConfig, split: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(logits, labels) of the teacher these settings name: from this session, else loaded now if the teacher
    is in the disk cache (instant); None if it has not been trained yet."""
    memo = state.setdefault("exp_teacher_logits", {})
    try:
        key = _logits_key(config, split)
    except ConfigError:
        return None
    if key not in memo:
        if teacher_cache().get(validate(config).teacher_key()) is None:
            return None
        out = ex.teacher_logits(config, split, cache=teacher_cache(), limit=DARK_KNOWLEDGE_LIMIT)
        if out is None:
            return None
        memo[key] = (out[0].numpy(), out[1].numpy())
    return memo[key]


def start_teacher(config: RunConfig) -> None:
    cache = teacher_cache()

    def fn(on_event, stop):
        out = {}
        for split in ("train", "test"):
            result = ex.teacher_logits(config, split, on_event=on_event if split == "train" else None, stop=stop,
                                       cache=cache, limit=DARK_KNOWLEDGE_LIMIT)
            if result is None:
                return None
            out[split] = (result[0].numpy(), result[1].numpy())
        return out

    start_job("teacher", fn, {"config": config})


def teacher_logits_or_button(config: RunConfig, split: str, where: str, key: str) -> tuple[np.ndarray, np.ndarray] | None:
    """The logits, or a one-click way to get them (a background job) and None."""
    logits = known_teacher_logits(config, split)
    current = job("teacher")
    if logits is None and current is not None and current.done:
        snap = current.snapshot()
        if snap.status == jobs.COMPLETED and snap.result is not None and state["exp_meta_teacher"]["config"] == config:
            for name, value in snap.result.items():
                state.setdefault("exp_teacher_logits", {})[_logits_key(config, name)] = value
            logits = known_teacher_logits(config, split)
    if logits is not None:
        return logits
    st.info(f"No teacher is trained with these settings yet: {where} needs one.")
    active = job_active("teacher")
    if st.button("Train / load teacher", key=f"exp_teacher_{key}", disabled=active) and not active:
        start_teacher(config)
        st.rerun()
    if current is not None:
        snap = current.snapshot()
        if not snap.finished:
            live("teacher", "Teacher", lambda s: None)  # progress, then a full rerun that draws the chart
        elif snap.status == jobs.FAILED:
            st.error(snap.error)
    return None


# ---------------------------------------------------------------- tab: temperature and λ sweep

def start_sweep(config: RunConfig, param: str, values: list[float], seeds: list[int]) -> None:
    cache = teacher_cache()
    start_job("sweep", lambda on_event, stop: ex.sweep(param, values, seeds, config, relay_rows(on_event), stop, cache),
              {"config": config, "param": param, "values": values, "seeds": seeds})


def render_sweep_tab(config: RunConfig) -> None:
    st.subheader("Experiment 1 — how much does the temperature (or λ) matter?")
    st.caption("For each value, a KD student is trained from the same initial weights as the scratch baseline; "
               "the baseline ignores T and λ, so it is trained once per seed and drawn as a reference line. "
               "The teacher is trained once per seed and cached.")
    cols = st.columns([1, 3, 1])
    param = cols[0].radio("Sweep", ["temperature", "lam"], key="exp_sweep_param", horizontal=True,
                          format_func=lambda p: {"temperature": "T", "lam": "λ"}[p])
    values = cols[1].multiselect("Values", SWEEP_OPTIONS[param], default=SWEEP_DEFAULTS[param], key=f"exp_sweep_values_{param}",
                                 format_func=lambda v: f"{v:g}")
    count = cols[2].slider("Seeds", 1, 5, 3, key="exp_sweep_seeds", help="From the sidebar's seed on; mean ± sd over seeds.")
    st.caption(f"Fixed from the sidebar: {describe(config, param)}.")
    values = sorted(values)
    run_buttons("sweep", "Run sweep", start_sweep, (config, param, values, seeds_from(config, count)), disabled=not values)

    def draw(snap: jobs.Snapshot | None) -> None:
        if snap is None:
            st.info("Pick values and click **Run sweep**: 5 values × 3 seeds on digits take well under a minute.")
            return
        meta = state["exp_meta_sweep"]
        rows = rows_of(snap)
        summary = ex.summarize(rows)
        st.plotly_chart(ef.sweep_figure(summary, meta["param"], rows), width="stretch", key="exp_sweep_chart")
        if summary:
            st.dataframe(summary_table(summary, {"temperature": "T", "lam": "λ"}[meta["param"]]), hide_index=True, width="stretch")
        st.caption(f"Settings of this sweep: {describe(meta['config'], meta['param'])}; seeds {meta['seeds']}.")

    live("sweep", "Sweep", draw)

    st.markdown("#### One input, as T rises")
    st.caption("The teacher's softmax(logits / T) for one test image: at T = 1 nearly all probability sits on one class; "
               "as T rises the runner-up classes — what the teacher thinks the image *resembles* — become visible. "
               "This is what the KD student is trained to match.")
    logits = teacher_logits_or_button(config, "test", "this chart", "multiples")
    if logits is None:
        return
    test_logits, labels = logits
    dataset = load_dataset(config.dataset, config.data_dir)
    left, right = st.columns([1, 5])
    index = int(left.number_input("Test image #", 0, len(labels) - 1, 0, key="exp_sample_index"))
    left.plotly_chart(_image(dataset, index), width="content", key="exp_sample_image")
    probabilities = ex.softened_distributions(torch.from_numpy(test_logits[index]), MULTIPLE_TEMPERATURES)
    right.plotly_chart(ef.temperature_multiples_figure(probabilities, MULTIPLE_TEMPERATURES, dataset.class_names, int(labels[index])),
                       width="stretch", key="exp_multiples_chart")


def _image(dataset, index: int):
    from dashboard import figures

    return figures.image_figure(dataset.image(index), f"a {dataset.class_names[int(dataset.y_test[index])]}", size=140)


# ---------------------------------------------------------------- tab: little data

def start_little_data(config: RunConfig, fractions: list[float], seeds: list[int], equal_steps: bool) -> None:
    cache = teacher_cache()

    def fn(on_event, stop):
        return ex.sweep("student_fraction", fractions, seeds, config, relay_rows(on_event), stop, cache, equal_steps)

    start_job("little", fn, {"config": config, "fractions": fractions, "seeds": seeds, "equal_steps": equal_steps})


def _signature(config: RunConfig, equal_steps: bool) -> str:
    """Results with the same signature belong on one chart: everything but the fraction and the seed."""
    return validate(config.replace(student_fraction=1.0, seed=0)).run_key() + ("-equal" if equal_steps else "")


def render_little_data_tab(config: RunConfig) -> None:
    st.subheader("Experiment 2 — little data")
    st.caption("Hinton et al. trained a speech model on 3 % of its data: 44.5 % accuracy with hard targets, 57.0 % with the "
               "teacher's soft targets. Here the KD student and the scratch baseline see the *same* seeded, class-balanced "
               "subset; the teacher was trained on everything. Each run adds its points to the chart.")
    cols = st.columns([3, 1, 2])
    percent = cols[0].slider("Share of the training set the students see (%)", 1, 100, 3, key="exp_little_percent")
    count = cols[1].slider("Seeds", 1, 5, 3, key="exp_little_seeds")
    with cols[2]:
        with_full = st.checkbox("Also run 100 % (reference)", value=True, key="exp_little_full")
        equal_steps = st.checkbox("Equal steps", value=True, key="exp_little_equal",
                                  help="Each student takes as many gradient steps as a full-data run (more epochs on a "
                                       "small subset). Without it, a 3 % student takes one step per epoch and both "
                                       "students are simply under-trained.")
    fractions = sorted({percent / 100, 1.0} if with_full else {percent / 100})
    seeds = seeds_from(config, count)
    run_buttons("little", "Run", start_little_data, (config, fractions, seeds, equal_steps))
    st.caption(f"From the sidebar: {describe(config)}.")

    store = state.setdefault("exp_little_rows", {})  # signature -> {(value, seed): row}
    current = job("little")
    if current is not None and current.done and state.get("exp_little_collected") != current.id:
        state["exp_little_collected"] = current.id
        meta = state["exp_meta_little"]
        for row in rows_of(current.snapshot()):
            store.setdefault(_signature(meta["config"], meta["equal_steps"]), {})[(row["value"], row["seed"])] = row

    def draw(snap: jobs.Snapshot | None) -> None:
        try:
            signature = _signature(config, equal_steps)
        except ConfigError:
            return
        rows = dict(store.get(signature, {}))
        if snap is not None and not snap.finished:
            meta = state["exp_meta_little"]
            if _signature(meta["config"], meta["equal_steps"]) == signature:
                rows.update({(r["value"], r["seed"]): r for r in rows_of(snap)})
        if not rows:
            if snap is not None and not snap.finished:
                st.info("The first points appear as soon as a KD student and its scratch baseline finish.")
            else:
                st.info("Pick a share and click **Run**. The chart collects every run with these sidebar settings.")
            return
        summary = ex.summarize(sorted(rows.values(), key=lambda r: (r["value"], r["seed"])))
        st.plotly_chart(ef.little_data_figure(summary), width="stretch", key="exp_little_chart")
        st.dataframe(summary_table(summary, "share seen", percent_values=True), hide_index=True, width="stretch")
        measured = ex.MEASURED.get("student_fraction")
        if measured:
            st.caption("This project measured (seeds 0–4, default digits settings, equal steps): " + "; ".join(
                f"{100 * e['value']:g} %: KD − scratch {100 * e['gain_mean']:+.1f} ± {100 * e['gain_std']:.1f} points"
                for e in measured) + ". Where the gain's spread straddles 0 there is no difference to see.")

    live("little", "Little data", draw)
    if store:
        st.button("Clear the chart", key="exp_little_clear", on_click=store.clear)


# ---------------------------------------------------------------- tab: a class the student never sees

def start_omitted(config: RunConfig, cls: int) -> None:
    cache = teacher_cache()
    start_job("omitted", lambda on_event, stop: ex.omitted_class(config, cls, _epochs_only(on_event), stop, cache),
              {"config": config, "class": cls})


def _epochs_only(on_event: Callable) -> Callable:
    return lambda event: on_event(event) if event.kind == "epoch" else None


def render_omitted_class_tab(config: RunConfig) -> None:
    st.subheader("Experiment 3 — a class the student never sees")
    st.caption("The teacher learns every class; the students are trained with one class removed from their data. "
               "The scratch student cannot predict a class it never saw. The KD student never sees one either — "
               "but the teacher's soft targets on the *other* images (how much a 5 or an 8 looks like a 3) tell it "
               "something. In the paper the distilled student got 98.6 % of the omitted 3s right after a bias correction.")
    try:
        dataset = load_dataset(validate(config).dataset, config.data_dir)
    except Exception as error:  # the app already shows why the dataset is unavailable
        st.info(f"Pick an available dataset ({jobs.one_line(error)}).")
        return
    names = dataset.class_names
    cols = st.columns(4)
    cls = cols[0].selectbox("Class to hide", list(range(len(names))), index=3, key="exp_omit_class", format_func=lambda c: names[c])
    temperature = cols[1].slider("T", 1.0, 20.0, 8.0, 0.5, key="exp_omit_T", help="Paper-like: high T, soft targets only.")
    lam = cols[2].slider("λ", 0.0, 1.0, 1.0, 0.05, key="exp_omit_lam", help="1 = soft targets only.")
    epochs = int(cols[3].number_input("Student epochs", 1, MAX_EPOCHS, 50, key="exp_omit_epochs",
                                      help="The 16-unit student needs more than the default 20 to copy the teacher's view of a class it never sees."))
    run_config = config.replace(temperature=temperature, lam=lam, epochs=epochs)
    st.caption(f"The other settings come from the sidebar: {describe(run_config, 'temperature', 'lam', 'epochs')}, seed {config.seed}.")
    run_buttons("omitted", "Train without it", start_omitted, (run_config, cls))

    def draw(snap: jobs.Snapshot | None) -> None:
        if snap is None:
            st.info("Click **Train without it**: the teacher (cached), a KD student and a scratch student, a few seconds on digits.")
        elif snap.status == jobs.COMPLETED and snap.result is not None and snap.result.status == "completed":
            state["exp_omitted_result"] = snap.result

    live("omitted", "Training", draw)
    result: ex.OmittedClassResult | None = state.get("exp_omitted_result")
    if result is None or job_active("omitted"):
        return
    shown = names[result.omit_class]
    st.caption(f"Result of: class {shown} hidden, {describe(result.config)}, seed {result.config.seed}.")
    cols = st.columns(4)
    cols[0].metric(f"KD student on {shown}", f"{result.student_per_class[result.omit_class]:.0%}")
    if result.baseline_per_class is not None:
        cols[1].metric(f"Scratch student on {shown}", f"{result.baseline_per_class[result.omit_class]:.0%}")
        cols[3].metric("Scratch overall", f"{result.baseline_accuracy:.2%}")
    cols[2].metric("KD overall", f"{result.student_accuracy:.2%}")
    st.plotly_chart(ef.per_class_figure({"teacher": result.teacher_per_class, "student": result.student_per_class,
                                         "baseline": result.baseline_per_class}, names, result.omit_class),
                    width="stretch", key="exp_per_class_chart")

    st.markdown("#### The bias correction")
    st.caption(f"The KD student learned *what* a {shown} looks like, but its output bias for {shown} was only ever pushed "
               f"down. Adding a constant to that one logit after training — no retraining — recovers much of it. "
               f"The curve is computed on the test set, so the best bias is a demonstration, not a tuned model.")
    curve = ex.bias_curve(result.student_logits, result.labels, result.omit_class, BIASES)
    best = ex.best_bias(curve)
    bias = st.slider(f"Added to class {shown}'s output bias", float(BIASES[0]), float(BIASES[-1]), 0.0, 0.25, key="exp_bias")
    point = ex.bias_correction(result.student_logits, result.labels, result.omit_class, bias)
    plain = curve[int(np.argmin(np.abs(BIASES)))]
    cols = st.columns(3)
    cols[0].metric(f"KD on {shown} at this bias", f"{point['class_accuracy']:.0%}",
                   delta=f"{100 * (point['class_accuracy'] - plain['class_accuracy']):+.0f} points")
    cols[1].metric("KD overall at this bias", f"{point['overall_accuracy']:.2%}",
                   delta=f"{100 * (point['overall_accuracy'] - plain['overall_accuracy']):+.2f} points")
    cols[2].metric("Best overall bias", f"{best['bias']:+g}", help=f"{best['overall_accuracy']:.2%} overall, "
                   f"{best['class_accuracy']:.0%} on {shown}")
    st.plotly_chart(ef.bias_curve_figure(curve, shown, bias, best), width="stretch", key="exp_bias_chart")


# ---------------------------------------------------------------- tab: dark knowledge

def render_dark_knowledge_tab(config: RunConfig) -> None:
    st.subheader("Dark knowledge — which classes look alike to the teacher")
    st.caption("Row i: the teacher's softened probabilities, averaged over the training images of class i, at the "
               "sidebar's temperature. Off the diagonal is what soft targets carry and hard labels do not. "
               "Move **Temperature T** in the sidebar: the heatmap redraws at once.")
    cols = st.columns(2)
    split = cols[0].radio("Images", ["train", "test"], key="exp_dk_split", horizontal=True,
                          help="train: the soft targets the student actually learns from.")
    diagonal = cols[1].toggle("Show the diagonal", value=False, key="exp_dk_diagonal",
                              help="The right answer dwarfs everything else; hidden, the colour scale shows the rest.")
    logits = teacher_logits_or_button(config, split, "the heatmap", "heatmap")
    if logits is None:
        return
    values, labels = logits
    dataset = load_dataset(config.dataset, config.data_dir)
    matrix = ex.dark_knowledge_matrix(torch.from_numpy(values), torch.from_numpy(labels), config.temperature, dataset.num_classes)
    st.plotly_chart(ef.dark_knowledge_figure(matrix, dataset.class_names, config.temperature, diagonal),
                    width="stretch", key="exp_dk_chart")
    pairs = sorted(((matrix[i, j] + matrix[j, i], i, j) for i in range(len(matrix)) for j in range(i + 1, len(matrix))), reverse=True)
    st.caption("Most alike at this T: " + ", ".join(
        f"{dataset.class_names[i]} & {dataset.class_names[j]} ({value / 2:.3f})" for value, i, j in pairs[:4] if not math.isnan(value)) + ".")
