"""The sweeps' runs on the class board: each finished (value, seed) row of a sweep, stored for the board.

The T & λ sweep and the little-data tab train their students through ``kd_core.studies.sweeps.sweep``, which keeps no
results file per run; a teacher running the sweep still expects its points on the board.  So every finished row
is written next to the Distill runs, as ``sweep-<run key>.json`` (the resolved settings and the two students'
test accuracies, nothing else), and the board draws them as sweep runs.  The same settings run again overwrite
their file: a point per settings and seed, dated when it last finished.

    recorder = SweepRecorder(config, "temperature")      # once per sweep job
    on_event = recorder.wrap(on_event)                   # records each "row" event, passes every event on
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

from kd_core.config import ConfigError, RunConfig
from kd_core.data.spec import DatasetUnavailable
from kd_core.files import write_json_atomic
from kd_core.runs.cache import ResultCache
from kd_core.studies.sweeps import sweep_configs

PREFIX, SUFFIX = "sweep-", ".json"
SOURCE = "sweep"


def is_sweep_file(name: str) -> bool:
    return name.startswith(PREFIX) and name.endswith(SUFFIX)


def record(folder: str | os.PathLike, config: RunConfig, student: float, baseline: float) -> Path:
    """Store one sweep run (``config`` resolved as pipeline.load resolves it) for the board; written to a
    temporary file and renamed, so a board refreshing meanwhile never reads half of it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    entry = {"source": SOURCE, "config": config.to_dict(), "student": float(student), "baseline": float(baseline)}
    target = folder / f"{PREFIX}{config.run_key()}{SUFFIX}"
    return write_json_atomic(entry, target)


def as_entry(path: Path) -> dict:
    """A sweep file in the shape of a stored result's entry (``meta.result``), for kd_core.board.collect to read."""
    data = json.loads(path.read_text())
    if data.get("source") != SOURCE:
        raise ValueError("not a sweep run")
    result = {
        "status": "completed",
        "config": data["config"],
        "student": {"accuracy": data["student"]},
        "baseline": {"accuracy": data["baseline"]},
    }
    return {"meta": {"result": result}}


class SweepRecorder:
    """Writes each finished row of one sweep (over ``param``, on ``base``'s settings) into the results folder.
    Never stops a sweep: a folder that cannot be written, or settings that cannot be resolved, record nothing."""

    def __init__(self, base: RunConfig, param: str, folder: str | os.PathLike | None = None):
        self.base, self.param = base, param
        self.folder = folder if folder is not None else ResultCache().disk_folder  # None: kept in memory, no board
        self.recorded: list[Path] = []

    def __call__(self, row) -> None:
        if self.folder is None or row.baseline_accuracy is None:
            return  # no board, or no scratch baseline to compare with
        try:
            (config,) = sweep_configs(self.param, [row.value], [row.seed], self.base)  # as the sweep resolved it
            self.recorded.append(record(self.folder, config, row.student_accuracy, row.baseline_accuracy))
        except (OSError, ConfigError, DatasetUnavailable, TypeError, ValueError):
            pass  # the board misses a point; the sweep and its own table are unaffected

    def wrap(self, on_event: Callable) -> Callable:
        """``on_event``, recording each finished row (a SweepEvent of kind "row") first."""

        def relay(event) -> None:
            if getattr(event, "kind", None) == "row" and getattr(event, "row", None) is not None:
                self(event.row)
            on_event(event)

        return relay
