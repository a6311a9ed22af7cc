"""The class board: reading the results folder (memo, corrupt files, a fresh start), lessons, groups, the chart, the
tab."""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from dashboard.figures import board as board_figures
from kd_core import PhaseReport, ResultCache, RunConfig, RunResult, run
from kd_core.board.collect import (
    FREE_PLAY,
    START_FILE,
    FolderReader,
    build_board,
    lesson_of,
    load_run,
    read_start,
    show_every_run,
    start_fresh,
)
from kd_core.runs.cache import atomic_torch_save
from kd_core.runs.setup import load
from kd_core.stats import Interval
from kd_core.studies.lessons import LESSONS


def stored(lesson: str | None = None, **overrides) -> RunConfig:
    """The config a run stores (validated, its epochs scaled to equal steps), as pipeline.run would."""
    base = LESSONS[lesson].config(**overrides) if lesson else RunConfig(**overrides)
    return load(base)[0]


def put(folder: Path, config: RunConfig, student: float, baseline: float, finished: float | None = None) -> Path:
    """A finished run in ``folder`` the way pipeline.run stores it (no models: the board never reads them)."""
    result = RunResult(
        config,
        "completed",
        teacher=PhaseReport(0.97, [], 1, 1),
        student=PhaseReport(student, [], 1, 1),
        baseline=PhaseReport(baseline, [], 1, 1),
    )
    cache = ResultCache(folder)
    cache.put(config.run_key(), {}, {"result": result.to_json()})
    path = cache.path(config.run_key())
    if finished is not None:
        os.utime(path, (finished, finished))
    return path


# ---------------------------------------------------------------- lessons


def test_a_run_belongs_to_the_lesson_whose_other_settings_it_keeps():
    # little-data and temperature differ only in T: along T they are one experiment, and the board says both.
    assert lesson_of(stored("little-data", temperature=8.0, seed=3), "temperature") == "little-data / temperature"
    assert lesson_of(stored("little-data", lam=0.9, seed=1), "lam") == "little-data"
    assert lesson_of(stored("little-data", temperature=8.0), "lam") == FREE_PLAY  # T moved, but λ is the axis
    assert lesson_of(stored("little-data", epochs=5), "temperature") == FREE_PLAY  # a changed epochs: free play
    assert lesson_of(stored("full-data", temperature=2.0, seed=7), "temperature") == "full-data"
    # Along the data share the stored epochs are scaled to equal steps; the lesson's are scaled the same way.
    assert lesson_of(stored("full-data", student_fraction=0.1), "student_fraction") == "full-data"
    assert lesson_of(stored("tiny-student", student_width=4), "student_width") == "tiny-student"
    # Along the data share, tiny-student (width 8) is its own experiment; little-data moved to width 8 is it too.
    assert (
        lesson_of(stored("little-data", student_width=8, student_fraction=0.03), "student_fraction") == "tiny-student"
    )
    assert lesson_of(stored(temperature=3.0, lam=0.2), "temperature") == FREE_PLAY


# ---------------------------------------------------------------- reading the folder


def test_the_reader_loads_each_file_once_and_again_only_when_it_changes(tmp_path):
    put(tmp_path, stored("full-data", seed=0), 0.96, 0.95)
    put(tmp_path, stored("full-data", seed=1), 0.95, 0.96)
    reader = FolderReader()
    assert len(reader.read(tmp_path)) == 2 and reader.loads == 2
    assert len(reader.read(tmp_path)) == 2 and reader.loads == 2  # a refresh with nothing new: no file loaded
    put(tmp_path, stored("full-data", seed=2), 0.97, 0.95)
    assert len(reader.read(tmp_path)) == 3 and reader.loads == 3  # only the new one
    path = put(tmp_path, stored("full-data", seed=2), 0.90, 0.95, finished=time.time() + 5)  # rewritten
    runs = reader.read(tmp_path)
    assert reader.loads == 4 and {round(r.student, 2) for r in runs if r.name == path.name} == {0.90}
    path.unlink()
    assert len(reader.read(tmp_path)) == 2 and reader.loads == 4  # a removed file leaves the board
    assert FolderReader().read(tmp_path / "missing") == []


def test_a_corrupt_file_is_skipped_never_raised_nor_deleted(tmp_path):
    good = put(tmp_path, stored("full-data"), 0.96, 0.95)
    (tmp_path / "result-garbage.pt").write_bytes(b"not a torch file")
    (tmp_path / "result-truncated.pt").write_bytes(good.read_bytes()[:200])
    (tmp_path / ".result-half.pt.abc.tmp").write_bytes(b"")  # a file being written: not a result yet
    (tmp_path / "teacher-abc.pt").write_bytes(good.read_bytes())  # a teacher is not a run
    atomic_torch_save({"states": {}, "meta": {}}, tmp_path / "result-nometa.pt")  # a torch file, not a run
    entry = torch.load(good, weights_only=True)
    entry["meta"]["result"]["config"]["temperature"] = [4.0]  # a setting no run stores
    atomic_torch_save(entry, tmp_path / "result-odd.pt")
    reader = FolderReader()
    assert [r.name for r in reader.read(tmp_path)] == [good.name]
    assert reader.loads == 5  # the bad ones are remembered as bad: not reloaded every refresh
    reader.read(tmp_path)
    assert reader.loads == 5
    assert (tmp_path / "result-garbage.pt").exists() and (tmp_path / "result-truncated.pt").exists()


