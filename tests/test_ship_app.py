"""The Ship tab (AppTest): before a Distill it says what it will show; after a tiny real Distill over 2 seeds its
button ships every seed in a worker process, and the page shows the engine's own numbers — six points, the 2×2
table's cells, the sentence's ratios and differences — and downloads whose bytes run in a fresh onnxruntime session
with the accuracy the page reports."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from app_support import finish, open_tab
from streamlit.delta_generator import DeltaGenerator

from dashboard.runs import ship as rs
from dashboard.text import ship as words
from kd_core import RunConfig, load_dataset
from kd_core.deploy.export import onnx_bytes
from kd_core.deploy.ship import summarize
from kd_core.models.architectures import build_model
from kd_core.models.own_teacher import OnnxTeacher
from kd_core.stats import Interval
from kd_core.train.records import RunResult

TIMEOUT = 180


def test_before_a_distill_the_tab_says_what_it_will_show_and_to_press_distill(app):
    assert "Ship" in [t.label for t in app.tabs]
    labels = [t.label for t in app.tabs]
    assert labels.index("Ship") == labels.index("Look closer") + 1
    open_tab(app, "Ship")
    hints = [i.value for i in app.info if "Nothing to ship yet" in i.value]
    assert len(hints) == 1 and "**Distill**" in hints[0] and "Pareto frontier" in hints[0]
    assert not [b for b in app.button if b.key == "ship_run"]


def ship_charts(at) -> dict[str, dict]:
    found = {}
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        title = spec.get("layout", {}).get("title", {})
        found[title.get("text", "") if isinstance(title, dict) else str(title)] = spec
    return found


@pytest.mark.slow  # a Distill over 2 seeds, then 12 files exported, quantized, timed: 20-40 s on 2 cores
def test_export_and_measure_shows_the_engines_numbers_and_files_that_run(app, monkeypatch):
    rs.SHIPMENTS.clear()
    recorded = {}
    real = DeltaGenerator.download_button

    def spy(self, label, data=None, file_name=None, *args, **kwargs):
        if str(kwargs.get("key", "")).startswith("ship_download"):  # not Look closer's or History's
            recorded[file_name] = data
        return real(self, label, data, file_name, *args, **kwargs)

    monkeypatch.setattr(DeltaGenerator, "download_button", spy)
    for key, value in (("teacher_epochs", 2), ("epochs", 2), ("seeds", 2)):
        app.slider(key=key).set_value(value).run()
    app.button(key="distill").click().run()
    finish(app)
    assert not app.exception and not app.error
    open_tab(app, "Ship")
    assert any(c.value.startswith("Exports 12 files (2 seeds") for c in app.caption)
    app.button(key="ship_run").click().run()
    job = app.session_state["jobs"]["ship"]
    assert job.join(TIMEOUT), "shipping did not finish"
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    outcome = job.snapshot().result
    assert isinstance(outcome, rs.ShipOutcome) and outcome.seeds == [0, 1]
    assert rs.shipped(outcome.keys) is outcome  # remembered for the server: the button is gone
    assert not [b for b in app.button if b.key == "ship_run"]

    # Six points at the engine's means, and the frontier.
    rows = summarize(outcome.deployments)
    latency = ship_charts(app)["Accuracy against latency"]
    points = [t for t in latency["data"] if t["mode"] == "markers"]
    assert len(points) == 6
    for trace, row in zip(points, rows):
        assert trace["y"][0] == pytest.approx(100 * row.figures["accuracy"].mean)
        assert trace["x"][0] == pytest.approx(1e6 * row.figures["latency_seconds"].mean)
        assert trace["error_y"]["arrayminus"][0] == pytest.approx(
            100 * (row.figures["accuracy"].mean - row.figures["accuracy"].low)
        )
    assert any(t["name"] == "Pareto frontier" for t in latency["data"])
    assert "Accuracy against file size" in ship_charts(app) and "Time per image against batch size" in ship_charts(app)

    # The 2×2 table: the engine's accuracy mean [95 % interval] and size, cell by cell.
    (table,) = [t.value for t in app.table if "int8" in t.value.columns]
    assert list(table.index) == ["KD student", "Scratch student"]
    sizes = next(c.value for c in app.caption if c.value.startswith("Test accuracy in %"))
    for name, model in (("KD student", "student"), ("Scratch student", "baseline")):
        for column, format in (("FP32", "fp32"), ("int8", "int8")):
            (found,) = [r for r in rows if (r.model, r.format) == (model, format)]
            acc = found.figures["accuracy"]
            assert table.loc[name, column] == f"{100 * acc.mean:.2f} [{100 * acc.low:.2f}, {100 * acc.high:.2f}]"
        kb = [words.kilobytes(r.figures["bytes"].mean) for r in rows if r.model == model]
        assert f"{name}: FP32 {kb[0]}, int8 {kb[1]}" in sizes

    # The sentence's numbers are the measured ones, paired by seed.
    teacher = [d.get("teacher", "fp32") for d in outcome.deployments]
    kd = [d.get("student", "int8") for d in outcome.deployments]
    scratch = [d.get("baseline", "int8") for d in outcome.deployments]
    sentence = next(m.value for m in app.markdown if m.value.startswith("**The int8 KD student is"))
    size = sum(t.bytes / s.bytes for t, s in zip(teacher, kd)) / 2
    assert f"{size:.1f}× smaller" in sentence
    speed = sum(t.latency.median / s.latency.median for t, s in zip(teacher, kd)) / 2
    assert (f"{speed:.1f}× faster" if speed >= 1 else f"{1 / speed:.1f}× slower") in sentence or round(speed, 1) == 1
    vs_teacher = Interval.of([s.accuracy - t.accuracy for t, s in zip(teacher, kd)])
    vs_scratch = Interval.of([k.accuracy - b.accuracy for k, b in zip(kd, scratch)])
    assert words.points_words(vs_teacher, "it") in sentence
    assert words.points_words(vs_scratch, "the int8 student trained without the teacher") in sentence

    # Where int8 pays: one line per model, from the first seed's measured curves.
    first = outcome.deployments[0]
    fp32 = [(t.batch, t.per_image.median) for t in first.get("student", "fp32").batch_curve]
    int8 = [(t.batch, t.per_image.median) for t in first.get("student", "int8").batch_curve]
    assert any(words.int8_pays("student", fp32, int8) in m.value for m in app.markdown)
    assert any("CPU time of one onnxruntime thread" in c.value for c in app.caption)

    # Downloads: the first seed's six files; each runs in a fresh session with the accuracy the page reports.
    assert sorted(recorded) == sorted(
        f"{m}-{f}.onnx" for m in ("teacher", "student", "baseline") for f in ("fp32", "int8")
    )
    dataset = load_dataset("digits")
    images, labels = dataset.x_test.numpy(), dataset.y_test.numpy()
    for name, make in recorded.items():
        data = make() if callable(make) else make
        session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        logits = session.run(None, {session.get_inputs()[0].name: images})[0]
        model, format = name[: -len(".onnx")].split("-")
        assert (logits.argmax(axis=1) == labels).mean() == pytest.approx(first.get(model, format).accuracy)
    code = next(c.value for c in app.code if "onnxruntime" in c.value)
    assert '"student-int8.onnx"' in code and '{"images": images}' in code and "argmax(axis=1)" in code
    assert any("Download the files (seed 0)" in m.value for m in app.markdown)
    assert np.isfinite(outcome.seconds) and outcome.seconds > 0


# ---------------------------------------------------------------- an uploaded ONNX teacher, in the worker's task


class FirstTen(torch.nn.Module):
    """A "teacher" with no weights to quantize: onnxruntime's quantizer finds nothing in it."""

    def forward(self, x):
        return x.flatten(1)[:, :10]


