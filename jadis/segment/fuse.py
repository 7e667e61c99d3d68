"""CPU inference in bfloat16 with each convolution fused with its activation (oneDNN post-ops).

Measured on the benchmark CPU (Xeon with AMX), for the shipped U-Net's layers: a depthwise 3×3
convolution + ReLU6 takes 12 ms fused against 40 ms as ``conv2d`` then ``hardtanh`` under bf16 autocast
(PyTorch's element-wise kernels are slow on bf16 channels-last tensors), and a 1×1 convolution 6 ms
against 11 ms. :func:`fuse_for_cpu` rewrites a copy of the model so that every ``Conv2d`` (batch-norm
already folded into it, see :func:`jadis.segment.predictor.fold_batchnorm`) followed by its activation
becomes one call to ``torch.ops.mkldnn._convolution_pointwise`` on bf16 weights, and the rest of the
model runs in bf16. That operator is PyTorch-internal (it is what ``torch.compile`` emits on CPU), so
the rewrite is checked numerically against the fp32 model and abandoned, for the plain autocast path,
when the operator is missing or the outputs disagree.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

_ACTS: dict[type, tuple[str, list[float]]] = {nn.ReLU: ("relu", []), nn.ReLU6: ("hardtanh", [0.0, 6.0]),
                                               nn.SiLU: ("swish", [])}


def available() -> bool:
    """Whether this PyTorch build has the oneDNN fused convolution operator."""
    try:
        return hasattr(torch.ops.mkldnn, "_convolution_pointwise") and torch.backends.mkldnn.is_available()
    except (AttributeError, RuntimeError):
        return False


class FusedConv2d(nn.Module):
    """A bf16 convolution with its activation applied by oneDNN in the same pass."""

    def __init__(self, conv: nn.Conv2d, attr: str = "none", scalars: list[float] | None = None) -> None:
        super().__init__()
        self.same = type(conv).__name__ == "Conv2dSame"  # timm's dynamic 'same' padding
        w = conv.weight.detach().to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
        b = conv.bias.detach() if conv.bias is not None else torch.zeros(conv.out_channels)
        self.register_buffer("weight", w)
        self.register_buffer("bias", b.to(torch.bfloat16))
        self.kernel = tuple(conv.kernel_size)
        self.stride, self.dilation, self.groups = list(conv.stride), list(conv.dilation), conv.groups
        self.padding = [0, 0] if self.same else list(conv.padding)
        if isinstance(conv.padding, str) or conv.padding_mode != "zeros":
            raise ValueError("unsupported padding")
        self.attr, self.scalars = attr, list(scalars or [])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype != torch.bfloat16:
            x = x.to(torch.bfloat16)
        if self.same:
            from timm.layers.padding import pad_same

            x = pad_same(x, self.kernel, self.stride, self.dilation)
        x = x.contiguous(memory_format=torch.channels_last)
        return torch.ops.mkldnn._convolution_pointwise(x, self.weight, self.bias, self.padding, self.stride,
                                                       self.dilation, self.groups, self.attr, self.scalars, "")


def _activation(module: nn.Module) -> tuple[str, list[float]] | None:
    """The fusable activation a module applies, ("none", []) for an identity, None otherwise."""
    if isinstance(module, nn.Identity):
        return ("none", [])
    if type(module) in _ACTS:
        return _ACTS[type(module)]
    if isinstance(module, nn.Sequential):  # what batch-norm folding leaves: (drop, act) or ()
        acts = [m for m in module if not isinstance(m, nn.Identity)]
        if not acts:
            return ("none", [])
        if len(acts) == 1 and type(acts[0]) in _ACTS:
            return _ACTS[type(acts[0])]
    return None


def _rewrite(model: nn.Module) -> int:
    """Replace Conv2d (+ the activation module right after it) by FusedConv2d; return how many.

    The activation is the sibling module registered right after the convolution (a folded
    batch-norm with its activation, or a plain activation), or, when that sibling is an identity
    (a folded plain batch-norm, as in smp's Conv2dReLU), the one after it. Registration order is
    only a proxy for execution order: :func:`fuse_for_cpu` checks the result numerically.
    """
    count = 0
    for parent in list(model.modules()):
        names = list(parent._modules.keys())
        for i, name in enumerate(names):
            conv = parent._modules[name]
            if not isinstance(conv, nn.Conv2d):
                continue
            attr, scalars, used = "none", [], None
            nxt = _activation(parent._modules[names[i + 1]]) if i + 1 < len(names) else None
            if nxt is not None and nxt[0] != "none":
                (attr, scalars), used = nxt, names[i + 1]
            elif nxt is not None and i + 2 < len(names) and type(parent._modules[names[i + 2]]) in _ACTS:
                (attr, scalars), used = _ACTS[type(parent._modules[names[i + 2]])], names[i + 2]
            try:
                fused = FusedConv2d(conv, attr, scalars)
            except ValueError:
                continue
            parent._modules[name] = fused
            if used is not None:
                parent._modules[used] = nn.Identity()
            count += 1
    return count


def fuse_for_cpu(model: nn.Module, tolerance: float = 0.05) -> nn.Module | None:
    """A bf16, convolution+activation-fused copy of an eval-mode ``model`` (batch-norm already
    folded), or None when the operator is unavailable or the copy's logits drift from fp32 by more
    than ``tolerance`` × their range on a test input."""
    if not available():
        return None
    try:
        fused = copy.deepcopy(model).eval()
        if _rewrite(fused) == 0:
            return None
        fused = fused.to(torch.bfloat16)
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(1, 3, 128, 160, generator=gen)
        with torch.inference_mode():
            ref = model(x)
            out = fused(x.to(torch.bfloat16).contiguous(memory_format=torch.channels_last)).float()
        span = float(ref.abs().max()) or 1.0
        if out.shape != ref.shape or float((out - ref).abs().max()) > tolerance * span:
            return None
        return fused
    except Exception:  # noqa: BLE001 - any failure: use the plain autocast path
        return None
