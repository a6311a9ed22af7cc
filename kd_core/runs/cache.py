"""Trained models on disk — teachers, and whole finished runs — atomic, checksummed, ``weights_only=True``.

A file that is truncated, corrupt or fails its checksum is removed with a warning and
the caller retrains.  A folder that cannot be written falls back to memory with a warning.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

try:
    import fcntl
except ImportError:  # not on Windows: there, claim() does not lock across processes
    fcntl = None

import torch

from kd_core.files import write_atomic


def default_cache_dir() -> Path:
    """``$KD_CACHE_DIR``, else a per-user cache folder."""
    if os.environ.get("KD_CACHE_DIR"):
        return Path(os.environ["KD_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "kd-dashboard" / "cache"


def state_digest(state: dict[str, torch.Tensor]) -> str:
    """sha256 over a state dict's names, shapes and bytes."""
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().cpu().contiguous()
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def atomic_torch_save(obj, path: Path) -> None:
    """Write to a temporary file in the same folder, fsync, then rename: readers never see half a file."""
    write_atomic(path, lambda handle: torch.save(obj, handle), binary=True)


class ModelCache:
    """``get(key)`` / ``put(key, states, meta)``: named state dicts plus JSON-like metadata, keyed by a hash.

    Entries live on disk as ``<kind>-<key>.pt``, or — when the folder cannot be written — in memory.
    """

    kind = "model"

    def __init__(self, folder: str | os.PathLike | None = None, on_disk: bool = True):
        """``on_disk=False``: keep the entries in memory without trying the folder."""
        self.folder = Path(folder) if folder is not None else default_cache_dir()
        self._memory: dict[str, dict] = {}
        self._lock = threading.Lock()
        self.on_disk = on_disk and self._writable()

    def _writable(self) -> bool:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            tempfile.NamedTemporaryFile(dir=self.folder, prefix=".probe.").close()
            return True
        except OSError as error:
            warnings.warn(  # stacklevel 3: the code that built the cache, past __init__
                f"cache folder {self.folder} is not writable ({error.strerror}); keeping {self.kind}s in memory",
                stacklevel=3,
            )
            return False

    @property
    def disk_folder(self) -> str | None:
        """The folder as a path string, for a task that runs in another process; None when kept in memory."""
        return str(self.folder) if self.on_disk else None

    def path(self, key: str) -> Path:
        return self.folder / f"{self.kind}-{key}.pt"

    def get(self, key: str) -> dict | None:
        """``{"states": {name: state_dict}, "meta": {...}}``, or None when missing or corrupt."""
        with self._lock:
            if key in self._memory:
                return self._memory[key]
        path = self.path(key)
        if not self.on_disk or not path.exists():
            return None
        try:
            entry = torch.load(path, map_location="cpu", weights_only=True)
            digest = "".join(state_digest(entry["states"][name]) for name in sorted(entry["states"]))
            if digest != entry["meta"]["digest"]:
                raise ValueError("checksum mismatch")
            return entry
        except Exception as error:  # truncated zip, bad pickle, missing keys, flipped bits
            warnings.warn(
                f"cached {self.kind} {path.name} is corrupt ({type(error).__name__}: {error}); "
                "removing it and rebuilding",
                stacklevel=2,
            )
            path.unlink(missing_ok=True)
            return None

    def put(self, key: str, states: dict[str, dict[str, torch.Tensor]], meta: dict) -> None:
        states = {name: {k: t.detach().cpu().clone() for k, t in state.items()} for name, state in states.items()}
        digest = "".join(state_digest(states[name]) for name in sorted(states))
        entry = {"states": states, "meta": {**meta, "digest": digest}}
        if self.on_disk:
            try:
                atomic_torch_save(entry, self.path(key))
                return
            except OSError as error:
                warnings.warn(
                    f"could not write {self.path(key)} ({error.strerror}); keeping the {self.kind} in memory",
                    stacklevel=2,
                )
                self.on_disk = False
        with self._lock:
            self._memory[key] = entry

    @contextmanager
    def claim(self, key: str, stop=None, poll: float = 0.1) -> Iterator[bool]:
        """Hold ``key`` across processes (dashboard replicas sharing this folder, parallel kd-train runs): one
        trains, the others wait and then find its entry.  Yields False if ``stop`` is set while waiting."""
        if not self.on_disk or fcntl is None:
            yield True
            return
        with open(self.folder / f".{self.kind}-{key}.lock", "a+") as handle:
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if stop is not None and stop.is_set():
                        yield False
                        return
                    time.sleep(poll)
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


class TeacherCache(ModelCache):
    """Trained teachers, keyed by ``RunConfig.teacher_key()``; beside them, in ``baselines``, the scratch students."""

    kind = "teacher"

    @property
    def baselines(self) -> "BaselineCache":
        """The scratch baselines kept with these teachers: in the same folder, or in memory when this cache is."""
        with self._lock:
            if getattr(self, "_baselines", None) is None:
                self._baselines = BaselineCache(self.folder, on_disk=self.on_disk)
            return self._baselines


class BaselineCache(ModelCache):
    """Scratch students, keyed by ``RunConfig.baseline_key()``: they learn from the labels alone, so a run that
    changes only T, λ or the distillation loss trains the very same one."""

    kind = "baseline"


class ResultCache(ModelCache):
    """Finished runs (report + trained models), keyed by ``RunConfig.run_key()``: runs are deterministic,
    so an identical request is served from here instead of being trained again."""

    kind = "result"

    def served(self, key: str) -> None:
        """Mark the entry as finished now (its file's time): the class board counts a run from the time a student
        last got it, so a run served from here after a teacher starts a fresh board shows on it."""
        if self.on_disk:
            try:
                os.utime(self.path(key))
            except OSError:  # gone meanwhile, or a read-only folder: the board just misses this point
                pass
