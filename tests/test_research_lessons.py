"""The findings after Hinton (kd_core/studies/research.py): each claim's verdict holds through the product, a
claim's interval is the paired difference it names, the figures' data, the JSON, and ``kd-train --lesson`` of a
finding (kd_core/cli/research.py: its tables, JSON and one-line exits).

The fast tier runs the cheapest finding once (start seed 0) and the command on two seeds; the slow tier checks
every finding's claims from every start seed 0–19, as benchmarks/measure_research_lessons.py measures them for
docs/lessons.md.  The findings' settings were chosen on tuning seeds 100–107, never these.
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import numpy as np
import pytest

from kd_core import TeacherCache
from kd_core.cli.research import list_findings
from kd_core.cli.research import main as kd_train_finding
from kd_core.config import ConfigError, RunConfig, parent_config, validate
from kd_core.execution.executors import make_executor
from kd_core.runs.cache import ResultCache
from kd_core.runs.seeds import SeedsResult
from kd_core.studies.research import (
    FINDINGS,
    Claim,
    Finding,
    FindingResult,
    agreement_by_epoch,
    capacity_curve,
    class_similarity,
    finding_named,
    judge,
    run_finding,
)
from kd_core.train.records import EpochRecord, PhaseReport, RunResult

START_SEEDS = list(range(20))


@pytest.fixture(scope="module")
def executor():
    return make_executor("local", jobs=2, threads=1)


def phase(accuracy: float, agreement: float | None = None, kl: float | None = None) -> PhaseReport:
    return PhaseReport(accuracy, [accuracy] * 10, 100, 400, agreement, kl)


def run_of(seed: int, teacher: float, student: float, baseline: float | None, **changes) -> RunResult:
    return RunResult(
        RunConfig(seed=seed, **changes),
        "completed",
        phase(teacher),
        phase(student, agreement=student + 0.01, kl=1 - student),
        None if baseline is None else phase(baseline, agreement=baseline, kl=1 - baseline),
    )


# ---------------------------------------------------------------- the registry


@pytest.mark.parametrize("name", list(FINDINGS))
def test_every_arm_of_a_finding_is_a_valid_run_and_its_claims_name_its_arms(name):
    finding = FINDINGS[name]
    assert finding.claims and finding.seeds >= 2 and finding.look_for.count(".") >= 2 and finding.source
    for arm in finding.arms:
        config = validate(finding.config(arm, seed=3))
        assert config.seed == 3 and config.dataset == "digits"
        parent = parent_config(config)
        if parent is not None:  # a chain's earlier link runs at the run's seed
            assert parent.seed == 3
    for claim in finding.claims:
        for side in (claim.a, claim.b):
            assert isinstance(side, float) or side[0] in finding.arms


def test_a_claim_or_finding_that_names_what_does_not_exist_is_refused():
    with pytest.raises(ValueError, match="measure"):
        Claim("x", ("a", "student"), ("a", "baseline"), ("higher",), measure="loss")
    with pytest.raises(ValueError, match="part"):
        Claim("x", ("a", "pupil"), ("a", "baseline"), ("higher",))
    with pytest.raises(ValueError, match="verdicts"):
        Claim("x", ("a", "student"), ("a", "baseline"), ("helps",))
    with pytest.raises(ValueError, match="no arm"):
        Finding("f", "t", "l.", "s", {"a": {}}, (Claim("x", ("b", "student"), ("a", "student"), ("higher",)),), 2, "")
    with pytest.raises(ConfigError, match="capacity-gap"):
        finding_named("capacity")


# ---------------------------------------------------------------- claims over synthetic runs


def test_a_claim_is_the_paired_difference_seed_by_seed_with_a_student_t_interval():
    finding = Finding(
        "f",
        "t",
        "l.",
        "s",
        {"wide": {}, "narrow": {}},
        (
            Claim("wide − narrow", ("wide", "student"), ("narrow", "student"), ("lower",)),
            Claim("wide − chance", ("wide", "student"), 0.1, ("higher",)),
            Claim("KL", ("wide", "student"), ("wide", "baseline"), ("lower",), "teacher_kl"),
        ),
        4,
        "",
    )
    wide = [run_of(s, 0.97, a, 0.80) for s, a in enumerate((0.80, 0.82, 0.81, 0.85))]
    narrow = [run_of(s, 0.96, a, 0.80) for s, a in enumerate((0.85, 0.86, 0.88, 0.87))]
    diff, chance, kl = judge(finding, {"wide": wide, "narrow": narrow})
    expected = [-0.05, -0.04, -0.07, -0.02]
    mean, sd = statistics.fmean(expected), statistics.stdev(expected)
    half = 3.182446305284263 * sd / 2  # t(0.975, 3) · sd / √4
    assert diff.differences == pytest.approx(expected)
    assert (diff.interval.low, diff.interval.high) == pytest.approx((mean - half, mean + half))
    assert diff.verdict == "lower" and diff.holds
    assert kl.interval.mean == pytest.approx(statistics.fmean([0.80 - a for a in (0.80, 0.82, 0.81, 0.85)]))
    assert chance.verdict == "higher" and chance.differences == pytest.approx([0.70, 0.72, 0.71, 0.75])
    assert diff.shown().endswith("points") and kl.shown().endswith("nats")
    with pytest.raises(ValueError, match="different seeds"):
        judge(finding, {"wide": wide, "narrow": narrow[1:] + narrow[:1]})


def test_the_figures_data_come_from_the_arms():
    finding = FINDINGS["capacity-gap"]
    accuracy = {"teacher 32": 0.88, "teacher 64": 0.87, "teacher 256": 0.85, "teacher 1024": 0.83}
    arms = {
        arm: SeedsResult(
            [run_of(s, 0.97, accuracy.get(arm, 0.86), 0.82 if arm == "teacher 32" else None) for s in (0, 1)]
        )
        for arm in finding.arms
    }
    curve = capacity_curve(FindingResult(finding, arms))
    assert curve.widths == [32, 64, 256, 1024]
    assert curve.student == pytest.approx([0.88, 0.87, 0.85, 0.83])
    assert (curve.assistant_width, curve.assistant_student, curve.scratch) == (64, pytest.approx(0.86), 0.82)

    fidelity = FINDINGS["fidelity"]
    arm = next(iter(fidelity.arms))
    runs = []
    for seed, offset in ((0, 0.0), (1, 0.02)):
        run = run_of(seed, 0.97, 0.97, 0.96)
        run.history = [
            EpochRecord(part, epoch, 0.1, {}, 0.9, agreement=base + epoch / 100 + offset)
            for part, base in (("student", 0.90), ("baseline", 0.85))
            for epoch in (1, 2, 3)
        ]
        runs.append(run)
    curves = agreement_by_epoch(FindingResult(fidelity, {arm: SeedsResult(runs)}), arm)
    assert curves["student"] == pytest.approx([0.92, 0.93, 0.94])
    assert curves["baseline"] == pytest.approx([0.87, 0.88, 0.89])
    runs[0].history = []
    runs[1].history = []
    with pytest.raises(ValueError, match="track_fidelity"):
        agreement_by_epoch(FindingResult(fidelity, {arm: SeedsResult(runs)}), arm)


def test_the_two_teachers_class_similarity_matrices():
    """Rows of softened test outputs by true class: each sums to 1 and is the class itself first; the smoothed
    teacher's rows differ from the plain one's."""
    matrices = class_similarity(FINDINGS["smoothed-teacher"], seed=0)
    assert set(matrices) == {"plain teacher", "smoothed teacher"}
    for matrix in matrices.values():
        assert matrix.shape == (10, 10)
        assert np.allclose(matrix.sum(axis=1), 1.0, atol=1e-5)
        assert (matrix.argmax(axis=1) == np.arange(10)).all()
    assert not np.allclose(matrices["plain teacher"], matrices["smoothed teacher"], atol=1e-3)


# ---------------------------------------------------------------- through the product


def test_a_finding_holds_over_its_seeds_and_its_json_says_so(executor, tmp_path):
    result = run_finding(FINDINGS["poor-teacher"], start_seed=0, executor=executor)
    assert result.status == "completed" and result.seeds == list(range(8))
    assert result.holds, [(c.claim.description, c.shown(), c.verdict) for c in result.claims]
    data = json.loads(json.dumps(result.to_json()))
    assert data["finding"] == "poor-teacher" and data["holds"] is True and data["seeds"] == list(range(8))
    claim = data["claims"][0]
    assert claim["verdict"] == "higher" and claim["claimed"] == ["higher"] and claim["unit"] == "points"
    runs = data["arms"]["tiny teacher"]["runs"]
    gains = [100 * (r["student"]["accuracy"] - r["baseline"]["accuracy"]) for r in runs]
    assert claim["per_seed"] == pytest.approx(gains)
    assert claim["difference"]["mean"] == pytest.approx(statistics.fmean(gains))
    assert data["arms"]["tiny teacher"]["settings"]["teacher"] == "mlp-tiny"


def test_kd_train_runs_a_finding_prints_its_claims_and_writes_json(tmp_path, capsys):
    out = tmp_path / "finding.json"
    code = kd_train_finding(["--lesson", "poor-teacher", "--seed", "1", "--seeds", "2", "--json", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    assert "poor-teacher" in printed and "seeds 1–2" in printed and "tiny teacher" in printed
    assert "KD student − scratch" in printed and "points" in printed
    data = json.loads(out.read_text())
    assert data["seeds"] == [1, 2] and len(data["claims"]) == 1
    mean = data["claims"][0]["difference"]["mean"]
    assert f"{mean:+.2f}" in printed
    assert "poor-teacher" in list_findings() and all(name in list_findings() for name in FINDINGS)

    assert kd_train_finding(["--lesson", "poor-teacher", "--seed", "1", "--seeds", "1", "--jobs", "1"]) == 0
    printed = capsys.readouterr().out
    assert "one seed gives no interval" in printed and "no clear difference" in printed


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--lesson", "no-such-finding"], "invalid choice"),
        (["--lesson", "fidelity", "--seeds", "0"], "--seeds"),
        (["--lesson", "fidelity", "--seed", "-1"], "--seed"),
        (["--lesson", "fidelity", "--jobs", "0"], "--jobs"),
        (["--lesson", "fidelity", "--jobs", "100000"], "--jobs"),
        (["--lesson", "fidelity", "--temperature", "2"], "unrecognized arguments"),
        (["--lesson", "fidelity", "--json", "/no/such/folder/out.json"], "does not exist"),
        ([], "--lesson"),
    ],
)
def test_bad_input_exits_2_with_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exited:
        kd_train_finding(argv)
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert message in err and len(err.strip().splitlines()) == 1


# ---------------------------------------------------------------- every start seed (slow)


# A window of these costs minutes on two cores (1024-wide teachers; 20 seeds of an assistant chain), so the slow tier
# checks them from start seed 0 only; benchmarks/measure_research_lessons.py judges them from every start seed 0–19
# into docs/lessons.md.
COSTLY = {"capacity-gap", "teacher-assistant"}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(FINDINGS))
def test_every_claim_holds_from_every_start_seed(name, executor, tmp_path_factory):
    """Seeds 0 … 19 + seeds − 1 run once each; the window from start seed s is judged as run_finding(s) would."""
    finding = FINDINGS[name]
    folder = tmp_path_factory.getbasetemp()
    cache, results = TeacherCache(folder / "research-teachers"), ResultCache(folder / "research-runs")
    n = finding.seeds
    starts = [0] if name in COSTLY else START_SEEDS
    everything = run_finding(finding, 0, starts[-1] + n, executor=executor, cache=cache, results=results)
    failed = []
    for start in starts:
        window = {arm: s.runs[start : start + n] for arm, s in everything.arms.items()}
        for claim in judge(finding, window):
            if not claim.holds:
                failed.append((start, claim.claim.description, claim.shown(), claim.verdict))
    assert not failed, (name, failed)
    assert not any(
        math.isnan(c.interval.mean) for c in judge(finding, {a: s.runs[:n] for a, s in everything.arms.items()})
    )


# ---------------------------------------------------------------- the measured block and the README


ROOT = Path(__file__).resolve().parents[1]


def table_rows(text: str, first_cell: str) -> list[list[str]]:
    """The rows of the Markdown table whose header starts with ``| first_cell |``, each row's cells, with an empty
    first cell filled by the row above's (a finding's further claims leave it empty)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_cell} |"))
    rows, above = [], ""
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        above = cells[0] = cells[0] or above
        rows.append(cells)
    return rows


