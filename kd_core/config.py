"""One dataclass holds every setting of a run; ``validate`` turns it into a resolved, checked copy."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass

import torch

from kd_core.data.custom import is_custom
from kd_core.data.custom import resolve as resolve_data
from kd_core.data.datasets import DATASETS
from kd_core.data.spec import DatasetSpec
from kd_core.methods.losses import check_lam, check_temperature
from kd_core.methods.registry import METHODS, MethodError, check_applies, normalize_args
from kd_core.models.architectures import ARCHITECTURES
from kd_core.models.own_teacher import is_external
from kd_core.models.own_teacher import resolve as resolve_teacher

MAX_EPOCHS = 1000
MAX_LR = 10.0  # above this nothing trains; 10 itself is allowed so divergence can be shown
DEVICES = ("auto", "cpu", "cuda", "mps")
OPTIMIZERS = ("adam", "sgd", "nesterov")  # sgd: momentum 0.9; nesterov: the same with Nesterov's look-ahead
# How the learning rate moves over a phase's steps: held, or annealed to 0 along a half cosine.  Adam at a fixed
# 0.01 leaves a digits teacher wherever its last steps bounce (88–98 % between epochs); annealing lands every
# seed's teacher and student at the bottom of its valley.
# "onecycle" is Smith's one-cycle (torch's OneCycleLR): warm up to lr over 30 % of the steps, then anneal far below:
# it lets MNIST's students and teacher reach the paper's errors in a few epochs.
SCHEDULES = ("constant", "cosine", "onecycle")
MAX_JITTER = 8  # pixels


class ConfigError(ValueError):
    """A setting out of range; the message is one line naming the setting and what is allowed."""


@dataclass(frozen=True)
class RunConfig:
    dataset: str = "digits"
    data_dir: str | None = None
    teacher: str | None = None  # None: the dataset's default (data.DATASETS)
    student: str | None = None
    student_width: int | None = None  # hidden units (MLP) or channels (CNN) of the student; None: the architecture's
    teacher_epochs: int | None = None  # None: the dataset's default
    epochs: int | None = None  # student epochs (KD student and scratch baseline alike); None: the dataset's default
    temperature: float = 4.0
    lam: float = 0.7  # weight of the soft (teacher) loss; 1 − λ goes to the labels
    lr: float | None = None  # shared by teacher and students; None: the dataset's default
    batch_size: int | None = None  # None: the dataset's default
    optimizer: str = "adam"  # "sgd" is SGD with momentum 0.9, as in the seed
    schedule: str | None = None  # the learning rate over each phase (SCHEDULES), teacher and students; None: dataset's
    # The teacher's own training, where it differs from the students' (the paper's regularised teacher): None is
    # the students' optimizer and lr; jitter shifts each teacher image by up to ± that many pixels, per step.
    teacher_optimizer: str | None = None
    teacher_lr: float | None = None
    teacher_batch_size: int | None = None
    teacher_jitter: int = 0
    seed: int = 0
    baseline: bool = True  # also train the scratch student, the fair control
    student_fraction: float = 1.0  # share of the training set the student sees
    # With a fraction < 1, scale the students' epochs so they take as many steps as `epochs` on the full set;
    # pipeline.load() does it once it knows the subset's size, and then sets this to False: epochs are final.
    equal_steps: bool = True
    omit_class: int | None = None  # a class the student never sees
    keep_classes: tuple[int, ...] | None = None  # the only classes the students see (the paper's 7s and 8s)
    holdout: float = 0.0  # share of the training set kept from the students, to choose the bias correction on
    loss: str = "kd"  # the distillation method (a name in kd_core.methods.registry.METHODS)
    # The method's hyperparameters given (name, value), checked and sorted by validate(); the rest take their defaults.
    loss_args: tuple[tuple[str, float], ...] = ()
    device: str = "auto"  # validate() resolves "auto" to the device found

    def replace(self, **changes) -> "RunConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def for_teacher(self) -> "RunConfig":
        """This config as the teacher trains under it: its own optimizer and learning rate where it has them."""
        return self.replace(
            optimizer=self.teacher_optimizer or self.optimizer,
            lr=self.lr if self.teacher_lr is None else self.teacher_lr,
            batch_size=self.batch_size if self.teacher_batch_size is None else self.teacher_batch_size,
        )

    def teacher_key(self) -> str:
        """A hash of everything that determines the trained teacher (of a validated config).

        The device is part of it: a GPU's kernels sum in another order than the CPU's, so its numbers differ.
        """
        fields = ("dataset", "teacher", "teacher_epochs", "lr", "batch_size", "optimizer", "seed", "device")
        identity = {name: getattr(self.for_teacher(), name) for name in fields}
        # A setting at its default is left out of the key: the teachers already in caches are keyed without it.
        if self.teacher_jitter:
            identity["jitter"] = self.teacher_jitter
        if self.schedule != "constant":
            identity["schedule"] = self.schedule
        identity["split"] = "fixed-v1"  # bump if data.py's train/test split ever changes
        return _digest(identity)

    def run_key(self) -> str:
        """A hash of everything that determines the run's results (of a validated config; the data folder does not)."""
        return _digest(self._run_identity())

    def baseline_key(self) -> str:
        """A hash of everything that determines the scratch baseline (of a validated config): the run's, less what
        only distillation reads — T, λ, the loss and its settings — so a run that changes only those finds its
        baseline already trained (kd_core/runs/stored.py)."""
        identity = {
            k: v
            for k, v in self._run_identity().items()
            if k not in ("temperature", "lam", "loss", "loss_args", "baseline")
        }
        return _digest({**identity, "part": "baseline"})

    def _run_identity(self) -> dict:
        """The fields that determine a run, less those at their defaults: as in teacher_key, the runs already
        stored are keyed without them."""
        identity = {k: v for k, v in self.to_dict().items() if k != "data_dir"}
        if identity["schedule"] == "constant":
            del identity["schedule"]
        for name, default in (
            ("teacher_optimizer", None),
            ("teacher_lr", None),
            ("teacher_batch_size", None),
            ("teacher_jitter", 0),
            ("loss_args", ()),
            ("keep_classes", None),
        ):
            if identity[name] == default:
                del identity[name]
        return identity


