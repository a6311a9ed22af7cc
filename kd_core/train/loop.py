"""The training loop, evaluation and inference: one model at a time, on tensors already on their device.

    fit(model, loss, TrainingData(x, y, test, teacher_logits), FitOptions(phase, config, epochs, ...)) -> history

Written so that a GPU never waits on the host: a step's loss parts stay on the device, and the host reads
them back (one transfer) every ``REPORT_EVERY`` steps or ``REPORT_SECONDS``, and once at each epoch's end
together with the test accuracy.  The divergence check and the progress events happen at those read-backs, for
every step read, so they still name the exact step.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from kd_core.config import RunConfig
from kd_core.data.spec import Dataset
from kd_core.methods.losses import Loss
from kd_core.models.architectures import build_model
from kd_core.train.fastpaths import inference_layout, inference_weights, training_layout, tune
from kd_core.train.records import EpochRecord, EventCallback, Phase, ProgressEvent, StopFlag

REPORT_EVERY = 10  # steps between read-backs of the loss (each one is a CPU-GPU sync point)
REPORT_SECONDS = 0.2  # ...or sooner, when steps are slow, so live charts keep moving

# A loss this many times its first value (or 1, whichever is larger) counts as diverged: with a too-large
# learning rate, ReLU nets often blow up to 1e5..1e8 and then die (finite loss, 10 % accuracy) rather than
# reach NaN, and a user deserves the same clear message for both.
DIVERGENCE_FACTOR = 1000.0

_INIT_LOCK = threading.Lock()  # seeding torch's global RNG and building a model must not interleave across threads


class Diverged(RuntimeError):
    """The loss became NaN, infinite, or exploded; training stopped."""

    def __init__(self, phase: str, epoch: int, step: int, lr: float, loss: float):
        self.phase, self.epoch, self.step, self.lr, self.loss = phase, epoch, step, lr, loss
        what = "became non-finite" if not math.isfinite(loss) else f"exploded to {loss:.3g}"
        super().__init__(
            f"training diverged: the {phase} loss {what} at epoch {epoch}, step {step}; "
            f"try a lower learning rate than {lr:g}"
        )

    def __reduce__(self):  # rebuilt from its fields when it travels back from a worker process
        return Diverged, (self.phase, self.epoch, self.step, self.lr, self.loss)


class Cancelled(Exception):
    """The stop flag was set; raised between two steps.  ``history``: the epochs the phase finished."""

    def __init__(self, phase: str, history: list[EpochRecord]):
        super().__init__(f"{phase} stopped")
        self.phase, self.history = phase, history

    def __reduce__(self):
        return Cancelled, (self.phase, self.history)


@dataclass
class Evaluation:
    accuracy: float
    per_class_accuracy: list[float]
    predictions: torch.Tensor = field(repr=False)  # on the model's device
    agreement: float | None = None  # with the reference predictions, when given
    teacher_kl: float | None = None  # mean KL(reference ‖ model) at T = 1, when the reference logits are given


def seeded_model(name: str, dataset: Dataset, seed: int, width: int | None = None) -> nn.Module:
    """``name`` built with weights drawn from ``seed``: the same seed, the same initial weights."""
    with _INIT_LOCK:
        torch.manual_seed(seed)
        return build_model(name, dataset.input_shape, dataset.num_classes, width)


@torch.no_grad()
def predict_logits(model: nn.Module, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """The model's logits for every row of ``x``, in eval mode.

    256 rows at a time keep the activations in cache, and every row's logits are the same whatever the
    batch size.  The seed's conv nets run in channels-last order here (``fastpaths.inference_layout``).
    """
    was_training = model.training
    model.eval()
    with inference_weights(model):  # a two-conv CNN runs channels-last on a CPU (kd_core.train.fastpaths)
        out = torch.cat([model(inference_layout(model, x[i : i + batch_size])) for i in range(0, len(x), batch_size)])
    model.train(was_training)
    return out


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Top-1 accuracy as a 0-d tensor on the device (no sync)."""
    return (predict_logits(model, x).argmax(dim=1) == y).float().mean()


def teacher_student_kl(teacher_logits: torch.Tensor, student_logits: torch.Tensor) -> torch.Tensor:
    """Mean over rows of KL(p_teacher ‖ p_student) at T = 1, in nats, as a 0-d tensor: how far the student's whole
    distribution is from the teacher's (Stanton et al. 2021, "Does knowledge distillation really work?", measure
    fidelity by it and by top-1 agreement).  0 when they match, whatever the labels."""
    log_p = torch.log_softmax(teacher_logits.float(), dim=1)
    log_q = torch.log_softmax(student_logits.float(), dim=1)
    return (log_p.exp() * (log_p - log_q)).sum(dim=1).mean()


