"""The class board: every finished run in a results folder, as KD − baseline against one setting, per lesson.

A finding after Hinton (kd_core/studies/research.py) counts as a lesson: a run whose settings are one of its arms'
(the seed aside) is named after the finding.  Only its arms with a scratch baseline can be on the board.

    reader = FolderReader()            # one per server: it remembers the files it has read
    runs = reader.read(folder)         # BoardRun per result-<key>.pt and sweep-<key>.json (new or changed files only)
    board = build_board(runs, "temperature", since=read_start(folder))

A class splits the settings among its students; each Distill stores its runs (pipeline.run with a ResultCache)
and the board draws them all, with the sweeps' runs (kd_core/board/sweeps.py), labelled "(sweep)".  Reading is
cheap on every refresh: a file is loaded once per (name, mtime, size), and only its config and accuracies are
kept.  A file that cannot be read is skipped and never deleted (the board is a reader: ResultCache.get decides
what is corrupt).  No names are stored anywhere: a run is its settings.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from kd_core.board import sweeps as board_sweeps
from kd_core.board.start import START_FILE, read_start, show_every_run, start_fresh  # noqa: F401  (the tab's buttons)
from kd_core.config import ConfigError, RunConfig, validate
from kd_core.data.custom import is_custom
from kd_core.data.datasets import load_dataset
from kd_core.models.own_teacher import is_external
from kd_core.runs.setup import equal_steps_epochs
from kd_core.stats import Interval
from kd_core.studies.lessons import LESSONS
from kd_core.studies.research import FINDINGS

# The settings the board can put on its x axis, with the words the page uses for them.
AXES: dict[str, str] = {
    "temperature": "Temperature T",
    "lam": "λ (teacher's weight)",
    "student_fraction": "Students' data share",
    "student_width": "Student width",
}
FREE_PLAY = "free play"
SWEEP_LABEL = " (sweep)"  # after a lesson's name: runs of the T & λ sweep or the little-data tab (kd_core.board.sweeps)
# Never part of a run's identity on the board: the seed varies within a point cloud; where the data lives and
# which device trained are not settings a class compares.
NOT_SETTINGS = ("seed", "data_dir", "device")
CONFIG_FIELDS = {field.name for field in dataclasses.fields(RunConfig)}
SETTINGS = tuple(sorted(CONFIG_FIELDS - set(NOT_SETTINGS)))  # what makes two runs "the same settings"


@dataclass(frozen=True)
class BoardRun:
    """One finished run as the board sees it: its resolved settings and the two students' test accuracies."""

    name: str  # the file's name, result-<run key>.pt
    finished: float  # the file's modification time (seconds since the epoch): when the run was stored
    config: RunConfig
    student: float  # accuracy, a fraction
    baseline: float
    source: str = "distill"  # or "sweep": a sweep's row (kd_core.board.sweeps), drawn as a sweep run

    @property
    def gain(self) -> float:
        """KD − baseline, a fraction (the same seed: the teacher's signal is the only difference)."""
        return self.student - self.baseline


def run_from_entry(name: str, finished: float, entry: dict, source: str = "distill") -> BoardRun | None:
    """A stored ResultCache entry as a BoardRun; None for a run the board cannot place (no baseline, not completed).

    Reads only ``meta.result``'s config and accuracies: whatever else an entry holds may change freely."""
    result = entry["meta"]["result"]
    if result.get("status") != "completed" or not result.get("student") or not result.get("baseline"):
        return None
    settings = {key: value for key, value in result["config"].items() if key in CONFIG_FIELDS}
    if is_custom(settings.get("dataset")) or is_external(settings.get("teacher")):
        return None  # a student's own data or teacher: theirs, never on the class board
    args = settings.pop("loss_args", None) or []  # a method's (name, value) pairs, stored as lists
    if not all(value is None or isinstance(value, (str, int, float)) for value in settings.values()) or not all(
        isinstance(pair, (list, tuple))
        and len(pair) == 2
        and isinstance(pair[0], str)
        and isinstance(pair[1], (int, float))
        for pair in args
    ):
        raise ValueError("a setting that no run stores")  # a damaged entry: the board hashes and plots these
    settings["loss_args"] = tuple((key, float(value)) for key, value in args)
    return BoardRun(
        name,
        finished,
        RunConfig(**settings),
        float(result["student"]["accuracy"]),
        float(result["baseline"]["accuracy"]),
        source,
    )


def load_run(path: Path, finished: float) -> BoardRun | None:
    """The file's BoardRun; None when it is not one (truncated, corrupt, another format) — never an exception."""
    try:
        if board_sweeps.is_sweep_file(path.name):
            return run_from_entry(path.name, finished, board_sweeps.as_entry(path), board_sweeps.SOURCE)
        # mmap: the models' weights stay on disk; only the pickled metadata is read.
        entry = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        return run_from_entry(path.name, finished, entry)
    except Exception:  # a half-copied or damaged file is simply not on the board
        return None


