"""A finished run looked at closely: softened probabilities, the KL of one image, where dark knowledge shows, the
confusion matrix, the accuracy per class.  What the dashboard's Probabilities, Draw and Look closer tabs show.

Softmax at a temperature is ``kd_core.methods.losses.soften`` everywhere (``softened``: on numpy arrays), and the
KL of one image (``kl_divergence``) is the KD loss's own KL, ``distillation_loss``, on a batch of that image, in
float64.  No Streamlit here; inputs and outputs are numpy arrays, models and kd_core records.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from kd_core.data.datasets import load_dataset
from kd_core.methods.dkd import decompose, nontarget_mass
from kd_core.methods.losses import check_temperature, distillation_loss, soften
from kd_core.train.loop import predict_logits

PARTS = ("teacher", "student", "baseline")
VISIBLE = 0.05  # a runner-up probability a class can see as a bar: "0.1 %, 0.0 %" is no dark knowledge to show
FEWEST = 20  # below this many such images, the ones whose runner-up is largest


# ---------------------------------------------------------------- softmax at T and the KL


def softened(logits: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(logits / T) over the last axis (``soften``), as numpy in the logits' own dtype."""
    return soften(torch.as_tensor(np.asarray(logits)), temperature).numpy()


def kl_divergence(teacher_logits: np.ndarray, student_logits: np.ndarray, temperature: float) -> float:
    """KL(teacher_T ‖ student_T) = Σ_c p_t(c) · (log p_t(c) − log p_s(c)), in nats, for one example, in float64.

    The KD loss's own KL (``distillation_loss``, whose soft part is T² times it), on a batch of this one example:
    computed from log-probabilities (``log_target=True``), so a class the teacher gives ~0 counts 0.
    """
    teacher = torch.as_tensor(np.asarray(teacher_logits), dtype=torch.float64).reshape(1, -1)
    student = torch.as_tensor(np.asarray(student_logits), dtype=torch.float64).reshape(1, -1)
    temperature = check_temperature(temperature)
    return float(distillation_loss(student, teacher, None, temperature, 1.0).soft) / temperature**2


def revealing(
    teacher_logits: np.ndarray, temperature: float, among: np.ndarray | None = None, least: float = VISIBLE
) -> np.ndarray:
    """Indices of the images (of ``among``, default all) whose teacher, at ``temperature``, gives its runner-up
    class at least ``least``: the images where dark knowledge shows.  A confident teacher is one-hot on most
    digits even at T = 4; where fewer than ``FEWEST`` images qualify, the ``FEWEST`` with the largest runner-up."""
    among = np.arange(len(teacher_logits)) if among is None else np.asarray(among)
    if len(among) == 0:
        return among
    probs = softened(np.asarray(teacher_logits, dtype=np.float64)[among], temperature)
    runner_up = np.sort(probs, axis=1)[:, -2]
    chosen = among[runner_up >= least]
    return chosen if len(chosen) >= min(FEWEST, len(among)) else among[np.argsort(runner_up)[::-1][:FEWEST]]


def decoupled_kl(
    teacher_logits: np.ndarray, student_logits: np.ndarray, label: int, temperature: float
) -> dict[str, float]:
    """DKD's split of one image's KL, in float64: ``kd`` = ``tckd`` + ``weight`` · ``nckd``, ``weight`` = 1 − p_t
    of the teacher (``kd_core.methods.dkd.decompose``, without T²)."""
    teacher = torch.as_tensor(np.asarray(teacher_logits), dtype=torch.float64)[None]
    student = torch.as_tensor(np.asarray(student_logits), dtype=torch.float64)[None]
    truth = torch.as_tensor([int(label)], dtype=torch.long)
    return {k: float(v[0]) for k, v in decompose(student, teacher, truth, temperature).items()}


def nontarget_weights(teacher_logits: np.ndarray, labels: np.ndarray, temperature: float) -> np.ndarray:
    """The teacher's 1 − p_t at T for every image, in float64: the weight KD gives NCKD (``dkd.nontarget_mass``)."""
    teacher = torch.as_tensor(np.asarray(teacher_logits), dtype=torch.float64)
    return nontarget_mass(teacher, torch.as_tensor(np.asarray(labels), dtype=torch.long), temperature).numpy()


