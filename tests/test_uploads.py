"""dashboard.page.uploads: zips and CSVs checked in a temporary folder and kept only when they load; zip slip, links,
non-zips and images too large in decoded pixels refused with a sentence before anything is unpacked; nothing left
behind by a bad upload; quotas per browser and per server; a browser's uploads deleted with its record, and an
ended server's at the next start; every stated limit held to the one place that sets it (uploads.Limits)."""

from __future__ import annotations

import io
import os
import re
import stat
import struct
import time
import zipfile
from pathlib import Path

import pytest
import torch
from own_data_support import csv_text, image_folder, shape_image, write_image, zip_of

from dashboard import launch
from dashboard.page import sessions, uploads
from dashboard.page.uploads import DEFAULTS, ENVIRONMENT, MB, Store, UploadError, limits, open_zip
from dashboard.runs import exports
from kd_core.data.datasets import default_data_dir
from kd_core.models.architectures import build_model

ROOT = Path(__file__).resolve().parents[1]


def _zip(members: dict[str, bytes], links: tuple[str, ...] = (), method=zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def _bmp_header(width: int, height: int) -> bytes:
    """A BMP file's headers alone, no pixels: the size is all that PIL reads before decoding."""
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 54, 0, 0, 54) + info


def _left(root) -> list[str]:
    """Every file under ``root`` (hidden staging folders included; each server's lock file left out)."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.name != ".lock")


def _csv_of_size(megabytes: float) -> bytes:
    """A valid CSV of about ``megabytes`` MB (17 bytes a row)."""
    rows = int(megabytes * MB / 17)
    return "".join(["a,b,y\n", *(f"{i % 97:02d}.125,{i % 89:02d}.500,c{i % 3}\n" for i in range(rows))]).encode()


@pytest.fixture(autouse=True)
def no_limits_from_outside(monkeypatch):
    for variable in ENVIRONMENT.values():
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "uploads")


def test_a_zipped_image_folder_is_kept_for_its_browser_only(tmp_path, store):
    data = zip_of(image_folder(tmp_path / "shapes", per_class=4))
    upload = store.add_data("browser-a", "shapes.zip", data)
    assert upload.name.startswith("folder:") and upload.name.endswith(upload.name[-16:])
    assert "/shapes;sha=" in upload.name  # the wrapping folder the zip tool added is looked through
    assert upload.notes == ("the 20×20 images were resized to 32×32",)
    assert upload.title == f"shapes.zip (sha {upload.name[-16:-8]})"  # the page's name for it: no path
    assert store.owns("browser-a", upload.name) and not store.owns("browser-b", upload.name)
    assert store.owned("browser-b") == []
    assert "browser-a" not in upload.name  # the folder is a hash of the id, never the id
    assert upload.size == store.used("browser-a") == store.used() == sum(len(b) for b in _images(tmp_path / "shapes"))
    again = store.add_data("browser-a", "shapes.zip", data)  # the same upload twice: one copy, one entry
    assert again.name == upload.name and len(store.owned("browser-a")) == 1 and store.used() == upload.size


def _images(folder: Path) -> list[bytes]:
    return [p.read_bytes() for p in folder.rglob("*") if p.is_file()]


@pytest.mark.parametrize(
    "members, detail",
    [
        ({"../evil.png": b"x", "a/1.png": b"y"}, "'../evil.png'"),
        ({"/etc/evil.png": b"x"}, "'/etc/evil.png'"),
        ({"a\\..\\..\\evil.png": b"x"}, "evil.png"),
    ],
)
def test_zip_slip_is_refused_and_nothing_is_written(tmp_path, store, members, detail):
    with pytest.raises(UploadError) as error:
        store.add_data("browser-a", "evil.zip", _zip(members))
    assert "a “zip slip”" in str(error.value) and detail in error.value.detail
    assert _left(tmp_path / "uploads") == [] and not (tmp_path / "evil.png").exists()


def test_links_in_a_zip_have_their_own_sentence(tmp_path, store):
    with pytest.raises(UploadError) as error:
        store.add_data("browser-a", "links.zip", _zip({"a/1.png": b"y"}, links=("a/link.png", "b/other.png")))
    assert str(error.value) == (
        "This zip holds shortcuts (symbolic links) instead of images, such as “link.png”, and the server does not "
        "follow them. Zip the folder that holds the image files themselves and upload that."
    )
    assert "zip slip" not in str(error.value) and error.value.detail == "symbolic link member: 'a/link.png'"
    assert _left(tmp_path / "uploads") == []


def test_not_a_zip_is_a_sentence_with_the_details_apart(tmp_path, store):
    with pytest.raises(UploadError) as error:
        store.add_data("browser-a", "photo.zip", b"\x89PNG not a zip")
    assert str(error.value).startswith("That file is not a zip archive.")
    assert error.value.detail.startswith("zipfile: ")
    assert _left(tmp_path / "uploads") == []


def test_a_damaged_zip_is_a_sentence(tmp_path, store):
    data = bytearray(_zip({"a/1.png": os.urandom(1000) * 20, "b/1.png": b"x"}, method=zipfile.ZIP_DEFLATED))
    data[200:260] = bytes(60)  # inside the first member's compressed bytes
    with pytest.raises(UploadError, match=r"^This zip could not be unpacked \(it may be damaged"):
        store.add_data("browser-a", "broken.zip", bytes(data))
    assert _left(tmp_path / "uploads") == []


def test_a_zip_of_zeros_is_refused_by_the_browsers_room_before_unpacking(tmp_path, store):
    data = _zip({"a/zeros.png": b"\0" * (101 * MB)}, method=zipfile.ZIP_DEFLATED)
    assert len(data) < MB / 5
    with pytest.raises(UploadError) as error:
        store.add_data("browser-a", "zeros.zip", data)
    assert str(error.value) == (
        "This upload unpacks to 101 MB, more than the 100 MB your uploads may take on this server. Upload fewer or "
        "smaller files."
    )
    assert error.value.detail == "105,906,176 bytes unpacked; KD_UPLOAD_BROWSER_MB=100"
    assert _left(tmp_path / "uploads") == [] and store.used() == 0


def test_images_too_large_in_pixels_are_refused_from_their_headers_before_unpacking(tmp_path, store, monkeypatch):
    members = {"big/dark/0.bmp": _bmp_header(5600, 5600), "big/light/1.bmp": _bmp_header(20, 20)}
    written = []
    monkeypatch.setattr(uploads, "unpack", lambda *args: written.append(args))
    with pytest.raises(UploadError) as error:
        store.add_data("browser-a", "big.zip", _zip(members))
    assert str(error.value) == (
        "big/dark/0.bmp is 5600×5600 pixels (31.4 megapixels), more than the 16 megapixels an image may have here; "
        "shrink the images (each is resized to 32×32 anyway) and try again."
    )
    assert "KD_UPLOAD_IMAGE_MEGAPIXELS=16" in error.value.detail
    monkeypatch.setenv("KD_UPLOAD_TOTAL_MEGAPIXELS", "1")  # three of 0.36 megapixels: over 1 together
    members = {f"p/{c}/{i}.bmp": _bmp_header(600, 600) for c in "ab" for i in range(2)}
    with pytest.raises(UploadError) as error:
        store.add_data("browser-a", "many.zip", _zip(members))
    assert str(error.value) == (
        "The images in this zip add up to more than 1 megapixel, the most read at once here; use fewer or smaller "
        "images (each is resized to 32×32 anyway)."
    )
    assert written == [] and _left(tmp_path / "uploads") == []


def test_the_issues_bmp_zip_is_refused_in_moments_with_nothing_written(tmp_path, store):
    """Real 5600 × 5600 BMPs (30 MB each decoded, 30 KB each deflated), as in the issue: refused from the headers."""
    from PIL import Image

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for i, cls in enumerate(("dark", "light")):
            image = io.BytesIO()
            Image.new("L", (5600, 5600), 40 + 170 * i).save(image, format="BMP")
            archive.writestr(f"big/{cls}/{i}.bmp", image.getvalue())
    data = buffer.getvalue()
    assert len(data) < 100_000
    start = time.perf_counter()
    with pytest.raises(UploadError, match=r"^big/dark/0\.bmp is 5600×5600 pixels"):
        store.add_data("browser-a", "big.zip", data)
    assert time.perf_counter() - start < 1.0 and _left(tmp_path / "uploads") == []


@pytest.mark.parametrize(
    "counts, message",
    [
        (
            {"cat": 3},
            "Folder cats has only one class, 'cat', and a classifier needs at least two: add a second subfolder with "
            "images of another class.",
        ),
        ({"cat": 3, "dog": 1}, "Class 'dog' in folder cats has 1 example; every class needs at least 2."),
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
    assert _left(tmp_path / "uploads") == [] and store.used() == 0


def test_a_zip_without_a_wrapping_folder_is_named_after_the_file(tmp_path, store):
    folder = tmp_path / "flat"
    for i in range(3):
        write_image(folder / "cat" / f"{i}.png", shape_image("circle"))
    data = _zip({f"cat/{i}.png": (folder / "cat" / f"{i}.png").read_bytes() for i in range(3)})
    with pytest.raises(UploadError, match=r"^Folder pets has only one class, 'cat'"):
        store.add_data("browser-a", "pets.zip", data)


def test_a_csv_upload_and_its_errors(tmp_path, store):
    upload = store.add_data("browser-a", "../../iris data.csv", csv_text().encode())
    assert upload.name.startswith("csv:") and "/iris_data.csv;sha=" in upload.name  # never a path of its own
    assert upload.label == "iris data.csv"
    with pytest.raises(UploadError) as error:
        store.add_data("browser-a", "t.csv", b"a,b,y\n1,2,x\n3,oops,y\n5,6,x\n7,8,y\n")
    assert str(error.value) == (
        "Column 'b' of t.csv holds text ('oops') in row 3 of the file; every column except the label must hold numbers."
    )
    with pytest.raises(UploadError) as error:
        store.add_data("browser-a", "t.csv", b"a,y\n1,x\n2,x\n3,x\n")
    assert str(error.value) == (
        "t.csv has only one class, 'x', and a classifier needs at least two: add rows with another label in column 'y'."
    )
    assert len(store.owned("browser-a")) == 1


def test_an_onnx_teacher_upload(tmp_path, store):
    model = build_model("mlp-small", (1, 8, 8), 10)
    upload = store.add_teacher("browser-a", "mine.onnx", exports.onnx_bytes(model, torch.zeros(1, 1, 8, 8)))
    assert upload.name.startswith("onnx:") and store.owns("browser-a", upload.name)
    assert upload.size == store.used("browser-a") > 0
    with pytest.raises(ValueError, match="is not an ONNX model that onnxruntime can load"):
        store.add_teacher("browser-a", "fake.onnx", b"\x80\x04 a pickle, say")
    assert len(store.owned("browser-a")) == 1


def test_a_zip_of_an_onnx_teacher_and_its_weights_file_is_kept_as_one_model(tmp_path, store):
    """What torch.onnx.export(model, args, path) writes by default, t.onnx and t.onnx.data, zipped: one file kept."""
    import hashlib
    import warnings

    from kd_core.models.own_teacher import load

    model = build_model("mlp-large", (1, 8, 8), 10).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.zeros(1, 1, 8, 8),), tmp_path / "t.onnx", verbose=False)
    data = _zip({name: (tmp_path / name).read_bytes() for name in ("t.onnx", "t.onnx.data")})
    upload = store.add_teacher("browser-a", "teacher.zip", data)
    path = Path(upload.name.split(":", 1)[1].split(";")[0])
    assert (
        upload.label == "t.onnx"
        and path.name == "t.onnx"
        and sorted(p.name for p in path.parent.iterdir()) == ["t.onnx"]
    )
    assert upload.sha == hashlib.sha256(path.read_bytes()).hexdigest()[:16]  # the engine's hash of the kept file
    x = torch.randn(4, 1, 8, 8)
    assert torch.allclose(load(upload.name, (1, 8, 8), 10)(x), model(x), atol=1e-5)


@pytest.mark.parametrize(
    "members, links, message",
    [
        ({"t.onnx": b"x", "../t.onnx.data": b"y"}, (), "This zip was refused: some of its files point outside"),
        ({"t.onnx": b"x"}, ("t.onnx.data",), "This zip holds links (shortcuts), which are never followed"),
        ({"a.onnx": b"x", "b.onnx": b"y"}, (), "This zip holds 2 .onnx files; put exactly one in it"),
    ],
)
def test_a_bad_teacher_zip_is_refused_and_leaves_nothing(tmp_path, store, members, links, message):
    with pytest.raises(UploadError) as error:
        store.add_teacher("browser-a", "teacher.zip", _zip(members, links))
    assert str(error.value).startswith(message) and str(error.value).endswith(".")
    assert store.owned("browser-a") == [] and _left(tmp_path / "uploads") == []


# ---------------------------------------------------------------- room on disk


def test_a_new_upload_deletes_the_browsers_oldest_to_stay_within_its_room(tmp_path, store, monkeypatch):
    monkeypatch.setenv("KD_UPLOAD_BROWSER_MB", "1")
    first = store.add_data("browser-a", "first.csv", _csv_of_size(0.6))
    other = store.add_data("browser-b", "other.csv", _csv_of_size(0.6))
    second = store.add_data("browser-a", "second.csv", _csv_of_size(0.61))
    assert [u.label for u in store.owned("browser-a")] == ["second.csv"]
    assert second.notes == (f"to keep your uploads within 1 MB and 8 files, your earlier {first.title} was deleted",)
    assert not Path(first.name.split(":", 1)[1].split(";")[0]).exists()  # its files went too
    assert store.owned("browser-b") == [other] and Path(other.name.split(":", 1)[1].split(";")[0]).exists()
    assert store.used("browser-a") == second.size <= MB
    with pytest.raises(UploadError, match=r"^This upload unpacks to 1\.1 MB, more than the 1 MB your uploads"):
        store.add_data("browser-a", "huge.csv", _csv_of_size(1.1))
    assert store.owned("browser-a") == [second]  # a refused upload deletes nothing


def test_at_most_eight_uploads_are_kept_per_browser(tmp_path, store):
    for i in range(9):
        store.add_data("browser-a", f"t{i}.csv", csv_text(rows=30 + i).encode())
    assert [u.label for u in store.owned("browser-a")] == [f"t{i}.csv" for i in range(1, 9)]
    assert len(list((tmp_path / "uploads").glob("server-*/*/*"))) == 8


def test_the_server_refuses_uploads_beyond_its_room(tmp_path, store, monkeypatch):
    monkeypatch.setenv("KD_UPLOAD_SERVER_MB", "1")
    kept = store.add_data("browser-a", "a.csv", _csv_of_size(0.6))
    with pytest.raises(UploadError) as error:
        store.add_data("browser-b", "b.csv", _csv_of_size(0.6))
    assert str(error.value) == (
        "This server has no room for more uploads right now: everyone's together may take 1 MB. Try again later, "
        "or ask whoever runs the server."
    )
    assert "KD_UPLOAD_SERVER_MB=1" in error.value.detail
    assert store.owned("browser-b") == [] and store.used() == kept.size
    assert [p for p in _left(tmp_path / "uploads") if "b.csv" in p] == []


def test_an_upload_being_checked_holds_its_room(tmp_path, store, monkeypatch):
    """Two uploads at once cannot both take the last of the server's room: the first reserves it first."""
    monkeypatch.setenv("KD_UPLOAD_SERVER_MB", "1")
    seen = []

    def load_while_another_arrives(name, pixels):
        seen.append(store.used())
        with pytest.raises(UploadError, match="no room for more uploads"):
            store.add_data("browser-b", "b.csv", _csv_of_size(0.6))
        return real_load(name, pixels=pixels)

    real_load = uploads.load_custom
    monkeypatch.setattr(uploads, "load_custom", load_while_another_arrives)
    upload = store.add_data("browser-a", "a.csv", _csv_of_size(0.6))
    assert seen == [len(_csv_of_size(0.6))] and store.used() == upload.size


