"""Take a result with you: trained models as files (PyTorch state_dict, ONNX) and the ``kd-train`` line of a run.

No Streamlit here.  The files are made on demand (the page's download buttons call these only when clicked) and
kept in a small memo, since a second click, or a classmate's identical run, asks for the very same bytes.

ONNX: the engine exports (kd_core.deploy.export.onnx_bytes: torch's default, dynamo exporter, one self-contained
file); ``kd-train --ship`` writes the same FP32 file beside its int8 one.  It matches PyTorch to ~1e-7 on these
models (tests/test_exports.py checks every architecture with onnxruntime).
"""

from __future__ import annotations

import io
import json
import shlex
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from kd_core import DATASETS, RunConfig, onnx_bytes
from kd_core.data.custom import Source, is_custom
from kd_core.data.custom import parse as parse_data
from kd_core.models.architectures import ARCHITECTURES
from kd_core.models.own_teacher import OnnxTeacher, TeacherSource, is_external
from kd_core.models.own_teacher import architecture as architecture_of
from kd_core.models.own_teacher import parse as parse_teacher

MEMO_ENTRIES = 12  # exported files kept in memory; a big teacher's ONNX is a few MB


def state_dict_bytes(model: nn.Module) -> bytes:
    """``torch.save(model.state_dict())`` as bytes, tensors on the CPU; load with
    ``model.load_state_dict(torch.load(f))``."""
    buffer = io.BytesIO()
    torch.save({name: tensor.detach().cpu() for name, tensor in model.state_dict().items()}, buffer)
    return buffer.getvalue()


class Memo:
    """A bounded, thread-safe memo: key -> bytes, least recently used dropped first.  The download buttons call
    from their own threads, so two clicks may race; the lock only guards the dict (an export runs outside it)."""

    def __init__(self, entries: int = MEMO_ENTRIES):
        self.entries, self.items, self.lock = entries, OrderedDict(), threading.Lock()

    def get(self, key: tuple, make: Callable[[], bytes]) -> bytes:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        value = make()
        with self.lock:
            self.items[key] = value
            while len(self.items) > self.entries:
                self.items.popitem(last=False)
        return value


memo = Memo()


def model_file(run_key: str, part: str, kind: str, model: nn.Module, example: torch.Tensor, config: RunConfig) -> bytes:
    """The ``kind`` ("pt" or "onnx") file of one trained model of a run, memoised by the run's key."""
    if kind == "pt":
        return memo.get((run_key, part, kind), lambda: state_dict_bytes(model))
    if kind == "onnx" and isinstance(model, OnnxTeacher):  # an uploaded ONNX teacher: its own file, as it came
        return model.data
    if kind == "onnx":
        settings = {"kd-dashboard part": part, "kd-dashboard config": json.dumps(config.to_dict())}
        return memo.get((run_key, part, kind), lambda: onnx_bytes(model, example, settings))
    raise ValueError(f"unknown file kind {kind!r}; choose pt or onnx")


def file_name(config: RunConfig, part: str, kind: str) -> str:
    """e.g. ``kd-student-mlp-small-T4-seed0.onnx``: which model, which run."""
    architecture = (architecture_of(config.teacher) or "onnx") if part == "teacher" else config.student
    return f"kd-{part}-{architecture}-T{config.temperature:g}-seed{config.seed}.{kind}"


def loading_code(config: RunConfig, part: str, input_shape: tuple[int, ...], num_classes: int) -> str:
    """The Python lines that rebuild the architecture and load a downloaded state_dict into it."""
    architecture = config.teacher if part == "teacher" else config.student
    width = "" if part == "teacher" or config.student_width is None else f", width={config.student_width}"
    return (
        f"import torch\nfrom kd_core.models.architectures import build_model\n"
        f"model = build_model({architecture!r}, {tuple(input_shape)!r}, {num_classes}{width})\n"
        f"model.load_state_dict(torch.load({file_name(config, part, 'pt')!r}))\nmodel.eval()"
    )


# ---------------------------------------------------------------- the kd-train line of a run


