"""Trained teachers on disk: atomic writes, checksummed, loaded with ``weights_only=True``.

A file that is truncated, corrupt or fails its checksum is removed with a warning and
the caller retrains.  A folder that cannot be written falls back to memory with a warning.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import warnings
from pathlib import Path

import torch


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
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class TeacherCache:
    """``get(key)`` / ``put(key, state, meta)`` for trained teachers, on disk or (as a fallback) in memory."""

    def __init__(self, folder: str | os.PathLike | None = None):
        self.folder = Path(folder) if folder is not None else default_cache_dir()
        self._memory: dict[str, dict] = {}
        self._lock = threading.Lock()
        self.on_disk = self._writable()

    def _writable(self) -> bool:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            probe = tempfile.NamedTemporaryFile(dir=self.folder, prefix=".probe.", delete=True)
            probe.close()
            return True
        except OSError as error:
            warnings.warn(f"cache folder {self.folder} is not writable ({error.strerror}); keeping teachers in memory")
            return False

    def path(self, key: str) -> Path:
        return self.folder / f"teacher-{key}.pt"

    def get(self, key: str) -> dict | None:
        """``{"state": ..., "meta": ...}`` for a cached teacher, or None (missing or corrupt)."""
        with self._lock:
            if key in self._memory:
                return self._memory[key]
        path = self.path(key)
        if not self.on_disk or not path.exists():
            return None
        try:
            entry = torch.load(path, map_location="cpu", weights_only=True)
            if state_digest(entry["state"]) != entry["meta"]["digest"]:
                raise ValueError("checksum mismatch")
            return entry
        except Exception as error:  # truncated zip, bad pickle, missing keys, flipped bits
            warnings.warn(f"cached teacher {path.name} is corrupt ({type(error).__name__}: {error}); removing it and retraining")
            path.unlink(missing_ok=True)
            return None

    def put(self, key: str, state: dict[str, torch.Tensor], meta: dict) -> None:
        state = {name: tensor.detach().cpu().clone() for name, tensor in state.items()}
        entry = {"state": state, "meta": {**meta, "digest": state_digest(state)}}
        if self.on_disk:
            try:
                atomic_torch_save(entry, self.path(key))
                return
            except OSError as error:
                warnings.warn(f"could not write {self.path(key)} ({error.strerror}); keeping the teacher in memory")
                self.on_disk = False
        with self._lock:
            self._memory[key] = entry