class FolderReader:
    """The result files of a folder, each loaded once per (name, mtime, size): a refresh every couple of seconds
    costs one directory listing while nothing new has finished.  Thread-safe: one per server, every session."""

    def __init__(self, load: Callable[[Path, float], BoardRun | None] = load_run):
        self._load = load
        self._memo: dict[tuple[str, str], tuple[tuple[int, int], BoardRun | None]] = {}
        self._lock = threading.Lock()
        self.loads = 0  # files loaded so far (the tests check that a file is loaded once)

    def read(self, folder: str | os.PathLike) -> list[BoardRun]:
        folder = Path(folder)
        found = {}
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    # Finished runs only: ResultCache writes .result-<key>.pt.<random>.tmp first, then renames.
                    if (entry.name.startswith("result-") and entry.name.endswith(".pt")) or board_sweeps.is_sweep_file(
                        entry.name
                    ):
                        try:
                            stat = entry.stat()
                        except OSError:  # removed between the listing and the stat
                            continue
                        found[entry.name] = (stat.st_mtime_ns, stat.st_size)
        except OSError:  # no folder yet: nothing has finished
            return []
        runs = []
        with self._lock:
            for name in list(self._memo):
                if name[0] == str(folder) and name[1] not in found:
                    del self._memo[name]  # removed from the folder: off the board
            for name, identity in sorted(found.items()):
                memo = self._memo.get((str(folder), name))
                if memo is None or memo[0] != identity:
                    self.loads += 1
                    memo = (identity, self._load(folder / name, identity[0] / 1e9))
                    self._memo[(str(folder), name)] = memo
                if memo[1] is not None:
                    runs.append(memo[1])
        return runs


# ---------------------------------------------------------------- which lesson a run belongs to


def _same(expected: dict, actual: dict, skip: tuple[str, ...]) -> bool:
    for key, value in expected.items():
        if key in skip:
            continue
        other = actual.get(key)
        if isinstance(value, float) or isinstance(other, float):
            # Slider values arrive as 0.05 or 0.05000000000000001: equal settings, not a different lesson.
            if (
                not isinstance(other, (int, float))
                or not isinstance(value, (int, float))
                or not math.isclose(value, other, rel_tol=1e-9, abs_tol=1e-12)
            ):
                return False
        elif value != other:
            return False
    return True


@functools.lru_cache(maxsize=1024)
def _lesson_settings(lesson: str, axis: str, value: float) -> RunConfig | None:
    """The lesson's settings with ``axis`` moved to ``value``, resolved as validate() resolves a run's."""
    try:
        return validate(LESSONS[lesson].config(**{axis: value}))
    except ConfigError:  # the lesson cannot take this value (a width on a CNN, say): not this lesson
        return None


@functools.lru_cache(maxsize=1024)
def _arm_settings(finding: str, arm: str, axis: str, value: float) -> RunConfig | None:
    """A finding's arm's settings with ``axis`` moved to ``value``, resolved as validate() resolves a run's."""
    try:
        return validate(FINDINGS[finding].config(arm, **{axis: value}))
    except ConfigError:
        return None


@functools.lru_cache(maxsize=1024)
def _lesson_epochs(lesson: str, axis: str, value: float, seed: int, data_dir: str | None) -> int | None:
    """The students' epochs a run of the lesson trained for: with a share of the data below 1, pipeline.load()
    scales them to equal steps (it stores the scaled number), so the board scales the lesson's the same way."""
    return _epochs(_lesson_settings(lesson, axis, value), seed, data_dir)


@functools.lru_cache(maxsize=1024)
def _epochs(config: RunConfig | None, seed: int, data_dir: str | None) -> int | None:
    """The students' epochs a run of these settings trained for (``_lesson_epochs``)."""
    if config is None or not config.equal_steps:
        return None if config is None else config.epochs
    try:
        labels = load_dataset(config.dataset, data_dir).y_train
    except Exception:  # the lesson's dataset is not on this server: its runs cannot be recognised
        return None
    return equal_steps_epochs(config.replace(seed=seed), labels)


# A lesson on an earlier lesson's very settings (ship-it-digits: little-data's, then shipped) trains the same runs:
# the board names them after the first.
DISTINCT_LESSONS = [
    name
    for i, (name, lesson) in enumerate(LESSONS.items())
    if not any(other.settings == lesson.settings for other in list(LESSONS.values())[:i])
]


