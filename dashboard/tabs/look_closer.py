"""Tab "Look closer": the last Distill class by class (per-class accuracy, a confusion matrix), and how to take
it with you (the trained models as files, the ``kd-train`` line that runs it again).

The numbers are kd_core/studies/inspection.py's, the figures dashboard/figures/closer.py's, the files and the command
line dashboard/runs/exports.py's; this module only draws them.  The test-set predictions are computed once per run
(``test_predictions``), not on every rerun.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import streamlit as st
import torch

from dashboard.figures import charts, closer
from dashboard.figures.plots import LABELS
from dashboard.page import headings, resources
from dashboard.report import summary as report
from dashboard.runs import exports
from dashboard.runs.seeds import SeedsOutcome
from dashboard.text import run_settings, wording
from kd_core import DATASETS
from kd_core.models.own_teacher import OnnxTeacher
from kd_core.runs import served
from kd_core.studies import inspection

state = st.session_state


def last_distill() -> SeedsOutcome | None:
    """The page's last completed Distill, or None.  Every tab reads it here, so moving it is one line."""
    return state.get("seeds_outcome")


@st.cache_resource(max_entries=8, show_spinner="Classifying the test set…")
def test_predictions(run_key: str, _first: served.DistillOutcome) -> dict[str, np.ndarray]:
    """Teacher, KD student and baseline predictions over the test set of one run (its first seed), once per run:
    runs are deterministic, so the run key names the models."""
    return inspection.test_predictions(_first)


def hint() -> None:
    st.info(
        "Nothing to look at yet: click **Distill** in the sidebar. When it finishes, this tab shows how the teacher, "
        "the KD student and the scratch baseline do on every class, which classes each one mixes up, and lets you "
        "download the trained models and the command that trains them again."
    )


def render() -> None:
    outcome = last_distill()
    if outcome is None or not outcome.completed:
        hint()
        return
    first = outcome.first
    config = first.result.config  # validated: architectures, epochs and width resolved
    spec = DATASETS[config.dataset]
    data, _ = resources.dataset_or_problem(config.dataset)
    class_names = data.class_names if data is not None else [str(c) for c in range(spec.num_classes)]
    st.caption(f"From your last distillation: {report.settings_line(outcome)}.")
    per_class_section(outcome, class_names)
    if data is not None:
        confusion_section(first, data.y_test.numpy(), class_names)
    else:
        st.warning(
            "The test images of this dataset are not on the server any more, so the confusion matrix cannot be drawn."
        )
    take_it_with_you(outcome)


def per_class_section(outcome: SeedsOutcome, class_names: list[str]) -> None:
    results = [o.result for o in outcome.completed]
    accuracies = inspection.per_class(results)
    hidden = outcome.config.omit_class
    charts.show(closer.per_class_figure(accuracies, class_names, hidden, len(results)), key="per_class_chart")
    helped = inspection.most_helped_class(accuracies)
    if helped is not None and round(100 * helped[1], 1) <= 0:  # "+0.0 points" helps nowhere
        st.caption(
            "The teacher's soft targets lift no class above the scratch baseline here: on every class the KD student "
            "does as well as the baseline or worse. A class where the bars of both students are low is one the small "
            "model finds hard, teacher or not."
        )
    elif helped is not None:
        best, gain = helped
        st.caption(
            f"Where the teacher's soft targets help most: class **{class_names[best]}**, "
            f"{100 * gain:+.1f} points for the KD student over the scratch baseline. A class where the bars "
            "of both students are low is one the small model finds hard, teacher or not."
        )


def confusion_section(first, labels: np.ndarray, class_names: list[str]) -> None:
    config = first.result.config
    found = test_predictions(config.run_key(), first)
    parts = [p for p in inspection.PARTS if p in found]
    headings.title("Which classes get mixed up?")
    left, right = st.columns([3, 2])
    with right:
        part = st.radio(
            "Model",
            parts,
            key="closer_model",
            format_func=lambda p: LABELS[p],
            horizontal=True,
            help="Whose test-set answers the confusion matrix counts.",
        )
        part = part if part in found else parts[0]
        matrix = inspection.confusion_matrix(labels, found[part], len(class_names))
        st.caption(
            "Each row is a true class, each column the class the model answered; the diagonal holds the right "
            "answers. The colour is the share of the row, the number the count of test images."
        )
        worst = inspection.worst_confusion(matrix)
        if worst is None:
            st.markdown(f"The {LABELS[part]} gets every test image right.")
        else:
            row_total = int(matrix[worst.true].sum())
            true, predicted = class_names[worst.true], class_names[worst.predicted]
            st.markdown(
                f"Its most frequent mistake: {wording.article(true)} **{true}** taken for "
                f"{wording.article(predicted)} **{predicted}**, {worst.count} times out of {row_total} test images of "
                f"{class_names[worst.true]}."
            )
        if config.omit_class is not None and part != "teacher":
            st.caption(
                f"Class {class_names[config.omit_class]} was hidden from the students: its row shows where "
                "they put those images instead."
            )
    seed = f" (seed {config.seed})"
    charts.show(
        closer.confusion_figure(matrix, class_names, f"Confusion matrix: {LABELS[part]}{seed}"),
        key="confusion_chart",
        where=left,
    )


