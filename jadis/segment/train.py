"""Train the segmentation U-Net on real and synthetic (image, mask) pairs.

The loop is data-agnostic: it draws each batch from weighted :class:`Source` objects — in-memory
arrays (:class:`ArraySource`: the real Atlas municipal crop, or pairs a user corrected in a project)
and folders written by ``jadis synth`` (:class:`FolderSource`). :func:`train` runs epochs, scores the
model after each one on the real validation region and on a synthetic validation set, writes
``metrics.jsonl`` / ``metrics.csv``, a resumable ``state.pt`` and the best and last checkpoints
(``best.pt``, ``last.pt`` in the :mod:`jadis.segment.model` format).

Real masks carry no text (class 3) annotation: labels printed on a street are marked street. For such
*partial* samples the loss is the cross-entropy of the three other classes renormalised among themselves:
the real data teaches street / block / other and leaves the text logit alone (an earlier version accepted
"annotated class or text", and the network learnt to answer text on 60 % of real pixels); synthetic
tiles, exact for every class, teach text.
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from jadis.classes import NUM_CLASSES, MapClass
from jadis.errors import JadisError
from jadis.io.atomic import atomic_path, atomic_write_text
from jadis.segment.model import ModelArch, build_model, save_checkpoint

IGNORE = 255  #: mask value excluded from the loss


# --------------------------------------------------------------------------------------- config

@dataclass
class TrainConfig:
    """A training run. Every field can be set in the YAML config file (see ``configs/``)."""

    seed: int = 0
    arch: dict = field(default_factory=lambda: {"decoder_channels": [128, 64, 32, 16, 8],
                                                "extra": {"input_scale": 0.5}})
    imagenet: bool = True  #: start from ImageNet encoder weights
    init_checkpoint: str | None = None  #: or from a jadis checkpoint (fine-tuning)
    epochs: int = 20
    steps_per_epoch: int = 150
    batch_size: int = 8
    crop: int = 512  #: training crop, full-resolution pixels
    zoom: tuple[float, float] = (0.7, 1.4)  #: random rescaling of the map before cropping
    lr: float = 2e-3
    min_lr: float = 5e-5
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    class_weights: tuple[float, ...] = (1.0, 1.0, 1.0, 2.0)
    boundary_weight: float = 2.0  #: extra weight of pixels within 2 px of another class
    #: extra weight of the pixels of narrow streets (street pixels an opening by a
    #: ``thin_street_width`` px square removes): a narrow street missed merges two blocks (block PQ)
    thin_street_weight: float = 1.0
    thin_street_width: int = 11
    real: bool = True  #: use the real Atlas municipal crop (training part) and validate on its region
    real_root: str | None = None  #: folder of the crop (default: ../shared/data/segmentation/…)
    real_weight: float = 0.5  #: share of real crops in the batches
    synth_dir: str | None = None  #: folder written by `jadis synth` (training tiles)
    synth_val_dir: str | None = None  #: folder of synthetic validation tiles
    synth_val_n: int = 48
    val_context: int = 256  #: px of context left of the validation region given to the model
    threads: int = 2
    device: str = "cpu"
    augment: bool = True

    @property
    def model_arch(self) -> ModelArch:
        raw = dict(self.arch)
        if "decoder_channels" in raw:
            raw["decoder_channels"] = tuple(raw["decoder_channels"])
        known = {f.name for f in fields(ModelArch)}
        unknown = set(raw) - known
        if unknown:
            raise JadisError(f"unknown arch keys in config: {', '.join(sorted(unknown))}")
        return ModelArch(**raw)


def load_config(path: str | os.PathLike[str], **overrides: Any) -> TrainConfig:
    """Read a YAML training config; ``overrides`` (not None) replace its values."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise JadisError(f"{path}: config file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise JadisError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from exc
    if not isinstance(raw, dict):
        raise JadisError(f"{path}: a training config must be a mapping of keys to values")
    raw.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in fields(TrainConfig)}
    unknown = set(raw) - known
    if unknown:
        raise JadisError(f"{path}: unknown config keys: {', '.join(sorted(unknown))}")
    for key in ("zoom", "class_weights"):
        if key in raw:
            raw[key] = tuple(raw[key])
    base = path.parent
    for key in ("synth_dir", "synth_val_dir", "real_root", "init_checkpoint"):
        value = raw.get(key)
        if value and not Path(value).is_absolute() and not Path(value).exists() and (base / value).exists():
            raw[key] = str(base / value)
    cfg = TrainConfig(**raw)
    if len(cfg.class_weights) != NUM_CLASSES:
        raise JadisError(f"class_weights needs {NUM_CLASSES} values")
    if cfg.crop % 32 or cfg.crop < 64:
        raise JadisError("crop must be a multiple of 32, at least 64")
    if cfg.thin_street_width < 3 or cfg.thin_street_width % 2 == 0:
        raise JadisError("thin_street_width must be an odd number of pixels, at least 3")
    if cfg.batch_size < 2:
        raise JadisError("batch_size must be at least 2 (the network uses batch normalisation)")
    cfg.model_arch  # noqa: B018 - validates the arch block
    return cfg


