"""A run's settings in words: every setting that differs from the defaults, and the epochs the students really trained.

Used by the Distill report ("Settings of this run"), Look closer, the experiment tabs' captions and the lesson's
note on settings the sidebar has no control for.  No Streamlit here: every sentence is unit-tested.
"""

from __future__ import annotations

from dashboard.text.wording import with_article
from kd_core import ConfigError, RunConfig, validate
from kd_core.data.spec import DatasetUnavailable
from kd_core.models.architectures import ARCHITECTURES
from kd_core.models.own_teacher import short_name
from kd_core.runs.setup import load

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
    try:
        return load(config)[0].epochs
    except (ConfigError, DatasetUnavailable):
        return None


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


def describe(config: RunConfig, students_epochs: int | None = None, seeds: str = "", skip: tuple[str, ...] = ()) -> str:
    """Every setting of ``config`` that differs from its dataset's defaults, with the models, their width, T, λ and
    both epoch counts always; ``students_epochs``: what the students really trained (computed when not given).
    ``skip``: settings a tab sets itself (a swept value, say)."""
    try:
        asked = validate(config)
    except ConfigError as error:
        return f"settings that cannot run ({error})"
    default = validate(RunConfig(dataset=asked.dataset, device=asked.device))
    ran = epochs_run(config) if students_epochs is None else students_epochs
    parts = [] if asked.dataset == "digits" else [DATASET_TITLES.get(asked.dataset, asked.dataset)]
    models = f"{short_name(asked.teacher)} → {asked.student}"
    if "student_width" not in skip:
        models += f" with {width_phrase(asked.student, asked.student_width)}"
    parts.append(models)
    parts += [phrase(f, getattr(asked, f)) for f in ("temperature", "lam") if f not in skip]
    parts += [
        phrase(f, getattr(asked, f)) for f in OPTIONAL if f not in skip and getattr(asked, f) != getattr(default, f)
    ]
    if "epochs" not in skip:
        students = f"students {epochs(asked.epochs)}"
        if ran is not None and ran != asked.epochs:
            students = (
                f"students {epochs(ran)} (as many steps as {epochs(asked.epochs)} on all the images)"
                if config.equal_steps
                else f"students {epochs(ran)}"
            )
        elif asked.student_fraction < 1 and not config.equal_steps:
            students += " (no equal steps: fewer steps on the small share)"
        parts.append(f"teacher {epochs(asked.teacher_epochs)}, {students}")
    if seeds:
        parts.append(seeds)
    return ", ".join(parts)


def seeds_text(first: int, count: int) -> str:
    return f"seed {first}" if count <= 1 else f"seeds {first} to {first + count - 1}"