@functools.lru_cache(maxsize=65536)  # every refresh asks again for every run on the board
def lesson_of(config: RunConfig, axis: str) -> str:
    """The lesson (or lessons, joined by " / ", when they only differ along ``axis``) whose settings match the
    run's on every field but ``axis``, the seed and the method; ``FREE_PLAY`` when none does.  A method other than
    ``kd`` (the Methods tab's runs) is named after it: "little-data · dkd"."""
    value = getattr(config, axis)
    actual = config.to_dict()
    names = []
    for name in DISTINCT_LESSONS:
        expected = _lesson_settings(name, axis, value)
        if expected is None or not _same(
            expected.to_dict(), actual, NOT_SETTINGS + ("epochs", "equal_steps", "loss", "loss_args")
        ):
            continue
        if _lesson_epochs(name, axis, value, config.seed, config.data_dir) == config.epochs:
            names.append(name)
    if not names:
        names = finding_of(config, axis, value, actual)
    label = " / ".join(names) if names else FREE_PLAY
    return label if config.loss == "kd" else f"{label} · {config.loss}"


def finding_of(config: RunConfig, axis: str, value: float, actual: dict) -> list[str]:
    """The findings one of whose arms has the run's settings on every field but ``axis``, the seed and the
    method (as ``lesson_of`` matches a lesson); [] when none has."""
    names = []
    skip = NOT_SETTINGS + ("epochs", "equal_steps", "loss", "loss_args")
    for name, finding in FINDINGS.items():
        for arm in finding.arms:
            expected = _arm_settings(name, arm, axis, value)
            if expected is None or not _same(expected.to_dict(), actual, skip):
                continue
            if _epochs(expected, config.seed, config.data_dir) == config.epochs:
                names.append(name)
                break
    return names


# ---------------------------------------------------------------- the board: points, and means per settings


@dataclass(frozen=True)
class BoardPoint:
    """One seed's run on the board."""

    x: float  # the run's value of the board's axis
    gain: float  # KD − baseline, a fraction
    seed: int
    lesson: str


@dataclass(frozen=True)
class BoardGroup:
    """The runs of one settings (all but the seed) at one x: each seed a point, and their mean with its interval."""

    lesson: str
    x: float
    points: tuple[BoardPoint, ...]
    interval: Interval  # of the points' gains: Student-t over seeds (no interval for one seed)


@dataclass(frozen=True)
class Board:
    axis: str
    groups: tuple[BoardGroup, ...]  # ordered by lesson (LESSONS' order, free play last), then x
    since: float | None  # the fresh board's start, or None
    hidden: int  # runs stored before ``since``

    @property
    def lessons(self) -> list[str]:
        return list(dict.fromkeys(group.lesson for group in self.groups))

    @property
    def runs(self) -> int:
        return sum(len(group.points) for group in self.groups)


def _lesson_rank(label: str) -> int:
    """LESSONS' order, then the findings', then free play."""
    first = label.removesuffix(SWEEP_LABEL).split(" · ")[0].split(" / ")[0]
    if first in LESSONS:
        return list(LESSONS).index(first)
    return len(LESSONS) + (list(FINDINGS).index(first) if first in FINDINGS else len(FINDINGS))


def build_board(runs: list[BoardRun], axis: str, since: float | None = None) -> Board:
    """The board along ``axis`` (a key of AXES) of the runs stored after ``since``.

    A group is one settings, the seed aside: within a lesson every run at one x has the same settings by
    construction; free play can hold several settings at one x, each its own group."""
    if axis not in AXES:
        raise ValueError(f"unknown board axis {axis!r}; choose one of: {', '.join(AXES)}")
    shown = [run for run in runs if since is None or run.finished > since]
    by_settings: dict[tuple, list[BoardPoint]] = {}
    for run in sorted(shown, key=lambda r: (r.config.seed, r.name)):
        if isinstance(getattr(run.config, axis), bool) or not isinstance(getattr(run.config, axis), (int, float)):
            continue  # a damaged entry has no place on this axis
        lesson = lesson_of(run.config, axis) + (SWEEP_LABEL if run.source == board_sweeps.SOURCE else "")
        settings = tuple(getattr(run.config, name) for name in SETTINGS)  # not to_dict(): it deep-copies, per run
        point = BoardPoint(float(getattr(run.config, axis)), run.gain, run.config.seed, lesson)
        by_settings.setdefault((lesson, settings), []).append(point)
    groups = [
        BoardGroup(lesson, points[0].x, tuple(points), Interval.of([p.gain for p in points]))
        for (lesson, _), points in by_settings.items()
    ]
    groups.sort(key=lambda g: (_lesson_rank(g.lesson), g.lesson, g.x))
    return Board(axis, tuple(groups), since, len(runs) - len(shown))
