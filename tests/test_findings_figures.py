"""The findings' figures (dashboard/figures/findings.py) and words (dashboard/text/findings.py): what each draws is
the data given, in the units the page says, with titles, axis titles and a text alternative."""

from __future__ import annotations

import numpy as np
import pytest

from dashboard.figures import charts
from dashboard.figures import findings as figures
from dashboard.text import findings as words
from kd_core.runs.seeds import SeedsResult
from kd_core.stats import Interval
from kd_core.studies.research import FINDINGS, CapacityCurve, ClaimResult, FindingResult, judge
from kd_core.train.records import PhaseReport, RunResult


def test_a_claim_draws_a_dot_per_seed_its_interval_and_mean_in_its_unit():
    differences = [-0.05, -0.03, -0.04, -0.06]
    interval = Interval.of(differences)
    figure = figures.claim_figure("student of 1024 − of 32", differences, [0, 1, 2, 3], interval, "points", "green")
    band, mean, dots = figure.data
    assert list(dots.x) == pytest.approx([-5.0, -3.0, -4.0, -6.0]) and list(dots.text) == [
        f"seed {s}" for s in range(4)
    ]
    assert list(band.x) == pytest.approx([100 * interval.low, 100 * interval.high])
    assert mean.x[0] == pytest.approx(100 * interval.mean)
    assert figure.layout.xaxis.ticksuffix == " pt" and figure.layout.title.text == "student of 1024 − of 32"
    kl = figures.claim_figure("KL: KD − scratch", [-0.01, -0.02], [0, 1], Interval.of([-0.01, -0.02]), "nats")
    assert list(kl.data[-1].x) == pytest.approx([-0.01, -0.02]) and kl.layout.xaxis.ticksuffix == " nats"
    one = figures.claim_figure("one seed", [0.02], [5], Interval.of([0.02]))
    assert len(one.data) == 2  # no interval from one seed: the mean and the dot


def test_the_arms_bars_leave_out_what_an_arm_did_not_train():
    figure = figures.arms_figure(
        {
            "real": {"teacher": 0.97, "student": 0.96, "baseline": 0.95},
            "noise": {"teacher": 0.97, "student": 0.7, "baseline": None},
        }
    )
    by_name = {trace.name: trace for trace in figure.data}
    assert list(by_name["scratch"].y) == [pytest.approx(95.0), None]
    assert list(by_name["KD student"].y) == pytest.approx([96.0, 70.0])
    assert figure.layout.yaxis.title.text == "test accuracy (%)" and figure.layout.xaxis.title.text == "arm"
    assert "Bar chart “Each arm's mean test accuracy”: test accuracy (%) against arm" in charts.alt_text(figure)


def test_the_capacity_curve_marks_the_assistants_point_at_the_widest_teacher():
    curve = CapacityCurve([32, 64, 256, 1024], [0.93, 0.95, 0.96, 0.97], [0.90, 0.89, 0.88, 0.86], 64, 0.95, 0.87, 0.85)
    figure = figures.capacity_figure(curve)
    teacher, student, assistant = figure.data
    assert list(student.x) == [32, 64, 256, 1024] and list(student.y) == pytest.approx([90, 89, 88, 86])
    assert list(assistant.x) == [1024] and assistant.y[0] == pytest.approx(87) and "64-wide assistant" in assistant.name
    assert figure.layout.xaxis.type == "log" and figure.layout.xaxis.title.text == "teacher width (hidden units)"
    assert figure.layout.shapes[0].y0 == pytest.approx(85)  # scratch, dashed
    alone = figures.capacity_figure(CapacityCurve([1024], [0.97], [0.86], 64, 0.95, 0.87, None))
    assert [t.name for t in alone.data][-1].startswith("KD student through") and not alone.layout.shapes


