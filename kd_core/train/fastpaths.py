"""CPU fast paths, applied by the trainer: each gives the very same numbers as the plain model, only faster
(all but ``training_layout``'s channels-last CNN training, which says why).

``tune_allocator()`` — glibc's malloc hands every block over its mmap threshold (128 KiB, rising
to at most 32 MiB) straight to the kernel with mmap and gives it back with munmap on free, so a
training step that allocates a few activation buffers of several MiB (the seed's
TeacherNet at batch 128) pays for mapping, zero-filling and unmapping fresh pages every step;
freed memory at the top of the heap is also trimmed back to the kernel.  We turn both off
(``M_MMAP_MAX = 0``, a 1 GiB trim threshold), so freed buffers are reused from the heap.
The cost: the process keeps its peak heap instead of returning it to the system.

``training_layout(model)`` — on by default for one case: a two-conv ``models.SmallCNN`` (``cnn-large``,
``cnn-dropout``: the MNIST teachers) trains on a CPU with its weights and batches channels-last (NHWC), about a
quarter faster at 1 and 2 threads (oneDNN's NHWC convolutions, PyTorch's vectorised NHWC max-pool).  It is not
bit-identical to NCHW training — the convolutions sum in another order — so its numbers are its own; the weights
go back to NCHW when training ends, so the state dict and the cache files are laid out as before.
``inference_weights(model)`` turns them channels-last for each inference pass (logits, accuracy) likewise, about
twice as fast at one thread, whether the model was trained here or loaded.  ``KD_CHANNELS_LAST=1`` trains every
image model channels-last (inputs only), ``KD_CHANNELS_LAST=0`` turns both off.

``image_layout(x)`` — opt-in, with ``KD_CHANNELS_LAST=1``: image batches in channels-last (NHWC)
order, on which oneDNN's convolutions and PyTorch's max-pooling run much faster on a CPU.  It is
opt-in for other models because it can change the last bits: a second convolution (``cnn-large``)
differs by ~1e-7 in the forward pass, and with two or more threads the conv's bias gradient of
the seed's TeacherNet (and, on a short last batch, its StudentNet) is summed in another order.
Off, it returns ``x`` untouched.

``inference_layout(model, x)`` — on by default, for one case only: a one-conv ``models.ConvNet``
(the seed's TeacherNet/StudentNet, ``cnn-small``) evaluated on a batch of two or more images.  Its
logits are bit-identical in either layout where this CPU's convolution is (``channels_last_conv_is_exact``
tries it once per shape; tests/test_bench.py checks 1–4 threads and batch sizes 2–256 with remainders; a single
image can differ in the last bit, so it stays as it is), and the
teacher's logit pass runs several times faster (kd-bench measures it).  Anything else gets ``image_layout(x)``.

``training_forward(model)`` — what the trainer calls instead of ``model(x)``: for a one-conv ``models.ConvNet``,
its forward pass through ``conv_pool_relu``; for anything else, the model itself.

``conv_pool_relu(x, conv)`` — on by default, for training a one-conv ``models.ConvNet``: ``relu(max_pool2d(conv(x),
2))`` bit for bit, forward and backward, about twice as fast.  PyTorch's max-pool on NCHW tensors takes half of a
StudentNet step; on channels-last ones it is vectorised over channels.  So the
convolution and the pool run channels-last (the same values and the same argmax indices as in NCHW), and the
backward pass is PyTorch's own NCHW one, fed those indices: the gradients are exactly the NCHW model's, where a
channels-last backward would sum the gradients in another order.  tests/test_bench.py checks it against
the seed's nets over SGD steps with 1–3 threads, short batches and tied windows.

The allocator: only glibc is touched (checked via ``platform.libc_ver``); elsewhere, or with ``KD_NO_TUNING=1``
in the environment, it does nothing.  It is idempotent and safe to call from any thread.
"""

from __future__ import annotations

import ctypes
import os
import platform
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from kd_core.models.architectures import ConvNet, SmallCNN

