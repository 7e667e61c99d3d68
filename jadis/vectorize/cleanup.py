"""Small raster clean-ups shared by the vectorizers."""

from __future__ import annotations

import cv2
import numpy as np

from jadis.classes import MapClass


def absorb_text(classes: np.ndarray) -> np.ndarray:
    """Give every text pixel the class of the nearest non-text pixel.

    Labels are printed *on* streets and blocks; for block polygons and street centre-lines the
    letters must not punch holes or cut a block in two. Returns a new array (the input is kept).
    """
    text = classes == MapClass.TEXT
    if not text.any():
        return classes
    if text.all():
        return np.zeros_like(classes)
    # Distance transform with labels: each zero (non-text) pixel gets its own label in scan order,
    # each text pixel the label of its nearest non-text pixel.
    _dist, labels = cv2.distanceTransformWithLabels(text.astype(np.uint8), cv2.DIST_L2, 5,
                                                    labelType=cv2.DIST_LABEL_PIXEL)
    lut = np.concatenate([[MapClass.OTHER], classes[~text]]).astype(classes.dtype)
    out = classes.copy()
    out[text] = lut[labels[text]]
    return out


def fill_small_holes(mask: np.ndarray, max_area: int) -> np.ndarray:
    """Fill the holes of ``mask`` (4-connected background regions not touching the border)
    whose area is at most ``max_area`` pixels."""
    if max_area <= 0 or mask.all() or not mask.any():
        return mask
    inv = (~mask).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(inv, connectivity=4)
    small = stats[:, cv2.CC_STAT_AREA] <= max_area
    small[0] = False
    h, w = mask.shape
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    small[border] = False
    if not small.any():
        return mask
    return mask | small[labels]
