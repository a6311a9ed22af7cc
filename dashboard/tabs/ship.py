"""Tab "Ship": what the student is for — the last Distill's teacher, KD student and scratch student as the files a
device would run (FP32 and int8 ONNX), measured through onnxruntime.

The headline is a Pareto chart: accuracy against latency and against file size, six points with their intervals
over the seeds and the frontier.  Under it a 2×2 table (KD / scratch × FP32 / int8), one sentence with the measured
numbers, the time per image against the batch size (int8 does not always pay at this scale: said from the numbers),
and the first seed's six files to download with the code that runs one.  The work is dashboard/runs/ship.py's job,
the numbers kd_core.deploy's; this module only draws them.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.figures import charts
from dashboard.figures import ship as sf
from dashboard.jobs import runner as jobs
from dashboard.page import headings, job_panel
from dashboard.report import summary as report
from dashboard.runs import ship as rs
from dashboard.runs.distill import format_seconds
from dashboard.tabs.look_closer import last_distill
from dashboard.text import ship as words
from kd_core.deploy.measure import CURVE_BATCHES
from kd_core.models.latency import ROUNDS

TITLE = "Ship the student"
JOB = "ship"
INTRO = (
    "Distillation exists to put a model on a device that cannot run the teacher. Here each model of your last "
    "Distill becomes the file a device would run — ONNX, in FP32 and in int8 — and each file is measured as it is: "
    "its size, its accuracy on the test set and its time per image through onnxruntime."
)
TIMING = "Times are CPU time of one onnxruntime thread on this server"
FORMAT_NAMES = {"fp32": "FP32", "int8": "int8"}


def hint() -> None:
    st.info(
        "Nothing to ship yet: click **Distill** in the sidebar first. Then this tab exports the teacher, the KD "
        "student and the scratch student of every seed as FP32 and int8 ONNX files, and shows accuracy against "
        "latency and file size (with the Pareto frontier), a table of the two students in both formats, when int8 "
        "pays, and the files to download with the code that runs them."
    )


def launcher(seeds_outcome):
    def launch():
        return rs.ship_job(seeds_outcome), {
            "what": "Export and measure",
            "stopped": "Nothing was shipped: click Export and measure again.",
        }

    return launch


def estimate_line(seeds_outcome) -> str:
    seeds = len(rs.results_of(seeds_outcome))
    return (
        f"Exports {3 * 2 * seeds} files ({seeds} seed{'s' if seeds != 1 else ''} × 3 models × FP32 and int8), "
        f"quantizes and times each in {ROUNDS} rounds at batch sizes {', '.join(map(str, CURVE_BATCHES))}: about "
        f"{format_seconds(rs.estimate_seconds(seeds_outcome))} here."
    )


def render() -> None:
    headings.title(TITLE)
    st.caption(INTRO)
    seeds_outcome = last_distill()
    if seeds_outcome is None or not seeds_outcome.completed:
        hint()
        return
    st.caption(f"From your last distillation: {report.settings_line(seeds_outcome)}.")
    why_not = rs.problem(seeds_outcome)
    if why_not:
        st.warning(why_not)
        return
    keys = rs.keys_of(rs.results_of(seeds_outcome))
    if rs.shipped(keys) is None:  # this server has not shipped these runs yet: a click does
        st.caption(estimate_line(seeds_outcome))
        left, _ = st.columns([2, 5])
        job_panel.run_button(
            left, "Export and measure", JOB, launcher(seeds_outcome), key="ship_run", type="primary", width="stretch"
        )

    def draw(snap: jobs.Snapshot | None) -> None:
        found = rs.shipped(keys)
        if found is None and snap is not None and isinstance(snap.result, rs.ShipOutcome) and snap.result.keys == keys:
            found = snap.result
        if found is not None:
            shipment(found)
        elif snap is not None and snap.status == jobs.RUNNING and not snap.waiting:
            done = [e for e in snap.events if isinstance(e, rs.ShipEvent)]
            finished, total = (done[-1].done, done[-1].total) if done else (0, len(keys))
            if finished < total:
                st.caption(
                    f"Exporting, quantizing and timing seed {finished + 1} of {total}'s six files "
                    f"({finished} done; about {format_seconds(rs.estimate_seconds(seeds_outcome))} in all)."
                )

    job_panel.live(JOB, draw)


def shipment(outcome: rs.ShipOutcome) -> None:
    """The whole report of one shipment."""
    rows = outcome.summary
    seeds = len(outcome.seeds)
    over = f"the mean over {seeds} seeds, bars its 95 % interval" if seeds > 1 else "one seed: no interval"
    if outcome.teacher_note:
        st.warning(outcome.teacher_note)
    left, right = charts.columns(2)  # side by side; stacked on a phone
    charts.show(sf.latency_figure(rows), key="ship_latency", where=left, alt=sf.points_alt(rows, "latency_seconds"))
    charts.show(sf.size_figure(rows), key="ship_size", where=right, alt=sf.points_alt(rows, "bytes"))
    st.caption(
        f"Each point is one file: {over}. The dotted green line joins the Pareto frontier — the files no other file "
        f"beats on both accuracy and cost. Latency is at batch 1; {TIMING[0].lower()}{TIMING[1:]}."
    )
    sentence = words.headline(rs.headline(outcome))
    if sentence:
        st.markdown(f"**{sentence}**")
    st.table(table(outcome).set_index("student"))  # a plain table: its cells wrap on a phone
    st.caption(f"Test accuracy in %, mean [95 % interval] over the seeds. File sizes: {sizes_line(outcome)}.")
    batch_section(outcome)
    downloads(outcome)


def table(outcome: rs.ShipOutcome) -> pd.DataFrame:
    """Rows KD student and scratch student, columns FP32 and int8: accuracy mean [95 % interval] in %."""
    records = []
    for model in ("student", "baseline"):
        record = {"student": sf.NAMES[model]}
        for format in ("fp32", "int8"):
            row = outcome.row(model, format)
            record[FORMAT_NAMES[format]] = "–" if row is None else words.percent_interval(row.figures["accuracy"])
        records.append(record)
    return pd.DataFrame(records)


def sizes_line(outcome: rs.ShipOutcome) -> str:
    """Each student file's size, as the table's caption says them: "KD student: FP32 6.7 KB, int8 4.8 KB; …"."""
    parts = []
    for model in ("student", "baseline"):
        shipped = [(f, outcome.row(model, f)) for f in ("fp32", "int8")]
        sizes = ", ".join(f"{FORMAT_NAMES[f]} {words.kilobytes(r.figures['bytes'].mean)}" for f, r in shipped if r)
        if sizes:
            parts.append(f"{sf.NAMES[model]}: {sizes}")
    return "; ".join(parts)


def batch_section(outcome: rs.ShipOutcome) -> None:
    headings.section("Does int8 pay at this scale?")
    curves = {}
    for model in rs.models_shipped(outcome):
        for format in ("fp32", "int8"):
            found = rs.curve(outcome, model, format)
            if found is not None:
                curves[(model, format)] = found
    for model in rs.models_shipped(outcome):
        fp32, int8 = curves.get((model, "fp32")), curves.get((model, "int8"))
        if fp32 and int8:
            st.markdown("- " + words.int8_pays(model, [p[:2] for p in fp32], [p[:2] for p in int8]))
    charts.show(sf.batch_figure(curves), key="ship_batches")
    st.caption(
        f"Seed {outcome.first_seed}'s files; each point the median of {ROUNDS} timing rounds, bars their range. "
        f"{TIMING}. An int8 file converts between float and int8 at every call, a cost a batch of one cannot spread: "
        "on models this small it can outweigh what the int8 arithmetic saves."
    )


def downloads(outcome: rs.ShipOutcome) -> None:
    headings.section(f"Download the files (seed {outcome.first_seed})")
    files = list(outcome.files)
    for start in range(0, len(files), 2):
        for file, column in zip(files[start : start + 2], st.columns(2)):
            data = file.data
            column.download_button(
                f"{sf.label(file.model, file.format)} ({words.kilobytes(len(data))})",
                lambda data=data: data,  # bound now; the click runs later, in its own thread
                file.name,
                "application/octet-stream",
                key=f"ship_download_{file.model}_{file.format}",
                on_click="ignore",
                icon=":material/download:",
                width="stretch",
                help=f"{file.name}: input {file.input_name!r}, shape {file.input_shape}, {file.input_type}",
            )
    example = outcome.file("student", "int8") or files[0]
    others = "" if len(outcome.seeds) == 1 else f" of the {len(outcome.seeds)} seeds shipped and measured"
    st.caption(
        f"Seed {outcome.first_seed}'s files, the first{others}, named model-format.onnx ({example.name}: the KD "
        "student in int8; baseline is the scratch student). Each stands alone (no second weights file) and "
        "carries the run's settings in its metadata. To run one:"
    )
    st.code(
        words.onnxruntime_code(
            example.name, example.input_name, example.input_shape, example.input_type, outcome.mean, outcome.std
        ),
        language="python",
        wrap_lines=True,
    )
