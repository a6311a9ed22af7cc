"""AppTest for each experiment tab (dashboard/tabs/), headless.

Each page is driven on its own through ``AppTest.from_function`` with a small, fast RunConfig standing in
for the sidebar's; the background job is joined (AppTest never fires ``run_every``), then the page is run
once more and its charts, tables and metrics are read back. A last test checks the tabs are in the app.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

TIMEOUT = 120  # importing torch cold takes several seconds; a loaded machine more


def page_script():
    """The stand-in app: one experiment tab, with a sidebar-like config from session state."""
    import streamlit as st

    from dashboard.tabs.experiments import dark_knowledge, little_data, sweep, unseen_class
    from kd_core import RunConfig

    config = RunConfig(
        device="cpu",
        epochs=3,
        teacher_epochs=5,
        temperature=st.session_state.get("T", 4.0),
        student_fraction=st.session_state.get("fraction", 1.0),
    )
    tabs = {
        "T & λ sweep": sweep,
        "Little data": little_data,
        "Unseen class": unseen_class,
        "Dark knowledge": dark_knowledge,
    }
    tabs[st.session_state["tab"]].render(config)


def open_tab(name: str, **session) -> AppTest:
    at = AppTest.from_function(page_script, default_timeout=TIMEOUT)
    at.session_state["tab"] = name
    for key, value in session.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def job(at: AppTest, name: str):
    """The session's job of this name (dashboard.page.job_panel keeps them in session state)."""
    return at.session_state["jobs"][name]


def finish(at: AppTest, name: str) -> AppTest:
    """Join the tab's background job, then rerun the page to draw its results."""
    assert job(at, name).join(timeout=TIMEOUT), f"{name} did not finish"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def chart(at: AppTest, key: str) -> dict:
    """The plotly figure (as a dict) of the chart with this widget key."""
    for element in at.get("plotly_chart"):
        spec = json.loads(element.proto.spec)
        if key in element.proto.id or element.proto.id.endswith(key):
            return spec
    raise AssertionError(f"no chart {key}; have {[e.proto.id for e in at.get('plotly_chart')]}")


def array(value) -> np.ndarray:
    """A plotly JSON array: a plain list, or plotly's typed-array encoding ({"dtype", "bdata", "shape"})."""
    if isinstance(value, dict) and "bdata" in value:
        data = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        return data.reshape([int(n) for n in str(shape).split(",")]) if shape else data
    return np.asarray(value, dtype=float)


def trace_names(figure: dict) -> list[str]:
    return [trace.get("name") for trace in figure["data"]]


def test_sweep_tab_runs_in_the_background_and_draws_the_curve():
    at = open_tab("T & λ sweep")
    assert any("Run sweep" in info.value for info in at.info)
    # Values, seeds and the click in one round trip (a click right after a change): the sweep uses the new ones.
    at.multiselect(key="exp_sweep_values_temperature").set_value([1.0, 4.0])
    at.slider(key="exp_sweep_seeds").set_value(2)
    at.button(key="exp_run_sweep").click().run()
    assert at.button(key="exp_run_sweep").disabled  # running: no second start
    finish(at, "sweep")
    assert not at.button(key="exp_run_sweep").disabled
    figure = chart(at, "exp_sweep_chart")
    names = trace_names(figure)
    assert "KD student (mean ± sd)" in names and any(n.startswith("Scratch baseline") for n in names)
    student = next(t for t in figure["data"] if t["name"] == "KD student (mean ± sd)")
    assert list(array(student["x"])) == [1.0, 4.0]
    table = at.dataframe[0].value
    assert list(table["T"]) == ["1", "4"] and list(table["seeds"]) == [2, 2]
    # the sweep trained (and cached) the teacher, so the small multiples can be drawn now
    multiples = chart(at, "exp_multiples_chart")
    assert len(multiples["data"]) == 5


