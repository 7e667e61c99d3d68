"""A sheet georeferenced from its printed grid alone: the grid lines found, their printed values read.

The sheets of the Atlas de Jacoubet print the Verniquet grid every 250 m and write, in the margin at
each end of each grid line, its distance in metres from the Observatoire's meridian (vertical lines)
or from its perpendicular (horizontal lines): "1000", "750", "250", "0" (see :mod:`jadis.georef.grid`).
Where the streets of a sheet no longer match today's (the 1830s outskirts), these numbers still say
exactly where it is:

1. the long straight thin lines of an upright sheet are found from band-wise column profiles of a
   thin-line response (the sheet's frame and grid lines cross it; :func:`long_lines`);
2. the evenly spaced ones are the grid (:func:`lattice`);
3. the numbers at the ends of each grid line are read (the map-lettering recogniser, digits only);
4. each number votes for the value of the first line (a printed value is a distance: either sign;
   values grow away from the origin, which settles it); the value most numbers agree on, by at least
   :data:`MIN_VOTES` lines and far more than any other, gives every line its world coordinate;
5. the lines' crossings are the control points, refined as in :func:`jadis.georef.grid.snap_to_grid`.

Written here: no library reads atlas grids. Upright sheets only (within :data:`MAX_ANGLE` degrees).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

#: The series whose printed values are read (:data:`jadis.georef.grid.SERIES`): Jacoubet's grid.
LABELLED_SERIES = "verniquet-250m"
#: Sheets are read at about this long side (pixels; a larger scan is reduced by a whole factor): the
#: pixel sizes below are set for it (a Jacoubet sheet at ~0.34 m/px, grid lines 1-2 px wide).
WORKING_SIDE = 4200
#: Thin-line response: darker than the paper ``SIDE`` px away on both sides by ``RIDGE``.
SIDE, RIDGE = 3, 0.08
#: Band height (px) of the column profiles; a band "sees" a line where ``BAND_HIT`` of its rows do.
BAND, BAND_HIT = 256, 0.6
#: A long line crosses at least ``MIN_COVERAGE`` of the bands; within MAX_ANGLE degrees of upright.
MIN_COVERAGE, MAX_ANGLE, ANGLE_STEP = 0.5, 2.0, 0.1
#: Grid lines are equally spaced, at least ``MIN_SPACING`` px apart, each within ``TOL`` px of it.
MIN_SPACING, TOL = 150.0, 4.0
#: Label windows at each end of a line: ``LABEL_GAP``..``LABEL_DEPTH`` px out from the frame,
#: ``LABEL_HALF`` px on each side of the line.
LABEL_GAP, LABEL_DEPTH, LABEL_HALF = 3, 34, 50
#: Least recogniser score of a number read; least lines agreeing on an axis; the best value must
#: have at least ``MARGIN`` times the votes of any other.
MIN_SCORE, MIN_VOTES, MARGIN = 0.5, 3, 2.0
#: Printed values that do not agree: each value left for the streets to decide has this many lines.
AMBIGUOUS_VOTES = 2


@dataclass(frozen=True)
class Line:
    """A long straight line: ``offset`` (px) at the middle of the sheet, ``slope`` (px per px)."""

    offset: float
    slope: float
    coverage: float


def long_lines(dark: np.ndarray, vertical: bool = True) -> list[Line]:
    """Long straight thin lines of an upright sheet (``dark``: darkness 0-1), left to right (or top to
    bottom for ``vertical=False``): offset at mid-height, slope, share of bands crossed."""
    d = dark if vertical else dark.T
    h, w = d.shape
    ridge = np.zeros(d.shape, dtype=bool)
    ridge[:, SIDE:-SIDE] = d[:, SIDE:-SIDE] - 0.5 * (d[:, :-2 * SIDE] + d[:, 2 * SIDE:]) > RIDGE
    ridge[:, 1:] |= ridge[:, :-1].copy()  # a 1 px tolerance for lines a little off the band's column
    nb = max(1, h // BAND)
    prof = np.stack([ridge[b * BAND:(b + 1) * BAND].mean(axis=0) for b in range(nb)]) > BAND_HIT
    centres = (np.arange(nb) + 0.5) * BAND - h / 2
    xs = np.arange(w)
    best, best_slope = np.zeros(w), np.zeros(w)
    for angle in np.arange(-MAX_ANGLE, MAX_ANGLE + ANGLE_STEP / 2, ANGLE_STEP):
        s = float(np.tan(np.radians(angle)))
        idx = np.round(xs[None, :] + s * centres[:, None]).astype(int)
        inside = (idx >= 0) & (idx < w)
        cover = np.where(inside, prof[np.arange(nb)[:, None], np.clip(idx, 0, w - 1)], False).mean(axis=0)
        better = cover > best
        best[better], best_slope[better] = cover[better], s
    out: list[Line] = []
    taken = np.zeros(w, dtype=bool)
    for x in np.argsort(-best, kind="stable"):
        if best[x] < MIN_COVERAGE:
            break
        if not taken[max(0, x - 10):x + 11].any():
            taken[x] = True
            out.append(Line(float(x), float(best_slope[x]), float(best[x])))
    return sorted(out, key=lambda ln: ln.offset)


def lattice(offsets: list[float]) -> tuple[int, float, float]:
    """(lines matched, spacing, phase) of the evenly spaced subset of ``offsets`` with the most lines
    (ties: the wider spacing); (0, 0, 0) when no three lines are evenly spaced."""
    pos = np.sort(np.asarray(offsets, dtype=float))
    best = (0, 0.0, 0.0)
    for i in range(len(pos)):
        for j in range(i + 1, len(pos)):
            for m in range(1, 10):
                d = (pos[j] - pos[i]) / m
                if d < MIN_SPACING:
                    break
                k = np.round((pos - pos[i]) / d)
                hit = np.abs(pos - pos[i] - k * d) <= TOL
                if hit.sum() < 3:
                    continue
                design = np.column_stack([np.ones(int(hit.sum())), k[hit]])
                phase, spacing = np.linalg.lstsq(design, pos[hit], rcond=None)[0]
                cand = (int(hit.sum()), float(spacing), float(phase))
                if cand[0] > best[0] or (cand[0] == best[0] and cand[1] > best[1] + 1.0):
                    best = cand
    return best


def candidates(readings: list[tuple[int, int]], spacing: float, sign: int) -> list[tuple[int, int]]:
    """Values of line 0 voted for by printed values, most lines first: ``readings`` are (line index,
    value read); line k lies at value0 + sign * spacing * k and prints its absolute value. Returns
    (value0, lines agreeing) pairs."""
    votes: dict[int, set[int]] = {}
    for k, value in readings:
        if value % int(spacing):
            continue
        for v0 in {value - sign * int(spacing) * k, -value - sign * int(spacing) * k}:
            votes.setdefault(v0, set()).add(k)
    return sorted(((v0, len(ks)) for v0, ks in votes.items()), key=lambda vk: (-vk[1], vk[0]))


def vote(readings: list[tuple[int, int]], spacing: float, sign: int) -> tuple[int | None, int, int]:
    """The value of line 0 the printed values agree on (see :func:`candidates`): at least
    :data:`MIN_VOTES` lines and :data:`MARGIN` times the runner-up's; (value0 or None, lines
    agreeing, lines agreeing with the runner-up)."""
    ranked = candidates(readings, spacing, sign)
    if not ranked:
        return None, 0, 0
    top, second = ranked[0][1], (ranked[1][1] if len(ranked) > 1 else 0)
    if top < MIN_VOTES or top < MARGIN * second:
        return None, top, second
    return ranked[0][0], top, second


@dataclass(frozen=True)
class GridReading:
    """What was read off the sheet's printed grid."""

    pixel: np.ndarray     #: (N, 2) crossings of the grid lines
    world: np.ndarray     #: (N, 2) their values in the grid's CRS
    crs: str
    agree: tuple[int, int]   #: lines whose printed value agrees, vertical and horizontal
    lines: tuple[int, int]   #: grid lines found, vertical and horizontal
    decisive: bool = True    #: False: one of several readings the printed values allow

    def summary(self) -> dict:
        return {"crs": self.crs, "crossings_read": len(self.pixel), "labels_agreeing": list(self.agree),
                "grid_lines": list(self.lines), "values_decisive": self.decisive}


