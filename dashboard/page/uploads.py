"""Uploads kept on the server: a zip of an image folder or a CSV (a dataset), an ONNX model (a teacher) or a zip of
one ONNX model and the weights file it keeps beside it (torch's default exporter writes ``m.onnx`` and
``m.onnx.data``), folded into one file by kd_core.models.own_teacher.onnx_from_zip under the same zip rules.

No Streamlit here (dashboard/page/upload_panel.py draws them).  Nothing uploaded is ever unpickled or executed: a zip is
read with ``zipfile`` member by member (never ``extractall``), a CSV with pandas, an ONNX file with onnxruntime.
Each upload is checked in a temporary folder and kept only when it loads, so a bad one leaves nothing behind.

Every limit is in ``Limits`` (the defaults, and the environment variables a server's owner sets): the page states
them from there and tests hold docs/data.md, launch.py and .streamlit/config.toml to them.

* One file as sent: ``upload_mb``, Streamlit's ``server.maxUploadSize`` (a bigger file never reaches the page).
* A zip's images: decoded pixels per image and in all, read from each member's header before anything is unpacked
  or decoded (kd_core.data.custom.check_pixels), whatever the compressed size; and its number of files.
* Disk: one browser's uploads, unpacked, take at most ``browser_mb`` (a new upload removes that browser's oldest to
  make room), and this server's at most ``server_mb`` (beyond it an upload is refused until others are removed).
  The room is reserved before anything is written, so uploads checked at once cannot overshoot either.

Files live under ``$KD_UPLOAD_DIR`` (default: ``kd-dashboard/uploads`` in the per-user cache folder, beside the data
folder, never in it): one folder per server process (``server-…``, holding a lock while the process lives), in it
one per browser (a hash of its id, never the id itself) and one per upload (its content hash).  Which browser
uploaded what is kept in memory here, so only that browser's page offers its uploads; they are deleted when its
record expires (dashboard.page.sessions calls ``Store.forget``), and a server's whole folder when the next server
to start finds it unlocked (its process has ended: ``Store.start``).
"""

from __future__ import annotations

import atexit
import hashlib
import io
import os
import re
import shutil
import stat
import tempfile
import threading
import warnings
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from pathlib import Path, PurePosixPath

from kd_core.data.custom import CustomDataError, PixelLimits, check_pixels
from kd_core.data.custom import load as load_custom
from kd_core.models.own_teacher import OnnxTeacher, TeacherFileError, onnx_from_zip

try:
    import fcntl
except ImportError:  # not a Unix: no lock, so another server's folder is never taken for an orphan
    fcntl = None

MB = 2**20
MAX_LISTED = 8  # a browser's uploads listed on its page; an older one is deleted
DATA_TYPES = ("zip", "csv")
TEACHER_TYPES = ("onnx", "zip")
SERVER_PREFIX = "server-"
_LEGACY = re.compile(r"[0-9a-f]{16}")  # a browser's folder straight under the root, as earlier versions kept them


@dataclass(frozen=True)
class Limits:
    """What an upload may be and what uploads may take; a server's owner changes them with ``ENVIRONMENT``."""

    upload_mb: int = 10  # one file as sent: Streamlit's server.maxUploadSize (launch.py, .streamlit/config.toml)
    browser_mb: int = 100  # one browser's uploads on disk, unpacked; its oldest go to make room for a new one
    server_mb: int = 2000  # this server's uploads on disk, every browser's together; beyond it uploads are refused
    image_megapixels: int = 16  # one image, decoded (width × height, from its header): a 4000 × 4000 photo
    total_megapixels: int = 200  # one upload's images together, decoded
    files: int = 20_000  # one zip's members

    @property
    def pixels(self) -> PixelLimits:
        return PixelLimits(self.image_megapixels, self.total_megapixels)


DEFAULTS = Limits()
ENVIRONMENT = {  # field of Limits -> the environment variable that sets it (upload_mb is Streamlit's option)
    "browser_mb": "KD_UPLOAD_BROWSER_MB",
    "server_mb": "KD_UPLOAD_SERVER_MB",
    "image_megapixels": "KD_UPLOAD_IMAGE_MEGAPIXELS",
    "total_megapixels": "KD_UPLOAD_TOTAL_MEGAPIXELS",
    "files": "KD_UPLOAD_FILES",
}
assert set(ENVIRONMENT) == {f.name for f in fields(Limits)} - {"upload_mb"}


