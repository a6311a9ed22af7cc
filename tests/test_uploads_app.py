"""The page's upload path, headless (AppTest): a zip of images uploaded, chosen and distilled under a lesson; an
ONNX teacher distilled; refusals in plain words, each naming its file, a new one replacing the last; the limits
stated; no server path anywhere on the page; another browser never sees the upload."""

from __future__ import annotations

import io
import re
import struct
import zipfile
from pathlib import Path

import pytest
import torch
from own_data_support import csv_text, image_folder, zip_of
from streamlit.testing.v1 import AppTest

from dashboard.page.uploads import ENVIRONMENT, MB, STORE, limits
from dashboard.runs import exports
from kd_core import load_dataset
from kd_core.models.architectures import build_model

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")


@pytest.fixture(autouse=True)
def upload_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("KD_UPLOAD_DIR", str(tmp_path / "uploads"))
    for variable in ENVIRONMENT.values():
        monkeypatch.delenv(variable, raising=False)
    return tmp_path / "uploads"


def shown(at: AppTest) -> str:
    """Every text the page shows: markdown, captions, alerts, code, the pickers' labels and options."""
    texts = [
        e.value for kind in ("markdown", "caption", "info", "error", "warning", "success", "code") for e in at.get(kind)
    ]
    texts += [str(option) for radio in at.radio for option in radio.options]
    texts += [e.label for e in at.expander]
    return "\n".join(texts)


def panel(at: AppTest) -> str:
    """What the upload panel itself shows: the sidebar's captions and pickers, the alerts above the tabs."""
    texts = [e.value for e in at.sidebar.caption] + [e.value for kind in ("info", "error") for e in at.get(kind)]
    texts += [str(option) for radio in at.sidebar.radio for option in radio.options]
    return "\n".join(texts)


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
    folder = image_folder(tmp_path / "shapes", per_class=6)
    (folder / "cross" / "scan.png").write_bytes(b"half a PNG")
    upload(at, "upload_data", "shapes.zip", zip_of(folder))
    assert not at.exception and not at.error
    digest = at.radio(key="upload_data_use").value  # the picker's value is a content hash, never a path
    assert re.fullmatch(r"[0-9a-f]{16}", digest)
    (title,) = [o for o in at.radio(key="upload_data_use").options if o.startswith("your ")]
    sha = re.fullmatch(r"your shapes\.zip \(sha ([0-9a-f]{8})\)", title).group(1)
    info = " ".join(i.value for i in at.info)
    assert f"Training on **your upload shapes.zip (sha {sha})** — your images: 3 classes, grey 32×32" in info
    assert (
        "Note: 1 file could not be read as images and was skipped. Note: the 20×20 images were resized to 32×32."
        in info
    )
    assert str(upload_dir) not in shown(at)  # no server path anywhere on the page
    at.slider(key="seeds").set_value(1).run()
    at.button(key="distill").click().run()
    finish(at)
    assert not at.exception and not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert 0 < float(metrics["Teacher accuracy"].rstrip("%")) <= 100
    assert float(metrics["KD student accuracy"].rstrip("%")) >= 0
    name = at.session_state["outcome"].result.config.dataset
    assert name.startswith("folder:") and name.split(";sha=")[1].startswith(sha)  # the hash the run is keyed by
    assert str(upload_dir) not in panel(at)  # the upload panel's words, after the run too
    assert "Your uploads take " in panel(at) and "of your 100 MB on the server." in panel(at)
    other = page()  # another browser: no upload listed, the run not on its board under the upload's name
    assert "upload_data_use" not in other.session_state
    assert not any(name in str(getattr(e, "value", "")) for e in other.main) and name not in str(other.main)
    assert "shapes.zip" not in shown(other)


def _bmp_zip(width: int, height: int) -> bytes:
    """A zip of BMP headers alone: the images' sizes are all the page reads before it refuses them."""
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i, cls in enumerate(("dark", "light")):
            archive.writestr(f"big/{cls}/{i}.bmp", b"BM" + struct.pack("<IHHI", 54, 0, 0, 54) + info)
    return buffer.getvalue()


