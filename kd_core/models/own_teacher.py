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
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

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
    if not source.path.is_file():
        raise TeacherFileError(f"there is no teacher file {source.path}")
    data = source.path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()[:16]
    if source.digest is not None and source.digest != digest:
        raise TeacherFileError(f"the teacher file {source.path} changed since this run was set up; start it again")
    return data


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
