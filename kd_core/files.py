"""Two small things every part of the engine needs: a file written whole or not at all, and an error in one line.

Readers of a cache, a board or a JSON report may read while a writer writes (another browser, another process):
writing to a temporary file in the same folder and renaming it means they see the old file or the new one, never
half of either.  Errors reach a person (a command's one line on stderr, a sentence on the page), so a library's
multi-line message is cut to its first line.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import IO, Callable


def write_atomic(path: str | os.PathLike, write: Callable[[IO], None], binary: bool = False) -> Path:
    """Call ``write(handle)`` on a temporary file beside ``path``, flush it to disk, then rename it to ``path``.
    The folder is created if needed; on any error the temporary file is removed and ``path`` is left untouched."""
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())  # a rename of unwritten data would survive a crash as an empty file
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def write_json_atomic(data: object, path: str | os.PathLike, indent: int | None = None) -> Path:
    """``data`` as JSON at ``path``, written whole or not at all."""
    return write_atomic(path, lambda handle: json.dump(data, handle, indent=indent))


def one_line(error: BaseException) -> str:
    """An exception as one readable line: its message's first non-empty line, else its type's name."""
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    return lines[0].strip() if lines else type(error).__name__
