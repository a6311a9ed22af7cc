"""The Streamlit page, headless, with streamlit.testing.v1.AppTest.

AppTest never fires ``run_every``: each test joins the session's worker, then reruns the page once.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import streamlit as st
from app_support import APP, charts, finish, history_column, main_job, one_seed, open_tab

from dashboard import launch
from dashboard.runs import distill as runs
from kd_core import Diverged, ProgressEvent


def test_controls_exist_with_their_ranges_defaults_and_help(app):
    sliders = {s.key: s for s in app.slider}
    from kd_core.studies.lessons import LESSONS

    lesson = LESSONS["little-data"]  # the page opens on it: its settings over the defaults
    expected = {
        "temperature": (1, 20, lesson.settings.get("temperature", 4)),
        "lam": (0, 1, lesson.settings.get("lam", 0.7)),
        "epochs": (1, 50, 20),
        "teacher_epochs": (1, 100, 30),
        "seed": (0, 100, 0),
        "seeds": (1, 10, lesson.seeds),
    }
    for key, (low, high, default) in expected.items():
        assert sliders[key].min == low and sliders[key].max >= high, key  # a lesson may need a longer range
        assert sliders[key].value == pytest.approx(default), key
    assert sliders["lam"].step == pytest.approx(0.05)
    assert "Temperature" in sliders["temperature"].label
    assert "λ" in sliders["lam"].label
    assert "Epochs" in sliders["epochs"].label
    assert app.select_slider(key="lr").value == pytest.approx(0.01)
    assert app.select_slider(key="batch_size").value == 64
    assert app.selectbox(key="dataset").value == "digits"
    assert set(app.selectbox(key="dataset").options) >= {"digits (built in)", "mnist", "fashion-mnist", "cifar10"}
    assert (app.selectbox(key="teacher").value, app.selectbox(key="student").value) == ("mlp-large", "mlp-small")
    for widget in [*app.sidebar.slider, *app.sidebar.select_slider, *app.sidebar.selectbox, *app.sidebar.button]:
        assert widget.help and "\n" not in widget.help, widget.label
    buttons = {b.key: b for b in app.sidebar.button}
    assert not buttons["distill"].disabled and not buttons["teacher_button"].disabled and buttons["stop"].disabled
    first = ["Distill", "Probabilities", "What is happening", "History"]
    assert [t.label for t in app.tabs if t.label in first] == first and app.tabs[0].label == "Distill"
    assert not app.error


def test_a_short_distillation_completes_and_reports_three_accuracies(app):
    app.slider(key="epochs").set_value(2).run()
    app.slider(key="teacher_epochs").set_value(2).run()
    app.slider(key="temperature").set_value(6).run()
    app.button(key="distill").click().run()
    assert app.button(key="distill").disabled and not app.button(key="stop").disabled
    finish(app)
    assert not app.exception and not app.error
    metrics = {m.label: m.value for m in app.metric}
    for label in ("Teacher accuracy", "KD student accuracy", "Scratch baseline accuracy"):
        assert metrics[label].endswith("%") and 0 < float(metrics[label].rstrip("%")) <= 100
    for label in (
        "KD − baseline",
        "Student–teacher agreement",
        "Parameters: teacher / student",
        "Size ratio",
        "Teacher latency per image",
        "Student latency per image",
        "Run time",
    ):
        assert label in metrics
    found = charts(app)
    loss = next(spec for title, spec in found.items() if title.startswith("Training loss"))
    assert any(trace.get("name") == "KD student — soft" and len(trace["x"]) > 0 for trace in loss["data"])
    accuracy = found["Test accuracy per epoch"]
    assert [t["name"] for t in accuracy["data"]] == ["Teacher", "KD student", "Scratch baseline"]
    # The run is in the session history, downloadable; the bars now show the KD student.
    assert history_column(app, "status") == ["completed"]
    assert history_column(app, "temperature") == [6.0]
    bars = next(spec for title, spec in charts(open_tab(app, "Probabilities")).items() if title.startswith("Softened"))
    assert any(t["name"].startswith("KD student, T=6") for t in bars["data"])
    assert not app.button(key="distill").disabled and app.button(key="stop").disabled


def test_before_distillation_the_bars_show_the_untrained_student_and_follow_t(app):
    def bars(at):
        spec = next(s for t, s in charts(at).items() if t.startswith("Softened probabilities"))
        return {trace["name"]: trace["y"] for trace in spec["data"]}

    at4 = bars(open_tab(app, "Probabilities"))
    name4 = next(n for n in at4 if n.startswith("Untrained student"))
    assert "T=4" in name4
    app.slider(key="temperature").set_value(1.0).run()
    at1 = bars(app)
    name1 = next(n for n in at1 if n.startswith("Untrained student"))
    assert "T=1" in name1 and at1[name1] != at4[name4]
    app.slider(key="temperature").set_value(8.0).run()
    app.toggle(key="compare_t1").set_value(True).run()
    names = list(bars(app))
    assert any("T=8" in n for n in names) and any("T=1 " in n for n in names)
    assert main_job(app) is None  # nothing was trained


def test_the_t_beside_the_bars_moves_the_sidebars_temperature(app):
    """On a phone the sidebar is folded away, so the Probabilities tab has T buttons above its bars: they move the
    sidebar's Temperature itself (one setting), and the bars and the page's config follow; they stop at the ends."""

    def bars_names(at):
        spec = next(s for t, s in charts(at).items() if t.startswith("Softened probabilities"))
        return [trace["name"] for trace in spec["data"]]

    start = app.slider(key="temperature").value
    open_tab(app, "Probabilities")
    app.button(key="bars_t_up").click().run()
    assert app.slider(key="temperature").value == pytest.approx(start + 0.5)
    assert any(f"T={start + 0.5:g}" in name for name in bars_names(app))
    assert any(m.value == f"**Temperature T = {start + 0.5:g}**" for m in app.markdown)
    app.slider(key="temperature").set_value(1.5).run()
    app.button(key="bars_t_down").click().run()
    assert app.slider(key="temperature").value == pytest.approx(1.0) and app.button(key="bars_t_down").disabled
    assert any("T=1 " in name for name in bars_names(app))
    assert not app.exception


def test_before_any_run_the_page_has_its_own_distill_and_says_so(app, monkeypatch):
    """The main page's Distill (a phone's, where the sidebar is folded away) starts the same run as the sidebar's."""
    assert any(i.value.startswith("Click **Distill** to train") for i in app.info)
    one_seed(app)
    calls = []

    def distill(config, cache, on_event, stop):
        calls.append(config)
        raise RuntimeError("stop here")

    monkeypatch.setattr(runs, "distill", distill)
    app.button(key="distill_main").click().run()
    main_job(app).join(60)
    app.run()
    assert len(calls) == 1 and calls[0].temperature == app.slider(key="temperature").value
    assert not any(i.value.startswith("Click **Distill**") for i in app.info)  # a run exists: the prompt is gone


