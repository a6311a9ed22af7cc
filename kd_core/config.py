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
# What a KD student may learn from besides the training data (``RunConfig.transfer``): "noise" is uniform random
# inputs of the training images' shape and value range, one per training example the student would have seen.
TRANSFERS = ("noise",)
MAX_CHAIN = 6  # links in a chain of teachers (``teacher_from``), the run's own teacher included


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
    # The findings of distillation research (issue #30).  Each is left out of every key while at its default, so
    # every teacher and run cached before them keeps its key.
    teacher_width: int | None = None  # hidden units or channels of the teacher; None: the architecture's
    teacher_label_smoothing: float = 0.0  # ε of label smoothing in the teacher's own training loss, in [0, 1)
    # The teacher is another run's KD student (a chain: born-again generations, teacher → assistant → student):
    # that run's settings as canonical JSON (``student_as_teacher``); validate() gives the parent this run's seed
    # and device and sets ``teacher``/``teacher_width``/``teacher_epochs`` to what the parent's student is.
    teacher_from: str | None = None
    transfer: str | None = None  # what the KD student sees (TRANSFERS); None: its training examples, as always
    track_fidelity: bool = False  # record agreement with the teacher and the KL to it on the test set each epoch

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

        The device is part of it: a GPU's kernels sum in another order than the CPU's, so its numbers differ.  A
        chained teacher (``teacher_from``) is the parent run's KD student: its key is derived from the parent's run
        key alone, so every run that names the same parent finds the same teacher.
        """
        parent = parent_config(self)
        if parent is not None:
            return _digest({"kd_student_of": parent.run_key()})
        fields = ("dataset", "teacher", "teacher_epochs", "lr", "batch_size", "optimizer", "seed", "device")
        identity = {name: getattr(self.for_teacher(), name) for name in fields}
        # A setting at its default is left out of the key: the teachers already in caches are keyed without it.
        if self.teacher_jitter:
            identity["jitter"] = self.teacher_jitter
        if self.schedule != "constant":
            identity["schedule"] = self.schedule
        if self.teacher_width is not None:
            identity["width"] = self.teacher_width
        if self.teacher_label_smoothing:
            identity["label_smoothing"] = self.teacher_label_smoothing
        identity["split"] = "fixed-v1"  # bump if data.py's train/test split ever changes
        return _digest(identity)

    def run_key(self) -> str:
        """A hash of everything that determines the run's results (of a validated config; the data folder does not)."""
        return _digest(self._run_identity())

    def baseline_key(self) -> str:
        """A hash of everything that determines the scratch baseline (of a validated config): the run's, less what
        only distillation reads — T, λ, the loss and its settings, the transfer set — so a run that changes only
        those finds its baseline already trained (kd_core/runs/stored.py)."""
        identity = {
            k: v
            for k, v in self._run_identity().items()
            if k not in ("temperature", "lam", "loss", "loss_args", "baseline", "transfer")
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
            ("teacher_width", None),
            ("teacher_label_smoothing", 0.0),
            ("teacher_from", None),
            ("transfer", None),
            ("track_fidelity", False),
        ):
            if identity[name] == default:
                del identity[name]
        if "teacher_from" in identity:  # the parent by its run key: shorter than its settings, and as exact
            identity["teacher_from"] = parent_config(self).run_key()
        return identity


def student_as_teacher(parent: RunConfig) -> str:
    """``parent``'s settings as ``RunConfig.teacher_from``: the teacher of a run becomes ``parent``'s KD student.

        gen1 = RunConfig(teacher="mlp-small", student="mlp-small")           # born-again, generation 1
        gen2 = gen1.replace(teacher_from=student_as_teacher(gen1))           # generation 2: taught by gen 1
        assistant = RunConfig(student_width=64)                              # teacher → assistant
        student = RunConfig(teacher_from=student_as_teacher(assistant))      # assistant → student

    The chain is one config: the pipeline finds each link's student in the teacher cache (keyed from the parent's
    run key) or trains the links before it, each at the run's seed.  Canonical JSON (sorted keys) so the same
    parent always reads the same.
    """
    return json.dumps(parent.to_dict(), sort_keys=True)


def parent_config(config: RunConfig) -> RunConfig | None:
    """The run whose KD student is ``config``'s teacher (``teacher_from`` read back), or None; ConfigError for text
    that is not a run's settings."""
    if config.teacher_from is None:
        return None
    problem = (
        f"teacher_from must be a run's settings as JSON (config.student_as_teacher), got {_show(config.teacher_from)}"
    )
    try:
        fields = json.loads(config.teacher_from)
    except (TypeError, ValueError):
        raise ConfigError(problem) from None
    known = {f.name for f in dataclasses.fields(RunConfig)}
    if not isinstance(fields, dict) or not set(fields) <= known:
        raise ConfigError(problem)
    if isinstance(fields.get("keep_classes"), list):
        fields["keep_classes"] = tuple(fields["keep_classes"])
    if isinstance(fields.get("loss_args"), list):
        fields["loss_args"] = tuple(tuple(pair) if isinstance(pair, list) else pair for pair in fields["loss_args"])
    return RunConfig(**fields)


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


