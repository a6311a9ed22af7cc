"""Tab "Dark knowledge": which classes look alike to the teacher, as a heatmap at the sidebar's T."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from dashboard.figures import charts
from dashboard.figures import experiments as ef
from dashboard.page import resources
from dashboard.runs import experiments as er
from kd_core import RunConfig
from kd_core.runs import served

TITLE = "Dark knowledge — which classes look alike to the teacher"
INTRO = (
    "Row i: the teacher's softened probabilities, averaged over the training images of class i, at the "
    "sidebar's temperature. Off the diagonal is what soft targets carry and hard labels do not. "
    "Move **Temperature T** in the sidebar: the heatmap redraws at once. Touch or point at a cell for its number; "
    "the largest are in the table under it."
)


def render(config: RunConfig) -> None:
    st.header(TITLE)  # h2 under the page's h1: headings go down one level at a time (axe: heading-order)
    st.caption(INTRO)
    cols = st.columns(2)
    split = cols[0].radio(
        "Images",
        ["train", "test"],
        key="exp_dk_split",
        horizontal=True,
        help="train: the soft targets the student actually learns from.",
    )
    diagonal = cols[1].toggle(
        "Show the diagonal",
        value=False,
        key="exp_dk_diagonal",
        help="The right answer dwarfs everything else; hidden, the colour scale shows the rest.",
    )
    logits = resources.teacher_logits_or_button(config, split, "the heatmap", "heatmap")
    if logits is None:
        return
    dataset, _ = resources.dataset_or_problem(config.dataset)
    names = dataset.class_names
    matrix = er.dark_knowledge_matrix(logits, served.labels_of(dataset, split), config.temperature, dataset.num_classes)
    charts.show(ef.dark_knowledge_figure(matrix, names, config.temperature, diagonal), key="exp_dk_chart")
    pairs = sorted(
        ((matrix[i, j] + matrix[j, i], i, j) for i in range(len(matrix)) for j in range(i + 1, len(matrix))),
        reverse=True,
    )
    st.caption(
        "Most alike at this T: "
        + ", ".join(f"{names[i]} & {names[j]} ({value / 2:.3f})" for value, i, j in pairs[:4] if not math.isnan(value))
        + "."
    )
    # The numbers the cells no longer carry (they ran into each other on a phone): the largest, as a short table.
    st.table(
        pd.DataFrame(
            [
                {"Images of class": true, "look to the teacher like": other, "mean probability": f"{p:.1%}"}
                for true, other, p in ef.most_alike(matrix, names)
            ]
        ),
        hide_index=True,
    )
