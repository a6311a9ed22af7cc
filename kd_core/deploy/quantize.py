"""An FP32 ONNX model as an int8 ONNX model, through ``onnxruntime.quantization``, calibrated on training images.

Two schemes, chosen per model by what its graph holds (``scheme_for``), each the better of the two where measured:

* **dynamic** (``quantize_dynamic``) for models without convolutions — the MLPs.  Weights are int8 per tensor;
  each activation is quantized at run time from its own range, so nothing is calibrated.
* **static QDQ, per channel** (``quantize_static``: QuantizeLinear/DequantizeLinear pairs, weights int8 per output
  channel, activations uint8) for models with convolutions.  Activation ranges are calibrated (min/max) on
  ``CALIBRATION_IMAGES`` **training** images, never test images: the test set measures the shipped file, so it
  must not also tune it.

Measured (seed 0, one onnxruntime thread, AMD EPYC; file bytes as a share of FP32, test accuracy, images/s at 256):

    digits mlp-large   dynamic 27 %, 98.06 % (FP32 98.06), 3.04 M/s (FP32 1.41 M)
                       static  30 %, 97.78 %,              3.18 M/s      -> dynamic: smaller, no accuracy lost
    MNIST  cnn-large   static  26 %, 99.12 % (FP32 99.10), 35.7 k/s (FP32 24.5 k)
                       dynamic 25 %, 99.11 %,               3.5 k/s      -> static: ConvInteger is 7x slower
    MNIST  cnn-small   static  32 %, 97.22 % (FP32 97.21), 69.5 k/s (FP32 188 k)
                       dynamic 30 %, 97.21 %,              41.0 k/s

So int8 is not always faster: a tiny model (cnn-small, the digits MLPs at batch 1) spends its time quantizing and
dequantizing activations, and its int8 file is slower than its FP32 one; kd_core.deploy.measure reports what it
finds, batch size by batch size.  QOperator format, int8 activations and reduce_range measured within 5 % of this
QDQ uint8 choice on the MNIST teacher.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from kd_core.deploy.export import DeployError
from kd_core.files import one_line

Scheme = Literal["dynamic", "static-qdq"]
SCHEMES: tuple[Scheme, ...] = ("dynamic", "static-qdq")
CALIBRATION_IMAGES = 256  # a few hundred training images: ranges settle well before that on these models
CALIBRATION_BATCH = 32
# Node types that only a quantized graph holds: a file without any was not quantized at all.
QUANTIZED_OPS = {"QuantizeLinear", "DynamicQuantizeLinear", "MatMulInteger", "ConvInteger", "QLinearConv"}


def graph_ops(model: bytes) -> set[str]:
    """The node types of an ONNX model's main graph."""
    import onnx

    return {node.op_type for node in onnx.load_model_from_string(model).graph.node}


def scheme_for(fp32: bytes) -> Scheme:
    """static QDQ per channel for a model with a convolution, dynamic otherwise (the module docstring says why)."""
    return "static-qdq" if "Conv" in graph_ops(fp32) else "dynamic"


def input_of(model: bytes) -> tuple[str, int | None]:
    """(name, fixed batch size or None) of an ONNX model's one input."""
    import onnx

    graph = onnx.load_model_from_string(model).graph
    weights = {t.name for t in graph.initializer}
    first = next(i for i in graph.input if i.name not in weights)
    dims = first.type.tensor_type.shape.dim
    return first.name, (dims[0].dim_value if dims and dims[0].HasField("dim_value") else None)


def calibration_indices(train_size: int, count: int = CALIBRATION_IMAGES, seed: int = 0) -> torch.Tensor:
    """Which training images calibrate: ``count`` of them (all, when fewer), drawn without replacement, fixed by
    ``seed`` so a file is made again bit for bit."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randperm(train_size, generator=generator)[: min(count, train_size)]


class CalibrationReader:
    """onnxruntime's CalibrationDataReader over some training images: ``{input name: batch}`` until they run out.
    (Duck-typed: onnxruntime only calls ``get_next`` and ``rewind``.)"""

    def __init__(self, input_name: str, images: np.ndarray, batch: int = CALIBRATION_BATCH):
        self.input_name, self.images, self.batch, self.at = input_name, images, batch, 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self.at >= len(self.images):
            return None
        rows = self.images[self.at : self.at + self.batch]
        self.at += self.batch
        return {self.input_name: rows}

    def rewind(self) -> None:
        self.at = 0

    def __iter__(self):  # onnxruntime ≥ 1.16 may iterate a reader as well
        self.rewind()
        return iter(self.get_next, None)


def quantize(
    fp32: bytes, train_images: torch.Tensor, scheme: Scheme | None = None, label: str = "the model", seed: int = 0
) -> tuple[bytes, Scheme]:
    """(int8 ONNX bytes, the scheme used) of the FP32 model ``fp32``.  Only ``train_images`` are ever seen (static
    calibration draws ``CALIBRATION_IMAGES`` of them); ``scheme``: ``scheme_for(fp32)`` unless given.

    DeployError, one line, when onnxruntime cannot quantize the model or finds nothing in it to quantize."""
    from onnxruntime import quantization as q

    scheme = scheme or scheme_for(fp32)
    if scheme not in SCHEMES:
        raise DeployError(f"unknown quantization {scheme!r}; choose one of: {', '.join(SCHEMES)}")
    with tempfile.TemporaryDirectory(prefix="kd-quantize-") as folder:
        source, target = Path(folder) / "fp32.onnx", Path(folder) / "int8.onnx"
        source.write_bytes(fp32)
        logging.disable(logging.WARNING)  # "consider pre-processing": advice to a person, not for every run
        try:
            if scheme == "dynamic":
                q.quantize_dynamic(source, target, weight_type=q.QuantType.QInt8)
            else:
                name, batch = input_of(fp32)
                picked = train_images[calibration_indices(len(train_images), seed=seed)]
                reader = CalibrationReader(name, picked.detach().cpu().float().numpy(), batch or CALIBRATION_BATCH)
                q.quantize_static(
                    source,
                    target,
                    reader,
                    quant_format=q.QuantFormat.QDQ,
                    per_channel=True,
                    weight_type=q.QuantType.QInt8,
                    activation_type=q.QuantType.QUInt8,
                )
        except Exception as error:  # onnxruntime's and onnx's own error classes
            raise DeployError(f"onnxruntime could not quantize {label} ({one_line(error)[:120]})") from None
        finally:
            logging.disable(logging.NOTSET)
        extra = [p.name for p in Path(folder).iterdir() if p.name not in ("fp32.onnx", "int8.onnx")]
        if extra:  # e.g. weights written beside the model: the shipped file must stand alone
            raise DeployError(f"onnxruntime wrote {label}'s int8 weights to a second file ({extra[0]})")
        int8 = target.read_bytes()
    if not graph_ops(int8) & QUANTIZED_OPS:
        raise DeployError(
            f"onnxruntime found nothing to quantize in {label} (no MatMul, Gemm or Conv with weights); "
            "ship its FP32 file alone"
        )
    return int8, scheme
