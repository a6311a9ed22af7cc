"""Every lesson's claim, checked over seeds through the product: what the page and the README say is what runs.

Each lesson states the verdicts its KD − baseline interval may have over its seeds, from any start seed; two
windows of seeds are checked here (benchmarks/measure_lessons.py measures more, for the README).
"""
from __future__ import annotations

import math
import statistics
from pathlib import Path

import pytest

from kd_core import TeacherCache
from kd_core.cli.train import main as kd_train
from kd_core.executors import make_executor
from kd_core.lessons import LESSONS
from kd_core.seeds import run_seeds

DIGITS_LESSONS = [name for name, lesson in LESSONS.items() if lesson.settings.get("dataset", "digits") == "digits"]
START_SEEDS = (0, 5)


@pytest.fixture(scope="module")
def executor():
    return make_executor("local", jobs=2, threads=1)


@pytest.mark.slow
@pytest.mark.parametrize("name", DIGITS_LESSONS)
def test_the_lessons_verdict_holds_from_every_start_seed(name, executor, tmp_path_factory):
    lesson = LESSONS[name]
    cache = TeacherCache(tmp_path_factory.getbasetemp() / "lesson-teachers")
    for start in START_SEEDS:
        result = run_seeds(lesson.config(seed=start), lesson.seeds, cache=cache, executor=executor)
        interval = result.interval
        assert interval.verdict in lesson.verdicts, (name, start, interval)
        if name == "little-data":  # and KD ahead in at least 4 seeds of 5
            ahead = sum(run.kd_minus_baseline > 0 for run in result.runs)
            assert ahead >= math.ceil(0.8 * lesson.seeds), (name, start, [run.kd_minus_baseline for run in result.runs])


REAL_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.mark.skipif(not (REAL_DATA / "MNIST" / "raw").is_dir(), reason="the real MNIST files are not beside this clone")
def test_hinton_mnist_runs_on_the_real_files_and_reports_errors(tmp_path):
    """The lesson's models and settings on real MNIST, cut to one epoch each (the full lesson is measured by
    benchmarks/measure_lessons.py): it trains, and its test errors are what the page reports."""
    lesson = LESSONS["hinton-mnist"]
    config = lesson.config(data_dir=str(REAL_DATA), teacher_epochs=1, epochs=1, student_fraction=0.1)
    result = run_seeds(config, 1, cache=TeacherCache(tmp_path)).runs[0]
    errors = {phase: round((1 - getattr(result, phase).accuracy) * 10_000) for phase in ("teacher", "student", "baseline")}
    assert errors["teacher"] < 800 and errors["student"] < 2000 and errors["baseline"] < 2000, errors


@pytest.mark.slow
def test_unseen_class_every_hidden_class(executor, tmp_path_factory):
    """Over every hidden class: the KD student recognises most of it, the scratch student none of it, and the
    bias correction chosen on the validation split recovers nearly all of it."""
    lesson = LESSONS["unseen-class"]
    cache = TeacherCache(tmp_path_factory.getbasetemp() / "lesson-teachers")
    reports = []
    for cls in range(10):
        result = run_seeds(lesson.config(omit_class=cls), lesson.seeds, cache=cache, executor=executor)
        reports += [run.omitted_class for run in result.runs]
    assert all(r.baseline_accuracy == 0.0 for r in reports)
    assert statistics.fmean(r.student_accuracy for r in reports) >= 0.50
    assert statistics.fmean(r.bias_corrected["class_accuracy"] for r in reports) >= 0.85


def test_a_lesson_sets_the_flags_and_explicit_flags_win(tmp_path, capsys):
    out = tmp_path / "r.json"
    import json

    assert kd_train(["--lesson", "little-data", "--seeds", "1", "--epochs", "2", "--teacher-epochs", "2", "-T", "2",
                     "--quiet", "--cache-dir", str(tmp_path), "--json", str(out)]) == 0
    config = json.loads(out.read_text())["config"]
    assert config["student_fraction"] == LESSONS["little-data"].settings["student_fraction"]  # from the lesson
    assert config["temperature"] == 2.0  # the explicit flag wins
    assert kd_train(["--list-lessons"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in LESSONS)
