"""Numeric precision of training: bf16 autocast only where it measurably pays.

The networks' matrix products and convolutions run in bf16 under `torch.autocast`; everything
else stays fp32: parameters, Adam's moments, saved weights, and the objective: the encoder's
and decoder's outputs are cast back to fp32 (`fp32_islands`) before log σ² is clamped and
exponentiated, the KL and the likelihood's 784-pixel sums are taken and the loss averaged (a
bf16 sum would round a loss of 200 nats to whole nats), and the decoder's first layer reads z
in fp32 (`computed_in_fp32`). Computing the encoder's last layer
(μ, log σ²) in fp32 as well was measured and not kept: the 10-epoch ELBO gap moved by more
between seeds than between the two (see benchmarks/README.md).

A CPU's bf16 flags say only that bf16 *can* be fast: on a 2-core Xeon whose bf16 `torch.mm`
peak was 3.6× its fp32 peak, a small VAE trained no faster in bf16 (its step is casts,
elementwise ops and the optimiser, not matmuls). So `auto` on a CPU with native bf16 times a
few optimiser steps each way on a copy of the model (`probe_precision`, under a second) and
picks bf16 only when it is at least `MIN_SPEEDUP` faster; the verdict is cached per machine,
torch version, thread count and model shape (`precision_cache_file`).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import json
import math
import os
import platform
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from latentexplorer.errors import ConfigError

BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
"""x86 /proc/cpuinfo flags of instructions that multiply bf16 in hardware."""
MIN_SPEEDUP = 1.15
"""bf16 must beat fp32 by this factor in the probe: below it the speed is within the probe's
noise and not worth bf16's coarser arithmetic."""
PROBE_BUDGET_S = 0.6
"""Timed steps stop once the probe has run this long (after at least `PROBE_MIN_ROUNDS`)."""
PROBE_MIN_ROUNDS = 2
CACHE_IF_UNDER_S = 3.0
"""A probe that took longer than this (steps slowed by other work, or a big model) is used for
this run but not cached: the next run measures again rather than inherit a skewed verdict."""
PROBES_KEPT = 3
"""The first runs of a model shape each probe again and the cache keeps the best speedup seen:
one probe taken while the machine was busy (1.05× here, where quiet probes measure 1.3–1.5×)
must not decide for every later run. Like the probe's own best-of timings, the best is the
machine's speed, the rest is interference."""
CACHE_VERSION = 2  # 2: the decoder's first layer in fp32, probes kept best of PROBES_KEPT


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


def cpu_name() -> str:
    """The CPU's model name (part of the probe cache's key: another CPU must probe again)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def resolve_precision(name: str, device: torch.device) -> str:
    """What the hardware allows, without measuring: `auto` → bf16 where `device` has native bf16
    (the probe may still choose fp32, see `choose_precision`); an explicit bf16 on hardware that
    would only emulate it is refused rather than silently made slow."""
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


@dataclass(frozen=True)
class PrecisionChoice:
    """The precision a run trains in and why; `speedup` is fp32 step time / bf16 step time
    (nan when nothing was measured), `probe_s` the probe's wall time (0 when cached)."""

    precision: str
    reason: str
    speedup: float = math.nan
    probe_s: float = 0.0
    cached: bool = False

    def note(self) -> str:
        """The line for the run's log, e.g. 'precision: bf16 (1.32× faster than fp32 in a 0.6 s probe)'."""
        return f"precision: {self.precision} ({self.reason})"


