"""Numeric precision of training: bf16 autocast where the hardware multiplies bf16 natively.

The networks' matrix products and convolutions run in bf16 under `torch.autocast`,
about twice the fp32 rate on CPUs with AVX-512 BF16 or AMX. Everything else stays
fp32: parameters, Adam's moments, saved weights, and the objective, because the
encoder's and decoder's outputs are cast back to fp32 before the likelihood and
the KL are computed (a bf16 sum over 784 pixels would round a loss of 200 nats to
whole nats). Where bf16 is only emulated it is slower than fp32, so `auto` keeps fp32.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn

from latentexplorer.errors import ConfigError

BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
"""x86 /proc/cpuinfo flags of instructions that multiply bf16 in hardware."""


def native_bf16(device: torch.device) -> bool:
    """Whether `device` computes bf16 matrix products in hardware rather than emulating them."""
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type == "cpu":
        return cpu_has_native_bf16()
    return False


@functools.cache
def cpu_has_native_bf16() -> bool:
    """torch's own CPU feature check, then the kernel's flags (for builds without the check)."""
    for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        check = getattr(torch.cpu, name, None)
        if check is not None and check():
            return True
    return bool(BF16_CPU_FLAGS & cpu_flags())


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The x86 CPU's feature flags as Linux lists them; empty elsewhere."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return frozenset(value.split())
    return frozenset()


def resolve_precision(name: str, device: torch.device) -> str:
    """`auto` → bf16 where `device` has native bf16, fp32 elsewhere; an explicit bf16 on
    hardware that would only emulate it is refused rather than silently made slow."""
    if name == "fp32":
        return "fp32"
    supported = native_bf16(device)
    if name == "auto":
        return "bf16" if supported else "fp32"
    if name == "bf16":
        if not supported:
            what = "this CPU" if device.type == "cpu" else f"the {device.type} device"
            raise ConfigError(
                f"--precision bf16 was asked for, but {what} has no native bf16 "
                "(AVX-512 BF16 or AMX on a CPU, Ampere or newer on CUDA); use auto or fp32"
            )
        return "bf16"
    raise ConfigError(f"precision must be auto, fp32 or bf16, got {name!r}")


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The region in which the forward pass and the loss run (a no-op for fp32)."""
    if precision != "bf16":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def _to_float32(module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
    if isinstance(output, torch.Tensor) and output.dtype in (torch.bfloat16, torch.float16):
        return output.float()
    return output


@contextlib.contextmanager
def float32_outputs(*modules: nn.Module) -> Iterator[None]:
    """Cast the outputs of `modules` back to fp32 while the block runs, so that the
    likelihood and the KL that follow them are computed in fp32 under autocast."""
    handles = [module.register_forward_hook(_to_float32) for module in modules]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
