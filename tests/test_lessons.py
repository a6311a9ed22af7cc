"""Every lesson's claim, checked over seeds through the product: what the page and docs/lessons.md say is what runs.

Each lesson states the verdicts its KD − baseline interval may have over its seeds (the number the page runs).
The claim is checked from every start seed 0–19 — a student may pick any — under whatever kernel set this
process runs with: ``make test-kernels`` runs this file again as other CPUs would (benchmarks/kernels.py).
"""

from __future__ import annotations

import re
import statistics
from pathlib import Path

import pytest

from benchmarks.measure_lessons import measure_lesson
from kd_core import TeacherCache
from kd_core.cli.train import main as kd_train
from kd_core.execution.executors import make_executor
from kd_core.runs.seeds import run_seeds
from kd_core.studies.lessons import LESSONS


# A ship lesson on another lesson's settings (ship-it-digits: little-data's) has that lesson's KD − scratch claim,
# checked and measured under that lesson's name; its own claim, about the int8 files, is tests/test_ship_lesson.py's.
def runs_another_lessons_settings(lesson) -> bool:
    return any(other.settings == lesson.settings for other in LESSONS.values() if other is not lesson)


DIGITS_LESSONS = [
    name
    for name, lesson in LESSONS.items()
    if lesson.settings.get("dataset", "digits") == "digits"
    and not (lesson.ship is not None and runs_another_lessons_settings(lesson))
]
START_SEEDS = list(range(20))
LESSONS_PAGE = Path(__file__).resolve().parents[1] / "docs" / "lessons.md"


@pytest.fixture(scope="module")
def executor():
    return make_executor("local", jobs=2, threads=1)


@pytest.mark.slow
@pytest.mark.parametrize("name", DIGITS_LESSONS)
def test_the_lessons_verdict_holds_from_every_start_seed(name, executor, tmp_path_factory):
    """Each seed is run once; a window's verdict is formed from its seeds' runs as kd-train --seed START would."""
    cache = TeacherCache(tmp_path_factory.getbasetemp() / "lesson-teachers")
    measured = measure_lesson(LESSONS[name], START_SEEDS, executor, cache)
    failed = [(w["start"], w["verdict"], round(100 * w["mean"], 2)) for w in measured["windows"] if not w["holds"]]
    assert not failed, (name, LESSONS[name].verdicts, failed)
    assert min(measured["teachers"].values()) >= 0.96, measured["teachers"]  # a good teacher in every seed


def readme_lessons_block() -> str:
    text = LESSONS_PAGE.read_text()
    return text[text.index("<!-- lessons: measured by") : text.index("<!-- lessons: end -->")]


def test_the_docs_table_agrees_with_the_lessons_claims():
    """docs/lessons.md's table is what benchmarks/measure_lessons.py measured: each digits lesson's row names its seeds
    and its claim, the claim held from every start seed under every kernel set, and every window shown in full has
    a verdict the lesson claims."""
    block = readme_lessons_block()
    for name in DIGITS_LESSONS:
        lesson = LESSONS[name]
        [summary] = [line for line in block.splitlines() if line.startswith(f"| `{name}` |") and " of 20 |" in line]
        cells = [c.strip() for c in summary.strip("|").split("|")]
        assert cells[1] == str(lesson.seeds) and cells[2] == " or ".join(lesson.verdicts), (name, cells)
        holds = [re.fullmatch(r"(\d+) of (\d+)", c) for c in cells[3:] if re.fullmatch(r"\d+ of \d+", c)]
        holds = holds[:-1]  # the last "k of n" cell is "KD ahead (fewest)"
        assert len(holds) >= 3 and all(m[1] == m[2] for m in holds), (name, cells)
        windows = [line for line in block.splitlines() if line.startswith(f"| `{name}` |") and line not in (summary,)]
        assert windows, name
        for line in windows:
            row = [c.strip() for c in line.strip("|").split("|")]
            assert row[1] == str(lesson.seeds) and row[-1] in lesson.verdicts, (name, row)


def test_the_readmes_lessons_table_repeats_the_measured_block():
    """The README's short lessons table copies each digits lesson's seeds, claim and KD − scratch range from the block
    benchmarks/measure_lessons.py writes: a new measurement that changes them must change the README too."""
    readme = (LESSONS_PAGE.parents[1] / "README.md").read_text()
    block = readme_lessons_block()
    for name in DIGITS_LESSONS:
        [measured] = [line for line in block.splitlines() if line.startswith(f"| `{name}` |") and " of 20 |" in line]
        [shown] = [line for line in readme.splitlines() if line.startswith(f"| `{name}` |")]
        measured_cells = [c.strip() for c in measured.strip("|").split("|")]
        shown_cells = [c.strip() for c in shown.strip("|").split("|")]
        assert shown_cells[2:4] == measured_cells[1:3], (name, shown_cells, measured_cells)
        assert shown_cells[4] == next(c for c in measured_cells if " … " in c), (name, shown_cells)


REAL_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.mark.slow
@pytest.mark.realdata
@pytest.mark.skipif(not (REAL_DATA / "MNIST" / "raw").is_dir(), reason="the real MNIST files are not beside this clone")
def test_hinton_mnist_runs_on_the_real_files_and_reports_errors(tmp_path):
    """The lesson's models and settings on real MNIST, cut to one epoch each (the full lesson is measured by
    benchmarks/measure_mnist.py): it trains, and its test errors are what the page reports.  At batch 128: a
    one-cycle of one epoch at the lesson's 256 warms up to lr 0.1 in a few dozen steps and diverges."""
    lesson = LESSONS["hinton-mnist"]
    config = lesson.config(data_dir=str(REAL_DATA), teacher_epochs=1, epochs=1, student_fraction=0.1, batch_size=128)
    result = run_seeds(config, 1, cache=TeacherCache(tmp_path)).runs[0]
    errors = {
        phase: round((1 - getattr(result, phase).accuracy) * 10_000) for phase in ("teacher", "student", "baseline")
    }
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

    assert (
        kd_train(
            [
                "--lesson",
                "little-data",
                "--seeds",
                "1",
                "--epochs",
                "2",
                "--teacher-epochs",
                "2",
                "-T",
                "2",
                "--quiet",
                "--cache-dir",
                str(tmp_path),
                "--json",
                str(out),
            ]
        )
        == 0
    )
    config = json.loads(out.read_text())["config"]
    assert config["student_fraction"] == LESSONS["little-data"].settings["student_fraction"]  # from the lesson
    assert config["temperature"] == 2.0  # the explicit flag wins
    assert kd_train(["--list-lessons"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in LESSONS)
