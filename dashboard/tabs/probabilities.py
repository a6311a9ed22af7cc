"""Tab "Probabilities": one test image, the teacher's and the student's softened probabilities at the sidebar's T,
and how far apart they are: KL(teacher_T ‖ student_T), the quantity the KD loss's soft part pulls down.

The numbers are kd_core/studies/inspection.py's, from the stored test logits; this module draws them."""

from __future__ import annotations

import random

import numpy as np
import streamlit as st

from dashboard.figures import charts
from dashboard.figures import methods as mf
from dashboard.figures import plots as figures
from dashboard.page import choices, resources
from dashboard.tabs import look_closer
from dashboard.text import run_settings, wording
from kd_core import Dataset, RunConfig
from kd_core.runs import served
from kd_core.studies import inspection

state = st.session_state


def pick_random_sample(count: int, config: RunConfig | None = None) -> None:
    """A test image where the teacher's dark knowledge shows at this T (``inspection.revealing``), when there is a
    teacher."""
    teacher = None if config is None else models_for_bars(config)[0]
    pool = np.arange(count) if teacher is None else inspection.revealing(teacher, config.temperature)
    state["sample_index"] = int(random.choice(pool))


def pick_sample_of_class(labels: np.ndarray, config: RunConfig | None = None) -> None:
    chosen = state.get("sample_class")
    if chosen is not None:
        teacher = None if config is None else models_for_bars(config)[0]
        of_class = np.flatnonzero(labels == chosen)
        pool = of_class if teacher is None else inspection.revealing(teacher, config.temperature, among=of_class)
        state["sample_index"] = int(random.choice(pool))


def models_for_bars(config: RunConfig) -> tuple[np.ndarray | None, np.ndarray, str, str]:
    """(teacher logits or None, student logits, student label, caption) over the test set."""
    last = look_closer.last_distill()
    outcome: served.DistillOutcome | None = None if last is None else last.first  # the first seed's models
    if outcome is not None and outcome.result.config.dataset == config.dataset:
        c = outcome.result.config
        return (
            outcome.teacher_logits,
            outcome.student_logits,
            "KD student",
            f"Models from your last distillation ({run_settings.teacher_name(c.teacher)} → {c.student}, "
            f"trained at T = {c.temperature:g}, λ = {c.lam:g}).",
        )
    teacher = resources.teacher_logits(config, "test")
    student = resources.untrained_student_logits(config.dataset, config.student, config.seed)
    caption = (
        "Before any distillation: the student's bars are those of the **untrained** student (random initial weights)."
    )
    if teacher is None:
        caption += " No teacher is trained with these settings yet: click **Train / load teacher**."
    return teacher, student, "Untrained student", caption


def step_temperature(direction: int) -> None:
    """A click beside the bars: the sidebar's Temperature T one step up or down (a callback, before the rerun)."""
    low, high, step = choices.SLIDERS["temperature"]
    state["temperature"] = min(high, max(low, round(state["temperature"] + direction * step, 6)))


def temperature_control(where, T: float, key_prefix: str = "") -> None:
    """T right above the bars, so that a phone (whose sidebar is folded away) has both on screen.  Buttons that move
    the sidebar's own Temperature, not a second slider: two sliders mirroring one value fell out of step under fast
    key presses (each sent the other's stale value back), while a button has no value to go stale.  ``key_prefix``:
    for another tab's bars (the Language tab's), whose buttons need keys of their own."""
    low, high, step = choices.SLIDERS["temperature"]
    row = where.container(horizontal=True, vertical_alignment="center", key=f"{key_prefix}bars_temperature")
    row.button(
        f"T − {step:g}",
        key=f"{key_prefix}bars_t_down",
        on_click=step_temperature,
        args=(-1,),
        disabled=T <= low,
        help="Lower the temperature: the sidebar's Temperature T moves too.",
    )
    row.markdown(f"**Temperature T = {T:g}**")
    row.button(
        f"T + {step:g}",
        key=f"{key_prefix}bars_t_up",
        on_click=step_temperature,
        args=(1,),
        disabled=T >= high,
        help="Raise the temperature: the sidebar's Temperature T moves too.",
    )