def _digest(identity: dict) -> str:
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:20]


def _show(value) -> str:
    """A value for an error message: its repr, cut short so the message stays one line."""
    text = repr(value).replace("\n", " ")
    return text if len(text) <= 40 else text[:37] + "..."


def _int(name: str, value, low: int, high: int) -> int:
    number = value
    if isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            number = None
    if (
        isinstance(number, bool)
        or not isinstance(number, (int, float))
        or not math.isfinite(number)
        or number != int(number)
    ):
        raise ConfigError(f"{name} must be a whole number, got {_show(value)}")
    number = int(number)
    if not low <= number <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {number}")
    return number


def _float(name: str, value) -> float:
    if isinstance(value, bool):
        raise ConfigError(f"{name} must be a number, got {_show(value)}")
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{name} must be a number, got {_show(value)}") from None


def _classes(name: str, value, num_classes: int) -> tuple[int, ...] | None:
    """Class numbers as a sorted tuple (from a sequence, or text like "7,8"); at least one, and not every class."""
    if value is None:
        return None
    items = value.replace(" ", "").split(",") if isinstance(value, str) else value
    try:
        classes = tuple(sorted({_int(name, item, 0, num_classes - 1) for item in items}))
    except TypeError:
        raise ConfigError(f"{name} must be class numbers like 7,8, got {_show(value)}") from None
    if not 1 <= len(classes) < num_classes:
        raise ConfigError(f"{name} must name between 1 and {num_classes - 1} classes, got {_show(value)}")
    return classes


def _choice(what: str, value, options) -> str:
    if not isinstance(value, str) or value not in options:
        raise ConfigError(f"unknown {what} {_show(value)}; choose one of: {', '.join(options)}")
    return value


