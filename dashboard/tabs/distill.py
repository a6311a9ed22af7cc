"""Tab "Distill": the sidebar's buttons, the live view of the "main" job, and the report of the last Distill.

Distill trains several seeds (dashboard/runs/seeds.py); the report's headline is the verdict over them
(dashboard/report/summary.py), the live charts draw the first seed's curves.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import streamlit as st

from dashboard.figures import charts
from dashboard.figures import plots as figures
from dashboard.jobs import estimate, progress
from dashboard.jobs import runner as jobs
from dashboard.page import choices, job_panel, resources, sessions, sidebar, style
from dashboard.report import extras as report_extra
from dashboard.report import summary as report
from dashboard.runs import distill as runs
from dashboard.runs import seeds as seed_runs
from dashboard.tabs import history
from dashboard.text import run_settings
from kd_core import RunConfig
from kd_core.runs import served

state = st.session_state
JOB = "main"  # Distill and Train / load teacher share one job: one Stop button serves both
# On a phone the sidebar is an overlay over the page: after Distill it closes, so that the charts are seen.
CLOSE_SIDEBAR = """<script>/* job {job} */
if (window.innerWidth < 640) {{
  const button = document.querySelector('[data-testid="stSidebarCollapseButton"] button');
  if (button) button.click();
}}</script>"""


def launcher(kind: str, config: RunConfig, seeds: int = 1):
    """What ``job_panel.run_button`` starts for Distill ("distill") or Train / load teacher ("teacher")."""

    def launch():
        cache = resources.teacher_cache()
        dataset, _ = resources.dataset_or_problem(config.dataset)
        if kind == "teacher":
            plan = runs.planned_steps(config, dataset, ("teacher",))
            return (lambda on_event, stop: served.load_or_train_teacher(config, cache, on_event, stop)), {
                "kind": kind,
                "what": "Teacher",
                "config": config,
                "plan": plan,
            }
        plan = runs.planned_steps(config, dataset, ("teacher", "student", "baseline"))
        what = "Distillation" if seeds == 1 else f"Distillation over {seeds} seeds"
        keys = seed_runs.run_keys(config, seeds)  # a request whose runs are finished or asked for needs no trainer
        # seed_runs.distill_seeds (and runs.distill inside it) are looked up at the click, so tests can replace them
        return (lambda on_event, stop: seed_runs.distill_seeds(config, seeds, cache, on_event, stop)), {
            "kind": kind,
            "what": what,
            "config": config,
            "plan": plan,
            "seeds": [config.seed + i for i in range(seeds)],
            "run_keys": keys,
            "teacher_keys": seed_runs.teacher_keys(config, seeds),
            "slot": seed_runs.needs_a_slot(keys),
        }

    return launch


def sidebar_buttons(where, config: RunConfig, seeds: int, usable: bool) -> None:
    job_panel.run_button(
        where,
        "Distill",
        JOB,
        launcher("distill", config, seeds),
        key="distill",
        type="primary",
        disabled=not usable,
        width="stretch",
        help="Train the KD student from the teacher's soft targets, and the same small model from scratch for "
        "comparison, for every seed.",
    )
    finding = sidebar.current_finding()  # a finding's arms are fixed: no sidebar change makes its report stale
    changed = None if job_panel.active(JOB) or finding is not None else settings_changed(config, seeds)
    if changed:
        where.warning(changed)
    if usable and not job_panel.active(JOB):
        expected = estimate.estimate_text(
            run_seconds(config, seeds)
            if finding is None
            else sum(run_seconds(finding.config(arm, seed=config.seed), finding.seeds) for arm in finding.arms)
        )
        if expected:
            where.caption(
                f"⏱ This Distill will take **{expected}** on this server.",
                help=(
                    "Its planned steps × the time of one step, measured here once per architecture and batch size, "
                    "× the seeds ÷ the seeds that can train at once. Teachers already cached are not counted"
                    + ("; a finding's arms run one after another." if finding is not None else ".")
                ),
            )
    job_panel.stop_button(
        where, JOB, key="stop", width="stretch", help="End the run now; what was drawn stays on the page."
    )
    if state.get("present"):
        return  # presentation mode: fewer buttons
    job_panel.run_button(
        where,
        "Train / load teacher",
        JOB,
        launcher("teacher", config),
        key="teacher_button",
        disabled=not usable,
        width="stretch",
        help="Train the teacher with these settings, or load it at once if it is already cached.",
    )


def settings_changed(config: RunConfig, seeds: int) -> str | None:
    """ "The report below is for T = 4; you changed T to 8 — click Distill." when the sidebar no longer matches the
    report on screen (None when it does, or there is no report)."""
    outcome: seed_runs.SeedsOutcome | None = sessions.current().seeds_outcome
    if outcome is None:
        return None
    now, then = {**config.to_dict(), "seeds": seeds}, {**outcome.config.to_dict(), "seeds": len(outcome.outcomes)}
    fields = [f for f in choices.ALL_CONTROLS if now.get(f) != then.get(f)]
    if not fields:
        return None
    show = lambda values: ", ".join(f"{choices.SHORT_NAMES[f]} = {shown(f, values.get(f))}" for f in fields[:3])  # noqa: E731
    more = f" (and {len(fields) - 3} more)" if len(fields) > 3 else ""
    return (
        f"The report below is for {show(then)}; you changed {'it' if len(fields) == 1 else 'them'} "
        f"to {show(now)}{more} — click **Distill** to see the new settings."
    )


def shown(field: str, value) -> str:
    """A setting's value as the warning names it: data and a teacher of one's own by name and short hash."""
    if field == "dataset" and value is not None:
        return run_settings.data_name(value)
    if field == "teacher" and value is not None:
        return run_settings.teacher_name(value)
    return choices.format_value(field, value)


def run_seconds(config: RunConfig, seeds: int) -> float:
    """The seconds a Distill of these settings should take here (0 for settings that cannot run: they are reported
    elsewhere)."""
    dataset, _ = resources.dataset_or_problem(config.dataset)
    try:
        plan = runs.planned_steps(config, dataset, ("teacher", "student", "baseline"))
        teacher = resources.step_seconds(
            config.teacher or runs.default_pair(config.dataset)[0],
            config.dataset,
            None,
            config.teacher_batch_size or config.batch_size or 64,
        )
        student = resources.step_seconds(
            config.student or runs.default_pair(config.dataset)[1],
            config.dataset,
            config.student_width,
            config.batch_size or 64,
        )
    except Exception:  # invalid settings are reported elsewhere
        return 0.0
    configs = seed_runs.seed_configs(config, seeds)
    teachers = sum(not resources.teacher_cached(c) for c in configs)
    baselines = sum(not resources.baseline_cached(c) for c in configs)
    slots = max(1, seed_runs.idle_cores())
    return estimate.estimate_seconds(plan, teacher, student, seeds, slots, teachers, baselines)


def collect_finished_job() -> None:
    """Once per finished job: keep its outputs (teacher logits, report, history row)."""
    snap = job_panel.finished_once(JOB)
    if snap is None:
        return
    meta = job_panel.job(JOB).meta
    outcome = snap.result
    resources.remember_teacher(outcome)
    if meta.get("kind") != "distill":
        return
    if isinstance(outcome, seed_runs.SeedsOutcome) and outcome.status == "completed":
        sessions.keep_outcome(outcome, outcome.first)  # the bars use the first seed's models
        resources.remember(outcome.first.result.config, "test", outcome.first.teacher_logits)
    sessions.current().history.append(history.row(meta["config"], snap, job_panel.error_line(snap, meta["config"])))


LIVE_POINTS = 300  # per curve: a live chart redrawn twice a second stays cheap to build, send and hash
_figures: OrderedDict[tuple, tuple] = OrderedDict()  # (job id, seed, events) -> (loss, accuracy) figures
_figures_lock = threading.Lock()


def shown_seed(events: list, seeds: list[int]) -> int:
    """The seed whose curves the live charts draw: the first, unless it has not started while another has (a job
    trains the seeds whose teachers are free first)."""
    if not events or progress.of_seed(events, seeds[0]):
        return seeds[0]
    return next((e.seed for e in events if isinstance(e, progress.SeedEvent)), seeds[0])


def live_figures(job_id: int, seed: int, events: list, stopped: str | None = None) -> tuple:
    """The live charts' figures, built again only when new events have arrived since the last poll."""
    key = (job_id, seed, len(events), stopped)
    with _figures_lock:  # every session's script thread comes here
        found = _figures.get(key)
    if found is None:
        found = (figures.loss_figure(events, max_points=LIVE_POINTS, stopped=stopped), figures.accuracy_figure(events))
    with _figures_lock:
        _figures[key] = found
        _figures.move_to_end(key)
        while len(_figures) > 64:  # a few per session polling now
            _figures.popitem(last=False)
    return found


