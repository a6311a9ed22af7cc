"""The "Look closer" maths and figures: per-class accuracy, confusion matrices, the KL divergence of one image.

Pure functions of plain data (numpy arrays, lists, kd_core records): no Streamlit here, so each is unit-tested
and the tab (dashboard/tabs/look_closer.py) only draws what they return.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import torch
from torch import nn

from dashboard.figures.plots import COLORS, LABELS
from kd_core import predict_logits
from kd_core.methods.losses import check_temperature

PARTS = ("teacher", "student", "baseline")


# ---------------------------------------------------------------- maths


def log_softmax(logits: np.ndarray, temperature: float) -> np.ndarray:
    """log softmax(logits / T) over the last axis, in float64: exact where a probability underflows to 0."""
    z = np.asarray(logits, dtype=np.float64) / check_temperature(temperature)
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def kl_divergence(teacher_logits: np.ndarray, student_logits: np.ndarray, temperature: float) -> float:
    """KL(teacher_T ‖ student_T) = Σ_c p_t(c) · (log p_t(c) − log p_s(c)), in nats, for one example.

    The very quantity ``kd_core.methods.losses.distillation_loss`` averages over a batch (its soft part is T² times it),
    computed from log-probabilities as kd_core does (``log_target=True``), so a class the teacher gives ~0 counts 0.
    """
    log_t, log_s = log_softmax(teacher_logits, temperature), log_softmax(student_logits, temperature)
    return float(np.sum(np.exp(log_t) * (log_t - log_s)))


VISIBLE = 0.05  # a runner-up probability a class can see as a bar: "0.1 %, 0.0 %" is no dark knowledge to show
FEWEST = 20  # below this many such images, the ones whose runner-up is largest


def revealing(
    teacher_logits: np.ndarray, temperature: float, among: np.ndarray | None = None, least: float = VISIBLE
) -> np.ndarray:
    """Indices of the images (of ``among``, default all) whose teacher, at ``temperature``, gives its runner-up
    class at least ``least``: the images where dark knowledge shows.  A confident teacher is one-hot on most
    digits even at T = 4; where fewer than ``FEWEST`` images qualify, the ``FEWEST`` with the largest runner-up."""
    among = np.arange(len(teacher_logits)) if among is None else np.asarray(among)
    if len(among) == 0:
        return among
    probs = np.exp(log_softmax(np.asarray(teacher_logits)[among], temperature))
    runner_up = np.sort(probs, axis=1)[:, -2]
    chosen = among[runner_up >= least]
    return chosen if len(chosen) >= min(FEWEST, len(among)) else among[np.argsort(runner_up)[::-1][:FEWEST]]


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


def predictions(models: dict[str, nn.Module], images: torch.Tensor) -> dict[str, np.ndarray]:
    """Each model's predicted class for every image (in eval mode, on the model's device)."""
    out = {}
    for part, model in models.items():
        device = next(model.parameters()).device
        with torch.inference_mode():
            out[part] = predict_logits(model, images.to(device)).argmax(dim=1).cpu().numpy()
    return out


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


# ---------------------------------------------------------------- figures


def per_class_figure(
    accuracies: dict[str, list[float]], class_names: list[str], hidden: int | None = None, seeds: int = 1
) -> go.Figure:
    """Grouped bars: per class, the test accuracy of the teacher, the KD student and the scratch baseline."""
    figure = go.Figure()
    for part, values in accuracies.items():
        figure.add_bar(
            x=class_names,
            y=[100 * v for v in values],
            name=LABELS[part],
            marker_color=COLORS[part],
            hovertemplate=f"{LABELS[part]}<br>class %{{x}}: %{{y:.1f}} %<extra></extra>",
        )
    over = "" if seeds == 1 else f" (mean over {seeds} seeds)"
    figure.update_layout(
        title=f"Test accuracy per class{over}",
        barmode="group",
        height=330,
        bargap=0.25,
        margin=dict(l=10, r=10, t=60, b=10),
        legend=dict(orientation="h", y=1.02, x=1, xanchor="right", yanchor="bottom"),
    )
    figure.update_yaxes(title="correct (%)", range=[0, 105])
    figure.update_xaxes(title="true class", type="category")
    if hidden is not None:
        figure.add_annotation(
            x=class_names[hidden],
            y=103,
            text="hidden from the students",
            showarrow=False,
            font=dict(size=11),
            yanchor="bottom",
        )
    return figure


def confusion_figure(matrix: np.ndarray, class_names: list[str], title: str) -> go.Figure:
    """Heatmap of counts, true class down, predicted class across.  Colour is each row's share, so a class with
    few test images shows its mistakes as clearly as a big one; the numbers are the counts."""
    counts = np.asarray(matrix)
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros(counts.shape, dtype=float), where=totals > 0)
    figure = go.Figure(
        go.Heatmap(
            z=shares.tolist(),
            x=class_names,
            y=class_names,
            text=counts.tolist(),  # lists: plain JSON for readers of the spec
            texttemplate="%{text}",
            colorscale="Blues",
            zmin=0,
            zmax=1,
            showscale=False,
            xgap=1,
            ygap=1,
            hovertemplate="true %{y}, predicted %{x}: %{text} images<extra></extra>",
        )
    )
    figure.update_layout(title=title, height=420, margin=dict(l=10, r=10, t=50, b=10))
    # Square cells; "domain" shrinks the plot area itself, so the axis labels stay next to the cells.
    figure.update_xaxes(title="predicted class", type="category", side="bottom", constrain="domain")
    figure.update_yaxes(title="true class", type="category", autorange="reversed", scaleanchor="x", constrain="domain")
    return figure