def _number(value: float) -> str:
    """A float as short as it reads (4, 0.7, 0.05), exact when parsed back; repr where the short form is not."""
    short = f"{value:g}"
    return short if float(short) == value else repr(value)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def minimal_config(config: RunConfig) -> RunConfig:
    """The same run with every setting that equals what kd-train would choose anyway set back to its default
    (None: the dataset's architectures, epochs, lr, batch size, the student architecture's width), so the command
    line lists only what was changed."""
    spec = DATASETS.get(config.dataset)
    if spec is None:
        return config
    same = {
        name: None
        for name in ("teacher", "student", "teacher_epochs", "epochs", "lr", "batch_size")
        if getattr(config, name) is not None and getattr(config, name) == getattr(spec, name)
    }
    student = config.student or spec.student
    if (
        config.student_width is not None
        and student in ARCHITECTURES
        and config.student_width == ARCHITECTURES[student].width
    ):
        same["student_width"] = None
    return config.replace(**same)


def own_files(config: RunConfig) -> list[tuple[str, str]]:
    """(what it is: "folder", "csv" or "teacher"; file name) of each file of one's own a run uses — its data, its
    teacher file — as the command line names them: the file or folder alone, to lie beside the command (never a
    path on the server)."""
    files = []
    if is_custom(config.dataset):
        source = parse_data(config.dataset)
        files.append((source.kind, source.path.name))
    if is_external(config.teacher):
        files.append(("teacher", parse_teacher(config.teacher).path.name))
    return files


def own_hashes(config: RunConfig) -> list[str | None]:
    """The content hashes of ``own_files(config)``, in the same order (None where a name has none)."""
    hashes = []
    if is_custom(config.dataset):
        hashes.append(parse_data(config.dataset).digest)
    if is_external(config.teacher):
        hashes.append(parse_teacher(config.teacher).digest)
    return hashes


def command_line(config: RunConfig, seeds: int = 1) -> str:
    """The ``kd-train`` line that runs ``config`` (over ``seeds`` seeds) again: every setting that is not
    kd-train's default becomes a flag.  ``--threads 1`` is added where the dataset's default differs, since the
    page trains on one thread and the last bits of a result depend on the thread count.  Data and a teacher file of
    one's own are named by their file alone, with their content hash (``--dataset 'folder:shapes;sha=…'``): they go
    beside the command, and kd-train refuses files that are not the ones this run used.  A teacher file is not
    trained, so its training settings are left out."""
    if is_external(config.teacher):
        config = config.replace(teacher_epochs=None)
    config = minimal_config(config)
    defaults = RunConfig()
    words = ["kd-train"]
    for name, value in config.to_dict().items():
        if value == getattr(defaults, name):
            continue
        if isinstance(value, bool):  # --baseline/--no-baseline, --equal-steps/--no-equal-steps
            words.append(_flag(name) if value else "--no-" + name.replace("_", "-"))
        elif value is None:
            continue  # a None that is not the default has no flag; RunConfig's None defaults cover it
        elif name == "loss_args":  # a method's hyperparameters: --loss-arg KEY=VALUE, once each
            words += [word for key, number in value for word in ("--loss-arg", f"{key}={_number(float(number))}")]
        else:
            words += [_flag(name), _number(value) if isinstance(value, float) else str(value)]
    spec = DATASETS.get(config.dataset)
    if spec is not None and spec.threads != 1:
        words += ["--threads", "1"]
    if seeds > 1:
        words += ["--seeds", str(seeds)]
    if is_custom(config.dataset):  # data of one's own: by its name, beside the command, with its hash
        at = words.index("--dataset")
        source = parse_data(config.dataset)
        words[at + 1] = Source(source.kind, Path(source.path.name), source.label_column, source.digest).name
    if is_external(config.teacher):  # a teacher file of one's own has its own flag
        at = words.index("--teacher")
        source = parse_teacher(config.teacher)
        # the file's name with its architecture and hash (in the name: kd-train adds --teacher's after the hash)
        beside = TeacherSource(source.kind, Path(source.path.name), source.arch, source.digest).name
        words[at : at + 2] = [f"--teacher-{source.kind}", beside.split(":", 1)[1]]
    return shlex.join(words)
