"""kd-dashboard: see knowledge distillation work.  Start with ``make run`` or ``kd-dashboard``.

Layout: the sidebar holds every input (a lesson, the settings and buttons: dashboard/page/sidebar.py); the main
area holds the lesson's text and the outputs, in tabs, one module each under dashboard/tabs/.  Training runs in
background jobs (dashboard/jobs/runner.py, drawn by dashboard/page/job_panel.py), so moving a slider or switching
tabs never stops it.  The jobs and the last report are kept per browser on the server (dashboard/page/sessions.py),
so a reload finds them again; the settings, the lesson and the open tab live in the URL (dashboard/page/links.py),
so a link opens the page as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import streamlit as st
import torch

# torch.optim's first optimizer imports torch._dynamo: 1.5 s of pure-Python import on an idle machine.  Inside a
# training thread, sharing the GIL with every session's script thread, that import takes over a minute under load
# (the soak test), and every other training waits on its import lock.  So the server does it once, here, before any
# training.
import torch._dynamo  # noqa: F401
from streamlit.delta_generator import DeltaGenerator

from dashboard.page import accessibility, job_panel, links, resources, sessions, sidebar, style, upload_panel
from dashboard.runs import distill as runs
from dashboard.tabs import (
    class_board,
    distill,
    draw,
    explanation,
    history,
    language,
    look_closer,
    probabilities,
    ship,
)
from dashboard.tabs import finding as finding_tab  # the Distill tab of a finding after Hinton
from dashboard.tabs.experiments import dark_knowledge, little_data, methods, sweep, unseen_class
from kd_core import Dataset, RunConfig

# One CPU thread per training: dashboard.jobs.runner already runs up to one training per core at once, and torch's
# default (a thread per core, spinning while it waits) makes the tiny digits models 5-20x slower whenever anything
# else is busy (the Streamlit server, the browser, other trainings).
torch.set_num_threads(1)

DATASET_NAMES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "cifar10": "CIFAR-10"}

View = Callable[[], None]  # draws one tab


@dataclass(frozen=True)
class Inputs:
    """What the sidebar asks for: the run's settings (an upload applied), the number of seeds, the dataset or
    teacher of this browser's own, and the slot near the sidebar's top where the run buttons go."""

    config: RunConfig
    seeds: int
    own: upload_panel.Choice
    buttons: DeltaGenerator


@dataclass(frozen=True)
class Data:
    """The dataset the settings name (None where its files are not on this server) and whether they can train on
    it: not with a dataset missing or a setting invalid."""

    dataset: Dataset | None
    usable: bool


def main() -> None:
    st.set_page_config(page_title="Knowledge distillation", page_icon="🎓", layout="wide")
    restore_session()
    inputs = sidebar_inputs()
    header(inputs.own)
    data = checked_data(inputs.config)
    distill.sidebar_buttons(inputs.buttons, inputs.config, inputs.seeds, data.usable)
    sidebar.look_for(inputs.config, inputs.own)  # the lesson's words on what to look for, for the data in use
    show_tabs(views(inputs, data))
    sessions.send_cookie()


def restore_session() -> None:
    """This browser's state, before anything is drawn: its record on the server (jobs, report, history), the
    lesson, settings and tab from the URL on its first run, and the outputs of a job that has finished."""
    resources.warm_workers()
    sessions.current()
    links.read_once()
    job_panel.note_running_jobs()  # before collecting: a job that ends during this run still reruns the page
    distill.collect_finished_job()


def sidebar_inputs() -> Inputs:
    """The sidebar, top to bottom: the lesson first, as it sets every control below; the run buttons next, near
    the top (filled once the data is checked); the settings; a dataset or teacher of this browser's own.  The
    settings are drawn last, into their place above the uploads, as an upload in use replaces some of them."""
    sidebar.lesson_picker()
    buttons = st.sidebar.container()
    settings = st.sidebar.container()
    own = upload_panel.sidebar()
    config, seeds = sidebar.config(settings, own)
    return Inputs(upload_panel.apply(config, own), seeds, own, buttons)


def header(own: upload_panel.Choice) -> None:
    """The page's style and title, an introduction until there is a report, and what became of any upload."""
    style.apply()  # compact for a projector, readable on a phone; presentation mode's larger type when it is on
    accessibility.inject()  # captions with enough contrast, slider names read once (dashboard/page/accessibility.py)
    st.title("Knowledge distillation, live")
    if sessions.current().seeds_outcome is None:  # once there is a report, the report goes higher
        st.caption(
            "A big **teacher** learns the labels; a small **student** learns from the teacher's softened "
            "probabilities; the same small model trained on labels alone (the **scratch baseline**) shows what the "
            "teacher adds."
        )
    upload_panel.messages(own)


