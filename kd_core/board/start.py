"""A fresh class board: the teacher hides every run finished until now (for everyone on the server), and can undo it.

Only a start time is written (``class-board-start.json`` in the results folder); no run is ever removed.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

from kd_core.files import write_json_atomic

START_FILE = "class-board-start.json"  # when the teacher started a fresh board: {"since": seconds since the epoch}


def read_start(folder: str | os.PathLike) -> float | None:
    """When the current board started (seconds since the epoch), or None: every run shows."""
    try:
        since = json.loads((Path(folder) / START_FILE).read_text())["since"]
        return float(since) if math.isfinite(float(since)) else None
    except (OSError, ValueError, KeyError, TypeError):  # none yet, or unreadable: show every run
        return None


def start_fresh(folder: str | os.PathLike, now: float | None = None) -> float:
    """Start a fresh board at ``now``: only runs stored afterwards show.  Written to a temporary file and renamed,
    so a board refreshing meanwhile reads the old start or the new one, never half a file."""
    since = time.time() if now is None else now
    write_json_atomic({"since": since}, Path(folder) / START_FILE)
    return since


def show_every_run(folder: str | os.PathLike) -> None:
    """Undo a fresh start: every stored run shows again (the runs themselves were never removed)."""
    (Path(folder) / START_FILE).unlink(missing_ok=True)
