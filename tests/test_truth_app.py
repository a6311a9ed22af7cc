"""Every path tells the truth (AppTest, headless): each line that describes a run reads the run's own resolved
settings, never the page's defaults — one test per contradiction a new user found.

    an upload on the opening lesson     the lesson box, the sidebar, the settings line, History and the command
    a CSV on the opening lesson         the same in rows, and a λ caption that matches the verdict
    an ONNX teacher                     its parameters (its initializers), no teacher epochs anywhere
    a student larger than its teacher   "× larger"
    +0.6 points on 10,000 test images   no "near zero" λ caption there, one on the digits' 360 (realdata for MNIST)
    the omitted 3s                      the test 3s and the paper's 206 / 109 errors (realdata)
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import torch
from app_support import in_tab
from own_data_support import csv_text, image_folder, zip_of
from streamlit.testing.v1 import AppTest

from dashboard.runs import exports
from kd_core.models.architectures import build_model
from kd_core.studies.lessons import LESSONS

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
MNIST_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"
HASH = re.compile(r"[0-9a-f]{8}")


@pytest.fixture(autouse=True)
def upload_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("KD_UPLOAD_DIR", str(tmp_path / "uploads"))
    return tmp_path / "uploads"


@pytest.fixture
def at():
    page = AppTest.from_file(APP, default_timeout=120).run()
    assert not page.exception, page.exception
    yield page
    job = (page.session_state["jobs"] if "jobs" in page.session_state else {}).get("main")
    if job is not None:  # never leak a worker into the next test
        job.stop(wait=30)


def finish(at: AppTest) -> AppTest:
    assert at.session_state["jobs"]["main"].join(300), "the worker did not finish"
    at.run()
    assert not at.exception, at.exception
    return at


def upload(at: AppTest, key: str, name: str, data: bytes) -> AppTest:
    at.file_uploader(key=key).set_value((name, data, "application/octet-stream")).run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest, *kinds: str) -> list[str]:
    kinds = kinds or ("info", "warning", "error", "caption", "markdown", "code", "success")
    return [str(e.value) for kind in kinds for e in at.get(kind)]


def widget_keys(at: AppTest) -> set[str]:
    return {w.key for kind in ("selectbox", "slider", "select_slider") for w in at.get(kind)}


def settings_line(at: AppTest) -> str:
    return next(t for t in texts(at, "caption") if t.startswith("Settings of this run: "))


def history_row(at: AppTest):
    tables = in_tab(at, "History", lambda: [t.value for t in at.get("table")])
    (table,) = [t for t in tables if "Changed settings" in t.columns]
    return table.iloc[-1]


def command(at: AppTest) -> str:
    return in_tab(at, "Look closer", lambda: next(c for c in texts(at, "code") if c.startswith("kd-train")))


def no_server_path(at: AppTest, upload_dir: Path) -> None:
    """Nothing a student reads, in any tab, names where the server keeps an upload (the History downloads included)."""

    def read() -> str:
        shown = " ".join(texts(at)) + " ".join(str(t.value) for t in at.get("table"))
        return shown + " ".join(str(e.label) for kind in ("metric", "radio") for e in at.get(kind))

    shown = " ".join(in_tab(at, tab.label, read) for tab in at.tabs)
    from dashboard.tabs import history

    shown += history.csv_text(at.session_state["history"]) + history.json_text(at.session_state["history"])
    assert str(upload_dir) not in shown and "uploads/" not in shown


# ---------------------------------------------------------------- 2. a lesson applied to an upload


def test_a_small_zip_on_the_opening_lesson_gives_a_report_whose_every_line_describes_what_ran(at, tmp_path, upload_dir):
    lesson = LESSONS["little-data"]
    upload(at, "upload_data", "shapes.zip", zip_of(image_folder(tmp_path / "shapes", per_class=30)))
    # The sidebar: the upload replaces the dataset line and the architectures shown; the share is in its images.
    assert not {"dataset", "teacher", "student", "student_width", "epochs", "teacher_epochs"} & widget_keys(at)
    [note] = [c for c in texts(at, "caption") if c.startswith("**Data: your shapes.zip**")]
    digest = HASH.search(note).group()
    assert "3 classes (circle, cross, square), 72 training and 18 test images" in note
    assert "Teacher cnn-large, 10 epochs; student cnn-small with 8 channels, 10 epochs" in note
    share = at.select_slider(key="student_fraction")
    assert share.value == pytest.approx(0.3) and share.format_func(share.value) == "30 % (21 images)"
    # The lesson box: what the lesson becomes here, no promise measured on the digits, what one test image is worth.
    [box] = [i for i in texts(at, "info") if i.startswith("**Lesson:")]
    assert lesson.look_for not in box and "beats the same model trained from scratch" not in box
    assert "On your shapes.zip the students see 21 of your 72 training images (7 of each class; on the digits" in box
    assert "Its claim, KD helps, was measured on the digits only" in box
    assert "Your 18 test images (6 of each class) make one image worth 5.6 points of accuracy" in box
    assert "a difference of a few points is an image or two" in box
    at.button(key="distill").click().run()
    finish(at)
    assert not at.error
    line = settings_line(at)
    assert line.startswith(f"Settings of this run: your shapes (sha {digest}), cnn-large → cnn-small with 8 channels")
    assert "students see 30 % of the training images (21 of 72)" in line and "teacher 10 epochs" in line
    assert "mlp-large" not in line and "digits" not in line
    warning = next(w for w in texts(at, "warning") if w.startswith("Few test images"))
    assert "18 test images (6 of each class): one image is 5.6 points" in warning
    assert any("of the 18 test images" in m for m in texts(at, "markdown") if m.startswith("The "))
    assert not any("correct loss" in c for c in texts(at, "caption"))  # the correct loss is the one in use
    row = history_row(at)
    assert f"dataset your shapes (sha {digest})" in row["Changed settings"]
    assert "students see 30 %" in row["Changed settings"] and "teacher cnn-large" in row["Changed settings"]
    full = command(at)
    assert (
        re.match(r"kd-train --dataset 'folder:shapes;sha=[0-9a-f]{16}' ", full) and full.split("sha=")[1][:8] == digest
    )
    assert "--student-fraction 0.3" in full
    beside = in_tab(at, "Look closer", lambda: next(c for c in texts(at, "caption") if "files of your own" in c))
    assert "put the folder **shapes** (your zip, unzipped) in the folder you run the command from" in beside
    assert f"sha {digest}" in beside
    no_server_path(at, upload_dir)


def test_a_csv_on_the_opening_lesson_counts_rows_and_its_lambda_caption_matches_the_verdict(at, upload_dir):
    upload(at, "upload_data", "iris.csv", csv_text(150).encode())
    assert at.select_slider(key="student_fraction").format_func(0.2) == "20 % (24 images)"  # the share's own words
    [box] = [i for i in texts(at, "info") if i.startswith("**Lesson:")]
    assert "the students see 24 of your 120 training rows (8 of each class;" in box
    assert "Your 30 test rows (10 of each class) make one row worth 3.3 points of accuracy" in box
    at.slider(key="seeds").set_value(3).run()
    at.button(key="distill").click().run()
    finish(at)
    line = settings_line(at)
    assert line.startswith("Settings of this run: your iris.csv (sha ") and "(24 of 120)" in line
    captions = " ".join(texts(at, "caption"))
    assert "fits the labels anyway" not in captions and "correct loss" not in captions
    interval = at.session_state["seeds_outcome"].interval
    why = [c for c in texts(at, "caption") if c.startswith("**Why λ may change little here.**")]
    if why and interval.verdict == "hurts":  # KD behind: the caption says what copying the teacher costs
        assert "costs this student accuracy" in why[0] or "below zero" in why[0] or "barely pull" in why[0]
    assert "--dataset 'csv:iris.csv;sha=" in command(at)
    no_server_path(at, upload_dir)


# ---------------------------------------------------------------- 3. an uploaded ONNX teacher


def test_an_onnx_teacher_has_its_own_parameter_count_and_no_teacher_epochs(at, tmp_path, upload_dir):
    upload(at, "upload_data", "shapes.zip", zip_of(image_folder(tmp_path / "shapes", per_class=30)))
    model = build_model("cnn-large", (1, 32, 32), 3)
    upload(at, "upload_teacher", "mine.onnx", exports.onnx_bytes(model, torch.zeros(1, 1, 32, 32)))
    assert not {"teacher", "teacher_epochs"} & widget_keys(at)
    [note] = [c for c in texts(at, "caption") if "**Teacher: your mine.onnx**" in c]
    assert "543,619 parameters, used as it is: nothing trains it, so it has no teacher epochs" in note
    assert "Teacher cnn-large" not in note  # the data's note names no teacher of its own now
    at.slider(key="seeds").set_value(2).run()
    at.button(key="distill").click().run()
    finish(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Parameters: teacher / student"] == "543,619 / 6,227"
    assert metrics["Size ratio"] == "87.3× smaller"
    line = settings_line(at)
    assert line.startswith("Settings of this run: your shapes (sha ") and "your mine.onnx → cnn-small" in line
    assert "teacher used as it is (sha " in line and "teacher 10 epochs" not in line
    assert "teacher epochs" not in history_row(at)["Changed settings"]
    assert "teacher your mine.onnx (sha " in history_row(at)["Changed settings"]
    assert at.session_state["history"][-1]["teacher_epochs"] is None
    assert re.search(r"--teacher-onnx 'mine\.onnx;sha=[0-9a-f]{16}'", command(at))
    assert "--teacher-epochs" not in command(at)
    no_server_path(at, upload_dir)


# ---------------------------------------------------------------- 4. sizes and captions that scale


def test_a_student_larger_than_its_teacher_is_reported_larger(at):
    at.selectbox(key="lesson").set_value("free-play").run()
    at.selectbox(key="teacher").set_value("mlp-small").run()
    at.selectbox(key="student").set_value("mlp-large").run()
    for key, value in (("teacher_epochs", 1), ("epochs", 1), ("seeds", 1)):
        at.slider(key=key).set_value(value).run()
    at.button(key="distill").click().run()
    finish(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Parameters: teacher / student"] == "1,210 / 85,002"
    assert metrics["Size ratio"] == "70.2× larger"


def _as_gains(at: AppTest, gains: tuple[float, ...]) -> None:
    """The report's outcome, its first seed copied to one seed per gain with the KD student ``gain`` above its
    scratch baseline: the report's rules, not training noise, are under test."""
    outcome = at.session_state["seeds_outcome"]
    first = outcome.outcomes[0]
    copies = []
    for seed, gain in enumerate(gains):
        result = first.result
        student = dataclasses.replace(result.student, accuracy=result.baseline.accuracy + gain)
        copies.append(
            dataclasses.replace(
                first, result=dataclasses.replace(result, config=result.config.replace(seed=seed), student=student)
            )
        )
    outcome.outcomes[:] = copies
    at.run()
    assert not at.exception, at.exception


