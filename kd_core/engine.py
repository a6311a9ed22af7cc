"""Training: the teacher, the distilled student and the scratch baseline, with a progress event stream.

    run(config, on_event, stop) → RunResult

Data stays in memory as tensors; the teacher's logits over the student's training set are
computed once and reused in every distillation epoch; trained teachers are cached on disk.
Every phase reports ``ProgressEvent``s through ``on_event`` and checks ``stop`` between steps.
"""
from __future__ import annotations

import copy
import dataclasses
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Protocol

import torch
import torch.nn.functional as F
from torch import nn

from .cache import ResultCache, TeacherCache
from .config import RunConfig, validate
from .data import Dataset, load_dataset, student_indices
from .losses import distillation_loss
from .models import build_model, count_params, size_bytes
from .speed import image_layout, inference_layout, tune

PHASES = ("teacher", "student", "baseline")
_INIT_LOCK = threading.Lock()  # seeding torch's global RNG and building a model must not interleave across threads


class StopFlag(Protocol):
    def is_set(self) -> bool: ...


@dataclass(frozen=True)
class ProgressEvent:
    """One step (``kind="step"``) or the end of one epoch (``kind="epoch"``, with ``test_accuracy``)."""

    phase: str  # "teacher" | "student" | "baseline"
    kind: str  # "step" | "epoch"
    epoch: int  # 1-based
    epochs: int
    step: int  # steps done in this phase so far, 1-based
    steps: int  # steps this phase will take in all
    loss: float  # the step's loss, or the epoch's mean
    soft_loss: float | None = None  # None where there is no teacher signal (teacher, baseline)
    hard_loss: float | None = None
    test_accuracy: float | None = None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


EventCallback = Callable[[ProgressEvent], None]


# A loss this many times its first value (or 1, whichever is larger) counts as diverged: with a too-large
# learning rate, ReLU nets often blow up to 1e5..1e8 and then die (finite loss, 10 % accuracy) rather than
# reach NaN, and a user deserves the same clear message for both.
DIVERGENCE_FACTOR = 1000.0


class Diverged(RuntimeError):
    """The loss became NaN, infinite, or exploded; training stopped at that step."""

    def __init__(self, phase: str, epoch: int, step: int, lr: float, loss: float):
        self.phase, self.epoch, self.step, self.lr, self.loss = phase, epoch, step, lr, loss
        what = "became non-finite" if not math.isfinite(loss) else f"exploded to {loss:.3g}"
        super().__init__(
            f"training diverged: the {phase} loss {what} at epoch {epoch}, step {step}; "
            f"try a lower learning rate than {lr:g}"
        )


@dataclass
class Evaluation:
    accuracy: float
    per_class_accuracy: list[float]
    predictions: torch.Tensor = field(repr=False)


@dataclass
class RunResult:
    """What a run produced; ``to_json()`` is the documented ``--json`` format."""

    config: RunConfig
    status: str  # "completed" | "cancelled"
    teacher: dict | None
    student: dict | None
    baseline: dict | None
    history: list[dict]
    seconds: dict[str, float]
    teacher_from_cache: bool = False
    models: dict[str, nn.Module] = field(default_factory=dict, repr=False)
    from_results_cache: bool = False  # the whole run was served from a ResultCache

    def to_json(self) -> dict:
        return {
            "config": self.config.to_dict(),
            "status": self.status,
            "teacher": self.teacher,
            "student": self.student,
            "baseline": self.baseline,
            "history": self.history,
            "seconds": self.seconds,
            "teacher_from_cache": self.teacher_from_cache,
        }


