"""Uploads kept on the server: a zip of an image folder or a CSV (a dataset), an ONNX model (a teacher).

No Streamlit here (dashboard/page/upload_panel.py draws them).  Nothing uploaded is ever unpickled or executed: a zip is
read with ``zipfile`` member by member (never ``extractall``), a CSV with pandas, an ONNX file with onnxruntime.
Each upload is checked in a temporary folder and moved into place only when it loads, so a bad one leaves nothing
behind.  Files live under ``$KD_UPLOAD_DIR`` (default: the data folder's ``uploads/``), one folder per browser (a
hash of its id, never the id itself) and per content hash; which browser uploaded what is kept in memory here, so
only that browser's page offers its uploads.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import stat
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from kd_core.data.custom import load as load_custom
from kd_core.data.datasets import default_data_dir
from kd_core.models.own_teacher import OnnxTeacher

MAX_UNPACKED_MB = 200  # what a zip may unpack to (a small zip can hold gigabytes of zeros)
MAX_FILES = 20_000
DATA_TYPES = ("zip", "csv")
TEACHER_TYPES = ("onnx",)


class UploadError(ValueError):
    """An upload that cannot be used: ``str()`` is a sentence for the student, ``detail`` is for the server's owner."""

    def __init__(self, message: str, detail: str = ""):
        super().__init__(message)
        self.detail = detail


@dataclass(frozen=True)
class Upload:
    kind: str  # "data" or "teacher"
    label: str  # the file's name as uploaded, for the page
    name: str  # the canonical dataset or teacher name the engine takes (folder:/csv:/onnx:...)
    notes: tuple[str, ...] = ()  # what the loader did (skipped files, resized images)


def upload_dir() -> Path:
    return Path(os.environ["KD_UPLOAD_DIR"]) if os.environ.get("KD_UPLOAD_DIR") else default_data_dir() / "uploads"


def _owner_folder(owner: str, root: Path) -> Path:
    return root / hashlib.sha256(owner.encode()).hexdigest()[:16]


def _safe_name(filename: str, default: str) -> str:
    """The uploaded file's name, reduced to letters, digits, dot, dash and underscore (never a path)."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", PurePosixPath(filename.replace("\\", "/")).name).strip("._")
    return base[:60] or default


def _is_link(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def _unsafe(info: zipfile.ZipInfo) -> bool:
    """A member whose path would land outside the folder it is unpacked into ("zip slip"), or a link."""
    name = info.filename.replace("\\", "/")
    parts = PurePosixPath(name).parts
    return name.startswith("/") or re.match(r"^[A-Za-z]:", name) is not None or ".." in parts or _is_link(info)


def unpack_zip(data: bytes, into: Path) -> None:
    """Every member of the zip ``data`` written under ``into`` (which must exist); UploadError when it is not a zip,
    has a path escaping ``into``, or unpacks too big."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise UploadError(
            "That file is not a zip archive. Put the class folders in one folder, compress it to a "
            ".zip (right-click → Compress), and upload that.",
            f"zipfile: {error}",
        ) from None
    bad = next((info.filename for info in members if _unsafe(info)), None)
    if bad is not None:
        raise UploadError(
            "This zip was refused: some of its files point outside the zip's own folder (a “zip slip”), "
            "which could overwrite files on the server. Zip your folder again with an ordinary zip tool.",
            f"unsafe member path: {bad!r}",
        )
    if len(members) > MAX_FILES or sum(info.file_size for info in members) > MAX_UNPACKED_MB * 2**20:
        raise UploadError(
            f"This zip unpacks to more than {MAX_UNPACKED_MB} MB or {MAX_FILES:,} files, too much for "
            "this page. Upload fewer or smaller images.",
            f"{len(members)} members, {sum(i.file_size for i in members):,} bytes unpacked",
        )
    root = into.resolve()
    for info in members:
        target = (into / info.filename.replace("\\", "/")).resolve()
        if root not in target.parents and target != root:  # a second guard, after the normalised path
            raise UploadError(
                "This zip was refused: some of its files point outside the zip's own folder.",
                f"member resolves outside: {info.filename!r}",
            )
        if info.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with archive.open(info) as source, open(target, "wb") as sink:
                shutil.copyfileobj(source, sink)
        except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as error:  # corrupt, encrypted
            raise UploadError(
                "This zip could not be unpacked (it may be damaged or password-protected). Zip the "
                "folder again and upload the new file.",
                f"{info.filename}: {error}",
            ) from None


