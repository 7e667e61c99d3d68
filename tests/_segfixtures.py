"""Small generated fixtures for the segmentation-inference and vectorization tests."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from jadis.classes import MapClass
from jadis.segment.model import ModelArch


class LocalNet(nn.Module):
    """A deterministic 4-class 'segmenter' with a 5-px receptive field: bright paper -> other,
    dark ink -> block, mid-grey -> street, red -> text (hand-set 1x1 scores, then a 5x5 mean).
    Tiled and whole-image inference must agree with it."""

    def __init__(self) -> None:
        super().__init__()
        self.score = nn.Conv2d(3, 4, 1)
        self.smooth = nn.Conv2d(4, 4, 5, padding=2, groups=4, bias=False)
        with torch.no_grad():
            b = torch.full((3,), 4.0 / 3)
            self.score.weight.copy_(torch.stack([b, torch.zeros(3), -b, torch.tensor([6.0, -6.0, 0.0])])[:, :, None, None])
            self.score.bias.copy_(torch.tensor([0.0, 0.5, 0.0, -1.0]))
            self.smooth.weight.fill_(1 / 25)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.smooth(self.score(x))


def local_predictor(precision: str = "fp32"):
    from jadis.segment.predictor import predictor_from_model

    return predictor_from_model(LocalNet(), ModelArch(), precision=precision, channels_last=False)


def map_image(h: int = 300, w: int = 420, seed: int = 0) -> np.ndarray:
    """An RGB 'map': paper, dark blocks, ink lines, grey avenues, a few red letters."""
    rng = np.random.default_rng(seed)
    img = np.full((h, w, 3), (233, 220, 186), np.uint8)
    for _ in range(25):
        x, y = int(rng.integers(0, w - 30)), int(rng.integers(0, h - 30))
        cv2.rectangle(img, (x, y), (x + int(rng.integers(15, 80)), y + int(rng.integers(15, 80))), (90, 80, 70), -1)
    for _ in range(6):
        cv2.line(img, (int(rng.integers(0, w)), 0), (int(rng.integers(0, w)), h - 1), (30, 30, 30), 2)
    for _ in range(3):  # mid-grey avenues
        cv2.line(img, (0, int(rng.integers(0, h))), (w - 1, int(rng.integers(0, h))), (128, 128, 128), 9)
    cv2.putText(img, "Rue", (40, 60), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (200, 30, 30), 2)
    noise = rng.normal(0, 6, img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


def grid_classes(h: int = 600, w: int = 800, street: int = 14, pitch: tuple[int, int] = (150, 130),
                 text: bool = True) -> np.ndarray:
    """A class raster: a street grid plus a diagonal avenue, blocks between, a courtyard, text."""
    c = np.full((h, w), MapClass.BLOCK, np.uint8)
    for x in range(40, w, pitch[0]):
        c[:, x:x + street] = MapClass.STREET
    for y in range(30, h, pitch[1]):
        c[y:y + street, :] = MapClass.STREET
    cv2.line(c, (0, h - 1), (w - 1, 0), int(MapClass.STREET), street)
    c[60:80, 80:100] = MapClass.OTHER  # a courtyard: a hole in its block
    if text:
        cv2.putText(c, "Rue", (60, 40), cv2.FONT_HERSHEY_SIMPLEX, 0.4, int(MapClass.TEXT), 1)
        cv2.putText(c, "Hotel", (200, 100), cv2.FONT_HERSHEY_SIMPLEX, 0.5, int(MapClass.TEXT), 1)
    c[:, :10] = MapClass.OTHER
    return c


def save_tiny_checkpoint(path: Path) -> Path:
    """A randomly initialised U-Net with a small decoder, saved as a jadis checkpoint."""
    from jadis.segment.model import build_model, save_checkpoint

    torch.manual_seed(0)
    arch = ModelArch(decoder_channels=(32, 16, 16, 8, 8))
    return save_checkpoint(path, build_model(arch), arch, meta={"note": "test"})