def research_block() -> str:
    text = (ROOT / "docs" / "lessons.md").read_text()
    return text[text.index("<!-- research: measured by") : text.index("<!-- research: end -->")]


def test_the_measured_block_held_every_claim_from_every_start_seed_under_every_kernel_set():
    """benchmarks/measure_research_lessons.py's block names each claim as it reads now (a restated claim must be
    judged again) and each held from all 20 start seeds under at least three kernel sets."""
    rows = {(r[0].split(" (")[0].strip("`"), r[1]): r for r in table_rows(research_block(), "finding")}
    for finding in FINDINGS.values():
        for claim in finding.claims:
            row = rows[(finding.name, claim.description)]
            assert row[2] == " or ".join(claim.verdicts), (finding.name, row)
            holds = [c for c in row[4:] if c.count("/") == 1 and c.replace("/", "").isdigit()]
            assert len(holds) >= 3 and all(c == "20/20" for c in holds), (finding.name, row)


def test_the_readmes_findings_table_repeats_the_measured_block():
    """The README's "After Hinton" table copies each claim's seeds, claim and range over every window and kernel set
    from the measured block: a new measurement that changes them must change the README too."""
    measured = {(r[0].split(" (")[0].strip("`"), r[1]): r for r in table_rows(research_block(), "finding")}
    shown = {(r[0].strip("`"), r[3]): r for r in table_rows((ROOT / "README.md").read_text(), "finding")}
    for finding in FINDINGS.values():
        for i, claim in enumerate(finding.claims):  # a finding's further claims leave its seeds cell empty
            row, block = shown[(finding.name, claim.description)], measured[(finding.name, claim.description)]
            assert row[2] == (str(finding.seeds) if i == 0 else "") and row[4] == block[2], (finding.name, row, block)
            assert row[5] == next(c for c in block if " … " in c), (finding.name, row, block)
