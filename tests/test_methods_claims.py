"""What docs/methods.md's table claims, checked where it shows a clear effect (the whole 95 % interval of
method − KD on one side of 0): the lesson's settings and seeds, each method at its defaults, as
benchmarks/measure_methods.py ran them.  Only the students are compared (method − KD needs no baseline)."""

from __future__ import annotations

import pytest

from kd_core.runs.seeds import run_seeds
from kd_core.stats import Interval
from kd_core.studies.lessons import LESSONS

CLAIMS = {  # lesson -> {method: verdict of method − KD}
    "tiny-student": {"kd-matched": "helps", "dist": "hurts"},
    "full-data": {"dist": "helps", "logit-std": "helps", "kd-matched": "helps"},
}


@pytest.mark.parametrize("lesson", list(CLAIMS))
def test_method_minus_kd_verdicts_hold_over_the_lessons_seeds(lesson):
    spec = LESSONS[lesson]
    accuracy = {}
    for method in ["kd", *CLAIMS[lesson]]:
        result = run_seeds(spec.config(loss=method, baseline=False), spec.seeds)
        accuracy[method] = [run.student.accuracy for run in result.runs]
    for method, verdict in CLAIMS[lesson].items():
        interval = Interval.of([m - k for m, k in zip(accuracy[method], accuracy["kd"])])
        assert interval.verdict == verdict, (lesson, method, interval)