def evaluate(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    num_classes: int,
    reference: torch.Tensor | None = None,
    reference_logits: torch.Tensor | None = None,
) -> Evaluation:
    """Top-1 accuracy overall and per class (fractions), agreement with ``reference`` predictions and the KL from
    the ``reference_logits`` (the teacher's on ``x``) to the model's; one read-back."""
    return score_logits(predict_logits(model, x), y, num_classes, reference, reference_logits)


def score_logits(
    logits: torch.Tensor,
    y: torch.Tensor,
    num_classes: int,
    reference: torch.Tensor | None = None,
    reference_logits: torch.Tensor | None = None,
) -> Evaluation:
    """``evaluate`` of a model's logits already computed over the examples."""
    predictions = logits.argmax(dim=1)
    correct = predictions == y
    counts = torch.bincount(2 * y + correct, minlength=2 * num_classes).view(num_classes, 2)  # [wrong, right] per class
    per_class = counts[:, 1].float() / counts.sum(dim=1).float()  # 0/0 = NaN for a class with no examples
    values = [correct.float().mean().view(1), per_class]
    if reference is not None:
        values.append((predictions == reference).float().mean().view(1))
    if reference_logits is not None:
        values.append(teacher_student_kl(reference_logits, logits).view(1))
    numbers = torch.cat(values).tolist()  # a CPU-GPU sync point
    extra = iter(numbers[1 + num_classes :])
    agreement = next(extra) if reference is not None else None
    teacher_kl = next(extra) if reference_logits is not None else None
    return Evaluation(numbers[0], numbers[1 : 1 + num_classes], predictions, agreement, teacher_kl)


def make_optimizer(model: nn.Module, config: RunConfig, extra: list[nn.Parameter] = ()) -> torch.optim.Optimizer:
    """``extra``: trained along with the model (a FitNets regressor), after its parameters."""
    parameters = [*model.parameters(), *extra]
    # foreach: one kernel per operation over all parameters instead of one per parameter — the same numbers.
    if config.optimizer in ("sgd", "nesterov"):
        return torch.optim.SGD(
            parameters, lr=config.lr, momentum=0.9, nesterov=config.optimizer == "nesterov", foreach=True
        )
    return torch.optim.Adam(parameters, lr=config.lr, foreach=True)


def make_schedule(optimizer: torch.optim.Optimizer, config: RunConfig, total_steps: int):
    """The learning-rate schedule over ``total_steps`` optimizer steps, or None for a constant rate."""
    if config.schedule == "cosine":  # step t of T runs at lr · ½(1 + cos(π t / T)): lr at the first, → 0 at the last
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: 0.5 * (1 + math.cos(math.pi * t / total_steps)))
    if config.schedule == "onecycle":  # lr/25 → lr over the first 30 % of the steps, then down to lr/25e4
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=total_steps)
    return None


def jittered(x: torch.Tensor, pixels: int, generator: torch.Generator) -> torch.Tensor:
    """Each image of the batch ``x`` (N, C, H, W) shifted by its own random whole-pixel offset in
    [−pixels, pixels]² (the paper's jitter); the uncovered border repeats the edge (MNIST's is background)."""
    n, _, height, width = x.shape
    offsets = torch.randint(0, 2 * pixels + 1, (2, n, 1), generator=generator).to(x.device)
    padded = torch.nn.functional.pad(x, (pixels,) * 4, mode="replicate")
    rows = (torch.arange(height, device=x.device) + offsets[0]).view(n, 1, height, 1)
    cols = (torch.arange(width, device=x.device) + offsets[1]).view(n, 1, 1, width)
    return padded[
        torch.arange(n, device=x.device).view(n, 1, 1, 1),
        torch.arange(x.shape[1], device=x.device).view(1, -1, 1, 1),
        rows,
        cols,
    ]