def _positions(lines: list[Line], size: int) -> tuple[list[float], list[float]]:
    """Positions (at mid-sheet) and slopes of every lattice line inside ``size``."""
    n, spacing, phase = lattice([ln.offset for ln in lines])
    if n < 3:
        return [], []
    ks = range(int(np.ceil(-phase / spacing)), int(np.floor((size - 1 - phase) / spacing)) + 1)
    pos = [phase + k * spacing for k in ks]
    slopes = []
    median = float(np.median([ln.slope for ln in lines]))
    for p in pos:
        near = [ln for ln in lines if abs(ln.offset - p) <= TOL]
        slopes.append(near[0].slope if near else median)
    return pos, slopes


def read_grid_candidates(rgb: np.ndarray, dark: np.ndarray, recogniser, ambiguous: bool = True) -> list[GridReading]:
    """The readings of the sheet's printed grid: one, decisive, when the printed values agree;
    else (``ambiguous``) up to four, one per pair of the values each axis's numbers allow (each
    agreed on by :data:`AMBIGUOUS_VOTES` lines), for the caller to settle; else none."""
    from jadis.georef.grid import series_by_name
    from jadis.ocr.inkcolour import read_numbers

    series = series_by_name(LABELLED_SERIES)
    spacing_world, crs = series.spacing, series.crs
    factor = int(round(max(dark.shape) / WORKING_SIDE))
    if factor >= 2:  # a high-resolution scan: read at about the resolution the thresholds are set for
        import cv2

        small = [cv2.resize(a, (a.shape[1] // factor, a.shape[0] // factor), interpolation=cv2.INTER_AREA)
                 for a in (rgb, dark)]
        found = read_grid_candidates(small[0], small[1], recogniser, ambiguous)
        return [replace(r, pixel=r.pixel * factor) for r in found]
    h, w = dark.shape
    xs, sx = _positions(long_lines(dark, True), w)
    ys, sy = _positions(long_lines(dark, False), h)
    if len(xs) < 2 or len(ys) < 2:
        return []

    def x_at(k: int, y: float) -> float:
        return xs[k] + sx[k] * (y - h / 2)

    def y_at(j: int, x: float) -> float:
        return ys[j] + sy[j] * (x - w / 2)

    crops, tags = [], []
    top, bottom, left, right = ys[0], ys[-1], xs[0], xs[-1]

    def window(x0: float, y0: float, x1: float, y1: float) -> np.ndarray | None:
        x0, y0, x1, y1 = (int(round(v)) for v in (x0, y0, x1, y1))
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
        return rgb[y0:y1, x0:x1] if x1 - x0 > 8 and y1 - y0 > 8 else None

    for k in range(len(xs)):
        for y_end, sign in ((top, -1), (bottom, 1)):
            x = x_at(k, y_end)
            near, far = y_end + sign * LABEL_GAP, y_end + sign * LABEL_DEPTH
            crop = window(x - LABEL_HALF, min(near, far), x + LABEL_HALF, max(near, far))
            if crop is not None:
                crops.append(np.ascontiguousarray(crop))
                tags.append(("x", k))
    for j in range(len(ys)):
        for x_end, sign in ((left, -1), (right, 1)):
            y = y_at(j, x_end)
            near, far = x_end + sign * LABEL_GAP, x_end + sign * LABEL_DEPTH
            crop = window(min(near, far), y - LABEL_HALF, max(near, far), y + LABEL_HALF)
            if crop is not None:
                crops.append(np.ascontiguousarray(np.rot90(crop)))
                tags.append(("y", j))
    if not crops:
        return []
    read = read_numbers(crops, recogniser)
    by_axis: dict[str, list[tuple[int, int]]] = {"x": [], "y": []}
    for (axis, k), (text, score, _) in zip(tags, read, strict=True):
        if text.isdigit() and score >= MIN_SCORE and len(text) <= 5:
            by_axis[axis].append((k, int(text)))
    # world X grows to the right (east), world Y upwards (north): down the sheet it falls
    x0, ax, _ = vote(by_axis["x"], spacing_world, +1)
    y0, ay, _ = vote(by_axis["y"], spacing_world, -1)
    if x0 is not None and y0 is not None:
        return [_reading(xs, sx, ys, sy, (w, h), x0, y0, spacing_world, crs, (ax, ay), True)]
    if not ambiguous:
        return []
    # not decisive: the best two values of an axis each agreed on by >= AMBIGUOUS_VOTES lines, for
    # the caller to settle (the streets, see jadis.georef.auto)
    options = []
    for axis, value, sign in (("x", x0, +1), ("y", y0, -1)):
        if value is not None:
            options.append([(value, ax if axis == "x" else ay)])
            continue
        ranked = [vk for vk in candidates(by_axis[axis], spacing_world, sign)[:2] if vk[1] >= AMBIGUOUS_VOTES]
        options.append(ranked)
    out = [_reading(xs, sx, ys, sy, (w, h), vx, vy, spacing_world, crs, (nx, ny), False)
           for vx, nx in options[0] for vy, ny in options[1]]
    return [r for r in out if r is not None]


def _reading(xs: list[float], sx: list[float], ys: list[float], sy: list[float], size: tuple[int, int],
             x0: int, y0: int, spacing: float, crs: str, agree: tuple[int, int], decisive: bool) -> GridReading | None:
    """The crossings of the lines with their world values, line 0 at (``x0``, ``y0``)."""
    w, h = size
    pixel, world = [], []
    for k in range(len(xs)):
        for j in range(len(ys)):
            # the crossing of x = xs[k] + sx[k] (y - h/2) and y = ys[j] + sy[j] (x - w/2)
            a, b = sx[k], sy[j]
            y = (ys[j] + b * (xs[k] - a * h / 2 - w / 2)) / (1 - a * b)
            x = xs[k] + a * (y - h / 2)
            if 0 <= x <= w and 0 <= y <= h:
                pixel.append((x, y))
                world.append((x0 + spacing * k, y0 - spacing * j))
    if len(pixel) < 4:
        return None
    return GridReading(np.array(pixel), np.array(world, dtype=float), crs, agree, (len(xs), len(ys)), decisive)


def read_grid(rgb: np.ndarray, dark: np.ndarray, recogniser) -> GridReading | None:
    """The crossings of an upright sheet's printed grid with their world values, read from the sheet
    alone (see the module's docstring); None when the grid or its numbers cannot be read with
    certainty. ``recogniser``: a :class:`jadis.ocr.ctc.CtcRecogniser`."""
    found = read_grid_candidates(rgb, dark, recogniser, ambiguous=False)
    return found[0] if found else None
