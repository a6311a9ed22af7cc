"""The sidebar: a lesson picker on top, then every setting of a run.

The picker is grouped: "Hinton 2015" (``LESSONS``, and free play) and "After Hinton" (the findings of
kd_core/studies/research.py, ``FINDINGS``).  A finding's arms are fixed by the finding, so for one the sidebar shows
what its arms are instead of the controls, and only the first seed; its Distill runs every arm
(dashboard/runs/findings.py), started here when the sidebar's Distill is clicked (``start_finding_on_click``).

A lesson (``kd_core.studies.lessons.LESSONS``) is a named set of settings and two sentences on what to look for.
Choosing one writes its settings into the widgets' session state before they are drawn (an ``on_change``
callback), so every control shows the lesson's value and the user can still move it.  "Free play" is the
plain defaults.  A lesson setting that has no control here (a new RunConfig field, say) still applies to the
runs and is listed under the lesson's text.

An upload in use (dashboard/page/upload_panel.py) sets the data, the models, their epochs, learning rate and batch
size itself, so the controls for the built-in data are put away and one note says what runs instead; an uploaded
teacher puts away the teacher's controls.  A lesson on an upload adapts its students' share to images of each class
(``kd_core.studies.lessons.on_own_data``) or says plainly why it does not apply, and the lesson box says what one
test image is worth there.
"""

from __future__ import annotations

import dataclasses

import streamlit as st
import torch

from dashboard.page import job_panel, resources, sessions
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
from dashboard.runs import findings as finding_runs
from dashboard.text import findings as finding_text
from dashboard.text import run_settings, verdict, wording
from kd_core import DATASETS, RunConfig
from kd_core.data.datasets import files_needed, on_disk
from kd_core.methods.registry import KD_VARIANTS
from kd_core.models.architectures import ARCHITECTURES
from kd_core.models.own_teacher import file_weights
from kd_core.studies.lessons import LESSONS, images_seen, lesson_images_per_class, on_own_data
from kd_core.studies.research import FINDINGS, Finding, base_arm

state = st.session_state
FREE_PLAY = "free-play"
FIRST_LESSON = "little-data"  # the page opens on a lesson whose first Distill shows KD helping
FULL_DATA = "full-data"
FREE_PLAY_SEEDS = 3
LOSS_NAMES = run_settings.LOSS_NAMES
DEFAULTS = RunConfig()
FREE_PLAY_CONTROLS = ("temperature", "lam", "student_fraction", "seed")
DATASET_TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "cifar10": "CIFAR-10"}


HINTON, AFTER_HINTON = finding_text.GROUPS


def lesson_names() -> list[str]:
    """Every name the picker knows: the lessons, the findings after Hinton, free play."""
    return [*LESSONS, *FINDINGS, FREE_PLAY]


def group_of(name: str) -> str:
    return AFTER_HINTON if name in FINDINGS else HINTON


def group_names(group: str) -> list[str]:
    """The picker's options in ``group``: Hinton 2015's lessons and free play, or the findings after Hinton."""
    return list(FINDINGS) if group == AFTER_HINTON else [*LESSONS, FREE_PLAY]


def lesson_title(name: str) -> str:
    if name in FINDINGS:
        return FINDINGS[name].title
    return "Free play (plain defaults)" if name == FREE_PLAY else LESSONS[name].title


def current_lesson():
    """The chosen lesson (a kd_core Lesson), or None for free play and for a finding (``current_finding``)."""
    return LESSONS.get(state.get("lesson", FIRST_LESSON))


def current_finding() -> Finding | None:
    """The chosen finding after Hinton, or None for a lesson or free play."""
    return FINDINGS.get(state.get("lesson", FIRST_LESSON))


