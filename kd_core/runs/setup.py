"""A run's setup: its settings resolved, its dataset on its device (moved there once) and its teacher, shared by
every student trained on it.

    setup = RunSetup(config)                                         # data and device, once
    setup.teacher(cache, on_event, stop)                             # trained, or from the cache
    setup.train_student(config, "student" | "baseline", on_event, stop)   # sweeps and experiments, per value
    setup.scratch_baseline(config, cache, on_event, stop)            # trained, or from the cache (T moved)

The KD student and the scratch baseline start from the very same weights (drawn from ``seed + 1``) and see
batches in the same order, so the only difference between them is the teacher's signal.  The baseline does not
depend on T, λ or the loss: a run that changes only those finds it in the teacher cache (half a rerun's time).
The teacher's logits over the student's view of the data are computed once per view.

Three settings from distillation research (issue #30) live here: a teacher trained with label smoothing
(``teacher_label_smoothing``), a teacher that is another run's KD student (``teacher_from``: found in the teacher
cache, or the earlier links trained now) and a KD student taught on inputs that are not the training data
(``transfer``).
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from kd_core.config import MAX_EPOCHS, ConfigError, RunConfig, parent_config, validate
from kd_core.data.datasets import load_dataset, student_indices
from kd_core.data.spec import Dataset
from kd_core.methods.fitnets import hint_features
from kd_core.methods.losses import cross_entropy
from kd_core.methods.registry import METHODS, check_batches, make_loss
from kd_core.models.architectures import count_params, size_bytes
from kd_core.models.own_teacher import is_external
from kd_core.models.own_teacher import load as load_own_teacher
from kd_core.runs.cache import TeacherCache
from kd_core.runs.stored import find_baseline, replay, store_baseline
from kd_core.train.loop import (
    Cancelled,
    Evaluation,
    FitOptions,
    TrainingData,
    evaluate,
    fit,
    predict_logits,
    score_logits,
    seeded_model,
)
from kd_core.train.records import (
    EpochRecord,
    EventCallback,
    PhaseReport,
    StepRecord,
    StepRecorder,
    StopFlag,
    TeacherLookup,
)


def load(config: RunConfig) -> tuple[RunConfig, Dataset]:
    """The validated config, its students' epochs final, and its dataset; ConfigError or DatasetUnavailable."""
    try:
        dataset = load_dataset(config.dataset, config.data_dir)
    except ValueError as error:  # an unknown dataset name
        raise ConfigError(str(error)) from None
    config = validate(config, train_size=len(dataset.y_train))
    if config.equal_steps and config.student_fraction < 1:
        config = config.replace(epochs=equal_steps_epochs(config, dataset.y_train))
    return config.replace(equal_steps=False), dataset