# glibc <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_TRIM_THRESHOLD = 1 << 30

_lock = threading.Lock()
_state: dict[str, bool] = {}


def tuning_disabled() -> bool:
    return os.environ.get("KD_NO_TUNING", "").strip() not in ("", "0")


def tune_allocator() -> bool:
    """Keep large freed blocks in the heap instead of returning them to the kernel; True if applied."""
    with _lock:
        if "allocator" in _state:
            return _state["allocator"]
        applied = False
        if not tuning_disabled() and platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
            try:
                mallopt = ctypes.CDLL(None).mallopt
                mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
                applied = bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))
            except (OSError, AttributeError):
                applied = False
        _state["allocator"] = applied
        return applied


def tune() -> dict[str, bool]:
    """Apply every speed setting once per process; returns what was applied."""
    return {"allocator": tune_allocator(), "channels_last": channels_last()}


def channels_last() -> bool:
    return os.environ.get("KD_CHANNELS_LAST", "").strip() not in ("", "0")


def inference_layout(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``x`` in channels-last order where that gives ``model`` the very same logits (see the module docstring)."""
    if isinstance(model, ConvNet) and x.dim() == 4 and len(x) > 1 and x.device.type == "cpu":  # checked on CPUs only
        if channels_last_conv_is_exact(x, model.conv1):  # the pool, ReLU and linear layer are exact in either layout
            return x.contiguous(memory_format=torch.channels_last)
    return image_layout(x)


def image_layout(x: torch.Tensor) -> torch.Tensor:
    """``x`` in channels-last order if it is a 4-D image batch and ``KD_CHANNELS_LAST=1``; else ``x`` itself."""
    if x.dim() == 4 and channels_last():
        return x.contiguous(memory_format=torch.channels_last)
    return x


def training_forward(model: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """``model``'s forward pass for training, through the fastest path that gives the same numbers (inputs in
    channels-last order if ``KD_CHANNELS_LAST=1``)."""
    if isinstance(model, ConvNet):
        return lambda x: model.fc(torch.flatten(conv_pool_relu(image_layout(x), model.conv1), 1))
    return lambda x: model(image_layout(x))


def trains_channels_last(model: nn.Module) -> bool:
    """Whether ``training_layout`` turns ``model``'s weights channels-last: a SmallCNN on a CPU, unless
    ``KD_CHANNELS_LAST`` says otherwise."""
    flag = os.environ.get("KD_CHANNELS_LAST", "").strip()
    on_cpu = all(p.device.type == "cpu" for p in model.parameters())
    return isinstance(model, SmallCNN) and on_cpu and flag != "0"


@contextmanager
def inference_weights(model: nn.Module) -> Iterator[None]:
    """A SmallCNN's weights channels-last for an inference pass (its 60,000-image logit pass runs in two thirds of
    the time), then back as they were: every pass over it — in training, after it, or from the cache — sees the
    same layout, so its logits do not depend on where the teacher came from."""
    convs = [p for p in model.parameters() if p.dim() == 4]
    if not trains_channels_last(model) or all(p.is_contiguous(memory_format=torch.channels_last) for p in convs):
        yield
        return
    model.to(memory_format=torch.channels_last)
    try:
        yield
    finally:
        model.to(memory_format=torch.contiguous_format)


@contextmanager
def training_layout(model: nn.Module) -> Iterator[Callable[[torch.Tensor], torch.Tensor]]:
    """The forward pass ``fit`` trains with, in the layout that is fastest for ``model`` (see the module
    docstring); a channels-last model's weights are back in NCHW order afterwards, even after an error."""
    if not trains_channels_last(model):
        yield training_forward(model)
        return
    model.to(memory_format=torch.channels_last)  # the same Parameter objects: the optimizer keeps them
    try:
        yield lambda x: model(x.contiguous(memory_format=torch.channels_last))
    finally:
        model.to(memory_format=torch.contiguous_format)