def test_a_worker_exception_is_one_readable_error_line(app, monkeypatch):
    one_seed(app)

    def broken(config, cache, on_event, stop):
        raise RuntimeError("something broke in the worker\nTraceback (most recent call last): ...")

    monkeypatch.setattr(runs, "distill", broken)
    app.button(key="distill").click().run()
    finish(app)
    assert not app.exception
    messages = [e.value for e in app.error]
    assert len(messages) == 1 and "something broke in the worker" in messages[0]
    assert "\n" not in messages[0] and "Traceback" not in messages[0]
    assert not app.button(key="distill").disabled


def test_divergence_is_reported_and_the_charts_keep_what_was_drawn(app, monkeypatch):
    one_seed(app)
    error = Diverged("student", 1, 6, 10.0, float("nan"))

    def diverging(config, cache, on_event, stop):
        for i in range(1, 6):
            on_event(ProgressEvent("student", "step", 1, 2, i, 20, 1.0 / i, {"soft": 0.5, "hard": 0.5}))
        raise error

    monkeypatch.setattr(runs, "distill", diverging)
    app.button(key="distill").click().run()
    finish(app)
    assert [e.value for e in app.error] == [f"{error} — try 0.003."]  # below the run's 0.01: the lr that diverged
    assert "diverged" in str(error) and "learning rate" in str(error)
    loss = next(spec for title, spec in charts(app).items() if title.startswith("Training loss"))
    assert any(len(trace["x"]) == 5 for trace in loss["data"])
    notes = " ".join(a["text"] for a in loss["layout"].get("annotations", [])).replace("<br>", " ")
    assert "Training stopped: the student loss became non-finite at epoch 1, step 6" in notes  # said in the chart too
    assert history_column(app, "status") == ["failed"]