def data_root(folder: Path) -> Path:
    """Where the class folders (or train/ and test/) are: down through single wrapping folders, as zipping a folder
    adds one."""
    while True:
        entries = [p for p in folder.iterdir() if not p.name.startswith(".") and p.name != "__MACOSX"]
        if len(entries) == 1 and entries[0].is_dir() and any(p.is_dir() for p in entries[0].iterdir()):
            folder = entries[0]
        else:
            return folder


class Store:
    """The uploads on disk and who uploaded each (thread-safe: one per server, every session)."""

    def __init__(self, root: Path | None = None):
        self.root = root
        self._owned: dict[str, list[Upload]] = {}
        self._lock = threading.Lock()

    def owned(self, owner: str) -> list[Upload]:
        with self._lock:
            return list(self._owned.get(owner, []))

    def owns(self, owner: str, name: str) -> bool:
        return any(upload.name == name for upload in self.owned(owner))

    def _keep(self, owner: str, upload: Upload) -> Upload:
        with self._lock:
            mine = [u for u in self._owned.get(owner, []) if u.name != upload.name]
            self._owned[owner] = [*mine, upload][-8:]  # the last few; older files stay on disk, unlisted
        return upload

    def _place(self, owner: str, staged: Path, digest: str) -> Path:
        """Move the checked ``staged`` folder to its final place (atomically); the same content twice is one copy."""
        final = _owner_folder(owner, self.root or upload_dir()) / digest
        try:
            os.replace(staged, final)
        except OSError:  # already there (the same upload again): keep the first
            shutil.rmtree(staged, ignore_errors=True)
        return final

    def _staging(self, owner: str) -> Path:
        parent = _owner_folder(owner, self.root or upload_dir())
        parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=".upload-", dir=parent))

    def add_data(self, owner: str, filename: str, data: bytes) -> Upload:
        """A zip of an image folder or a CSV, checked and stored; UploadError (nothing left on disk) otherwise."""
        is_csv = filename.lower().endswith(".csv")
        staged = self._staging(owner)
        try:
            if is_csv:
                name = _safe_name(filename, "data.csv")
                (staged / name).write_bytes(data)
                relative = name
            else:
                unpack_zip(data, staged / "zip")
                relative = str(data_root(staged / "zip").relative_to(staged))
            kind = "csv" if is_csv else "folder"
            load_custom(f"{kind}:{staged / relative}")  # every check on the data, before it is kept
            final = self._place(owner, staged, hashlib.sha256(data).hexdigest()[:16])
            loaded = load_custom(f"{kind}:{final / relative}")
        except UploadError:
            shutil.rmtree(staged, ignore_errors=True)
            raise
        except ValueError as error:  # CustomDataError: already a sentence for the student
            shutil.rmtree(staged, ignore_errors=True)
            raise UploadError(_plain(str(error), staged), "") from None
        return self._keep(owner, Upload("data", filename, loaded.dataset.name, loaded.notes))

    def add_teacher(self, owner: str, filename: str, data: bytes) -> Upload:
        """An ONNX model, checked to load; its shapes are checked against the data when a run is set up."""
        name = _safe_name(filename, "teacher.onnx")
        OnnxTeacher(data, f"the file {name}")  # raises TeacherFileError, a sentence, before anything is written
        staged = self._staging(owner)
        (staged / name).write_bytes(data)
        final = self._place(owner, staged, hashlib.sha256(data).hexdigest()[:16])
        digest = hashlib.sha256(data).hexdigest()[:16]
        return self._keep(owner, Upload("teacher", filename, f"onnx:{final / name};sha={digest}"))


def _plain(message: str, staged: Path) -> str:
    """A loader's message without the server's temporary folder in it."""
    return message.replace(f"{staged}/zip/", "").replace(str(staged), "your upload")


STORE = Store()
