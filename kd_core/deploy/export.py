"""A trained model as one self-contained FP32 ONNX file: input ``images`` (any batch size), output ``logits``.

torch 2.14's default exporter (``dynamo=True``) traces the model with ``torch.export`` and writes the graph with
``onnxscript``.  It is the one torch supports: the older TorchScript exporter (``dynamo=False``) is faster (~20 ms
against ~1 s) but deprecated since torch 2.9.  Given a path, the default exporter writes large weights to a second
file (``model.onnx.data``); here the graph is taken from the exporter's in-memory ``model_proto``, whose weights are
all inside it, and checked to be so: a shipped model is one file that a device can load from bytes.

An uploaded ONNX teacher (``own_teacher.OnnxTeacher``) is already an ONNX model: its bytes are shipped as they came
(external weights were folded in when it was loaded).  The exporter's notes on each node (stack traces with this
machine's source paths) are dropped: they are most of a small model's file and mean nothing on a device.
"""

from __future__ import annotations

import copy
import warnings

import torch
from torch import nn

from kd_core.files import one_line
from kd_core.models.own_teacher import OnnxTeacher

INPUT, OUTPUT = "images", "logits"


class DeployError(ValueError):
    """A model that cannot be shipped, or a folder it cannot be shipped to: the message is one line."""


def onnx_bytes(model: nn.Module, example: torch.Tensor, metadata: dict[str, str] | None = None) -> bytes:
    """``model`` as one self-contained ONNX file (the model itself is left as it was: a CPU copy in eval mode is
    exported).  ``example``: one input (its first row is traced; the batch size stays free); ``metadata`` goes into
    the file's metadata_props (e.g. the run's settings)."""
    import onnx

    if isinstance(model, OnnxTeacher):
        return model.data
    frozen = copy.deepcopy(model).cpu().eval()
    example = example[:1].detach().cpu()
    with warnings.catch_warnings():  # torch.export's notes on its own internals mean nothing to a student
        warnings.simplefilter("ignore")
        try:
            program = torch.onnx.export(
                frozen,
                (example,),
                dynamo=True,
                verbose=False,
                input_names=[INPUT],
                output_names=[OUTPUT],
                dynamic_shapes=({0: torch.export.Dim("batch")},),
            )
        except Exception as error:  # torch.export's own error classes, many lines each
            raise DeployError(f"torch.onnx.export could not export this model ({one_line(error)[:120]})") from None
    proto = program.model_proto
    if any(t.data_location == onnx.TensorProto.EXTERNAL for t in proto.graph.initializer):  # never expected
        raise DeployError("the exporter kept some weights outside the model; it cannot be shipped as one file")
    _strip_build_notes(proto.graph)
    for key, value in (metadata or {}).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    return proto.SerializeToString()


def _strip_build_notes(graph) -> None:
    """Drop what the exporter notes on each node and value (the Python stack trace that made it, with the source
    files' paths on this machine; module names): ~1 kB per node, most of a small student's file, and of no use to
    the device that runs it."""
    for node in graph.node:
        del node.metadata_props[:]
        for attribute in node.attribute:
            if attribute.HasField("g"):
                _strip_build_notes(attribute.g)
            for subgraph in attribute.graphs:
                _strip_build_notes(subgraph)
    for value in [*graph.input, *graph.output, *graph.value_info, *graph.initializer]:
        del value.metadata_props[:]