def test_sliders_do_not_disturb_a_run_and_stop_ends_it_cleanly(app, monkeypatch):
    one_seed(app)
    calls = []

    def endless(config, cache, on_event, stop):
        calls.append(config)
        step = 0
        while not stop.is_set():
            step += 1
            on_event(ProgressEvent("teacher", "step", 1, 1, step, 10**6, 1.0))
            stop.wait(0.01)
        return None

    monkeypatch.setattr(runs, "distill", endless)
    app.button(key="distill").click().run()
    job = main_job(app)
    app.slider(key="temperature").set_value(12).run()
    app.slider(key="lam").set_value(0.3).run()
    assert main_job(app) is job and not job.done and len(calls) == 1
    assert app.button(key="distill").disabled
    app.button(key="stop").click().run()
    assert job.done and job.snapshot().status == "cancelled"
    assert any("stopped" in w.value for w in app.warning)
    assert not app.button(key="distill").disabled and app.button(key="stop").disabled


def test_an_unavailable_dataset_is_a_clear_message(app, monkeypatch):
    import kd_core.data.datasets

    def offline(name, tv_class, files, root, train):
        raise kd_core.data.datasets.DatasetUnavailable(
            f"dataset '{name}' is not in {root} and could not be downloaded (offline)"
        )

    monkeypatch.setattr(kd_core.data.datasets, "_torchvision_split", offline)
    kd_core.data.datasets._load_cached.cache_clear()
    st.cache_resource.clear()
    try:
        app.selectbox(key="dataset").set_value("mnist").run()
        assert not app.exception
        messages = [e.value for e in app.error]
        assert len(messages) == 1 and "This dataset needs the MNIST files" in messages[0] and "\n" not in messages[0]
        assert "could not be downloaded (offline)" in " ".join(
            c.value for c in app.code
        )  # the server's view, folded away
        assert app.button(key="distill").disabled and app.button(key="teacher_button").disabled
        assert not [i for i in app.info if "Click **Distill**" in i.value]  # no hint to click a greyed-out button
        assert (app.selectbox(key="teacher").value, app.selectbox(key="student").value) == ("cnn-large", "cnn-small")
    finally:
        kd_core.data.datasets._load_cached.cache_clear()
        st.cache_resource.clear()


def test_the_teacher_button_loads_a_cached_teacher(app):
    app.slider(key="teacher_epochs").set_value(2).run()
    app.button(key="teacher_button").click().run()
    finish(app)
    app.button(key="teacher_button").click().run()  # the second time it comes from the cache
    finish(app)
    assert any("loaded from the cache" in s.value for s in app.success)
    bars = next(s for t, s in charts(open_tab(app, "Probabilities")).items() if t.startswith("Softened probabilities"))
    assert any(trace["name"].startswith("Teacher, T=4") for trace in bars["data"])


def test_launch_runs_streamlit_on_localhost_without_usage_stats(monkeypatch):
    seen = {}
    monkeypatch.setattr(launch.subprocess, "call", lambda cmd: seen.setdefault("cmd", cmd) and 0)
    assert launch.main(["--server.port", "8600"]) == 0
    cmd = seen["cmd"]
    assert cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4].endswith("dashboard/app.py")
    text = " ".join(cmd)
    for part in ("--server.address 127.0.0.1", "--browser.gatherUsageStats false", "--server.headless true"):
        assert part in text
    assert cmd[-2:] == ["--server.port", "8600"]


def test_a_queued_run_shows_its_position_and_can_be_stopped(app, monkeypatch):
    from dashboard.jobs import runner as jobs

    monkeypatch.setattr(jobs, "MAX_CONCURRENT", 0)  # every trainer busy: the run must wait its turn
    app.button(key="distill").click().run()
    job = main_job(app)
    assert job.snapshot().status == "queued"
    assert any("position 1 in the queue" in message.value for message in app.info)
    app.button(key="stop").click().run()
    assert job.done and job.snapshot().status == "cancelled" and job.snapshot().started_at is None
    assert not app.button(key="distill").disabled


