"""The same training loop under torchrun: DistributedDataParallel, gloo on CPU, nccl on GPUs.

`torchrun --nproc-per-node N -m latentexplorer train ...` sets RANK / WORLD_SIZE;
each process trains on its shard of every epoch's shuffled order, gradients are
averaged by DDP, and only rank 0 logs and saves.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as torch_dist
from torch import nn


@dataclass
class DistContext:
    """Rank and world size; a single process is world size 1 and wraps nothing."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device | None = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def wrap(self, model: nn.Module) -> nn.Module:
        if self.world_size == 1:
            return model
        device_ids = [self.device.index] if self.device is not None and self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)

    def all_reduce_sum(self, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self._all_reduce(tensors, torch_dist.ReduceOp.SUM)

    def all_reduce_min(self, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self._all_reduce(tensors, torch_dist.ReduceOp.MIN)

    def _all_reduce(self, tensors: tuple[torch.Tensor, ...], op) -> tuple[torch.Tensor, ...]:
        if self.world_size == 1:
            return tensors
        out = []
        for tensor in tensors:
            moved = tensor.to(self.device or "cpu")
            torch_dist.all_reduce(moved, op=op)
            out.append(moved.cpu())
        return tuple(out)


def launched_by_torchrun() -> bool:
    return "WORLD_SIZE" in os.environ and int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_distributed(device: str = "auto") -> DistContext:
    """Join the process group torchrun set up; a plain single-process context otherwise."""
    if not launched_by_torchrun():
        return DistContext()
    rank = int(os.environ["RANK"])
    world = int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    use_cuda = device in ("auto", "cuda") and torch.cuda.is_available()
    if use_cuda:
        torch.cuda.set_device(local)
    torch_dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return DistContext(rank, world, local, torch.device("cuda", local) if use_cuda else torch.device("cpu"))


def shutdown_distributed(context: DistContext, together: bool = True) -> None:
    """Leave the group together: a rank that tore gloo down while the other still talked to
    it aborted at exit ("terminate called without an active exception"). After a failure
    (`together=False`) the other rank may be gone, so there is no barrier to wait at."""
    if context.world_size > 1 and torch_dist.is_initialized():
        if together:
            torch_dist.barrier()
        torch_dist.destroy_process_group()