def test_sweep_tab_draws_the_compression_curve_over_student_widths():
    from kd_core import DATASETS, build_model, count_params

    at = open_tab("T & λ sweep")
    at.radio(key="exp_sweep_param").set_value("student_width").run()
    assert at.multiselect(key="exp_sweep_values_student_width").value == [2, 4, 8, 16, 32, 64]
    assert any("Compression curve" in m.value for m in at.markdown)
    at.multiselect(key="exp_sweep_values_student_width").set_value([2, 16])
    at.slider(key="exp_sweep_seeds").set_value(2)
    at.button(key="exp_run_sweep").click().run()
    finish(at, "sweep")
    figure = chart(at, "exp_sweep_chart")
    assert figure["layout"]["title"]["text"].startswith("Compression curve")
    assert figure["layout"]["xaxis"]["type"] == "log" and "parameters" in figure["layout"]["xaxis"]["title"]["text"]
    spec = DATASETS["digits"]
    params = [count_params(build_model(spec.student, spec.input_shape, spec.num_classes, w)) for w in (2, 16)]
    student = next(t for t in figure["data"] if t["name"] == "KD student (mean ± sd)")
    assert list(array(student["x"])) == params and list(student["text"]) == ["width 2", "width 16"]
    baseline = next(t for t in figure["data"] if t["name"].startswith("Scratch baseline"))
    assert list(array(baseline["x"])) == params and "ignores" not in baseline["name"]  # each width its own baseline
    table = at.dataframe[0].value
    assert list(table["student width"]) == ["2", "16"] and list(table["student parameters"]) == [
        f"{p:,}" for p in params
    ]
    assert list(table["seeds"]) == [2, 2]


def test_sweep_tab_lam_values_and_stop():
    at = open_tab("T & λ sweep")
    at.radio(key="exp_sweep_param").set_value("lam").run()
    at.multiselect(key="exp_sweep_values_lam").set_value([0.0, 1.0])
    at.slider(key="exp_sweep_seeds").set_value(1).run()
    at.button(key="exp_run_sweep").click().run()
    at.button(key="exp_stop_sweep").click().run()
    finish(at, "sweep")
    assert job(at, "sweep").snapshot().status in ("cancelled", "completed")
    assert not at.button(key="exp_run_sweep").disabled


def test_little_data_tab_accumulates_runs():
    at = open_tab("Little data")
    at.slider(key="exp_little_percent").set_value(10)
    at.slider(key="exp_little_seeds").set_value(2).run()
    at.button(key="exp_run_little").click().run()
    finish(at, "little")
    figure = chart(at, "exp_little_chart")
    assert trace_names(figure)[:2] == ["Scratch baseline", "KD student"]
    assert list(array(figure["data"][1]["x"])) == [10.0, 100.0]
    table = at.dataframe[0].value
    assert list(table["share seen"]) == ["10 %", "100 %"]
    assert table["student epochs"].iloc[0] > table["student epochs"].iloc[1]  # equal steps
    # a second run at another share adds its points to the same chart
    at.slider(key="exp_little_percent").set_value(25)
    at.checkbox(key="exp_little_full").uncheck().run()
    at.button(key="exp_run_little").click().run()
    finish(at, "little")
    assert list(array(chart(at, "exp_little_chart")["data"][1]["x"])) == [10.0, 25.0, 100.0]
    at.button(key="exp_little_clear").click().run()
    assert not at.get("plotly_chart")