def limits() -> Limits:
    """The limits in force: each default replaced by its environment variable when that holds a positive whole
    number (anything else is warned about in the server's log and ignored)."""
    values = {}
    for name, variable in ENVIRONMENT.items():
        text = os.environ.get(variable, "").strip()
        if not text:
            continue
        if text.isdigit() and int(text) > 0:
            values[name] = int(text)
        else:
            warning = f"{variable}={text!r} is not a positive whole number; {getattr(DEFAULTS, name)} is used"
            warnings.warn(warning, stacklevel=2)
    return replace(DEFAULTS, **values)


class UploadError(ValueError):
    """An upload that cannot be used: ``str()`` is a sentence for the student, ``detail`` is for the server's owner."""

    def __init__(self, message: str, detail: str = ""):
        super().__init__(message)
        self.detail = detail


@dataclass(frozen=True)
class Upload:
    kind: str  # "data" or "teacher"
    label: str  # the file's name as uploaded, for the page
    name: str  # the canonical dataset or teacher name the engine takes (folder:/csv:/onnx:...): never shown
    notes: tuple[str, ...] = ()  # what the loader did (skipped files, resized images), what made room for it
    digest: str = ""  # 16 hex digits of SHA-256 over the file as uploaded
    size: int = 0  # bytes it takes on the server, unpacked

    @property
    def sha(self) -> str:
        """The content hash the engine keys its runs by (``;sha=`` of ``name``): the data as loaded, the teacher's
        file; the settings line and History show the same."""
        return self.name.rsplit(";sha=", 1)[-1] if ";sha=" in self.name else self.digest

    @property
    def title(self) -> str:
        """How the page shows it: its name and a short content hash, never where it is kept."""
        return f"{self.label} (sha {self.sha[:8]})"


@dataclass(frozen=True)
class _Kept:
    upload: Upload
    folder: Path  # its content-hash folder


