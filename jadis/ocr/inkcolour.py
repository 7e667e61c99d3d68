"""House numbers printed in a coloured ink (the red numbers of the Atlas municipal).

Many Paris atlases print house numbers in red over black linework. The text detector and the
segmenter's text class find few of them (7 of 51 on the Atlas municipal dev sheet): the digits are
small, tilted, crowded at corners and crossed by black lines. Their colour, though, sets them apart
from everything else on the sheet, so this module finds them by colour:

1. :func:`ink_mask`: pixels of the ink's hue, well saturated (the paper of the scans measured has a
   saturation under 60; a hand-coloured wash may be saturated but is not of the ink's hue);
2. :func:`number_boxes`: digit-sized connected components, joined into numbers when their pixels
   are closer than :data:`DIGIT_GAP` × the digit height (digits of a number touch or nearly; two
   numbers side by side along a street are farther apart), boxed upright (a compact number) or
   along its long side (a longer one);
3. :func:`read_numbers`: each box read both ways up by the CTC recogniser with its decoding
   restricted to digits (a lone "3" is otherwise read "a", a "4" "X").

Written here rather than taken from a library: no OCR package finds text by ink colour; the
steps are a few OpenCV calls. Measured on the Atlas municipal dev sheet: see benchmarks/RESULTS.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

#: OpenCV hue ranges (0-179) of the inks looked for: red wraps around 0.
RED_HUES: tuple[tuple[int, int], ...] = ((0, 10), (170, 179))
#: Least saturation and value (0-255) of an ink pixel.
MIN_SATURATION = 110
MIN_VALUE = 50
#: Digit components: height range (px) and the widest a digit may be relative to its height.
DIGIT_HEIGHT = (6, 60)
MAX_DIGIT_ASPECT = 1.5
MIN_DIGIT_AREA = 12
#: Digits closer than this × their height belong to one number.
DIGIT_GAP = 0.35
#: A reading kept as a house number scores at least this (0-1).
MIN_NUMBER_SCORE = 0.5
#: Rows of the sheet read at a time.
BAND = 1024

ImageReader = Callable[[int, int, int, int], "np.ndarray | None"]


@dataclass(frozen=True)
class NumberBox:
    """A number found by colour: its box corners (4, 2), centre, reading direction and size."""

    corners: np.ndarray
    centre: np.ndarray
    direction: np.ndarray
    length: float
    height: float


def ink_mask(rgb: np.ndarray, hues: Sequence[tuple[int, int]] = RED_HUES, min_saturation: int = MIN_SATURATION,
             min_value: int = MIN_VALUE) -> np.ndarray:
    """Boolean mask of the pixels of ``rgb`` (H, W, 3) uint8 printed in the ink of ``hues``."""
    hsv = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2HSV)
    mask = np.zeros(rgb.shape[:2], np.uint8)
    for lo, hi in hues:
        mask |= cv2.inRange(hsv, (lo, min_saturation, min_value), (hi, 255, 255))
    return mask > 0


def sheet_ink_mask(image_reader: ImageReader, width: int, height: int,
                   hues: Sequence[tuple[int, int]] = RED_HUES) -> np.ndarray:
    """:func:`ink_mask` of a whole sheet, read in bands of :data:`BAND` rows (one byte per pixel)."""
    out = np.zeros((height, width), bool)
    for y0 in range(0, height, BAND):
        rows = min(BAND, height - y0)
        band = image_reader(0, y0, width, rows)
        if band is None:
            continue
        out[y0:y0 + rows] = ink_mask(band[:rows, :width], hues)
    return out


def number_boxes(mask: np.ndarray, digit_height: tuple[int, int] = DIGIT_HEIGHT,
                 gap: float = DIGIT_GAP) -> list[NumberBox]:
    """Digit-sized components of ``mask`` grouped into numbers (see the module docstring)."""
    from scipy.spatial import cKDTree

    n, lab, st, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    x, y, w, h, area = (st[:, k] for k in range(5))
    ok = (h >= digit_height[0]) & (h <= digit_height[1]) & (w <= MAX_DIGIT_ASPECT * h) & (area >= MIN_DIGIT_AREA)
    ok[0] = False
    ids = np.flatnonzero(ok)
    if not len(ids):
        return []
    pts = {int(i): np.argwhere(lab[y[i]:y[i] + h[i], x[i]:x[i] + w[i]] == i)[:, ::-1] + [x[i], y[i]] for i in ids}
    trees = {i: cKDTree(p) for i, p in pts.items()}
    parent = {int(i): int(i) for i in ids}

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    # candidate pairs from the boxes (grown by the gap), then the pixels' true distance
    centres = np.column_stack([x[ids] + w[ids] / 2, y[ids] + h[ids] / 2])
    reach = float(np.max(h[ids])) * (1 + gap) * 1.5
    for a, b in cKDTree(centres).query_pairs(reach):
        i, j = int(ids[a]), int(ids[b])
        limit = gap * max(h[i], h[j])
        dx = max(x[i], x[j]) - min(x[i] + w[i], x[j] + w[j])
        dy = max(y[i], y[j]) - min(y[i] + h[i], y[j] + h[j])
        if dx > limit or dy > limit:
            continue
        if trees[i].query(pts[j], k=1)[0].min() <= limit + 1:
            parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in parent:
        groups.setdefault(find(i), []).append(i)
    out = []
    for members in groups.values():
        p = np.vstack([pts[i] for i in members]).astype(np.float32)
        digit_h = float(np.median([h[i] for i in members]))
        (cx, cy), (rw, rh), theta = cv2.minAreaRect(p)
        if max(rw, rh) < 1.6 * min(rw, rh):  # a digit or a compact number: read it upright
            (x0, y0), (x1, y1) = p.min(axis=0) - 2, p.max(axis=0) + 2
            corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)
            direction = np.array([1.0, 0.0])
        else:
            corners = cv2.boxPoints(((cx, cy), (rw + 4, rh + 4), theta)).astype(np.float32)
            if rh > rw:
                theta += 90.0
            direction = np.array([np.cos(np.radians(theta)), np.sin(np.radians(theta))])
            if direction[0] < 0:
                direction = -direction
        centre = corners.mean(axis=0).astype(float)
        length = float(np.hypot(*(corners[1] - corners[0])))
        length = max(length, float(np.hypot(*(corners[2] - corners[1]))))
        out.append(NumberBox(corners, centre, direction, length, digit_h))
    return out


def read_numbers(crops: Sequence[np.ndarray], recogniser, batch: int = 16) -> list[tuple[str, float, bool]]:
    """(digits, score, flipped) for each upright crop, read both ways up with the CTC recogniser
    (:class:`jadis.ocr.ctc.CtcRecogniser`) decoding digits only."""
    from jadis.ocr.ctc import allowed_mask, greedy_decode

    digits = allowed_mask(recogniser.classes, "0123456789")
    out: list[tuple[str, float, bool]] = []
    for start in range(0, len(crops), batch):
        chunk = list(crops[start:start + batch])
        up = recogniser.probabilities(chunk)
        down = recogniser.probabilities([np.ascontiguousarray(c[::-1, ::-1]) for c in chunk])
        for pu, pd in zip(up, down, strict=True):
            text_u, score_u = greedy_decode(pu, recogniser.classes, digits)
            text_d, score_d = greedy_decode(pd, recogniser.classes, digits)
            out.append((text_d, score_d, True) if score_d > score_u else (text_u, score_u, False))
    return out


def box_crop(image_reader: ImageReader, box: NumberBox) -> np.ndarray | None:
    """The upright crop of ``box`` cut from the sheet (as :func:`jadis.ocr.reader.crop_label` cuts)."""
    from jadis.ocr.reader import crop_label

    x0, y0 = np.floor(box.corners.min(axis=0)).astype(int) - 8
    x1, y1 = np.ceil(box.corners.max(axis=0)).astype(int) + 8
    window = image_reader(int(x0), int(y0), int(x1 - x0), int(y1 - y0))
    if window is None or window.size == 0:
        return None
    return crop_label(window, box.corners - np.array([x0, y0], np.float32))


def coloured_numbers(image_reader: ImageReader, width: int, height: int, recogniser, first_id: int,
                     hues: Sequence[tuple[int, int]] = RED_HUES, min_score: float = MIN_NUMBER_SCORE) -> list:
    """House numbers printed in the ink of ``hues`` on a ``width`` × ``height`` sheet, as
    :class:`jadis.ocr.lines.Word` pieces (ids from ``first_id``). Empty when the recogniser cannot
    decode digits alone (it must offer ``probabilities`` and ``classes``, as the CTC one does)."""
    from jadis.ocr.lines import Word

    if not (hasattr(recogniser, "probabilities") and hasattr(recogniser, "classes")):
        return []
    boxes = number_boxes(sheet_ink_mask(image_reader, width, height, hues))
    cut = [(b, box_crop(image_reader, b)) for b in boxes]
    cut = [(b, c) for b, c in cut if c is not None]
    words = []
    for k, ((box, _), (text, score, flipped)) in enumerate(zip(cut, read_numbers([c for _, c in cut], recogniser),
                                                               strict=True)):
        if not text or score < min_score:
            continue
        direction = -box.direction if flipped else box.direction
        words.append(Word(first_id + k, box.centre, direction, box.length, box.height, text, float(score)))
    return words
