"""Where and how a training process runs: device, precision, and the torchrun process group.

One vocabulary for precision across the project (the same names ``dfbench run --precision``
takes): ``auto`` (bf16 autocast on CPU, fp16 AMP on CUDA without bf16, bf16 on CUDA with it),
``fp32``, ``bf16`` (autocast), ``fp16`` (CUDA autocast + a gradient scaler) and ``fp64`` (the
network and its inputs in float64, as the official LAA-Net trains).

Data parallel is "one big batch": under ``torchrun`` every process takes its slice of the global
batch, gradients are summed with one flattened all-reduce per backward pass (explicit rather
than a DDP wrapper, so SAM's two passes, accumulation and frozen parts need no re-wrapping), and
BatchNorm statistics are reduced over all processes (:func:`convert_sync_bn`, CPU-capable;
torch's ``SyncBatchNorm`` is CUDA-only). N processes thus follow one process with N× the batch.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from dataclasses import dataclass, field

import torch
import torch.distributed as dist
from torch import nn

from ..errors import DfbenchError

log = logging.getLogger(__name__)

from .config import PRECISIONS  # noqa: E402  (torch-free home of the vocabulary)

DEVICES = ("auto", "cpu", "cuda")


class TrainingError(DfbenchError):
    """Training cannot start or continue (bad settings for this machine or data, diverged loss)."""


def dist_on() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def resolve_precision(name: str, device: torch.device) -> str:
    """``auto`` -> a concrete precision for ``device``; unknown or impossible names raise."""
    if name == "amp":  # LipForensics' old word for fp16 AMP
        warnings.warn("precision 'amp' is deprecated: use 'fp16'", DeprecationWarning, stacklevel=3)
        name = "fp16"
    if name not in PRECISIONS:
        raise TrainingError(f"precision must be one of {', '.join(PRECISIONS)}, got {name!r}")
    if name == "auto":
        if device.type == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return "bf16"
    if name == "fp16" and device.type != "cuda":
        raise TrainingError("precision fp16 (AMP with a grad scaler) needs CUDA; use bf16 or fp32 on CPU")
    return name


@dataclass
class Runtime:
    """This process's place in the run and its numeric settings; built by :func:`setup`."""

    device: torch.device
    precision: str
    world: int = 1
    rank: int = 0
    local_rank: int = 0
    owns_group: bool = False
    scaler: torch.amp.GradScaler | None = field(default=None, repr=False)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def param_dtype(self) -> torch.dtype:
        return torch.float64 if self.precision == "fp64" else torch.float32

    @property
    def amp_dtype(self) -> torch.dtype | None:
        return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision)

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def barrier(self) -> None:
        if dist_on():
            dist.barrier()

    def all_sum(self, values: list[float]) -> list[float]:
        """Element-wise sum over processes (float64, so counts stay exact)."""
        if not dist_on():
            return list(values)
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return t.tolist()

    def all_gather_object(self, obj):
        if not dist_on():
            return [obj]
        out: list = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def broadcast_object(self, obj):
        if not dist_on():
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def broadcast_module(self, module: nn.Module) -> None:
        """Rank 0's parameters and buffers everywhere (same start whatever each rank seeded)."""
        if dist_on():
            for t in module.state_dict().values():
                dist.broadcast(t, 0)

    def sum_grads(self, params: list[nn.Parameter]) -> None:
        """Sum gradients over processes in one flattened all-reduce.

        A parameter without a gradient on every process (frozen, or unused this step) keeps
        ``grad = None``, as in a single process, so optimisers skip it alike.
        """
        if not dist_on():
            return
        has = [0.0 if p.grad is None else 1.0 for p in params]
        dtype = torch.float64 if any(p.dtype == torch.float64 for p in params) else torch.float32
        flat = torch.cat([torch.tensor(has, dtype=dtype, device=self.device)]
                         + [(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1).to(dtype)
                            for p in params])
        dist.all_reduce(flat)
        offset = len(params)
        for i, p in enumerate(params):
            n = p.numel()
            if flat[i] > 0:
                g = flat[offset:offset + n].view_as(p).to(p.dtype)
                if p.grad is None:
                    p.grad = g.clone()
                else:
                    p.grad.copy_(g)
            offset += n

    def close(self) -> None:
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()


