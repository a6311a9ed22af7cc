"""The sidebar: a lesson picker on top, then every setting of a run.

A lesson (``kd_core.studies.lessons.LESSONS``) is a named set of settings and two sentences on what to look for.
Choosing one writes its settings into the widgets' session state before they are drawn (an ``on_change``
callback), so every control shows the lesson's value and the user can still move it.  "Free play" is the
plain defaults.  A lesson setting that has no control here (a new RunConfig field, say) still applies to the
runs and is listed under the lesson's text.
"""

from __future__ import annotations

import dataclasses

import streamlit as st

from dashboard.page import resources, sessions
from dashboard.page.choices import (
    ALL_CONTROLS,
    BATCH_SIZES,
    CONTROLS,
    FRACTIONS,
    LEARNING_RATES,
    SHORT_NAMES,
    SLIDERS,
    WIDTHS,
    format_value,
)
from dashboard.runs import distill as runs
from dashboard.text import run_settings, wording
from kd_core import DATASETS, RunConfig
from kd_core.data.datasets import files_needed, on_disk
from kd_core.methods.registry import KD_VARIANTS
from kd_core.models.architectures import ARCHITECTURES
from kd_core.studies.lessons import LESSONS

state = st.session_state
FREE_PLAY = "free-play"
FIRST_LESSON = "little-data"  # the page opens on a lesson whose first Distill shows KD helping
FULL_DATA = "full-data"
FREE_PLAY_SEEDS = 3
LOSS_NAMES = run_settings.LOSS_NAMES
DEFAULTS = RunConfig()
FREE_PLAY_CONTROLS = ("temperature", "lam", "student_fraction", "seed")
DATASET_TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "cifar10": "CIFAR-10"}


def lesson_names() -> list[str]:
    return [*LESSONS, FREE_PLAY]


def lesson_title(name: str) -> str:
    return "Free play (plain defaults)" if name == FREE_PLAY else LESSONS[name].title


def current_lesson():
    """The chosen lesson (a kd_core Lesson), or None for free play."""
    return LESSONS.get(state.get("lesson", FIRST_LESSON))


def settings_of(name: str) -> dict:
    """Every control's value for a lesson (or free play): the lesson's settings over the defaults."""
    lesson = LESSONS.get(name)
    settings = dict(lesson.settings) if lesson else {}
    dataset = settings.get("dataset") or DEFAULTS.dataset
    spec = DATASETS[dataset]
    values = {field: settings.get(field, getattr(DEFAULTS, field)) for field in CONTROLS}
    for field, value in values.items():  # None: the dataset's default (architectures, epochs, lr, batch size)
        if value is None and field not in ("omit_class", "student_width"):
            values[field] = getattr(spec, field)
    if values["student_width"] is None:  # the student architecture's own width
        values["student_width"] = ARCHITECTURES[values["student"]].width
    values.update(
        dataset=dataset, seeds=lesson.seeds if lesson else FREE_PLAY_SEEDS
    )  # a lesson's claim holds over its seeds only
    values["temperature"], values["lam"] = float(values["temperature"]), float(values["lam"])
    return values


def hidden_settings() -> dict:
    """The chosen lesson's settings that no control shows; they apply to its runs all the same."""
    lesson = current_lesson()
    fields = {f.name for f in dataclasses.fields(RunConfig)}  # a setting RunConfig does not know is left out
    return {} if lesson is None else {k: v for k, v in lesson.settings.items() if k in fields and k not in CONTROLS}


def needs_files() -> dict[tuple[str, str], list[str]]:
    """(dataset, where its files go) -> the titles of the lessons that need them, for datasets not on disk here."""
    missing: dict[tuple[str, str], list[str]] = {}
    for lesson in LESSONS.values():
        name = lesson.settings.get("dataset", DEFAULTS.dataset)
        if not on_disk(name):
            missing.setdefault((DATASET_TITLES.get(name, name), files_needed(name)), []).append(lesson.title)
    return missing


def apply_lesson() -> None:
    """Set every control to the chosen lesson's values (an on_change callback: runs before the widgets are drawn).

    The report on screen keeps the lesson it was run in (``report_lesson``), so it never speaks for the new one."""
    report_lesson(state.get("lesson_in_effect", state.get("lesson", FIRST_LESSON)))
    state["lesson_in_effect"] = state.get("lesson", FIRST_LESSON)
    for field, value in settings_of(state.get("lesson", FIRST_LESSON)).items():
        state[field] = value
    state["sample_index"] = 0


def report_lesson(lesson: str | None = None) -> str | None:
    """The lesson the last Distill's report belongs to: the one chosen when the report was first drawn, or the one
    left while it was on screen (``lesson``).  None when there is no report."""
    outcome = sessions.current().seeds_outcome
    if outcome is None:
        return None
    if getattr(outcome, "lesson", None) is None:
        outcome.lesson = lesson or state.get("lesson", FIRST_LESSON)
    return outcome.lesson