def test_the_limits_in_force_are_stated(monkeypatch):
    monkeypatch.setenv("KD_UPLOAD_BROWSER_MB", "250")
    caption = " ".join(c.value for c in page().caption)
    allowed = limits()
    for stated in (
        "Files up to **10 MB** each",  # the server's own limit (server.maxUploadSize)
        f"images up to **{allowed.image_megapixels} megapixels** each and **{allowed.total_megapixels}** in all",
        "Your uploads may take **250 MB** on the server once unpacked",
        f"everyone's together: {allowed.server_mb} MB",
        "deleted after 4 hours unused",
    ):
        assert stated in caption, stated


def test_refused_uploads_are_plain_sentences_each_naming_its_file(upload_dir):
    at = page()
    upload(at, "upload_data", "holiday.zip", b"GIF89a not a zip")
    assert [e.value for e in at.error] == [
        "**holiday.zip** was not used. That file is not a zip archive. Put the class folders in one folder, "
        "compress it to a .zip (right-click → Compress), and upload that."
    ]
    assert any(e.label == "Details for whoever runs the server" for e in at.expander)
    assert not at.exception and "upload_data_use" not in at.session_state
    upload(at, "upload_data", "t.csv", b"a,y\n1,x\n2,x\n3,x\n")
    assert [e.value for e in at.error] == [
        "**t.csv** was not used. t.csv has only one class, 'x', and a classifier needs at least two: add rows with "
        "another label in column 'y'."
    ]
    upload(at, "upload_data", "big_photos.zip", _bmp_zip(5600, 5600))
    assert [e.value for e in at.error] == [
        "**big\\_photos.zip** was not used. big/dark/0.bmp is 5600×5600 pixels (31.4 megapixels), more than the 16 "
        "megapixels an image may have here; shrink the images (each is resized to 32×32 anyway) and try again."
    ]
    assert [p for p in upload_dir.rglob("*") if p.is_file() and p.name != ".lock"] == []  # nothing half-written
    assert str(upload_dir) not in shown(at) and not at.exception


def test_an_oversize_upload_replaces_the_previous_uploads_error(upload_dir):
    """A file over the limit that reaches the page (a server started with a larger server.maxUploadSize than the
    page states, or AppTest, which skips the browser's check) gets its own sentence, and the last refusal goes."""
    at = page()
    upload(at, "upload_data", "holiday.zip", b"GIF89a not a zip")
    assert len(at.error) == 1 and "holiday.zip" in at.error[0].value
    upload(at, "upload_data", "huge.zip", b"\0" * (11 * MB))
    assert [e.value for e in at.error] == [
        "**huge.zip** was not used. It is 11 MB, more than the 10 MB a file may have on this page."
    ]
    at.slider(key="seeds").set_value(2).run()  # any rerun: still the same single sentence
    assert len(at.error) == 1 and "huge.zip" in at.error[0].value and not at.exception


def test_an_upload_whose_files_went_away_says_so(tmp_path, upload_dir):
    import shutil

    at = page()
    upload(at, "upload_data", "table.csv", csv_text().encode())
    assert not at.error
    for kept in STORE._owned[at.session_state["browser_id"]]:
        shutil.rmtree(kept.folder)  # deleted by hand on the server
    at.run()
    assert [e.value for e in at.error] == [
        "**table.csv** was not used. Its files are no longer on the server. Upload it again, please."
    ]
    assert not at.info or "Training on" not in " ".join(i.value for i in at.info)
    assert str(upload_dir) not in shown(at) and not at.exception


def test_an_onnx_teacher_upload_is_distilled_and_a_mismatch_explained(tmp_path):
    at = page()
    model = build_model("mlp-small", (1, 8, 8), 10)
    upload(at, "upload_teacher", "mine.onnx", exports.onnx_bytes(model, torch.zeros(1, 1, 8, 8)))
    assert re.search(r"Teacher: \*\*your mine\.onnx \(sha [0-9a-f]{8}\)\*\*", " ".join(i.value for i in at.info))
    assert not at.error
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