def test_the_similarity_matrices_show_where_the_wrong_class_probability_goes():
    plain = np.full((10, 10), 0.01) + np.eye(10) * 0.8
    plain[3, 5] = plain[5, 3] = 0.11  # a 3 looks like a 5: dark knowledge
    smoothed = np.full((10, 10), 0.011) + np.eye(10) * 0.9  # every wrong class alike
    figure = figures.similarity_figure({"plain teacher": plain, "smoothed teacher": smoothed}, 4.0)
    left, right = figure.data
    assert left.z[0][0] is None and sum(v for v in left.z[3] if v is not None) == pytest.approx(100)
    assert left.z[3][5] == pytest.approx(100 * 0.11 / 0.19) and right.z[3][5] == pytest.approx(100 / 9)  # a 3 as a 5
    assert left.zmax == right.zmax == pytest.approx(100 * 0.11 / 0.19)  # one scale: the smoothed rows flat, pale
    assert [a.text for a in figure.layout.annotations][:2] == ["plain teacher", "smoothed teacher"]
    assert "T = 4" in figure.layout.title.text and charts.alt_text(figure).startswith("Heatmap")
    assert figure.layout.xaxis.type == "category" and figure.layout.xaxis.title.text == "wrong class"


def test_fidelity_draws_agreement_and_kl_over_the_epochs():
    figure = figures.fidelity_figure(
        {"student": [0.9, 0.95, 0.97], "baseline": [0.88, 0.92, 0.93]},
        {"student": [0.3, 0.1, 0.05], "baseline": [0.4, 0.3, 0.2]},
    )
    student = next(t for t in figure.data if t.name == "KD student" and t.showlegend is not False)
    assert list(student.x) == [1, 2, 3] and list(student.y) == pytest.approx([90, 95, 97])
    kl = [t for t in figure.data if t.yaxis == "y2"]
    assert len(kl) == 2 and list(kl[0].y) == pytest.approx([0.3, 0.1, 0.05])
    assert figure.layout.xaxis2.title.text == "epoch" and figure.layout.yaxis.title.text == "agreement (%)"


def test_noise_bars_are_noise_real_and_chance():
    figure = figures.noise_figure(0.71, 0.96, 0.1)
    (bars,) = figure.data
    assert list(bars.x) == ["KD on noise", "KD on real images", "chance"] and list(bars.y) == pytest.approx(
        [71, 96, 10]
    )


def test_per_seed_lines_follow_the_seeds():
    figure = figures.per_seed_figure(
        {"generation 1: teacher": [0.97, 0.96], "generation 1: KD student": [0.96, None]}, [4, 5]
    )
    assert [list(t.x) for t in figure.data] == [[4, 5], [4, 5]] and list(figure.data[1].y) == [
        pytest.approx(96.0),
        None,
    ]
    assert figure.layout.xaxis.title.text == "seed"


def result_of(name: str, student: float, baseline: float) -> FindingResult:
    """A one-arm finding's result with these accuracies over two seeds (a little spread)."""
    finding = FINDINGS[name]
    (arm,) = finding.arms
    runs = [
        RunResult(
            finding.config(arm, seed=s),
            "completed",
            teacher=PhaseReport(0.95, [], 1, 1),
            student=PhaseReport(student + 0.002 * s, [], 1, 1, 0.9, 0.1),
            baseline=PhaseReport(baseline, [], 1, 1, 0.8, 0.3),
        )
        for s in (0, 1)
    ]
    return FindingResult(finding, {arm: SeedsResult(runs)}, judge(finding, {arm: runs}))


def test_a_claims_line_says_its_verdict_and_whether_the_finding_says_so():
    held = result_of("poor-teacher", 0.90, 0.82)
    (claim,) = held.claims
    assert isinstance(claim, ClaimResult) and claim.verdict == "higher"
    line = words.claim_line(claim)
    assert line.startswith(":green-background[higher] **KD student − scratch**: +") and "as the finding says" in line
    assert "−" not in words.shown(claim) and words.headline(held) == ("Every claim as the finding says", "green")
    failed = result_of("poor-teacher", 0.80, 0.85)
    assert ":orange-background[lower]" in words.claim_line(failed.claims[0])
    assert "not what the finding says (it claims higher)" in words.claim_line(failed.claims[0])
    assert words.headline(failed) == ("0 of 1 claims as the finding says", "orange")
    assert words.history_cell(failed) == "KD student − scratch: lower (claimed: higher)"


@pytest.mark.parametrize("name", list(FINDINGS))
def test_every_arm_is_named_with_what_it_changes(name):
    finding = FINDINGS[name]
    sentence = words.arms_sentence(finding)
    assert all(f"“{arm}”" in sentence for arm in finding.arms)
    assert set(words.arm_changes(finding)) == set(finding.arms) - {next(iter(finding.arms))}
    assert all(change and "None" not in change for change in words.arm_changes(finding).values())