def choose_lesson(name: str) -> None:
    """A button's callback: switch to lesson ``name`` (e.g. the full-data lesson from the report)."""
    state["lesson"] = name
    apply_lesson()


def on_dataset_change() -> None:
    """A new dataset brings its own default teacher/student pair; the sample index starts over."""
    state["teacher"], state["student"] = runs.default_pair(state["dataset"])
    on_student_change()
    state["sample_index"] = 0


def on_student_change() -> None:
    """A new student architecture starts at its own width."""
    state["student_width"] = ARCHITECTURES[state["student"]].width


def _percent(fraction: float, train_size: int | None) -> str:
    images = "" if train_size is None else f" ({max(1, round(fraction * train_size)):,} images)"
    return f"{100 * fraction:g} %{images}"


def lesson_picker() -> None:
    """The "Lesson" selectbox; a session's first run opens on FIRST_LESSON with its settings."""
    if "lesson" not in state or state["lesson"] not in lesson_names():
        state["lesson"] = FIRST_LESSON
        apply_lesson()
    st.sidebar.selectbox(
        "Lesson",
        lesson_names(),
        key="lesson",
        format_func=lesson_title,
        on_change=apply_lesson,
        help="A ready-made experiment: sets every control below; you can still move them afterwards.",
    )
    needing = needs_files()
    if needing:  # they stay in the picker: choosing one says the same, with a way back to the digits
        st.sidebar.caption(
            " ".join(
                f"{' and '.join(f'“{t}”' for t in titles)} need the {name} files, which are not on this server: they "
                f"go in {where} (set KD_DATA_DIR before starting it)."
                for (name, where), titles in needing.items()
            )
        )
    st.sidebar.toggle(
        "Presentation mode",
        key="present",
        help="For a projector: larger type, and only this lesson's controls (the others keep its values).",
    )


def _controls(dataset: str, student: str, train_size: int | None) -> dict:
    """Control name -> a function that draws it in ``where`` and returns its value."""
    architectures = runs.architectures()
    describe = lambda name: f"{name} — {architectures[name]}"  # noqa: E731
    classes = list(range(DATASETS[dataset].num_classes))
    keep = {"persist_state": "session"}  # a hidden control (a lesson link, presentation mode) keeps its value

    def slider(where, field: str, label: str, help: str):
        low, high, step = SLIDERS[field]
        return where.slider(label, min_value=low, max_value=high, step=step, key=field, help=help, **keep)

    return {
        "dataset": lambda w: w.selectbox(
            "Dataset",
            runs.dataset_names(),
            key="dataset",
            on_change=on_dataset_change,
            **keep,
            format_func=lambda name: f"{name} (built in)" if name == "digits" else name,
            help="The images teacher and student learn from; digits is built in, the others need their files on disk.",
        ),
        "teacher": lambda w: w.selectbox(
            "Teacher architecture",
            list(architectures),
            key="teacher",
            format_func=describe,
            **keep,
            help="The big model trained first on the labels; its softened outputs become the student's targets.",
        ),
        "student": lambda w: w.selectbox(
            "Student architecture",
            list(architectures),
            key="student",
            format_func=describe,
            on_change=on_student_change,
            **keep,
            help="The small model that learns from the teacher (KD student) and, as a control, from labels alone "
            "(baseline).",
        ),
        "student_width": lambda w: w.select_slider(
            "Student width (hidden units / channels)",
            WIDTHS,
            key="student_width",
            **keep,
            help="How big the student is: the hidden units of each layer of an MLP student, or the channels of a "
            f"CNN student. {student} has {ARCHITECTURES[student].width} of its own; the report gives its parameter "
            "count.",
        ),
        "temperature": lambda w: slider(
            w,
            "temperature",
            "Temperature T",
            "Divides the logits before the softmax: higher T spreads probability onto the wrong-but-plausible classes.",
        ),
        "lam": lambda w: slider(
            w,
            "lam",
            "λ (weight of the soft loss)",
            "How much the student copies the teacher's softened outputs (λ) versus the true labels (1 − λ).",
        ),
        "loss": lambda w: w.selectbox(
            "Loss",
            list(KD_VARIANTS),
            key="loss",
            format_func=lambda name: LOSS_NAMES.get(name, name),
            **keep,
            help="The distillation loss: the correct one, or two mistakes to see what they do (see What is happening).",
        ),
        "student_fraction": lambda w: w.select_slider(
            "Student's share of the training data",
            FRACTIONS,
            key="student_fraction",
            format_func=lambda v: _percent(v, train_size),
            **keep,
            help="The students see only this share of the training images (with as many steps as a full-data run); "
            "the teacher sees all.",
        ),
        "omit_class": lambda w: w.selectbox(
            "Class the student never sees",
            [None, *classes],
            key="omit_class",
            format_func=lambda c: "none" if c is None else f"class {c}",
            placeholder="none: every class is seen",
            help="Hide one class from the students' training data: can the teacher's soft targets teach it anyway?",
            **keep,
        ),
        "epochs": lambda w: slider(
            w,
            "epochs",
            "Epochs (student)",
            "Passes over the training set for the KD student and the scratch baseline alike (scaled up with a small "
            "share of the data).",
        ),
        "teacher_epochs": lambda w: slider(
            w,
            "teacher_epochs",
            "Teacher epochs",
            "Passes over the training set for the teacher; a teacher already trained with these settings loads from "
            "the cache.",
        ),
        "lr": lambda w: w.select_slider(
            "Learning rate",
            LEARNING_RATES,
            key="lr",
            format_func=lambda v: f"{v:g}",
            **keep,
            help="Adam's step size for teacher and students; too high and the loss diverges.",
        ),
        "batch_size": lambda w: w.select_slider(
            "Batch size",
            BATCH_SIZES,
            key="batch_size",
            **keep,
            help="Images per optimizer step; the student sees the teacher's soft targets for the same images.",
        ),
        "seed": lambda w: slider(
            w,
            "seed",
            "Seed",
            "Fixes the initial weights and batch order: KD student and baseline start identical, so the comparison is "
            "fair.",
        ),
        "seeds": lambda w: slider(
            w,
            "seeds",
            "Seeds",
            "Repeat the whole experiment with seeds seed, seed+1, …: the verdict and its 95 % interval need 2 or more.",
        ),
    }


