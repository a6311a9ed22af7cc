"""Tab "Draw a digit": a canvas (mouse or finger); as the student draws, the teacher's, the KD student's and the
scratch baseline's softened probabilities at the sidebar's T, beside a small preview of what the models see.

The canvas is ``streamlit-drawable-canvas`` 0.13 (Fabric.js, a Streamlit components-v2 component: it works with
this project's Streamlit 1.67; a stroke is sent when the finger or mouse lifts).  The drawing goes through the
dataset's own framing (kd_core/data/drawing.py).  The models are those of the last Distill on this dataset, or,
before any, the teacher from the cache as soon as it is there (``resources.cached_teacher``: looked for on every
rerun until found) and an untrained student (kd_core/runs/served.py); the caption says which.
Their probabilities are ``kd_core.studies.inspection.probabilities_of``; this module draws them.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from torch import nn

from dashboard.figures import charts
from dashboard.figures import plots as figures
from dashboard.page import resources
from dashboard.tabs import look_closer
from kd_core import Dataset, RunConfig, validate
from kd_core.data import drawing
from kd_core.runs import served
from kd_core.studies import inspection

state = st.session_state
CANVAS = 256  # pixels: half the main area at 1024×768, a 390-wide phone's width less margins; big enough for a finger
PREVIEW = 112


def clear() -> None:
    """A new key gives a fresh, empty canvas."""
    state["draw_round"] = state.get("draw_round", 0) + 1


@st.cache_resource(show_spinner=False, max_entries=8)
def untrained_student(dataset_name: str, student: str, width: int | None, seed: int, _dataset: Dataset) -> nn.Module:
    """The students' initial weights (seed + 1), once per server for each (dataset, student, width, seed)."""
    config = RunConfig(dataset=dataset_name, student=student, student_width=width, seed=seed)
    return served.untrained_student(config, _dataset)


def models_for(config: RunConfig, dataset: Dataset) -> tuple[dict[str, nn.Module], str]:
    """{label: model} and a caption saying which models these are."""
    last = look_closer.last_distill()
    outcome = None if last is None else last.first
    if outcome is not None and outcome.result.config.dataset == config.dataset:
        c, found = outcome.result.config, outcome.result.models
        models = {figures.LABELS[p]: found[p] for p in ("teacher", "student", "baseline") if found.get(p) is not None}
        return models, (
            f"Models from your last distillation ({c.teacher} → {c.student}, trained at T = {c.temperature:g}, "
            f"λ = {c.lam:g})."
        )
    try:
        valid = validate(config)
    except Exception:  # settings that cannot run are reported above the tabs
        valid = config
    teacher = resources.cached_teacher(config)
    student = untrained_student(config.dataset, valid.student, valid.student_width, valid.seed, dataset)
    models = {"Teacher (from the cache)": teacher} if teacher is not None else {}
    models["Untrained student"] = student
    caption = "Before any distillation: the student's bars are an **untrained** student's (random initial weights)"
    caption += (
        "; the teacher is the one in the cache for these settings."
        if teacher is not None
        else ". No teacher is trained with these settings yet: click **Train / load teacher** or **Distill**."
    )
    return models, caption


def figure(probs: dict[str, np.ndarray], class_names, temperature: float) -> go.Figure:
    colors = list(figures.COLORS.values())
    fig = go.Figure(
        [
            go.Bar(
                x=[str(c) for c in class_names],
                y=list(map(float, p)),
                name=label,
                marker_color=colors[i % len(colors)],
                hovertemplate="class %{x}: %{y:.3f}<extra>" + label + "</extra>",
            )
            for i, (label, p) in enumerate(probs.items())
        ]
    )
    fig.update_layout(
        barmode="group",
        title=f"Your drawing at T = {temperature:g}",
        yaxis_title="probability",
        height=340,
        margin=dict(l=10, r=10, t=40, b=10),
        legend=figures.LEGEND_BELOW,
    )
    fig.update_yaxes(range=[0, 1])
    fig.update_xaxes(type="category")
    return fig


def render(config: RunConfig, dataset: Dataset | None) -> None:
    if dataset is None or config.dataset not in drawing.DRAWABLE:
        st.info("Drawing works with the handwritten digits (digits, MNIST): pick one of them as the dataset.")
        return
    framing = (
        "8×8 pixels, each 0–16, as scikit-learn's digits"
        if config.dataset == "digits"
        else "28×28, the digit in a 20×20 box centred on its centre of mass, as MNIST's"
    )
    try:
        # Imported here, not at the top: a worker process may import the page's script (as __mp_main__), and the
        # canvas registers itself with the Streamlit server at import — outside a server that raises.
        from streamlit_drawable_canvas import st_canvas
    except Exception as error:  # noqa: BLE001 — the other tabs must keep working
        st.warning("The drawing pad could not start on this server, so this tab cannot take a drawing now.")
        with st.expander("Details for whoever runs the server"):
            st.code(f"{type(error).__name__}: {error}")
        return
    left, right = st.columns(2, gap="small")
    with left:
        st.caption("Draw a digit with your mouse or finger; lift it to see the bars.")
        st.write("")  # room for the canvas's own toolbar (upload, undo, redo, edit, delete), which floats above it
        drawn = st_canvas(
            stroke_width=24,
            stroke_color="#FFFFFF",
            background_color="#000000",
            height=CANVAS,
            width=CANVAS,
            drawing_mode="freedraw",
            return_image_data=True,
            update_streamlit=True,
            key=f"draw_canvas_{state.get('draw_round', 0)}",
        )
        st.button("Clear", key="draw_clear", on_click=clear, icon=":material/ink_eraser:", help="Start a new drawing.")
    image = drawn.image_data  # None until the first stroke is sent
    view = None if image is None else drawing.view_of(drawing.ink_of(image), config.dataset)
    models, caption = models_for(config, dataset)
    with right:
        st.caption(caption)
        if view is None:
            st.info("Draw a digit on the canvas: the teacher's and the students' probabilities appear here.")
            return
        x = drawing.model_input(view, config.dataset, dataset.mean, dataset.std)
        charts.show(
            figure(inspection.probabilities_of(models, x, config.temperature), dataset.class_names, config.temperature),
            key="draw_bars",
        )  # not over the title
    with left:
        big = figures.upscale(drawing.preview(view, config.dataset), max(1, PREVIEW // view.shape[0]))
        st.image(big, caption=f"What the models see: {framing}", width=PREVIEW, clamp=True)
