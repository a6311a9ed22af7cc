"""Summaries over seeds: mean, sample standard deviation and range, and how they are written.

Pure functions of plain numbers; the CLIs and the dashboard print every "mean ± sd" through ``format_spread``.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class Spread:
    """Numbers over seeds: mean, sample sd (0 for one number), min and max."""

    mean: float
    sd: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, numbers: Sequence[float]) -> "Spread":
        numbers = list(numbers)
        sd = statistics.stdev(numbers) if len(numbers) > 1 else 0.0
        return cls(statistics.fmean(numbers), sd, min(numbers), max(numbers), len(numbers))


def format_spread(spread: Spread | None, signed: bool = False, scale: float = 100.0, digits: int = 2) -> str:
    """``"96.39 ± 1.09"`` (fractions shown as percent or points by default); ``"–"`` for None."""
    if spread is None:
        return "–"
    sign = "+" if signed else ""
    return f"{scale * spread.mean:{sign}.{digits}f} ± {scale * spread.sd:.{digits}f}"


@dataclass(frozen=True)
class ValueSummary:
    """One swept value over its seeds: the KD student, the baseline, their paired difference and the teacher."""

    value: float
    epochs: int | None
    student: Spread
    baseline: Spread | None  # None without a baseline
    gain: Spread | None  # KD − baseline, paired by seed
    teacher_mean: float

    @property
    def n(self) -> int:
        return self.student.n


def summarize(rows: Sequence) -> list[ValueSummary]:
    """Per value (in first-seen order), over seeds, of sweep rows (``sweeps.SweepRow``)."""
    by_value: dict[float, list] = {}
    for row in rows:
        by_value.setdefault(row.value, []).append(row)
    out = []
    for value, group in by_value.items():
        with_baseline = all(r.baseline_accuracy is not None for r in group)
        out.append(ValueSummary(
            value=value,
            epochs=group[0].epochs,
            student=Spread.of([r.student_accuracy for r in group]),
            baseline=Spread.of([r.baseline_accuracy for r in group]) if with_baseline else None,
            gain=Spread.of([r.student_accuracy - r.baseline_accuracy for r in group]) if with_baseline else None,
            teacher_mean=statistics.fmean(r.teacher_accuracy for r in group),
        ))
    return out