def test_a_full_disk_is_a_sentence_without_the_servers_folders(tmp_path, store, monkeypatch):
    def full(self, data):
        raise OSError(28, "No space left on device", str(self))

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(UploadError) as error:
        store.add_data("browser-a", "t.csv", csv_text().encode())
    assert str(error.value).startswith("The server could not store this upload (its disk may be full).")
    assert str(tmp_path) not in error.value.detail and "$KD_UPLOAD_DIR/server-" in error.value.detail
    assert store.used() == 0


def test_limits_come_from_the_environment_and_bad_values_are_ignored_with_a_warning(monkeypatch):
    assert limits() == DEFAULTS
    monkeypatch.setenv("KD_UPLOAD_BROWSER_MB", "250")
    monkeypatch.setenv("KD_UPLOAD_IMAGE_MEGAPIXELS", "lots")
    with pytest.warns(UserWarning, match=r"KD_UPLOAD_IMAGE_MEGAPIXELS='lots' is not a positive whole number; 16"):
        found = limits()
    assert found.browser_mb == 250 and found.image_megapixels == 16


# ---------------------------------------------------------------- deleted with the browser, or the server


def test_a_browsers_uploads_are_deleted_when_its_record_expires(tmp_path, store):
    registry = sessions.Registry(expire_seconds=100, on_drop=store.forget)
    record = registry.get("a" * 32, now=0)
    upload = store.add_data(record.id, "t.csv", csv_text().encode())
    kept = store.add_data("b" * 32, "t.csv", csv_text().encode())
    registry.get("b" * 32, now=50)
    assert store.owned(record.id) == [upload]
    registry.get("b" * 32, now=150)  # a's record, unused for 150 s, expires
    assert store.owned(record.id) == [] and store.used() == kept.size
    assert [p for p in _left(tmp_path / "uploads") if "t.csv" in p] == [_left_name(tmp_path, kept)]
    assert sessions.registry.on_drop == uploads.STORE.forget  # the page's registry does the same


