"""What a shipped ONNX file measures, through onnxruntime on the CPU: the file's bytes, its parameters and
multiply-accumulates per image, its test accuracy and agreement, its time per image and its throughput.

Everything is measured on the file as shipped — loaded from its bytes into an onnxruntime session, never the PyTorch
model — on the whole test set.  Times are CPU time of one thread (``intra_op_num_threads=1``: onnxruntime then
computes in the calling thread, so ``time.thread_time`` counts what the model costs, not how long it waited on a
shared machine), in rounds that alternate between a run's files, as kd_core.models.latency times PyTorch models;
each figure is the median over the rounds with its range (``latency.Spread``).

* latency: seconds per image at batch 1;
* throughput: images per second at batch ``THROUGHPUT_BATCH`` (one thread);
* the batch curve: seconds per image at batches ``CURVE_BATCHES``: an int8 MLP pays to quantize its activations
  at every call, which a batch of 1 cannot spread, so it may be slower than FP32 at 1 and faster at 256.

Multiply-accumulates are counted from the FP32 graph at batch 1 (onnx shape inference): a Gemm or MatMul costs its
output's elements × the shared dimension, a Conv its output's elements × (input channels / groups) × the kernel's
area; everything else (ReLU, pooling, adds) is left out, as the usual MAC counts do.  An int8 file does the same
multiply-accumulates in int8.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from kd_core.deploy.quantize import input_of
from kd_core.models.latency import ROUNDS, Spread, call_rounds
from kd_core.models.own_teacher import onnx_weights

THROUGHPUT_BATCH = 256
CURVE_BATCHES = (1, 8, 64, 256)
IMAGES_PER_ROUND = 512  # a round runs about this many images (at least one call): long enough to time, short
WARM_UP_CALLS = 3


@dataclass(frozen=True)
class BatchTiming:
    """CPU seconds per image at one batch size: the median over the rounds and their range."""

    batch: int
    per_image: Spread

    def to_json(self) -> dict:
        return {"batch": self.batch, "seconds_per_image": spread_json(self.per_image)}


def spread_json(spread: Spread) -> dict:
    return {"median": spread.median, "low": spread.low, "high": spread.high}


def session(model: bytes):
    """An onnxruntime CPU session of ``model`` on one thread, from its bytes alone."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


class Runner:
    """One shipped file, ready to run: its session, input name and fixed batch size (None: any)."""

    def __init__(self, model: bytes):
        self.session = session(model)
        self.input_name, self.fixed_batch = input_of(model)

    def logits(self, images: np.ndarray, batch: int = THROUGHPUT_BATCH) -> np.ndarray:
        """The logits of every row, ``batch`` rows (or the model's fixed batch) per call."""
        step = self.fixed_batch or batch
        parts = [self.run(images[i : i + step]) for i in range(0, len(images), step)]
        return np.concatenate(parts)

    def run(self, images: np.ndarray) -> np.ndarray:
        if self.fixed_batch and len(images) > self.fixed_batch:  # a model traced at one batch size: call by call
            step = self.fixed_batch
            return np.concatenate([self.run(images[i : i + step]) for i in range(0, len(images), step)])
        return self.session.run(None, {self.input_name: images})[0]


def count_params(model: bytes) -> int:
    """The floating-point weights of an FP32 ONNX model (its initializers): a torch model's count_params."""
    return onnx_weights(model)[0]


def count_macs(model: bytes) -> int:
    """Multiply-accumulates per image of an FP32 ONNX model: Gemm, MatMul and Conv, at batch 1 (the module
    docstring says how)."""
    import onnx

    proto = onnx.load_model_from_string(model)
    graph = proto.graph
    weights = {t.name: list(t.dims) for t in graph.initializer}
    for value in [*graph.input, *graph.output]:
        dims = value.type.tensor_type.shape.dim
        if value.name not in weights and dims and not dims[0].HasField("dim_value"):
            dims[0].Clear()
            dims[0].dim_value = 1  # one image
    del graph.value_info[:]  # the exporter's, with a symbolic batch: inferred again at batch 1
    inferred = onnx.shape_inference.infer_shapes(proto, data_prop=True).graph
    shapes = dict(weights)
    for value in [*inferred.input, *inferred.value_info, *inferred.output]:
        dims = value.type.tensor_type.shape.dim
        if all(d.HasField("dim_value") for d in dims):
            shapes[value.name] = [d.dim_value for d in dims]
    macs = 0
    for node in inferred.node:
        if node.op_type not in ("Gemm", "MatMul", "Conv"):
            continue
        out = shapes.get(node.output[0])
        a, b = shapes.get(node.input[0]), shapes.get(node.input[1])
        if out is None or a is None or b is None:
            raise ValueError(f"the shapes around {node.op_type} node {node.name!r} are unknown; MACs not counted")
        if node.op_type == "Conv":
            macs += math.prod(out) * math.prod(b[1:])  # weights (out channels, in channels / groups, kh, kw)
        elif node.op_type == "Gemm":
            transposed = any(attr.name == "transA" and attr.i for attr in node.attribute)
            macs += math.prod(out) * (a[0] if transposed else a[1])
        else:
            macs += math.prod(out) * a[-1]
    return macs


def top1(logits: np.ndarray) -> np.ndarray:
    return np.asarray(logits).argmax(axis=1)


def accuracy(predictions: np.ndarray, labels: torch.Tensor | np.ndarray) -> float:
    return float((np.asarray(predictions) == np.asarray(labels)).mean())


def agreement(predictions: np.ndarray, reference: np.ndarray) -> float:
    """How often two models predict the same class (top-1)."""
    return float((np.asarray(predictions) == np.asarray(reference)).mean())


def timings(
    runners: dict[str, Runner],
    images: np.ndarray,
    batches: tuple[int, ...] = CURVE_BATCHES,
    rounds: int = ROUNDS,
    images_per_round: int = IMAGES_PER_ROUND,
) -> dict[str, dict[int, Spread]]:
    """CPU seconds per image of each file at each batch size (rows of ``images``), the files taking turns round by
    round at each size (as kd_core.models.latency times PyTorch models)."""
    out: dict[str, dict[int, Spread]] = {name: {} for name in runners}
    for batch in batches:
        rows = np.ascontiguousarray(np.resize(images, (batch, *images.shape[1:])).astype(np.float32))
        calls = {name: (lambda runner=runner, rows=rows: runner.run(rows)) for name, runner in runners.items()}
        repeats = max(1, images_per_round // batch)
        seconds = call_rounds(calls, repeats=repeats, count=rounds, warm_up=WARM_UP_CALLS)
        for name, per_call in seconds.items():
            out[name][batch] = Spread.of([s / batch for s in per_call])
    return out


def throughput(per_image: Spread) -> Spread:
    """Images per second from seconds per image (the median's and the range's ends swap)."""
    return Spread(1 / per_image.median, 1 / per_image.high, 1 / per_image.low)