def checked_data(config: RunConfig) -> Data:
    """The dataset, and whether the settings can train on it; a missing dataset or an invalid setting is
    reported here, above the tabs."""
    dataset, problem = resources.dataset_or_problem(config.dataset)
    usable = dataset is not None
    if problem:
        missing_dataset(config.dataset, problem)
    invalid = runs.problem_with(config, dataset)
    if invalid:
        st.error(f"Invalid setting: {invalid}")
        usable = False
    return Data(dataset, usable)


def missing_dataset(name: str, problem: str) -> None:
    """A dataset whose files are not on this server: what that means for the student, a way back to the built-in
    digits, and the server's path (for whoever runs it) in an expander."""
    title = DATASET_NAMES.get(name, name)
    lesson = sidebar.current_lesson()
    what = "This lesson" if lesson is not None and lesson.settings.get("dataset") == name else "This dataset"
    st.error(
        f"{what} needs the {title} files, and they are not on this server, so nothing can train on {title} here. "
        "Pick a lesson on the built-in digits instead — they always work."
    )
    st.button(
        "Back to a digits lesson",
        key="back_to_digits",
        on_click=sidebar.choose_lesson,
        args=(sidebar.FIRST_LESSON,),
        help="Switch to the first lesson, on the built-in digits dataset.",
    )
    with st.expander(f"For whoever runs the server: where the {title} files go"):
        st.code(problem, language=None, wrap_lines=True)
        st.caption(
            "Start the server with KD_DATA_DIR pointing at a folder that holds them (for MNIST, the four IDX files "
            "under MNIST/raw/), then reload the page."
        )


def views(inputs: Inputs, data: Data) -> dict[str, View]:
    """Tab label -> the function that draws it; a new tab is one module under dashboard/tabs/ and one entry here."""
    config, seeds, usable = inputs.config, inputs.seeds, data.usable
    shown = data.dataset if usable else None
    experiment = lambda render: experiment_view(render, inputs, usable)
    finding_tab.collect_finished()  # on every run, whatever tab is open: a finished finding goes into History
    finding = sidebar.current_finding()  # a finding after Hinton: its Distill runs and reports all its arms
    return {
        "Distill": (
            (lambda: finding_tab.render(finding, config.seed, usable))
            if finding is not None
            else lambda: distill.render(config, usable, seeds)
        ),
        "Probabilities": lambda: (
            probabilities.render(config, data.dataset) if usable else st.info("Pick an available dataset.")
        ),
        "Draw a digit": lambda: draw.render(config, shown),  # your own digit, the bars beside it
        "Look closer": look_closer.render,  # the last Distill class by class, its models as files, its kd-train line
        "Ship": ship.render,  # the last Distill's models as FP32 and int8 ONNX files, measured: the Pareto chart
        "Language": language.render,  # distil a character-level language model: bits/char, next characters, samples
        "What is happening": lambda: explanation.render(config, shown),
        "History": history.render,
        "T & λ sweep": experiment(sweep.render),  # Hinton's three experiments + dark knowledge
        "Little data": experiment(little_data.render),
        "Unseen class": experiment(unseen_class.render),
        "Dark knowledge": experiment(dark_knowledge.render),
        "Methods": experiment(lambda c: methods.render(c, seeds)),  # DKD, DIST, … against KD over the seeds
        "Class board": class_board.render,  # every run on this server
    }


def experiment_view(render: Callable[[RunConfig], None], inputs: Inputs, usable: bool) -> View:
    """An experiment's tab: ``render`` on the settings, or why it cannot run with them."""
    if not usable:  # no dataset, or an invalid setting, which is reported above the tabs
        return lambda: st.info("Pick an available dataset and valid settings in the sidebar.")
    if inputs.own.data is not None:  # these experiments are written for the built-in datasets' classes
        return lambda: st.info(
            "This experiment runs on the built-in datasets: under “Train on”, in the sidebar's "
            "“Your own data or teacher”, pick the Dataset setting to see it."
        )
    return lambda: render(inputs.config)


def show_tabs(tabs: dict[str, View]) -> None:
    """The tabs, the URL's open; then the link that opens the page as it is now."""
    labels = list(tabs)
    links.choose_tab(labels)
    links.notes()
    # on_change="rerun": the open tab is known to the script, so that it can go into the link, and only the open
    # tab draws. Fifteen tabs drawn on every click cost a class of thirty on one server seconds per answer; a tab
    # that opens draws then, in the rerun its click starts.
    for container, render in zip(st.tabs(labels, key="tab", on_change="rerun"), tabs.values()):
        if container.open is not False:  # None: state is not tracked (never, with on_change set), so draw
            with container:
                render()
    links.share(links.write(labels[0]))


# kd_core keeps its worker processes off __main__; should Streamlit install a fresh __main__ just as a worker
# starts, the worker imports this file as __mp_main__ and draws nothing.
if __name__ != "__mp_main__":
    main()