def take_it_with_you(outcome: SeedsOutcome) -> None:
    first = outcome.first
    result, config = first.result, first.result.config
    spec = DATASETS[config.dataset]
    example = torch.zeros(1, *spec.input_shape)  # only its shape matters: ONNX traces the model on it
    key = config.run_key()
    has_onnx = importlib.util.find_spec("onnxscript") is not None and importlib.util.find_spec("onnx") is not None
    headings.title("Take it with you")
    columns = st.columns(2)
    for column, part in zip(columns, ("student", "teacher")):
        model = result.models.get(part)
        if model is None:
            continue
        architecture = run_settings.teacher_name(config.teacher) if part == "teacher" else config.student
        own_onnx = isinstance(model, OnnxTeacher)  # an uploaded ONNX teacher: no torch weights, its own file back
        for kind, what in (("pt", "PyTorch .pt"), ("onnx", "ONNX")):
            if kind == "pt" and own_onnx:
                continue
            make = lambda part=part, kind=kind, model=model: (  # bound now: the click runs later, in its own thread
                exports.model_file(key, part, kind, model, example, config)
            )
            column.download_button(
                f"{LABELS[part]} ({what})",
                make,
                exports.file_name(config, part, kind),
                "application/octet-stream",
                key=f"download_{part}_{kind}",
                on_click="ignore",
                icon=":material/download:",
                width="stretch",
                disabled=kind == "onnx" and not has_onnx,
                help=(
                    f"The trained weights of {architecture} as a PyTorch state_dict (torch.save); "
                    "see below how to load them."
                    if kind == "pt"
                    else "The model as an ONNX file (input: images, any batch size; output: logits), "
                    "for onnxruntime and friends."
                    if has_onnx
                    else "ONNX export needs the onnx and onnxscript packages, which this server lacks."
                ),
            )
    if len(outcome.outcomes) > 1:
        st.caption(
            f"These are seed {config.seed}'s models, the first of the {len(outcome.outcomes)} seeds "
            "this Distill trained."
        )
    with st.expander("Load a downloaded .pt file in Python"):
        st.code(exports.loading_code(config, "student", spec.input_shape, spec.num_classes), language="python")
        st.caption(
            "A state_dict holds the weights only: the code rebuilds the architecture first (this project's "
            "kd_core.models.architectures), then loads them. The ONNX file needs no code of ours."
        )
    st.markdown("**Copy as command** — the `kd-train` line that trains exactly this run again from a terminal:")
    st.code(exports.command_line(outcome.config, len(outcome.outcomes)), language="bash", wrap_lines=True)
    files = own_files_sentence(outcome.config)
    st.caption(
        "Every setting you changed from kd-train's defaults is a flag. Runs are deterministic: on this server it "
        "prints the same accuracies. The copy button is at the top right of the box." + (f" {files}" if files else "")
    )


def own_files_sentence(config) -> str:
    """Where the files of one's own go for the command line (beside it), and the hashes it checks; "" for none."""
    files = exports.own_files(config)
    if not files:
        return ""
    named = {
        "folder": "the folder **{}** (your zip, unzipped)",
        "csv": "the file **{}**",
        "teacher": "the file **{}**",
    }
    where = " and ".join(named[kind].format(name) for kind, name in files)
    hashes = ", ".join(
        f"{name}: sha {digest}" for (kind, name), digest in zip(files, exports.own_hashes(config)) if digest
    )
    return (
        f"This run used files of your own: put {where} in the folder you run the command from. The line names "
        f"{'it' if len(files) == 1 else 'them'} with {'its' if len(files) == 1 else 'their'} content hash ({hashes}): "
        "kd-train checks it and refuses files that are not the ones this run used."
    )
