"""The sweeps' runs on the class board: a teacher who runs the T & λ sweep (or the little-data tab's) sees its
points on the board, labelled as sweep runs and drawn apart from the Distill runs of the same lesson."""

from __future__ import annotations

import json
from types import SimpleNamespace

from test_board import put, stored

from dashboard.figures import board as board_figures
from dashboard.runs import experiments as experiment_runs
from kd_core.board.collect import FolderReader, build_board
from kd_core.board.sweeps import SweepRecorder, record
from kd_core.runs.setup import load
from kd_core.studies.lessons import LESSONS
from kd_core.studies.sweeps import SweepEvent, SweepRow

LITTLE = LESSONS["little-data"].config()


def row(value: float, seed: int, student: float = 0.80, baseline: float | None = 0.75) -> SweepRow:
    return SweepRow(value, seed, student, baseline, 0.97, 20)


def test_each_finished_row_is_recorded_and_every_event_passes_on(tmp_path):
    recorder = SweepRecorder(LITTLE, "lam", folder=tmp_path)
    seen = []
    relay = recorder.wrap(seen.append)
    progress = SweepEvent("progress", 0, 4, 0.1, 0, 0.3, "student")
    finished = [
        SweepEvent("row", i + 1, 4, 0.5, seed, 0.3, "student", row=row(0.3, seed)) for i, seed in enumerate((0, 1))
    ]
    for event in (progress, *finished):
        relay(event)
    assert seen == [progress, *finished]  # the sweep's own page sees everything, as before
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 2 and all(name.startswith("sweep-") and name.endswith(".json") for name in files)
    # The settings stored are the ones the sweep trained: the lesson's, λ moved, each seed its own, epochs resolved.
    configs = [json.loads((tmp_path / name).read_text())["config"] for name in files]
    assert {c["seed"] for c in configs} == {0, 1} and {c["lam"] for c in configs} == {0.3}
    assert configs[0]["epochs"] == load(LITTLE.replace(lam=0.3))[0].epochs


def test_sweep_runs_are_drawn_on_the_board_labelled_as_sweep_runs(tmp_path):
    recorder = SweepRecorder(LITTLE, "lam", folder=tmp_path)
    for seed, gain in enumerate((0.05, 0.03, 0.04)):
        recorder(row(0.3, seed, 0.75 + gain, 0.75))
    put(tmp_path, stored("little-data", lam=0.3, seed=0), 0.80, 0.75)  # a Distill of the same settings
    runs = FolderReader().read(tmp_path)
    assert sorted(r.source for r in runs) == ["distill", "sweep", "sweep", "sweep"]
    board = build_board(runs, "lam")
    assert board.lessons == ["little-data", "little-data (sweep)"]  # side by side, never merged
    (group,) = [g for g in board.groups if g.lesson == "little-data (sweep)"]
    assert len(group.points) == 3 and abs(group.interval.mean - 0.04) < 1e-9
    figure = board_figures.board_figure(board)
    sweep_traces = [t for t in figure.data if t.name == "little-data (sweep)"]
    assert sweep_traces and all(t.marker.symbol == "square-open" for t in sweep_traces)
    assert {t.marker.symbol for t in figure.data if t.name == "little-data"} == {"circle", "diamond"}
    assert board_figures.lesson_color("little-data (sweep)") == board_figures.lesson_color("little-data")
    assert any(r["lesson"] == "little-data (sweep)" for r in board_figures.board_rows(board))


def test_the_same_settings_again_replace_their_point_and_nothing_breaks_a_sweep(tmp_path):
    recorder = SweepRecorder(LITTLE, "temperature", folder=tmp_path)
    recorder(row(2.0, 0, 0.80))
    recorder(row(2.0, 0, 0.82))  # the sweep run again (a cached teacher, the same seed): one point, the newest
    (run,) = FolderReader().read(tmp_path)
    assert run.student == 0.82 and run.source == "sweep"
    recorder(row(2.0, 1, 0.80, baseline=None))  # no scratch baseline: nothing to compare, nothing stored
    assert len(list(tmp_path.iterdir())) == 1
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    SweepRecorder(LITTLE, "temperature", folder=blocked / "board")(row(2.0, 0))  # cannot write: no exception
    (tmp_path / "sweep-damaged.json").write_text("{not json")
    assert len(FolderReader().read(tmp_path)) == 1  # a damaged file is skipped, never an exception


def test_the_tabs_sweep_job_records_its_rows(tmp_path, monkeypatch):
    """experiment_runs.sweep_job (the T & λ sweep and little-data tabs) hands the board every finished row."""
    monkeypatch.setenv("KD_CACHE_DIR", str(tmp_path))

    def fake_sweep(param, values, seeds, config, on_event, stop, cache):
        for seed in seeds:
            for value in values:
                on_event(SweepEvent("row", 1, 1, 1.0, seed, value, "student", row=row(value, seed)))

    monkeypatch.setattr(experiment_runs, "sweep", fake_sweep)
    events = []
    experiment_runs.sweep_job(LITTLE, "temperature", [1.0, 4.0], [0, 1], cache=SimpleNamespace())(events.append, None)
    assert len(events) == 4
    board = build_board(FolderReader().read(tmp_path), "temperature")
    assert board.runs == 4 and all(lesson.endswith("(sweep)") for lesson in board.lessons)


def test_a_recorded_file_holds_only_settings_and_accuracies(tmp_path):
    path = record(tmp_path, load(LITTLE)[0], 0.8, 0.7)
    assert set(json.loads(path.read_text())) == {"source", "config", "student", "baseline"}  # no names, no models


def test_the_class_board_tab_draws_a_sweeps_runs(tmp_path):
    """The tab itself (AppTest): a sweep's rows in the folder are on its chart, named as sweep runs."""
    from streamlit.testing.v1 import AppTest
    from test_board import board_tab

    recorder = SweepRecorder(LITTLE, "temperature", folder=tmp_path)
    for value in (1.0, 4.0):
        for seed in (0, 1):
            recorder(row(value, seed))
    at = AppTest.from_function(board_tab, args=(str(tmp_path),), default_timeout=60).run()
    assert not at.exception, at.exception
    [chart] = at.get("plotly_chart")
    spec = json.loads(chart.proto.spec)
    names = {trace["name"] for trace in spec["data"]}
    assert names == {"little-data / temperature (sweep)"}, names
    assert sorted({x for trace in spec["data"] for x in trace["x"]}) == [1.0, 4.0]
    assert any("(sweep)" in caption.value for caption in at.caption)  # the introduction says how they look
