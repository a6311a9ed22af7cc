"""A teacher of your own: an ONNX model, or a state_dict for one of our architectures.  A teacher is only a source
of logits, so either replaces the trained teacher and the engine computes its logits once per view, as now.

    onnx:PATH                     run by onnxruntime (CPU); its input and output shapes are checked against the data
    state:PATH[;arch=NAME]        tensors loaded with ``torch.load(weights_only=True)`` (nothing else is unpickled)
                                  into architecture NAME, or the first of ours whose parameters it fits exactly

A validated config names it canonically, with ``;sha=HASH`` (16 hex digits of the file's SHA-256) at the end: the
teacher's cache key (RunConfig.teacher_key hashes the name) then changes with the file.  Bad files raise
``TeacherFileError`` (a ValueError), one sentence.

An ONNX teacher's weights are not torch parameters, so it counts them itself (``weight_count``, ``weight_bytes``:
its floating-point initializers), and ``architectures.count_params`` and ``size_bytes`` report those.  A file of
one's own is never trained here: it has no teacher epochs (``trained_here``).

An ONNX model may keep its weights in a second file beside it (torch's default exporter does: ``t.onnx`` and
``t.onnx.data``).  onnxruntime refuses such a model given as bytes ("External data path validation failed"), so
``self_contained`` folds the weights into the model before anything runs: each weight's file must lie in the
model's own folder (no absolute path, no ``..``, no link that leads out), and the model's hash is taken over the
folded bytes, so it changes when the weights file changes.  A model without external data keeps its bytes and its
hash.  ``onnx_from_zip`` does the same for a zip of the two files (the page's upload), by the rules the page's
dataset zips follow: no member outside the zip's folder, no links, a bounded number of files and unpacked size.
"""

from __future__ import annotations

import functools
import hashlib
import io
import re
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator

import numpy as np
import torch
from torch import nn

from kd_core.files import one_line
from kd_core.models.architectures import ARCHITECTURES, build_model

KINDS = ("onnx", "state")
_NAME = re.compile(r"^(onnx|state):(.+?)(?:;arch=([a-z0-9-]+))?(?:;sha=([0-9a-f]{16}))?$", re.DOTALL)


class TeacherFileError(ValueError):
    """A teacher file that cannot be used with this data; the message is one sentence."""


@dataclass(frozen=True)
class TeacherSource:
    kind: str
    path: Path
    arch: str | None = None  # state only
    digest: str | None = None

    @property
    def name(self) -> str:
        arch = f";arch={self.arch}" if self.arch else ""
        return f"{self.kind}:{self.path}{arch}" + (f";sha={self.digest}" if self.digest else "")


def _reason(error: Exception) -> str:
    """A library's error, cut to its first sentence so the message stays one line."""
    text = re.sub(r"\x1b\[[0-9;]*m|\[[0-9;]*m", "", str(error)).strip()
    first = one_line(RuntimeError(text)).split(". ")[0] if text else type(error).__name__
    return first[:100]


def is_external(name: object) -> bool:
    return isinstance(name, str) and ":" in name and name.split(":", 1)[0] in KINDS


def parse(name: str) -> TeacherSource:
    match = _NAME.match(name)
    if not match:
        raise TeacherFileError(f"a teacher of your own is named onnx:PATH or state:PATH, got {name!r}")
    kind, path, arch, digest = match.groups()
    return TeacherSource(kind, Path(path).expanduser().absolute(), arch, digest)


def short_name(name: str) -> str:
    """A teacher's name for a page or a table: an architecture's own, or "your FILE" for a file of one's own."""
    if not is_external(name):
        return name
    source = parse(name)
    return f"your {source.path.name}" + (f" ({source.arch})" if source.arch else "")


def digest(name: str) -> str | None:
    """The file's content hash in a canonical teacher name (16 hex digits), None for an architecture or a name
    without one."""
    return parse(name).digest if is_external(name) else None


def trained_here(name: str | None) -> bool:
    """Whether the run trains this teacher (an architecture, or None for the dataset's): a file of one's own is
    used as it is, so it has no teacher epochs, optimizer or learning rate."""
    return not is_external(name)


def architecture(name: str) -> str | None:
    """The architecture a teacher name builds: itself, a state_dict's, or None for an ONNX model."""
    return parse(name).arch if is_external(name) else name


def _read(source: TeacherSource) -> bytes:
    """The file's bytes (an ONNX model's with its external weights folded in), checked against the name's hash."""
    if not source.path.is_file():
        raise TeacherFileError(f"there is no teacher file {source.path}")
    data = source.path.read_bytes()
    if source.kind == "onnx":
        data = self_contained(data, _folder_reader(source.path.parent), f"the teacher file {source.path.name}")
    digest = hashlib.sha256(data).hexdigest()[:16]
    if source.digest is not None and source.digest != digest:
        raise TeacherFileError(f"the teacher file {source.path} changed since this run was set up; start it again")
    return data


