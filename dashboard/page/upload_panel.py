"""The page's uploads: inputs in the sidebar ("Your own data or teacher"), what came of them in the main area.

    choice = upload_panel.sidebar()          # the uploaders and this browser's uploads to pick from
    config = upload_panel.apply(config, choice)
    upload_panel.messages(choice)            # above the tabs: a refused upload, what the loader did, what is used

An upload belongs to the browser that sent it (dashboard.page.uploads.STORE keeps who sent what; the owner is this
browser's id from dashboard.page.sessions): only its page lists it, links never carry it (they hold the sidebar's
widgets, not these choices), and the class board leaves its runs out (kd_core.board.collect).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import streamlit as st

from dashboard.page import sessions
from dashboard.page.uploads import DATA_TYPES, STORE, TEACHER_TYPES, Upload, UploadError
from kd_core import DATASETS, RunConfig
from kd_core.models.architectures import ARCHITECTURES

state = st.session_state
BUILT_IN = ""  # the radio's value for "not an upload"


@dataclass
class Choice:
    data: Upload | None = None
    teacher: Upload | None = None
    errors: list[tuple[str, str]] = field(default_factory=list)  # (sentence, detail for the server's owner)


def limit_mb() -> int:
    """The server's upload limit (server.maxUploadSize): the Streamlit server refuses a bigger file itself."""
    return int(st.get_option("server.maxUploadSize"))


def _receive(uploader_key: str, add) -> tuple[str, str] | None:
    """Store the file in uploader ``uploader_key`` once (a rerun does not store it again); the error, if any."""
    file = state.get(uploader_key)
    if file is None:
        return None
    seen = state.setdefault("upload_seen", {})
    if file.file_id not in seen:
        data = file.getvalue()
        try:
            if len(data) > limit_mb() * 2**20:  # the server refuses these first; kept for a server started otherwise
                raise UploadError(
                    f"{file.name} is larger than this page's limit of {limit_mb()} MB.",
                    f"{len(data):,} bytes; raise server.maxUploadSize (see the README)",
                )
            upload = add(sessions.current().id, file.name, data)
            seen[file.file_id] = (None, upload.name)
            state[f"{uploader_key}_use"] = upload.name  # a new upload is what the student wants to use
        except (UploadError, ValueError) as error:
            seen[file.file_id] = ((str(error), getattr(error, "detail", "")), None)
    return seen[file.file_id][0]


def _picker(label: str, key: str, uploads: list[Upload], other: str) -> Upload | None:
    names = [BUILT_IN, *(u.name for u in uploads)]
    if state.get(key) not in names:  # e.g. an upload of another browser in this session state: never
        state[key] = BUILT_IN
    by_name = {u.name: u for u in uploads}
    picked = st.radio(
        label, names, key=key, format_func=lambda n: other if n == BUILT_IN else f"your {by_name[n].label}"
    )
    return by_name.get(picked)


def sidebar() -> Choice:
    owner = sessions.current().id
    choice = Choice()
    mine = STORE.owned(owner)
    with st.sidebar.expander("Your own data or teacher", expanded=bool(mine)):
        st.caption(
            f"Files up to **{limit_mb()} MB** each. Data: a **.zip** of a folder with one subfolder of images per "
            "class (two or more classes, at least 2 images each), or a **.csv** of numbers whose last column is "
            "the label. Teacher: an **.onnx** model for that data. Only you see what you upload."
        )
        st.file_uploader("Dataset (.zip or .csv)", type=list(DATA_TYPES), key="upload_data")
        st.file_uploader("Teacher (.onnx)", type=list(TEACHER_TYPES), key="upload_teacher")
        for key, add in (("upload_data", STORE.add_data), ("upload_teacher", STORE.add_teacher)):
            error = _receive(key, add)
            if error:
                choice.errors.append(error)
        mine = STORE.owned(owner)
        data = [u for u in mine if u.kind == "data"]
        teachers = [u for u in mine if u.kind == "teacher"]
        if data:
            state.setdefault("upload_data_use", data[-1].name)
            choice.data = _picker("Train on", "upload_data_use", data, "the Dataset setting above")
        if teachers:
            state.setdefault("upload_teacher_use", teachers[-1].name)
            choice.teacher = _picker("Teacher", "upload_teacher_use", teachers, "one trained here")
    return choice


def apply(config: RunConfig, choice: Choice) -> RunConfig:
    """``config`` on the chosen upload: its data with the models, epochs, learning rate and batch size chosen for its
    shape (the sidebar's are the built-in dataset's), and/or the uploaded teacher."""
    if choice.data is not None:
        spec = DATASETS.get(choice.data.name)
        if spec is None:  # its files went away since the upload: validate() says so
            return config.replace(dataset=choice.data.name)
        config = config.replace(
            dataset=choice.data.name,
            teacher=spec.teacher,
            student=spec.student,
            student_width=ARCHITECTURES[spec.student].width,
            teacher_epochs=spec.teacher_epochs,
            epochs=spec.epochs,
            lr=spec.lr,
            batch_size=spec.batch_size,
            omit_class=config.omit_class if (config.omit_class or 0) < spec.num_classes else None,
        )
    if choice.teacher is not None:
        config = config.replace(teacher=choice.teacher.name)
    return config


def messages(choice: Choice) -> None:
    """In the main area: each refused upload in plain words (the details folded away), then what is in use."""
    for sentence, detail in choice.errors:
        st.error(sentence)
        if detail:
            with st.expander("Details for whoever runs the server"):
                st.code(detail, language=None, wrap_lines=True)
    if choice.data is not None:
        spec = DATASETS.get(choice.data.name)
        what = (
            ""
            if spec is None
            else (
                f" — {spec.description}; teacher {spec.teacher}, student {spec.student}, "
                f"{spec.teacher_epochs} + {spec.epochs} epochs, learning rate {spec.lr:g}, batch "
                f"{spec.batch_size}, chosen for its shape (the sidebar's are for the built-in data)"
            )
        )
        notes = "".join(f" Note: {note}." for note in choice.data.notes)
        st.info(f"Training on **your upload {choice.data.label}**{what}.{notes}")
    if choice.teacher is not None:
        st.info(f"Teacher: **your {choice.teacher.label}** (run by onnxruntime; nothing is trained for it).")
