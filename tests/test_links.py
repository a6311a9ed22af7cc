"""Links and reloads, headless: settings in the URL, per-browser records on the server, the page's messages.

AppTest sets the page's query string with ``at.query_params`` and reads back what the page wrote there.  A reload
is a second AppTest that carries the first one's browser id (in a real browser it comes from the cookie; the
real browser is in tests/test_browser_links.py).
"""

from __future__ import annotations

from app_support import APP, finish, history_column, main_job, one_seed, open_link
from streamlit.testing.v1 import AppTest

from dashboard.page import choices, sessions, sidebar
from dashboard.runs import distill as runs
from kd_core import Diverged, RunConfig
from kd_core.studies.lessons import LESSONS


def sidebar_keys(at: AppTest) -> set[str]:
    return {w.key for w in [*at.sidebar.slider, *at.sidebar.select_slider, *at.sidebar.selectbox]}


def warnings(at: AppTest) -> list[str]:
    return [w.value for w in at.warning]


def test_a_link_opens_with_its_settings_and_the_url_follows_the_sliders():
    at = open_link("?temperature=8&lam=0.3&seed=3")
    assert (at.slider(key="temperature").value, at.slider(key="lam").value, at.slider(key="seed").value) == (
        8.0,
        0.3,
        3,
    )
    assert at.selectbox(key="lesson").value == "little-data" and not warnings(at)
    assert dict(at.query_params) == {"lesson": "little-data", "temperature": "8", "lam": "0.3", "seed": "3"}
    at.slider(key="temperature").set_value(6.5).run()
    assert at.query_params["temperature"] == "6.5"
    at.slider(key="lam").set_value(LESSONS["little-data"].settings["lam"]).run()  # back to the lesson's value: left out
    assert "lam" not in at.query_params
    at.selectbox(key="lesson").set_value("temperature").run()  # a lesson resets every control: the link is the lesson
    assert dict(at.query_params) == {"lesson": "temperature"}


def test_flag_names_with_dashes_and_a_dataset_with_its_own_architectures():
    at = open_link("?lesson=free-play&batch-size=128&student_fraction=10%&teacher_epochs=12&omit_class=4")
    assert at.select_slider(key="batch_size").value == 128 and at.select_slider(key="student_fraction").value == 0.1
    assert at.slider(key="teacher_epochs").value == 12 and at.selectbox(key="omit_class").value == 4
    assert at.query_params["batch_size"] == "128" and at.query_params["omit_class"] == "4"
    at = open_link("?dataset=mnist&lr=0.001")
    assert (at.selectbox(key="teacher").value, at.selectbox(key="student").value) == ("cnn-large", "cnn-small")
    assert at.select_slider(key="lr").value == 0.001


def test_invalid_values_are_left_out_with_one_short_note():
    at = open_link("?lesson=nope&temperature=99.5&lam=abc&lr=7&seeds=0&tab=nowhere&hide=lr,wings&colour=red")
    (note,) = warnings(at)
    assert "\n" not in note and "Traceback" not in note
    for part in (
        "lesson=nope",
        "temperature=99.5: outside 1 to 50",
        "lam=abc: not a number",
        "lr=7",
        "seeds=0",
        "tab=nowhere",
        "no control called wings",
        "colour",
    ):
        assert part in note, part
    lesson = sidebar.settings_of("little-data")  # the first lesson, untouched
    assert at.slider(key="temperature").value == lesson["temperature"] and at.slider(key="lam").value == lesson["lam"]
    assert at.session_state["lr"] == lesson["lr"] and at.slider(key="seeds").value == lesson["seeds"]
    assert "lr" not in sidebar_keys(at)  # the valid part of hide= still applies
    assert dict(at.query_params) == {"lesson": "little-data", "hide": "lr"}  # the bad parts are gone from the URL


def test_a_lesson_link_shows_chosen_controls_and_the_hidden_ones_keep_its_values(monkeypatch):
    at = open_link("?lesson=temperature&show=temperature,seeds&epochs=3")
    assert sidebar_keys(at) == {"lesson", "temperature", "seeds"}
    assert any(
        "Hidden here, and still applied" in c.value and "students' share = 0.05" in c.value for c in at.sidebar.caption
    )
    seen = []
    monkeypatch.setattr(runs, "distill", lambda config, cache, on_event, stop: seen.append(config))
    at.slider(key="seeds").set_value(1).run()
    at.button(key="distill").click().run()
    finish(at)
    expected = LESSONS["temperature"].config(epochs=3)
    assert (seen[0].temperature, seen[0].student_fraction, seen[0].lam, seen[0].epochs) == (
        expected.temperature,
        expected.student_fraction,
        expected.lam,
        3,
    )