def test_an_uploaded_onnx_teacher_that_cannot_be_quantized_is_left_out_with_a_sentence():
    """ship_task (what the worker runs) ships the two students and says why the teacher is not among the files;
    nothing is left in the temporary folder."""
    torch.manual_seed(0)
    config = RunConfig(seed=0, device="cpu")
    teacher = OnnxTeacher(onnx_bytes(FirstTen(), torch.zeros(1, 1, 8, 8)), "teacher.onnx")
    models = {
        "teacher": teacher,
        "student": build_model("mlp-small", (1, 8, 8), 10),
        "baseline": build_model("mlp-small", (1, 8, 8), 10),
    }
    result = RunResult(config, "completed", models=models)
    before = set(Path(tempfile.gettempdir()).glob("kd-ship-*"))
    environ = {k: v for k, v in os.environ.items() if k.startswith("KD_")}  # the worker's are the server's
    outcome = rs.ship_task(rs.ShipRequest((result,), environ))
    assert {k: v for k, v in os.environ.items() if k.startswith("KD_")} == environ
    assert set(Path(tempfile.gettempdir()).glob("kd-ship-*")) == before
    assert outcome.teacher_note.startswith("Your uploaded ONNX teacher is left out: onnxruntime found nothing")
    assert rs.models_shipped(outcome) == ["student", "baseline"]
    assert sorted(f.name for f in outcome.files) == sorted(
        ["student-fp32.onnx", "student-int8.onnx", "baseline-fp32.onnx", "baseline-int8.onnx"]
    )
    numbers = rs.headline(outcome)
    assert numbers.size_ratio is None and numbers.vs_scratch is not None
    assert words.headline(numbers).startswith("The int8 KD student is ")
    assert outcome.mean == (0.5,) and outcome.std == (0.5,)
