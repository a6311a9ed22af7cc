"""Summaries over seeds: mean, sample standard deviation and range, confidence intervals and verdicts.

Pure functions of plain numbers; the CLIs and the dashboard print every "mean ± sd" through ``format_spread``.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Literal, Sequence


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
        out.append(
            ValueSummary(
                value=value,
                epochs=group[0].epochs,
                student=Spread.of([r.student_accuracy for r in group]),
                baseline=Spread.of([r.baseline_accuracy for r in group]) if with_baseline else None,
                gain=Spread.of([r.student_accuracy - r.baseline_accuracy for r in group]) if with_baseline else None,
                teacher_mean=statistics.fmean(r.teacher_accuracy for r in group),
            )
        )
    return out


Verdict = Literal["helps", "no clear difference", "hurts"]
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Interval:
    """A mean over seeds with its 95 % confidence interval (Student's t on the paired differences)."""

    mean: float
    sd: float
    low: float | None  # None for one seed: no interval
    high: float | None
    n: int

    @classmethod
    def of(cls, differences: Sequence[float]) -> "Interval":
        """mean ± t(0.975, n − 1) · sd / √n of paired differences (KD − baseline, one per seed)."""
        spread = Spread.of(differences)
        if spread.n < 2:
            return cls(spread.mean, 0.0, None, None, spread.n)
        # Imported here, its only use: SciPy costs a command that never forms an interval most of a second.
        from scipy.stats import t as student_t

        half = float(student_t.ppf(0.5 + CONFIDENCE / 2, spread.n - 1)) * spread.sd / math.sqrt(spread.n)
        return cls(spread.mean, spread.sd, spread.mean - half, spread.mean + half, spread.n)

    @property
    def verdict(self) -> Verdict:
        """ "helps" when the whole interval is above 0, "hurts" when below; one seed never decides."""
        if self.low is not None and self.low > 0:
            return "helps"
        if self.high is not None and self.high < 0:
            return "hurts"
        return "no clear difference"

    def to_dict(self) -> dict:
        return {"mean": self.mean, "sd": self.sd, "low": self.low, "high": self.high}
