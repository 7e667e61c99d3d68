"""Run the U-Net on batches of RGB tiles: normalisation, input scale, precision, device.

:class:`Predictor` turns uint8 tiles (N, H, W, 3) into float32 logits (N, C, H, W) at the tiles'
own resolution. It applies the checkpoint's ``arch.extra["input_scale"]`` (the network runs on a
resampled tile and its logits are upsampled back) and pads sizes to the multiple of 32 the U-Net
needs. Speed options (all measured in ``benchmarks/seg_speed.py``):

* ``precision="bf16"``: bfloat16 autocast. On CPUs with AMX/AVX-512-BF16 (checked at run time) this
  is 2-4x faster than fp32; its arg-max agrees with fp32 on > 99.9 % of pixels (benchmark).
* ``channels_last`` memory format (oneDNN's fast path on CPU).
* batch-norm folded into the convolutions (:func:`fold_batchnorm`), and on CPU in bf16 each
  convolution fused with its activation (:mod:`jadis.segment.fuse`), both checked numerically.
* ``torch.inference_mode``.

``naive=True`` switches every optimisation off (fp32, contiguous NCHW, no folding) for the baseline.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

# OpenMP threads that spin while waiting collapse throughput when the CPU is shared with other
# processes (measured 8x slower with 2 threads under load, see docs/segmentation.md); passive
# waiting costs nothing measurable on an idle machine. Only effective if torch is not loaded yet.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from jadis.errors import JadisError
from jadis.paths import checkpoints_dir
from jadis.segment.model import ModelArch, load_checkpoint
from jadis.segment.tiling import NET_MULTIPLE, round_up

#: The checkpoint ``jadis segment`` uses when none is given.
DEFAULT_CHECKPOINT_NAME = "jadis-unet-v1.pt"

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def default_checkpoint() -> Path:
    """``checkpoints/jadis-unet-v1.pt`` (or ``$JADIS_CHECKPOINTS/…``)."""
    return checkpoints_dir() / DEFAULT_CHECKPOINT_NAME


def resolve_device(device: str) -> torch.device:
    """``cpu``, ``cuda``, ``cuda:N``, ``mps`` or ``auto`` (the GPU when there is one)."""
    name = (device or "cpu").lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError as exc:
        raise JadisError(f"unknown device {device!r}; use cpu, cuda, cuda:N or auto") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise JadisError(f"device {device!r} requested but no CUDA GPU is available; use --device cpu")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise JadisError(f"device {device!r} requested but MPS is not available; use --device cpu")
    return dev


def cpu_supports_bf16() -> bool:
    """Whether oneDNN has a native bfloat16 path on this CPU (AVX-512-BF16 or AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_precision(precision: str, device: torch.device) -> str:
    """Pick the compute precision: ``auto`` is bf16 on a bf16-capable CPU or a GPU, else fp32."""
    precision = (precision or "auto").lower()
    if precision not in PRECISIONS:
        raise JadisError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        if device.type == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return "bf16" if device.type == "cpu" and cpu_supports_bf16() else "fp32"
    if precision == "fp16" and device.type == "cpu":
        raise JadisError("fp16 is only supported on a GPU; use --precision bf16 or fp32 on CPU")
    return precision


@dataclass
class Predictor:
    """A loaded network ready to turn uint8 RGB tiles into logits."""

    model: nn.Module
    arch: ModelArch
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    precision: str = "fp32"
    channels_last: bool = False
    meta: dict = field(default_factory=dict)
    fused: bool = False  #: model rewritten by :func:`jadis.segment.fuse.fuse_for_cpu` (runs in bf16)
    tta: int = 1  #: test-time augmentation: 1 (none), 2 (+ mirror), 4 (+ flips), 8 (+ transposes)

    @property
    def num_classes(self) -> int:
        return int(self.arch.num_classes)

    @property
    def input_scale(self) -> float:
        scale = float(self.arch.extra.get("input_scale", 1.0) or 1.0)
        if not 0.05 <= scale <= 4.0:
            raise JadisError(f"checkpoint has an unusable input_scale {scale}")
        return scale

    def tile_multiple(self) -> int:
        """Tile sizes that are a multiple of this need no padding or rounding at this input scale."""
        return max(1, round(NET_MULTIPLE / self.input_scale))

    def logits(self, tiles: np.ndarray) -> np.ndarray:
        """Logits (N, C, H, W) float32 for uint8 tiles (N, H, W, 3) — all the same size."""
        return self.logits_tensor(tiles).numpy()

    @torch.inference_mode()
    def logits_tensor(self, tiles: np.ndarray) -> torch.Tensor:
        """Like :meth:`logits`, as a float32 CPU tensor."""
        if tiles.ndim != 4 or tiles.shape[-1] != 3:
            raise ValueError(f"expected (N, H, W, 3) tiles, got {tiles.shape}")
        n, h, w, _ = tiles.shape
        if n == 0:
            return torch.zeros((0, self.num_classes, h, w))
        ph, pw = self._padded_size(h, w)
        if (ph, pw) != (h, w):  # keep the scale exact: pad (mirror) rather than stretch, crop after
            mode = "reflect" if ph - h < h and pw - w < w else "symmetric"
            padded = np.pad(tiles, ((0, 0), (0, ph - h), (0, pw - w), (0, 0)), mode=mode)
            return self.logits_tensor(padded)[:, :, :h, :w]
        mean = torch.tensor(self.arch.mean, device=self.device).view(1, 3, 1, 1) * 255.0
        std = torch.tensor(self.arch.std, device=self.device).view(1, 3, 1, 1) * 255.0
        scale = self.input_scale
        if self.channels_last and self.device.type == "cpu" and scale == 0.5 and h % 64 == 0 and w % 64 == 0:
            # The common case (shipped model, default tiles) on CPU: the same antialiased 2x
            # reduction as F.interpolate below, on the uint8 tiles with OpenCV (2.4x cheaper).
            x = torch.from_numpy(half_downscale(tiles)).permute(0, 3, 1, 2)  # a channels-last view
            x = (x - mean) / std
        else:
            x = torch.from_numpy(np.ascontiguousarray(tiles)).to(self.device)
            x = (x.permute(0, 3, 1, 2).float() - mean) / std
            x = self._resize_input(x, h, w, scale)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        y = self._forward(x) if self.tta <= 1 else self._forward_tta(x)
        if scale != 1.0:
            y = F.interpolate(y, size=(h, w), mode="bilinear", align_corners=False)
        else:
            y = y[:, :, :h, :w]
        return y.float().cpu()

    def _padded_size(self, h: int, w: int) -> tuple[int, int]:
        """The size a tile is padded to so that the network sees it at exactly ``input_scale``
        (unchanged when no such size exists for this scale: then the tile is resampled)."""
        scale = self.input_scale
        if scale == 1.0:
            return h, w  # padded to a multiple of 32 after normalisation (_resize_input)
        m = self.tile_multiple()
        if abs(m * scale - round(m * scale)) > 1e-9 or round(m * scale) % NET_MULTIPLE:
            return h, w
        return round_up(h, m), round_up(w, m)

    @staticmethod
    def _resize_input(x: torch.Tensor, h: int, w: int, scale: float) -> torch.Tensor:
        """Resample (scale ≠ 1) or pad (scale 1) a normalised batch to sizes the U-Net accepts."""
        if scale != 1.0:
            sh, sw = round_up(max(1, round(h * scale)), NET_MULTIPLE), round_up(max(1, round(w * scale)), NET_MULTIPLE)
            return F.interpolate(x, size=(sh, sw), mode="bilinear", align_corners=False, antialias=scale < 1)
        ph, pw = round_up(h, NET_MULTIPLE) - h, round_up(w, NET_MULTIPLE) - w
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="reflect" if ph < h and pw < w else "replicate")
        return x

    def _forward_tta(self, x: torch.Tensor) -> torch.Tensor:
        """Mean logits over mirrored / flipped / transposed copies of the batch (dihedral group)."""
        views: list[tuple[bool, tuple[int, ...]]] = [(False, ())]
        if self.tta >= 2:
            views.append((False, (3,)))
        if self.tta >= 4:
            views += [(False, (2,)), (False, (2, 3))]
        if self.tta >= 8 and x.shape[-1] == x.shape[-2]:
            views += [(True, ()), (True, (3,)), (True, (2,)), (True, (2, 3))]
        total = None
        for transpose, dims in views:
            v = x.transpose(-1, -2) if transpose else x
            v = torch.flip(v, dims) if dims else v
            if self.channels_last:
                v = v.contiguous(memory_format=torch.channels_last)
            y = self._forward(v)
            y = torch.flip(y, dims) if dims else y
            y = y.transpose(-1, -2) if transpose else y
            total = y if total is None else total + y
        return total / len(views)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fused:
            return self.model(x.to(torch.bfloat16)).float()
        if self.precision == "fp32":
            return self.model(x)
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        with torch.autocast(self.device.type, dtype=dtype):
            return self.model(x).float()


