"""Find the tiles of a sheet that lie in its blank paper margins, so inference can skip them.

A tile is *blank* when its footprint on a small overview of the sheet has no ink: no pixel
differs from its smoothed neighbourhood by more than ``threshold`` grey levels (paper grain,
stains and vignetting are smooth; lines and letters are not). Blank tiles are only skipped when
they are connected (4-neighbours on the tile grid) to the sheet's edge through blank tiles: the
margins. A blank tile enclosed by ink — the inside of a very large building block, a wide
square — is still segmented, because any path from the edge to it crosses the map's frame or
drawing, whose tiles are not blank. Skipped tiles get class 0 (other).
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage

from jadis.segment.tiling import TileGrid

#: Local contrast (grey levels, on the overview) above which a pixel counts as ink.
INK_THRESHOLD = 10.0


def ink_mask(overview: np.ndarray, threshold: float = INK_THRESHOLD) -> np.ndarray:
    """Boolean ink mask of an (H, W, 3) or (H, W) uint8 overview."""
    grey = overview.astype(np.float32)
    if grey.ndim == 3:
        grey = grey.mean(axis=2)
    smooth = cv2.GaussianBlur(grey, (0, 0), sigmaX=3.0)
    return np.abs(grey - smooth) > threshold


def margin_tiles(overview: np.ndarray, grid: TileGrid, threshold: float = INK_THRESHOLD) -> np.ndarray:
    """Boolean array (len(ys), len(xs)): True for tiles to skip (blank and connected to the edge).

    ``overview`` is the whole sheet reduced by any factor (its shape gives the factor).
    """
    oh, ow = overview.shape[:2]
    fy, fx = oh / grid.height, ow / grid.width
    ink = ink_mask(overview, threshold)
    # Integral image: ink count of any rectangle in O(1).
    integral = np.pad(np.cumsum(np.cumsum(ink, axis=0, dtype=np.int64), axis=1), ((1, 0), (1, 0)))
    blank = np.zeros((len(grid.ys), len(grid.xs)), dtype=bool)
    for j, y in enumerate(grid.ys):
        y0, y1 = int(np.floor(y * fy)), min(oh, int(np.ceil((y + grid.tile_h) * fy)))
        for i, x in enumerate(grid.xs):
            x0, x1 = int(np.floor(x * fx)), min(ow, int(np.ceil((x + grid.tile_w) * fx)))
            count = integral[y1, x1] - integral[y0, x1] - integral[y1, x0] + integral[y0, x0]
            blank[j, i] = count == 0
    labels, _ = ndimage.label(blank)  # 4-connectivity
    edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    return np.isin(labels, edge[edge > 0])