def _why_lambda(at: AppTest) -> list[str]:
    return [c for c in texts(at, "caption") if c.startswith("**Why λ may change little here.**")]


def test_near_zero_is_counted_in_test_images_on_the_digits(at):
    for key, value in (("teacher_epochs", 2), ("epochs", 2), ("seeds", 1)):
        at.slider(key=key).set_value(value).run()
    at.button(key="distill").click().run()
    finish(at)
    _as_gains(at, (0.005, 0.006, 0.007))  # +0.6 points: about 2 of the digits' 360 test images
    assert any(m.startswith("## :green-background[KD helps]") for m in texts(at, "markdown"))
    assert _why_lambda(at)  # near zero here: 2 images
    assert any("+0.6 points is 2.2 more of the 360 test images right" in m for m in texts(at, "markdown"))
    _as_gains(at, (0.026, 0.028, 0.030))  # 10 images: no longer near zero
    assert not _why_lambda(at)


def _fresh_data_caches():
    import streamlit as st

    import kd_core.data.datasets

    kd_core.data.datasets._load_cached.cache_clear()
    st.cache_resource.clear()


def _tiny_mnist(at: AppTest, lesson: str) -> None:
    """``lesson`` with tiny models, one epoch each and one seed: seconds on MNIST, and the lesson stays."""
    at.selectbox(key="lesson").set_value(lesson).run()
    assert not at.error, texts(at, "error")
    at.selectbox(key="teacher").set_value("mlp-small").run()
    at.selectbox(key="student").set_value("mlp-tiny").run()
    for key, value in (("teacher_epochs", 1), ("epochs", 1), ("seeds", 1)):
        at.slider(key=key).set_value(value).run()
    at.button(key="distill").click().run()
    finish(at)


