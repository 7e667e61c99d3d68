"""A word read on the map and the frame of an oriented label box.

:class:`Word` is what the reader hands on: one piece of text (a word or a phrase of several label
boxes) with where it is and which way it reads. Grouping words into names is
:mod:`jadis.ocr.names`' job.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def label_frame(corners: np.ndarray) -> tuple[tuple[float, float], float, float, float]:
    """(centre, angle in degrees, length, height) of an oriented box, angle of its long side as
    OpenCV rotates it (image coordinates, y down); the reading direction is (cos, sin) of it."""
    import cv2

    (cx, cy), (w, h), theta = cv2.minAreaRect(np.asarray(corners, dtype=np.float32)[:4])
    if h > w:
        w, h, theta = h, w, theta + 90.0
    return (float(cx), float(cy)), float(theta), float(w), float(h)


@dataclass
class Word:
    """One label box and what was read in it."""

    id: int
    centre: np.ndarray      #: (2,) pixel x, y
    direction: np.ndarray   #: (2,) unit reading direction (image coordinates, y down)
    length: float
    height: float
    text: str
    score: float
    ids: tuple[int, ...] = ()  #: label boxes read together as this piece (default: just ``id``)
    #: the recogniser's steps for this piece, when it gives them (:mod:`jadis.ocr.spotting`)
    frames: np.ndarray | None = field(default=None, repr=False, compare=False)
    #: other readings of the same crop (text, score, steps), from a second look (:mod:`jadis.ocr.mapread`)
    alternatives: tuple = field(default=(), repr=False, compare=False)