def setup(device: str = "auto", precision: str = "auto", threads: int | None = None) -> Runtime:
    """Read torchrun's environment, pick the device, start the process group (gloo on CPU, NCCL
    on CUDA after ``set_device``) and resolve the precision."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device not in DEVICES and not device.startswith("cuda:"):
        raise TrainingError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise TrainingError(f"device {device!r} asked for but CUDA is not available; use device cpu")
    dev = torch.device("cuda", local_rank) if device == "cuda" else torch.device(device)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)  # NCCL needs each process on its own GPU before init
    owns = False
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
        owns = True
    if threads:
        torch.set_num_threads(int(threads))
    prec = resolve_precision(precision, dev)
    scaler = torch.amp.GradScaler("cuda") if prec == "fp16" else None
    return Runtime(dev, prec, world, rank, local_rank, owns, scaler)


# ---------------------------------------------------------------------------------------------
# BatchNorm over the global batch


def _sync_bn_forward(self: nn.BatchNorm2d, x: torch.Tensor) -> torch.Tensor:
    """BatchNorm with batch statistics summed over all processes (differentiable all-reduce)."""
    if not (self.training and dist_on()):
        return type(self).__mro__[1].forward(self, x)
    c = x.shape[1]
    xf = x.float() if x.dtype != torch.float64 else x
    dims = [d for d in range(xf.ndim) if d != 1]
    local = torch.cat([xf.sum(dims), (xf * xf).sum(dims),
                       torch.full((1,), float(x.numel() // c), device=x.device, dtype=xf.dtype)])
    from torch.distributed.nn.functional import all_reduce

    with warnings.catch_warnings():  # deprecated for a private successor; still the autograd-aware one
        warnings.simplefilter("ignore", FutureWarning)
        total = all_reduce(local)
    n = total[-1]
    mean = total[:c] / n
    var = (total[c:2 * c] / n - mean * mean).clamp_min(0)
    if self.track_running_stats:
        with torch.no_grad():
            self.num_batches_tracked.add_(1)
            m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
            self.running_mean.mul_(1 - m).add_(mean.detach().to(self.running_mean.dtype) * m)
            unbiased = var.detach() * (n / (n - 1).clamp_min(1))
            self.running_var.mul_(1 - m).add_(unbiased.to(self.running_var.dtype) * m)
    shape = [1, c] + [1] * (xf.ndim - 2)
    y = (xf - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
    if self.affine:
        y = y * self.weight.view(shape) + self.bias.view(shape)
    y = y.to(x.dtype)
    if hasattr(self, "act"):  # timm BatchNormAct2d: BN -> drop -> act
        y = self.act(self.drop(y))
    return y


def convert_sync_bn(module: nn.Module) -> nn.Module:
    """Swap every BatchNorm (1/2/3-d, incl. timm's BatchNormAct2d) for a globally synchronised one.

    The class is swapped, not the module, so parameters, buffers and the state dict are untouched.
    BatchNorm layers in eval mode (frozen parts) keep using their running statistics.
    """
    classes: dict[type, type] = {}
    for m in module.modules():
        cls = type(m)
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and not getattr(cls, "_dfbench_sync", False):
            if cls not in classes:
                classes[cls] = type(f"Sync{cls.__name__}", (cls,), {"forward": _sync_bn_forward,
                                                                    "_dfbench_sync": True})
            m.__class__ = classes[cls]
    return module


__all__ = ["DEVICES", "PRECISIONS", "Runtime", "TrainingError", "convert_sync_bn", "dist_on",
           "resolve_precision", "setup"]
