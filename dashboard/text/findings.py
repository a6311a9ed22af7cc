"""A finding after Hinton in words (kd_core/studies/research.py): what its arms change, each claim's verdict against
what the finding says, the whole result in one line, and its History cell.  No Streamlit.

A claim's verdict is the engine's (``ClaimResult.verdict``: "higher", "lower" or "no clear difference" from the
95 % interval of the paired differences); the page never judges again, so what it says is what ``kd-train --lesson``
prints.  "As the finding says" means the verdict is one the claim allows (``ClaimResult.holds``), which is what the
finding's text was written from.
"""

from __future__ import annotations

from dashboard.text import run_settings, wording
from kd_core.studies.research import MEASURES, ClaimResult, Finding, FindingResult, base_arm

GROUPS = ("Hinton 2015", "After Hinton")  # the lesson picker's two groups: LESSONS, then FINDINGS
# The colour each verdict is drawn in (Streamlit's markdown colours): a claim that holds green, one that does not
# orange — the finding's text would then not describe this run.
HOLDS_COLOUR, FAILS_COLOUR = "green", "orange"
DESCRIBED = {  # settings an arm can change, as a student reads them (anything else by run_settings.phrase)
    "teacher_width": lambda v: f"a teacher {v} units wide",
    "teacher_from": lambda v: "a teacher that is itself a distilled student",
    "teacher_label_smoothing": lambda v: f"a teacher trained with label smoothing ε = {v:g}",
    "transfer": lambda v: f"a transfer set of {v} images in place of the training images",
    "teacher": lambda v: f"teacher {v}",
    "student": lambda v: f"student {v}",
    "student_width": lambda v: f"a student {v} units wide",
    "track_fidelity": lambda v: "agreement with the teacher recorded after every epoch" if v else "",
}


def setting(field: str, value) -> str:
    """One of an arm's settings in words."""
    if field in DESCRIBED:
        return DESCRIBED[field](value)
    return run_settings.phrase(field, value)


def arm_changes(finding: Finding) -> dict[str, str]:
    """Each arm after the first: what it changes from the first (the base settings the sidebar names)."""
    base = finding.arms[base_arm(finding)]
    out = {}
    for arm, settings in finding.arms.items():
        if arm == base_arm(finding):
            continue
        changed = [setting(k, v) for k, v in settings.items() if base.get(k) != v and k != "baseline" and setting(k, v)]
        out[arm] = ", ".join(changed) or "the same settings"
    return out


def arms_sentence(finding: Finding) -> str:
    """ "Its arms: teacher 32; teacher 64 (a teacher 64 units wide); …" — the arms a Distill runs, every one."""
    changes = arm_changes(finding)
    parts = [f"“{arm}”" + (f" ({changes[arm]})" if arm in changes else "") for arm in finding.arms]
    noun = "arm" if len(parts) == 1 else f"{len(parts)} arms"
    return f"Its {noun}: " + "; ".join(parts) + "."


def sidebar_note(finding: Finding) -> str:
    """What the sidebar says in place of the controls: the arms are the finding's, so only the first seed moves."""
    return (
        f"**{wording.sentence(finding.title)}** — a finding after Hinton. Its arms are fixed by the finding (chosen "
        f"on tuning seeds, then measured), so no control here changes them. {arms_sentence(finding)} A Distill runs "
        f"every arm over {finding.seeds} seeds from the first seed below; "
        "its claims were measured from every first seed 0–19."
    )


def lesson_box(finding: Finding) -> str:
    """The lesson box above the tabs: the title, what to look for (and where the paper's effect does not reproduce
    on digits, that it does not: the finding's own text says so).  Its source and claims are under the Distill
    tab's button: on a phone the longest text (capacity-gap) and the button then fit the first screen."""
    return f"**{wording.sentence(finding.title)}** {finding.look_for}"  # "After Hinton" is the picker's group


def claims_sentence(finding: Finding) -> str:
    """ "Its claim, over 8 seeds — KD student − scratch: higher. (Yuan et al. 2020, …)" — what the report will
    judge, and where the finding comes from."""
    claims = "; ".join(f"{c.description}: {' or '.join(c.verdicts)}" for c in finding.claims)
    noun = "claim" if len(finding.claims) == 1 else "claims"
    return f"Its {noun}, over {finding.seeds} seeds — {claims}. *({finding.source}.)*"


def shown(result: ClaimResult) -> str:
    """The mean and its 95 % interval in the measure's unit, with real minus signs: "−4.86 [−6.82, −2.90] points"."""
    return result.shown().replace("-", "−")


def claim_line(result: ClaimResult) -> str:
    """One claim as the report writes it (markdown): the verdict in its colour, what was measured, what the finding
    claims, and whether this run agrees."""
    colour = HOLDS_COLOUR if result.holds else FAILS_COLOUR
    agrees = "as the finding says" if result.holds else "not what the finding says"
    return (
        f":{colour}-background[{result.verdict}] **{result.claim.description}**: {shown(result)} — {agrees} "
        f"(it claims {' or '.join(result.claim.verdicts)})."
    )


def headline(result: FindingResult) -> tuple[str, str]:
    """(words, colour) for the whole run: every claim as the finding says, or not."""
    if result.status != "completed" or not result.claims:
        return "Stopped before every arm finished: no claim judged", "gray"
    if result.holds:
        return "Every claim as the finding says", HOLDS_COLOUR
    held = sum(c.holds for c in result.claims)
    return f"{held} of {len(result.claims)} claims as the finding says", FAILS_COLOUR


def seeds_line(result: FindingResult) -> str:
    """ "seeds 0–7 (8 seeds), every arm on the same seeds" """
    seeds = result.seeds
    if not seeds:
        return "no seed finished"
    span = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {seeds[0]}–{seeds[-1]}"
    return f"{span} ({len(seeds)} {'seed' if len(seeds) == 1 else 'seeds'}), every arm on the same seeds"


def one_seed_note(result: FindingResult) -> str | None:
    if len(result.seeds) < 2:
        return "One seed gives no interval: every verdict reads “no clear difference”. A finding runs its own seeds."
    return None


def history_cell(result: FindingResult) -> str:
    """The History tab's verdict cell of a finding: each claim and its verdict, "(as claimed)" or "(claimed: …)"."""
    if not result.claims:
        return ""
    return "; ".join(
        f"{c.claim.description}: {c.verdict}"
        + (" (as claimed)" if c.holds else f" (claimed: {' or '.join(c.claim.verdicts)})")
        for c in result.claims
    )


def unit(measure: str) -> str:
    return MEASURES[measure][0]
