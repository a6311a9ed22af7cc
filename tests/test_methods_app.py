"""AppTest for the Methods tab (dashboard/tabs/experiments/methods.py) and its pure parts (dashboard/runs/methods.py,
dashboard/figures/methods.py): one click trains each method over the seeds through Distill's path; the forest plot,
the table, the loss parts and the cost are drawn from the runs."""

from __future__ import annotations

import html
import json
import math
import re

from streamlit.testing.v1 import AppTest

from dashboard.figures import methods as mf
from dashboard.runs import methods as mr
from kd_core import RunConfig
from kd_core.train.records import PhaseReport, RunResult

TIMEOUT = 180


def page_script():
    import streamlit as st

    from dashboard.tabs.experiments import methods
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


def legend(figure: dict) -> set[str]:
    return {t["name"] for t in figure["data"] if t.get("showlegend", True) and t.get("name")}


def alt_texts(at: AppTest) -> dict[str, str]:
    """Each chart's text alternative (charts.show writes it under the chart), by the chart's key."""
    found = {}
    for element in at.get("html"):
        match = re.search(r'class="kd-chart-alt" data-chart="([^"]+)">(.*)</p>', element.proto.body, re.S)
        if match:
            found[match[1]] = html.unescape(match[2])
    return found


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
    assert forest["layout"]["title"]["text"] == mf.FOREST_TITLE
    assert {"mean", "95 % interval", "one seed", "above 0", "below 0", "includes 0"} <= legend(forest)
    alt = alt_texts(at)
    assert alt["methods_forest"].startswith(f"Forest plot “{mf.FOREST_TITLE}” over 2 seeds")
    for name in ("KD", "DKD", "FitNets hint"):  # each method's mean and verdict, in words
        assert f"{name}: " in alt["methods_forest"]
    assert alt["methods_forest"].count("points over KD (") == 2 and alt["methods_forest"].count("over scratch (") == 3
    parts = {name: chart(at, f"methods_parts_{name}") for name in ("kd", "dkd", "fitnets")}
    assert {"TCKD", "NCKD", "hard", "total"} <= {t["name"] for t in parts["dkd"]["data"]}
    assert "hint" in {t["name"] for t in parts["fitnets"]["data"]} and "soft" in legend(parts["kd"])
    for figure in parts.values():  # decades only, axis titles on both axes
        yaxis = figure["layout"]["yaxis"]
        assert yaxis["type"] == "log" and yaxis["tickmode"] == "array"
        assert all(math.isclose(math.log10(v), round(math.log10(v))) for v in yaxis["tickvals"])
        assert yaxis["title"]["text"] and figure["layout"]["xaxis"]["title"]["text"] == "epoch"
    cost = chart(at, "methods_cost")
    assert {y for t in cost["data"] for y in t["y"] if y} == {"KD", "DKD", "FitNets hint"}
    steps = mr.student_steps(outcome.config)
    assert steps == max(s.step for s in outcome.runs["dkd"][0].steps if s.phase == "student")  # what it trained
    assert alt["methods_cost"].startswith(f"Dot chart “{mf.COST_TITLE}”: every student took the same {steps:,} ")
    assert any(f"took the same {steps:,} training steps" in m.value and "no comparison" in m.value for m in at.markdown)
    assert list(table["training steps"]) == [f"{steps:,}"] * 3
    assert not any(word in alt["methods_cost"] for word in ("slower", "faster", "×"))
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
    kd_time, dkd_time = mr.timings(found)  # seconds as measured, each method's own
    assert dkd_time.seconds == [2.0, 2.0, 2.0] and dkd_time.words() == "2.00 ± 0.00 s" and kd_time.method == "kd"
    better = mr.MethodsOutcome(
        RunConfig(),
        [0, 1, 2],
        {**outcome.runs, "dkd": [result(0, 0.95, 0.88), result(1, 0.96, 0.89), result(2, 0.97, 0.90)]},
    )
    assert "**DKD** is better than KD" in mr.summary_line(mr.comparisons(better))
    figure = mf.forest_figure(mr.comparisons(better))
    means = [t for t in figure.data if t.marker.symbol == "diamond" and not t.showlegend]
    assert len(means) == 3  # KD and DKD against scratch, DKD against KD (KD − KD is left out)
    assert means[-1].marker.color == mf.VERDICT_COLORS["helps"]
    assert mf.forest_alt(mr.comparisons(better)) == (
        f"Forest plot “{mf.FOREST_TITLE}” over 3 seeds, mean of method − scratch and method − KD with 95 % "
        "intervals. KD: +2.67 points over scratch (95 % interval −0.20 to +5.54), no clear difference. "
        "DKD: +7.00 points over scratch (95 % interval +7.00 to +7.00), helps; +4.33 points over KD (95 % interval "
        "+1.46 to +7.20), better than KD."
    )


def test_seconds_are_shown_with_their_spread_and_never_as_a_verdict():
    """The same loss twice (KD and KD at its own weight), timed under changing load: the chart and its words give
    each method's seconds with their spread and the steps they share, never "slower" or "faster"."""
    kd = [result(0, 0.9, 0.88, 1.0), result(1, 0.9, 0.88, 1.4), result(2, 0.9, 0.88, 0.9)]
    same = [result(0, 0.9, 0.88, 3.1), result(1, 0.9, 0.88, 3.5), result(2, 0.9, 0.88, 3.3)]
    outcome = mr.MethodsOutcome(RunConfig(), [0, 1, 2], {"kd": kd, "kd-matched": same})
    timings = mr.timings(mr.comparisons(outcome))
    assert [t.method for t in timings] == ["kd", "kd-matched"] and timings[0].words() == "1.10 ± 0.26 s"
    text = mf.cost_alt(timings, steps=460)
    assert text == (
        f"Dot chart “{mf.COST_TITLE}”: every student took the same 460 training steps; the seconds vary with the "
        "machine's load and are no comparison of the methods. KD: 1.10 ± 0.26 s over 3 seeds. KD, DKD's weight: "
        "3.30 ± 0.20 s over 3 seeds."
    )
    figure = mf.cost_figure(timings)
    assert {t.marker.color for t in figure.data if t.mode == "markers"} == {mf.COST_COLOR}  # no verdict colours
    assert [t.name for t in figure.data if t.showlegend] == ["mean", "± 1 sd", "one seed"]
    one = mr.timings(mr.comparisons(mr.MethodsOutcome(RunConfig(), [0], {"kd": kd[:1]})))
    assert one[0].words() == "1.00 s" and len(mf.cost_figure(one).data) == 2 + 3  # no sd line for one seed


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
