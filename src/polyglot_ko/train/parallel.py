"""Parallelism applied from outside the model: process groups, FSDP2, mixed precision, activation checkpointing.

One process needs no launcher. Under `torchrun` (WORLD_SIZE > 1) every process joins a process group (NCCL on
GPUs, gloo on CPUs) and each transformer block is wrapped with FSDP2's `fully_shard`, then the root (embeddings,
final norm, output layer); on GPU parameters are gathered and computed in bfloat16 while the sharded master
weights, gradients reductions and optimizer state stay float32 (`MixedPrecisionPolicy`). Activation
checkpointing and `torch.compile` are applied per block the same way, without changing the model's code or its
state-dict names.
"""

from __future__ import annotations

import datetime
import functools
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from ..errors import UserError


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("parallel.device=cuda but no CUDA GPU is visible; use parallel.device=cpu")
    return torch.device(name)


def init_distributed(device_name: str = "auto") -> DistInfo:
    """Join the torchrun process group when launched by torchrun; otherwise a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    device = resolve_device(device_name)
    if world <= 1:
        if device.type == "cuda":
            device = torch.device("cuda", torch.cuda.current_device())
        return DistInfo(device=device)
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(
            backend=backend, timeout=datetime.timedelta(minutes=30), device_id=device if device.type == "cuda" else None
        )
    return DistInfo(rank=rank, world_size=world, local_rank=local_rank, device=device)


def destroy_distributed() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def compute_dtype(precision: str, device: torch.device) -> torch.dtype:
    """bf16 compute on GPU by default; CPU stays float32 (no bf16 matmul hardware on typical CPUs)."""
    if precision == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16}[precision]


def apply_activation_checkpointing(model: nn.Module) -> None:
    """Recompute each block's forward during backward, keeping the module tree (and state-dict names) intact."""
    from torch.utils.checkpoint import checkpoint

    for layer in model.gpt_neox.layers:
        inner = layer.forward  # bound method of the block's class

        @functools.wraps(inner)
        def forward(*args, _inner=inner, **kwargs):
            return checkpoint(_inner, *args, use_reentrant=False, **kwargs)

        layer.forward = forward


def apply_compile(model: nn.Module) -> None:
    """torch.compile per block (torchtitan's choice: small graphs, repeated, compiled once)."""
    for layer in model.gpt_neox.layers:
        layer.compile(dynamic=False)


def apply_fsdp(root: nn.Module, model: nn.Module, info: DistInfo, param_dtype: torch.dtype) -> None:
    """FSDP2: shard every block, then the root (which owns embeddings, final norm and output layer)."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    mesh = init_device_mesh(info.device.type, (info.world_size,))
    kwargs = {"mesh": mesh}
    if param_dtype != torch.float32:
        kwargs["mp_policy"] = MixedPrecisionPolicy(param_dtype=param_dtype, reduce_dtype=torch.float32)
    layers = list(model.gpt_neox.layers)
    for i, layer in enumerate(layers):
        # The last block's parameters are needed again at once by the backward: keep them gathered.
        fully_shard(layer, reshard_after_forward=i < len(layers) - 1, **kwargs)
    fully_shard(root, **kwargs)


def all_reduce_(t: torch.Tensor, op: str = "sum") -> torch.Tensor:
    if dist.is_initialized() and dist.get_world_size() > 1:
        dist.all_reduce(t, op={"sum": dist.ReduceOp.SUM, "max": dist.ReduceOp.MAX}[op])
    return t


def barrier() -> None:
    if dist.is_initialized() and dist.get_world_size() > 1:
        dist.barrier()


def broadcast_object(obj, src: int = 0):
    if dist.is_initialized() and dist.get_world_size() > 1:
        box = [obj]
        dist.broadcast_object_list(box, src=src)
        return box[0]
    return obj


def set_num_threads(n: int) -> None:
    if n > 0:
        torch.set_num_threads(n)
    elif int(os.environ.get("WORLD_SIZE", "1")) > 1 and "OMP_NUM_THREADS" not in os.environ:
        # torchrun sets OMP_NUM_THREADS=1 itself; when it does not, split the cores among local ranks.
        local = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // local))
