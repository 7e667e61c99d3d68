"""Text labels: oriented boxes around groups of text pixels, with their reading angle.

Letters are 8-connected components of class 3. Letters closer to each other than
``gap_factor`` × the typical letter size (the median size of the window's letters) are one label,
so a word or a street name becomes one box, while labels of neighbouring streets stay apart.
Each label's box is the minimum-area rectangle around its pixels (OpenCV ``minAreaRect``).

``angle`` is the direction of the box's long side in degrees, counter-clockwise from the x axis
as the map is seen (x right, y up on screen), in (-90, 90]: 0 for horizontal text, 90 for text
running up the page. For a georeferenced output it is measured in the output CRS.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np
from shapely.geometry import Polygon

from jadis.classes import MapClass

#: Defaults (pixels of the full-resolution sheet).
GAP_FACTOR = 0.8
MIN_TEXT_AREA = 12


@dataclass
class TextBox:
    """One label: its rectangle (4 corners, pixel coordinates) and measurements."""

    corners: np.ndarray  #: (4, 2) x, y
    center: tuple[float, float]
    length: float  #: along the reading direction (px)
    height: float  #: across it (px)
    pixels: int  #: text pixels inside

    def polygon(self) -> Polygon:
        return Polygon(self.corners)


def text_boxes(classes: np.ndarray, x0: int = 0, y0: int = 0, *, gap_factor: float = GAP_FACTOR,
               min_area: int = MIN_TEXT_AREA) -> list[TextBox]:
    """Oriented boxes of the text labels of a class raster window whose top-left is (x0, y0)."""
    text = (classes == MapClass.TEXT).astype(np.uint8)
    if not text.any():
        return []
    n, lab, stats, _ = cv2.connectedComponentsWithStats(text, connectivity=8)
    sizes = np.maximum(stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT])
    areas = stats[1:, cv2.CC_STAT_AREA]
    letters = sizes[areas >= 4]
    letter = float(np.median(letters)) if len(letters) else 8.0
    radius = max(1, int(round(gap_factor * letter / 2)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    grouped = cv2.dilate(text, kernel)
    _g, group_lab = cv2.connectedComponents(grouped, connectivity=8)
    rr, cc = np.nonzero(text)
    gid = group_lab[rr, cc]
    order = np.argsort(gid, kind="stable")
    gid, rr, cc = gid[order], rr[order], cc[order]
    bounds = np.flatnonzero(np.diff(gid)) + 1
    boxes: list[TextBox] = []
    for r, c in zip(np.split(rr, bounds), np.split(cc, bounds), strict=True):
        if len(r) < min_area:
            continue
        pts = np.column_stack([c + x0 + 0.5, r + y0 + 0.5]).astype(np.float32)
        (cx, cy), (w, h), theta = cv2.minAreaRect(pts)
        rect = ((cx, cy), (w + 1.0, h + 1.0), theta)  # centres -> pixel footprint
        corners = cv2.boxPoints(rect).astype(np.float64)
        e1, e2 = corners[1] - corners[0], corners[2] - corners[1]
        length, height = float(np.hypot(*e1)), float(np.hypot(*e2))
        if height > length:
            length, height = height, length
        boxes.append(TextBox(corners=corners, center=(float(cx), float(cy)), length=length, height=height,
                             pixels=len(r)))
    return boxes


def reading_angle(corners: np.ndarray, y_down: bool = True) -> float:
    """Angle in degrees of the long side of a rectangle, counter-clockwise as seen, in (-90, 90]."""
    e1, e2 = corners[1] - corners[0], corners[2] - corners[1]
    dx, dy = e1 if np.hypot(*e1) >= np.hypot(*e2) else e2
    if y_down:
        dy = -dy
    angle = math.degrees(math.atan2(dy, dx))
    while angle <= -90:
        angle += 180
    while angle > 90:
        angle -= 180
    return round(angle, 2)


@dataclass
class LabelPieces:
    """Boxes collected over windows: each kept by the window whose core holds its centre."""

    boxes: list[TextBox] = field(default_factory=list)

    def add_window(self, classes: np.ndarray, wx0: int, wy0: int, core: tuple[int, int, int, int],
                   **kwargs) -> None:
        x0, y0, x1, y1 = core
        for b in text_boxes(classes, wx0, wy0, **kwargs):
            if x0 <= b.center[0] < x1 and y0 <= b.center[1] < y1:
                self.boxes.append(b)