def conv_pool_relu(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """``F.relu(F.max_pool2d(conv(x), 2))`` for an NCHW batch ``x`` — the same numbers, forward and backward, faster."""
    # Checked bit for bit only for what ConvNet uses, on a CPU; a single image's conv can differ in the last bit.
    usual = conv.stride == (1, 1) and conv.dilation == (1, 1) and conv.groups == 1 and conv.bias is not None
    if (
        not usual
        or isinstance(conv.padding, str)
        or x.device.type != "cpu"
        or len(x) < 2
        or not x.is_contiguous()
        or not channels_last_conv_is_exact(x, conv)
    ):
        return F.relu(F.max_pool2d(conv(x), 2))
    return _MaxPoolReluChannelsLast.apply(_ConvChannelsLast.apply(x, conv.weight, conv.bias, conv.padding))


_exact_convs: dict[tuple, bool] = {}


def channels_last_conv_is_exact(x: torch.Tensor, conv: nn.Conv2d) -> bool:
    """Whether ``conv`` computes bit for bit the same on ``x`` in channels-last order as in NCHW, on this CPU.

    oneDNN's AVX-512 kernels do for the seed's nets; its AVX2 kernels (an older Xeon, or ONEDNN_MAX_CPU_ISA=AVX2)
    sum in another order.  So it is tried once per shape, batch size and thread count, on the batch at hand (one
    extra convolution), and the fast paths above are used only where it holds."""
    key = (tuple(conv.weight.shape), tuple(x.shape), conv.padding, torch.get_num_threads())
    exact = _exact_convs.get(key)
    if exact is None:
        with torch.no_grad():
            plain = F.conv2d(x, conv.weight, conv.bias, padding=conv.padding)
            fast = F.conv2d(
                x.contiguous(memory_format=torch.channels_last), conv.weight, conv.bias, padding=conv.padding
            )
            exact = torch.equal(plain, fast)
        with _lock:
            _exact_convs[key] = exact
    return exact


class _ConvChannelsLast(torch.autograd.Function):
    """conv2d computed channels-last (the same values), differentiated by PyTorch's NCHW backward."""

    @staticmethod
    def forward(ctx, x, weight, bias, padding):
        ctx.save_for_backward(x, weight)
        ctx.padding = list(padding)
        return F.conv2d(x.contiguous(memory_format=torch.channels_last), weight, bias, padding=padding)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        mask = [ctx.needs_input_grad[0], ctx.needs_input_grad[1], ctx.needs_input_grad[2]]
        grad_x, grad_weight, grad_bias = torch.ops.aten.convolution_backward(
            grad.contiguous(), x, weight, [weight.shape[0]], [1, 1], ctx.padding, [1, 1], False, [0, 0], 1, mask
        )
        return grad_x, grad_weight, grad_bias, None


class _MaxPoolReluChannelsLast(torch.autograd.Function):
    """ReLU of a 2×2 max-pool of a channels-last tensor, returned in NCHW; the backward is PyTorch's NCHW one
    (ReLU's ``threshold_backward``, then the pool's, on the same indices)."""

    @staticmethod
    def forward(ctx, x):
        values, indices = torch.ops.aten.max_pool2d_with_indices(x, [2, 2], [2, 2])
        # F.relu is clamp_min(·, 0); writing it into an NCHW tensor does the ReLU and the layout change in one pass.
        out = torch.clamp_min(values, 0, out=torch.empty(values.shape, dtype=values.dtype))
        ctx.save_for_backward(indices.contiguous(), out)
        ctx.input_shape = x.shape
        return out

    @staticmethod
    def backward(ctx, grad):
        indices, out = ctx.saved_tensors
        grad = torch.ops.aten.threshold_backward(grad.contiguous(), out, 0)  # what autograd does for F.relu
        like_input = grad.new_empty(ctx.input_shape)  # read for its shape and NCHW layout only
        return torch.ops.aten.max_pool2d_with_indices_backward(
            grad, like_input, [2, 2], [2, 2], [0, 0], [1, 1], False, indices
        )
