"""Training and validation data: the real Atlas municipal 1925 crop and its validation region.

The real data is the ICDAR 2021 vectorization ground truth of the Atlas municipal 1925 (sheet 1,
crop x < 6000 of the VAL strip; CC BY 4.0, Chen et al. 2021; scan: Bibliothèque de l'Hôtel de Ville,
Ville de Paris), found under ``../shared/data`` (:func:`jadis.paths.shared_data_dir`). Its outlines
become street / block / other masks through :func:`jadis.segment.gt.derive_class_mask`.

:data:`VAL_REGION` is the part of that crop that training never sees (plus a :data:`VAL_GAP` margin
around it): the right-hand 1100 columns, with the Seine and its small arm, the Pont Neuf, the tip of
the Île de la Cité, the quays, the Institut and the Monnaie, and the dense streets of the 6e (Saint-
André-des-Arts, Odéon, École de Médecine). It is next to the held-out part of the strip (x ≥ 6000).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from jadis.errors import JadisError
from jadis.paths import shared_data_dir
from jadis.segment.gt import derive_class_mask

#: Folder of the real crop, relative to the shared data folder.
DEV_CROP_DIR = "segmentation/atlas_municipal_1925_dev"
DEV_CROP_STEM = "BHdV_PL_ATL20Ardt_1926_0004-VAL-left6000-"

#: Validation region of the 6000×3000 crop as a pixel box ``(x0, y0, x1, y1)`` (x1, y1 exclusive).
#: Scores are computed inside it and inside the content mask.
VAL_REGION: tuple[int, int, int, int] = (4900, 0, 6000, 3000)
#: Training pixels keep at least this distance (px) from :data:`VAL_REGION`: training tiles must
#: lie within ``x < VAL_REGION[0] - VAL_GAP``.
VAL_GAP = 64

#: Hand decision: one ``(x, y)`` pixel inside each piece of the Seine in the crop (the river is
#: split by bridges and by the sheet join line). The derivation makes these regions class 0.
DEV_WATER_SEEDS: tuple[tuple[int, int], ...] = (
    (3700, 330), (4300, 480), (4600, 520), (5200, 700), (5700, 800), (5550, 1300),
)


@dataclass(frozen=True)
class DevCrop:
    """The real crop: RGB image, outline and content masks, derived class mask (all full size)."""

    image: np.ndarray  #: (H, W, 3) uint8
    edges: np.ndarray  #: (H, W) bool, the hand-drawn 1-px outlines
    content: np.ndarray  #: (H, W) bool, the map content
    classes: np.ndarray  #: (H, W) uint8 class ids (0 other, 1 street, 2 block; no text)

    def val_mask(self) -> np.ndarray:
        """Pixels scored for validation: inside :data:`VAL_REGION` and the content mask."""
        return region_mask(self.content.shape, VAL_REGION) & self.content

    def train_mask(self) -> np.ndarray:
        """Pixels training may use: content pixels farther than :data:`VAL_GAP` from the validation region."""
        return ~region_mask(self.content.shape, VAL_REGION, grow=VAL_GAP) & self.content


def region_mask(shape: tuple[int, ...], box: tuple[int, int, int, int], grow: int = 0) -> np.ndarray:
    """Boolean (H, W) mask of a pixel box ``(x0, y0, x1, y1)``, optionally grown by ``grow`` px."""
    h, w = shape[:2]
    x0, y0, x1, y1 = box
    mask = np.zeros((h, w), bool)
    mask[max(0, y0 - grow):min(h, y1 + grow), max(0, x0 - grow):min(w, x1 + grow)] = True
    return mask


def dev_crop_dir(root: str | os.PathLike[str] | None = None) -> Path:
    """The folder of the real crop (``root`` or ``<shared data>/segmentation/atlas_municipal_1925_dev``)."""
    if root is not None:
        return Path(root)
    shared = shared_data_dir()
    if shared is None:
        raise JadisError("the real Atlas municipal crop needs ../shared/data (or set JADIS_SHARED_DATA)")
    return shared / DEV_CROP_DIR


def load_dev_crop(root: str | os.PathLike[str] | None = None) -> DevCrop:
    """Read the real crop and derive its class mask (about 10 s; cached per process)."""
    return _load_dev_crop(str(dev_crop_dir(root).resolve()))


@lru_cache(maxsize=1)
def _load_dev_crop(folder_name: str) -> DevCrop:
    from PIL import Image

    folder = Path(folder_name)
    paths = {k: folder / f"{DEV_CROP_STEM}{k}.png" for k in ("INPUT_color_border", "EDGE_target", "MASK_content")}
    for path in paths.values():
        if not path.is_file():
            raise JadisError(f"{path}: missing file of the Atlas municipal 1925 crop")
    Image.MAX_IMAGE_PIXELS = max(Image.MAX_IMAGE_PIXELS or 0, 200_000_000)
    image = np.asarray(Image.open(paths["INPUT_color_border"]).convert("RGB"))
    edges = np.asarray(Image.open(paths["EDGE_target"]).convert("L")) > 0
    content = np.asarray(Image.open(paths["MASK_content"]).convert("L")) > 0
    classes = derive_class_mask(edges, content, water_seeds=DEV_WATER_SEEDS)
    return DevCrop(image=image, edges=edges, content=content, classes=classes)
