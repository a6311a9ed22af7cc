"""The page's upload path, headless (AppTest): a zip of images uploaded, chosen and distilled under a lesson; an
ONNX teacher distilled; refusals in plain words; another browser never sees the upload."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from own_data_support import csv_text, image_folder, zip_of
from streamlit.testing.v1 import AppTest

from dashboard.runs import exports
from kd_core import load_dataset
from kd_core.models.architectures import build_model

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")


@pytest.fixture(autouse=True)
def upload_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("KD_UPLOAD_DIR", str(tmp_path / "uploads"))
    return tmp_path / "uploads"


def page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception, at.exception
    return at


def finish(at: AppTest) -> AppTest:
    job = at.session_state["jobs"]["main"]
    assert job.join(180), "the worker did not finish"
    return at.run()


def upload(at: AppTest, key: str, name: str, data: bytes) -> AppTest:
    return at.file_uploader(key=key).set_value((name, data, "application/octet-stream")).run()


def test_a_zip_is_uploaded_distilled_and_kept_from_other_browsers(tmp_path, upload_dir):
    at = page()
    assert "Files up to **10 MB** each" in " ".join(c.value for c in at.caption)  # the server's limit, stated
    folder = image_folder(tmp_path / "shapes", per_class=6)
    (folder / "cross" / "scan.png").write_bytes(b"half a PNG")
    upload(at, "upload_data", "shapes.zip", zip_of(folder))
    assert not at.exception and not at.error
    name = at.radio(key="upload_data_use").value
    assert name.startswith("folder:") and name.endswith(name.split(";sha=")[1])
    info = " ".join(i.value for i in at.info)
    assert "Training on **your upload shapes.zip** — your images: 3 classes, grey 32×32" in info
    assert (
        "Note: 1 file could not be read as images and was skipped. Note: the 20×20 images were resized to 32×32."
        in info
    )
    at.slider(key="seeds").set_value(1).run()
    at.button(key="distill").click().run()
    finish(at)
    assert not at.exception and not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert 0 < float(metrics["Teacher accuracy"].rstrip("%")) <= 100
    assert float(metrics["KD student accuracy"].rstrip("%")) >= 0
    assert at.session_state["outcome"].result.config.dataset == name
    other = page()  # another browser: no upload listed, the run not on its board under the upload's name
    assert "upload_data_use" not in other.session_state
    assert not any(name in str(getattr(e, "value", "")) for e in other.main) and name not in str(other.main)


def test_refused_uploads_are_plain_sentences_with_details_folded_away(upload_dir):
    at = page()
    upload(at, "upload_data", "holiday.zip", b"GIF89a not a zip")
    assert [e.value for e in at.error] == [
        "That file is not a zip archive. Put the class folders in one folder, "
        "compress it to a .zip (right-click → Compress), and upload that."
    ]
    assert any(e.label == "Details for whoever runs the server" for e in at.expander)
    assert not at.exception and "upload_data_use" not in at.session_state
    upload(at, "upload_data", "t.csv", b"a,y\n1,x\n2,x\n3,x\n")
    assert [e.value for e in at.error] == ["t.csv has 1 class (only 'x'); a classifier needs at least 2 classes"]
    assert [p for p in upload_dir.rglob("*") if p.is_file()] == []  # nothing half-written


def test_an_onnx_teacher_upload_is_distilled_and_a_mismatch_explained(tmp_path):
    at = page()
    model = build_model("mlp-small", (1, 8, 8), 10)
    upload(at, "upload_teacher", "mine.onnx", exports.onnx_bytes(model, torch.zeros(1, 1, 8, 8)))
    assert "Teacher: **your mine.onnx**" in " ".join(i.value for i in at.info) and not at.error
    at.slider(key="seeds").set_value(1).run()
    at.slider(key="epochs").set_value(1).run()
    at.button(key="distill").click().run()
    finish(at)
    assert not at.exception and not at.error
    assert at.session_state["outcome"].result.config.teacher.startswith("onnx:")
    data = load_dataset("digits")  # the report's teacher accuracy is the uploaded model's own, on the test set
    own = (model.eval()(data.x_test).argmax(1) == data.y_test).float().mean().item()
    shown = float({m.label: m.value for m in at.metric}["Teacher accuracy"].rstrip("%"))
    assert abs(shown - 100 * own) < 0.01
    assert any(c.value.startswith("Settings of this run: your mine.onnx → mlp-small") for c in at.caption)
    upload(at, "upload_data", "table.csv", csv_text().encode())  # 2 features: the digits teacher cannot read them
    errors = [e.value for e in at.error]
    assert errors == [
        "Invalid setting: the teacher file mine.onnx takes input of shape (batch, 1, 8, 8), but this "
        "dataset's examples are (batch, 2)"
    ]
    assert not at.exception
