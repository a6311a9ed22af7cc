"""kd-dashboard: see knowledge distillation work.  Start with ``make run`` or ``kd-dashboard``.

Layout: the sidebar holds every input (settings and buttons); the main area holds outputs, in tabs, one
module each under dashboard/tabs/.  Training runs in background jobs (dashboard/jobs.py, drawn by
dashboard/job_panel.py), so moving a slider or switching tabs never stops it.
"""
from __future__ import annotations

from typing import Callable

import streamlit as st
import torch
# torch.optim's first optimizer imports torch._dynamo: 1.5 s of pure-Python import on an idle machine.  Inside a
# training thread, sharing the GIL with every session's script thread, that import took over a minute in the soak
# test, and every other training waited on its import lock.  So the server does it once, here, before any training.
import torch._dynamo  # noqa: F401

from dashboard import resources, runs
from dashboard.tabs import dark_knowledge, distill, explanation, history, little_data, probabilities, sweep, unseen_class
from kd_core import RunConfig

st.set_page_config(page_title="Knowledge distillation", page_icon="🎓", layout="wide")
# One CPU thread per training: dashboard.jobs already runs up to one training per core at once, and torch's
# default (a thread per core, spinning while it waits) made the tiny digits models 5-20x slower whenever
# anything else was busy (the Streamlit server, the browser, other trainings).
torch.set_num_threads(1)
state = st.session_state

LEARNING_RATES = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0]
BATCH_SIZES = [16, 32, 64, 128, 256, 512]


# ---------------------------------------------------------------- sidebar: the inputs

def on_dataset_change() -> None:
    """A new dataset brings its own default teacher/student pair; the sample index starts over."""
    state["teacher"], state["student"] = runs.default_pair(state["dataset"])
    state["sample_index"] = 0


def sidebar_config() -> RunConfig:
    """Every setting of a run, from the sidebar's widgets.  Other tabs reuse this config."""
    sidebar = st.sidebar
    sidebar.header("Settings")
    state.setdefault("dataset", "digits")
    dataset = sidebar.selectbox(
        "Dataset", runs.dataset_names(), key="dataset", on_change=on_dataset_change,
        format_func=lambda name: f"{name} (built in)" if name == "digits" else name,
        help="The images teacher and student learn from; digits is built in, the others need their files on disk.",
    )
    state.setdefault("teacher", runs.default_pair(dataset)[0])
    state.setdefault("student", runs.default_pair(dataset)[1])
    architectures = runs.architectures()
    names = list(architectures)
    describe = lambda name: f"{name} — {architectures[name]}"  # noqa: E731
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


# ---------------------------------------------------------------- the page

def main() -> None:
    distill.collect_finished_job()
    buttons = st.sidebar.container()  # drawn first so the buttons sit at the top; filled once the config is known
    config = sidebar_config()
    st.title("Knowledge distillation, live")
    st.caption("A big **teacher** learns the labels; a small **student** learns from the teacher's softened probabilities; "
               "the same small model trained on labels alone (the **scratch baseline**) shows what the teacher adds.")
    dataset, problem = resources.dataset_or_problem(config.dataset)
    usable = dataset is not None
    if problem:
        st.error(f"Dataset '{config.dataset}' is not available offline: {problem}")
    invalid = runs.problem_with(config, dataset)
    if invalid:
        st.error(f"Invalid setting: {invalid}")
        usable = False
    distill.sidebar_buttons(buttons, config, usable)

    def experiment(render: Callable[[RunConfig], None]) -> Callable[[], None]:
        if not usable:  # no dataset, or an invalid setting, which is reported above
            return lambda: st.info("Pick an available dataset and valid settings in the sidebar.")
        return lambda: render(config)

    # Tab label -> draw(); a new tab is one module under dashboard/tabs/ and one entry here.
    tabs: dict[str, Callable[[], None]] = {
        "Distill": lambda: distill.render(config),
        "Probabilities": lambda: probabilities.render(config, dataset) if usable else st.info("Pick an available dataset."),
        "What is happening": lambda: explanation.render(config, dataset if usable else None),
        "History": history.render,
        "T & λ sweep": experiment(sweep.render),  # Hinton's three experiments + dark knowledge
        "Little data": experiment(little_data.render),
        "Unseen class": experiment(unseen_class.render),
        "Dark knowledge": experiment(dark_knowledge.render),
    }
    for container, draw in zip(st.tabs(list(tabs), key="main_tabs"), tabs.values()):
        with container:
            draw()


main()
