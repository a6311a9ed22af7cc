"""A run's settings in words: every setting that differs from the defaults, and the epochs the students really trained.

Used by the Distill report ("Settings of this run"), Look closer, History, the experiment tabs' captions and the
lesson's note on settings the sidebar has no control for.  Every name comes from the run's own resolved settings,
never from the page's defaults: an upload is named by its file and a short content hash, never by its path on the
server (``data_name``, ``teacher_name``); a teacher file of one's own has no teacher epochs.  No Streamlit here: every
sentence is unit-tested.
"""

from __future__ import annotations

from typing import Sequence

from dashboard.text.wording import with_article
from kd_core import ConfigError, Dataset, RunConfig, validate
from kd_core.data.custom import is_custom
from kd_core.data.custom import parse as parse_data
from kd_core.data.datasets import student_indices
from kd_core.data.spec import DatasetUnavailable
from kd_core.models.architectures import ARCHITECTURES
from kd_core.models.own_teacher import digest as teacher_digest
from kd_core.models.own_teacher import short_name, trained_here
from kd_core.runs.setup import load, view_key

DATASET_TITLES = {"digits": "digits", "mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "cifar10": "CIFAR-10"}
LOSS_NAMES = {
    "kd": "correct (batchmean KL × T²)",
    "kd-no-t2": "without T²",
    "seed-script": "as the seed script wrote it: divided by the number of classes, then doubled",
}
OPTIMIZER_NAMES = {"adam": "Adam", "sgd": "SGD and momentum", "nesterov": "SGD and Nesterov momentum"}
SCHEDULE_NAMES = {
    "constant": "a constant learning rate",
    "cosine": "a cosine-annealed learning rate",
    "onecycle": "a one-cycle learning rate",
}


SHORT_HASH = 8  # hex digits of a content hash the page shows: enough to tell two uploads apart


def short_hash(digest: str | None) -> str:
    return "" if not digest else f" (sha {digest[:SHORT_HASH]})"


def data_file(dataset: str) -> str:
    """The file or folder name of data of one's own, as its owner knows it (``shapes``, ``iris.csv``); a built-in
    dataset's own name.  An upload zipped without a wrapping folder unpacks into a folder named ``zip``: "images"."""
    if not is_custom(dataset):
        return dataset
    name = parse_data(dataset).path.name
    return "images" if name == "zip" else name


def examples(dataset: str) -> str:
    """What one example of the data is called: "rows" of a CSV, "images" of everything else."""
    return "rows" if is_custom(dataset) and parse_data(dataset).kind == "csv" else "images"


def data_name(dataset: str) -> str:
    """A dataset as the page names it: a built-in one by its title (``MNIST``), data of one's own by its file and a
    short content hash (``your shapes (sha 171d0ec8)``) — never its path on the server."""
    if not is_custom(dataset):
        return DATASET_TITLES.get(dataset, dataset)
    return f"your {data_file(dataset)}{short_hash(parse_data(dataset).digest)}"


def teacher_name(teacher: str | None, default: str = "the dataset's teacher") -> str:
    """A teacher as the page names it: an architecture by its name, a file of one's own by its name and a short
    content hash (``your mine.onnx (sha 0123abcd)``)."""
    if teacher is None:
        return default
    return short_name(teacher) + short_hash(teacher_digest(teacher))


def size_ratio(teacher_bytes: int, student_bytes: int) -> str:
    """How the student's size compares with the teacher's, the right way round: ``87.3× smaller``, ``1.5× larger``,
    ``the same size``; "—" where a size is unknown (0)."""
    if teacher_bytes <= 0 or student_bytes <= 0:
        return "—"
    if teacher_bytes == student_bytes:
        return "the same size"
    if teacher_bytes > student_bytes:
        return f"{teacher_bytes / student_bytes:.1f}× smaller"
    return f"{student_bytes / teacher_bytes:.1f}× larger"


def per_class_text(counts: Sequence[int]) -> str:
    """``6 of each class``, ``33–37 of each class``."""
    low, high = min(counts), max(counts)
    return f"{low:,} of each class" if low == high else f"{low:,}–{high:,} of each class"


def one_image(test_size: int) -> float:
    """What one test image is worth, in points of accuracy."""
    return 100 / test_size


def test_set_text(test_size: int, per_class: Sequence[int], noun: str = "images") -> str:
    """``18 test images (6 of each class): one image is 5.6 points of accuracy`` (``noun``: "rows" for a table)."""
    worth = one_image(test_size)
    shown = f"{worth:.2g}" if worth < 10 else f"{worth:.0f}"
    return f"{test_size:,} test {noun} ({per_class_text(per_class)}): one {noun[:-1]} is {shown} points of accuracy"


def worth_sentence(test_size: int, per_class: Sequence[int], noun: str = "images") -> str:
    """``Your 18 test images (6 of each class) make one image worth 5.6 points of accuracy.``"""
    worth = one_image(test_size)
    shown = f"{worth:.2g}" if worth < 10 else f"{worth:.0f}"
    return (
        f"Your {test_size:,} test {noun} ({per_class_text(per_class)}) make one {noun[:-1]} worth {shown} points of "
        "accuracy."
    )


def percent(fraction: float) -> str:
    return f"{100 * fraction:g} %"


def epochs(n: int) -> str:
    return f"{n} epoch" + ("" if n == 1 else "s")


def phrase(field: str, value) -> str:
    """One setting in words, as a class reads it: ``a 20 % validation split``, not ``holdout = 0.2``."""
    named = {
        "dataset": lambda v: f"the {DATASET_TITLES.get(v, v)} dataset",
        "holdout": lambda v: f"{with_article(percent(v))} validation split kept from the students",
        "schedule": lambda v: SCHEDULE_NAMES.get(v, f"the {v} schedule"),
        "optimizer": lambda v: f"training with {OPTIMIZER_NAMES.get(v, v)}",
        "teacher_optimizer": lambda v: f"a teacher trained with {OPTIMIZER_NAMES.get(v, v)}",
        "teacher_lr": lambda v: f"a teacher learning rate of {v:g}",
        "teacher_batch_size": lambda v: f"teacher batches of {v}",
        "teacher_jitter": lambda v: f"teacher images shifted by up to ±{v} pixels",
        "lr": lambda v: f"learning rate {v:g}",
        "batch_size": lambda v: f"batches of {v}",
        "student_fraction": lambda v: f"students see {percent(v)} of the training images",
        "omit_class": lambda v: f"class {v} hidden from the students",
        "keep_classes": lambda v: "students see only the " + " and ".join(f"{c}s" for c in v),
        "loss": lambda v: f"loss {LOSS_NAMES.get(v, v)}",
        "loss_args": lambda v: ", ".join(f"{k} = {x:g}" for k, x in v),
        "baseline": lambda v: "a scratch baseline" if v else "no scratch baseline",
        "temperature": lambda v: f"T = {v:g}",
        "lam": lambda v: f"λ = {v:g}",
        "equal_steps": lambda v: "equal steps" if v else "no equal steps (fewer steps on a small share)",
    }
    return named[field](value) if field in named else f"{field.replace('_', ' ')} {value}"


def width_phrase(student: str, width: int) -> str:
    """``8 hidden units`` (an MLP) or ``8 channels`` (a CNN), with the architecture's own width when it differs."""
    architecture = ARCHITECTURES.get(student)
    unit = "channels" if architecture is not None and architecture.needs_images else "hidden units"
    own = "" if architecture is None or architecture.width == width else f" (its own: {architecture.width})"
    return f"{width} {unit}{own}"


def epochs_run(config: RunConfig) -> int | None:
    """The students' epochs a run of ``config`` really trains (more than asked on a small share with equal
    steps); None where the settings cannot run."""
    loaded = _loaded(config)
    return None if loaded is None else loaded[0].epochs


# Settings always named (the models, T, λ, epochs), and the ones named only where they differ from the defaults.
OPTIONAL = (
    "loss",
    "loss_args",
    "student_fraction",
    "omit_class",
    "keep_classes",
    "holdout",
    "optimizer",
    "lr",
    "schedule",
    "batch_size",
    "teacher_optimizer",
    "teacher_lr",
    "teacher_batch_size",
    "teacher_jitter",
    "baseline",
)


def _loaded(config: RunConfig) -> tuple[RunConfig, Dataset] | None:
    try:
        return load(config)
    except (ConfigError, DatasetUnavailable):
        return None


def _seen(asked: RunConfig, dataset: Dataset | None) -> str:
    """`` (21 of 72)``: the training images the students see, of all; "" where the data is not at hand."""
    if dataset is None:
        return ""
    seen = len(student_indices(dataset.y_train, *view_key(asked)))
    return f" ({seen:,} of {len(dataset.y_train):,})"


def _phrase_in(asked: RunConfig, dataset: Dataset | None, field: str) -> str:
    """One setting of a run in words, with what only its data knows: the images the students see, a class's name."""
    value = getattr(asked, field)
    if field == "student_fraction":
        return phrase(field, value).replace("images", examples(asked.dataset)) + _seen(asked, dataset)
    if field == "omit_class" and dataset is not None and is_custom(asked.dataset):
        return f"class {dataset.class_names[value]} hidden from the students"
    return phrase(field, value)


def describe(config: RunConfig, students_epochs: int | None = None, seeds: str = "", skip: tuple[str, ...] = ()) -> str:
    """Every setting of ``config`` that differs from its dataset's defaults, with the models, their width, T, λ and
    both epoch counts always; ``students_epochs``: what the students really trained (computed when not given).
    ``skip``: settings a tab sets itself (a swept value, say).  Data and a teacher of one's own are named by their
    files and short hashes; a teacher file has no epochs (it is used as it is)."""
    try:
        asked = validate(config)
    except ConfigError as error:
        return f"settings that cannot run ({error})"
    default = validate(RunConfig(dataset=asked.dataset, device=asked.device))
    loaded = _loaded(config)
    dataset = None if loaded is None else loaded[1]
    ran = (None if loaded is None else loaded[0].epochs) if students_epochs is None else students_epochs
    parts = [] if asked.dataset == "digits" else [data_name(asked.dataset)]
    models = f"{short_name(asked.teacher)} → {asked.student}"
    if "student_width" not in skip:
        models += f" with {width_phrase(asked.student, asked.student_width)}"
    parts.append(models)
    parts += [phrase(f, getattr(asked, f)) for f in ("temperature", "lam") if f not in skip]
    own_teacher = not trained_here(asked.teacher)
    parts += [
        _phrase_in(asked, dataset, f)
        for f in OPTIONAL
        if f not in skip
        and getattr(asked, f) != getattr(default, f)
        and not (own_teacher and f in TEACHER_TRAINING)  # a teacher file is not trained: its settings never apply
    ]
    if "epochs" not in skip:
        students = f"students {epochs(asked.epochs)}"
        if ran is not None and ran != asked.epochs:
            students = (
                f"students {epochs(ran)} (as many steps as {epochs(asked.epochs)} on all the {examples(asked.dataset)})"
                if config.equal_steps
                else f"students {epochs(ran)}"
            )
        elif asked.student_fraction < 1 and not config.equal_steps:
            students += " (no equal steps: fewer steps on the small share)"
        teacher = (
            f"teacher used as it is{short_hash(teacher_digest(asked.teacher))}, not trained here"
            if own_teacher
            else f"teacher {epochs(asked.teacher_epochs)}"
        )
        parts.append(f"{teacher}, {students}")
    if seeds:
        parts.append(seeds)
    return ", ".join(parts)


TEACHER_TRAINING = ("teacher_optimizer", "teacher_lr", "teacher_batch_size", "teacher_jitter")


def seeds_text(first: int, count: int) -> str:
    return f"seed {first}" if count <= 1 else f"seeds {first} to {first + count - 1}"