def resolve_device(name: str = "auto") -> torch.device:
    """``auto``: CUDA, then Apple's MPS, then the CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but no CUDA GPU is available")
    return torch.device(name)


def seeded_model(name: str, dataset: Dataset, seed: int) -> nn.Module:
    """``name`` built with weights drawn from ``seed``: the same seed, the same initial weights."""
    with _INIT_LOCK:
        torch.manual_seed(seed)
        return build_model(name, dataset.input_shape, dataset.num_classes)


@torch.no_grad()
def predict_logits(model: nn.Module, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """The model's logits for every row of ``x``, in eval mode.

    256 rows at a time keep the activations in cache: the seed's TeacherNet runs ~1.8× faster than
    at 2048, and every row's logits are the same whatever the batch size.  The seed's conv nets run
    in channels-last order here, ~10× faster and bit for bit the same (``speed.inference_layout``).
    """
    was_training = model.training
    model.eval()
    out = torch.cat([model(inference_layout(model, x[i : i + batch_size])) for i in range(0, len(x), batch_size)])
    model.train(was_training)
    return out


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Top-1 accuracy (a fraction in [0, 1]); what ``evaluate`` reports, without the per-class work."""
    return (predict_logits(model, x).argmax(dim=1) == y).float().mean().item()


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, num_classes: int) -> Evaluation:
    """Top-1 accuracy overall and per class (fractions in [0, 1])."""
    predictions = predict_logits(model, x).argmax(dim=1)
    correct = (predictions == y).float()
    per_class = []
    for cls in range(num_classes):
        mask = y == cls
        per_class.append(correct[mask].mean().item() if mask.any() else float("nan"))
    return Evaluation(correct.mean().item(), per_class, predictions.cpu())


def _optimizer(model: nn.Module, config: RunConfig) -> torch.optim.Optimizer:
    # foreach: one kernel per operation over all parameters instead of one per parameter — the same numbers.
    if config.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=0.9, foreach=True)
    return torch.optim.Adam(model.parameters(), lr=config.lr, foreach=True)