def test_unseen_class_tab_scratch_zero_and_bias_slider():
    at = open_tab("Unseen class")
    at.selectbox(key="exp_omit_class").set_value(3)
    at.number_input(key="exp_omit_epochs").set_value(10).run()
    at.button(key="exp_run_omitted").click().run()
    finish(at, "omitted")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Scratch student on 3"] == "0%"
    assert "KD student on 3" in metrics and "KD overall" in metrics
    per_class = chart(at, "exp_per_class_chart")
    assert trace_names(per_class) == ["Teacher", "KD student", "Scratch baseline"]
    assert array(per_class["data"][2]["y"])[3] == 0
    percent = lambda: int({m.label: m.value for m in at.metric}["KD on 3 at this bias"].rstrip("%"))  # noqa: E731
    before = percent()
    at_zero = next(m for m in at.metric if m.label == "KD on 3 at this bias")
    assert not at_zero.proto.delta  # no "↑ +0 points" at bias 0: no change, no arrow, no colour
    at.slider(key="exp_bias").set_value(12.0).run()
    assert percent() >= before and percent() > 50  # a big enough bias makes the student call 3s 3
    bias_chart = chart(at, "exp_bias_chart")
    assert bias_chart["layout"]["shapes"][0]["x0"] == 12.0


def test_unseen_class_tab_runs_its_own_settings_not_the_sidebars_share():
    """With the sidebar at 5 % of the data (the page opens there), the tab still trains its students on every image of
    the other classes for the epochs it shows: equal steps on 5 % once made its "50 epochs" 1,000."""
    at = open_tab("Unseen class", fraction=0.05)
    at.number_input(key="exp_omit_epochs").set_value(4).run()
    said = " ".join(c.value for c in at.caption)
    assert "the sidebar's share of the data does not apply here" in said and "students 4 epochs" in said
    assert "students see 5 %" not in said
    at.button(key="exp_run_omitted").click().run()
    finish(at, "omitted")
    result = at.session_state["exp_omitted_result"]
    assert result.config.student_fraction == 1.0 and result.config.epochs == 4
    assert any(c.value.startswith("Result of: class 3 hidden, ") and "students 4 epochs" in c.value for c in at.caption)


def test_experiment_tabs_show_the_epochs_equal_steps_really_train():
    """The sweep at the sidebar's 5 % share trains each student more epochs than the sidebar says (equal steps),
    and says so where it names its settings; the little-data slider starts at the sidebar's share."""
    at = open_tab("T & λ sweep", fraction=0.05)
    fixed = next(c.value for c in at.caption if c.value.startswith("Fixed from the sidebar"))
    assert (
        "students 35 epochs (as many steps as 3 epochs on all the images)" in fixed
    )  # 3 × 23 steps ÷ 2 steps a 5 % epoch, rounded up
    at = open_tab("Little data", fraction=0.05)
    assert at.slider(key="exp_little_percent").value == 5
    assert any("students 35 epochs (as many steps as 3 epochs on all the images)" in c.value for c in at.caption)


def test_dark_knowledge_tab_trains_the_teacher_then_follows_T():
    at = open_tab("Dark knowledge", T=2.0)
    teacher_button = [b for b in at.button if b.key == "exp_teacher_heatmap"]
    if teacher_button:  # not cached by an earlier test: train it in the background
        teacher_button[0].click().run()
        finish(at, "teacher")
    heatmap = chart(at, "exp_dk_chart")
    assert "T = 2" in heatmap["layout"]["title"]["text"]
    z = array(heatmap["data"][0]["z"])
    assert z.shape == (10, 10) and np.isnan(np.diag(z)).all()  # the diagonal is hidden by default
    assert np.nansum(z) > 0
    at.session_state["T"] = 8.0
    at.toggle(key="exp_dk_diagonal").set_value(True).run()
    heatmap = chart(at, "exp_dk_chart")
    assert "T = 8" in heatmap["layout"]["title"]["text"]
    assert not np.isnan(np.diag(array(heatmap["data"][0]["z"]))).any()
    assert any("Most alike" in c.value for c in at.caption)
    at.radio(key="exp_dk_split").set_value("test").run()
    assert chart(at, "exp_dk_chart")


def test_the_app_has_the_experiment_tabs():
    source = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
    at = AppTest.from_file(str(source), default_timeout=TIMEOUT).run()
    assert not at.exception, [e.value for e in at.exception]
    labels = [tab.label for tab in at.tabs]
    for name in ("T & λ sweep", "Little data", "Unseen class", "Dark knowledge"):
        assert name in labels