def settings_of(name: str) -> dict:
    """Every control's value for a lesson (or free play, or a finding: its first arm's settings, which the
    sidebar names as its base): the lesson's settings over the defaults."""
    lesson = LESSONS.get(name)
    finding = FINDINGS.get(name)
    settings = dict(lesson.settings) if lesson else dict(finding.arms[base_arm(finding)]) if finding else {}
    dataset = settings.get("dataset") or DEFAULTS.dataset
    spec = DATASETS[dataset]
    values = {field: settings.get(field, getattr(DEFAULTS, field)) for field in CONTROLS}
    for field, value in values.items():  # None: the dataset's default (architectures, epochs, lr, batch size)
        if value is None and field not in ("omit_class", "student_width"):
            values[field] = getattr(spec, field)
    if values["student_width"] is None:  # the student architecture's own width
        values["student_width"] = ARCHITECTURES[values["student"]].width
    seeds = lesson.seeds if lesson else finding.seeds if finding else FREE_PLAY_SEEDS
    values.update(dataset=dataset, seeds=seeds)  # a lesson's claim holds over its seeds only
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


def choose_group() -> None:
    """The group's callback: its first lesson (Hinton 2015's opening lesson, or the first finding)."""
    group = state.get("lesson_group", HINTON)
    choose_lesson(FIRST_LESSON if group == HINTON else next(iter(FINDINGS)))


def on_dataset_change() -> None:
    """A new dataset brings its own default teacher/student pair; the sample index starts over."""
    state["teacher"], state["student"] = runs.default_pair(state["dataset"])
    on_student_change()
    state["sample_index"] = 0


def on_student_change() -> None:
    """A new student architecture starts at its own width."""
    state["student_width"] = ARCHITECTURES[state["student"]].width


def _percent(fraction: float, labels) -> str:
    """``5 % (70 images)``: the share, and the training images the students see at it (``labels``: the training
    labels of the data in use, None where they are not at hand), rounded per class as the engine rounds them."""
    images = "" if labels is None else f" ({images_seen(fraction, labels)[0]:,} images)"
    return f"{100 * fraction:g} %{images}"


def lesson_picker() -> None:
    """The lesson picker, grouped: "Hinton 2015" or "After Hinton", then the "Lesson" selectbox of that group; a
    session's first run opens on FIRST_LESSON with its settings."""
    if "lesson" not in state or state["lesson"] not in lesson_names():
        state["lesson"] = FIRST_LESSON
        apply_lesson()
    state["lesson_group"] = group_of(state["lesson"])  # a link or a button may have chosen a lesson of the other
    st.sidebar.radio(
        "Lessons",
        finding_text.GROUPS,
        key="lesson_group",
        horizontal=True,
        on_change=choose_group,
        help="Hinton 2015: the paper's ideas, each a lesson with one claim. After Hinton: what a decade of "
        "research found since — born-again students, the capacity gap, smoothed teachers, fidelity, noise — "
        "each a set of runs compared seed by seed.",
    )
    after = state["lesson_group"] == AFTER_HINTON
    st.sidebar.selectbox(
        "Finding" if after else "Lesson",
        group_names(state["lesson_group"]),
        key="lesson",
        format_func=lesson_title,
        on_change=apply_lesson,
        help="A finding after Hinton: its arms are fixed, and a Distill runs them all over its seeds."
        if after
        else "A ready-made experiment: sets every control below; you can still move them afterwards.",
    )
    needing = {} if after else needs_files()
    if needing:  # they stay in the picker: choosing one says the same, with a way back to the digits
        st.sidebar.caption(
            " ".join(
                f"{' and '.join(f'“{t}”' for t in titles)} need the {name} files, which are not on this server."
                for (name, _), titles in needing.items()
            )
        )
        with st.sidebar.expander("For whoever runs the server"):  # a folder of the server is not a student's
            st.caption(
                " ".join(
                    f"The {name} files go in {where} (set KD_DATA_DIR before starting it)."
                    for (name, where), _ in needing.items()
                )
            )
    st.sidebar.toggle(
        "Presentation mode",
        key="present",
        help="For a projector: larger type, and only this lesson's controls (the others keep its values).",
    )