def _left_name(tmp_path, upload) -> str:
    return str(Path(upload.name.split(":", 1)[1].split(";")[0]).relative_to(tmp_path / "uploads"))


def test_an_ended_servers_folder_is_removed_at_the_next_start_and_a_live_ones_kept(tmp_path):
    import fcntl

    root = tmp_path / "uploads"
    dead, live = root / "server-dead", root / "server-live"
    for folder in (dead, live):
        (folder / "0123456789abcdef" / "feed" / "t.csv").parent.mkdir(parents=True)
        (folder / "0123456789abcdef" / "feed" / "t.csv").write_text("a,y\n")
        (folder / ".lock").touch()
    legacy = root / "0123456789abcdef" / "feed"  # a browser's folder as earlier versions kept it
    legacy.mkdir(parents=True)
    (root / "notes").mkdir()  # anything else is not ours
    fd = os.open(live / ".lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # the live server's lock
    try:
        first = Store(root)
        first.add_data("browser-a", "t.csv", csv_text().encode())
        assert sorted(p.name for p in root.iterdir() if not p.name.startswith("server-")) == ["notes"]
        assert not dead.exists() and live.exists()
        Store(root).start()  # a second server on the same folder leaves the first's uploads alone
        assert len(first.owned("browser-a")) == 1 and len(list(root.glob("server-*/*/*/t.csv"))) == 2
    finally:
        os.close(fd)


def test_uploads_live_outside_the_data_folder_by_default(tmp_path, monkeypatch):
    monkeypatch.delenv("KD_UPLOAD_DIR", raising=False)
    monkeypatch.delenv("KD_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert uploads.upload_dir() == tmp_path / "cache" / "kd-dashboard" / "uploads"
    assert default_data_dir() not in uploads.upload_dir().parents
    monkeypatch.setenv("KD_UPLOAD_DIR", str(tmp_path / "mine"))
    assert uploads.upload_dir() == tmp_path / "mine"


# ---------------------------------------------------------------- the limits, stated in one place


def test_every_stated_limit_is_the_one_in_uploads_limits():
    try:
        from tomllib import loads
    except ImportError:  # Python 3.10
        pytest.skip("no tomllib")
    config = loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == DEFAULTS.upload_mb
    args = launch.DEFAULT_ARGS
    assert args[args.index("--server.maxUploadSize") + 1] == str(DEFAULTS.upload_mb)
    docs = " ".join((ROOT / "docs" / "data.md").read_text().split())
    section = docs[docs.index("## On the page: uploads") :]
    section = section[: section.index("## A drawn digit")]
    for stated in (
        f"**{DEFAULTS.upload_mb} MB**",
        f"**{DEFAULTS.browser_mb} MB**",
        f"**{DEFAULTS.server_mb} MB**",
        f"**{DEFAULTS.image_megapixels} megapixels**",
        f"**{DEFAULTS.total_megapixels} megapixels**",
        f"**{DEFAULTS.files:,} files**",
        f"**{sessions.EXPIRE_SECONDS // 3600} hours**",
        *(f"`{variable}`" for variable in ENVIRONMENT.values()),
        "`server.maxUploadSize`",
        "`$XDG_CACHE_HOME/kd-dashboard/uploads`",
    ):
        assert stated in section, stated
    readme = " ".join((ROOT / "README.md").read_text().split())
    for stated in re.findall(r"[Uu]ploads are limited to (\d+) MB", readme):
        assert int(stated) == DEFAULTS.upload_mb


def test_runs_on_ones_own_data_or_teacher_stay_off_the_class_board():
    from kd_core.board.collect import run_from_entry

    for changes in (
        {"dataset": "folder:/srv/uploads/ab/cd/shapes;sha=0123456789abcdef"},
        {"teacher": "onnx:/srv/uploads/ab/cd/t.onnx;sha=0123456789abcdef"},
        {},
    ):
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


def test_open_zip_reads_no_member_whole(monkeypatch):
    """The pixel check opens each member for its header only: a 100 MB member is never read through."""
    data = _zip({"a/big.bmp": _bmp_header(100, 100) + bytes(100 * MB)}, method=zipfile.ZIP_DEFLATED)
    read = []
    real = zipfile.ZipExtFile.read

    def counting(self, n=-1):
        chunk = real(self, n)
        read.append(len(chunk))
        return chunk

    monkeypatch.setattr(zipfile.ZipExtFile, "read", counting)
    open_zip(data, DEFAULTS)
    assert sum(read) < MB