def render(config: RunConfig, dataset: Dataset) -> None:
    labels = dataset.y_test.numpy()
    count = len(labels)
    state.setdefault("sample_index", 0)
    state["sample_index"] = min(state["sample_index"], count - 1)
    # Three equal columns: at 1024 px, four of them cut "Random sample" and "Compare with T = 1" to "Ran…",
    # "Compare wi…".
    cols = st.columns(3, vertical_alignment="bottom")
    index = cols[0].number_input(
        "Test sample #", 0, count - 1, key="sample_index", step=1, help="Which test image to look at."
    )
    cols[1].button(
        "Random sample",
        on_click=pick_random_sample,
        args=(count, config),
        key="random_sample",
        width="stretch",
        help="A test image whose teacher shows dark knowledge at this T: its runner-up class gets at least 5 %.",
    )
    cols[2].selectbox(
        "Random sample of class",
        list(range(dataset.num_classes)),
        index=None,
        key="sample_class",
        format_func=lambda c: dataset.class_names[c],
        placeholder="any class",
        on_change=pick_sample_of_class,
        args=(labels, config),
    )
    teacher_logits, student_logits, student_label, caption = models_for_bars(config)
    st.caption(caption)
    index = int(index)
    T = config.temperature

    def probs(logits: np.ndarray | None, temperature: float) -> np.ndarray | None:
        return None if logits is None else inspection.softened(logits[index], temperature)

    image_col, bars_col = st.columns([1, 3])
    true_class = dataset.class_names[labels[index]]
    charts.show(
        figures.image_figure(dataset.image(index), f"#{index}: {wording.with_article(true_class)}"),
        width="content",
        key="sample_image",
        where=image_col,
    )
    if teacher_logits is not None:
        image_col.write(f"Teacher predicts **{dataset.class_names[int(teacher_logits[index].argmax())]}**")
    image_col.write(f"{student_label} predicts **{dataset.class_names[int(student_logits[index].argmax())]}**")
    temperature_control(bars_col, T)
    compare = state.get("compare_t1", False)  # its toggle is drawn under the bars, read here for the figure
    figure = figures.probability_figure(
        probs(teacher_logits, T),
        probs(student_logits, T),
        dataset.class_names,
        T,
        student_label,
        teacher_at_1=probs(teacher_logits, 1.0) if compare else None,
        student_at_1=probs(student_logits, 1.0) if compare else None,
    )
    charts.show(figure, key="probability_bars", where=bars_col)
    bars_col.toggle(
        "Compare with T = 1",
        key="compare_t1",
        help="Add the unsoftened probabilities (T = 1): what the labels-only view looks like.",
    )
    if teacher_logits is not None:
        kl_divergence(bars_col, teacher_logits[index], student_logits[index], T, student_label)
    st.caption(
        "Change **Temperature T** right above the bars, or in the sidebar (the same setting): the bars redraw "
        "at once from stored logits — nothing retrains."
    )
    if teacher_logits is not None and dataset.num_classes > 2:
        decomposition(teacher_logits, student_logits, labels, index, T)


def decomposition(
    teacher_logits: np.ndarray, student_logits: np.ndarray, labels: np.ndarray, index: int, T: float
) -> None:
    """DKD's split of this image's KL, KD = TCKD + (1 − p_t)·NCKD, and the teacher's 1 − p_t over the test set."""
    st.markdown("**The KL, decoupled: the target against the rest, and among the rest**")  # no h4 under the h1 (axe)
    split = inspection.decoupled_kl(teacher_logits[index], student_logits[index], labels[index], T)
    weights = inspection.nontarget_weights(teacher_logits, labels, T)
    left, right = charts.columns(2)  # stacked, full width, in presentation mode
    charts.show(
        mf.decomposition_figure(split["kd"], split["tckd"], split["weight"], split["nckd"], T),
        key="dkd_bar",
        where=left,
    )
    charts.show(mf.nontarget_figure(weights, T), key="dkd_histogram", where=right)
    st.caption(
        f"KD weighs the dark knowledge among the wrong classes (NCKD) by the teacher's non-target mass 1 − p_t; "
        f"at T = {T:g} its median over the test set is {share_text(float(np.median(weights)))}. The more confident "
        "the teacher, the smaller that weight and the less of its dark knowledge reaches the student — DKD's β gives "
        "NCKD a fixed weight instead (the Methods tab compares the two)."
    )


SMALLEST_SHOWN = 1e-4  # below this, a share reads "< 0.0001"


def share_text(value: float) -> str:
    """A share in [0, 1] in words that are true at a glance: two decimals from 0.01 on, two significant digits
    below ("0.0031"), and "< 0.0001" below that.  At T ≤ 2.5 a confident teacher's median 1 − p_t is well under
    0.005, and two decimals wrote it as "0.00", a weight it never is."""
    if value >= 0.01:
        return f"{value:.2f}"
    if value >= SMALLEST_SHOWN:
        return f"{value:.2g}"
    return f"< {SMALLEST_SHOWN:g}"


def kl_divergence(where, teacher_logits: np.ndarray, student_logits: np.ndarray, T: float, student_label: str) -> None:
    """KL(teacher_T ‖ student_T) of the image shown, under its bars, with what the number means."""
    kl = inspection.kl_divergence(teacher_logits, student_logits, T)
    number, words = where.columns([1, 2], vertical_alignment="center")
    number.metric(
        f"KL(teacher ‖ student) at T = {T:g}",
        f"{kl:.3f} nats",
        help="Σ p_teacher · log(p_teacher / p_student) over the classes, both softened at T: "
        "the KD loss's soft part is T² times this, averaged over a batch.",
    )
    name = student_label if student_label.startswith("KD") else student_label.lower()  # "the untrained student"
    words.caption(
        f"How far the {name}'s bars are from the teacher's on this image: 0 means the same "
        "bars, and the bigger it is, the more the teacher still has to teach here."
    )
