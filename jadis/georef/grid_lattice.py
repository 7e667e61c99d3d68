"""A printed grid found on a scan without knowing where the map is: the lattice of its lines.

:mod:`jadis.georef.grid` looks for each crossing where an approximate georeference puts it, a few
tens of metres off at most. When the streets match nowhere (a quarter rebuilt since the map was
drawn), there is no such georeference, but the grid is still printed: two families of thin straight
lines across the whole map, perpendicular, equally spaced. Their spacing on the scan gives the
scale and their direction the rotation, exactly; only *which* crossing is which stays open, a
whole number of grid spacings in each direction. Another cue settles that: the street names read
on the map (:mod:`jadis.georef.auto_names`) put it within a few hundred metres, and of the
crossings' possible labellings the one that puts the most names on their streets, by a clear
margin, is kept.

The lines are found with :func:`jadis.georef.grid.find_lines` in one long strip per direction
across the map's centre (the product's own line finder: thin, unbroken along most of the strip).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from jadis.georef.grid import MIN_COVERAGE, MIN_SIDE_PX, SIDE_M, GridSeries, _crossing, find_lines

#: Directions tried for the strips (degrees from the scan's axes); each covers +-2 degrees
#: (:data:`jadis.georef.grid.MAX_ANGLE`).
ANGLES = (-8.0, -4.0, 0.0, 4.0, 8.0)
#: Line candidates kept per direction and strip.
LINES = 12
#: Longest half-length of a strip along its lines (pixels) and its reach across, in spacings.
MAX_HALF = 1200
REACH_SPACINGS = 1.6
#: Two lines of one family are parallel within this slope (tangent, ~0.3 degrees); the two
#: families are perpendicular within ``PERPENDICULAR`` (~0.7 degrees: paper shrinks unevenly).
PARALLEL = 0.005
PERPENDICULAR = 0.012
#: A line lies on the lattice when its offset is within this many pixels of a lattice line.
ON_LATTICE_PX = 3.0
#: At least one line in each family and this many in all (the spacing needs two in one family;
#: a 500 m crop of a 250 m grid may show only one line of a family away from its edges).
MIN_LINES = 3
#: Lines this close to the scan's edge (in ridge widths) are not counted (the edge itself reads as one).
EDGE_SIDES = 3
#: A lattice whose lines cover this share of their strips ends the search over the directions.
GOOD_COVERAGE = 0.8


@dataclass(frozen=True)
class Lattice:
    """The printed grid's crossings on a scan, unlabelled: ``pixel`` (N, 2) and their lattice index
    ``index`` (N, 2) integers (columns left to right, rows top to bottom); ``spacing_px``: the
    grid's spacing in pixels; ``angle``: the lines' direction, degrees from the scan's x axis;
    ``coverage``: mean share of their strip the lines cover."""

    pixel: np.ndarray
    index: np.ndarray
    spacing_px: float
    angle: float
    coverage: float
    lines: tuple[int, int]   #: lines found in each family (along x, along y)

    def index_to_pixel(self) -> tuple[np.ndarray, np.ndarray]:
        """(m, t): the square lattice of this spacing and angle that fits the crossings best,
        ``pixel = index @ m + t``."""
        a = math.radians(self.angle)
        m = self.spacing_px * np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]])
        return m, (self.pixel - self.index @ m).mean(axis=0)

    @property
    def rmse_px(self) -> float:
        """RMSE (pixels) of the crossings about that square lattice."""
        m, t = self.index_to_pixel()
        return float(np.sqrt(np.mean(np.sum((self.index @ m + t - self.pixel) ** 2, axis=1))))

    def summary(self) -> dict:
        return {"crossings": len(self.pixel), "lines": list(self.lines), "spacing_px": round(self.spacing_px, 2),
                "angle": round(self.angle, 3), "coverage": round(self.coverage, 3),
                "rmse_px": round(self.rmse_px, 2)}


def find_lattice(dark: np.ndarray, spacing_px: tuple[float, float]) -> Lattice | None:
    """The lattice of a printed grid whose spacing on the scan lies within ``spacing_px`` (min, max
    pixels), its lines within 10 degrees of the scan's axes; None when no two perpendicular
    families of at least :data:`MIN_LINES` equally spaced lines each are found. ``dark``:
    :func:`jadis.georef.grid.darkness` of the scan."""
    lo, hi = sorted(float(v) for v in spacing_px)
    if lo <= 0:
        return None
    height, width = dark.shape
    side = max(MIN_SIDE_PX, int(round(SIDE_M * (lo + hi) / 2 / 250.0)))  # ~1 m at a 250 m spacing
    centre = np.array([width / 2.0, height / 2.0])
    best: tuple[tuple[int, float], Lattice] | None = None
    for angle in sorted(ANGLES, key=abs):   # upright first
        a = math.radians(angle)
        ux, uy = np.array([math.cos(a), math.sin(a)]), np.array([-math.sin(a), math.cos(a)])
        reach_r, reach_c = int(min(0.5 * height, REACH_SPACINGS * hi)), int(min(0.5 * width, REACH_SPACINGS * hi))
        rows = find_lines(dark, centre, ux, uy, int(min(MAX_HALF, 0.5 * width - 2)), reach_r, side, LINES,
                          MIN_COVERAGE)
        cols = find_lines(dark, centre, uy, ux, int(min(MAX_HALF, 0.5 * height - 2)), reach_c, side, LINES,
                          MIN_COVERAGE)
        margin = EDGE_SIDES * side
        # where lines were looked for: offsets within the strip's reach, away from the scan's edges
        seen_r = (max(-reach_r, margin - centre[1]), min(reach_r, height - margin - centre[1]))
        seen_c = (max(-reach_c, margin - centre[0]), min(reach_c, width - margin - centre[0]))
        rows = [line for line in rows if line.coverage >= MIN_COVERAGE and seen_r[0] < line.offset < seen_r[1]]
        cols = [line for line in cols if line.coverage >= MIN_COVERAGE and seen_c[0] < line.offset < seen_c[1]]
        lattice = _fit(rows, cols, centre, ux, uy, lo, hi, (seen_r, seen_c))
        if lattice is not None:
            key = (len(lattice.pixel), lattice.coverage)
            if best is None or key > best[0]:
                best = (key, lattice)
            if lattice.coverage >= GOOD_COVERAGE:
                break
    return None if best is None else best[1]


def _fit(rows: list, cols: list, centre: np.ndarray, ux: np.ndarray, uy: np.ndarray,
         lo: float, hi: float, seen: tuple[tuple[float, float], tuple[float, float]]) -> Lattice | None:
    """The best lattice through lines along x (``rows``) and along y (``cols``) of one strip pair:
    the spacing from two parallel lines of either family (1 to 3 spacings apart), then every line
    of each family at a whole number of spacings from another, the two families perpendicular.
    A grid prints every line: each lattice line that falls where lines were looked for (``seen``:
    offsets of rows, of columns) must have been found."""
    spacings = []
    for family in (rows, cols):
        for a, b in combinations(family, 2):
            if abs(a.slope - b.slope) <= PARALLEL:
                d = abs(a.offset - b.offset) / math.sqrt(1.0 + ((a.slope + b.slope) / 2) ** 2)
                spacings += [d / k for k in range(1, 4) if lo <= d / k <= hi]
    best: tuple[tuple[int, float], tuple] | None = None
    for p in spacings:
        on_r, on_c = _on_lattice(rows, p, seen[0]), _on_lattice(cols, p, seen[1])
        if not on_r or not on_c or len(on_r) + len(on_c) < MIN_LINES:
            continue
        # perpendicular: a row turned by +t has slope tan t; a column turned by +t, slope -tan t
        if abs(np.mean([line.slope for line, _ in on_r]) + np.mean([line.slope for line, _ in on_c])) > PERPENDICULAR:
            continue
        cover = float(np.mean([line.coverage for line, _ in on_r + on_c]))
        key = (len(on_r) + len(on_c), cover)
        if best is None or key > best[0]:
            best = (key, (on_r, on_c, cover, p))
    if best is None:
        return None
    on_r, on_c, cover, p = best[1]
    pixel, index = [], []
    for row, i in on_r:
        for col, j in on_c:
            pixel.append(_crossing(centre, ux, uy, col, row))
            index.append((j, i))
    pixel_a, index_a = np.array(pixel), np.array(index, dtype=int)
    index_a -= index_a.min(axis=0)
    if len(on_r) > 1 and len(on_c) > 1:  # the spacing and direction from the crossings (least squares)
        coef, *_ = np.linalg.lstsq(np.column_stack([index_a, np.ones(len(index_a))]), pixel_a, rcond=None)
        spacing = float(np.mean([np.hypot(*coef[0]), np.hypot(*coef[1])]))
        direction = math.degrees(math.atan2(coef[0][1], coef[0][0]))
    else:   # one line across: the spacing of the other family's lines, the rows' direction
        spacing = p
        slope = float(np.mean([line.slope for line, _ in on_r]))
        direction = math.degrees(math.atan2(ux[1] + slope * uy[1], ux[0] + slope * uy[0]))
    return Lattice(pixel_a, index_a, spacing, direction, cover, (len(on_r), len(on_c)))


def _on_lattice(lines: list, spacing: float, seen: tuple[float, float]) -> list[tuple]:
    """The most lines of one family that lie a whole number of ``spacing`` apart and are parallel,
    one per lattice line (the best covered), with their index; empty when a lattice line within
    ``seen`` (offsets where lines were looked for) has no line."""
    best: list[tuple] = []
    for ref in lines:
        by_index: dict[int, object] = {}
        for line in lines:
            if abs(line.slope - ref.slope) > PARALLEL:
                continue
            k = (line.offset - ref.offset) / spacing
            if abs(k - round(k)) * spacing > ON_LATTICE_PX:
                continue
            i = int(round(k))
            if i not in by_index or line.coverage > by_index[i].coverage:
                by_index[i] = line
        first = math.ceil((seen[0] + ON_LATTICE_PX - ref.offset) / spacing)
        last = math.floor((seen[1] - ON_LATTICE_PX - ref.offset) / spacing)
        if any(i not in by_index for i in range(first, last + 1)):
            continue   # a grid line missing where it would have been seen: not this lattice
        if len(by_index) > len(best):
            best = [(line, i) for i, line in sorted(by_index.items())]
    return best


def labelled(lattice: Lattice, series: GridSeries, origin: tuple[int, int]) -> np.ndarray:
    """The grid coordinates (N, 2) of the lattice's crossings when its first column and row are the
    grid's lines ``origin`` (X index, Y index) (X grows with the column, Y up the map: down the rows)."""
    i0, j0 = origin
    return np.column_stack([(i0 + lattice.index[:, 0]) * series.spacing,
                            (j0 - lattice.index[:, 1]) * series.spacing])