def upload_dir() -> Path:
    """``$KD_UPLOAD_DIR``, else the per-user cache folder's ``kd-dashboard/uploads`` (not inside the data folder)."""
    if os.environ.get("KD_UPLOAD_DIR"):
        return Path(os.environ["KD_UPLOAD_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "kd-dashboard" / "uploads"


def megabytes(size: float) -> str:
    """``size`` bytes as the page says it: "180 MB", "0.2 MB"."""
    return f"{size / MB:.0f} MB" if size >= 10 * MB else f"{size / MB:.1f} MB".replace(".0 MB", " MB")


def _owner_key(owner: str) -> str:
    return hashlib.sha256(owner.encode()).hexdigest()[:16]


def _safe_name(filename: str, default: str) -> str:
    """The uploaded file's name, reduced to letters, digits, dot, dash and underscore (never a path)."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", PurePosixPath(filename.replace("\\", "/")).name).strip("._")
    return base[:60] or default


def _label(filename: str) -> str:
    """The name the page shows: the file's own name, without any folder the browser sent."""
    return PurePosixPath(filename.replace("\\", "/")).name[:80] or "your file"


def _is_link(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def _escapes(info: zipfile.ZipInfo) -> bool:
    """A member whose path would land outside the folder it is unpacked into (a "zip slip")."""
    name = info.filename.replace("\\", "/")
    return name.startswith("/") or re.match(r"^[A-Za-z]:", name) is not None or ".." in PurePosixPath(name).parts


def _visible(info: zipfile.ZipInfo) -> bool:
    """A member the loader reads: not a folder, not hidden, not what a Mac's zip tool adds (__MACOSX)."""
    parts = PurePosixPath(info.filename.replace("\\", "/")).parts
    return not info.is_dir() and not any(p.startswith(".") or p == "__MACOSX" for p in parts)


def open_zip(data: bytes, allowed: Limits) -> tuple[zipfile.ZipFile, list[zipfile.ZipInfo]]:
    """The zip ``data`` and its members, checked without unpacking anything: a zip at all, no member leaving its
    folder, no links, not too many files, and its images' pixels from their headers.  UploadError otherwise."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise UploadError(
            "That file is not a zip archive. Put the class folders in one folder, compress it to a "
            ".zip (right-click → Compress), and upload that.",
            f"zipfile: {error}",
        ) from None
    bad = next((info.filename for info in members if _escapes(info)), None)
    if bad is not None:
        raise UploadError(
            "This zip was refused: some of its files point outside the zip's own folder (a “zip slip”), "
            "which could overwrite files on the server. Zip your folder again with an ordinary zip tool.",
            f"unsafe member path: {bad!r}",
        )
    link = next((info.filename for info in members if _is_link(info)), None)
    if link is not None:
        raise UploadError(
            f"This zip holds shortcuts (symbolic links) instead of images, such as “{_label(link)}”, and the server "
            "does not follow them. Zip the folder that holds the image files themselves and upload that.",
            f"symbolic link member: {link!r}",
        )
    if len(members) > allowed.files:
        raise UploadError(
            f"This zip holds {len(members):,} files, more than the {allowed.files:,} this page takes. Upload "
            "fewer images.",
            f"{len(members)} members; KD_UPLOAD_FILES={allowed.files}",
        )
    try:
        check_pixels(
            ((info.filename, lambda info=info: archive.open(info)) for info in members if _visible(info)),
            allowed.pixels,
            "this zip",
        )
    except CustomDataError as error:
        raise UploadError(
            _sentence(str(error)),
            f"decoded pixels read from the headers; KD_UPLOAD_IMAGE_MEGAPIXELS={allowed.image_megapixels}, "
            f"KD_UPLOAD_TOTAL_MEGAPIXELS={allowed.total_megapixels}",
        ) from None
    return archive, members


def unpack(archive: zipfile.ZipFile, members: list[zipfile.ZipInfo], into: Path) -> None:
    """Every member (checked by ``open_zip``) written under ``into``; UploadError when one cannot be."""
    into.mkdir(parents=True, exist_ok=True)
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
        with open(target, "wb") as sink:  # an OSError here is the server's disk: add_data says so
            for chunk in _chunks(archive, info):
                sink.write(chunk)


def _chunks(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """The member's bytes, never more than the size the zip declares (zipfile stops there); UploadError when the
    zip is damaged or encrypted."""
    try:
        with archive.open(info) as source:
            while chunk := source.read(MB):
                yield chunk
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, RuntimeError, NotImplementedError) as error:
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


def _size(folder: Path) -> int:
    return sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file())


def _sentence(message: str) -> str:
    """A loader's message as a sentence on the page: a capital (unless it starts with a file's name) and a full
    stop."""
    first = message.split(" ", 1)[0]
    if message[:1].islower() and not re.search(r"[./]", first):
        message = message[0].upper() + message[1:]
    return message if message.endswith((".", "?", "!")) else message + "."


class Store:
    """The uploads on disk and who uploaded each (thread-safe: one per server, every session)."""

    def __init__(self, root: Path | None = None):
        self.root = root
        self._owned: dict[str, list[_Kept]] = {}
        self._reserved: dict[str, int] = {}  # owner -> bytes of uploads being checked now
        self._lock = threading.Lock()
        self._swept: set[Path] = set()  # upload roots whose orphans were removed
        self._servers: dict[Path, tuple[Path, int | None]] = {}  # upload root -> (this process's folder, lock fd)

    # ------------------------------------------------------------ listing and accounting

    def owned(self, owner: str) -> list[Upload]:
        with self._lock:
            return [kept.upload for kept in self._owned.get(owner, [])]

    def owns(self, owner: str, name: str) -> bool:
        return any(upload.name == name for upload in self.owned(owner))

    def used(self, owner: str | None = None) -> int:
        """Bytes on disk (and reserved for uploads being checked) of ``owner``, or of every browser."""
        with self._lock:
            return self._used(owner)

    def _used(self, owner: str | None) -> int:
        owners = list(self._owned) if owner is None else [owner]
        kept = sum(k.upload.size for o in owners for k in self._owned.get(o, []))
        return kept + (sum(self._reserved.values()) if owner is None else self._reserved.get(owner, 0))

    # ------------------------------------------------------------ the folders

    def _root(self) -> Path:
        return (self.root or upload_dir()).absolute()

    def start(self) -> None:
        """Remove the orphans under the upload folder once (the folders of servers that have ended, and browser
        folders as earlier versions kept them); a live server's folder is locked, so it is never touched."""
        root = self._root()
        with self._lock:
            if root in self._swept:
                return
            self._swept.add(root)
        if fcntl is None or not root.is_dir():
            return
        for entry in root.iterdir():
            if entry.is_symlink() or not entry.is_dir():
                continue
            if _LEGACY.fullmatch(entry.name):
                shutil.rmtree(entry, ignore_errors=True)
            elif entry.name.startswith(SERVER_PREFIX):
                _remove_if_unlocked(entry)

    def _server_folder(self) -> Path:
        """This process's folder under the upload root: made (and locked) on first use, deleted at exit."""
        self.start()
        root = self._root()
        with self._lock:
            if root not in self._servers:
                root.mkdir(parents=True, exist_ok=True)
                making = Path(tempfile.mkdtemp(prefix=".new-", dir=root))  # not swept: no other server takes it
                fd = None
                if fcntl is not None:
                    fd = os.open(making / ".lock", os.O_CREAT | os.O_RDWR, 0o600)
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                folder = root / f"{SERVER_PREFIX}{making.name.removeprefix('.new-')}"
                os.rename(making, folder)
                self._servers[root] = (folder, fd)
                atexit.register(shutil.rmtree, folder, True)
            return self._servers[root][0]

    def _owner_folder(self, owner: str) -> Path:
        return self._server_folder() / _owner_key(owner)

    def _staging(self, owner: str) -> Path:
        parent = self._owner_folder(owner)
        parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=".upload-", dir=parent))

    def _place(self, owner: str, staged: Path, digest: str) -> Path:
        """Move the checked ``staged`` folder to its final place (atomically); the same content twice is one copy."""
        final = self._owner_folder(owner) / digest
        try:
            os.replace(staged, final)
        except OSError:  # already there (the same upload at once from two tabs): keep the first
            shutil.rmtree(staged, ignore_errors=True)
        return final

    # ------------------------------------------------------------ room on disk

    @contextmanager
    def _room(self, owner: str, need: int, allowed: Limits) -> Iterator[None]:
        """``need`` bytes reserved for ``owner`` while the upload is checked; UploadError when they do not fit."""
        with self._lock:
            if need > allowed.browser_mb * MB:
                raise UploadError(
                    f"This upload unpacks to {megabytes(need)}, more than the {allowed.browser_mb} MB your uploads "
                    "may take on this server. Upload fewer or smaller files.",
                    f"{need:,} bytes unpacked; KD_UPLOAD_BROWSER_MB={allowed.browser_mb}",
                )
            used = self._used(None)
            if used + need > allowed.server_mb * MB:
                raise UploadError(
                    "This server has no room for more uploads right now: everyone's together may take "
                    f"{allowed.server_mb} MB. Try again later, or ask whoever runs the server.",
                    f"{used:,} bytes kept or being checked + {need:,} > KD_UPLOAD_SERVER_MB={allowed.server_mb}",
                )
            self._reserved[owner] = self._reserved.get(owner, 0) + need
        try:
            yield
        finally:
            with self._lock:
                self._reserved[owner] -= need
                if not self._reserved[owner]:
                    del self._reserved[owner]

    def _again(self, owner: str, kind: str, digest: str, filename: str) -> Upload | None:
        """The same file uploaded again by the same browser: its upload, now the newest, under the new name."""
        with self._lock:
            mine = self._owned.get(owner, [])
            same = next((k for k in mine if k.upload.kind == kind and k.upload.digest == digest), None)
            if same is None or not same.folder.is_dir():
                return None
            again = _Kept(replace(same.upload, label=_label(filename), notes=()), same.folder)
            self._owned[owner] = [*(k for k in mine if k is not same), again]
            return again.upload

    def _keep(self, owner: str, upload: Upload, folder: Path, allowed: Limits) -> Upload:
        """List ``upload`` as ``owner``'s newest; that browser's oldest go (files and all) beyond its room."""
        with self._lock:
            mine = [k for k in self._owned.get(owner, []) if k.folder != folder]
            gone = []
            while mine and (
                len(mine) + 1 > MAX_LISTED or sum(k.upload.size for k in mine) + upload.size > allowed.browser_mb * MB
            ):
                gone.append(mine.pop(0))
            if gone:
                names = ", ".join(k.upload.title for k in gone)
                upload = replace(
                    upload,
                    notes=(
                        *upload.notes,
                        f"to keep your uploads within {allowed.browser_mb} MB and {MAX_LISTED} files, your earlier "
                        f"{names} {'was' if len(gone) == 1 else 'were'} deleted",
                    ),
                )
            self._owned[owner] = [*mine, _Kept(upload, folder)]
        for kept in gone:
            shutil.rmtree(kept.folder, ignore_errors=True)
        return upload

    def forget(self, owner: str) -> None:
        """Delete ``owner``'s uploads, files and listing (its browser's record expired)."""
        with self._lock:
            gone = self._owned.pop(owner, [])
        for kept in gone:
            shutil.rmtree(kept.folder, ignore_errors=True)
        for folder, _ in list(self._servers.values()):
            shutil.rmtree(folder / _owner_key(owner), ignore_errors=True)

    # ------------------------------------------------------------ uploads

    def add_data(self, owner: str, filename: str, data: bytes) -> Upload:
        """A zip of an image folder or a CSV, checked and stored; UploadError (nothing left on disk) otherwise."""
        allowed = limits()
        digest = hashlib.sha256(data).hexdigest()[:16]
        again = self._again(owner, "data", digest, filename)
        if again is not None:
            return again
        is_csv = filename.lower().endswith(".csv")
        if is_csv:
            need = len(data)
        else:
            archive, members = open_zip(data, allowed)  # before anything is written
            need = sum(info.file_size for info in members)
        kind = "csv" if is_csv else "folder"
        with self._room(owner, need, allowed):
            staged, final = self._staging(owner), None
            try:
                if is_csv:
                    relative = _safe_name(filename, "data.csv")
                    (staged / relative).write_bytes(data)
                else:
                    top = Path(_safe_name(filename, "data.zip")).stem or "data"
                    unpack(archive, members, staged / top)
                    relative = str(data_root(staged / top).relative_to(staged))
                final = self._place(owner, staged, digest)
                loaded = load_custom(f"{kind}:{final / relative}", pixels=allowed.pixels)  # every check on the data
            except UploadError:
                _remove(staged, final)
                raise
            except ValueError as error:  # CustomDataError: already a sentence for the student
                _remove(staged, final)
                raise UploadError(_sentence(self._plain(str(error), final or staged)), "") from None
            except OSError as error:  # the disk: full, or not writable
                _remove(staged, final)
                raise self._disk_error(error) from None
            upload = Upload("data", _label(filename), loaded.dataset.name, loaded.notes, digest, _size(final))
            return self._keep(owner, upload, final, allowed)  # listed before its reservation ends: never uncounted

    def add_teacher(self, owner: str, filename: str, data: bytes) -> Upload:
        """An ONNX model (or a zip of one and its weights file, folded into one), checked to load; its shapes are
        checked against the data when a run is set up."""
        allowed = limits()
        digest = hashlib.sha256(data).hexdigest()[:16]
        again = self._again(owner, "teacher", digest, filename)
        if again is not None:
            return again
        name = _safe_name(filename, "teacher.onnx")
        label = _label(filename)
        if filename.lower().endswith(".zip"):  # an .onnx and its weights file: one self-contained model
            try:
                inner, data = onnx_from_zip(data, allowed.browser_mb * MB, allowed.files)
            except TeacherFileError as error:
                raise UploadError(_sentence(str(error)), f"teacher zip: {error}") from None
            name, label = _safe_name(inner, "teacher.onnx"), _label(inner)  # named by its model, as the engine does
        OnnxTeacher(data, f"the file {name}")  # raises TeacherFileError, a sentence, before anything is written
        sha = hashlib.sha256(data).hexdigest()[:16]  # of the model as kept (a zip's: folded), as the engine hashes it
        with self._room(owner, len(data), allowed):
            staged, final = self._staging(owner), None
            try:
                (staged / name).write_bytes(data)
                final = self._place(owner, staged, digest)
            except OSError as error:
                _remove(staged, final)
                raise self._disk_error(error) from None
            upload = Upload("teacher", label, f"onnx:{final / name};sha={sha}", (), digest, len(data))
            return self._keep(owner, upload, final, allowed)

    def _plain(self, message: str, folder: Path) -> str:
        """A loader's message without the server's folders in it."""
        message = message.replace(f"{folder}/", "").replace(str(folder), "your upload")
        return message.replace(str(self._root()), "the upload folder")

    def _disk_error(self, error: OSError) -> UploadError:
        return UploadError(
            "The server could not store this upload (its disk may be full). Try again later, or tell whoever runs "
            "the server.",
            f"{type(error).__name__}: {str(error).replace(str(self._root()), '$KD_UPLOAD_DIR')}",
        )


def _remove(*folders: Path | None) -> None:
    for folder in folders:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


def _remove_if_unlocked(folder: Path) -> None:
    """Delete the server folder ``folder`` unless its process still holds its lock."""
    try:
        fd = os.open(folder / ".lock", os.O_RDWR)
    except FileNotFoundError:  # no lock at all: not made by a live server
        shutil.rmtree(folder, ignore_errors=True)
        return
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        shutil.rmtree(folder, ignore_errors=True)
    except OSError:  # held: that server is alive
        pass
    finally:
        os.close(fd)


STORE = Store()
