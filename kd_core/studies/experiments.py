"""Hinton's experiment 3 and the "dark knowledge" views, on top of the pipeline.

From "Distilling the Knowledge in a Neural Network" (Hinton, Vinyals & Dean, 2015):

* **A class the student never sees** — ``omitted_class(config, 3)``: a run whose students never see one class,
  with the test logits for the paper's post-hoc bias correction (kd_core/runs/bias.py) to be explored.
* **Dark knowledge** — ``dark_knowledge_matrix``: the teacher's mean softened distribution per true class;
  ``softened_distributions`` for one input across temperatures.

Experiments 1 and 2 (the temperature and λ sweep, little data) are sweeps: ``kd_core.studies.sweeps``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from kd_core.config import RunConfig
from kd_core.data.datasets import load_dataset
from kd_core.data.spec import Dataset
from kd_core.methods.losses import check_temperature, soften
from kd_core.runs.bias import BiasPoint, best_bias, bias_correction, bias_curve
from kd_core.runs.cache import TeacherCache
from kd_core.runs.pipeline import run
from kd_core.runs.setup import RunSetup
from kd_core.train.loop import predict_logits
from kd_core.train.records import EventCallback, RunResult, StopFlag

__all__ = [
    "BiasPoint",
    "OmittedClassResult",
    "best_bias",
    "bias_correction",
    "bias_curve",
    "dark_knowledge_matrix",
    "omitted_class",
    "softened_distributions",
    "teacher_logits",
]


@dataclass
class OmittedClassResult:
    """A run whose students never saw ``omit_class``, with the test logits the bias correction needs (CPU)."""

    result: RunResult
    omit_class: int
    labels: torch.Tensor | None = field(default=None, repr=False)  # test labels
    student_logits: torch.Tensor | None = field(default=None, repr=False)
    baseline_logits: torch.Tensor | None = field(default=None, repr=False)

    @property
    def config(self) -> RunConfig:
        return self.result.config

    @property
    def status(self) -> str:
        return self.result.status

    def class_accuracy(self, phase: str) -> float | None:
        """The accuracy of ``phase`` ("teacher", "student", "baseline") on the omitted class; None if not trained."""
        report = getattr(self.result, phase)
        return None if report is None else report.per_class_accuracy[self.omit_class]


def omitted_class(
    base_config: RunConfig,
    omit_class: int,
    on_event: EventCallback | None = None,
    stop: StopFlag | None = None,
    cache: TeacherCache | None = None,
) -> OmittedClassResult:
    """A run with ``omit_class`` left out of the students' data (the teacher still sees every class).

    The scratch baseline cannot predict a class it never saw (0 % on it); the KD student learns
    about it only through the teacher's soft targets on the other classes' images.
    """
    result = run(base_config.replace(omit_class=omit_class), on_event=on_event, stop=stop, cache=cache)
    out = OmittedClassResult(result, result.config.omit_class)
    if result.status == "completed":
        dataset = load_dataset(result.config.dataset, result.config.data_dir)
        out.labels = dataset.y_test.clone()
        x_test = dataset.x_test.to(result.config.device)
        out.student_logits = predict_logits(result.models["student"], x_test).cpu()
        if "baseline" in result.models:
            out.baseline_logits = predict_logits(result.models["baseline"], x_test).cpu()
    return out


# ---- Dark knowledge --------------------------------------------------------------------------------


def dark_knowledge_matrix(
    teacher_logits: torch.Tensor, labels: torch.Tensor, temperature: float, num_classes: int = 10
) -> np.ndarray:
    """(num_classes × num_classes): row i is the mean of softmax(logits / T) over the examples of true class i.

    Rows sum to 1; a row with no examples is NaN. The off-diagonal mass is the "dark knowledge":
    which classes look alike to the teacher.
    """
    probs = soften(torch.as_tensor(teacher_logits, dtype=torch.float32).cpu(), temperature)
    labels = torch.as_tensor(labels).cpu()
    matrix = np.full((num_classes, num_classes), np.nan)
    for cls in range(num_classes):
        mask = labels == cls
        if mask.any():
            matrix[cls] = probs[mask].mean(dim=0).double().numpy()
    return matrix


def softened_distributions(logits: torch.Tensor, temperatures: Sequence[float]) -> np.ndarray:
    """(len(temperatures) × classes): softmax(logits / T) of one input's logits at every T."""
    logits = torch.as_tensor(logits, dtype=torch.float32).cpu().flatten()
    return np.stack([soften(logits, check_temperature(t)).double().numpy() for t in temperatures])


def teacher_logits(
    config: RunConfig,
    split: str = "train",
    on_event: EventCallback | None = None,
    stop: StopFlag | None = None,
    cache: TeacherCache | None = None,
    limit: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor, Dataset]:
    """The (cached) teacher's logits over the ``split`` set ("train" or "test"; its first ``limit`` examples if
    given), with their labels and the dataset.  Raises Cancelled if stopped while the teacher trains."""
    setup = RunSetup(config)
    setup.teacher(cache, on_event, stop)
    labels = setup.dataset.y_train if split == "train" else setup.dataset.y_test
    return setup.teacher_logits(split)[:limit], labels[:limit].clone(), setup.dataset
