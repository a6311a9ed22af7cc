"""Tab "Methods": KD, DKD, DIST, logit standardisation, FitNets and the weight-matched KD control, side by side.

One click trains every chosen method over the sidebar's seeds on the page's settings (only the loss changes),
through Distill's own path (dashboard/runs/methods.py), so runs already made are loaded, not trained again.  The
headline is a forest plot: method − scratch and method − KD with their 95 % intervals and a dot per seed.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.figures import charts
from dashboard.figures import methods as mf
from dashboard.jobs import runner as jobs
from dashboard.page import headings, job_panel, resources
from dashboard.runs import methods as mr
from dashboard.text import run_settings
from kd_core import RunConfig
from kd_core.config import ConfigError, validate
from kd_core.methods.registry import COMPARED, METHODS

TITLE = "Methods side by side — what came after Hinton"
INTRO = (
    "Each method trains a student from the same initial weights, on the same data, with the same teacher; only the "
    "loss differs. Every run also trains its scratch baseline, so each method is measured against learning alone "
    "and, seed by seed, against KD. A method whose interval of method − KD includes 0 is not shown to differ."
)
JOB = "methods"


def applicable(config: RunConfig) -> tuple[list[str], dict[str, str]]:
    """The methods that can run on these settings, and why each other one cannot (plain words)."""
    ok, why = [], {}
    for name in COMPARED:
        try:
            validate(mr.method_config(config, name))
            ok.append(name)
        except ConfigError as error:
            why[name] = str(error)
    return ok, why


def launcher(config: RunConfig, names: list[str], seeds: int):
    def launch():
        fn = mr.methods_job(config, names, seeds, resources.teacher_cache())
        return fn, {
            "what": "Methods",
            "stopped": "Methods that finished all their seeds are kept.",
            "config": config,
            "methods": mr.chosen(names),
            "seeds": [config.seed + i for i in range(seeds)],
        }

    return launch


def table(found: list[mr.Comparison], steps: int | None) -> pd.DataFrame:
    def show(interval) -> str:
        if interval.low is None:
            return f"{100 * interval.mean:+.2f}"
        return f"{100 * interval.mean:+.2f} [{100 * interval.low:+.2f}, {100 * interval.high:+.2f}]"

    return pd.DataFrame(
        {
            "method": [mf.title(c.method) for c in found],
            "student %": [f"{100 * c.accuracy:.2f}" for c in found],
            "− scratch (points, 95 %)": [show(c.scratch_interval) for c in found],
            "vs scratch": [c.scratch_interval.verdict for c in found],
            "− KD (points, 95 %)": ["–" if c.method == "kd" else show(c.kd_interval) for c in found],
            "vs KD": ["–" if c.method == "kd" else mr.verdict_vs_kd(c.kd_interval) for c in found],
            "training steps": [f"{steps:,}" if steps else "the same" for _ in found],
        }
    )


def cost_note(found: list[mr.Comparison], steps: int | None) -> str:
    """What a method costs here (the same steps for all), and why the seconds under it compare nothing."""
    steps_text = f"the same {steps:,} training steps" if steps else "the same number of training steps"
    note = (
        f"**Every method's student took {steps_text}**: only the loss differs, so in steps they cost the same. The "
        "seconds below, with their spread over the seeds, are no comparison of speed: the methods train one after "
        "another while other seeds, students and work share the machine, so a change of load moves a whole method's "
        "seconds at once (KD at DKD's weight, nearly KD's own computation, has measured 0.79× KD's time in one run "
        "and 3.2× in another)."
    )
    if any(c.from_cache for c in found):
        note += " Some runs came from the results cache: their seconds are those of when they were trained."
    return note


def draw(snap: jobs.Snapshot | None) -> None:
    if snap is None:
        st.info(
            "Pick the methods and click **Run methods**: each trains over the sidebar's seeds (KD always among them)."
        )
        return
    outcome = snap.result
    if not isinstance(outcome, mr.MethodsOutcome):
        return  # still running: the status line above says how far
    for name, reason in outcome.skipped.items():
        st.warning(f"{mf.title(name)} could not run on this data: {reason}")
    found = mr.comparisons(outcome)
    if not found:
        st.warning("No method finished all its seeds, so there is nothing to compare yet.")
        return
    st.markdown(mr.summary_line(found))
    charts.show(mf.forest_figure(found), key="methods_forest", alt=mf.forest_alt(found))
    steps = mr.student_steps(outcome.config)
    st.dataframe(table(found, steps), hide_index=True, width="stretch")
    seeds = run_settings.seeds_text(outcome.seeds[0], len(outcome.seeds))
    st.caption(
        f"{seeds[0].upper()}{seeds[1:]}; each dot is one seed, the bar its 95 % interval (green: above 0, red: below, "
        f"grey: includes 0). Settings: {run_settings.describe(outcome.config, skip=('loss',))}."
    )
    headings.section("Loss parts over training")
    st.caption(
        f"Seed {outcome.seeds[0]}'s student, each part's mean per epoch, on a log scale (one tick per power of 10). "
        "Total is what was minimised; soft is the teacher's term, hard the labels'; DKD's TCKD and NCKD, DIST's "
        "inter and intra terms and FitNets' hint are each a part."
    )
    curves = mr.part_curves(outcome, outcome.seeds[0])
    names = list(curves)
    for row in range(0, len(names), 2):  # two side by side; Streamlit stacks them on a phone
        for name, where in zip(names[row : row + 2], charts.columns(2)):
            charts.show(mf.parts_figure(name, curves[name]), key=f"methods_parts_{name}", where=where)
    headings.section("Cost")
    st.markdown(cost_note(found, steps))
    timings = mr.timings(found)
    if timings:
        charts.show(mf.cost_figure(timings), key="methods_cost", alt=mf.cost_alt(timings, steps))


def about() -> None:
    with st.expander("The methods, their formulas and sources"):
        for name in COMPARED:
            m = METHODS[name]
            params = ", ".join(f"{k} {p.default:g}" for k, p in m.params.items()) or "λ and T from the sidebar"
            st.markdown(
                f"**{m.title}** (`--loss {name}`) — {m.description} *Defaults:* {params}. *Source:* {m.reference}."
            )


def render(config: RunConfig, seeds: int) -> None:
    headings.title(TITLE)
    st.caption(INTRO)
    ok, why = applicable(config)
    others = [name for name in ok if name != "kd"]
    # The picks live in session state (and the URL: dashboard/page/links.py); a method these settings rule out is
    # dropped.
    st.session_state["methods_picked"] = [m for m in st.session_state.get("methods_picked", others) if m in others]
    picked = st.multiselect("Methods (KD is always included)", others, key="methods_picked", format_func=mf.title)
    for name, reason in why.items():
        st.caption(f"{mf.title(name)} cannot run on these settings: {reason}")
    st.caption(
        f"Over {seeds} seed{'s' if seeds != 1 else ''} from the sidebar, on its settings: "
        f"{run_settings.describe(config, skip=('loss',))}. T is every method's temperature; λ is KD's alone."
    )
    job_panel.run_and_stop(JOB, "Run methods", launcher(config, picked, seeds), disabled="kd" not in ok)
    job_panel.live(JOB, draw)
    about()