def stopped_note(snap: jobs.Snapshot) -> str | None:
    """What the loss chart says when the run diverged: its curves end there, often after a single point."""
    if snap.status != jobs.FAILED or snap.error_type != "Diverged" or not snap.error:
        return None
    what = snap.error.split(";")[0].removeprefix(
        "training diverged: "
    )  # "the teacher loss exploded to … at epoch 1, step 2"
    return f"Training stopped: {what}. The curves end there."


def intro(config: RunConfig, seeds: int, usable: bool) -> None:
    """Before the first Distill: what it does, and on a phone a Distill button right here (the sidebar, with its
    own Distill, is folded away there; at 640 px and wider this one is hidden by dashboard/page/style.py)."""
    st.info(
        "Click **Distill** to train the teacher (or load it from the cache), the KD student and the scratch "
        "baseline, for every seed. The charts draw live."
    )
    # The rule that hides it, again right here and as markdown: st.html's styles apply a moment after the page's
    # first elements, and for that moment an open sidebar's page showed two Distill buttons.
    st.markdown(f"<style>{style.HIDE_PAGE_DISTILL}</style>", unsafe_allow_html=True)
    job_panel.run_button(
        st,
        "Distill",
        JOB,
        launcher("distill", config, seeds),
        key="distill_main",
        type="primary",
        disabled=not usable,
        help="The same as the sidebar's Distill.",
    )


