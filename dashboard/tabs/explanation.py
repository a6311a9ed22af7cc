"""Tab "What is happening": the loss with the sidebar's numbers, and why softened targets carry dark knowledge."""

from __future__ import annotations

import numpy as np
import streamlit as st

from dashboard.page import sidebar
from dashboard.tabs import probabilities
from dashboard.text import verdict
from kd_core import DATASETS, Dataset, RunConfig
from kd_core.methods.losses import soft_weight_factor
from kd_core.methods.registry import KD_VARIANTS
from kd_core.studies import inspection


def render(config: RunConfig, dataset: Dataset | None) -> None:
    T, lam = config.temperature, config.lam
    # Short equations, one per line: as one line each, they were 634 and 774 px wide and scrolled sideways,
    # unseen, in a phone's 358 px.
    st.markdown("The student minimises a weighted sum of two losses:")
    st.latex(r"""\begin{aligned}
        \mathcal{L} &= \lambda\,T^2\,\mathcal{L}_{\text{soft}} + (1-\lambda)\,\mathcal{L}_{\text{hard}} \\
        \mathcal{L}_{\text{soft}} &= \mathrm{KL}\big(p_t^{T}\,\|\,p_s^{T}\big) \\
        \mathcal{L}_{\text{hard}} &= \mathrm{CE}\big(p_s^{1},\,y\big) \\
        p^{T} &= \mathrm{softmax}(z/T)
        \end{aligned}""")
    st.markdown(f"With your settings, **T = {T:g}** and **λ = {lam:g}**:")
    st.latex(rf"""\begin{{aligned}}
        \mathcal{{L}} &= {lam:g}\cdot {T:g}^2\,\mathrm{{KL}} + {1 - lam:.2f}\,\mathrm{{CE}} \\
        &= {lam * T * T:.4g}\,\mathrm{{KL}} + {1 - lam:.2f}\,\mathrm{{CE}}
        \end{{aligned}}""")
    st.markdown(
        "$z_t$ and $z_s$ are the teacher's and the student's logits, $p_t^T$ and $p_s^T$ their probabilities softened "
        "at temperature $T$ ($p_s^1$: the student's plain probabilities), $y$ the true label. "
        "The **soft loss** (KL) pulls the student's softened probabilities toward the teacher's; "
        "the **hard loss** (CE) toward the label. "
        "The $T^2$ keeps the soft loss's gradients on the same scale whatever the temperature, "
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
    loss_effects(config)
    if dataset is None:
        return
    teacher = probabilities.models_for_bars(config)[0]
    if teacher is None:
        return
    index = int(st.session_state.get("sample_index", 0))
    p = inspection.softened(teacher[index], T)
    order = np.argsort(p)[::-1]
    runners = ", ".join(f"{dataset.class_names[c]} ({p[c]:.1%})" for c in order[1:4])
    st.info(
        f"Right now, on test sample #{index} (a {dataset.class_names[int(dataset.y_test[index])]}), the teacher at "
        f"T = {T:g} gives {p[order[0]]:.1%} to **{dataset.class_names[order[0]]}**, and to the runners-up: {runners}. "
        "Those runner-up probabilities are the dark knowledge the student is trained on."
    )


def loss_effects(config: RunConfig) -> None:
    """The sidebar's Loss toggle: what each way of writing the loss does to the soft term's effective weight."""
    T, lam, classes = config.temperature, config.lam, DATASETS[config.dataset].num_classes
    st.markdown(
        "**Three ways to write the soft term** (the sidebar's *Loss*): what each does to its weight, "
        f"here with T = {T:g}, λ = {lam:g} and {classes} classes."
    )
    lines = []
    for name in KD_VARIANTS:
        factor = soft_weight_factor(name, T, classes)
        formula = {"kd": "1", "kd-no-t2": f"1/T² = 1/{T * T:g}", "seed-script": f"2/C = 2/{classes}"}.get(name, "")
        chosen = " ← chosen" if name == config.loss else ""
        lines.append(
            f"- **{sidebar.LOSS_NAMES.get(name, name)}**{chosen}: the soft term gets {formula} = "
            f"{factor:.3g}× its correct weight. {verdict.loss_weight_text(name, factor, T, lam)}"
        )
    st.markdown("\n".join(lines))
