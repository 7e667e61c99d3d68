"""The printed grid of an atlas series: an approximate georeference snapped to the grid's crossings.

Paris atlas series print a coordinate grid over the whole sheet: Jacoubet (1836) the Verniquet grid
every 250 m (``VERNIQUET-m``), the Atlas municipal (1868-1937) a kilometre grid (``ATLAS-MUN``). The
librarians' hand-made control points of these series are those crossings. Once a sheet is placed
within a few tens of metres (automatic matching on the streets, :mod:`jadis.georef.auto`), the world
coordinates of every crossing on it are known exactly; only its pixel is to be found. Each crossing
is the intersection of two thin straight lines, each searched in a narrow strip along its expected
direction (offset and a small angle); the crossings found must then agree with one smooth mapping.
The georeference from the crossings is as good as hand-picked control points, and independent of how
far today's streets have moved.

Written here rather than with a general line detector (scikit-image's Hough transform): the lines'
direction and rough place are known, and a line is only accepted as a grid line when it runs, thin
and unbroken, along most of the strip; a search over the whole sheet would mostly find street edges.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: How far (metres) the approximate georeference may put a crossing from its printed place.
SEARCH_M = 40.0
#: Length of the strip searched for each line on each side of the crossing, in grid spacings.
STRIP = 0.4
#: Longest half-strip, pixels (a high-resolution scan's 250 m is thousands of pixels).
MAX_HALF_STRIP = 700
#: Largest angle (degrees) between a grid line and its expected direction.
MAX_ANGLE = 2.0
ANGLE_STEP = 0.1
COARSE = 5    #: angles searched every COARSE steps, then every step near the best
#: Ridge: a line pixel is darker than the paper this far on both sides (metres on the ground,
#: at least ``MIN_SIDE_PX`` pixels), by at least ``RIDGE`` (darkness 0-1).
SIDE_M, MIN_SIDE_PX, RIDGE = 1.0, 3, 0.08
#: A grid line covers at least this share of its strip (a street edge parallel to the grid may too:
#: the crossings' consensus tells them apart).
MIN_COVERAGE = 0.6
#: Least share of a strip that must lie on the scan (a crop's edge cuts the strips of its outer
#: crossings; coverage is then measured on the part that is on it).
MIN_INSIDE = 0.5
#: Lines kept per direction and crossing (the best ones); RANSAC draws of the crossings' consensus.
CANDIDATES = 3
RANSAC_ITERATIONS = 400
#: At least this many crossings, spread over this share of the map's diagonal, to trust the grid;
#: a small map on which fewer lie (a 500 m crop of a 250 m grid holds 4) needs every one of them,
#: and at least FEWEST_CROSSINGS (an affine through 4 is still checked by the 4th).
MIN_CROSSINGS = 6
FEWEST_CROSSINGS = 4
MIN_SPREAD = 0.35
#: A crossing further than this (pixels, or ``RESIDUAL_M`` metres when larger) from the mapping of
#: the others is dropped; the mapping's RMSE must stay under it.
RESIDUAL_PX, RESIDUAL_M = 3.0, 1.5
#: Transforms fitted on the crossings: smooth ones, which extrapolate sanely from the inner
#: crossings to the sheet's rim (chosen by cross-validation).
SNAP_TRANSFORMS = (("polynomial1", FEWEST_CROSSINGS), ("polynomial2", 9))   #: (name, fewest crossings)


@dataclass(frozen=True)
class GridSeries:
    """A printed grid: its CRS (a name :func:`jadis.georef.crs.parse_crs` knows) and line spacing
    (in that CRS's units)."""

    name: str
    crs: str
    spacing: float
    title: str


#: The grids of the Paris atlas series, checked against their published control points
#: (``../shared/data/georef/allmaps_annotations``: the crossings of these grids).
SERIES: tuple[GridSeries, ...] = (
    GridSeries("verniquet-250m", "VERNIQUET-m", 250.0, "Verniquet grid, 250 m (Atlas de Jacoubet, 1836)"),
    GridSeries("atlas-municipal-1km", "ATLAS-MUN", 1000.0, "kilometre grid of the Atlas municipal (1868-1937)"),
)


@dataclass(frozen=True)
class GridFit:
    """Crossings of a printed grid found on a scan: ``pixel`` (N, 2) and their ``world``
    coordinates in the grid's CRS (exact: the grid's own values)."""

    series: GridSeries
    pixel: np.ndarray
    world: np.ndarray
    tried: int         #: crossings expected on the map
    rmse_px: float     #: RMSE of the crossings about a polynomial of order 2 (or affine) through them
    spread: float      #: diagonal of the crossings' box over the map's diagonal

    def summary(self) -> dict:
        return {"series": self.series.name, "title": self.series.title, "crs": self.series.crs,
                "spacing": self.series.spacing,
                "crossings": len(self.pixel), "expected": self.tried, "rmse_px": round(self.rmse_px, 2),
                "spread": round(self.spread, 2)}


def series_by_name(name: str) -> GridSeries:
    """The series called ``name`` (see :data:`SERIES`)."""
    for s in SERIES:
        if s.name == name:
            return s
    from jadis.errors import JadisError

    raise JadisError(f"unknown grid {name!r}; known: {', '.join(s.name for s in SERIES)}")


def read_scan(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """The scan as RGB (H, W, 3) uint8 and as darkness in [0, 1] (float32, 1 = black ink)."""
    from jadis.io.images import open_image, to_rgb

    with open_image(Path(path)) as ds:
        rgb = to_rgb(np.moveaxis(ds.read(), 0, -1))
    return rgb, darkness(rgb)


def darkness(rgb: np.ndarray) -> np.ndarray:
    """Darkness in [0, 1] (float32, 1 = black ink) of an RGB uint8 image."""
    return 1.0 - rgb.astype(np.float32).mean(axis=2) / 255.0


def _strip(dark: np.ndarray, p: np.ndarray, along: np.ndarray, across: np.ndarray, half: int,
           reach: int) -> np.ndarray:
    """Darkness sampled on a grid: rows along ``along`` (-half..half), columns across (-reach..reach)."""
    from scipy.ndimage import map_coordinates

    t = np.arange(-half, half + 1, dtype=np.float32)
    c = np.arange(-reach, reach + 1, dtype=np.float32)
    pts = p[None, None, :] + t[:, None, None] * along[None, None, :] + c[None, :, None] * across[None, None, :]
    return map_coordinates(dark, [pts[..., 1], pts[..., 0]], order=1, mode="constant", cval=0.0)


@dataclass(frozen=True)
class _Line:
    offset: float    #: across the strip, pixels, at the crossing
    slope: float     #: offset change per pixel along the strip
    coverage: float
    second: float    #: coverage of the best line parallel to it elsewhere in the strip
    halves: tuple[float, float] = (0.0, 0.0)  #: coverage on each side of the crossing


def find_lines(dark: np.ndarray, p: np.ndarray, along: np.ndarray, across: np.ndarray, half: int,
               reach: int, side: int, n: int = 1, min_coverage: float = MIN_COVERAGE) -> list[_Line]:
    """The thin straight dark lines through a strip centred on ``p`` that cover most of it, best
    first: the best one, and up to ``n`` in all that cover ``min_coverage`` of the strip (their
    offset across ``across`` and slope, searched within ``reach`` pixels and :data:`MAX_ANGLE`)."""
    angles = np.arange(-MAX_ANGLE, MAX_ANGLE + ANGLE_STEP / 2, ANGLE_STEP)
    tans = np.tan(np.radians(angles))
    extra = int(math.ceil(half * float(np.abs(tans).max()))) + side + 1
    strip = _strip(dark, p, along, across, half, reach + extra)
    ridge = strip[:, side:-side] - 0.5 * (strip[:, :-2 * side] + strip[:, 2 * side:])
    on = ridge > RIDGE   # columns: offsets -(reach + extra - side) ..
    t = np.arange(-half, half + 1)
    # only the part of the strip on the scan counts (a crop cuts the lines near its edges)
    centre = p[None, :] + t[:, None] * along[None, :]
    height, width = dark.shape
    inside = ((centre[:, 0] >= 0) & (centre[:, 0] <= width - 1) & (centre[:, 1] >= 0)
              & (centre[:, 1] <= height - 1))
    if inside.mean() < MIN_INSIDE:
        return []
    t, on = t[inside], on[inside]
    rows = np.arange(len(t))[:, None]
    cols = np.arange(-reach, reach + 1)[None, :] + (reach + extra - side)
    cover = np.full((len(tans), 2 * reach + 1), -1.0)

    def score(ks: np.ndarray) -> None:
        for k in ks:
            if cover[k, 0] < 0:
                cover[k] = on[rows, cols + np.round(t * tans[k]).astype(int)[:, None]].mean(axis=0)

    # coarse angles first, then every angle near the best (a line 0.25 deg off still covers most
    # of its strip at the coarse step)
    coarse = np.arange(0, len(tans), COARSE)
    score(coarse)
    k0 = int(coarse[np.argmax(cover[coarse].max(axis=1))])
    score(np.arange(max(0, k0 - COARSE + 1), min(len(tans), k0 + COARSE)))
    best = cover.max(axis=0)   # per offset, over the angles scored
    picked: list[int] = []
    for j in np.argsort(-best, kind="stable"):
        if picked and best[j] < min_coverage:
            break
        if all(abs(int(j) - q) > 2 * side for q in picked):
            picked.append(int(j))
            if len(picked) == n:
                break
    out = []
    for j in picked:
        k = int(np.argmax(cover[:, j]))
        far = np.abs(np.arange(2 * reach + 1) - j) > 2 * side
        second = float(best[far].max()) if far.any() else 0.0
        offset = float(j - reach)
        if 0 < j < cover.shape[1] - 1:  # sub-pixel: a parabola through the peak and its neighbours
            a, b, c = cover[k, j - 1], cover[k, j], cover[k, j + 1]
            if a - 2 * b + c < 0 and min(a, c) >= 0:
                offset += float(np.clip(0.5 * (a - c) / (a - 2 * b + c), -0.5, 0.5))
        path = on[rows[:, 0], cols[0, j] + np.round(t * tans[k]).astype(int)]
        halves = (float(path[t < 0].mean()) if (t < 0).any() else 0.0, float(path[t > 0].mean()) if (t > 0).any() else 0.0)
        out.append(_Line(offset, float(tans[k]), float(cover[k, j]), second, halves))
    return out


def _crossing(p: np.ndarray, ux: np.ndarray, uy: np.ndarray, lx: _Line, ly: _Line) -> np.ndarray:
    """Where the line of constant X (along ``uy``, offset along ``ux``) meets the line of constant
    Y (along ``ux``, offset along ``uy``)."""
    # line X: p + (oX + sX t) ux + t uy ; line Y: p + s ux + (oY + sY s) uy
    denom = 1.0 - lx.slope * ly.slope
    t = (ly.offset + ly.slope * lx.offset) / denom
    s = lx.offset + lx.slope * t
    return p + s * ux + t * uy


def _poly2(world: np.ndarray) -> np.ndarray:
    x, y = world.T
    return np.column_stack([np.ones_like(x), x, y, x * x, x * y, y * y])


def _robust_residuals(pixel: np.ndarray, world: np.ndarray, tol: float) -> np.ndarray:
    """Mask of the crossings that agree with one smooth mapping (:func:`_fit_poly`) fitted to them,
    the worst dropped one at a time while beyond ``tol`` pixels."""
    keep = np.ones(len(pixel), dtype=bool)
    while keep.sum() >= FEWEST_CROSSINGS:
        res = np.hypot(*(_fit_poly(world[keep], pixel[keep])(world[keep]) - pixel[keep]).T)
        worst = int(np.argmax(res))
        if res[worst] <= tol:
            return keep
        keep[np.flatnonzero(keep)[worst]] = False
    return keep


def _nodes(shape: tuple[int, int], georef, series: GridSeries) -> tuple[np.ndarray, np.ndarray, float]:
    """The grid's crossings on a map of ``shape`` (rows, cols) as ``georef`` places them: their grid
    coordinates (N, 2), pixels with probes a ``step`` along X and Y (3, N, 2), and the step."""
    from jadis.georef.crs import parse_crs, reproject

    height, width = shape
    grid_crs = parse_crs(series.crs)
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=float)
    world_corners = reproject(georef.pixel_to_world(corners), georef.crs, grid_crs)
    lo, hi = world_corners.min(axis=0), world_corners.max(axis=0)
    xs = np.arange(math.ceil(lo[0] / series.spacing), math.floor(hi[0] / series.spacing) + 1) * series.spacing
    ys = np.arange(math.ceil(lo[1] / series.spacing), math.floor(hi[1] / series.spacing) + 1) * series.spacing
    if len(xs) == 0 or len(ys) == 0 or len(xs) * len(ys) > 2000:
        return np.zeros((0, 2)), np.zeros((3, 0, 2)), 1.0
    step = series.spacing / 20
    gx, gy = np.meshgrid(xs, ys)
    nodes = np.column_stack([gx.ravel(), gy.ravel()])
    # each crossing where the georeference puts it; the grid's directions there from an affine
    # fitted to the georeference over the whole map (a spline can turn locally by a few degrees)
    px = georef.world_to_pixel(reproject(nodes, grid_crs, georef.crs))[None].repeat(3, axis=0)
    samples = np.stack(np.meshgrid(np.linspace(0, width, 9), np.linspace(0, height, 9)), axis=-1).reshape(-1, 2)
    sample_world = reproject(georef.pixel_to_world(samples), georef.crs, grid_crs)
    coef, *_ = np.linalg.lstsq(np.column_stack([sample_world, np.ones(len(samples))]), samples, rcond=None)
    px[1] += coef[0] * step
    px[2] += coef[1] * step
    inside = (px[0, :, 0] >= 2) & (px[0, :, 0] <= width - 2) & (px[0, :, 1] >= 2) & (px[0, :, 1] <= height - 2)
    inside &= np.isfinite(px).all(axis=(0, 2))
    nodes, px = nodes[inside], px[:, inside]
    return nodes, px, step


def find_grid(dark: np.ndarray, georef, series: GridSeries, search_m: float = SEARCH_M) -> GridFit | None:
    """The crossings of ``series``'s grid on a scan (``dark``: :func:`darkness`) that an
    approximate ``georef`` (:class:`~jadis.georef.georeference.Georeference`) of it places within
    ``search_m`` metres, or None when too few are found to trust."""
    height, width = dark.shape
    nodes, px, step = _nodes(dark.shape, georef, series)
    if len(nodes) == 0:
        return None
    tried = len(nodes)
    needed = min(MIN_CROSSINGS, max(FEWEST_CROSSINGS, tried))
    # first pass: candidate crossings within the search reach; the affine consensus picks one per node
    cands = {k: _measure(dark, px[:, k], step, series.spacing, search_m, strict=True) for k in range(tried)}
    scale = float(np.median([_per_unit(px[:, k], step) for k in range(tried)]))
    tol = max(RESIDUAL_PX, RESIDUAL_M * scale)
    found = _consensus(cands, nodes, 2 * tol)   # an affine fits a whole sheet to ~2 m
    if len(found) < needed and tried < MIN_CROSSINGS:
        small = _small_map_crossings(dark, cands, nodes, px, step, series, tol)
        if small is None:
            return None
        found, nodes, px = small
        tried = len(nodes)
        needed = max(FEWEST_CROSSINGS, tried)
    if len(found) < needed:
        return None
    keys = np.array(sorted(found))
    keep = _robust_residuals(np.array([found[k] for k in keys]), nodes[keys], tol)
    if keep.sum() < needed:
        return None
    # second pass: every other crossing looked for where the first ones' mapping puts it (the
    # sheet's frame is a grid line drawn double; the lines of a corner run on one side only)
    mapping = _fit_poly(nodes[keys[keep]], np.array([found[k] for k in keys[keep]]))
    predicted = mapping(nodes)
    found = {k: found[k] for k in keys[keep]}
    for k in range(tried):
        if k in found:
            continue
        shift = predicted[k] - px[0, k]
        xy = _measure(dark, px[:, k] + shift, step, series.spacing, tol / scale, strict=False)
        if xy:
            found[k] = xy[0]
    keys = np.array(sorted(found))
    pixel, world = np.array([found[k] for k in keys]), nodes[keys]
    keep = _robust_residuals(pixel, world, tol)
    pixel, world = pixel[keep], world[keep]
    if len(pixel) < needed:
        return None
    spread = float(np.hypot(*np.ptp(pixel, axis=0))) / float(np.hypot(width, height))
    if spread < MIN_SPREAD:
        return None
    rmse = float(np.sqrt(np.mean(np.sum((_fit_poly(world, pixel)(world) - pixel) ** 2, axis=1))))
    return GridFit(series, pixel, world, tried, rmse, spread)


def _small_map_crossings(dark: np.ndarray, cands: dict[int, list[np.ndarray]], nodes: np.ndarray, px: np.ndarray,
                         step: float, series: GridSeries, tol: float
                         ) -> tuple[dict[int, np.ndarray], np.ndarray, np.ndarray] | None:
    """A small map's crossings (fewer than :data:`MIN_CROSSINGS` on it), when the approximate
    georeference predicts them too roughly for its few crossings to agree on an affine mapping: the
    similarity through the best crossing found at two or more nodes (its scale within 3 % and its
    angle within 2 degrees of the approximate georeference's) predicts every crossing on the map
    again, and each is looked for there, within ``tol`` pixels. Returns (crossings by node index,
    the nodes, their probes as :func:`_nodes` gives them) or None."""
    keys = [k for k in cands if cands[k]]
    if len(keys) < 2:
        return None
    # the approximate georeference's world -> pixel Jacobian (columns: per unit of X, of Y); world Y
    # grows up the sheet, so the map is a similarity of the world with Y flipped
    rough = np.array([[(px[1, k] - px[0, k]) / step, (px[2, k] - px[0, k]) / step] for k in keys]).mean(axis=0)
    flip = np.array([1.0, -1.0 if np.linalg.det(rough) < 0 else 1.0])
    rough = rough * flip[None, :]
    world = nodes[keys] * flip
    pixel = np.array([cands[k][0] for k in keys])
    # similarity (flipped) world -> pixel: pixel = [[a, -b], [b, a]] @ (world - mu) + t (least squares)
    mu, pm = world.mean(axis=0), pixel.mean(axis=0)
    w, q = world - mu, pixel - pm
    den = float((w ** 2).sum())
    if den <= 0:
        return None
    a = float((w[:, 0] * q[:, 0] + w[:, 1] * q[:, 1]).sum()) / den
    b = float((w[:, 0] * q[:, 1] - w[:, 1] * q[:, 0]).sum()) / den
    rough_scale = float(np.sqrt(abs(np.linalg.det(rough))))
    if abs(np.hypot(a, b) / rough_scale - 1.0) > 0.03:
        return None
    sim = np.array([[a, -b], [b, a]])
    if abs(math.degrees(math.atan2(*(sim @ [1.0, 0.0])[::-1]) - math.atan2(*(rough[:, 0])[::-1]))) > 2.0:
        return None

    # the similarity as a georeference of the map in the grid's CRS: its crossings as for any map
    from jadis.georef.gcps import GcpSet
    from jadis.georef.georeference import Georeference

    height, width = dark.shape
    corners = np.array([[0, 0], [width, 0], [0, height], [width, height]], float)
    world_corners = ((corners - pm) @ np.linalg.inv(sim).T + mu) * flip
    georef = Georeference(GcpSet(corners, world_corners, series.crs), "polynomial1",
                          image_size=(width, height)).validate()
    nodes, px, _ = _nodes(dark.shape, georef, series)
    if not 0 < len(nodes) < MIN_CROSSINGS:
        return None
    found: dict[int, np.ndarray] = {}
    scale = float(np.hypot(a, b))
    for k in range(len(nodes)):
        xy = _measure(dark, px[:, k], step, series.spacing, tol / scale, strict=False)
        if not xy:
            return None   # every crossing of a small map must be found
        found[k] = xy[0]
    return found, nodes, px


def _per_unit(probe: np.ndarray, step: float) -> float:
    """Pixels per grid unit at a crossing, from its probe points (crossing, +step in X, in Y)."""
    dx, dy = probe[1] - probe[0], probe[2] - probe[0]
    return float(np.sqrt(abs(dx[0] * dy[1] - dx[1] * dy[0]))) / step


def _measure(dark: np.ndarray, probe: np.ndarray, step: float, spacing: float, search_m: float,
             strict: bool) -> list[np.ndarray]:
    """Candidate crossings near ``probe[0]`` (pixels). ``strict``: every pair of lines that each
    cover most of their strip (up to :data:`CANDIDATES` per direction: streets parallel to the grid
    compete; the crossings' agreement decides, see :func:`_consensus`); else (a crossing looked for
    where the others predict it, within a few pixels) the best pair, each line covering most of one
    side of the crossing (a corner of the sheet's frame), or nothing."""
    p = probe[0]
    dx, dy = probe[1] - probe[0], probe[2] - probe[0]
    per_unit = _per_unit(probe, step)
    if not np.isfinite(per_unit) or per_unit <= 0:
        return []
    half = int(min(MAX_HALF_STRIP, STRIP * spacing * per_unit))
    reach = max(2, int(math.ceil(search_m * per_unit)))
    ux, uy = dx / np.linalg.norm(dx), dy / np.linalg.norm(dy)
    side = max(MIN_SIDE_PX, int(round(SIDE_M * per_unit)))
    n = CANDIDATES if strict else 1
    xs = find_lines(dark, p, uy, ux, half, reach, side, n)
    ys = find_lines(dark, p, ux, uy, half, reach, side, n)
    if strict:
        xs = [line for line in xs if line.coverage >= MIN_COVERAGE]
        ys = [line for line in ys if line.coverage >= MIN_COVERAGE]
    else:
        xs = [line for line in xs if max(line.halves) >= MIN_COVERAGE]
        ys = [line for line in ys if max(line.halves) >= MIN_COVERAGE]
    return [_crossing(p, ux, uy, lx, ly) for lx in xs for ly in ys]


def _consensus(cands: dict[int, list[np.ndarray]], nodes: np.ndarray, tol: float,
               iterations: int = RANSAC_ITERATIONS) -> dict[int, np.ndarray]:
    """One crossing per node, those agreeing with one affine mapping world -> pixel (RANSAC over
    triples of nodes, deterministic): the grid is the pattern every crossing shares."""
    keys = [k for k in cands if cands[k]]
    if len(keys) < 3:
        return {}
    rng = np.random.default_rng(0)
    best: tuple[int, float, dict[int, np.ndarray]] = (0, 0.0, {})
    world = nodes[keys]
    for _ in range(iterations):
        pick = rng.choice(len(keys), 3, replace=False)
        w = world[pick]
        a, b = w[1] - w[0], w[2] - w[0]
        if abs(a[0] * b[1] - a[1] * b[0]) < 1e-6 * float(np.ptp(world)) ** 2:
            continue  # collinear nodes fix no affine mapping
        src = np.column_stack([w, np.ones(3)])
        dst = np.array([cands[keys[i]][rng.integers(len(cands[keys[i]]))] for i in pick])
        try:
            coef = np.linalg.solve(src, dst)
        except np.linalg.LinAlgError:
            continue
        pred = np.column_stack([world, np.ones(len(world))]) @ coef
        chosen, total = {}, 0.0
        for i, k in enumerate(keys):
            d = np.hypot(*(np.array(cands[k]) - pred[i]).T)
            j = int(np.argmin(d))
            if d[j] <= tol:
                chosen[k] = cands[k][j]
                total += float(d[j])
        if (len(chosen), -total) > (best[0], -best[1]):
            best = (len(chosen), total, chosen)
    return best[2]


def _fit_poly(world: np.ndarray, pixel: np.ndarray):  # noqa: ANN202 - a callable world -> pixel
    """World -> pixel least-squares polynomial (order 2 from 10 points, else affine)."""
    mu, sd = world.mean(axis=0), max(float(np.ptp(world)), 1.0)
    order2 = len(world) >= 10
    design = _poly2((world - mu) / sd)
    coef, *_ = np.linalg.lstsq(design if order2 else design[:, :3], pixel, rcond=None)

    def apply(w: np.ndarray) -> np.ndarray:
        d = _poly2((np.asarray(w, dtype=float) - mu) / sd)
        return (d if order2 else d[:, :3]) @ coef

    return apply


def snap_to_grid(dark: np.ndarray, georef, series: tuple[GridSeries, ...] = SERIES,
                 search_m: float = SEARCH_M, transform: str | None = None):  # noqa: ANN201 - (Georeference, GridFit, TransformChoice) | None
    """The georeference fitted on the printed grid's crossings, for the series of ``series``
    whose grid is found best on the scan (see :func:`find_grid`), with its :class:`GridFit` and the
    transform chosen by leave-one-out error among :data:`SNAP_TRANSFORMS`; None when no grid is
    found. ``transform``: the georeference's transform instead (the chosen one is still reported);
    None when the crossings are too few for it. The control points are the crossings, in
    ``georef``'s CRS."""
    from jadis.errors import JadisError
    from jadis.georef.auto_fit import choose_transform
    from jadis.georef.crs import parse_crs, reproject
    from jadis.georef.gcps import GcpSet

    least = dict(SNAP_TRANSFORMS)
    fits = [fit for s in series if (fit := find_grid(dark, georef, s, search_m)) is not None]
    # the series whose crossings are found the most often (a kilometre grid's lines are also
    # lines of a 250 m grid with the same origin, but most of the latter's crossings are absent)
    for fit in sorted(fits, key=lambda f: len(f.pixel) / max(f.tried, 1), reverse=True):
        world = reproject(fit.world, parse_crs(fit.series.crs), georef.crs)
        try:
            choice = choose_transform(fit.pixel, world, 0.0, tuple(least), least=least)
        except ValueError:
            continue
        ids = tuple(f"grid{k + 1}" for k in range(len(fit.pixel)))
        gcps = GcpSet(fit.pixel, world, georef.crs, ids=ids)
        try:
            snapped = georef.with_gcps(gcps).with_transform(transform or choice.name).validate()
        except JadisError:  # too few crossings for the transform asked for
            return None
        return snapped, fit, choice
    return None