def key_controls() -> tuple[str, ...]:
    """The controls the chosen lesson is about (drawn first; the only ones in presentation mode)."""
    lesson = current_lesson()
    return tuple(getattr(lesson, "controls", ())) or FREE_PLAY_CONTROLS


def hidden_controls() -> set[str]:
    """Controls not drawn: those a link hides, or in presentation mode all but the lesson's own."""
    hidden = set(state.get("hide") or ())
    if state.get("present") and not hidden:
        hidden = set(ALL_CONTROLS) - set(key_controls())
    return hidden


def config() -> tuple[RunConfig, int]:
    """Every setting of a run, from the sidebar's widgets, and the number of seeds.  Other tabs reuse this config.

    The lesson's own controls come first, so that on a phone they are the first thing under the buttons; a
    hidden control is not drawn and keeps its value (the lesson's, or the link's)."""
    defaults = settings_of(state.get("lesson", FIRST_LESSON))
    for field in ALL_CONTROLS:  # a control never drawn in this session has its lesson's value
        if field not in state:
            state[field] = defaults[field]
    if state["dataset"] not in DATASETS:
        state["dataset"] = DEFAULTS.dataset
    if state.get("student") not in ARCHITECTURES:
        state["student"] = runs.default_pair(state["dataset"])[1]
    if state.get("student_width") not in WIDTHS:
        state["student_width"] = ARCHITECTURES[state["student"]].width
    if state.get("omit_class") not in [None, *range(DATASETS[state["dataset"]].num_classes)]:
        state["omit_class"] = None
    data, _ = resources.dataset_or_problem(state["dataset"])
    draw = _controls(state["dataset"], state["student"], None if data is None else len(data.y_train))
    hidden, first = hidden_controls(), key_controls()
    values = {}
    st.sidebar.header("Settings")
    for field in [*first, *(f for f in ALL_CONTROLS if f not in first)]:
        values[field] = state[field] if field in hidden else draw[field](st.sidebar)
    if hidden:
        st.sidebar.caption(
            "Hidden here, and still applied: "
            + ", ".join(f"{SHORT_NAMES[f]} = {format_value(f, values[f])}" for f in ALL_CONTROLS if f in hidden)
            + "."
        )
    settings = {field: values[field] for field in CONTROLS}
    settings.update(
        student_width=int(settings["student_width"]),
        temperature=float(settings["temperature"]),
        lam=float(settings["lam"]),
        student_fraction=float(settings["student_fraction"]),
        epochs=int(settings["epochs"]),
        teacher_epochs=int(settings["teacher_epochs"]),
        lr=float(settings["lr"]),
        batch_size=int(settings["batch_size"]),
        seed=int(settings["seed"]),
    )
    return RunConfig(**{**hidden_settings(), **settings}), int(values["seeds"])


def look_for() -> None:
    """The chosen lesson's two sentences on what to look for, above the tabs."""
    lesson = current_lesson()
    if lesson is None:
        st.caption(
            "Free play: every control starts at its plain default. Pick a lesson in the sidebar for a ready-made "
            "experiment."
        )
        return
    extra = hidden_settings()
    also = (
        ""
        if not extra
        else " (The lesson also uses " + ", ".join(run_settings.phrase(k, v) for k, v in extra.items()) + ".)"
    )
    st.info(f"**Lesson: {wording.sentence(lesson.title)}** {lesson.look_for}{also}")