class _StepLog:
    """Loss parts of the steps not yet read back, and the epoch's running sums (host side, in float64)."""

    def __init__(self, phase: Phase, epochs: int, total_steps: int, lr: float, on_event: EventCallback | None):
        self.phase, self.epochs, self.total_steps, self.lr, self.on_event = phase, epochs, total_steps, lr, on_event
        self.pending: list[tuple[int, int, int, torch.Tensor]] = []  # (epoch, step, batch size, stacked parts)
        self.names: tuple[str, ...] = ()
        self.limit: float | None = None
        self.sums: dict[str, float] = {}
        self.last_read = time.monotonic()

    def add(self, epoch: int, step: int, batch_size: int, parts: dict[str, torch.Tensor]) -> None:
        self.names = ("total", *(name for name in parts if name != "total"))
        self.pending.append((epoch, step, batch_size, torch.stack([parts[name].detach() for name in self.names])))
        if len(self.pending) >= REPORT_EVERY or time.monotonic() - self.last_read >= REPORT_SECONDS:
            self.read()

    def read(self, extra: torch.Tensor | None = None) -> list[float] | None:
        """Read the pending steps back (and ``extra``, a 1-d tensor, in the same transfer): check, sum, report;
        returns ``extra``'s values."""
        if not self.pending and extra is None:
            return None
        tensors = [values for *_, values in self.pending] + ([extra.float()] if extra is not None else [])
        numbers = torch.cat(tensors).tolist()  # a CPU-GPU sync point
        now = time.monotonic()  # when these steps were read back: their events' ``at``, for the page's ETA
        width = len(self.names)
        for i, (epoch, step, batch_size, _) in enumerate(self.pending):
            values = numbers[i * width : (i + 1) * width]
            if self.limit is None:  # the first step sets the scale
                self.limit = DIVERGENCE_FACTOR * max(abs(values[0]), 1.0) if math.isfinite(values[0]) else 0.0
            if not all(abs(v) <= self.limit for v in values):  # NaN fails this test too
                steps_per_epoch = self.total_steps // self.epochs
                raise Diverged(self.phase, epoch, step - (epoch - 1) * steps_per_epoch, self.lr, values[0])
            for name, value in zip(self.names, values):
                self.sums[name] = self.sums.get(name, 0.0) + value * batch_size
            if self.on_event is not None:
                parts = dict(zip(self.names[1:], values[1:]))
                self.on_event(
                    ProgressEvent(
                        self.phase, "step", epoch, self.epochs, step, self.total_steps, values[0], parts, at=now
                    )
                )
        self.pending.clear()
        self.last_read = time.monotonic()
        return numbers[len(numbers) - len(extra) :] if extra is not None else None


@dataclass(frozen=True)
class FitOptions:
    """How one phase trains: the settings it reads from ``config`` (optimizer, lr, schedule, batch size, T and λ),
    for how many epochs, and the seeds of its randomness."""

    phase: Phase
    config: RunConfig
    epochs: int
    shuffle_seed: int = 0  # the batch order; the jitter draws from its own stream, seeded shuffle_seed + 1
    jitter: int = 0  # shift each training image by up to that many pixels, drawn anew every step (``jittered``)


@dataclass(frozen=True)
class TrainingData:
    """The tensors a phase trains on, on the model's device: the examples, the test set it is scored on after
    each epoch, and the teacher's logits over the examples where the loss distils."""

    x: torch.Tensor
    y: torch.Tensor
    test: tuple[torch.Tensor, torch.Tensor]
    teacher_logits: torch.Tensor | None = None
    # The teacher's logits over the test set, to record agreement and KL with it after each epoch (a forward pass
    # over the test set per epoch, besides the accuracy's); None: accuracy only.
    test_teacher_logits: torch.Tensor | None = None


Forward = Callable[[torch.Tensor], torch.Tensor]  # the model's forward in its training layout


