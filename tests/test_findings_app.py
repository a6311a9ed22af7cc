"""The findings after Hinton on the page (AppTest): the grouped picker, a finding's sidebar and lesson box, its
Distill run as the sidebar's job, its report's verdicts against what the finding claims, History, links and the
class board.

Most tests replace the arms' runs (``dashboard.runs.findings.run_arm``) with made-up accuracies chosen so that each
claim's verdict is one the claim allows: the page's wiring is checked in seconds, and the verdicts are still the
engine's own (``research.judge``).  One test trains a finding shrunk to two seeds and a few epochs for real.
"""

from __future__ import annotations

import dataclasses
import json
from types import SimpleNamespace

import numpy as np
import pytest
from app_support import charts, main_job, open_link, open_tab
from streamlit.testing.v1 import AppTest

from dashboard.runs import findings as finding_runs
from dashboard.tabs import history
from kd_core.studies.lessons import LESSONS
from kd_core.studies.research import FINDINGS, base_arm
from kd_core.train.records import EpochRecord, PhaseReport, RunResult

# Made-up mean accuracies (fractions) per finding, arm and part, chosen so each claim comes out as it claims;
# ALTERNATE: a side that swings ± this much seed by seed, so a claimed "no clear difference" has an interval
# around 0.  Parts left out are not trained in that arm (no scratch baseline).
MADE_UP = {
    "born-again": {
        "generation 1": {"teacher": 0.970, "student": 0.960},
        "generation 2": {"teacher": 0.960, "student": 0.955},
    },
    "capacity-gap": {
        "teacher 32": {"teacher": 0.93, "student": 0.90, "baseline": 0.85},
        "teacher 64": {"teacher": 0.95, "student": 0.89},
        "teacher 256": {"teacher": 0.96, "student": 0.88},
        "teacher 1024": {"teacher": 0.97, "student": 0.86},
        "1024 through an assistant": {"teacher": 0.95, "student": 0.87},
    },
    "teacher-assistant": {
        "teacher 1024": {"teacher": 0.97, "student": 0.86},
        "1024 through an assistant": {"teacher": 0.95, "student": 0.86},
    },
    "smoothed-teacher": {
        "plain teacher": {"teacher": 0.965, "student": 0.90},
        "smoothed teacher": {"teacher": 0.975, "student": 0.88},
    },
    "poor-teacher": {"tiny teacher": {"teacher": 0.95, "student": 0.89, "baseline": 0.82}},
    "fidelity": {"as large as the teacher": {"teacher": 0.975, "student": 0.970, "baseline": 0.972}},
    "noise-transfer": {
        "real images": {"teacher": 0.975, "student": 0.96, "baseline": 0.95},
        "noise": {"teacher": 0.975, "student": 0.70},
    },
}
ALTERNATE = {("teacher-assistant", "1024 through an assistant", "student"): 0.01}
FIDELITY = {"student": (0.99, 0.01), "baseline": (0.97, 0.05)}  # (agreement, KL to the teacher) at the end


def made_up_run(finding, arm: str, config, seed: int) -> RunResult:
    """One seed's run of ``arm`` with MADE_UP's accuracies, a little seed-to-seed spread, and for the fidelity
    finding agreement and KL per epoch."""
    reports, history_rows = {}, []
    for part, accuracy in MADE_UP[finding.name][arm].items():
        swing = ALTERNATE.get((finding.name, arm, part), 0.0) * (-1) ** seed
        accuracy += swing + 0.001 * ((seed * 7 + len(part)) % 3 - 1)
        agreement, kl = FIDELITY.get(part, (0.95, 0.1)) if part != "teacher" else (None, None)
        if agreement is not None:
            agreement += 0.001 * (seed % 3)
        reports[part] = PhaseReport(accuracy, [accuracy] * 10, 1000, 4000, agreement, kl)
        if part != "teacher" and finding.name == "fidelity":
            for epoch in (1, 2, 3):
                history_rows.append(
                    EpochRecord(part, epoch, 1.0 / epoch, {}, accuracy, agreement - 0.05 / epoch, kl * (4 - epoch))
                )
    return RunResult(config.replace(seed=seed), "completed", history=history_rows, **reports)