def choose_precision(
    name: str, device: torch.device, model: nn.Module, batch: Any,
    step: Callable[[nn.Module, Any], torch.Tensor] | None = None, cache: Path | None = None,
) -> PrecisionChoice:
    """`fp32`/`bf16` as asked (no probe); `auto` on a CPU with native bf16: the cached verdict for
    this machine and model shape, else `probe_precision` on a copy of `model` with `batch`."""
    precision = resolve_precision(name, device)
    if name != "auto":
        return PrecisionChoice(precision, f"--precision {name} as asked")
    if precision == "fp32":
        return PrecisionChoice("fp32", f"no native bf16 on this {device.type} device")
    if device.type != "cpu" or batch is None:
        return PrecisionChoice("bf16", f"native bf16 on the {device.type} device, not probed")
    cache = cache if cache is not None else precision_cache_file()
    key = probe_key(model, batch)
    entries = _read_cache(cache)
    entry = entries.get(key)
    kept: PrecisionChoice | None = None
    probes = 0
    if isinstance(entry, dict):
        with contextlib.suppress(TypeError, KeyError, ValueError):
            probes = int(entry.get("probes", PROBES_KEPT))
            fields = {k: v for k, v in entry.items() if k != "probes"}
            kept = PrecisionChoice(**{**fields, "reason": f"{fields['reason']}, cached", "cached": True})
            if probes >= PROBES_KEPT:
                return kept
    choice = probe_precision(model, batch, step)
    if choice.probe_s > CACHE_IF_UNDER_S:  # a probe slowed by a busy machine is not kept
        return kept if kept is not None and kept.speedup >= choice.speedup else choice
    if kept is not None and kept.speedup >= choice.speedup:
        best = replace(kept, reason=f"{entry['reason'].split('; best of')[0]}; best of {probes + 1} probes",
                       cached=False)
    else:
        best = replace(choice, reason=f"{choice.reason}; best of {probes + 1} probes") if probes else choice
    entries[key] = {**{k: v for k, v in asdict(best).items() if k != "cached"}, "probes": probes + 1}
    _write_cache(cache, entries)
    return best


def probe_precision(
    model: nn.Module, batch: Any, step: Callable[[nn.Module, Any], torch.Tensor] | None = None,
    min_speedup: float = MIN_SPEEDUP, budget_s: float = PROBE_BUDGET_S,
) -> PrecisionChoice:
    """Time optimiser steps in fp32 and in bf16 autocast on a copy of `model` (the model, its
    optimiser and the global RNG are left as they were); bf16 when it is `min_speedup` faster.
    `step(model, batch)` returns the loss (default: `model(batch, None).total`)."""
    started = time.perf_counter()
    rng = torch.get_rng_state()
    try:
        copy_ = copy.deepcopy(model).train()
        optimizer = torch.optim.Adam(copy_.parameters(), lr=1e-6)
        loss = step or (lambda m, x: m(x, None).total)
        best = {"fp32": math.inf, "bf16": math.inf}
        for round_ in range(64):
            for precision in ("fp32", "bf16") if round_ % 2 == 0 else ("bf16", "fp32"):
                seconds = time_steps(copy_, optimizer, loss, batch, precision, steps=1 if round_ == 0 else 2)
                if round_ > 0:  # round 0 warms up: oneDNN builds its bf16 kernels on first use
                    best[precision] = min(best[precision], seconds)
            if round_ >= PROBE_MIN_ROUNDS and time.perf_counter() - started > budget_s:
                break
    finally:
        torch.set_rng_state(rng)
    speedup = best["fp32"] / best["bf16"]
    took = time.perf_counter() - started
    if speedup >= min_speedup:
        reason = f"{speedup:.2f}× faster than fp32 in a {took:.1f} s probe"
        return PrecisionChoice("bf16", reason, speedup, took)
    reason = f"bf16 only {speedup:.2f}× fp32's speed in a {took:.1f} s probe, below {min_speedup:.2f}×"
    return PrecisionChoice("fp32", reason, speedup, took)


def time_steps(model: nn.Module, optimizer: torch.optim.Optimizer,
               loss: Callable[[nn.Module, Any], torch.Tensor], batch: Any, precision: str, steps: int) -> float:
    """Seconds per optimiser step of `model` on `batch` in `precision`, as the Trainer steps."""
    device = next(model.parameters()).device
    with fp32_islands(model, precision):
        start = time.perf_counter()
        for _ in range(steps):
            with autocast(device, precision):
                total = loss(model, batch)
            optimizer.zero_grad(set_to_none=True)
            total.backward()
            optimizer.step()
        float(total.detach())
    return (time.perf_counter() - start) / steps


# -- the probe's cache ----------------------------------------------------------------------


