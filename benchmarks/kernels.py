"""Kernel sets: the same CPU told to use other float kernels, to imitate another machine on this one.

Float results differ in their last bits between CPUs (Intel or AMD, AVX2 or AVX-512) because PyTorch, oneDNN and
MKL each pick kernels for the CPU they find; training amplifies those bits.  These environment variables make
each library pick as it would on an older CPU, so one machine can measure the spread that another CPU causes:

    python -m benchmarks.kernels                 # this machine: its CPU and the kernel set in force
    ATEN_CPU_CAPABILITY=default python -m ...     # what every measuring script does under another set
"""

from __future__ import annotations

import os
import subprocess
import sys

# name -> the environment that selects it (on top of the current one).  "native" is whatever this CPU picks.
KERNEL_SETS: dict[str, dict[str, str]] = {
    "native": {},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2"},
    "default": {"ATEN_CPU_CAPABILITY": "default"},
    "onednn-avx2": {"ONEDNN_MAX_CPU_ISA": "AVX2"},
    "mkl-avx2": {"MKL_ENABLE_INSTRUCTIONS": "AVX2"},
}
VARIABLES = sorted({key for env in KERNEL_SETS.values() for key in env})


def kernel_env(name: str) -> dict[str, str]:
    """The process environment for kernel set ``name``: the current one with every selecting variable cleared,
    then the set's own (so a variable left in the shell cannot leak into "native")."""
    env = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    return {**env, **KERNEL_SETS[name]}


def current() -> dict:
    """This process's machine and kernel set: the CPU model, what PyTorch dispatches to, and the variables set."""
    import torch

    from .machine import cpu_model

    return {
        "cpu": cpu_model(),
        "torch": torch.__version__,
        "aten": torch.backends.cpu.get_cpu_capability(),
        "variables": {key: os.environ[key] for key in VARIABLES if key in os.environ},
    }


def describe(info: dict) -> str:
    """``"AMD EPYC, PyTorch kernels AVX512"`` (plus the variables set, if any)."""
    extra = ", ".join(f"{k}={v}" for k, v in info.get("variables", {}).items())
    return f"{info['cpu']}, PyTorch kernels {info['aten']}" + (f" ({extra})" if extra else "")


def run_under(name: str, argv: list[str]) -> subprocess.CompletedProcess:
    """``python argv…`` in a fresh process under kernel set ``name`` (the variables are read once, at start-up)."""
    return subprocess.run([sys.executable, *argv], env=kernel_env(name), check=True)


if __name__ == "__main__":
    print(describe(current()))
