"""AppTest for the Methods tab (dashboard/tabs/methods.py) and its pure parts (dashboard/runs/methods.py,
dashboard/figures/methods.py): one click trains each method over the seeds through Distill's path; the forest plot,
the table, the loss parts and the cost are drawn from the runs."""

from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest

from dashboard.figures import methods as mf
from dashboard.runs import methods as mr
from kd_core import RunConfig
from kd_core.train.records import PhaseReport, RunResult

TIMEOUT = 180


def page_script():
    import streamlit as st

    from dashboard.tabs import methods
    from kd_core import RunConfig

    config = RunConfig(
        device="cpu",
        epochs=2,
        teacher_epochs=3,
        student=st.session_state.get("student"),
        batch_size=st.session_state.get("batch_size"),
    )
    methods.render(config, st.session_state.get("seeds", 2))


def open_tab(**session) -> AppTest:
    at = AppTest.from_function(page_script, default_timeout=TIMEOUT)
    for key, value in session.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def chart(at: AppTest, key: str) -> dict:
    for element in at.get("plotly_chart"):
        if element.proto.id.endswith(key) or key in element.proto.id:
            return json.loads(element.proto.spec)
    raise AssertionError(f"no chart {key}")


def test_methods_tab_trains_each_method_over_the_seeds_and_draws_the_forest_plot():
    at = open_tab()
    assert any("Run methods" in info.value for info in at.info)
    at.multiselect(key="methods_picked").set_value(["dkd", "fitnets"])
    at.button(key="exp_run_methods").click().run()
    assert at.session_state["jobs"]["methods"].join(timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    outcome = at.session_state["jobs"]["methods"].snapshot().result
    assert list(outcome.runs) == ["kd", "dkd", "fitnets"] and outcome.seeds == [0, 1]
    table = at.dataframe[0].value
    assert list(table["method"]) == ["KD", "DKD", "FitNets hint"]
    assert list(table["− KD (points, 95 %)"])[0] == "–" and "[" in list(table["− KD (points, 95 %)"])[1]
    forest = chart(at, "methods_forest")
    assert [a["text"] for a in forest["layout"]["annotations"][:2]] == ["method − scratch", "method − KD"]
    parts = chart(at, "methods_parts")
    assert {"tckd", "nckd", "hint", "soft"} <= {t["name"] for t in parts["data"]}
    assert chart(at, "methods_cost")["data"][0]["y"] == ["KD", "DKD", "FitNets hint"]
    assert any("KD" in m.value for m in at.markdown)
    # the same settings again: every run comes from the results cache, the same numbers
    at.button(key="exp_run_methods").click().run()
    assert at.session_state["jobs"]["methods"].join(timeout=TIMEOUT)
    again = at.session_state["jobs"]["methods"].snapshot().result
    assert [r.student.accuracy for r in again.runs["dkd"]] == [r.student.accuracy for r in outcome.runs["dkd"]]


def test_methods_tab_says_which_methods_cannot_run():
    at = open_tab(student="cnn-small")  # an MLP teacher and a CNN student: no FitNets regressor between them
    assert "fitnets" not in at.multiselect(key="methods_picked").options
    assert any("FitNets hint cannot run" in c.value and "feature map" in c.value for c in at.caption)


def result(seed: int, student: float, baseline: float, seconds: float = 1.0) -> RunResult:
    config = RunConfig(seed=seed, epochs=2)
    report = lambda acc: PhaseReport(acc, [acc] * 10, 100, 400)  # noqa: E731
    return RunResult(
        config,
        "completed",
        teacher=report(0.97),
        student=report(student),
        baseline=report(baseline),
        seconds={"teacher": 0.0, "student": seconds, "baseline": 1.0},
    )


def test_comparisons_pair_by_seed_and_say_when_methods_do_not_differ():
    outcome = mr.MethodsOutcome(
        RunConfig(),
        [0, 1, 2],
        {
            "kd": [result(0, 0.90, 0.88), result(1, 0.93, 0.89), result(2, 0.92, 0.90)],
            "dkd": [result(0, 0.91, 0.88, 2.0), result(1, 0.92, 0.89, 2.0), result(2, 0.93, 0.90, 2.0)],
        },
    )
    found = mr.comparisons(outcome)
    dkd = found[1]
    assert [round(v, 10) for v in dkd.vs_kd] == [0.01, -0.01, 0.01]
    assert [round(v, 10) for v in dkd.vs_scratch] == [0.03, 0.03, 0.03]
    assert dkd.scratch_interval.verdict == "helps" and dkd.kd_interval.verdict == "no clear difference"
    assert "do not differ from KD" in mr.summary_line(found)
    assert mr.cost_ratio(found) == {"kd": 1.0, "dkd": 2.0}
    better = mr.MethodsOutcome(
        RunConfig(),
        [0, 1, 2],
        {**outcome.runs, "dkd": [result(0, 0.95, 0.88), result(1, 0.96, 0.89), result(2, 0.97, 0.90)]},
    )
    assert "**DKD** is better than KD" in mr.summary_line(mr.comparisons(better))
    figure = mf.forest_figure(mr.comparisons(better))
    means = [t for t in figure.data if t.marker.symbol == "diamond"]
    assert len(means) == 3  # KD and DKD against scratch, DKD against KD (KD − KD is left out)
    assert means[-1].marker.color == mf.VERDICT_COLORS["helps"]


def test_the_app_has_the_methods_tab():
    from pathlib import Path

    source = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
    at = AppTest.from_file(str(source), default_timeout=TIMEOUT).run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Methods" in [tab.label for tab in at.tabs]


def test_method_runs_land_on_the_class_board_named_and_coloured_by_method(tmp_path):
    from dashboard.figures.board import lesson_color
    from kd_core import ResultCache, run
    from kd_core.board.collect import FolderReader, build_board
    from kd_core.studies.lessons import LESSONS

    results = ResultCache(tmp_path)
    run(LESSONS["little-data"].config(loss="dkd", loss_args=(("beta", 2.0),)), results=results)
    run(LESSONS["little-data"].config(), results=results)
    runs = FolderReader().read(tmp_path)
    assert len(runs) == 2 and {r.config.loss_args for r in runs} == {(), (("beta", 2.0),)}
    board = build_board(runs, "lam")
    assert board.lessons == ["little-data", "little-data · dkd"]
    assert lesson_color("little-data · dkd") != lesson_color("little-data") != lesson_color("free play")


def test_the_methods_picked_live_in_the_url():
    from pathlib import Path

    source = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
    at = AppTest.from_file(str(source), default_timeout=TIMEOUT)
    at.query_params["tab"] = "methods"
    at.query_params["methods"] = "kd-matched,dkd,nkd"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.multiselect(key="methods_picked").value == ["dkd", "kd-matched"]  # registry order
    assert any("no method called nkd" in w.value for w in at.warning)
    assert at.query_params["methods"] == "dkd,kd-matched"
    at.multiselect(key="methods_picked").set_value(["dkd", "dist", "logit-std", "fitnets", "kd-matched"]).run()
    assert "methods" not in at.query_params  # all of them: the default, not written
    at.multiselect(key="methods_picked").set_value(["dist"]).run()
    assert at.query_params["methods"] == "dist"


def test_a_method_that_cannot_run_on_the_data_is_reported_and_the_others_still_run():
    at = open_tab(batch_size=2, seeds=1)  # 1,437 digits in batches of 2 leave a last batch of 1: DIST cannot use it
    at.multiselect(key="methods_picked").set_value(["dist"])
    at.button(key="exp_run_methods").click().run()
    assert at.session_state["jobs"]["methods"].join(timeout=TIMEOUT)
    at.run()
    outcome = at.session_state["jobs"]["methods"].snapshot().result
    assert list(outcome.runs) == ["kd"] and "last batch of 1" in outcome.skipped["dist"]
    assert any("DIST could not run on this data" in w.value and "last batch of 1" in w.value for w in at.warning)
