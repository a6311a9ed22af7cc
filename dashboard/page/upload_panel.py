"""The page's uploads: inputs in the sidebar ("Your own data or teacher"), what came of them in the main area.

    choice = upload_panel.sidebar()          # the uploaders, the limits, and this browser's uploads to pick from
    config = upload_panel.apply(config, choice)
    upload_panel.messages(choice)            # above the tabs: a refused upload, what the loader did, what is used

An upload belongs to the browser that sent it (dashboard.page.uploads.STORE keeps who sent what; the owner is this
browser's id from dashboard.page.sessions): only its page lists it, links never carry it (they hold the sidebar's
widgets, not these choices), and the class board leaves its runs out (kd_core.board.collect).  The page names an
upload by its file name and a short content hash, never by where the server keeps it: the pickers' values are
content hashes, and every sentence shown here is free of the server's folders.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import streamlit as st

from dashboard.page import sessions
from dashboard.page.uploads import DATA_TYPES, MB, STORE, TEACHER_TYPES, Limits, Upload, UploadError, limits, megabytes
from kd_core import DATASETS, RunConfig
from kd_core.models.architectures import ARCHITECTURES

state = st.session_state
BUILT_IN = ""  # the pickers' value for "not an upload"


@dataclass
class Choice:
    data: Upload | None = None
    teacher: Upload | None = None
    errors: list[tuple[str, str, str]] = field(default_factory=list)  # (file name, sentence, detail for the owner)


def limit_mb() -> int:
    """The server's upload limit (server.maxUploadSize): the Streamlit server refuses a bigger file itself."""
    return int(st.get_option("server.maxUploadSize"))


def _md(text: str) -> str:
    """``text`` shown literally in Markdown (a file's name may hold * or _)."""
    return re.sub(r"([\\`*_{}\[\]<>$~|])", r"\\\1", text)


def rules(upload_mb: int, allowed: Limits) -> str:
    """What the sidebar says an upload may be and what happens to it, from the limits in force."""
    hours = sessions.EXPIRE_SECONDS / 3600
    return (
        f"Files up to **{upload_mb} MB** each. Data: a **.zip** of a folder with one subfolder of images per class "
        "(two or more classes, at least 2 images each; images up to "
        f"**{allowed.image_megapixels} megapixels** each and **{allowed.total_megapixels}** in all), or a **.csv** "
        "of numbers whose last column is the label. Teacher: an **.onnx** model for that data (or a **.zip** of it and "
        "the weights file it keeps beside it). Only you see what "
        f"you upload. Your uploads may take **{allowed.browser_mb} MB** on the server once unpacked (a new one "
        f"deletes your oldest to make room; everyone's together: {allowed.server_mb} MB), and they are deleted "
        f"after {hours:g} hours unused."
    )


def _receive(uploader_key: str, add) -> tuple[str, str, str] | None:
    """Store the file in uploader ``uploader_key`` once (a rerun does not store it again); the error, if any."""
    file = state.get(uploader_key)
    if file is None:
        return None
    seen = state.setdefault("upload_seen", {})
    if file.file_id not in seen:
        try:
            if file.size > limit_mb() * MB:  # the server refuses these first; kept for a server started otherwise
                raise UploadError(
                    f"It is {megabytes(file.size)}, more than the {limit_mb()} MB a file may have on this page.",
                    f"{file.size:,} bytes; server.maxUploadSize is {limit_mb()}",
                )
            upload = add(sessions.current().id, file.name, file.getvalue())
            seen[file.file_id] = (None, upload.digest)
            state[f"{uploader_key}_use"] = upload.digest  # a new upload is what the student wants to use
        except (UploadError, ValueError) as error:
            seen[file.file_id] = ((file.name, str(error), getattr(error, "detail", "")), None)
    return seen[file.file_id][0]


def _picker(label: str, key: str, uploads: list[Upload], other: str) -> Upload | None:
    by_digest = {u.digest: u for u in uploads}
    options = [BUILT_IN, *by_digest]
    if state.get(key) not in options:  # e.g. an upload deleted since, or another browser's: never
        state[key] = BUILT_IN
    picked = st.radio(
        label, options, key=key, format_func=lambda d: other if d == BUILT_IN else f"your {by_digest[d].title}"
    )
    return by_digest.get(picked)


def sidebar() -> Choice:
    owner = sessions.current().id
    STORE.start()  # the first page of a server removes what ended servers left behind
    allowed = limits()
    choice = Choice()
    mine = STORE.owned(owner)
    with st.sidebar.expander("Your own data or teacher", expanded=bool(mine)):
        st.caption(rules(limit_mb(), allowed))
        st.file_uploader("Dataset (.zip or .csv)", type=list(DATA_TYPES), key="upload_data")
        st.file_uploader(
            "Teacher (.onnx, or a .zip of it and its weights file)", type=list(TEACHER_TYPES), key="upload_teacher"
        )
        for key, add in (("upload_data", STORE.add_data), ("upload_teacher", STORE.add_teacher)):
            error = _receive(key, add)
            if error:
                choice.errors.append(error)
        mine = STORE.owned(owner)
        data = [u for u in mine if u.kind == "data"]
        teachers = [u for u in mine if u.kind == "teacher"]
        if data:
            state.setdefault("upload_data_use", data[-1].digest)
            choice.data = _picker("Train on", "upload_data_use", data, "the Dataset setting above")
        if teachers:
            state.setdefault("upload_teacher_use", teachers[-1].digest)
            choice.teacher = _picker("Teacher", "upload_teacher_use", teachers, "one trained here")
        if mine:
            st.caption(
                f"Your uploads take {megabytes(STORE.used(owner))} of your {allowed.browser_mb} MB on the server."
            )
    return choice


def apply(config: RunConfig, choice: Choice) -> RunConfig:
    """``config`` on the chosen upload: its data with the models, epochs, learning rate and batch size chosen for its
    shape (the sidebar's are the built-in dataset's), and/or the uploaded teacher."""
    if choice.data is not None:
        spec = DATASETS.get(choice.data.name)
        if spec is None:  # its files went away since the upload (removed by hand): say so, in words
            choice.errors.append(
                (choice.data.label, "Its files are no longer on the server. Upload it again, please.", "")
            )
            choice.data = None
        else:
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
    """In the main area: each refused upload in plain words, named (the uploader may still show it; the details
    folded away), then what is in use."""
    for filename, sentence, detail in choice.errors:
        st.error(f"**{_md(filename)}** was not used. {sentence}")
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
                f"{spec.batch_size}, chosen for its shape (the sidebar shows them while it is in use)"
            )
        )
        notes = "".join(f" Note: {note}." for note in choice.data.notes)
        st.info(f"Training on **your upload {_md(choice.data.title)}**{what}.{notes}")
    if choice.teacher is not None:
        st.info(f"Teacher: **your {_md(choice.teacher.title)}** (run by onnxruntime; nothing is trained for it).")
