"""kd-dashboard: see knowledge distillation work.  Start with ``make run`` or ``kd-dashboard``.

Layout: the sidebar holds every input (a lesson, the settings and buttons: dashboard/page/sidebar.py); the main
area holds the lesson's text and the outputs, in tabs, one module each under dashboard/tabs/.  Training runs in background jobs (dashboard/jobs/runner.py, drawn by
dashboard/page/job_panel.py), so moving a slider or switching tabs never stops it.  The jobs and the last report
are kept per browser on the server (dashboard/page/sessions.py), so a reload finds them again; the settings, the
lesson and the open tab live in the URL (dashboard/page/links.py), so a link opens the page as it was.
"""

from __future__ import annotations

from typing import Callable

import streamlit as st
import torch

# torch.optim's first optimizer imports torch._dynamo: 1.5 s of pure-Python import on an idle machine.  Inside a
# training thread, sharing the GIL with every session's script thread, that import took over a minute in the soak
# test, and every other training waited on its import lock.  So the server does it once, here, before any training.
import torch._dynamo  # noqa: F401

from dashboard.page import accessibility, job_panel, links, sessions, sidebar, style, upload_panel
from dashboard.runs import distill as runs
from dashboard.runs import resources
from dashboard.tabs import (
    class_board,
    dark_knowledge,
    distill,
    explanation,
    history,
    little_data,
    look_closer,
    methods,
    probabilities,
    sweep,
    unseen_class,
)
from dashboard.tabs import draw as draw_tab  # not `draw`: the tab loop below names its functions so
from kd_core import RunConfig

# One CPU thread per training: dashboard.jobs.runner already runs up to one training per core at once, and torch's
# default (a thread per core, spinning while it waits) made the tiny digits models 5-20x slower whenever
# anything else was busy (the Streamlit server, the browser, other trainings).
torch.set_num_threads(1)
state = st.session_state

# ---------------------------------------------------------------- the page

DATASET_NAMES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "cifar10": "CIFAR-10"}


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


def main() -> None:
    st.set_page_config(page_title="Knowledge distillation", page_icon="🎓", layout="wide")
    resources.warm_workers()
    sessions.current()  # this browser's record (jobs, report, history): a reload finds its run again
    links.read_once()  # a session's first run: the lesson, the settings, the tab from the URL
    job_panel.note_running_jobs()  # before collecting: a job that ends during this run still reruns the page
    distill.collect_finished_job()
    sidebar.lesson_picker()  # at the very top: a lesson sets every control below
    buttons = st.sidebar.container()  # next, so the buttons sit near the top; filled once the config is known
    config, seeds = sidebar.config()
    own = upload_panel.sidebar()  # a dataset or teacher of this browser's own, uploaded
    config = upload_panel.apply(config, own)
    style.apply()  # compact for a projector, readable on a phone; presentation mode's larger type when it is on
    accessibility.inject()  # captions with enough contrast, slider names read once (dashboard/page/accessibility.py)
    st.title("Knowledge distillation, live")
    if sessions.current().seeds_outcome is None:  # an introduction: once there is a report, the report goes higher
        st.caption(
            "A big **teacher** learns the labels; a small **student** learns from the teacher's softened probabilities; "
            "the same small model trained on labels alone (the **scratch baseline**) shows what the teacher adds."
        )
    upload_panel.messages(own)
    dataset, problem = resources.dataset_or_problem(config.dataset)
    usable = dataset is not None
    if problem:
        missing_dataset(config.dataset, problem)
    invalid = runs.problem_with(config, dataset)
    if invalid:
        st.error(f"Invalid setting: {invalid}")
        usable = False
    distill.sidebar_buttons(buttons, config, seeds, usable)
    sidebar.look_for()

    def experiment(render: Callable[[RunConfig], None]) -> Callable[[], None]:
        if not usable:  # no dataset, or an invalid setting, which is reported above
            return lambda: st.info("Pick an available dataset and valid settings in the sidebar.")
        if own.data is not None:  # these experiments are written for the built-in datasets' classes
            return lambda: st.info(
                "This experiment runs on the built-in datasets: under “Train on”, in the sidebar's "
                "“Your own data or teacher”, pick the Dataset setting to see it."
            )
        return lambda: render(config)

    # Tab label -> draw(); a new tab is one module under dashboard/tabs/ and one entry here.
    tabs: dict[str, Callable[[], None]] = {
        "Distill": lambda: distill.render(config, usable, seeds),
        "Probabilities": lambda: (
            probabilities.render(config, dataset) if usable else st.info("Pick an available dataset.")
        ),
        "Draw a digit": lambda: draw_tab.render(
            config, dataset if usable else None
        ),  # your own digit, the bars beside it
        "Look closer": look_closer.render,  # the last Distill class by class, its models as files, its kd-train line
        "What is happening": lambda: explanation.render(config, dataset if usable else None),
        "History": history.render,
        "T & λ sweep": experiment(sweep.render),  # Hinton's three experiments + dark knowledge
        "Little data": experiment(little_data.render),
        "Unseen class": experiment(unseen_class.render),
        "Dark knowledge": experiment(dark_knowledge.render),
        "Methods": experiment(lambda c: methods.render(c, seeds)),  # DKD, DIST, … against KD over the seeds
        "Class board": class_board.render,  # every run on this server
    }
    links.choose_tab(list(tabs))
    links.notes()
    # on_change="rerun": the open tab is known to the script, so that it can go into the link.
    for container, draw in zip(st.tabs(list(tabs), key="tab", on_change="rerun"), tabs.values()):
        with container:
            draw()
    links.share(links.write(next(iter(tabs))))
    sessions.send_cookie()


# kd_core keeps its worker processes off __main__; should Streamlit install a fresh __main__ just as a worker
# starts, the worker imports this file as __mp_main__ and draws nothing.
if __name__ != "__mp_main__":
    main()
