"""The machine kd-bench runs on: its CPU, its usable cores, its practical fp32 matmul rate, and a model's FLOPs per
image."""

from __future__ import annotations

import contextlib
import math
import os
import platform
import time
from pathlib import Path

import torch
from torch import nn


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def usable_cores() -> int:
    with contextlib.suppress(AttributeError, OSError):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def matmul_gflops(size: int = 1024, seconds: float = 1.0) -> float:
    """The best fp32 matmul rate seen in about ``seconds``: the machine's practical peak."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    best, deadline = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        for _ in range(4):
            a @ b
        best = max(best, 4 * 2 * size**3 / (time.perf_counter() - start) / 1e9)
    return best


def forward_flops(model: nn.Module, input_shape: tuple[int, ...]) -> float:
    """2 × multiply-adds of one image's forward pass through the conv and linear layers."""
    total = [0.0]

    def count(module, inputs, output):
        if isinstance(module, nn.Conv2d):
            kernel = math.prod(module.kernel_size) * module.in_channels // module.groups
            total[0] += 2.0 * kernel * output[0].numel()
        elif isinstance(module, nn.Linear):
            total[0] += 2.0 * module.in_features * module.out_features

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        with torch.no_grad():
            model(torch.zeros(1, *input_shape))
    finally:
        for hook in hooks:
            hook.remove()
    return total[0]
