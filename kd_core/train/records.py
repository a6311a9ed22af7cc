"""The typed records a run produces: progress events, epoch rows, per-model reports and the run's result.

Every record that goes into a ``--json`` file has ``to_dict()``; the keys are the documented format.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable, Literal, Protocol

from torch import nn

from kd_core.config import RunConfig

Phase = Literal["teacher", "student", "baseline"]
EventKind = Literal["step", "epoch"]
Status = Literal["completed", "cancelled"]


class StopFlag(Protocol):
    def is_set(self) -> bool: ...


@dataclass(frozen=True)
class ProgressEvent:
    """Training steps reported (``kind="step"``), or the end of an epoch (``kind="epoch"``, with ``test_accuracy``).

    ``parts`` are the loss's named parts besides the total (the KD loss: ``soft`` and ``hard``; plain
    cross-entropy: none).  ``steps == 0`` marks an event replayed from a cache, not trained now.  ``at``: the
    trainer's ``time.monotonic()`` when it read the step back (None when replayed): differences between two
    events of one phase time its steps without the run's start-up (dashboard/jobs/progress.py's ETA).
    """

    phase: Phase
    kind: EventKind
    epoch: int  # 1-based
    epochs: int
    step: int  # steps done in this phase so far, 1-based
    steps: int  # steps this phase will take in all
    loss: float  # the step's total loss, or the epoch's mean
    parts: dict[str, float] = field(default_factory=dict)
    test_accuracy: float | None = None
    at: float | None = field(default=None, compare=False)

    @property
    def replayed(self) -> bool:
        return self.steps == 0


EventCallback = Callable[[ProgressEvent], None]

# Parts every history row names, null where a phase has no such part: the documented --json keys.
HISTORY_PARTS = ("soft", "hard")


@dataclass(frozen=True)
class EpochRecord:
    """One row of a run's history: a phase's mean losses over one epoch and its test accuracy after it; with
    ``track_fidelity``, a student's top-1 agreement with the teacher and mean KL(teacher ‖ student) at T = 1 on the
    test set (None otherwise, and then absent from ``to_dict``)."""

    phase: Phase
    epoch: int
    loss: float
    parts: dict[str, float]
    test_accuracy: float
    agreement: float | None = None
    teacher_kl: float | None = None

    def to_dict(self) -> dict:
        parts = {f"{name}_loss": self.parts.get(name) for name in HISTORY_PARTS}
        parts.update({f"{name}_loss": value for name, value in self.parts.items()})
        return {
            "phase": self.phase,
            "epoch": self.epoch,
            "loss": self.loss,
            **parts,
            "test_accuracy": self.test_accuracy,
            **({} if self.agreement is None else {"agreement": self.agreement}),
            **({} if self.teacher_kl is None else {"teacher_kl": self.teacher_kl}),
        }

    @classmethod
    def from_dict(cls, row: dict) -> "EpochRecord":
        fixed = ("phase", "epoch", "loss", "test_accuracy")
        parts = {
            k[: -len("_loss")]: v for k, v in row.items() if k.endswith("_loss") and k not in fixed and v is not None
        }
        return cls(
            row["phase"],
            row["epoch"],
            row["loss"],
            parts,
            row["test_accuracy"],
            row.get("agreement"),
            row.get("teacher_kl"),
        )

    def event(self, epochs: int) -> ProgressEvent:
        """This row as a replayed epoch event (``steps=0``)."""
        return ProgressEvent(
            self.phase, "epoch", self.epoch, epochs, 0, 0, self.loss, dict(self.parts), self.test_accuracy
        )


# At most this many steps per phase are stored with a cached teacher or result: enough for a chart as wide
# as a screen (figures.MAX_RAW_POINTS thins a live curve to about as many), small enough to keep with every run.
MAX_STORED_STEPS = 500


@dataclass(frozen=True)
class StepRecord:
    """One stored training step of a phase (``step``: 1-based within the phase), so a run served from a cache
    can replay its loss curve.  ``to_dict()`` is the ``--json`` row of ``"steps"``, keyed as history rows are."""

    phase: Phase
    epoch: int
    step: int
    loss: float
    parts: dict[str, float]

    def to_dict(self) -> dict:
        return {
            "phase": self.phase,
            "epoch": self.epoch,
            "step": self.step,
            "loss": self.loss,
            **{f"{name}_loss": value for name, value in self.parts.items()},
        }

    @classmethod
    def from_dict(cls, row: dict) -> "StepRecord":
        parts = {k[: -len("_loss")]: v for k, v in row.items() if k.endswith("_loss")}
        return cls(row["phase"], row["epoch"], row["step"], row["loss"], parts)

    def event(self, epochs: int) -> ProgressEvent:
        """This step as a replayed step event (``steps=0``), at its original step number."""
        return ProgressEvent(self.phase, "step", self.epoch, epochs, self.step, 0, self.loss, dict(self.parts))


def stored_stride(steps: int) -> int:
    """Keep every k-th step of a phase of ``steps`` steps so that at most MAX_STORED_STEPS remain.

    Every k-th step rather than means over buckets of k: the stored points are real steps, noisy as the live
    chart's faint raw curve is (it thins a long phase the same way), and the chart's smoothing weighs them by
    the steps between them (figures.smooth), so the bold curve of a replay follows the fresh one."""
    return max(1, -(-steps // MAX_STORED_STEPS))


class StepRecorder:
    """An event callback that keeps every ``stored_stride``-th trained step (steps 1, 1+k, 1+2k, …) of each
    phase as StepRecords, and passes every event on to ``on_event``."""

    def __init__(self, on_event: EventCallback | None = None):
        self.on_event = on_event
        self.steps: list[StepRecord] = []

    def __call__(self, event: ProgressEvent) -> None:
        if event.kind == "step" and event.steps and (event.step - 1) % stored_stride(event.steps) == 0:
            self.steps.append(StepRecord(event.phase, event.epoch, event.step, event.loss, dict(event.parts)))
        if self.on_event is not None:
            self.on_event(event)


@dataclass(frozen=True)
class PhaseReport:
    """A trained model on the test set: accuracy overall and per class (fractions), its size, and — for a
    student — its fidelity to the teacher: how often it predicts what the teacher predicts (top-1 agreement) and
    the mean KL(teacher ‖ student) at T = 1 (Stanton et al. 2021: a student can be accurate and still unfaithful)."""

    accuracy: float
    per_class_accuracy: list[float]
    params: int
    size_bytes: int
    agreement: float | None = None
    teacher_kl: float | None = None  # None for the teacher itself, and in results stored before it was recorded

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        for name in ("agreement", "teacher_kl"):
            if out[name] is None:
                del out[name]
        return out

    @classmethod
    def from_dict(cls, data: dict | None) -> "PhaseReport | None":
        return None if data is None else cls(**data)


@dataclass(frozen=True)
class OmittedClassReport:
    """How the students do on the class they never saw; ``bias_corrected`` is the KD student after the paper's
    bias fix, its bias chosen on the validation split (``holdout``) — None without one."""

    cls: int
    student_accuracy: float
    baseline_accuracy: float | None
    bias_corrected: dict | None  # bias.BiasCorrection.to_dict()

    def to_dict(self) -> dict:
        return {
            "class": self.cls,
            "student_accuracy": self.student_accuracy,
            "baseline_accuracy": self.baseline_accuracy,
            "bias_corrected": self.bias_corrected,
        }


@dataclass(frozen=True)
class KeptClassesReport:
    """Students that saw only ``classes``, on the test digits of all the others (``*_unseen_accuracy``);
    ``bias_corrected`` is the KD student with those others' logits raised by the bias chosen on the validation
    split (``holdout``) — None without one."""

    classes: tuple[int, ...]
    student_unseen_accuracy: float
    baseline_unseen_accuracy: float | None
    bias_corrected: dict | None  # bias.BiasCorrection.to_dict(): its class_accuracy is on the unseen classes

    def to_dict(self) -> dict:
        return {
            "classes": list(self.classes),
            "student_unseen_accuracy": self.student_unseen_accuracy,
            "baseline_unseen_accuracy": self.baseline_unseen_accuracy,
            "bias_corrected": self.bias_corrected,
        }

    @classmethod
    def from_dict(cls, data: dict | None) -> "KeptClassesReport | None":
        return (
            None
            if data is None
            else cls(
                tuple(data["classes"]),
                data["student_unseen_accuracy"],
                data["baseline_unseen_accuracy"],
                data["bias_corrected"],
            )
        )


@dataclass
class TeacherLookup:
    """The trained teacher of a config: from the cache, or trained just now."""

    model: nn.Module
    history: list[EpochRecord]
    seconds: float  # the original training time, also when loaded from the cache
    from_cache: bool
    steps: list[StepRecord] = field(default_factory=list)  # stored steps; empty for a cache entry stored without them


@dataclass
class RunResult:
    """What a run produced; ``to_json()`` is the documented ``--json`` format."""

    config: RunConfig
    status: Status
    teacher: PhaseReport | None = None
    student: PhaseReport | None = None
    baseline: PhaseReport | None = None
    history: list[EpochRecord] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    teacher_from_cache: bool = False
    models: dict[str, nn.Module] = field(default_factory=dict, repr=False)
    from_results_cache: bool = False  # the whole run was served from a ResultCache
    omitted_class: OmittedClassReport | None = None  # with config.omit_class
    kept_classes: KeptClassesReport | None = None  # with config.keep_classes
    steps: list[StepRecord] = field(default_factory=list)  # every phase's stored steps (StepRecorder)
    baseline_from_cache: bool = False  # the scratch baseline was trained by a run that differs only in distillation

    @property
    def kd_minus_baseline(self) -> float | None:
        """The KD student's accuracy minus the baseline's (a fraction), when both finished."""
        if self.student is None or self.baseline is None:
            return None
        return self.student.accuracy - self.baseline.accuracy

    def to_json(self) -> dict:
        report = lambda r: None if r is None else r.to_dict()  # noqa: E731
        return {
            "config": self.config.to_dict(),
            "status": self.status,
            "teacher": report(self.teacher),
            "student": report(self.student),
            "baseline": report(self.baseline),
            "history": [row.to_dict() for row in self.history],
            "seconds": self.seconds,
            "teacher_from_cache": self.teacher_from_cache,
            "baseline_from_cache": self.baseline_from_cache,
            **({} if self.omitted_class is None else {"omitted_class": self.omitted_class.to_dict()}),
            **({} if self.kept_classes is None else {"kept_classes": self.kept_classes.to_dict()}),
            "steps": [row.to_dict() for row in self.steps],
        }

    @classmethod
    def from_json(cls, data: dict, config: RunConfig) -> "RunResult":
        omitted = data.get("omitted_class")
        return cls(
            config,
            data["status"],
            PhaseReport.from_dict(data["teacher"]),
            PhaseReport.from_dict(data["student"]),
            PhaseReport.from_dict(data["baseline"]),
            [EpochRecord.from_dict(r) for r in data["history"]],
            data["seconds"],
            data["teacher_from_cache"],
            omitted_class=None
            if omitted is None
            else OmittedClassReport(
                omitted["class"], omitted["student_accuracy"], omitted["baseline_accuracy"], omitted["bias_corrected"]
            ),
            steps=[StepRecord.from_dict(r) for r in data.get("steps", [])],  # absent from entries stored before it
            baseline_from_cache=data.get("baseline_from_cache", False),  # likewise
            kept_classes=KeptClassesReport.from_dict(data.get("kept_classes")),
        )