def test_a_real_divergence_names_epoch_and_step_keeps_the_charts_and_the_next_run_works(app):
    app.slider(key="teacher_epochs").set_value(2).run()
    app.slider(key="epochs").set_value(2).run()
    app.select_slider(key="lr").set_value(0.3).run()  # the slider's largest: it diverges at step 2 on digits
    app.button(key="distill").click().run()
    finish(app)
    assert not app.exception
    (message,) = [e.value for e in app.error]
    assert re.search(
        r"diverged: the teacher loss .+ at epoch 1, step \d+; try a lower learning rate than 0.3 — try 0.01 "
        r"\(the usual one for this dataset\)\.$",
        message,
    ), message
    loss = next(spec for title, spec in charts(app).items() if title.startswith("Training loss"))
    assert any(len(trace["x"]) > 0 for trace in loss["data"]), "the steps before the divergence were not kept"
    assert not app.button(key="distill").disabled
    app.select_slider(key="lr").set_value(0.01).run()
    app.button(key="distill").click().run()
    finish(app)
    assert not app.error and not app.exception
    assert {"Teacher accuracy", "KD student accuracy", "Scratch baseline accuracy"} <= {m.label for m in app.metric}
    assert history_column(app, "status") == ["failed", "completed"]


def test_an_identical_request_is_served_from_the_results_cache(app):
    app.slider(key="teacher_epochs").set_value(3).run()
    app.slider(key="epochs").set_value(2).run()
    app.slider(key="seed").set_value(42).run()
    app.button(key="distill").click().run()
    finish(app)
    first = {m.label: m.value for m in app.metric if "accuracy" in m.label}
    assert not any("results cache" in c.value for c in app.caption)
    app.button(key="distill").click().run()  # the same settings and seed again: nothing retrains
    finish(app)
    last = 42 + app.slider(key="seeds").value - 1  # the lesson's own seeds
    assert any(f"seeds 42 to {last}" in c.value and "served from the results cache" in c.value for c in app.caption)
    assert {m.label: m.value for m in app.metric if "accuracy" in m.label} == first
    steps = [e.event for e in main_job(app).snapshot().events if e.event.kind == "step"]
    assert steps and all(e.replayed for e in steps)  # the loss chart is redrawn from the stored steps
    assert history_column(app, "from_results_cache") == [False, True]


def simple_toml(text: str) -> dict:
    """The few ``[table]`` and ``key = value`` lines of .streamlit/config.toml, for Pythons without tomllib (3.10)."""
    tables: dict = {}
    table = tables
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("[") and line.endswith("]"):
            table = tables.setdefault(line[1:-1].strip(), {})
        elif "=" in line:
            key, value = (part.strip() for part in line.split("=", 1))
            table[key] = (
                {"true": True, "false": False}.get(value)
                if value in ("true", "false")
                else value[1:-1]
                if value[:1] == '"'
                else int(value)
            )
    return tables


def test_simple_toml_reads_what_tomllib_reads():
    text = (Path(APP).parents[1] / ".streamlit" / "config.toml").read_text()
    try:
        import tomllib
    except ImportError:  # Python 3.10: nothing to compare with
        return
    assert simple_toml(text) == tomllib.loads(text)


