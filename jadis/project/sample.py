"""A small synthetic map sheet with its exact class raster, for trying the app and for tests.

Blocks on a jittered grid separated by streets, a diagonal avenue, and street-name labels. Not a
training generator (that is :mod:`jadis.segment.synth`): just something that looks like a map and
whose true classes are known, generated in milliseconds with no data files.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from jadis.classes import MapClass


def sample_arrays(width: int = 1200, height: int = 900, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(RGB image (H, W, 3) uint8, class ids (H, W) uint8)."""
    import cv2

    rng = np.random.default_rng(seed)
    classes = np.full((height, width), MapClass.STREET, np.uint8)
    classes[:12, :] = classes[-12:, :] = classes[:, :12] = classes[:, -12:] = MapClass.OTHER
    xs = np.cumsum(rng.integers(140, 260, size=width // 140 + 2)) - 60
    ys = np.cumsum(rng.integers(120, 220, size=height // 120 + 2)) - 50
    street = 26
    for x0, x1 in zip(xs[:-1], xs[1:], strict=False):
        for y0, y1 in zip(ys[:-1], ys[1:], strict=False):
            bx0, by0, bx1, by1 = x0 + street // 2, y0 + street // 2, x1 - street // 2, y1 - street // 2
            bx0, by0 = max(bx0, 12 + street), max(by0, 12 + street)
            bx1, by1 = min(bx1, width - 12 - street), min(by1, height - 12 - street)
            if bx1 - bx0 > 20 and by1 - by0 > 20:
                classes[by0:by1, bx0:bx1] = MapClass.BLOCK
    avenue = np.zeros_like(classes)
    cv2.line(avenue, (0, int(height * 0.15)), (width, int(height * 0.85)), 1, thickness=34)
    classes[(avenue > 0) & (classes != MapClass.OTHER)] = MapClass.STREET

    img = np.empty((height, width, 3), np.uint8)
    img[:] = (236, 226, 200)  # paper
    img[classes == MapClass.BLOCK] = (226, 180, 170)  # tinted blocks
    block = (classes == MapClass.BLOCK).astype(np.uint8)
    edges = cv2.morphologyEx(block, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    img[edges] = (70, 50, 45)
    text = np.zeros_like(classes)
    names = ["RUE DE LA HARPE", "RUE S.T HONORE", "QUAI DES CELESTINS", "RUE DU BAC", "PLACE DAUPHINE"]
    for i, name in enumerate(names):
        x = int(rng.integers(30, max(31, width - 330)))
        y = int(ys[min(i, len(ys) - 1)] + 8) if ys[min(i, len(ys) - 1)] + 8 < height - 20 else 40 + 30 * i
        cv2.putText(text, name, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.55, 1, 2, cv2.LINE_8)
    text_mask = (text > 0) & (classes != MapClass.OTHER)
    classes[text_mask] = MapClass.TEXT
    img[text_mask] = (30, 25, 25)
    noise = rng.normal(0, 6, img.shape)
    img = np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    return img, classes


def write_sample(folder: str | os.PathLike[str], width: int = 1200, height: int = 900, seed: int = 0,
                 name: str = "sample_map") -> tuple[Path, Path]:
    """Write ``<name>.png`` (the map) and ``<name>_classes.tif`` (its truth) into ``folder``."""
    import rasterio

    from jadis.classes import CLASS_COLORS
    from jadis.io.atomic import atomic_path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    img, classes = sample_arrays(width, height, seed)
    image_path, classes_path = folder / f"{name}.png", folder / f"{name}_classes.tif"
    import warnings

    from rasterio.errors import NotGeoreferencedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with atomic_path(image_path) as tmp, rasterio.open(tmp, "w", driver="PNG", width=width, height=height,
                                                           count=3, dtype="uint8") as ds:
            ds.write(np.moveaxis(img, -1, 0))
        with atomic_path(classes_path) as tmp, rasterio.open(tmp, "w", driver="GTiff", width=width, height=height,
                                                             count=1, dtype="uint8", compress="deflate") as ds:
            ds.write(classes, 1)
            ds.write_colormap(1, {k: (*v, 255) for k, v in CLASS_COLORS.items()})
    return image_path, classes_path


#: Where :func:`write_reference` puts the sample map in Lambert-93: top-left corner and metres per pixel.
REFERENCE_ORIGIN = (651000.0, 6862000.0)
REFERENCE_RESOLUTION = 0.5


def write_reference(folder: str | os.PathLike[str], width: int = 1200, height: int = 900, seed: int = 0,
                    name: str = "sample_reference") -> Path:
    """A "modern" road raster (255 = street) of the sample map, georeferenced in EPSG:2154.

    Sample pixel (x, y) lies at E = 651000 + 0.5 x, N = 6862000 − 0.5 y: a known truth for
    control-point tests.
    """
    import warnings

    import rasterio
    from affine import Affine

    from jadis.io.atomic import atomic_path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _, classes = sample_arrays(width, height, seed)
    roads = np.where(classes == MapClass.STREET, 255, 0).astype(np.uint8)
    transform = Affine(REFERENCE_RESOLUTION, 0, REFERENCE_ORIGIN[0], 0, -REFERENCE_RESOLUTION, REFERENCE_ORIGIN[1])
    dest = folder / f"{name}.tif"
    with warnings.catch_warnings(), atomic_path(dest) as tmp:
        warnings.simplefilter("ignore")
        with rasterio.open(tmp, "w", driver="GTiff", width=width, height=height, count=1, dtype="uint8",
                           crs="EPSG:2154", transform=transform, tiled=True, compress="deflate") as ds:
            ds.write(roads, 1)
    return dest