def precision_cache_file() -> Path:
    """precision.json in the user's cache folder; LATENTEXPLORER_CACHE_DIR overrides the folder
    (tests use it to keep the user's cache clean)."""
    override = os.environ.get("LATENTEXPLORER_CACHE_DIR")
    if override:
        return Path(override) / "precision.json"
    home = Path.home()
    if sys.platform == "win32":
        folder = Path(os.environ.get("LOCALAPPDATA", home / "AppData" / "Local")) / "LatentExplorer" / "Cache"
    elif sys.platform == "darwin":
        folder = home / "Library" / "Caches" / "LatentExplorer"
    else:
        folder = Path(os.environ.get("XDG_CACHE_HOME", home / ".cache")) / "latentexplorer"
    return folder / "precision.json"


def probe_key(model: nn.Module, batch: Any) -> str:
    """What the verdict depends on: CPU, torch, threads, the model's class and parameter shapes,
    the batch's shape."""
    shapes = [type(model).__name__, *(tuple(p.shape) for p in model.parameters())]
    first = batch if isinstance(batch, torch.Tensor) else next(
        (v for v in getattr(batch, "__dict__", {}).values() if isinstance(v, torch.Tensor)), None
    )
    shapes.append(tuple(first.shape) if first is not None else type(batch).__name__)
    digest = hashlib.sha1(repr(shapes).encode()).hexdigest()[:16]
    return f"v{CACHE_VERSION}|{cpu_name()}|torch {torch.__version__}|{torch.get_num_threads()} threads|{digest}"


def _read_cache(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(path: Path, entries: dict[str, Any]) -> None:
    """Best effort: an unwritable cache only means probing again next time."""
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(entries, indent=1, sort_keys=True), encoding="utf-8")
        partial.replace(path)


# -- autocast and its fp32 islands ----------------------------------------------------------


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


def fp32_islands(model: nn.Module, precision: str) -> contextlib.AbstractContextManager:
    """For a bf16 run of `model`: its encoder's and decoder's outputs cast to fp32, so that
    log σ², the KL, the likelihood's sum and the loss's mean run in fp32, and the decoder's
    first linear layer (z → features) computed in fp32; nothing for fp32."""
    networks = [getattr(model, name, None) for name in ("encoder", "decoder")]
    networks = [net for net in networks if net is not None]
    if precision != "bf16" or not networks:
        return contextlib.nullcontext()
    stack = contextlib.ExitStack()
    stack.enter_context(float32_outputs(*networks))
    decoder = getattr(model, "decoder", None)
    first = next((m for m in decoder.modules() if isinstance(m, nn.Linear)), None) if decoder is not None else None
    if first is not None:
        stack.enter_context(computed_in_fp32(first))
    return stack


_fp32_regions = threading.local()  # per thread: the autocast-off regions entered by the hooks below


def _enter_fp32(module: nn.Module, inputs: tuple) -> tuple:
    region = torch.autocast(next(module.parameters()).device.type, enabled=False)
    region.__enter__()
    _fp32_regions.__dict__.setdefault("open", []).append(region)
    return tuple(x.float() if isinstance(x, torch.Tensor) and x.is_floating_point() else x for x in inputs)


def _leave_fp32(module: nn.Module, inputs: tuple, output: Any) -> Any:
    _fp32_regions.open.pop().__exit__(None, None, None)
    return output


@contextlib.contextmanager
def computed_in_fp32(module: nn.Module) -> Iterator[None]:
    """Run `module` outside autocast, on fp32 inputs, while the block runs. Used for the layer
    that reads z: bf16 keeps 8 bits of mantissa, so a z of 2 would reach the decoder rounded by
    up to 0.008, a sizeable part of a posterior σ of 0.05 (the 10-epoch ELBO gap to fp32, mean
    of three seeds, went from 0.30 % to 0.14 %; the layer is 20 × 400, its cost unmeasurable).

    Hooks, not a replaced `forward`: a copy taken inside the block (an epoch's snapshot for the
    explorer) must run on its own weights; the copied hooks act on the copy, and outside
    autocast they change nothing."""
    handles = [module.register_forward_pre_hook(_enter_fp32),
               module.register_forward_hook(_leave_fp32, always_call=True)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