def origins_near(lattice: Lattice, series: GridSeries, centre_pixel: tuple[float, float],
                 centre_world: tuple[float, float], radius: float) -> list[tuple[int, int]]:
    """The labellings (origins, see :func:`labelled`) that put the map pixel ``centre_pixel`` within
    ``radius`` (grid CRS units) of ``centre_world``, nearest first."""
    m, t = lattice.index_to_pixel()
    frac = np.linalg.solve(m.T, np.asarray(centre_pixel, float) - t)   # lattice index of the centre
    s = series.spacing
    i_c, j_c = centre_world[0] / s - frac[0], centre_world[1] / s + frac[1]
    n = int(math.ceil(radius / s)) + 1
    out = []
    for i0 in range(int(math.floor(i_c)) - n, int(math.ceil(i_c)) + n + 1):
        for j0 in range(int(math.floor(j_c)) - n, int(math.ceil(j_c)) + n + 1):
            d = math.hypot(i0 - i_c, j0 - j_c) * s
            if d <= radius:
                out.append((d, (i0, j0)))
    return [o for _, o in sorted(out)]


def lattice_mapping(pixel: np.ndarray, world: np.ndarray):  # noqa: ANN201 - a callable (N, 2) -> (N, 2)
    """Pixel -> world (y up) mapping through crossings: an affine when they span both directions,
    else (crossings along one line) the similarity through them, least squares."""
    pixel, world = np.asarray(pixel, float), np.asarray(world, float)
    design = np.column_stack([pixel, np.ones(len(pixel))])
    if len(pixel) >= 3 and np.linalg.matrix_rank(design) == 3:
        coef, *_ = np.linalg.lstsq(design, world, rcond=None)
        return lambda px: np.column_stack([np.asarray(px, float).reshape(-1, 2), np.ones(len(px))]) @ coef
    # complex numbers: the pixels with y flipped (y up) are turned and scaled onto the world
    zp, zw = pixel[:, 0] - 1j * pixel[:, 1], world[:, 0] + 1j * world[:, 1]
    pm, wm = zp.mean(), zw.mean()
    c = np.vdot(zp - pm, zw - wm) / np.vdot(zp - pm, zp - pm)

    def apply(px: np.ndarray) -> np.ndarray:
        px = np.asarray(px, float).reshape(-1, 2)
        z = c * (px[:, 0] - 1j * px[:, 1] - pm) + wm
        return np.column_stack([z.real, z.imag])

    return apply