@pytest.fixture
def made_up(monkeypatch):
    """The arms' runs replaced by MADE_UP's (no training), and the smoothed teachers' matrices by fixed ones."""
    calls = []

    def run_arm(config, seeds, cache, on_event, stop):
        # Two findings share arms (the 1024 teacher and its assistant): the one chosen on the page is meant.
        finding = FINDINGS[main_job_finding()]
        arm = next(a for a in finding.arms if finding.config(a, seed=config.seed) == config)
        calls.append((finding.name, arm, config.seed, seeds))
        runs = [made_up_run(finding, arm, config, config.seed + i) for i in range(seeds)]
        return SimpleNamespace(status="completed", outcomes=[SimpleNamespace(result=r) for r in runs])

    def similarity(finding, seed, cache):
        plain = np.full((10, 10), 0.02) + np.eye(10) * 0.8
        return {
            arm: plain if i == 0 else np.full((10, 10), 0.01) + np.eye(10) * 0.9 for i, arm in enumerate(finding.arms)
        }

    monkeypatch.setattr(finding_runs, "run_arm", run_arm)
    monkeypatch.setattr(finding_runs, "similarity_of", similarity)
    return calls


def main_job_finding() -> str:
    """The finding the running job was started for (the job's meta), from inside its thread."""
    from dashboard.jobs import runner

    return runner._this_job().meta["finding"]


def choose(at: AppTest, name: str) -> AppTest:
    """Pick finding ``name`` as a student would: the "After Hinton" group, then the finding."""
    at.sidebar.radio(key="lesson_group").set_value("After Hinton").run()
    return at.sidebar.selectbox(key="lesson").set_value(name).run()


def distill(at: AppTest) -> AppTest:
    at.sidebar.button(key="distill").click().run()
    job = main_job(at)
    assert job is not None and job.meta["kind"] == "finding", "the sidebar's Distill did not start the finding"
    assert job.join(180), "the finding's job did not finish"
    return at.run()