def _teacher_training(config: RunConfig, teacher: str) -> dict:
    """The teacher's own width and the label smoothing of its training loss (Müller et al. 2019): only for a
    teacher trained here, not a file of one's own."""
    width = None if config.teacher_width is None else _int("teacher_width", config.teacher_width, 1, 4096)
    smoothing = _float("teacher_label_smoothing", config.teacher_label_smoothing)
    if not (math.isfinite(smoothing) and 0 <= smoothing < 1):
        raise ConfigError(f"teacher_label_smoothing must be in [0, 1), got {_show(config.teacher_label_smoothing)}")
    if teacher not in ARCHITECTURES and (width is not None or smoothing):
        raise ConfigError("teacher_width and teacher_label_smoothing need a teacher trained here, not a teacher file")
    if width is not None and width == ARCHITECTURES[teacher].width:
        width = None  # the architecture's own width: the same teacher, the same key
    return {"teacher_width": width, "teacher_label_smoothing": smoothing}


def _transfer(config: RunConfig) -> dict:
    """What the KD student sees: its training examples (None), or inputs without labels — then λ is 1, as only the
    teacher's soft targets mean anything on them, and the method must be Hinton's (others read the labels)."""
    if config.transfer is None:
        return {}
    _choice("transfer set", config.transfer, TRANSFERS)
    if config.loss != "kd":
        raise ConfigError(
            f"transfer '{config.transfer}' needs loss 'kd' (the others read labels), got {_show(config.loss)}"
        )
    if config.omit_class is not None or config.keep_classes is not None:
        raise ConfigError(
            f"transfer '{config.transfer}' has no classes to omit or keep; leave omit_class and keep_classes unset"
        )
    return {"lam": 1.0}


def _chained(config: RunConfig, child: RunConfig) -> RunConfig:
    """``child`` (validated) with its teacher the KD student of ``config.teacher_from``: the parent validated at the
    child's seed and device, without a baseline (no link needs one), and the teacher fields set to its student."""
    raw = parent_config(config)
    ancestor, links = raw, 1
    while ancestor is not None:
        links += 1
        if links > MAX_CHAIN:
            raise ConfigError(f"teacher_from chains at most {MAX_CHAIN} runs")
        ancestor = parent_config(ancestor)
    parent = validate(raw.replace(seed=child.seed, device=child.device, baseline=False, data_dir=None))
    if parent.dataset != child.dataset:
        raise ConfigError(f"teacher_from's run is on dataset '{parent.dataset}', this one on '{child.dataset}'")
    if config.teacher not in (None, parent.student) or config.teacher_width not in (None, parent.student_width):
        raise ConfigError("teacher_from sets the teacher (the parent's student); leave teacher and teacher_width unset")
    if child.teacher_label_smoothing or child.teacher_jitter:
        raise ConfigError(
            "teacher_from's teacher is a KD student: teacher_label_smoothing and teacher_jitter do not apply"
        )
    width = parent.student_width
    return child.replace(
        teacher=parent.student,
        teacher_width=None if width == ARCHITECTURES[parent.student].width else width,
        teacher_epochs=parent.epochs,
        teacher_from=student_as_teacher(parent),
    )


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
    if config.teacher_from is not None:
        parent_config(config)  # readable settings, before anything else is checked
    models = _models(config, dataset, spec)
    settings = {
        **_distillation(config),
        **_transfer(config),
        **_learning_rate(config, spec),
        **_student_data(config, spec, models["student"]),
        **_optimizers(config, dataset, spec),
        **_schedule(config, spec),
    }
    validated = config.replace(
        dataset=dataset,  # data of one's own: its canonical name, content hash included
        **models,
        **settings,
        **_method(config, spec, models["teacher"], models["student"], settings["student_width"]),
        **_device(config),
        **_batch_sizes(config, spec, train_size),
        **_lengths(config, spec),
        **_teacher_training(config, models["teacher"]),
        baseline=bool(config.baseline),
        track_fidelity=bool(config.track_fidelity),
    )
    if config.teacher_from is None:
        return validated
    chained = _chained(config, validated)
    _method(chained, spec, chained.teacher, chained.student, chained.student_width)  # against the real teacher
    return chained