# ---------------------------------------------------------------- models on images


@torch.no_grad()
def probabilities_of(models: dict[str, nn.Module], x: torch.Tensor, temperature: float) -> dict[str, np.ndarray]:
    """Each model's softened probabilities (float64) for the first input of ``x``, in eval mode on the model's
    device; each model left in the mode it was in."""
    out = {}
    for label, model in models.items():
        device = next(model.parameters()).device
        was = model.training
        model.eval()
        out[label] = soften(model(x.to(device)).cpu(), temperature)[0].double().numpy()
        model.train(was)
    return out


def predictions(models: dict[str, nn.Module], images: torch.Tensor) -> dict[str, np.ndarray]:
    """Each model's predicted class for every image (in eval mode, on the model's device)."""
    out = {}
    for part, model in models.items():
        device = next(model.parameters()).device
        with torch.inference_mode():
            out[part] = predict_logits(model, images.to(device)).argmax(dim=1).cpu().numpy()
    return out


def test_predictions(outcome) -> dict[str, np.ndarray]:
    """Teacher, KD student and baseline predictions over the test set of a served run (``kd_core.runs.served``'s
    ``DistillOutcome``): from its stored logits where it has them, else from its models (``predictions``)."""
    result = outcome.result
    found = {
        part: logits.argmax(axis=1)
        for part, logits in (("teacher", outcome.teacher_logits), ("student", outcome.student_logits))
        if logits is not None
    }
    missing = {part: model for part, model in result.models.items() if part not in found and part in PARTS}
    if missing:
        dataset = load_dataset(result.config.dataset, result.config.data_dir)
        found.update(predictions(missing, dataset.x_test))
    return found


test_predictions.__test__ = False  # not a pytest test, whatever imports it


# ---------------------------------------------------------------- class by class


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts (int64): row = the true class, column = the predicted class."""
    labels, predicted = np.asarray(labels, dtype=np.int64), np.asarray(predicted, dtype=np.int64)
    if labels.shape != predicted.shape:
        raise ValueError(f"labels and predictions differ in shape: {labels.shape} vs {predicted.shape}")
    flat = np.bincount(labels * num_classes + predicted, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)


@dataclass(frozen=True)
class Confusion:
    """The most frequent mistake of a confusion matrix: ``count`` images of ``true`` taken for ``predicted``."""

    true: int
    predicted: int
    count: int


def worst_confusion(matrix: np.ndarray) -> Confusion | None:
    """The largest off-diagonal cell (the first such, for a tie), or None when the model makes no mistake."""
    off = np.array(matrix, dtype=np.int64)
    np.fill_diagonal(off, 0)
    if off.max(initial=0) == 0:
        return None
    true, predicted = np.unravel_index(int(off.argmax()), off.shape)
    return Confusion(int(true), int(predicted), int(off[true, predicted]))


def mean_per_class(reports: list) -> list[float] | None:
    """The per-class accuracies (fractions) of several ``PhaseReport``s (one per seed), averaged class by class;
    None when any report is missing."""
    if not reports or any(r is None for r in reports):
        return None
    return [statistics.fmean(values) for values in zip(*(r.per_class_accuracy for r in reports))]


def per_class(results: list) -> dict[str, list[float]]:
    """Part -> accuracy per class, mean over the runs (``RunResult``s) given; parts a run lacks are left out."""
    out = {}
    for part in PARTS:
        values = mean_per_class([getattr(r, part) for r in results])
        if values is not None:
            out[part] = values
    return out


def most_helped_class(accuracies: dict[str, list[float]]) -> tuple[int, float] | None:
    """(class, KD student − scratch baseline) where the teacher's soft targets help most, from ``per_class``; None
    without both students."""
    if "student" not in accuracies or "baseline" not in accuracies:
        return None
    gains = np.subtract(accuracies["student"], accuracies["baseline"])
    best = int(gains.argmax())
    return best, float(gains[best])