def resolve_device(name: str = "auto") -> str:
    """``auto``: CUDA, then Apple's MPS, then the CPU; ConfigError for an accelerator that is not there."""
    mps = getattr(torch.backends, "mps", None)
    found = {"cuda": torch.cuda.is_available(), "mps": bool(mps and mps.is_available()), "cpu": True}
    if name == "auto":
        return next(device for device, present in found.items() if present)
    if not found[name]:
        raise ConfigError(f"device '{name}' was asked for but no {name.upper()} device is available")
    return name


def _dataset(name) -> tuple[str, DatasetSpec]:
    """A built-in dataset's name, or data of one's own by its canonical name (with its content hash)."""
    if is_custom(name):
        try:
            return resolve_data(name)
        except ValueError as error:
            raise ConfigError(str(error)) from None
    name = _choice("dataset", name, DATASETS)
    return name, DATASETS[name]


def _teacher(name, spec: DatasetSpec) -> str:
    """An architecture's name, or a teacher file's canonical name once it is checked against the data."""
    if is_external(name):
        try:
            return resolve_teacher(name, spec.input_shape, spec.num_classes, spec.teacher)
        except ValueError as error:
            raise ConfigError(str(error)) from None
    return _choice("teacher architecture", name or spec.teacher, ARCHITECTURES)


def _models(config: RunConfig, dataset: str, spec: DatasetSpec) -> dict:
    """The teacher and the student: architectures (or a teacher file) that can read the dataset's examples."""
    teacher = _teacher(config.teacher, spec)
    student = _choice("student architecture", config.student or spec.student, ARCHITECTURES)
    for role, name in (("teacher", teacher), ("student", student)):
        if name in ARCHITECTURES and ARCHITECTURES[name].needs_images and len(spec.input_shape) != 3:
            raise ConfigError(f"the {role} architecture '{name}' needs images; dataset '{dataset}' has none")
    return {"teacher": teacher, "student": student}


def _distillation(config: RunConfig) -> dict:
    """The temperature T and the soft loss's weight λ, in the ranges the losses accept."""
    try:
        temperature = check_temperature(_float("temperature", config.temperature))
        lam = check_lam(_float("lam", config.lam))
    except ValueError as error:
        raise ConfigError(str(error)) from None
    return {"temperature": temperature, "lam": lam}


def _learning_rate(config: RunConfig, spec: DatasetSpec) -> dict:
    """The students' (and by default the teacher's) learning rate: the dataset's unless set, up to MAX_LR."""
    lr = _float("lr", spec.lr if config.lr is None else config.lr)
    if not (math.isfinite(lr) and 0 < lr <= MAX_LR):
        raise ConfigError(f"lr (learning rate) must be > 0 and at most {MAX_LR:g}, got {_show(config.lr)}")
    return {"lr": lr}


def _student_data(config: RunConfig, spec: DatasetSpec, student: str) -> dict:
    """What the students see and how wide they are: their share of the training set, the share held out, their
    width, and the classes kept from them (one omitted, or only some kept — not both)."""
    fraction = _float("student_fraction", config.student_fraction)
    if not (0 < fraction <= 1):
        raise ConfigError(f"student_fraction must be in (0, 1], got {_show(config.student_fraction)}")
    holdout = _float("holdout", config.holdout)
    if not (0 <= holdout <= 0.5):
        raise ConfigError(f"holdout must be between 0 and 0.5, got {_show(config.holdout)}")
    width = None if config.student_width is None else _int("student_width", config.student_width, 1, 4096)
    omit_class = None if config.omit_class is None else _int("omit_class", config.omit_class, 0, spec.num_classes - 1)
    keep_classes = _classes("keep_classes", config.keep_classes, spec.num_classes)
    if keep_classes is not None and omit_class is not None:
        raise ConfigError(
            "keep_classes and omit_class cannot both be set: choose the classes the students see, or one they never see"
        )
    return {
        "student_fraction": fraction,
        "equal_steps": bool(config.equal_steps) and fraction < 1,  # on the full set there is nothing to scale
        "holdout": holdout,
        "student_width": ARCHITECTURES[student].width if width is None else width,
        "omit_class": omit_class,
        "keep_classes": keep_classes,
    }