def fit(
    model: nn.Module,
    phase: str,
    x: torch.Tensor,
    y: torch.Tensor,
    test: tuple[torch.Tensor, torch.Tensor],
    config: RunConfig,
    epochs: int,
    teacher_logits: torch.Tensor | None = None,
    on_event: EventCallback | None = None,
    stop: StopFlag | None = None,
    shuffle_seed: int = 0,
) -> tuple[list[dict], bool]:
    """Train ``model`` in place; returns (per-epoch history, whether it was cancelled).

    With ``teacher_logits`` (aligned with ``x``) the loss is the distillation loss at
    ``config.temperature`` and ``config.lam``; without, plain cross-entropy on ``y``.
    """
    tune()  # process-wide allocator settings (kd_core.speed): faster, the same numbers
    optimizer = _optimizer(model, config)
    parameters = list(model.parameters())
    generator = torch.Generator().manual_seed(shuffle_seed)
    x_test, y_test = test
    steps_per_epoch = -(-len(x) // config.batch_size)
    total_steps, step, history = epochs * steps_per_epoch, 0, []
    model.train()
    for epoch in range(1, epochs + 1):
        order = torch.randperm(len(x), generator=generator).to(x.device)
        sums = [0.0, 0.0, 0.0]
        for start in range(0, len(x), config.batch_size):
            if stop is not None and stop.is_set():
                return history, True
            batch = order[start : start + config.batch_size]
            # index_select copies whole rows, ~2× faster than x[batch]'s general gather; the same values.
            labels = y.index_select(0, batch)
            logits = model(image_layout(x.index_select(0, batch)))  # channels-last only if KD_CHANNELS_LAST=1
            if teacher_logits is None:
                loss = F.cross_entropy(logits, labels)
                parts = (loss, None, None)
            else:
                targets = teacher_logits.index_select(0, batch)
                parts = distillation_loss(logits, targets, labels, config.temperature, config.lam)
                loss = parts.total
            step += 1
            values = [None if p is None else p.item() for p in parts]
            if step == 1:
                loss_limit = DIVERGENCE_FACTOR * max(abs(values[0]), 1.0) if math.isfinite(values[0]) else 0.0
            if not all(v is None or abs(v) <= loss_limit for v in values):  # NaN fails this test too
                raise Diverged(phase, epoch, step - (epoch - 1) * steps_per_epoch, config.lr, values[0])
            for parameter in parameters:  # optimizer.zero_grad(set_to_none=True), without its per-call overhead
                parameter.grad = None
            loss.backward()
            optimizer.step()
            sums = [total + (v or 0.0) * len(batch) for total, v in zip(sums, values)]
            if on_event is not None:
                on_event(ProgressEvent(phase, "step", epoch, epochs, step, total_steps, *values))
        means = [total / len(x) for total in sums]
        test_accuracy = accuracy(model, x_test, y_test)
        model.train()
        soft, hard = (None, None) if teacher_logits is None else (means[1], means[2])
        event = ProgressEvent(phase, "epoch", epoch, epochs, step, total_steps, means[0], soft, hard, test_accuracy)
        history.append({k: v for k, v in event.to_dict().items() if k in _HISTORY_KEYS})
        if on_event is not None:
            on_event(event)
    return history, False


_HISTORY_KEYS = ("phase", "epoch", "loss", "soft_loss", "hard_loss", "test_accuracy")


def _report(model: nn.Module, evaluation: Evaluation) -> dict:
    return {
        "accuracy": evaluation.accuracy,
        "per_class_accuracy": evaluation.per_class_accuracy,
        "params": count_params(model),
        "size_bytes": size_bytes(model),
    }


def get_teacher(
    config: RunConfig,
    dataset: Dataset,
    cache: TeacherCache | None,
    device: torch.device,
    on_event: EventCallback | None = None,
    stop: StopFlag | None = None,
) -> tuple[nn.Module, list[dict], float, bool, bool]:
    """The trained teacher from the cache, or trained now (and cached).

    Returns (teacher, history, seconds, from_cache, cancelled).
    """
    teacher = seeded_model(config.teacher, dataset, config.seed)
    key = config.teacher_key()
    entry = cache.get(key) if cache is not None else None
    if entry is not None:
        teacher.load_state_dict(entry["states"]["teacher"])
        history = entry["meta"]["history"]
        replay_history(history, config, on_event)  # the cached curve, so every consumer draws the same picture
        return teacher.to(device), history, entry["meta"]["seconds"], True, False
    teacher.to(device)
    started = time.perf_counter()
    history, cancelled = fit(
        teacher, "teacher", dataset.x_train.to(device), dataset.y_train.to(device),
        (dataset.x_test.to(device), dataset.y_test.to(device)), config, config.teacher_epochs,
        on_event=on_event, stop=stop, shuffle_seed=config.seed,
    )
    seconds = time.perf_counter() - started
    if not cancelled and cache is not None:
        cache.put(key, {"teacher": teacher.state_dict()}, {"history": history, "seconds": seconds, "config": config.to_dict()})
    return teacher, history, seconds, False, cancelled


def cached_teacher(config: RunConfig, dataset: Dataset, cache: TeacherCache) -> tuple[nn.Module, dict] | None:
    """The teacher ``config`` names and its cache metadata if it is already cached; None otherwise. Never trains
    or waits: for a page that only wants to show a teacher that exists."""
    entry = cache.get(config.teacher_key())
    if entry is None:
        return None
    teacher = seeded_model(config.teacher, dataset, config.seed)
    teacher.load_state_dict(entry["states"]["teacher"])
    return teacher, entry["meta"]


def run(
    config: RunConfig,
    on_event: EventCallback | None = None,
    stop: StopFlag | None = None,
    cache: TeacherCache | None = None,
    results: ResultCache | None = None,
) -> RunResult:
    """Teacher (cached), KD student and — if ``config.baseline`` — the scratch baseline, evaluated.

    Raises ConfigError for bad settings, DatasetUnavailable, or Diverged.
    A set ``stop`` ends the run between steps; the result then has ``status="cancelled"``.
    With ``results``, an identical finished run is loaded instead of trained (runs are deterministic).
    """
    tune()
    dataset = load_dataset(validate(config).dataset, config.data_dir)
    config = validate(config, train_size=len(dataset.y_train))
    device = resolve_device(config.device)
    cache = cache if cache is not None else TeacherCache()
    if results is not None:
        cached = _load_result(config, dataset, results, device, on_event)
        if cached is not None:
            return cached
    x_train, y_train = dataset.x_train.to(device), dataset.y_train.to(device)
    test = (dataset.x_test.to(device), dataset.y_test.to(device))
    num_classes = dataset.num_classes

    teacher, history, teacher_seconds, from_cache, cancelled = get_teacher(config, dataset, cache, device, on_event, stop)
    seconds = {"teacher": teacher_seconds, "student": 0.0, "baseline": 0.0}
    result = RunResult(config, "cancelled", None, None, None, list(history), seconds, from_cache, {"teacher": teacher})
    if cancelled:
        return result
    teacher_eval = evaluate(teacher, *test, num_classes)
    result.teacher = _report(teacher, teacher_eval)

    # The student's view of the training set, and the teacher's logits over it — computed once.
    keep = student_indices(dataset.y_train, config.student_fraction, config.omit_class, config.seed).to(device)
    x_student, y_student = x_train[keep], y_train[keep]
    teacher_logits = predict_logits(teacher, x_student)

    # The KD student and the baseline start from the very same weights and see batches in the same order.
    initial = seeded_model(config.student, dataset, config.seed + 1).to(device)
    phases = [("student", teacher_logits)] + ([("baseline", None)] if config.baseline else [])
    for phase, logits in phases:
        model = copy.deepcopy(initial)
        result.models[phase] = model
        started = time.perf_counter()
        phase_history, cancelled = fit(
            model, phase, x_student, y_student, test, config, config.epochs,
            teacher_logits=logits, on_event=on_event, stop=stop, shuffle_seed=config.seed + 1,
        )
        seconds[phase] = time.perf_counter() - started
        result.history += phase_history
        if cancelled:
            return result
        evaluation = evaluate(model, *test, num_classes)
        report = _report(model, evaluation)
        report["agreement"] = (evaluation.predictions == teacher_eval.predictions).float().mean().item()
        setattr(result, phase, report)
    result.status = "completed"
    if results is not None:
        states = {phase: model.state_dict() for phase, model in result.models.items()}
        results.put(config.run_key(), states, {"result": result.to_json()})
    return result


def _load_result(
    config: RunConfig, dataset: Dataset, results: ResultCache, device: torch.device, on_event: EventCallback | None
) -> RunResult | None:
    """A finished identical run from ``results``, its epoch history replayed as events; None if absent."""
    entry = results.get(config.run_key())
    if entry is None:
        return None
    saved = entry["meta"]["result"]
    models = {}
    for phase, state in entry["states"].items():
        models[phase] = build_model(getattr(config, "teacher" if phase == "teacher" else "student"),
                                    dataset.input_shape, dataset.num_classes)
        models[phase].load_state_dict(state)
        models[phase].to(device)
    replay_history(saved["history"], config, on_event)
    return RunResult(config, saved["status"], saved["teacher"], saved["student"], saved["baseline"], saved["history"],
                     saved["seconds"], True, models, from_results_cache=True)


def replay_history(history: list[dict], config: RunConfig, on_event: EventCallback | None) -> None:
    """A finished run's per-epoch history as epoch events (``steps=0``: replayed, not trained), so every
    consumer draws a cached run the way it draws a fresh one."""
    if on_event is None:
        return
    for row in history:
        epochs = config.teacher_epochs if row["phase"] == "teacher" else config.epochs
        on_event(ProgressEvent(row["phase"], "epoch", row["epoch"], epochs, 0, 0, row["loss"],
                               row["soft_loss"], row["hard_loss"], row["test_accuracy"]))
