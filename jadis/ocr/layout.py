"""Text boxes -> phrases: the pieces of text a recogniser reads in one crop.

The segmenter's label boxes are words, word fragments or single letters: "Grene" | "lle",
"Bou" | "levard", a letter-spaced "R u e". A recogniser reads a whole word far better than its
fragments, so before reading, boxes that are aligned and separated by no more than a word space
are merged into a *phrase* (an oriented rectangle around them). Wider gaps — the spacing of names
spread along a street — are bridged later, after reading (:mod:`jadis.ocr.names`).

Geometry only (pixels of the scan, x right, y down); nothing here reads text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Boxes join a phrase when the gap between them is at most this many letter heights ...
MAX_WORD_GAP = 1.1
#: ... or this many, between two single letters (letter-spaced names).
MAX_LETTER_GAP = 2.2
#: ... one lies within this many heights of the other's axis ...
MAX_OFFSET = 0.45
#: ... their axes differ by less than this (degrees; ignored for a squat single-letter box) ...
MAX_ANGLE = 20.0
#: ... and their heights differ by less than this ratio.
MAX_HEIGHT_RATIO = 1.6
#: A box is a reliable direction only when it is this much longer than high.
MIN_ASPECT = 1.5
#: A phrase whose words bend more than this (degrees) is read word by word, not as one rectangle.
MAX_BEND = 12.0


@dataclass
class Box:
    """One label box: oriented rectangle and its measurements."""

    id: int
    corners: np.ndarray    #: (4, 2)
    centre: np.ndarray     #: (2,)
    axis: np.ndarray       #: (2,) unit vector along the long side (sign arbitrary)
    length: float
    height: float

    @property
    def reliable(self) -> bool:
        """Whether the box is long enough for its axis to be the text's direction."""
        return self.length >= MIN_ASPECT * self.height


@dataclass
class Phrase:
    """Boxes read as one crop, in order along the phrase's axis."""

    boxes: list[Box]
    corners: np.ndarray    #: (4, 2) rectangle around all of them
    centre: np.ndarray
    axis: np.ndarray
    length: float
    height: float          #: median letter height of its boxes
    bent: bool             #: words not on one straight line: read them one by one

    @property
    def ids(self) -> list[int]:
        return [b.id for b in self.boxes]


def box_from_corners(box_id: int, corners: np.ndarray) -> Box:
    """A :class:`Box` from 4 corners (x right, y down)."""
    from jadis.ocr.lines import label_frame

    centre, theta, length, height = label_frame(corners)
    axis = np.array([math.cos(math.radians(theta)), math.sin(math.radians(theta))])
    return Box(int(box_id), np.asarray(corners, dtype=float)[:4], np.array(centre, dtype=float), axis, length, height)


def boxes_from_labels(labels) -> list[Box]:  # GeoDataFrame in pixels
    """The label boxes of a segmenter ``labels`` layer (in pixels)."""
    out = []
    for label_id, geom in zip(labels["label_id"].to_numpy(), labels.geometry.to_numpy(), strict=True):
        if geom is None or geom.is_empty or geom.geom_type != "Polygon":
            continue
        corners = np.asarray(geom.exterior.coords)[:4]
        box = box_from_corners(int(label_id), corners)
        if box.length >= 2 and box.height >= 2:
            out.append(box)
    return out


def _letter_height(box: Box) -> float:
    # a squat box (a single letter, a number) is as high as its shorter side, whichever way it lies
    return box.height if box.reliable else min(box.length, box.height)


def _joinable(a: Box, b: Box) -> bool:
    ha, hb = _letter_height(a), _letter_height(b)
    if max(ha, hb) > MAX_HEIGHT_RATIO * min(ha, hb):
        return False
    if a.reliable and b.reliable:
        if abs(float(a.axis @ b.axis)) < math.cos(math.radians(MAX_ANGLE)):
            return False
        axis = a.axis if a.length >= b.length else b.axis
    elif a.reliable or b.reliable:
        axis = a.axis if a.reliable else b.axis
    else:  # two single letters: the line through them is the only direction there is
        d = b.centre - a.centre
        n = float(np.linalg.norm(d))
        if n == 0:
            return True
        axis = d / n
    h = max(ha, hb)
    d = b.centre - a.centre
    along = abs(float(d @ axis))
    across = abs(float(d[0] * axis[1] - d[1] * axis[0]))
    extent_a = _extent(a, axis)
    extent_b = _extent(b, axis)
    gap = along - (extent_a + extent_b) / 2
    # letter-spaced lettering ("Q u a i"): single letters further apart still make one word
    limit = MAX_LETTER_GAP if not (a.reliable or b.reliable) else MAX_WORD_GAP
    return across <= MAX_OFFSET * h + 0.25 * abs(a.height - b.height) and gap <= limit * h


def _extent(box: Box, axis: np.ndarray) -> float:
    """Length of the box's projection on ``axis``."""
    proj = box.corners @ axis
    return float(proj.max() - proj.min())


def phrases(boxes: list[Box]) -> list[Phrase]:
    """Merge aligned boxes separated by at most a word space into phrases."""
    from scipy.spatial import cKDTree

    n = len(boxes)
    if n == 0:
        return []
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    centres = np.array([b.centre for b in boxes])
    reach = np.array([b.length / 2 + (max(MAX_WORD_GAP, MAX_LETTER_GAP) + 0.5) * max(b.height, 1.0) for b in boxes])
    tree = cKDTree(centres)
    for i in range(n):
        # each pair is looked at once, from the box that reaches further (ties: the first), so the
        # search radius is the box's own reach and not the longest box's
        for j in tree.query_ball_point(centres[i], r=float(2 * reach[i])):
            if (reach[j], -j) >= (reach[i], -i) or np.hypot(*(centres[j] - centres[i])) > reach[i] + reach[j]:
                continue
            if _joinable(boxes[i], boxes[j]):
                ri, rj = find(i), find(j)
                if ri != rj:
                    parent[ri] = rj
    groups: dict[int, list[Box]] = {}
    for i, b in enumerate(boxes):
        groups.setdefault(find(i), []).append(b)
    return [_phrase(members) for members in groups.values()]


def _phrase(members: list[Box]) -> Phrase:
    import cv2

    if len(members) == 1:
        b = members[0]
        return Phrase([b], b.corners, b.centre, b.axis, b.length, _letter_height(b), False)
    pts = np.vstack([b.corners for b in members]).astype(np.float32)
    (cx, cy), (w, h), theta = cv2.minAreaRect(pts)
    if h > w:
        w, h, theta = h, w, theta + 90.0
    axis = np.array([math.cos(math.radians(theta)), math.sin(math.radians(theta))])
    members = sorted(members, key=lambda b: float(b.centre @ axis))
    corners = cv2.boxPoints(((cx, cy), (w, h), theta)).astype(float)
    height = float(np.median([_letter_height(b) for b in members]))
    # bent: the rectangle is much higher than a letter (a curved name), or the words turn
    turns = [abs(float(b.axis @ axis)) for b in members if b.reliable]
    bent = h > 1.9 * height or (bool(turns) and min(turns) < math.cos(math.radians(MAX_BEND)))
    return Phrase(members, corners, np.array([cx, cy]), axis, float(w), height, bent)