class _Trainer:
    """One phase's training under way: its optimizer and schedule, its random streams, the step log and the
    history of the epochs done."""

    def __init__(
        self, model: nn.Module, loss: Loss, data: TrainingData, options: FitOptions, on_event: EventCallback | None
    ):
        self.model, self.loss, self.data, self.options, self.on_event = model, loss, data, options, on_event
        config = options.config
        # A registry method's loss (kd_core.methods.registry.MethodLoss) is told each step's epoch (warm-up) and rows
        # (the teacher's features), and may bring parameters of its own (a regressor); Hinton's plain losses need
        # neither.
        self.on_step = getattr(loss, "on_step", None)
        extra = list(getattr(loss, "trainable", ()))
        self.optimizer = make_optimizer(model, config, extra)
        self.parameters = list(model.parameters()) + extra
        self.shuffle = torch.Generator().manual_seed(options.shuffle_seed)
        # Its own stream, so the batch order is the same with jitter as without.
        self.shifts = torch.Generator().manual_seed(options.shuffle_seed + 1)
        total_steps = options.epochs * -(-len(data.x) // config.batch_size)
        self.log = _StepLog(options.phase, options.epochs, total_steps, config.lr, on_event)
        self.schedule = make_schedule(self.optimizer, config, total_steps)
        self.step, self.history = 0, []

    def epoch(self, forward: Forward, epoch: int, stop: StopFlag | None) -> None:
        """One pass over the examples in a fresh random order, then the epoch's record; Cancelled between two
        steps once ``stop`` is set."""
        x, batch_size = self.data.x, self.options.config.batch_size
        order = torch.randperm(len(x), generator=self.shuffle).to(x.device)
        self.log.sums = {}
        for start in range(0, len(x), batch_size):
            if stop is not None and stop.is_set():
                self.log.read()
                raise Cancelled(self.options.phase, self.history)
            self.train_step(forward, epoch, order[start : start + batch_size])
        self.end_epoch(epoch)

    def train_step(self, forward: Forward, epoch: int, batch: torch.Tensor) -> None:
        """One optimizer step on the rows ``batch``; its loss parts go to the step log, still on the device."""
        data, config = self.data, self.options.config
        # index_select copies whole rows, faster than x[batch]'s general gather; the same values.
        labels = data.y.index_select(0, batch)
        inputs = data.x.index_select(0, batch)
        if self.options.jitter:
            inputs = jittered(inputs, self.options.jitter, self.shifts)
        logits = forward(inputs)
        targets = None if data.teacher_logits is None else data.teacher_logits.index_select(0, batch)
        if self.on_step is not None:
            self.on_step(epoch, batch)
        parts = self.loss(logits, targets, labels, config.temperature, config.lam)
        for parameter in self.parameters:  # optimizer.zero_grad(set_to_none=True), without its per-call overhead
            parameter.grad = None
        parts["total"].backward()
        self.optimizer.step()
        if self.schedule is not None:
            self.schedule.step()
        self.step += 1
        self.log.add(epoch, self.step, len(batch), parts)

    def end_epoch(self, epoch: int) -> None:
        """The epoch's mean losses and test accuracy (read back with its last steps), recorded and reported; with
        the teacher's test logits, also agreement and KL with the teacher."""
        x_test, y_test = self.data.test
        reference = self.data.test_teacher_logits
        if reference is None:
            test_accuracy, fidelity = self.log.read(extra=_accuracy(self.model, x_test, y_test).view(1))[0], {}
        else:
            logits = predict_logits(self.model, x_test)
            scores = torch.stack(
                [
                    (logits.argmax(dim=1) == y_test).float().mean(),
                    (logits.argmax(dim=1) == reference.argmax(dim=1)).float().mean(),
                    teacher_student_kl(reference, logits),
                ]
            )
            test_accuracy, agreement, teacher_kl = self.log.read(extra=scores)
            fidelity = {"agreement": agreement, "teacher_kl": teacher_kl}
        self.model.train()
        means = {name: total / len(self.data.x) for name, total in self.log.sums.items()}
        record = EpochRecord(self.options.phase, epoch, means.pop("total"), means, test_accuracy, **fidelity)
        self.history.append(record)
        if self.on_event is not None:
            self.on_event(
                ProgressEvent(
                    self.options.phase,
                    "epoch",
                    epoch,
                    self.options.epochs,
                    self.step,
                    self.log.total_steps,
                    record.loss,
                    means,
                    test_accuracy,
                    at=self.log.last_read,
                )
            )


def fit(
    model: nn.Module,
    loss: Loss,
    data: TrainingData,
    options: FitOptions,
    *,
    on_event: EventCallback | None = None,
    stop: StopFlag | None = None,
) -> list[EpochRecord]:
    """Train ``model`` in place on ``loss`` (the parts it returns are summed into the history); returns one
    record per epoch.  Raises Cancelled when ``stop`` is set, Diverged when the loss explodes."""
    tune()  # process-wide allocator settings (kd_core.train.fastpaths): faster, the same numbers
    trainer = _Trainer(model, loss, data, options, on_event)
    model.train()
    with training_layout(model) as forward:  # a two-conv CNN trains channels-last on a CPU (kd_core.train.fastpaths)
        for epoch in range(1, options.epochs + 1):
            trainer.epoch(forward, epoch, stop)
    return trainer.history