def test_the_tab_and_presentation_mode_are_in_the_link_and_the_share_link_has_no_browser_id():
    at = open_link("?lesson=unseen-class&tab=history&present=1")
    assert at.session_state["tab"] == "History" and at.toggle(key="present").value
    assert sidebar_keys(at) == {"lesson", *LESSONS["unseen-class"].controls}  # presentation mode: the lesson's controls
    assert "teacher_button" not in {b.key for b in at.sidebar.button}
    assert dict(at.query_params) == {"lesson": "unseen-class", "tab": "history", "present": "1"}
    (link,) = [c.value for c in at.sidebar.code]
    assert link.endswith("?lesson=unseen-class&tab=history&present=1")
    assert at.session_state["browser_id"] not in link and sessions.COOKIE not in link
    at.toggle(key="share_lesson_controls").set_value(True).run()
    (link,) = [c.value for c in at.sidebar.code]
    assert "show=" + ",".join(LESSONS["unseen-class"].controls) in link
    at.toggle(key="present").set_value(False).run()  # every control again, with the lesson's values
    assert {"lr", "batch_size", "dataset"} <= sidebar_keys(at) and at.slider(key="epochs").value == 50
    assert "present" not in at.query_params


# ---------------------------------------------------------------- the per-browser record


class FakeJob:
    def __init__(self):
        self.stopped = False
        self.done = False

    def stop(self):
        self.stopped = True


def test_records_expire_and_are_bounded_and_a_dropped_one_stops_its_jobs():
    registry = sessions.Registry(max_records=3, expire_seconds=100)
    first = registry.get("a", now=0)
    first.history.append("row")
    job = first.jobs["main"] = FakeJob()
    assert registry.get("a", now=50) is first  # used again in time: the same record, history and all
    registry.get("b", now=60), registry.get("c", now=70), registry.get("d", now=80)  # a fourth: the oldest goes
    assert "a" not in registry and len(registry) == 3 and job.stopped
    assert registry.get("b", now=200).history == []  # unused for over 100 s: a fresh record
    assert "c" not in registry and "d" not in registry and len(registry) == 1  # the others expired too


def test_a_reload_finds_the_browsers_run_and_its_report_and_the_settings_note(app):
    one_seed(app)
    app.slider(key="teacher_epochs").set_value(2).run()
    app.slider(key="epochs").set_value(1).run()
    app.button(key="distill").click().run()
    job = main_job(app)
    reloaded = AppTest.from_file(APP, default_timeout=120)  # the same browser: its id comes from the cookie
    reloaded.session_state["browser_id"] = app.session_state["browser_id"]
    for key in ("teacher_epochs", "epochs", "seeds"):
        reloaded.query_params[key] = str(app.slider(key=key).value)
    reloaded.run()
    assert main_job(reloaded) is job and reloaded.button(key="distill").disabled  # still training, in view
    finish(reloaded)
    assert {"Teacher accuracy", "KD student accuracy"} <= {m.label for m in reloaded.metric}
    assert history_column(reloaded, "status") == ["completed"]
    finish(app)  # the first tab shows it too, and the run is in the history once
    assert history_column(app, "status") == ["completed"] and any(m.label == "Teacher accuracy" for m in app.metric)
    assert not [w for w in app.sidebar.warning if "report below" in w.value]
    app.slider(key="temperature").set_value(8).run()
    (note,) = [w.value for w in app.sidebar.warning]
    assert note.startswith("The report below is for T = 4; you changed it to T = 8 — click **Distill**"), note
    other = AppTest.from_file(APP, default_timeout=120).run()  # another browser sees none of it
    # No job and no report (the probability bars may show a KL: the server shares what it computed per setting).
    assert main_job(other) is None and not [m for m in other.metric if "accuracy" in m.label]


# ---------------------------------------------------------------- learning rates


def test_no_learning_rate_on_the_slider_always_diverges_and_a_divergence_suggests_one():
    assert max(choices.LEARNING_RATES) < 1
    assert choices.suggested_lr(RunConfig(lr=0.3)) == 0.01  # digits' own
    assert choices.suggested_lr(RunConfig(lr=0.01)) == 0.003  # the next lower one
    assert choices.suggested_lr(RunConfig(dataset="mnist", lr=0.01)) == 0.001
    assert choices.suggested_lr(RunConfig(lr=1e-4)) is None


def test_after_a_divergence_one_click_sets_the_suggested_learning_rate(app, monkeypatch):
    one_seed(app)
    app.select_slider(key="lr").set_value(0.3).run()

    def diverging(config, cache, on_event, stop):
        raise Diverged("teacher", 1, 2, config.lr, 4000.0)

    monkeypatch.setattr(runs, "distill", diverging)
    app.button(key="distill").click().run()
    finish(app)
    (message,) = [e.value for e in app.error]
    assert message.endswith("try a lower learning rate than 0.3 — try 0.01 (the usual one for this dataset).")
    app.button(key="use_lr_main").click().run()
    assert app.select_slider(key="lr").value == 0.01 and "use_lr_main" not in {b.key for b in app.button}