def test_server_defaults_are_safe_for_a_classroom():
    try:
        from tomllib import loads  # Python 3.11+
    except ImportError:
        loads = simple_toml

    text = " ".join(launch.command([]))
    for part in (
        "--server.address 127.0.0.1",
        "--browser.gatherUsageStats false",
        "--server.maxUploadSize 10",
        "--client.toolbarMode minimal",
        "--runner.postScriptGC false",
    ):
        assert part in text
    config = loads((Path(APP).parents[1] / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1" and config["server"]["maxUploadSize"] == 10
    assert config["browser"]["gatherUsageStats"] is False and config["client"]["toolbarMode"] == "minimal"
    # A full gc.collect() after every rerun (Streamlit's default) starves a busy classroom server.
    assert config["runner"]["postScriptGC"] is False


def test_a_click_right_after_a_slider_move_trains_the_new_settings(app):
    # In a browser, a click that arrives before the slider's rerun has finished reaches the server together
    # with the slider's new value, as here.  The run must use the new value, never the settings drawn before.
    app.slider(key="teacher_epochs").set_value(2).run()
    app.slider(key="epochs").set_value(1).run()
    app.slider(key="temperature").set_value(7.5)
    app.button(key="distill").click().run()
    assert main_job(app).meta["config"].temperature == 7.5
    finish(app)
    assert any("T = 7.5," in c.value for c in app.caption)
    assert history_column(app, "temperature") == [7.5]


def test_the_run_time_estimate_is_planned_steps_times_measured_step_time():
    from dashboard.jobs import estimate

    plan = {"teacher": 1000, "student": 500, "baseline": 500}
    # On an idle machine (slowdown 1: tests/test_estimate.py checks the load's share)
    # 3 seeds, 1 slot, every teacher to train: 3 × (1000 × 0.02 + 1000 × 0.01) = 90 s
    assert estimate.estimate_seconds(plan, 0.02, 0.01, seeds=3, slots=1, slowdown=1.0) == pytest.approx(90)
    assert estimate.estimate_seconds(plan, 0.02, 0.01, seeds=3, slots=3, slowdown=1.0) == pytest.approx(30)
    assert estimate.estimate_seconds(
        plan, 0.02, 0.01, seeds=3, slots=1, teachers_to_train=0, slowdown=1.0
    ) == pytest.approx(30)
    # T moved: teachers and scratch baselines cached, only the KD students train: 3 × 500 × 0.01 = 15 s
    assert estimate.estimate_seconds(
        plan, 0.02, 0.01, seeds=3, slots=1, teachers_to_train=0, baselines_to_train=0, slowdown=1.0
    ) == pytest.approx(15)
    assert estimate.estimate_text(59) is None and estimate.estimate_text(90) == "about 2 minutes"
    assert estimate.estimate_text(70) == "about 1 minute" and estimate.estimate_text(300) == "about 5 minutes"
    assert 0 < estimate.step_seconds("mlp-small", "digits", 16, 64, steps=3) < 1


def test_a_short_default_run_shows_no_estimate(app, monkeypatch):
    from dashboard.jobs import estimate

    monkeypatch.setattr(estimate, "load_slowdown", lambda *args, **kwargs: 1.0)  # a quiet machine, whatever runs now
    app.run()
    assert not any(c.value.startswith("⏱") for c in app.sidebar.caption)


def test_a_first_report_of_fewer_seeds_shows_while_the_rest_train(app):
    """A busy server's Distill shows the report of its first seeds, said to be so, while the rest train
    (dashboard/runs/seeds.py): verdict and accuracies on the page, then the whole report replaces it."""
    import threading

    import numpy as np

    from dashboard.jobs import runner as jobs
    from dashboard.runs.seeds import SeedsOutcome
    from kd_core import RunConfig
    from kd_core.runs.served import DistillOutcome
    from kd_core.train.records import PhaseReport, RunResult

    def fake_outcome(config: RunConfig) -> DistillOutcome:  # a completed run as the report needs it, nothing trained
        report = lambda accuracy: PhaseReport(accuracy, [accuracy] * 10, 4, 16, agreement=0.9)  # noqa: E731
        result = RunResult(config, "completed", report(0.9), report(0.8 + 0.01 * config.seed), report(0.8))
        return DistillOutcome(result, np.zeros((1, 10)), np.zeros((1, 10)), {"teacher": 1e-3, "student": 1e-4})

    config = RunConfig(seed=0)
    first = [fake_outcome(config.replace(seed=seed)) for seed in range(3)]
    rest = [fake_outcome(config.replace(seed=seed)) for seed in range(3, 8)]
    release = threading.Event()

    def distill(on_event, stop):
        jobs.report_so_far(SeedsOutcome(config, first, planned=8))
        release.wait(60)
        return SeedsOutcome(config, first + rest)

    job = jobs.start_job(distill, name="main", meta={"kind": "distill", "config": config, "seeds": list(range(8))})
    app.session_state["jobs"]["main"] = job
    try:
        assert wait_until(lambda: job.snapshot().so_far is not None)
        app.run()
        assert not app.exception, app.exception
        texts = " ".join(m.value for m in [*app.markdown, *app.caption])
        assert "3 of 8 seeds so far — the rest are training" in texts and "so far" in texts
        shown = {m.label: m.value for m in app.metric}
        mean = sum(o.result.student.accuracy for o in first) / 3
        assert shown["KD student accuracy"] == f"{mean:.2%}" and shown["Teacher accuracy"] == "90.00%"
    finally:
        release.set()
    assert job.join(30)
    app.run()
    texts = " ".join(m.value for m in [*app.markdown, *app.caption])
    assert "seeds so far" not in texts  # the whole report replaced it
    assert {m.label: m.value for m in app.metric}["KD student accuracy"] == (
        f"{sum(o.result.student.accuracy for o in first + rest) / 8:.2%}"
    )


def wait_until(condition, seconds: float = 30.0) -> bool:
    import time

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return False
