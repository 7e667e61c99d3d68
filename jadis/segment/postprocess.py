"""Clean a predicted class raster: block specks and pin-holes in blocks.

A network leaves small misclassified islands: a few block pixels on a street or in the river (a
"block" that would count as a false instance in the MapSeg PQ), a few street or background pixels
inside a block. :func:`clean_classes` applies the same size rule that defines ground-truth blocks
(:class:`jadis.segment.gt.DerivationRule`: groups under ``min_block_area`` px are fragments that take
the class around them):

* a 4-connected region of class 2 smaller than ``min_block_area`` takes the most common class
  among its 4-neighbours;
* optionally (``max_hole_area`` > 0; off by default: it triples the cost and changes no block
  instance), a 4-connected region of class 0 or 1 smaller than ``max_hole_area`` whose 4-neighbours
  are all class 2 (a pin-hole inside a block) becomes class 2.

Text (class 3) is never changed. Regions touching an edge of the array that is not an edge of the
sheet (``open_edges``) are left alone: they may continue beyond it. Large rasters are cleaned in
row chunks with enough context (:data:`CONTEXT` rows) for every region small enough to change.
"""

from __future__ import annotations

import cv2
import numpy as np

from jadis.classes import NUM_CLASSES, MapClass

MIN_BLOCK_AREA = 400
MAX_HOLE_AREA = 0  #: off by default: costs 2x the block pass, changes no block instance
#: Rows of context a chunk needs above and below (a region under 400 px is under 400 px tall).
CONTEXT = 512

_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))


def clean_classes(classes: np.ndarray, *, min_block_area: int = MIN_BLOCK_AREA,
                  max_hole_area: int = MAX_HOLE_AREA,
                  open_edges: tuple[bool, bool, bool, bool] = (False, False, False, False)) -> np.ndarray:
    """A cleaned copy of ``classes`` (H, W) uint8. ``open_edges`` = (top, bottom, left, right):
    which edges of the array are cuts inside a larger sheet."""
    out = classes.copy()
    if min_block_area > 0:
        _relabel_small(out, classes == MapClass.BLOCK, min_block_area, open_edges, fill=None)
    if max_hole_area > 0:  # pin-holes: no effect on instances, a little on IoU
        for cls in (MapClass.OTHER, MapClass.STREET):
            _relabel_small(out, out == cls, max_hole_area, open_edges, fill=int(MapClass.BLOCK))
    return out


def _relabel_small(out: np.ndarray, mask: np.ndarray, max_area: int, open_edges: tuple[bool, bool, bool, bool],
                   fill: int | None) -> None:
    """Regions of ``mask`` under ``max_area`` px: ``fill=None`` -> majority class around them;
    else -> ``fill`` if every pixel around them is ``fill``."""
    if not mask.any():
        return
    n, lab, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=4, ltype=cv2.CV_32S)
    small = stats[:, cv2.CC_STAT_AREA] < max_area
    small[0] = False
    h, w = mask.shape
    top, bottom, left, right = open_edges
    x0, y0 = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    x1, y1 = x0 + stats[:, cv2.CC_STAT_WIDTH], y0 + stats[:, cv2.CC_STAT_HEIGHT]
    small &= ~((top & (y0 == 0)) | (bottom & (y1 == h)) | (left & (x0 == 0)) | (right & (x1 == w)))
    if not small.any():
        return
    ids = np.flatnonzero(small)
    dtype = np.uint16 if len(ids) < 65535 else np.float32  # cv2.dilate needs one of these; both exact
    lut = np.zeros(n, dtype)
    lut[ids] = np.arange(1, len(ids) + 1)
    small_lab = lut[lab]
    grown = cv2.dilate(small_lab, _CROSS)
    ring = (grown > 0) & (small_lab == 0)
    owner = grown[ring].astype(np.int64)
    votes = np.bincount(owner * NUM_CLASSES + out[ring], minlength=(len(ids) + 1) * NUM_CLASSES)
    votes = votes.reshape(len(ids) + 1, NUM_CLASSES)
    if fill is None:
        votes[:, MapClass.BLOCK] = 0  # a block speck never stays a block
        new = votes.argmax(axis=1).astype(np.uint8)
        has = votes.sum(axis=1) > 0
    else:
        total = votes.sum(axis=1)
        has = (total > 0) & (votes[:, fill] == total)
        new = np.full(len(ids) + 1, fill, np.uint8)
    has[0] = False
    if not has.any():
        return
    sel = has[small_lab.astype(np.int64)] if dtype is np.float32 else has[small_lab]
    out[sel] = new[small_lab[sel].astype(np.int64)]