# ---------------------------------------------------------------- ONNX weights in a second file

# One line on how to avoid a second file, for every message about one.
REEXPORT = (
    "re-export it as one file: torch.onnx.export(model, args, 'teacher.onnx', external_data=False), or "
    "onnx.save_model(onnx.load('model.onnx'), 'teacher.onnx', save_as_external_data=False)"
)


def _tensors(graph) -> Iterator:
    """Every tensor a graph holds: its initializers and its nodes' tensor attributes, subgraphs included."""
    yield from graph.initializer
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                yield attribute.t
            yield from attribute.tensors
            if attribute.HasField("g"):
                yield from _tensors(attribute.g)
            for subgraph in attribute.graphs:
                yield from _tensors(subgraph)


def _inside(location: str) -> str | None:
    """``location`` as a path relative to the model's folder, or None when it would leave it (absolute, a drive,
    ``..``) or is empty."""
    name = location.replace("\\", "/")
    parts = PurePosixPath(name).parts
    if not name or name.startswith("/") or re.match(r"^[A-Za-z]:", name) or ".." in parts or not parts:
        return None
    return str(PurePosixPath(*parts))


def _folder_reader(folder: Path) -> Callable[[str], bytes | None]:
    """Reads a weights file by its location relative to ``folder``; None when it is not a file inside it (a link
    that leads out of the folder counts as outside)."""
    root = folder.resolve()

    def read(relative: str) -> bytes | None:
        target = (folder / relative).resolve()
        if root not in target.parents or not target.is_file():
            return None
        return target.read_bytes()

    return read


def self_contained(data: bytes, read: Callable[[str], bytes | None], label: str) -> bytes:
    """An ONNX model's bytes with every weight it keeps in another file folded in (``read(location)``: that file's
    bytes, None where it is missing or outside the model's folder); ``data`` itself when it has none (or is no ONNX
    model: onnxruntime says what is wrong with it).  TeacherFileError, one line, when a file is missing or short."""
    import onnx

    try:
        proto = onnx.load_model_from_string(data)
    except Exception:
        return data
    external = [t for t in _tensors(proto.graph) if t.data_location == onnx.TensorProto.EXTERNAL]
    if not external:
        return data
    files: dict[str, bytes] = {}
    for tensor in external:
        info = {entry.key: entry.value for entry in tensor.external_data}
        location = info.get("location", "")
        relative = _inside(location)
        if relative is None:
            raise TeacherFileError(
                f"{label} keeps its weights in {location!r}, outside its own folder, which is never read; {REEXPORT}"
            )
        if relative not in files:
            blob = read(relative)
            if blob is None:
                raise TeacherFileError(
                    f"{label} keeps its weights in {relative}, which is not beside it; put that file in the same "
                    f"folder, or {REEXPORT}"
                )
            files[relative] = blob
        blob = files[relative]
        try:
            offset = int(info.get("offset", 0))
            length = int(info["length"]) if "length" in info else len(blob) - offset
        except ValueError:
            offset = length = -1
        if offset < 0 or length < 0 or offset + length > len(blob):
            raise TeacherFileError(
                f"{label}'s weights file {relative} is shorter than the model says (another export's?); {REEXPORT}"
            )
        tensor.raw_data = blob[offset : offset + length]
        del tensor.external_data[:]
        tensor.data_location = onnx.TensorProto.DEFAULT
    return proto.SerializeToString()