def _controls(dataset: str, student: str, labels, class_names: list[str] | None = None) -> dict:
    """Control name -> a function that draws it in ``where`` and returns its value.  ``labels``: the training labels
    of the data in use (None where they are not at hand); ``class_names``: its classes' names, where an upload's."""
    architectures = runs.architectures()
    describe = lambda name: f"{name} — {architectures[name]}"  # noqa: E731
    classes = list(range(len(class_names) if class_names else DATASETS[dataset].num_classes))
    class_label = lambda c: f"class {c}" if not class_names else f"class {class_names[c]}"  # noqa: E731
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
            format_func=lambda v: _percent(v, labels),
            **keep,
            help="The students see only this share of the training images (with as many steps as a full-data run); "
            "the teacher sees all.",
        ),
        "omit_class": lambda w: w.selectbox(
            "Class the student never sees",
            [None, *classes],
            key="omit_class",
            format_func=lambda c: "none" if c is None else class_label(c),
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
    """The controls the chosen lesson is about (drawn first; the only ones in presentation mode); a finding's
    only control is its first seed."""
    if current_finding() is not None:
        return ("seed",)
    lesson = current_lesson()
    return tuple(getattr(lesson, "controls", ())) or FREE_PLAY_CONTROLS


def hidden_controls() -> set[str]:
    """Controls not drawn: those a link hides, or in presentation mode all but the lesson's own."""
    hidden = set(state.get("hide") or ())
    if state.get("present") and not hidden:
        hidden = set(ALL_CONTROLS) - set(key_controls())
    return hidden


# What an upload in use sets itself (dashboard/page/upload_panel.py ``apply``): its controls are put away.
UPLOAD_SETS = ("dataset", "teacher", "student", "student_width", "epochs", "teacher_epochs", "lr", "batch_size")
OWN_TEACHER_SETS = ("teacher", "teacher_epochs")  # an uploaded teacher is used as it is: nothing trains it


def replaced_controls(own) -> set[str]:
    """The controls an upload in use (``own``: upload_panel's Choice, or None) replaces with its own settings."""
    replaced = set()
    if getattr(own, "data", None) is not None:
        replaced.update(UPLOAD_SETS)
    if getattr(own, "teacher", None) is not None:
        replaced.update(OWN_TEACHER_SETS)
    return replaced


def adapt_share(upload, data) -> None:
    """On an upload (``upload``: an Upload, ``data``: its Dataset), a lesson's share of the training data becomes as
    many images of each class as the lesson's students see on its own data (kd_core ``on_own_data``); back on the
    built-in data, the lesson's own share returns.  A share the student moved is left where it is.  Runs before the
    share's control is drawn."""
    name = state.get("lesson", FIRST_LESSON)
    key = (name, None if upload is None else upload.name)
    before = state.get("share_adapted")
    if before is not None and tuple(before[:2]) == key:
        return
    if (
        before is not None
        and before[2] is not None
        and before[0] == name
        and state.get("student_fraction") == before[2]
    ):
        state["student_fraction"] = settings_of(name)["student_fraction"]  # the upload left: the lesson's own share
    adapted = None
    lesson = LESSONS.get(name)
    own_share = None if lesson is None else lesson.settings.get("student_fraction")
    if upload is not None and data is not None and own_share is not None and state.get("student_fraction") == own_share:
        fit = on_own_data(lesson, data.y_train, FRACTIONS)
        if fit.applies:
            state["student_fraction"] = adapted = fit.fraction
    state["share_adapted"] = (key[0], key[1], adapted)


def upload_note(own, spec, data) -> str:
    """What an upload in use sets in place of the controls it puts away: its data, models, epochs, learning rate and
    batch size (as upload_panel.apply sets them), and an uploaded teacher's size.  "" without an upload."""
    lines = []
    upload, teacher = getattr(own, "data", None), getattr(own, "teacher", None)
    if upload is not None:
        what = f"**Data: your {upload.label}**{run_settings.short_hash(_digest(upload.name))}"  # the data's hash
        if data is not None and spec is not None:
            what += (
                f": {len(data.class_names)} classes ({', '.join(data.class_names)}), {len(data.y_train):,} training "
                f"and {len(data.y_test):,} test {run_settings.examples(upload.name)}."
            )
            models = (
                [] if teacher is not None else [f"teacher {spec.teacher}, {run_settings.epochs(spec.teacher_epochs)}"]
            )
            width = run_settings.width_phrase(spec.student, ARCHITECTURES[spec.student].width)
            models.append(f"student {spec.student} with {width}, {run_settings.epochs(spec.epochs)}")
            what += (
                f" {'; '.join(models).capitalize()}; learning rate {spec.lr:g}, batches of {spec.batch_size}: chosen "
                "for its shape, in place of the controls for the built-in data"
            )
        lines.append(wording.sentence(what))
    if teacher is not None:
        count = _weights(teacher.name)
        size = "" if count is None else f", {count:,} parameters"
        lines.append(
            f"**Teacher: your {teacher.label}**{run_settings.short_hash(_digest(teacher.name))}{size}, used as it "
            "is: nothing trains it, so it has no teacher epochs."
        )
    return " ".join(lines)


def _digest(name: str) -> str | None:
    """The content hash in a canonical upload name (``…;sha=HASH``)."""
    return name.rsplit(";sha=", 1)[1] if ";sha=" in name else None


def _weights(name: str) -> int | None:
    try:
        return file_weights(name)[0]
    except (OSError, ValueError):  # the file went away: the run's own check says so
        return None


def config(where=None, own=None) -> tuple[RunConfig, int]:
    """Every setting of a run, from the sidebar's widgets, and the number of seeds.  Other tabs reuse this config.

    ``where``: the container to draw in (the sidebar); ``own``: the upload in use (upload_panel's Choice), whose own
    settings replace some controls.  The lesson's own controls come first, so that on a phone they are the first
    thing under the buttons; a hidden control is not drawn and keeps its value (the lesson's, or the link's)."""
    where = st.sidebar if where is None else where
    if current_finding() is not None:
        return finding_settings(where, current_finding())
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
    upload = getattr(own, "data", None)
    data_name = state["dataset"] if upload is None else upload.name
    data, _ = resources.dataset_or_problem(data_name)
    spec = DATASETS.get(data_name)
    class_names = list(data.class_names) if upload is not None and data is not None else None
    classes = len(class_names) if class_names else DATASETS[state["dataset"]].num_classes
    if state.get("omit_class") not in [None, *range(classes)]:
        state["omit_class"] = None
    adapt_share(upload, data)
    draw = _controls(state["dataset"], state["student"], None if data is None else data.y_train, class_names)
    hidden, first, replaced = hidden_controls(), key_controls(), replaced_controls(own)
    values = {}
    where.header("Settings")
    note = upload_note(own, spec, data)
    if note:
        where.caption(note)
    for field in [*first, *(f for f in ALL_CONTROLS if f not in first)]:
        values[field] = state[field] if field in hidden or field in replaced else draw[field](where)
    shown_hidden = [f for f in ALL_CONTROLS if f in hidden and f not in replaced]
    if shown_hidden:
        where.caption(
            "Hidden here, and still applied: "
            + ", ".join(f"{SHORT_NAMES[f]} = {format_value(f, values[f])}" for f in shown_hidden)
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


def finding_settings(where, finding: Finding) -> tuple[RunConfig, int]:
    """A finding's part of the sidebar: what its arms are (fixed: no control would change them), its first seed,
    and, on the sidebar's Distill, the finding's job.  Returns its base arm's settings and its seeds: what the
    page checks and what a Train / load teacher loads."""
    defaults = settings_of(finding.name)
    for field in ALL_CONTROLS:  # the base arm's values, for the tabs that read the controls' state
        if field not in state:
            state[field] = defaults[field]
    where.header("Settings")
    where.caption(finding_text.sidebar_note(finding))
    draw = _controls(DEFAULTS.dataset, state.get("student") or DEFAULTS.student or "mlp-small", None)
    seed = int(state["seed"] if "seed" in hidden_controls() else draw["seed"](where))
    config = finding.config(base_arm(finding), seed=seed)
    start_finding_on_click(finding, seed)
    return config, finding.seeds


def start_finding_on_click(finding: Finding, seed: int) -> None:
    """The sidebar's Distill, clicked while a finding is chosen, runs the finding: its job starts here, before the
    button is drawn, so the button (dashboard/tabs/distill.py) finds the job running and starts no plain Distill."""
    if not state.get("distill") or job_panel.active(finding_runs.JOB):
        return
    fn, meta = finding_runs.launch(finding, seed, resources.teacher_cache())
    job_panel.start(finding_runs.JOB, fn, **meta)
    state.setdefault("started_here", set()).add(job_panel.job(finding_runs.JOB).id)


def look_for(config: RunConfig | None = None, own=None) -> None:
    """The chosen lesson's two sentences on what to look for, above the tabs.  ``config``: the settings a Distill
    runs now (an upload applied); ``own``: the upload in use (upload_panel's Choice).  On an uploaded dataset the
    lesson's words are for its own data, so the box says what the lesson becomes there (or why it does not apply),
    and what one test image is worth."""
    finding = current_finding()
    if finding is not None:
        upload = getattr(own, "data", None) or getattr(own, "teacher", None)
        mine = f" Your {upload.label} is not used: a finding runs on its own data and teachers." if upload else ""
        st.info(finding_text.lesson_box(finding) + mine)
        return
    lesson = current_lesson()
    upload, teacher = getattr(own, "data", None), getattr(own, "teacher", None)
    data = None
    if upload is not None and config is not None:
        data, _ = resources.dataset_or_problem(config.dataset)
    if lesson is None:
        st.caption(
            "Free play: every control starts at its plain default. Pick a lesson in the sidebar for a ready-made "
            "experiment."
        )
        if data is not None:
            test_set_note(data, "")
        return
    extra = hidden_settings()
    also = (
        ""
        if not extra
        else " (The lesson also uses " + ", ".join(run_settings.phrase(k, v) for k, v in extra.items()) + ".)"
    )
    if teacher is not None:
        also += f" Your teacher {teacher.label} stands in for the lesson's: it is used as it is, not trained here."
    if data is None:
        st.info(f"**Lesson: {wording.sentence(lesson.title)}** {lesson.look_for}{also}")
        return
    text = lesson_on_upload(lesson, config, data, upload.label) + also
    test_set_note(data, text)


def lesson_on_upload(lesson, config: RunConfig, data, label: str) -> str:
    """What ``lesson`` becomes on an upload: how many of its training images the students see (the lesson's share,
    in images of each class), or why the lesson does not apply; and that its claim was measured on its own data."""
    title = f"**Lesson: {wording.sentence(lesson.title)}**"
    fit = on_own_data(lesson, data.y_train, FRACTIONS)
    own = run_settings.DATASET_TITLES.get(lesson.settings.get("dataset", DEFAULTS.dataset), "its own data")
    if not fit.applies:
        return (
            f"{title} It does not apply to your {label}: {fit.reason}. A Distill runs its settings on your data all "
            "the same, and the report says what ran; Free play starts from the plain defaults."
        )
    total, noun = len(data.y_train), run_settings.examples(config.dataset)
    counts = [max(1, round(config.student_fraction * n)) for n in torch.bincount(data.y_train).tolist() if n]
    seen = (
        f"all {total:,} of your training {noun}, as the lesson's see all of theirs"
        if config.student_fraction >= 1
        else f"{sum(counts):,} of your {total:,} training {noun} ({run_settings.per_class_text(counts)}; on the "
        f"{own}, {lesson_images_per_class(lesson)} of each), the teacher all {total:,}"
    )
    return (
        f"{title} On your {label} the students see {seen}. Its claim, KD {' or '.join(lesson.verdicts)}, was "
        f"measured on the {own} only: Distill tells whether it holds here."
    )


def test_set_note(data, text: str) -> None:
    """The lesson box on an upload (``text``) with what one test image is worth there (where it is a point or more,
    what that means); without a lesson, the same as a caption."""
    size, noun = len(data.y_test), run_settings.examples(data.name)
    counts = [n for n in torch.bincount(data.y_test).tolist() if n]
    test = run_settings.worth_sentence(size, counts, noun)
    if verdict.coarse(size):
        one = wording.with_article(noun[:-1])
        test = (
            test[:-1] + f": a difference of a few points is {one} or two, and a verdict speaks for these {size:,} only."
        )
    if text:
        st.info(f"{text} {test}")
    else:
        st.caption(test)
