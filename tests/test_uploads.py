"""dashboard.page.uploads: zips and CSVs checked in a temporary folder and kept only when they load; zip slip, links and
non-zips refused with a sentence; nothing left behind by a bad upload; each upload listed for its browser only."""

from __future__ import annotations

import io
import stat
import zipfile

import pytest
import torch
from own_data_support import csv_text, image_folder, shape_image, write_image, zip_of

from dashboard.page.uploads import Store, UploadError, unpack_zip
from dashboard.runs import exports
from kd_core.models.architectures import build_model


def _zip(members: dict[str, bytes], links: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def _left(root) -> list[str]:
    """Every file under ``root`` (hidden staging folders included)."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "uploads")


def test_a_zipped_image_folder_is_kept_for_its_browser_only(tmp_path, store):
    data = zip_of(image_folder(tmp_path / "shapes", per_class=4))
    upload = store.add_data("browser-a", "shapes.zip", data)
    assert upload.name.startswith("folder:") and upload.name.endswith(upload.name[-16:])
    assert "/shapes;sha=" in upload.name  # the wrapping folder the zip tool added is looked through
    assert upload.notes == ("the 20×20 images were resized to 32×32",)
    assert store.owns("browser-a", upload.name) and not store.owns("browser-b", upload.name)
    assert store.owned("browser-b") == []
    assert "browser-a" not in upload.name  # the folder is a hash of the id, never the id
    again = store.add_data("browser-a", "shapes.zip", data)  # the same upload twice: one copy, one entry
    assert again.name == upload.name and len(store.owned("browser-a")) == 1


@pytest.mark.parametrize(
    "members, links, sentence, detail",
    [
        ({"../evil.png": b"x", "a/1.png": b"y"}, (), "a “zip slip”", "'../evil.png'"),
        ({"/etc/evil.png": b"x"}, (), "a “zip slip”", "'/etc/evil.png'"),
        ({"a\\..\\..\\evil.png": b"x"}, (), "a “zip slip”", "evil.png"),
        ({"a/1.png": b"y"}, ("a/link.png",), "a “zip slip”", "'a/link.png'"),
    ],
)
def test_zip_slip_is_refused_and_nothing_is_written(tmp_path, store, members, links, sentence, detail):
    with pytest.raises(UploadError) as error:
        store.add_data("browser-a", "evil.zip", _zip(members, links))
    assert sentence in str(error.value) and detail in error.value.detail
    assert _left(tmp_path / "uploads") == [] and not (tmp_path / "evil.png").exists()


def test_not_a_zip_is_a_sentence_with_the_details_apart(tmp_path, store):
    with pytest.raises(UploadError) as error:
        store.add_data("browser-a", "photo.zip", b"\x89PNG not a zip")
    assert str(error.value).startswith("That file is not a zip archive.")
    assert error.value.detail.startswith("zipfile: ")
    assert _left(tmp_path / "uploads") == []


def test_a_zip_bomb_is_refused_before_unpacking(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a/zeros.png", b"\0" * (201 * 2**20))
    with pytest.raises(UploadError, match="unpacks to more than 200 MB"):
        unpack_zip(buffer.getvalue(), tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "counts, message",
    [
        ({"cat": 3}, "folder cats has 1 class (only 'cat'); a classifier needs at least 2 classes"),
        ({"cat": 3, "dog": 1}, "class 'dog' in folder cats has 1 example; every class needs at least 2"),
    ],
)
def test_bad_image_folders_leave_nothing(tmp_path, store, counts, message):
    folder = tmp_path / "cats"
    for name, n in counts.items():
        for i in range(n):
            write_image(folder / name / f"{i}.png", shape_image("circle"))
    with pytest.raises(UploadError) as error:
        store.add_data("browser-a", "cats.zip", zip_of(folder))
    assert str(error.value) == message
    assert _left(tmp_path / "uploads") == []


def test_a_csv_upload_and_its_errors(tmp_path, store):
    upload = store.add_data("browser-a", "../../iris data.csv", csv_text().encode())
    assert upload.name.startswith("csv:") and "/iris_data.csv;sha=" in upload.name  # never a path of its own
    with pytest.raises(UploadError) as error:
        store.add_data("browser-a", "t.csv", b"a,b,y\n1,2,x\n3,oops,y\n5,6,x\n7,8,y\n")
    assert str(error.value) == (
        "column 'b' of t.csv holds text ('oops') in row 3 of the file; every column except the label must hold numbers"
    )
    assert len(store.owned("browser-a")) == 1


def test_an_onnx_teacher_upload(tmp_path, store):
    model = build_model("mlp-small", (1, 8, 8), 10)
    upload = store.add_teacher("browser-a", "mine.onnx", exports.onnx_bytes(model, torch.zeros(1, 1, 8, 8)))
    assert upload.name.startswith("onnx:") and store.owns("browser-a", upload.name)
    with pytest.raises(ValueError, match="is not an ONNX model that onnxruntime can load"):
        store.add_teacher("browser-a", "fake.onnx", b"\x80\x04 a pickle, say")
    assert len(store.owned("browser-a")) == 1


@pytest.mark.parametrize(
    "changes",
    [
        {"dataset": "folder:/srv/uploads/ab/cd/shapes;sha=0123456789abcdef"},
        {"teacher": "onnx:/srv/uploads/ab/cd/t.onnx;sha=0123456789abcdef"},
        {},
    ],
)
def test_runs_on_ones_own_data_or_teacher_stay_off_the_class_board(changes):
    from kd_core.board.collect import run_from_entry

    config = {"dataset": "digits", "teacher": "mlp-large", "temperature": 4.0, "seed": 0, **changes}
    entry = {
        "meta": {
            "result": {
                "status": "completed",
                "config": config,
                "student": {"accuracy": 0.9},
                "baseline": {"accuracy": 0.8},
            }
        }
    }
    placed = run_from_entry("result-x.pt", 0.0, entry)
    assert (placed is None) == bool(changes)