mnist = pytest.mark.skipif(not (MNIST_DIR / "MNIST" / "raw").is_dir(), reason="the MNIST files are not on this machine")


@pytest.mark.realdata
@mnist
def test_hinton_mnist_gain_of_60_test_images_is_not_near_zero(at, monkeypatch):
    monkeypatch.setenv("KD_DATA_DIR", str(MNIST_DIR))
    _fresh_data_caches()
    try:
        _tiny_mnist(at, "hinton-mnist")
        _as_gains(at, (0.005, 0.006, 0.007))  # +0.6 points [+0.35, +0.85]: 60 of the 10,000 test images
        assert any(m.startswith("## :green-background[KD helps]") for m in texts(at, "markdown"))
        assert any("+0.6 points is 60 more of the 10,000 test images right" in m for m in texts(at, "markdown"))
        assert not _why_lambda(at)
        assert not any(w.startswith("Few test images") for w in texts(at, "warning"))
    finally:
        _fresh_data_caches()


@pytest.mark.realdata
@mnist
def test_the_omitted_3_report_counts_the_test_3s_beside_the_papers_errors(at, monkeypatch):
    monkeypatch.setenv("KD_DATA_DIR", str(MNIST_DIR))
    _fresh_data_caches()
    try:
        _tiny_mnist(at, "hinton-omitted-3")
        assert any(m.startswith("**Test errors, as the paper counts them**") for m in texts(at, "markdown"))
        (table,) = [d.value for d in at.dataframe if "the paper's after the bias" in d.value.columns]
        assert list(table["test errors"]) == ["on all 10,000 test images", "on the 1,010 test 3s"]
        assert list(table["the paper's"]) == [206, 133] and list(table["the paper's after the bias"]) == [109, 14]
        errors = int(table["KD student"][0].replace(",", ""))
        accuracy = at.session_state["seeds_outcome"].first.result.student.accuracy
        assert errors == round((1 - accuracy) * 10_000)
    finally:
        _fresh_data_caches()