def test_a_real_run_is_read_from_its_stored_file(tmp_path):
    config = RunConfig(teacher_epochs=1, epochs=1, temperature=2.0)
    result = run(config, results=ResultCache(tmp_path))
    [path] = tmp_path.glob("result-*.pt")
    board_run = load_run(path, path.stat().st_mtime)
    assert board_run.config == result.config
    assert board_run.gain == pytest.approx(result.kd_minus_baseline)


# ---------------------------------------------------------------- a fresh board


def test_a_fresh_board_shows_only_runs_stored_after_its_start(tmp_path):
    assert read_start(tmp_path) is None
    put(tmp_path, stored("full-data", seed=0), 0.96, 0.95, finished=1000.0)
    since = start_fresh(tmp_path, now=2000.0)
    put(tmp_path, stored("full-data", seed=1), 0.95, 0.96, finished=3000.0)
    assert since == read_start(tmp_path) == 2000.0
    assert json.loads((tmp_path / START_FILE).read_text()) == {"since": 2000.0}  # a time, and nothing about anyone
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []  # written atomically
    board = build_board(FolderReader().read(tmp_path), "temperature", read_start(tmp_path))
    assert board.runs == 1 and board.hidden == 1 and board.groups[0].points[0].seed == 1
    show_every_run(tmp_path)
    assert read_start(tmp_path) is None
    (tmp_path / START_FILE).write_text("{half")  # unreadable: every run shows rather than an error
    assert read_start(tmp_path) is None


# ---------------------------------------------------------------- the board, the chart, the table


def board_runs(tmp_path: Path) -> list:
    gains = {(4.0, 0): 0.03, (4.0, 1): 0.02, (4.0, 2): 0.025, (1.0, 0): 0.01, (1.0, 1): -0.01, (1.0, 2): 0.0}
    for (temperature, seed), gain in gains.items():
        put(tmp_path, stored("little-data", temperature=temperature, seed=seed), 0.85 + gain, 0.85)
    put(tmp_path, stored(temperature=2.0, lam=0.2), 0.95, 0.96)  # free play
    return FolderReader().read(tmp_path)


def test_each_setting_is_its_seeds_and_their_mean_with_its_interval(tmp_path):
    board = build_board(board_runs(tmp_path), "temperature")
    assert [(g.lesson, g.x, len(g.points)) for g in board.groups] == [
        ("little-data / temperature", 1.0, 3),
        ("little-data / temperature", 4.0, 3),
        (FREE_PLAY, 2.0, 1),
    ]
    at_1, at_4, free = board.groups
    assert at_4.interval == Interval.of([p.gain for p in at_4.points]) and at_4.interval.verdict == "helps"
    assert at_1.interval.low < 0 < at_1.interval.high  # T = 1: KD does not help, and the interval says so
    assert free.interval.low is None  # one seed: no interval
    with pytest.raises(ValueError):
        build_board([], "epochs")


def test_the_chart_draws_every_seed_every_mean_and_the_zero_line(tmp_path):
    board = build_board(board_runs(tmp_path), "temperature")
    figure = board_figures.board_figure(board)
    seeds, means = figure.data[0], figure.data[1]
    assert sorted(seeds.x) == [1.0] * 3 + [4.0] * 3 and len(seeds.y) == 6
    assert list(means.x) == [1.0, 4.0] and means.error_y.array[1] > 0
    assert figure.data[3].mode == "markers"  # free play's means are not joined: they are different settings
    assert figure.layout.shapes[0].y0 == 0 and figure.layout.xaxis.type == "log"
    assert list(figure.layout.xaxis.tickvals) == [1.0, 2.0, 4.0]  # ticks at the values run, not at 0.9, 3, 5
    low, high = figure.layout.xaxis.range  # log10 units, with room beyond the first and the last value
    assert low < 0 and high > math.log10(4.0)
    assert board_figures.x_range([0.5], log=False) == pytest.approx([0.44, 0.65])
    rows = board_figures.board_rows(board)
    assert rows[1]["verdict"] == "KD helps" and rows[0]["verdict"] == "No clear difference"
    assert rows[2]["95 % interval"] == "–" and rows[2]["verdict"] == "One seed cannot decide"
    assert board_figures.lesson_color(FREE_PLAY) == board_figures.FREE_PLAY_COLOR


# ---------------------------------------------------------------- the tab, headless


def board_tab(folder: str) -> None:
    from dashboard.tabs import class_board

    class_board.render(folder)


def test_the_tab_draws_the_board_switches_its_axis_and_starts_fresh(tmp_path):
    board_runs(tmp_path)
    at = AppTest.from_function(board_tab, args=(str(tmp_path),), default_timeout=60).run()
    assert not at.exception, at.exception
    [chart] = at.get("plotly_chart")
    spec = json.loads(chart.proto.spec)
    assert sorted({x for trace in spec["data"] for x in trace["x"]}) == [1.0, 2.0, 4.0]
    at.radio(key="board_axis").set_value("lam").run()
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert spec["layout"]["xaxis"]["title"]["text"].startswith("λ")
    assert "little-data" in {trace["name"] for trace in spec["data"]}
    at.button(key="board_fresh").click().run()
    assert not at.get("plotly_chart") and "No finished runs" in at.info[0].value
    assert any("earlier runs hidden" in caption.value for caption in at.caption)
    at.button(key="board_all").click().run()
    assert len(at.get("plotly_chart")) == 1