# --------------------------------------------------------------------------------------- data

class Source:
    """Where training crops come from. ``partial``: masks without text annotation (see module doc)."""

    partial: bool = False
    name: str = "source"

    def sample(self, rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
        """A (size, size, 3) uint8 image crop and its (size, size) uint8 mask."""
        raise NotImplementedError


class ArraySource(Source):
    """Random crops of in-memory (image, mask) pairs.

    Each pair is an (H, W, 3) uint8 image and an (H, W) uint8 class mask (255 = ignore). Optional
    per-pair masks: ``allowed`` (H, W) bool — labels outside it are ignored and a crop needs at least
    ``min_allowed`` of its pixels allowed; ``forbidden`` (H, W) bool — no crop ever overlaps it (the
    validation region: training never sees its pixels, not even as input).
    """

    def __init__(self, pairs: Sequence[tuple[np.ndarray, np.ndarray]], allowed: Sequence[np.ndarray | None] | None = None,
                 forbidden: Sequence[np.ndarray | None] | None = None, *, partial: bool = False,
                 name: str = "arrays", min_allowed: float = 0.5) -> None:
        if not pairs:
            raise JadisError("no training pairs given")
        self.partial = partial
        self.name = name
        self.min_allowed = min_allowed
        allowed = list(allowed) if allowed is not None else [None] * len(pairs)
        forbidden = list(forbidden) if forbidden is not None else [None] * len(pairs)
        self.pairs = []
        for (img, mask), ok, bad in zip(pairs, allowed, forbidden, strict=True):
            if img.ndim != 3 or img.shape[2] != 3 or mask.shape != img.shape[:2]:
                raise JadisError(f"bad training pair: image {img.shape}, mask {mask.shape}")
            ok_sum = None if ok is None else _integral(ok)
            bad_sum = None if bad is None else _integral(bad)
            self.pairs.append((img, mask, ok, ok_sum, bad_sum))

    def sample(self, rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
        img, mask, ok, ok_sum, bad_sum = self.pairs[int(rng.integers(len(self.pairs)))]
        h, w = mask.shape
        for _ in range(50):
            y0 = int(rng.integers(0, max(1, h - size + 1)))
            x0 = int(rng.integers(0, max(1, w - size + 1)))
            y1, x1 = min(h, y0 + size), min(w, x0 + size)
            if bad_sum is not None and _window_sum(bad_sum, x0, y0, x1, y1) > 0:
                continue
            if ok_sum is None or _window_sum(ok_sum, x0, y0, x1, y1) >= self.min_allowed * size * size:
                break
        else:
            raise JadisError(f"{self.name}: found no {size}px crop inside the allowed area")
        crop_img = _pad_to(img[y0:y1, x0:x1], size, 0)
        crop_mask = _pad_to(mask[y0:y1, x0:x1], size, IGNORE)
        if ok is not None:
            crop_ok = _pad_to(ok[y0:y1, x0:x1].astype(np.uint8), size, 0).astype(bool)
            crop_mask = np.where(crop_ok, crop_mask, IGNORE).astype(np.uint8)
        return crop_img, crop_mask


def _integral(mask: np.ndarray) -> np.ndarray:
    return cv2.integral(mask.astype(np.uint8))


def _window_sum(integral: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> int:
    return int(integral[y1, x1] - integral[y0, x1] - integral[y1, x0] + integral[y0, x0])


def _pad_to(arr: np.ndarray, size: int, value: int) -> np.ndarray:
    h, w = arr.shape[:2]
    if h == size and w == size:
        return np.ascontiguousarray(arr)
    pad = ((0, size - h), (0, size - w)) + ((0, 0),) * (arr.ndim - 2)
    return np.pad(arr, pad, constant_values=value)


class FolderSource(Source):
    """Tiles written by ``jadis synth`` (``manifest.jsonl``, ``images/``, ``masks/``)."""

    def __init__(self, folder: str | os.PathLike[str], limit: int | None = None, name: str = "synthetic") -> None:
        self.folder = Path(folder)
        manifest = self.folder / "manifest.jsonl"
        if not manifest.is_file():
            raise JadisError(f"{self.folder}: no manifest.jsonl (make the tiles with `jadis synth --out {self.folder}`)")
        rows = [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines() if line.strip()]
        if limit:
            rows = rows[:limit]
        if not rows:
            raise JadisError(f"{self.folder}: the manifest lists no tiles")
        self.rows = rows
        self.name = name

    def __len__(self) -> int:
        return len(self.rows)

    def load(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        from PIL import Image

        row = self.rows[i]
        img = np.asarray(Image.open(self.folder / row["image"]).convert("RGB"))
        mask = np.asarray(Image.open(self.folder / row["mask"]))
        return img, mask

    def sample(self, rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
        img, mask = self.load(int(rng.integers(len(self.rows))))
        h, w = mask.shape
        size = min(size, h, w)  # tiles smaller than the crop are zoomed in by augment(), not padded
        y0 = int(rng.integers(0, max(1, h - size + 1)))
        x0 = int(rng.integers(0, max(1, w - size + 1)))
        return _pad_to(img[y0:y0 + size, x0:x0 + size], size, 0), _pad_to(mask[y0:y0 + size, x0:x0 + size], size, IGNORE)


def augment(rng: np.random.Generator, img: np.ndarray, mask: np.ndarray, size: int,
            zoom: tuple[float, float] = (1.0, 1.0), strong: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Random zoom, 90° rotations and flips, colour / contrast / gamma jitter, blur, noise, JPEG.

    ``img``/``mask`` are a crop of ``size / zoom`` pixels (see :func:`draw`); the result is ``size``².
    """
    h, w = mask.shape
    if (h, w) != (size, size):
        img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA if h > size else cv2.INTER_LINEAR)
        mask = cv2.resize(mask, (size, size), interpolation=cv2.INTER_NEAREST)
    k = int(rng.integers(4))
    img, mask = np.rot90(img, k), np.rot90(mask, k)
    if rng.random() < 0.5:
        img, mask = img[:, ::-1], mask[:, ::-1]
    img = np.ascontiguousarray(img)
    mask = np.ascontiguousarray(mask)
    if not strong:
        return img, mask
    x = img.astype(np.float32)
    if rng.random() < 0.8:  # brightness / contrast / per-channel colour cast
        mean = x.mean(axis=(0, 1), keepdims=True)
        x = (x - mean) * rng.uniform(0.6, 1.4) + mean * rng.uniform(0.8, 1.15)
        x *= rng.uniform(0.9, 1.1, 3).astype(np.float32)
    if rng.random() < 0.3:  # saturation
        grey = x.mean(axis=2, keepdims=True)
        x = grey + (x - grey) * rng.uniform(0.0, 1.6)
    if rng.random() < 0.2:  # greyscale scan
        x = np.repeat(x.mean(axis=2, keepdims=True), 3, axis=2)
    x = np.clip(x, 0, 255)
    if rng.random() < 0.3:  # gamma
        x = 255.0 * (x / 255.0) ** rng.uniform(0.7, 1.4)
    if rng.random() < 0.3:
        x = cv2.GaussianBlur(x, (0, 0), rng.uniform(0.3, 1.3))
    if rng.random() < 0.3:
        x = x + rng.normal(0, rng.uniform(1, 8), x.shape).astype(np.float32)
    out = np.clip(x, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.uniform(30, 90))])
        if ok:
            out = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    return out, mask


def draw(rng: np.random.Generator, source: Source, size: int, zoom: tuple[float, float],
         strong: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """One augmented training crop of ``size``² from ``source``."""
    z = float(np.exp(rng.uniform(np.log(zoom[0]), np.log(zoom[1]))))
    raw = max(32, int(round(size / z)))
    img, mask = source.sample(rng, raw)
    return augment(rng, img, mask, size, strong=strong)


# --------------------------------------------------------------------------------------- model i/o

def to_input(images: np.ndarray, arch: ModelArch, device: torch.device) -> torch.Tensor:
    """uint8 (N, H, W, 3) → normalised float tensor at the network's input scale (as in inference)."""
    x = torch.from_numpy(np.ascontiguousarray(images)).to(device).permute(0, 3, 1, 2).float()
    mean = torch.tensor(arch.mean, device=device).view(1, 3, 1, 1) * 255.0
    std = torch.tensor(arch.std, device=device).view(1, 3, 1, 1) * 255.0
    x = (x - mean) / std
    scale = float(arch.extra.get("input_scale", 1.0) or 1.0)
    if scale != 1.0:
        h, w = x.shape[-2:]
        size = (_round32(h * scale), _round32(w * scale))
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=scale < 1)
    return x


def _round32(v: float) -> int:
    return max(32, int(math.ceil(round(v) / 32) * 32))


def logits_full(model: torch.nn.Module, images: np.ndarray, arch: ModelArch, device: torch.device) -> torch.Tensor:
    """Logits at the images' own resolution (upsampled from the network's input scale)."""
    h, w = images.shape[1:3]
    y = model(to_input(images, arch, device))
    if y.shape[-2:] != (h, w):
        y = F.interpolate(y, size=(h, w), mode="bilinear", align_corners=False)
    return y


def loss_fn(logits: torch.Tensor, target: torch.Tensor, partial: torch.Tensor, class_weights: torch.Tensor,
            boundary_weight: float = 1.0, thin_street_weight: float = 1.0,
            thin_street_width: int = 11) -> torch.Tensor:
    """Weighted cross-entropy. On ``partial`` samples (no text annotation) the loss is the cross-entropy
    of the other classes among themselves: it says nothing about the text logit, so it neither teaches
    the network to erase labels nor lets it answer "text" everywhere to dodge the street/block choice."""
    logp = F.log_softmax(logits, dim=1)
    valid = target != IGNORE
    t = torch.where(valid, target, torch.zeros_like(target)).long()
    lp_target = logp.gather(1, t[:, None])[:, 0]
    if partial.any():
        # the other classes compete among themselves; the text logit is left alone
        no_text = torch.cat([logits[:, :MapClass.TEXT], logits[:, MapClass.TEXT + 1:]], dim=1)
        lp_cond = logits.gather(1, t[:, None])[:, 0] - torch.logsumexp(no_text, dim=1)
        lp_target = torch.where(partial[:, None, None] & (t != MapClass.TEXT), lp_cond, lp_target)
    w = class_weights[t]
    if boundary_weight != 1.0:
        tf = torch.where(valid, target, torch.full_like(target, NUM_CLASSES)).float()[:, None]
        hi = F.max_pool2d(tf, 5, 1, 2)
        lo = -F.max_pool2d(-tf, 5, 1, 2)
        w = w * torch.where((hi != lo)[:, 0], boundary_weight, 1.0)
    if thin_street_weight != 1.0:
        w = w * torch.where(thin_streets(target, thin_street_width), thin_street_weight, 1.0)
    w = w * valid
    return -(lp_target * w).sum() / w.sum().clamp_min(1.0)


def thin_streets(target: torch.Tensor, width: int) -> torch.Tensor:
    """Street pixels of ``target`` (N, H, W) in streets narrower than ``width`` px: those that a
    morphological opening by a ``width`` × ``width`` square removes."""
    street = (target == MapClass.STREET).float()[:, None]
    pad = width // 2
    eroded = -F.max_pool2d(-F.pad(street, (pad, pad, pad, pad), value=1.0), width, 1)
    opened = F.max_pool2d(F.pad(eroded, (pad, pad, pad, pad), value=0.0), width, 1)
    return (street > opened)[:, 0]


# --------------------------------------------------------------------------------------- evaluation

def predict_classes(model: torch.nn.Module, image: np.ndarray, arch: ModelArch, device: torch.device,
                    tile: int = 1024, overlap: int = 128) -> np.ndarray:
    """Class ids for a whole (H, W, 3) image, by overlapping tiles (for validation during training)."""
    from jadis.segment.tiling import tile_starts

    h, w = image.shape[:2]
    acc = np.zeros((NUM_CLASSES, h, w), np.float32)
    th, tw = min(tile, _round_up(h, 32)), min(tile, _round_up(w, 32))
    overlap = min(overlap, min(th, tw) // 4)
    padded = np.pad(image, ((0, max(0, th - h)), (0, max(0, tw - w)), (0, 0)), mode="edge")
    ph, pw = padded.shape[:2]
    model.eval()
    with torch.inference_mode():
        for y0 in tile_starts(ph, th, th - overlap):
            for x0 in tile_starts(pw, tw, tw - overlap):
                crop = padded[y0:y0 + th, x0:x0 + tw][None]
                prob = torch.softmax(logits_full(model, crop, arch, device), 1)[0].cpu().numpy()
                yy, xx = slice(y0, min(h, y0 + th)), slice(x0, min(w, x0 + tw))
                acc[:, yy, xx] += prob[:, : yy.stop - yy.start, : xx.stop - xx.start]
    return acc.argmax(0).astype(np.uint8)


def _round_up(v: int, m: int) -> int:
    return ((v + m - 1) // m) * m


@dataclass
class RealValidation:
    """The real validation region: image with context, its derived classes and the scored pixels."""

    image: np.ndarray
    classes: np.ndarray
    valid: np.ndarray
    content: np.ndarray

    @classmethod
    def from_dev_crop(cls, root: str | None = None, context: int = 256) -> RealValidation:
        from jadis.segment.datasets import VAL_REGION, load_dev_crop

        crop = load_dev_crop(root)
        x0, y0, x1, y1 = VAL_REGION
        ys = slice(max(0, y0), min(crop.classes.shape[0], y1))
        xs = slice(max(0, x0 - context), x1)
        return cls(image=crop.image[ys, xs], classes=crop.classes[ys, xs], valid=crop.val_mask()[ys, xs],
                   content=crop.content[ys, xs])


def evaluate_real(model: torch.nn.Module, val: RealValidation, arch: ModelArch, device: torch.device) -> dict:
    from jadis.segment.evaluation import block_pq, class_iou
    from jadis.segment.postprocess import clean_classes
    from jadis.vectorize.cleanup import absorb_text

    pred = predict_classes(model, val.image, arch, device)
    raw_pq = block_pq(val.classes, pred, val.valid)
    # scored as users get it: the class raster after the speck clean-up `jadis segment` applies
    # (the blocks layer, with text absorbed, is scored by benchmarks/seg_accuracy.py)
    pred = clean_classes(pred)
    pq = block_pq(val.classes, pred, val.valid)
    # the real masks cannot say "text": as in benchmarks/seg_accuracy.py, predicted text pixels take the
    # class around them for the street / block IoU (the raw IoUs are kept too)
    resolved = absorb_text(pred)
    return {"real_block_pq": pq.pq, "real_block_sq": pq.sq, "real_block_rq": pq.rq, "real_block_pq_raw": raw_pq.pq,
            "real_street_iou": class_iou(val.classes, resolved, MapClass.STREET, val.valid),
            "real_block_iou": class_iou(val.classes, resolved, MapClass.BLOCK, val.valid),
            "real_street_iou_raw": class_iou(val.classes, pred, MapClass.STREET, val.valid),
            "real_text_px": float(np.mean(pred[val.valid] == MapClass.TEXT))}


def evaluate_synth(model: torch.nn.Module, source: FolderSource, n: int, arch: ModelArch,
                   device: torch.device) -> dict:
    inter = np.zeros(NUM_CLASSES)
    union = np.zeros(NUM_CLASSES)
    model.eval()
    with torch.inference_mode():
        for i in range(min(n, len(source))):
            img, mask = source.load(i)
            h, w = mask.shape
            ph, pw = _round_up(h, 32), _round_up(w, 32)
            padded = np.pad(img, ((0, ph - h), (0, pw - w), (0, 0)), mode="edge")
            pred = logits_full(model, padded[None], arch, device)[0].argmax(0).cpu().numpy()[:h, :w]
            for c in range(NUM_CLASSES):
                t, p = mask == c, pred == c
                inter[c] += np.count_nonzero(t & p)
                union[c] += np.count_nonzero(t | p)
    iou = np.where(union > 0, inter / np.maximum(union, 1), np.nan)
    return {f"synth_{name}_iou": float(iou[c]) for c, name in
            ((MapClass.OTHER, "other"), (MapClass.STREET, "street"), (MapClass.BLOCK, "block"), (MapClass.TEXT, "text"))}


def selection_score(metrics: dict) -> float:
    """What "best" means: the real targets first (block PQ, street IoU), synthetic text IoU as well."""
    parts = [metrics.get("real_block_pq"), metrics.get("real_street_iou"), metrics.get("synth_text_iou")]
    weights = [1.0, 1.0, 0.5]
    vals = [(v, wt) for v, wt in zip(parts, weights, strict=True) if v is not None and not math.isnan(v)]
    if not vals:
        return -float(metrics.get("train_loss", 0.0))
    return sum(v * wt for v, wt in vals) / sum(wt for _, wt in vals)


# --------------------------------------------------------------------------------------- training

def default_sources(cfg: TrainConfig) -> list[tuple[Source, float]]:
    """The sources a config names: the real crop's training part and/or a synthetic folder."""
    sources: list[tuple[Source, float]] = []
    if cfg.real:
        from jadis.segment.datasets import VAL_GAP, VAL_REGION, load_dev_crop, region_mask

        crop = load_dev_crop(cfg.real_root)
        # labels: the map content and a band of margin around it (the margin is "other");
        # never any pixel of the validation region or of the gap around it
        near = cv2.dilate(crop.content.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=64).astype(bool)
        forbidden = region_mask(crop.content.shape, VAL_REGION, grow=VAL_GAP)
        sources.append((ArraySource([(crop.image, crop.classes)], [near], [forbidden], partial=True,
                                    name="real"), cfg.real_weight))
    if cfg.synth_dir:
        sources.append((FolderSource(cfg.synth_dir), 1.0 - cfg.real_weight if sources else 1.0))
    if not sources:
        raise JadisError("the config uses no training data: set real: true and/or synth_dir")
    return sources


def _lr(cfg: TrainConfig, step: int, total: int) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    t = (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps)
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * min(1.0, t)))


def train(cfg: TrainConfig, out: str | os.PathLike[str], *, resume: bool = False,
          sources: list[tuple[Source, float]] | None = None, real_val: RealValidation | None = None,
          log=print) -> dict:  # any callable taking a string
    """Run (or resume) a training; return the best epoch's metrics. See the module docstring."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(max(1, cfg.threads))
    device = torch.device(cfg.device)
    arch = cfg.model_arch
    state_path = out / "state.pt"
    if resume and not state_path.is_file():
        raise JadisError(f"{state_path}: nothing to resume (run without --resume first)")
    if not resume and (out / "metrics.jsonl").exists():
        raise JadisError(f"{out} already holds a run; use --resume to continue it or choose another --out")

    torch.manual_seed(cfg.seed)
    if cfg.init_checkpoint:
        from jadis.segment.model import load_checkpoint

        model, arch, _ = load_checkpoint(cfg.init_checkpoint)
    else:
        model = build_model(arch, imagenet=cfg.imagenet)
    model.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    start_epoch, best_score, best_metrics = 0, -float("inf"), {}
    if resume:
        state = torch.load(state_path, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        start_epoch, best_score, best_metrics = state["epoch"], state["best_score"], state["best_metrics"]
        log(f"resuming {out} after epoch {start_epoch}")
    atomic_write_text(out / "config.json", json.dumps(asdict(cfg), indent=2, default=list))

    sources = sources if sources is not None else default_sources(cfg)
    weights = np.array([w for _, w in sources], float)
    weights = weights / weights.sum()
    if real_val is None and cfg.real:
        real_val = RealValidation.from_dev_crop(cfg.real_root, cfg.val_context)
    synth_val = FolderSource(cfg.synth_val_dir, limit=cfg.synth_val_n, name="synthetic-val") if cfg.synth_val_dir else None
    class_w = torch.tensor(cfg.class_weights, dtype=torch.float32, device=device)
    total_steps = cfg.epochs * cfg.steps_per_epoch

    for epoch in range(start_epoch, cfg.epochs):
        rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, epoch]))
        torch.manual_seed(cfg.seed * 1000 + epoch)
        model.train()
        t0 = time.time()
        losses = []
        for step in range(cfg.steps_per_epoch):
            gstep = epoch * cfg.steps_per_epoch + step
            for group in opt.param_groups:
                group["lr"] = _lr(cfg, gstep, total_steps)
            imgs, masks, partial = [], [], []
            for _ in range(cfg.batch_size):
                src = sources[int(rng.choice(len(sources), p=weights))][0]
                img, mask = draw(rng, src, cfg.crop, cfg.zoom if cfg.augment else (1.0, 1.0), strong=cfg.augment)
                imgs.append(img)
                masks.append(mask)
                partial.append(src.partial)
            target = torch.from_numpy(np.stack(masks)).to(device)
            logits = logits_full(model, np.stack(imgs), arch, device)
            loss = loss_fn(logits, target, torch.tensor(partial, device=device), class_w, cfg.boundary_weight,
                           cfg.thin_street_weight, cfg.thin_street_width)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            losses.append(loss.item())
        metrics: dict[str, Any] = {"epoch": epoch + 1, "train_loss": float(np.mean(losses)),
                                   "lr": opt.param_groups[0]["lr"], "train_seconds": round(time.time() - t0, 1)}
        t1 = time.time()
        if real_val is not None:
            metrics.update(evaluate_real(model, real_val, arch, device))
        if synth_val is not None:
            metrics.update(evaluate_synth(model, synth_val, cfg.synth_val_n, arch, device))
        metrics["val_seconds"] = round(time.time() - t1, 1)
        metrics["score"] = selection_score(metrics)
        meta = {"epoch": epoch + 1, "metrics": metrics, "config": asdict(cfg)}
        save_checkpoint(out / "last.pt", model, arch, meta=meta)
        if metrics["score"] > best_score:
            best_score, best_metrics = metrics["score"], metrics
            save_checkpoint(out / "best.pt", model, arch, meta=meta)
        _append_metrics(out, metrics)
        with atomic_path(state_path) as tmp:
            torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch + 1,
                        "best_score": best_score, "best_metrics": best_metrics}, tmp)
        log(_format(metrics))
    return best_metrics


def _append_metrics(out: Path, metrics: dict) -> None:
    with open(out / "metrics.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(metrics) + "\n")
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text(encoding="utf-8").splitlines() if line]
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with atomic_path(out / "metrics.csv") as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)


def _format(m: dict) -> str:
    parts = [f"epoch {m['epoch']}", f"loss {m['train_loss']:.4f}"]
    for key, label in (("real_block_pq", "real PQ"), ("real_street_iou", "street IoU"), ("real_block_iou", "block IoU"),
                       ("synth_text_iou", "synth text IoU"), ("synth_street_iou", "synth street IoU")):
        if key in m and m[key] is not None and not (isinstance(m[key], float) and math.isnan(m[key])):
            parts.append(f"{label} {m[key]:.3f}")
    parts.append(f"{m['train_seconds']:.0f}+{m['val_seconds']:.0f} s")
    return " | ".join(parts)