_HALF_TAPS = np.array([1, 3, 3, 1], np.float32) / 8


def half_downscale(tiles: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) uint8 -> (N, H/2, W/2, 3) float32, equal to ``F.interpolate(scale 0.5, bilinear,
    antialias=True, align_corners=False)``: taps (1, 3, 3, 1)/8 on input pixels 2i-1 … 2i+2, the
    weights renormalised where a tap falls outside the image (first and last rows / columns)."""
    import cv2

    n, h, w, _ = tiles.shape
    out = np.empty((n, h // 2, w // 2, 3), np.float32)
    for k in range(n):
        f = cv2.sepFilter2D(tiles[k].astype(np.float32), -1, _HALF_TAPS, _HALF_TAPS, anchor=(1, 1),
                            borderType=cv2.BORDER_CONSTANT)
        out[k] = f[::2, ::2]
    out[:, 0] *= 8 / 7
    out[:, -1] *= 8 / 7
    out[:, :, 0] *= 8 / 7
    out[:, :, -1] *= 8 / 7
    return out


#: Test-time augmentation of ``jadis segment`` by default: the tile and its mirror image. On the
#: validation region it lifts block PQ 0.639 -> 0.669 and street IoU 0.771 -> 0.790; the mirror rides
#: in the same batch, so an 80 MP sheet takes 29.9 s instead of 24.9 s (2.68 MP/s); benchmarks/RESULTS.md.
DEFAULT_TTA = 2


def load_predictor(checkpoint: str | os.PathLike[str] | None = None, *, device: str = "cpu",
                   precision: str = "auto", naive: bool = False, tta: int | None = None) -> Predictor:
    """Load a checkpoint (default :func:`default_checkpoint`) as a :class:`Predictor`.

    ``naive=True`` is the unoptimised baseline: fp32, NCHW, whatever ``precision`` says.
    ``tta`` averages the logits over 1, 2, 4 or 8 flipped copies of each tile (that many times slower;
    default :data:`DEFAULT_TTA`, or 1 for the naive baseline).
    """
    if tta is None:
        tta = 1 if naive else DEFAULT_TTA
    if tta not in (1, 2, 4, 8):
        raise JadisError(f"test-time augmentation must be 1, 2, 4 or 8 views, got {tta}")
    path = Path(checkpoint) if checkpoint else default_checkpoint()
    if not path.is_file():
        hint = " (the shipped model is checkpoints/jadis-unet-v1.pt; pass --checkpoint FILE)" if not checkpoint else ""
        raise JadisError(f"{path}: checkpoint not found{hint}")
    dev = resolve_device(device)
    model, arch, meta = load_checkpoint(path, device=dev)
    meta = {**meta, "checkpoint": path.name}
    predictor = predictor_from_model(model, arch, device=dev, precision="fp32" if naive else precision,
                                     channels_last=not naive, meta=meta)
    predictor.tta = tta
    return predictor


def predictor_from_model(model: nn.Module, arch: ModelArch, *, device: str | torch.device = "cpu",
                         precision: str = "auto", channels_last: bool = True, fold_bn: bool | None = None,
                         fuse: bool = True, meta: dict | None = None) -> Predictor:
    """Wrap an in-memory model (e.g. during training or in tests) as a :class:`Predictor`.

    ``fold_bn`` (default: with ``channels_last``) folds batch-norm layers into the convolutions
    before them, on a copy of the model; ``fuse`` (bf16 on CPU with ``channels_last`` only) fuses
    convolutions with their activations; ``channels_last=False, fold_bn=False`` is the naive baseline.
    """
    dev = device if isinstance(device, torch.device) else resolve_device(device)
    prec = resolve_precision(precision, dev)
    model = model.to(dev).eval()
    if channels_last if fold_bn is None else fold_bn:
        model = folded_copy(model)
    fused = None
    if fuse and channels_last and prec == "bf16" and dev.type == "cpu":
        from jadis.segment.fuse import fuse_for_cpu

        fused = fuse_for_cpu(model)
    if fused is not None:
        model = fused
    elif channels_last:
        model = model.to(memory_format=torch.channels_last)
    return Predictor(model=model, arch=arch, device=dev, precision=prec, channels_last=channels_last,
                     meta=dict(meta or {}), fused=fused is not None)


# ---------------------------------------------------------------------------------------------
# Batch-norm folding


def fold_batchnorm(model: nn.Module) -> int:
    """Fold every eval-mode BatchNorm2d that directly follows a Conv2d (next sibling module) into
    that convolution's weights and bias, in place; return how many were folded.

    The BatchNorm is replaced by what it still has to do: nothing (``nn.Identity``), or for timm's
    ``BatchNormAct2d`` its dropout and activation. Call :func:`folded_copy` instead: it checks the
    result numerically, since "next sibling" is only a proxy for "applied to its output".
    """
    folded = 0
    for parent in list(model.modules()):
        names = list(parent._modules.keys())
        for a, b in zip(names, names[1:], strict=False):
            conv, bn = parent._modules[a], parent._modules[b]
            if not (isinstance(conv, nn.Conv2d) and type(bn).__name__ in ("BatchNorm2d", "BatchNormAct2d")
                    and isinstance(bn, nn.BatchNorm2d) and bn.num_features == conv.out_channels
                    and bn.running_mean is not None and bn.running_var is not None):
                continue
            with torch.no_grad():
                scale = (bn.weight if bn.affine else torch.ones_like(bn.running_var)) / torch.sqrt(bn.running_var + bn.eps)
                shift = (bn.bias if bn.affine else torch.zeros_like(bn.running_mean)) - bn.running_mean * scale
                conv.weight.mul_(scale.view(-1, 1, 1, 1).to(conv.weight.dtype))
                bias = conv.bias if conv.bias is not None else torch.zeros_like(shift)
                conv.bias = nn.Parameter(bias * scale + shift)
            rest = [m for m in (getattr(bn, "drop", None), getattr(bn, "act", None)) if m is not None]
            parent._modules[b] = nn.Sequential(*rest) if rest else nn.Identity()
            folded += 1
    return folded


def folded_copy(model: nn.Module, tolerance: float = 1e-3) -> nn.Module:
    """A copy of ``model`` with batch-norm folded, if its output matches the original on a test
    input (fp32, max abs difference relative to the output range); else ``model`` itself."""
    import copy

    try:
        candidate = copy.deepcopy(model).eval()
        if fold_batchnorm(candidate) == 0:
            return model
        device = next(model.parameters()).device
        gen = torch.Generator(device="cpu").manual_seed(0)
        x = torch.randn(1, 3, 96, 96, generator=gen).to(device)
        with torch.inference_mode():
            ref, out = model(x), candidate(x)
        span = float(ref.abs().max()) or 1.0
        if float((ref - out).abs().max()) <= tolerance * max(1.0, span):
            return candidate
    except Exception:  # noqa: BLE001 - an exotic architecture: keep the model as it is
        pass
    return model
