"""Words read on a map -> lines of text (a street name is often several word boxes).

The segmenter's label boxes are words or word fragments ("Rue", "du", "Moulin", "des", "Pres").
Words that are aligned — similar reading direction, on a common axis, small gaps, similar letter
height — are one line; the line's text is its words in reading order. Curved names along a bending
street are followed because words are chained pairwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

#: Two words are on one line when their directions differ by less than this (degrees) ...
MAX_ANGLE = 30.0
#: ... the gap between them is less than this many letter heights ...
MAX_GAP = 2.2
#: ... one lies within this many heights of the other's axis ...
MAX_OFFSET = 0.7
#: ... and their heights differ by less than this ratio.
MAX_HEIGHT_RATIO = 1.7


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


@dataclass
class TextLine:
    """Aligned words in reading order."""

    words: list[Word] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words if w.text)

    @property
    def score(self) -> float:
        weights = np.array([max(len(w.text), 1) for w in self.words], dtype=float)
        return float(np.average([w.score for w in self.words], weights=weights))

    @property
    def height(self) -> float:
        return float(np.median([w.height for w in self.words]))

    @property
    def ids(self) -> list[int]:
        return [i for w in self.words for i in (w.ids or (w.id,))]


def _joinable(a: Word, b: Word) -> bool:
    cos = abs(float(a.direction @ b.direction))
    if cos < math.cos(math.radians(MAX_ANGLE)):
        return False
    h = max(a.height, b.height)
    if max(a.height, b.height) > MAX_HEIGHT_RATIO * min(a.height, b.height):
        return False
    d = b.centre - a.centre
    along = abs(float(d @ a.direction))
    across = abs(float(d[0] * a.direction[1] - d[1] * a.direction[0]))
    gap = along - (a.length + b.length) / 2
    return across <= MAX_OFFSET * h and gap <= MAX_GAP * h


def group_lines(words: list[Word]) -> list[TextLine]:
    """Chain aligned words into lines; each line's words are in reading order."""
    n = len(words)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    if n:
        centres = np.array([w.centre for w in words])
        reach = np.array([w.length / 2 + (MAX_GAP + 1) * w.height for w in words])
        for i in range(n):
            near = np.flatnonzero(np.hypot(*(centres - centres[i]).T) <= reach[i] + reach)
            for j in near[near > i]:
                if _joinable(words[i], words[j]) or _joinable(words[j], words[i]):
                    ri, rj = find(i), find(int(j))
                    if ri != rj:
                        parent[ri] = rj
    groups: dict[int, list[Word]] = {}
    for i, w in enumerate(words):
        groups.setdefault(find(i), []).append(w)
    lines = []
    for members in groups.values():
        # the line's reading direction: the words' own, weighted by confidence and length (a word
        # read the other way up than its neighbours is outvoted)
        total = sum(w.score * w.length * w.direction for w in members)
        norm = float(np.linalg.norm(total))
        direction = total / norm if norm > 1e-9 else members[0].direction
        members.sort(key=lambda w: float(w.centre @ direction))
        lines.append(TextLine(members))
    return lines
