"""A ship lesson's claim — what the deployable student keeps — checked on a run's shipped files, seed by seed.

    claim = ShipClaim(max_points_below_teacher=2.0, max_size_fraction=0.02)
    for check in check_ship_claim(claim, deployments):   # deployments: kd_core.deploy.ship.ship_seeds(...)
        print(check.line())

Three claims about the **int8** KD student, each measured on the shipped files (through onnxruntime, on the whole
test set), over the seeds of the lesson (one deployment per seed, compared within a seed — paired, as the lessons'
KD − scratch is):

* it beats the int8 scratch student: the 95 % interval of int8 KD − int8 scratch over the seeds is above 0;
* it is at most ``max_points_below_teacher`` points below the FP32 teacher (the mean over seeds of the paired gap);
* its file is at most ``max_size_fraction`` of the FP32 teacher's file, in every seed.

Pure functions of the deployments' records: nothing here trains, exports or times anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from kd_core.deploy.export import DeployError
from kd_core.deploy.ship import Deployment
from kd_core.stats import Interval


@dataclass(frozen=True)
class ShipClaim:
    """What a ship lesson claims of its int8 KD student against the FP32 teacher (kd_core.studies.lessons)."""

    max_points_below_teacher: float  # the mean over seeds of FP32 teacher − int8 KD student, in points, at most
    max_size_fraction: float  # the int8 KD student's file over the FP32 teacher's file, in every seed, at most


@dataclass(frozen=True)
class ClaimCheck:
    """One claim against what the files measured: its words, the figure, its interval over seeds where it has one,
    and whether it holds."""

    name: str  # "kd-beats-scratch", "near-teacher" or "size"
    claim: str  # what is claimed, in words
    value: float  # the measured figure: points, or a fraction for "size"
    interval: Interval | None  # over the seeds (points); None for "size" and for one seed
    holds: bool
    measured: str  # what was measured, in words with its numbers

    def line(self) -> str:
        return f"{'holds' if self.holds else 'FAILS'}: {self.claim} — measured {self.measured}"

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "claim": self.claim,
            "value": self.value,
            "interval": None if self.interval is None else self.interval.to_dict(),
            "holds": self.holds,
            "measured": self.measured,
        }


def paired_points(deployments: Sequence[Deployment], a: tuple[str, str], b: tuple[str, str]) -> list[float]:
    """Test accuracy of file ``a`` − file ``b`` ((model, format) each) in points, one per seed, in the deployments'
    order: both files of a difference come from the same seed's run."""
    return [100 * (d.get(*a).accuracy - d.get(*b).accuracy) for d in deployments]


def _points(interval: Interval) -> str:
    if interval.low is None:
        return f"{interval.mean:+.2f} points (one seed: no interval)"
    return f"{interval.mean:+.2f} points, 95 % interval [{interval.low:+.2f}, {interval.high:+.2f}]"


def check_ship_claim(claim: ShipClaim, deployments: Sequence[Deployment]) -> list[ClaimCheck]:
    """The three claims (module docstring) against one deployment per seed.  DeployError, one line, for no
    deployments or a seed shipped twice (its differences would count twice)."""
    if not deployments:
        raise DeployError("there are no shipped runs to check the claim on")
    seeds = [d.seed for d in deployments]
    if len(set(seeds)) != len(seeds):
        raise DeployError(f"a seed is shipped more than once ({', '.join(map(str, seeds))}); check each seed once")
    over = f"over {len(deployments)} seed{'s' if len(deployments) != 1 else ''}"

    gain = Interval.of(paired_points(deployments, ("student", "int8"), ("baseline", "int8")))
    beats = ClaimCheck(
        "kd-beats-scratch",
        "the int8 KD student beats the int8 scratch student (95 % interval of the difference above 0)",
        gain.mean,
        gain,
        gain.low is not None and gain.low > 0,
        f"{_points(gain)} {over}",
    )

    gap = Interval.of(paired_points(deployments, ("teacher", "fp32"), ("student", "int8")))
    near = ClaimCheck(
        "near-teacher",
        f"the int8 KD student is at most {claim.max_points_below_teacher:g} points below the FP32 teacher "
        "(mean over seeds)",
        gap.mean,
        gap,
        gap.mean <= claim.max_points_below_teacher,
        f"{gap.mean:.2f} points below"
        + ("" if gap.low is None else f" (95 % interval [{gap.low:.2f}, {gap.high:.2f}])")
        + f" {over}",
    )

    fractions = [d.get("student", "int8").bytes / d.get("teacher", "fp32").bytes for d in deployments]
    largest = max(fractions)
    student_kb = max(d.get("student", "int8").bytes for d in deployments) / 1024
    teacher_kb = max(d.get("teacher", "fp32").bytes for d in deployments) / 1024
    size = ClaimCheck(
        "size",
        f"the int8 KD student's file is at most {100 * claim.max_size_fraction:g} % of the FP32 teacher's",
        largest,
        None,
        largest <= claim.max_size_fraction,
        f"{100 * largest:.2f} % at most ({student_kb:,.1f} KB against {teacher_kb:,.1f} KB) {over}",
    )
    return [beats, near, size]


def claim_holds(checks: Sequence[ClaimCheck]) -> bool:
    return all(check.holds for check in checks)