def page_text(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


# ---------------------------------------------------------------- the picker and the sidebar


def test_the_picker_groups_hinton_2015_and_after_hinton(app):
    group = app.sidebar.radio(key="lesson_group")
    assert group.value == "Hinton 2015" and list(group.options) == ["Hinton 2015", "After Hinton"]
    assert list(app.selectbox(key="lesson").options)[: len(LESSONS)] == [each.title for each in LESSONS.values()]
    group.set_value("After Hinton").run()
    assert app.session_state["lesson"] == next(iter(FINDINGS))  # the group's first finding
    assert list(app.selectbox(key="lesson").options) == [f.title for f in FINDINGS.values()]
    app.sidebar.radio(key="lesson_group").set_value("Hinton 2015").run()
    assert app.session_state["lesson"] == "little-data" and not app.exception


@pytest.mark.parametrize("name", list(FINDINGS))
def test_a_finding_shows_its_text_and_fixed_arms_instead_of_controls(app, name):
    finding = FINDINGS[name]
    choose(app, name)
    assert not app.exception, app.exception
    box = " ".join(i.value for i in app.info)
    assert finding.title in box and finding.look_for in box  # the text, with its "not on digits" where it says so
    sidebar_text = " ".join(c.value for c in app.sidebar.caption)
    assert "fixed by the finding" in sidebar_text and all(f"“{arm}”" in sidebar_text for arm in finding.arms)
    sliders = {s.key for s in app.sidebar.slider}
    assert sliders == {"seed"}, f"controls that would not change what runs: {sliders - {'seed'}}"


# ---------------------------------------------------------------- its Distill and its verdicts


@pytest.mark.parametrize("name", list(FINDINGS))
def test_each_findings_verdicts_are_ones_its_claims_allow(app, made_up, name):
    finding = FINDINGS[name]
    distill(choose(app, name))
    assert not app.exception, app.exception
    assert {call[1] for call in made_up} == set(finding.arms)  # every arm ran, each over the finding's seeds
    assert {call[3] for call in made_up} == {finding.seeds}
    text = page_text(app)
    assert "Every claim as the finding says" in text
    for claim in finding.claims:
        (line,) = [m.value for m in app.markdown if f"**{claim.description}**" in m.value]
        verdict = line.split("[", 1)[1].split("]", 1)[0]
        assert verdict in claim.verdicts and "as the finding says" in line, line
    drawn = charts(app)
    assert all(claim.description in drawn for claim in finding.claims)  # a dot per seed for each claim
    figure = {
        "capacity-gap": "The student's accuracy by its teacher's width",
        "teacher-assistant": "The student's accuracy by its teacher's width",
        "smoothed-teacher": "Where each teacher puts its wrong-class probability (T = 4)",
        "fidelity": "Agreement with the teacher over training, KD against scratch",
        "noise-transfer": "What a student learns from a teacher's answers on noise",
    }.get(name, "Test accuracy, seed by seed")
    assert figure in drawn, list(drawn)


def test_a_verdict_the_claim_does_not_allow_is_said_plainly(app, made_up, monkeypatch):
    monkeypatch.setitem(MADE_UP, "poor-teacher", {"tiny teacher": {"teacher": 0.95, "student": 0.80, "baseline": 0.85}})
    distill(choose(app, "poor-teacher"))
    text = page_text(app)
    assert "0 of 1 claims as the finding says" in text and "not what the finding says (it claims higher)" in text


def test_a_finished_finding_is_one_history_row_with_each_verdict(app, made_up):
    distill(choose(app, "smoothed-teacher"))
    rows = app.session_state["history"]
    assert len(rows) == 1 and rows[0]["lesson"] == "smoothed-teacher" and rows[0]["seeds"] == 12
    for claim in FINDINGS["smoothed-teacher"].claims:
        assert claim.description in rows[0]["verdict"]
    downloaded = json.loads(history.json_text(rows))  # the outcome kept for the report is in no download
    assert not any(key.startswith("_") for key in downloaded[0]) and "Verdict" in downloaded[0]
    open_tab(app, "History")
    (table,) = [t.value for t in app.table if "Verdict" in t.value.columns]
    assert table["Lesson"].tolist() == [FINDINGS["smoothed-teacher"].title]
    assert "higher (as claimed)" in table["Verdict"].iloc[0]
    open_tab(app, "Distill")  # its report comes back from History's row
    assert "Every claim as the finding says" in page_text(app)


def test_a_real_finding_run_trains_its_teachers_once(app, monkeypatch):
    """The poor-teacher finding shrunk to two seeds and a couple of epochs, trained for real through the page's
    job; a second Distill serves every run at once, and the page's numbers are the engine's verdict over them."""
    tiny = FINDINGS["poor-teacher"]
    arm = base_arm(tiny)
    shrunk = dataclasses.replace(tiny, seeds=2, arms={arm: {**tiny.arms[arm], "epochs": 1, "teacher_epochs": 2}})
    monkeypatch.setitem(FINDINGS, "poor-teacher", shrunk)
    distill(choose(app, "poor-teacher"))
    assert not app.exception, app.exception
    outcome = app.session_state["history"][-1][history.FINDING_OUTCOME]
    (claim,) = outcome.result.claims
    (line,) = [m.value for m in app.markdown if "**KD student − scratch**" in m.value]
    assert f"[{claim.verdict}]" in line and claim.shown().replace("-", "−") in line
    dots = charts(app)["KD student − scratch"]["data"][-1]["x"]  # a dot per seed, in points
    assert dots == pytest.approx([100 * d for d in claim.differences])
    distill(app)
    again = app.session_state["history"][-1][history.FINDING_OUTCOME]
    assert all(r.teacher_from_cache or r.from_results_cache for r in again.result.arms[arm].runs)
    assert [c.differences for c in again.result.claims] == [c.differences for c in outcome.result.claims]


# ---------------------------------------------------------------- links and the class board


def test_a_link_opens_a_finding_with_its_first_seed():
    at = open_link("?lesson=capacity-gap&seed=3")
    assert at.session_state["lesson"] == "capacity-gap" and at.sidebar.radio(key="lesson_group").value == "After Hinton"
    assert at.slider(key="seed").value == 3 and not [w.value for w in at.warning]
    assert FINDINGS["capacity-gap"].title in " ".join(i.value for i in at.info)
    assert dict(at.query_params) == {"lesson": "capacity-gap", "seed": "3"}  # the link the page writes back
    at.slider(key="seed").set_value(5).run()
    assert dict(at.query_params) == {"lesson": "capacity-gap", "seed": "5"}


def test_a_link_that_sets_a_findings_fixed_arms_is_told_they_are_fixed():
    at = open_link("?lesson=noise-transfer&temperature=8")
    (warning,) = [w.value for w in at.warning]
    assert "temperature=8: the finding noise-transfer runs its own fixed arms" in warning
    assert at.session_state["temperature"] == FINDINGS["noise-transfer"].config("real images").temperature


def test_the_class_board_names_a_findings_runs_after_it(tmp_path):
    """Each finding's arms with a scratch baseline (the board draws KD − scratch) go on the board under the
    finding's name, in a colour of their own."""
    from dashboard.figures import board as board_figures
    from kd_core import ResultCache
    from kd_core.board.collect import FolderReader, build_board, lesson_of
    from kd_core.runs.setup import load

    cache = ResultCache(tmp_path)
    shown = {}
    for finding in FINDINGS.values():
        for arm in finding.arms:
            config = load(finding.config(arm, seed=2))[0]
            if not config.baseline:
                continue
            assert lesson_of(config, "temperature") == finding.name, (finding.name, arm)
            made = made_up_run(finding, arm, config, 2)
            result = RunResult(config, "completed", teacher=made.teacher, student=made.student, baseline=made.baseline)
            cache.put(config.run_key(), {}, {"result": result.to_json()})
            shown[finding.name] = result.student.accuracy - result.baseline.accuracy
    board = build_board(FolderReader().read(tmp_path), "temperature")
    assert set(board.lessons) == set(shown) == {"capacity-gap", "poor-teacher", "fidelity", "noise-transfer"}
    for group in board.groups:
        assert group.points[0].gain == pytest.approx(shown[group.lesson])
    colours = {board_figures.lesson_color(name) for name in shown}
    assert len(colours) == 4 and board_figures.FREE_PLAY_COLOR not in colours


def test_switching_lessons_while_a_finding_runs_keeps_it_running_and_its_history_row(app, made_up, monkeypatch):
    """The finding's job is the sidebar's: another lesson's page shows its status and a disabled Distill, and the
    finished finding still goes into History, whichever lesson is open then."""
    import threading

    release = threading.Event()
    quick = finding_runs.run_arm

    def slow(config, seeds, cache, on_event, stop):
        release.wait(60)
        return quick(config, seeds, cache, on_event, stop)

    monkeypatch.setattr(finding_runs, "run_arm", slow)
    choose(app, "poor-teacher").sidebar.button(key="distill").click().run()
    job = main_job(app)
    assert job.meta["kind"] == "finding" and not job.done
    app.sidebar.radio(key="lesson_group").set_value("Hinton 2015").run()
    assert not app.exception, app.exception
    assert app.sidebar.button(key="distill").disabled  # one job at a time: the finding's
    release.set()
    assert job.join(60)
    app.run()
    assert not app.exception and [r["lesson"] for r in app.session_state["history"]] == ["poor-teacher"]
    choose(app, "poor-teacher")
    assert "Every claim as the finding says" in page_text(app)


def test_a_findings_estimate_counts_every_arm(app, monkeypatch):
    """The sidebar's "⏱ This Distill will take …" sums the finding's arms, each over its seeds, and says so."""
    from dashboard.jobs import estimate
    from dashboard.tabs import distill as distill_tab

    monkeypatch.setattr(estimate, "SHOW_ABOVE_SECONDS", 0)  # shown however fast this machine's steps are
    finding = FINDINGS["capacity-gap"]
    choose(app, "capacity-gap")
    config = finding.config(base_arm(finding), seed=0)
    every_arm = sum(distill_tab.run_seconds(finding.config(arm, seed=0), finding.seeds) for arm in finding.arms)
    assert every_arm > distill_tab.run_seconds(config, finding.seeds) > 0  # five arms, 1024-wide teachers, none cached
    (caption,) = [c for c in app.sidebar.caption if c.value.startswith("⏱ This Distill will take")]
    assert "a finding's arms run one after another" in caption.proto.help
