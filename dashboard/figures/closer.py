"""The per-class figures: a run's test accuracy class by class (the Look closer and Unseen class tabs share it),
and a confusion matrix.

Pure functions of plain data (numpy arrays, lists) returning a ``go.Figure``: no Streamlit, no torch.  The numbers
they draw (per-class means, confusion counts) are kd_core/studies/inspection.py's.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from dashboard.figures.experiments import HIGHLIGHT
from dashboard.figures.plots import COLORS, LABELS, LEGEND_BELOW

PARTS = ("teacher", "student", "baseline")


def per_class_figure(
    accuracies: dict[str, Sequence[float] | None],
    class_names: Sequence,
    hidden: int | None = None,
    seeds: int = 1,
) -> go.Figure:
    """Grouped bars: per class, the test accuracy (fractions, drawn in %) of the teacher, the KD student and the
    scratch baseline (a part missing or None is left out), the mean over ``seeds`` seeds.  The class ``hidden``
    from the students, if any, is shaded and its bars carry their value."""
    classes = [str(c) for c in class_names]
    figure = go.Figure()
    for part in PARTS:
        values = accuracies.get(part)
        if values is None:
            continue
        percent = [100 * v for v in values]
        figure.add_bar(
            x=classes,
            y=percent,
            name=LABELS[part],
            marker_color=COLORS[part],
            text=None if hidden is None else [f"{p:.0f}" if i == hidden else "" for i, p in enumerate(percent)],
            textposition="outside",
            hovertemplate=f"{LABELS[part]}<br>class %{{x}}: %{{y:.1f}} %<extra></extra>",
        )
    over = "" if seeds == 1 else f" (mean over {seeds} seeds)"
    figure.update_layout(
        title=f"Test accuracy per class{over}",
        barmode="group",
        height=380,
        bargap=0.25,
        margin=dict(l=10, r=10, t=60, b=10),
        legend=LEGEND_BELOW,
    )
    figure.update_yaxes(title="correct (%)", range=[0, 105 if hidden is None else 118])
    figure.update_xaxes(title="true class", type="category")
    if hidden is not None:
        figure.add_vrect(x0=hidden - 0.5, x1=hidden + 0.5, fillcolor=HIGHLIGHT, opacity=0.18, line_width=0)
        figure.add_annotation(
            x=classes[hidden],
            y=112,
            text=f"never shown to the students: {classes[hidden]}",
            showarrow=False,
            font=dict(color=HIGHLIGHT),
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