def _optimizers(config: RunConfig, dataset: str, spec: DatasetSpec) -> dict:
    """The optimizer, and the teacher's own where it differs: its optimizer, learning rate and image jitter."""
    _choice("optimizer", config.optimizer, OPTIMIZERS)
    if config.teacher_optimizer is not None:
        _choice("teacher optimizer", config.teacher_optimizer, OPTIMIZERS)
    teacher_lr = None if config.teacher_lr is None else _float("teacher_lr", config.teacher_lr)
    if teacher_lr is not None and not (math.isfinite(teacher_lr) and 0 < teacher_lr <= MAX_LR):
        raise ConfigError(f"teacher_lr must be > 0 and at most {MAX_LR:g}, got {_show(config.teacher_lr)}")
    jitter = _int("teacher_jitter", config.teacher_jitter, 0, MAX_JITTER)
    if jitter and len(spec.input_shape) != 3:
        raise ConfigError(f"teacher_jitter shifts images; dataset '{dataset}' has none")
    return {"teacher_lr": teacher_lr, "teacher_jitter": jitter}


def _schedule(config: RunConfig, spec: DatasetSpec) -> dict:
    """How the learning rate moves over each phase: the dataset's unless set."""
    return {"schedule": _choice("schedule", spec.schedule if config.schedule is None else config.schedule, SCHEDULES)}


def _method(config: RunConfig, spec: DatasetSpec, teacher: str, student: str, width: int) -> dict:
    """The distillation method: a known one, its hyperparameters checked and sorted, and applicable to these
    models and classes (FitNets needs a regressor between the two hint layers)."""
    _choice("loss", config.loss, METHODS)
    try:
        loss_args = normalize_args(config.loss, config.loss_args)
        check_applies(config.loss, spec.num_classes, teacher, student, spec.input_shape, width)
    except MethodError as error:
        raise ConfigError(str(error)) from None
    return {"loss_args": loss_args}


def _device(config: RunConfig) -> dict:
    """The device to train on: ``auto`` resolved to the one found, a named one only if it is there."""
    return {"device": resolve_device(_choice("device", config.device, DEVICES))}


def _batch_sizes(config: RunConfig, spec: DatasetSpec, train_size: int | None) -> dict:
    """The batch sizes (the dataset's unless set, the teacher's own where given): at most the training set."""
    largest = train_size or 1_000_000
    batch_size = _int("batch_size", spec.batch_size if config.batch_size is None else config.batch_size, 1, largest)
    teacher_batch_size = (
        None if config.teacher_batch_size is None else _int("teacher_batch_size", config.teacher_batch_size, 1, largest)
    )
    return {"batch_size": batch_size, "teacher_batch_size": teacher_batch_size}


def _lengths(config: RunConfig, spec: DatasetSpec) -> dict:
    """The teacher's and the students' epochs (the dataset's unless set), and the seed."""
    teacher_epochs = spec.teacher_epochs if config.teacher_epochs is None else config.teacher_epochs
    return {
        "teacher_epochs": _int("teacher_epochs", teacher_epochs, 1, MAX_EPOCHS),
        "epochs": _int("epochs", spec.epochs if config.epochs is None else config.epochs, 1, MAX_EPOCHS),
        "seed": _int("seed", config.seed, 0, 2**31 - 1),
    }


def validate(config: RunConfig, train_size: int | None = None) -> RunConfig:
    """A copy with defaults and the device resolved, or ConfigError with a one-line reason.

    ``train_size`` (when the dataset is loaded) also bounds the batch size.  The checks run in this order and the
    first that fails raises, so a config with several bad settings always names the same one.
    """
    dataset, spec = _dataset(config.dataset)
    models = _models(config, dataset, spec)
    settings = {
        **_distillation(config),
        **_learning_rate(config, spec),
        **_student_data(config, spec, models["student"]),
        **_optimizers(config, dataset, spec),
        **_schedule(config, spec),
    }
    return config.replace(
        dataset=dataset,  # data of one's own: its canonical name, content hash included
        **models,
        **settings,
        **_method(config, spec, models["teacher"], models["student"], settings["student_width"]),
        **_device(config),
        **_batch_sizes(config, spec, train_size),
        **_lengths(config, spec),
        baseline=bool(config.baseline),
    )