def draw_job(snap: jobs.Snapshot | None, usable: bool = True) -> None:
    """The live charts of the "main" job (its status line is drawn by the job panel): the first seed's curves."""
    if snap is None and not usable:  # Distill is greyed out: the problem is said above the tabs
        return
    if snap is None:
        return  # the prompt and the main page's Distill are drawn above (intro)
    meta = job_panel.job(JOB).meta
    if snap.status == jobs.COMPLETED and meta.get("kind") == "teacher" and snap.result is not None:
        st.success("Teacher loaded from the cache." if snap.result.from_cache else "Teacher trained and cached.")
    seeds = meta.get("seeds") or [meta["config"].seed if "config" in meta else 0]
    shown = shown_seed(snap.events, seeds)
    events = progress.of_seed(snap.events, shown)
    loss, accuracy = live_figures(job_panel.job(JOB).id, shown, events, stopped_note(snap))
    left, right = charts.columns(2)  # stacked, full width, in presentation mode
    charts.show(loss, key="loss_chart", where=left)
    charts.show(accuracy, key="accuracy_chart", where=right)
    notes = []
    if len(seeds) > 1:
        notes.append(f"The curves are seed {shown}'s; the other seeds train alongside.")
    replayed = {e.phase for e in events if e.replayed}
    if replayed:  # a cache entry older than stored steps replays its epochs only
        who = "This run came from the results cache" if "student" in replayed else "The teacher came from the cache"
        stepped = replayed == {e.phase for e in events if e.replayed and e.kind == "step"}
        notes.append(
            f"{who}: its stored losses and accuracy per epoch are replayed."
            if stepped
            else f"{who}: its accuracy per epoch is replayed; its per-step losses are not available."
        )
    if notes:
        st.caption(" ".join(notes))


def render(config: RunConfig, usable: bool = True, seeds: int = 1) -> None:
    outcome: seed_runs.SeedsOutcome | None = sessions.current().seeds_outcome
    job = job_panel.job(JOB)
    show = outcome is not None and not job_panel.active(JOB)
    if outcome is None and job is None and usable:  # nothing run yet: say what Distill does, and where it is
        intro(config, seeds, usable)
    same_job = show and job is not None and job.meta.get("kind") == "distill" and job.result is outcome
    if show:
        if not same_job:
            st.caption("From your last completed distillation:")
        report.headline(outcome)
    job_panel.live(
        JOB, lambda snap: draw_job(snap, usable), report.first_report
    )  # the curves right under the verdict: on a 1024×768 projector they start on screen
    if show:
        report.metrics(outcome, job if same_job else None)
        data, _ = resources.dataset_or_problem(outcome.config.dataset)
        if data is not None:
            report_extra.errors(outcome, len(data.y_test))
        report_extra.unseen_class(outcome)
        report_extra.seen_only(outcome)
    if job is not None and job.meta.get("kind") == "distill" and state.get("sidebar_closed_for") != job.id:
        state["sidebar_closed_for"] = job.id  # once per run: the student may open it again while it trains
        if job_panel.started_here(job):
            st.html(CLOSE_SIDEBAR.format(job=job.id), unsafe_allow_javascript=True, width=1)
    if show:
        report.details(outcome, job if same_job else None)