def equal_steps_epochs(config: RunConfig, labels: torch.Tensor) -> int:
    """Epochs (of a validated ``config``) that give the student on its subset as many gradient steps as
    ``config.epochs`` on the full training set.

    A 3 % student otherwise takes 1 step per epoch — 20 steps in all at the default 20 epochs — and
    the comparison measures who converges faster, not who generalises better. Capped at MAX_EPOCHS.
    """
    seen = len(student_indices(labels, *view_key(config)))
    full_steps = -(-len(labels) // config.batch_size)
    subset_steps = -(-seen // config.batch_size)
    return min(MAX_EPOCHS, -(-config.epochs * full_steps // subset_steps))


def report(model: nn.Module, evaluation: Evaluation) -> PhaseReport:
    return PhaseReport(
        evaluation.accuracy,
        evaluation.per_class_accuracy,
        count_params(model),
        size_bytes(model),
        evaluation.agreement,
        evaluation.teacher_kl,
    )


def label_smoothed(epsilon: float):
    """The teacher's training loss with label smoothing ε (Szegedy et al. 2016; Müller, Kornblith & Hinton 2019,
    "When does label smoothing help?"): cross-entropy against (1 − ε)·one-hot + ε/K, torch's own
    ``F.cross_entropy(label_smoothing=ε)`` (pytorch/pytorch aten/src/ATen/native/LossNLL.cpp,
    ``cross_entropy_loss_label_smoothing``, commit 87dd4af9e9b6ec5a5b90938587029c677a35746d; tested against a float64
    formula in tests/test_research.py).  ε = 0 is ``cross_entropy`` itself, so a default teacher is unchanged."""
    if not epsilon:
        return cross_entropy

    def smoothed(student_logits, teacher_logits, labels, temperature, lam) -> dict[str, torch.Tensor]:
        return {"total": F.cross_entropy(student_logits, labels, label_smoothing=epsilon)}

    return smoothed


def noise_like(x: torch.Tensor, count: int, seed: int) -> torch.Tensor:
    """``count`` inputs of ``x``'s shape, each value uniform over ``x``'s range of values: inputs the teacher was
    never trained on, drawn on the CPU from ``seed`` (the same on every device), then moved to ``x``'s device."""
    generator = torch.Generator().manual_seed(seed)
    low, high = x.min().item(), x.max().item()
    noise = torch.rand((count, *x.shape[1:]), generator=generator) * (high - low) + low
    return noise.to(x.device)


def view_key(config: RunConfig) -> tuple:
    """What picks the student's examples: ``student_indices``'s arguments after the labels."""
    return config.student_fraction, config.omit_class, config.seed, config.holdout, config.keep_classes


@dataclass
class StudentView:
    """The training examples a student sees, and the teacher's logits over them (None for a baseline trained
    before its teacher)."""

    x: torch.Tensor
    y: torch.Tensor
    teacher_logits: torch.Tensor | None


@dataclass
class TrainedStudent:
    model: nn.Module
    history: list[EpochRecord]
    seconds: float
    evaluation: Evaluation
    report: PhaseReport
    steps: list[StepRecord]  # every stored_stride-th step, for a cached result's replay
    from_cache: bool = False  # a scratch baseline found in the cache (kd_core/runs/stored.py)


class RunSetup:
    """One config's dataset on its device (moved there once) and its teacher, shared by every student trained on it."""

    def __init__(self, config: RunConfig):
        self.config, self.dataset = load(config)
        self.device = torch.device(self.config.device)
        self.x_train, self.y_train = self.dataset.x_train.to(self.device), self.dataset.y_train.to(self.device)
        self.test = (self.dataset.x_test.to(self.device), self.dataset.y_test.to(self.device))
        self._teacher: TeacherLookup | None = None
        self._teacher_eval: Evaluation | None = None
        self._views: dict[tuple, StudentView] = {}
        self._transfer_views: dict[tuple, StudentView] = {}
        self._teacher_test_logits: torch.Tensor | None = None
        self._features: dict[tuple, torch.Tensor] = {}  # the teacher's hint features per view (FitNets)

    # ---- the teacher

    def cached_teacher(self, cache: TeacherCache) -> TeacherLookup | None:
        """The teacher if it is already trained (here or in ``cache``); never trains."""
        if self._teacher is None and is_external(self.config.teacher):  # a file of one's own: no training
            model = load_own_teacher(self.config.teacher, self.dataset.input_shape, self.dataset.num_classes)
            self._teacher = TeacherLookup(model.to(self.device), [], 0.0, True, [])
        if self._teacher is None:
            entry = cache.get(self.config.teacher_key())
            if entry is None:
                return None
            model = seeded_model(self.config.teacher, self.dataset, self.config.seed, self.config.teacher_width)
            model.load_state_dict(entry["states"]["teacher"])
            history = [EpochRecord.from_dict(row) for row in entry["meta"]["history"]]
            # an entry stored without steps replays its epochs only
            steps = [StepRecord.from_dict(row) for row in entry["meta"].get("steps", [])]
            self._teacher = TeacherLookup(model.to(self.device), history, entry["meta"]["seconds"], True, steps)
        return self._teacher

    def teacher(
        self, cache: TeacherCache | None = None, on_event: EventCallback | None = None, stop: StopFlag | None = None
    ) -> TeacherLookup:
        """The trained teacher: from ``cache`` (its stored steps and history replayed as events), or trained now
        and cached with them."""
        cache = cache if cache is not None else TeacherCache()
        with cache.claim(self.config.teacher_key(), stop) as claimed:  # another process may be training it now
            if not claimed:
                raise Cancelled("teacher", [])
            found = self.cached_teacher(cache)
            if found is not None:
                replay(found.history, self.config, on_event, found.steps)
                return found
            if self.config.teacher_from is not None:
                self._teacher = self._chained_teacher(cache, stop)
                return self._teacher
            config = self.config
            model = seeded_model(config.teacher, self.dataset, config.seed, config.teacher_width).to(self.device)
            recorder = StepRecorder(on_event)
            started = time.perf_counter()
            options = FitOptions(
                "teacher",
                config.for_teacher(),
                config.teacher_epochs,
                shuffle_seed=config.seed,
                jitter=config.teacher_jitter,
            )
            data = TrainingData(self.x_train, self.y_train, self.test)
            loss = label_smoothed(config.teacher_label_smoothing)
            history = fit(model, loss, data, options, on_event=recorder, stop=stop)
            seconds = time.perf_counter() - started
            meta = {
                "history": [row.to_dict() for row in history],
                "seconds": seconds,
                "config": config.to_dict(),
                "steps": [row.to_dict() for row in recorder.steps],
            }
            cache.put(config.teacher_key(), {"teacher": model.state_dict()}, meta)
        self._teacher = TeacherLookup(model, history, seconds, False, recorder.steps)
        return self._teacher

    def _chained_teacher(self, cache: TeacherCache, stop: StopFlag | None) -> TeacherLookup:
        """The KD student of ``teacher_from``'s run, trained now (its own teacher from the cache, or trained the same
        way, link after link) and cached as this run's teacher.  The earlier links report no events: their phases
        are not this run's, and the page would draw them as its own teacher's."""
        parent = parent_config(self.config).replace(data_dir=self.config.data_dir)
        link = RunSetup(parent)
        started = time.perf_counter()
        try:
            link.teacher(cache, None, stop)
            model = link.train_student(link.config, "student", None, stop).model
        except Cancelled:  # stopped inside an earlier link: this run's teacher is what did not finish
            raise Cancelled("teacher", []) from None
        seconds = time.perf_counter() - started
        meta = {"history": [], "seconds": seconds, "config": self.config.to_dict(), "steps": []}
        cache.put(self.config.teacher_key(), {"teacher": model.state_dict()}, meta)
        return TeacherLookup(model.to(self.device), [], seconds, False, [])

    def teacher_evaluation(self) -> Evaluation:
        if self._teacher_eval is None:  # from the test logits kept for the students' fidelity: one pass
            self._teacher_eval = score_logits(self.teacher_test_logits(), self.test[1], self.dataset.num_classes)
        return self._teacher_eval

    def teacher_test_logits(self) -> torch.Tensor:
        """The teacher's logits over the test set, on the device, computed once: a student's fidelity is measured
        against them."""
        if self._teacher_test_logits is None:
            self._teacher_test_logits = predict_logits(self._require_teacher().model, self.test[0])
        return self._teacher_test_logits

    def evaluate_student(self, model: nn.Module) -> Evaluation:
        """A student on the test set: accuracy, and its agreement and KL with the teacher."""
        teacher = self.teacher_evaluation().predictions
        return evaluate(model, *self.test, self.dataset.num_classes, teacher, self.teacher_test_logits())

    def teacher_logits(self, split: str = "test") -> torch.Tensor:
        """The teacher's logits over the "train" or "test" set, on the CPU."""
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        x = self.x_train if split == "train" else self.test[0]
        return predict_logits(self._require_teacher().model, x).cpu()

    def _require_teacher(self) -> TeacherLookup:
        if self._teacher is None:
            raise RuntimeError("call teacher() first")
        return self._teacher

    # ---- students

    def student_examples(self, config: RunConfig) -> tuple[torch.Tensor, torch.Tensor]:
        """The images and labels a student of ``config`` trains on (its share of the data, without its omitted
        class or with only its kept classes)."""
        keep = student_indices(self.dataset.y_train, *view_key(config)).to(self.device)
        return self.x_train.index_select(0, keep), self.y_train.index_select(0, keep)

    def student_view(self, config: RunConfig) -> StudentView:
        """``student_examples`` and the teacher's logits over them, computed once per view."""
        key = view_key(config)
        if key not in self._views:
            x, y = self.student_examples(config)
            self._views[key] = StudentView(x, y, predict_logits(self._require_teacher().model, x))
        return self._views[key]

    def transfer_view(self, config: RunConfig) -> StudentView:
        """What the KD student of a ``config`` with a ``transfer`` set trains on: as many random inputs as its
        ``student_view`` has examples (the same steps per epoch), the teacher's logits over them, and the teacher's
        top-1 as labels (λ is 1: they only fill the loss's unused hard part).  Drawn from ``seed + 3`` (the
        teacher's weights draw from ``seed``, the students' from ``seed + 1``, a FitNets regressor from ``+ 2``)."""
        key = (*view_key(config), config.transfer)
        if key not in self._transfer_views:
            count = len(self.student_view(config).x)
            x = noise_like(self.x_train, count, config.seed + 3)
            logits = predict_logits(self._require_teacher().model, x)
            self._transfer_views[key] = StudentView(x, logits.argmax(dim=1), logits)
        return self._transfer_views[key]

    def teacher_features(self, config: RunConfig) -> torch.Tensor:
        """The teacher's hint-layer features over ``config``'s student view, computed once per view like its logits."""
        key = view_key(config)
        if key not in self._features:
            self._features[key] = hint_features(self._require_teacher().model, self.student_view(config).x)
        return self._features[key]

    def train_student(
        self, config: RunConfig, phase: str, on_event: EventCallback | None = None, stop: StopFlag | None = None
    ) -> TrainedStudent:
        """The KD student (``phase="student"``) or the scratch baseline of ``config`` (validated, same teacher)."""
        if config.teacher_key() != self.config.teacher_key():
            raise ValueError("train_student: config names another teacher than this set-up's")
        view = self.transfer_view(config) if phase == "student" and config.transfer else self.student_view(config)
        model, history, steps, seconds = self._fit_student(config, phase, view, on_event, stop)
        evaluation = self.evaluate_student(model)
        return TrainedStudent(model, history, seconds, evaluation, report(model, evaluation), steps)

    def _fit_student(
        self,
        config: RunConfig,
        phase: str,
        view: StudentView,
        on_event: EventCallback | None,
        stop: StopFlag | None,
    ):
        """Train the KD student or the scratch baseline on ``view`` (the baseline ignores its teacher logits); with
        ``track_fidelity``, each epoch also measures agreement and KL with the teacher on the test set."""
        model = seeded_model(config.student, self.dataset, config.seed + 1, config.student_width).to(self.device)
        distill = phase == "student"
        recorder = StepRecorder(on_event)
        started = time.perf_counter()
        x, y = view.x, view.y
        loss = student_loss(config, model, x, lambda: self.teacher_features(config)) if distill else cross_entropy
        with attached(loss, model):  # a method's hooks on the student (FitNets), removed after training
            fidelity = self.teacher_test_logits() if config.track_fidelity else None
            data = TrainingData(x, y, self.test, view.teacher_logits if distill else None, fidelity)
            options = FitOptions(phase, config, config.epochs, shuffle_seed=config.seed + 1)
            history = fit(model, loss, data, options, on_event=recorder, stop=stop)
        return model, history, recorder.steps, time.perf_counter() - started

    def scratch_baseline(
        self,
        config: RunConfig,
        cache: TeacherCache,
        on_event: EventCallback | None = None,
        stop: StopFlag | None = None,
    ) -> TrainedStudent:
        """The scratch baseline of ``config``: from ``cache.baselines`` when a run that differs only in its
        distillation trained it (T moved, another method) or another worker is training it now, else trained now
        and stored there."""
        with cache.baselines.claim(config.baseline_key(), stop) as claimed:
            if not claimed:
                raise Cancelled("baseline", [])
            found = find_baseline(cache.baselines, config, self.dataset, self.device, on_event)
            if found is None:
                trained = self.train_student(config, "baseline", on_event, stop)
                store_baseline(cache.baselines, config, trained.model, trained.history, trained.steps, trained.seconds)
                return trained
        model, history, steps, seconds = found
        evaluation = self.evaluate_student(model)
        return TrainedStudent(model, history, seconds, evaluation, report(model, evaluation), steps, from_cache=True)

    def baseline_into(
        self, cache: TeacherCache, on_event: EventCallback | None = None, stop: StopFlag | None = None
    ) -> None:
        """Train this run's scratch baseline into ``cache.baselines`` unless it is there: from the labels alone,
        while another worker trains the teacher (kd_core.runs.seeds.ahead_of_seeds)."""
        config = self.config
        if config.track_fidelity:  # its epochs measure agreement with the teacher: it trains after the teacher
            return
        with cache.baselines.claim(config.baseline_key(), stop) as claimed:
            if not claimed or cache.baselines.get(config.baseline_key()) is not None:
                return
            x, y = self.student_examples(config)
            view = StudentView(x, y, None)  # no teacher: it may still be training in another worker
            model, history, steps, seconds = self._fit_student(config, "baseline", view, on_event, stop)
            store_baseline(cache.baselines, config, model, history, steps, seconds)


def student_loss(config, model: torch.nn.Module, x: torch.Tensor, teacher_features: Callable[[], torch.Tensor]):
    """What ``train.fit`` minimises for the KD student ``model`` of a validated ``config`` trained on ``x``: its
    method bound to its loss arguments; ``teacher_features()`` (memoised by the caller) only for FitNets."""
    check_batches(config.loss, len(x), config.batch_size)
    if not METHODS[config.loss].needs_features:
        return make_loss(config.loss, config.loss_args)
    student_shape = tuple(hint_features(model, x[:2]).shape[1:])
    return make_loss(config.loss, config.loss_args, teacher_features(), student_shape, config.seed + 2)


@contextmanager
def attached(loss, model: torch.nn.Module) -> Iterator[None]:
    """A method's hooks on ``model`` (FitNets) for the duration of training, removed afterwards in any case."""
    attach = getattr(loss, "attach", None)
    if attach is not None:
        attach(model)
    try:
        yield
    finally:
        if attach is not None:
            loss.detach()