def _is_link(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def _visible(info: zipfile.ZipInfo) -> bool:
    """A member that counts: not a folder, not hidden, not what a Mac's zip tool adds (__MACOSX)."""
    parts = PurePosixPath(info.filename.replace("\\", "/")).parts
    return not info.is_dir() and not any(p.startswith(".") or p == "__MACOSX" for p in parts)


def onnx_from_zip(data: bytes, max_bytes: int, max_files: int = 100) -> tuple[str, bytes]:
    """(the model's file name, one self-contained ONNX model) from a zip that holds one ``.onnx`` file and the
    weights file(s) it names, beside it.  Checked before anything is read: a zip at all, no member that leaves the
    zip's folder (a "zip slip"), no links, at most ``max_files`` members and ``max_bytes`` unpacked; every member is
    read from memory, never more than the size the zip declares, and nothing is written to disk.  TeacherFileError,
    one sentence, otherwise."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise TeacherFileError(
            "that file is not a zip archive; upload the .onnx file, or a .zip of it and its weights"
        ) from None
    names = [info.filename for info in members]
    if any(_inside(name) is None for name in names):
        raise TeacherFileError(
            "this zip was refused: some of its files point outside the zip's own folder (a “zip slip”); zip the "
            ".onnx file and its weights file again with an ordinary zip tool"
        )
    if any(_is_link(info) for info in members):
        raise TeacherFileError("this zip holds links (shortcuts), which are never followed; zip the files themselves")
    if len(members) > max_files:
        raise TeacherFileError(f"this zip holds {len(members):,} files; a teacher is one .onnx file and its weights")
    unpacked = sum(info.file_size for info in members)
    if unpacked > max_bytes:
        raise TeacherFileError(
            f"this zip unpacks to {unpacked / 2**20:.1f} MB, more than the {max_bytes / 2**20:.3g} MB allowed"
        )
    visible = {_inside(info.filename): info for info in members if _visible(info)}
    models = [name for name in visible if name.lower().endswith(".onnx")]
    if len(models) != 1:
        raise TeacherFileError(
            f"this zip holds {len(models)} .onnx files; put exactly one in it, with the weights file it names"
        )
    model = models[0]
    folder = PurePosixPath(model).parent

    def member(info: zipfile.ZipInfo) -> bytes:
        try:
            with archive.open(info) as source:
                return source.read(info.file_size + 1)[: info.file_size]
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, RuntimeError, NotImplementedError):
            raise TeacherFileError(
                "this zip could not be unpacked (damaged or password-protected?); zip it again"
            ) from None

    def read(relative: str) -> bytes | None:
        info = visible.get(str(folder / relative) if str(folder) != "." else relative)
        return None if info is None else member(info)

    name = PurePosixPath(model).name
    return name, self_contained(member(visible[model]), read, f"the teacher file {name}")


def onnx_weights(data: bytes) -> tuple[int, int]:
    """(parameters, bytes) of an ONNX model: its floating-point initializers, the weights it was saved with.  Integer
    initializers (shapes, indices) are not weights; a file onnx cannot parse counts (0, 0)."""
    import onnx
    from onnx import helper

    try:
        graph = onnx.load_model_from_string(data).graph
    except Exception:  # onnxruntime has judged the file already; a count is no reason to refuse it
        return 0, 0
    count = size = 0
    for tensor in graph.initializer:
        dtype = np.dtype(helper.tensor_dtype_to_np_dtype(tensor.data_type))
        if not np.issubdtype(dtype, np.floating):
            continue
        elements = int(np.prod(tensor.dims, dtype=np.int64))  # a scalar has no dims: one element
        count += elements
        size += elements * dtype.itemsize
    return count, size


@functools.lru_cache(maxsize=16)
def file_weights(name: str) -> tuple[int, int]:
    """(parameters, bytes) of the teacher file a canonical name names (keyed by its hash, so read once): an ONNX
    model's initializers, a state_dict's tensors."""
    source = parse(name)
    data = _read(source)
    if source.kind == "onnx":
        return onnx_weights(data)
    tensors = _state(data, f"the teacher file {source.path.name}").values()
    return sum(t.numel() for t in tensors), sum(t.numel() * t.element_size() for t in tensors)


class OnnxTeacher(nn.Module):
    """An ONNX model as a module without torch weights of its own: forward runs onnxruntime on the CPU (one thread).
    ``weight_count`` and ``weight_bytes`` are the model's own weights (its initializers)."""

    def __init__(self, data: bytes, label: str = "the ONNX model"):
        super().__init__()
        # An empty parameter: code that finds a model's device with next(model.parameters()) works for it too.
        self.device_marker = nn.Parameter(torch.zeros(0), requires_grad=False)
        self.data, self.label = data, label
        self._open()
        self.weight_count, self.weight_bytes = onnx_weights(data)

    def __getstate__(self) -> dict:  # to a worker process and back: the file's bytes travel, not the session
        return {k: v for k, v in self.__dict__.items() if k != "session"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._open()

    def _open(self) -> None:
        import onnxruntime as ort

        data, label = self.data, self.label
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1  # the machine is shared; results repeat
        try:
            self.session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own Fail/InvalidProtobuf/... classes
            reason = _reason(error)
            if "external data" in str(error).lower():  # bytes of a model whose weights are in a second file
                raise TeacherFileError(f"{label} keeps its weights in a second file; {REEXPORT}") from None
            raise TeacherFileError(f"{label} is not an ONNX model that onnxruntime can load ({reason})") from None
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or not outputs:
            raise TeacherFileError(f"{label} takes {len(inputs)} inputs; a teacher takes one batch of examples")
        self.input_name, self.input_shape = inputs[0].name, list(inputs[0].shape)
        self.batch = self.input_shape[0] if self.input_shape and isinstance(self.input_shape[0], int) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.detach().cpu().float().numpy()
        step = self.batch or max(1, len(rows))
        outs = [self.session.run(None, {self.input_name: rows[i : i + step]})[0] for i in range(0, len(rows), step)]
        return torch.from_numpy(np.concatenate(outs).astype(np.float32)).to(x.device)


def _check_onnx(model: OnnxTeacher, input_shape: tuple[int, ...], num_classes: int, label: str) -> None:
    shown = lambda dims: "(" + ", ".join(str(d) if isinstance(d, int) else "batch" for d in dims) + ")"  # noqa: E731
    expected = [None, *input_shape]
    fits = len(model.input_shape) == len(expected) and all(
        not isinstance(have, int) or want is None or have == want for have, want in zip(model.input_shape, expected)
    )
    if not fits or model.batch not in (None, 1):
        raise TeacherFileError(
            f"{label} takes input of shape {shown(model.input_shape)}, but this dataset's examples "
            f"are {shown(['batch', *input_shape])}"
        )
    try:
        out = model(torch.zeros(2, *input_shape))
    except Exception as error:
        reason = _reason(error)
        raise TeacherFileError(f"{label} failed on a batch of this dataset's shape ({reason})") from None
    if tuple(out.shape) != (2, num_classes):
        raise TeacherFileError(
            f"{label} gives outputs of shape {shown(['batch', *out.shape[1:]])}, but this dataset "
            f"has {num_classes} classes: a teacher gives one logit per class"
        )


def _state(data: bytes, label: str) -> dict[str, torch.Tensor]:
    import io
    import pickle

    try:  # weights_only: tensors and plain containers only; a pickle that asks for anything else is refused
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if "unsupported global" not in str(error).lower():  # not a pickle of Python objects: not even a pickle
            raise TeacherFileError(
                f"{label} is not a state_dict that can be loaded safely ({_reason(error)})"
            ) from None
        raise TeacherFileError(
            f"{label} holds Python objects besides tensors (a whole pickled model?), and those are "
            "never unpickled here; save model.state_dict() instead"
        ) from None
    except Exception as error:
        reason = _reason(error)
        raise TeacherFileError(f"{label} is not a state_dict that can be loaded safely ({reason})") from None
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise TeacherFileError(f"{label} does not hold a state_dict (a dict of parameter names to tensors)")
    return state


def _fitting(
    state: dict[str, torch.Tensor], arch: str, input_shape: tuple[int, ...], num_classes: int
) -> nn.Module | None:
    try:
        model = build_model(arch, input_shape, num_classes)
    except ValueError:  # a CNN for a table of features
        return None
    own = model.state_dict()
    if set(own) != set(state) or any(own[k].shape != state[k].shape for k in own):
        width = {k: v for k, v in state.items() if k.endswith("weight")}
        if not width or set(own) != set(state):
            return None
        # the same layers at another width: rebuild at the width the first layer says
        first = next(iter(width.values()))
        model = build_model(arch, input_shape, num_classes, int(first.shape[0]))
        own = model.state_dict()
        if any(own[k].shape != state[k].shape for k in own):
            return None
    model.load_state_dict(state)
    return model


def resolve(name: str, input_shape: tuple[int, ...], num_classes: int, default_arch: str) -> str:
    """The canonical name of teacher ``name`` (checked against the data's shape and classes, its hash added)."""
    source = parse(name)
    data = _read(source)
    label = f"the teacher file {source.path.name}"
    if source.kind == "onnx":
        _check_onnx(OnnxTeacher(data, label), input_shape, num_classes, label)
        arch = None
    else:
        if source.arch is not None and source.arch not in ARCHITECTURES:
            raise TeacherFileError(
                f"unknown teacher architecture '{source.arch}'; choose one of: {', '.join(ARCHITECTURES)}"
            )
        state = _state(data, label)
        order = [source.arch] if source.arch else [default_arch, *(a for a in ARCHITECTURES if a != default_arch)]
        arch = next((a for a in order if _fitting(state, a, input_shape, num_classes) is not None), None)
        if arch is None:
            target = f"architecture '{source.arch}'" if source.arch else "any of our architectures"
            raise TeacherFileError(
                f"{label} does not fit {target} for this dataset's {num_classes} classes and "
                f"examples of shape {tuple(input_shape)}"
            )
    return TeacherSource(source.kind, source.path, arch, hashlib.sha256(data).hexdigest()[:16]).name


def load(name: str, input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """The teacher a canonical name names, ready to give logits (eval mode)."""
    source = parse(name)
    data = _read(source)
    label = f"the teacher file {source.path.name}"
    if source.kind == "onnx":
        return OnnxTeacher(data, label).eval()
    model = _fitting(_state(data, label), source.arch or "", input_shape, num_classes) if source.arch else None
    if model is None:
        raise TeacherFileError(f"{label} no longer fits architecture '{source.arch}'")
    return model.eval()
