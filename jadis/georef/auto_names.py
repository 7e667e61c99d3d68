"""Name cues: street names read on the map, located through the gazetteers, as a place prior.

A map that prints "Rue de Sèvres", "Rue du Bac" and "Rue de Grenelle" lies where those streets
meet. Each name read (a :class:`NameCue`: the canonical name and its pixel position) is looked up
in the gazetteers with geometry valid near the map's year (street centre-lines, address points,
street centre points; EPSG:2154). For every hypothesised scale and (near upright) rotation of the
map, a cue at pixel offset ``d`` from the map's centre says that the centre lies at ``g - s R d``
for some point ``g`` of its street: a shifted copy of the street, widened by a tolerance. The
hypotheses where the most **different** names agree (a vote over a grid of centres) are the
candidate areas (:class:`PlaceArea`) of the :class:`PlacePrior`: a misread name or a homonym far
away adds a vote somewhere else, never at the true place, and an area needs at least
:data:`MIN_NAMES` names to count.

:func:`jadis.georef.auto.auto_georeference` searches those areas first (the search restricted to
windows around them, at the scales the names allow) and keeps that answer only if dense matching
and every refusal check pass and the final alignment puts at least :data:`MIN_NAMES` of the names
on their streets (:meth:`PlacePrior.agreeing`); otherwise it runs the usual unrestricted search.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from jadis.errors import JadisError

#: Fewest different names that must agree on an area (and on the final alignment).
MIN_NAMES = 3
#: Readings less confident than this are not used as cues.
MIN_CUE_SCORE = 0.5
#: Tolerance (metres) between a label's centre and its street: centre-lines and address points,
#: and one centre point per street (the label may be anywhere along the street).
LINE_TOLERANCE = 50.0
POINT_TOLERANCE = 150.0
#: Extra tolerance per metre of a cue's offset from the map's centre (scale and rotation steps).
OFFSET_SLACK = 0.06
#: Scale step (ratio - 1) and rotations (degrees) of the vote.
SCALE_STEP = 0.08
ROTATION_STEP = 4.0
MAX_ROTATION = 8.0
#: Vote grid cell (metres); coarser for maps whose names reach far.
CELL = 40.0
MAX_GRID = 900
#: Most candidate areas; an area needs at least this fraction of the best area's votes.
MAX_AREAS = 3
AREA_VOTE_FRACTION = 0.5
#: Search radius (metres) of an area's centre: at least this, at most AREA_MAX_RADIUS.
AREA_MIN_RADIUS = 250.0
AREA_MAX_RADIUS = 3000.0
#: Widening of an area's scale range (ratio).
SCALE_MARGIN = 1.15
#: Gazetteer kinds with geometry that locate names.
KINDS = ("street_network", "address_points", "street_points")
#: A gazetteer is used for a map of year Y when Y is within this many years of its validity.
YEAR_SLACK = 60


@dataclass(frozen=True)
class NameCue:
    """A street name read on the map: canonical ``name`` at pixel (``x``, ``y``), confidence ``score``."""

    name: str
    x: float
    y: float
    score: float = 1.0


@dataclass(frozen=True)
class PlaceArea:
    """Where the names put the map: its centre (EPSG:2154) within ``radius`` metres of (x, y), at
    ``scale`` (min, max) metres per map pixel; ``names``: the names that agree there."""

    x: float
    y: float
    radius: float
    scale: tuple[float, float]
    names: tuple[str, ...]

    @property
    def votes(self) -> int:
        return len(self.names)


@dataclass
class PlacePrior:
    """Candidate areas of a map from its name cues, best first, and the located names."""

    areas: list[PlaceArea]
    cues: list[NameCue]
    places: dict[str, list] = field(default_factory=dict)   # name key -> [(shapely geometry, tolerance)]
    seconds: float = 0.0

    def __bool__(self) -> bool:
        return bool(self.areas)

    def agreeing(self, forward: Callable[[np.ndarray], np.ndarray], centre: tuple[float, float]) -> int:
        """How many different located names a mapping (pixels -> EPSG:2154) puts on their street."""
        import shapely

        hits = set()
        for cue in self.cues:
            key = _key(cue.name)
            if key in hits or key not in self.places:
                continue
            xy = forward(np.array([[cue.x, cue.y], list(centre)], float))
            off = float(np.hypot(*(xy[0] - xy[1])))
            pt = shapely.Point(*xy[0])
            if any(geom.distance(pt) <= tol + OFFSET_SLACK * off for geom, tol in self.places[key]):
                hits.add(key)
        return len(hits)

    def summary(self) -> dict:
        return {"cues": len(self.cues), "located": len(self.places),
                "areas": [{"x": round(a.x), "y": round(a.y), "radius_m": round(a.radius),
                           "m_per_px": [round(a.scale[0], 3), round(a.scale[1], 3)], "names": list(a.names)}
                          for a in self.areas],
                "seconds": round(self.seconds, 2)}


def _key(name: str) -> str:
    from jadis.geocode.normalize import street_name

    return street_name(name).key


def cues_from_text(text: object, min_score: float = MIN_CUE_SCORE) -> list[NameCue]:
    """The named lines of a :class:`~jadis.ocr.mapread.MapText` as cues (confident ones only)."""
    out = []
    for line in text.named_lines:  # type: ignore[attr-defined]
        if line.score >= min_score:
            c = line.centre
            out.append(NameCue(str(line.name), float(c[0]), float(c[1]), float(line.score)))
    return out


def locate_names(cues: Sequence[NameCue], year: int | None = None) -> dict[str, list]:
    """name key -> [(geometry in EPSG:2154, tolerance metres)] for the cues' names found in the
    gazetteers with geometry (valid within :data:`YEAR_SLACK` years of ``year`` when given)."""
    import shapely

    from jadis.geocode.gazetteer import list_gazetteers, load_gazetteer

    wanted = {_key(c.name) for c in cues}
    wanted.discard("")
    found: dict[str, list] = {}
    if not wanted:
        return found
    for info in list_gazetteers():
        if info.kind not in KINDS:
            continue
        if year is not None and info.years is not None and not (
                info.years[0] - YEAR_SLACK <= year <= info.years[1] + YEAR_SLACK):
            continue
        frame = load_gazetteer(info).frame
        if "geometry" not in frame.columns or len(frame) == 0:
            continue
        tol = POINT_TOLERANCE if info.kind == "street_points" else LINE_TOLERANCE
        names = frame["name"].astype("string").fillna("").to_numpy()
        keys = np.array([_key(n) if n else "" for n in names], dtype=object)
        hit = np.flatnonzero(np.isin(keys, list(wanted)))
        geoms = frame.geometry.to_numpy()
        by_key: dict[str, list] = {}
        for i in hit:
            if geoms[i] is not None and not geoms[i].is_empty:
                by_key.setdefault(keys[i], []).append(geoms[i])
        for key, gs in by_key.items():
            found.setdefault(key, []).append((shapely.union_all(gs), tol))
    return found


def place_prior(cues: Sequence[NameCue], size: tuple[int, int], scale_range: tuple[float, float],
                year: int | None = None, places: dict[str, list] | None = None,
                max_rotation: float = MAX_ROTATION) -> PlacePrior:
    """The areas where at least :data:`MIN_NAMES` different cue names agree on one pose of a map of
    ``size`` (width, height) pixels at ``scale_range`` metres per pixel (see the module's doc)."""
    started = time.perf_counter()
    cues = [c for c in cues if c.score >= MIN_CUE_SCORE and _key(c.name)]
    if places is None:
        places = locate_names(cues, year)
    cues = [c for c in cues if _key(c.name) in places]
    prior = PlacePrior([], cues, places)
    if len({_key(c.name) for c in cues}) < MIN_NAMES:
        prior.seconds = time.perf_counter() - started
        return prior
    lo, hi = sorted(float(v) for v in scale_range)
    if lo <= 0:
        raise JadisError("the scale range of the name prior must be positive metres per pixel")
    w, h = size
    centre = np.array([w / 2, h / 2])
    offsets = np.array([[c.x, c.y] for c in cues]) - centre          # pixels, y down
    reach = hi * float(np.max(np.hypot(*offsets.T))) + POINT_TOLERANCE
    bounds = _bounds([g for key in {_key(c.name) for c in cues} for g, _ in places[key]])
    x0, y0, x1, y1 = bounds[0] - reach, bounds[1] - reach, bounds[2] + reach, bounds[3] + reach
    cell = max(CELL, max(x1 - x0, y1 - y0) / MAX_GRID)
    shape = (int(np.ceil((y1 - y0) / cell)), int(np.ceil((x1 - x0) / cell)))
    dist = {key: _distance_grid(places[key], (x0, y1), cell, shape) for key in {_key(c.name) for c in cues}}
    scales = lo * np.exp(np.arange(0.0, np.log(hi / lo) + 1e-9, np.log1p(SCALE_STEP)))
    n_rot = int(np.floor(max(0.0, max_rotation) / ROTATION_STEP))
    thetas = ROTATION_STEP * np.arange(-n_rot, n_rot + 1)
    keys = [_key(c.name) for c in cues]
    best = np.zeros(shape, np.int16)
    best_h = np.full(shape, -1, np.int32)
    hyps: list[tuple[float, float]] = []
    for s in scales:
        for th in thetas:
            votes = _votes(dist, keys, offsets, float(s), float(th), cell, shape)
            better = votes > best
            best[better] = votes[better]
            best_h[better] = len(hyps)
            hyps.append((float(s), float(th)))
    prior.areas = _areas(best, best_h, hyps, dist, keys, offsets, (x0, y1), cell, max(w, h))
    prior.seconds = time.perf_counter() - started
    return prior


def _bounds(geoms: list) -> tuple[float, float, float, float]:
    import shapely

    b = shapely.bounds(np.asarray(geoms, dtype=object))
    return float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max())


def _distance_grid(entries: list, origin: tuple[float, float], cell: float, shape: tuple[int, int]) -> np.ndarray:
    """Distance (metres) from each cell to the name's geometry, minus its tolerance (<= 0: on it)."""
    import cv2
    from rasterio import features
    from rasterio.transform import Affine

    transform = Affine(cell, 0, origin[0], 0, -cell, origin[1])
    out = np.full(shape, np.inf, np.float32)
    for geom, tol in entries:
        burnt = features.rasterize([(geom, 1)], out_shape=shape, transform=transform, all_touched=True,
                                   dtype="uint8")
        if not burnt.any():
            continue
        d = cv2.distanceTransform((burnt == 0).astype(np.uint8), cv2.DIST_L2, 5) * cell - tol
        out = np.minimum(out, d.astype(np.float32))
    return out


def _shifted(arr: np.ndarray, dr: int, dc: int, fill: float) -> np.ndarray:
    """``out[r, c] = arr[r + dr, c + dc]`` (``fill`` outside)."""
    h, w = arr.shape
    out = np.full_like(arr, fill)
    r0, r1 = max(0, -dr), min(h, h - dr)
    c0, c1 = max(0, -dc), min(w, w - dc)
    if r1 > r0 and c1 > c0:
        out[r0:r1, c0:c1] = arr[r0 + dr:r1 + dr, c0 + dc:c1 + dc]
    return out


def _world_offset(offsets: np.ndarray, s: float, theta: float) -> np.ndarray:
    """Pixel offsets (y down) -> world offsets (metres, Y up) at scale ``s``, map turned ``theta`` degrees."""
    t = np.radians(theta)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    return s * (np.column_stack([offsets[:, 0], -offsets[:, 1]]) @ rot.T)


def _votes(dist: dict[str, np.ndarray], keys: list[str], offsets: np.ndarray, s: float, theta: float,
           cell: float, shape: tuple[int, int]) -> np.ndarray:
    """Number of different names that put the map's centre in each cell (one pose hypothesis)."""
    world = _world_offset(offsets, s, theta)
    per_key: dict[str, np.ndarray] = {}
    for key, off in zip(keys, world, strict=True):
        # the label lies at centre + off: the centre cell (r, c) looks at the label's cell
        dr, dc = int(round(-off[1] / cell)), int(round(off[0] / cell))
        ok = _shifted(dist[key], dr, dc, np.inf) <= OFFSET_SLACK * float(np.hypot(*off)) + cell / 2
        per_key[key] = per_key[key] | ok if key in per_key else ok
    votes = np.zeros(shape, np.int16)
    for ok in per_key.values():
        votes += ok
    return votes


def _areas(best: np.ndarray, best_h: np.ndarray, hyps: list[tuple[float, float]], dist: dict[str, np.ndarray],
           keys: list[str], offsets: np.ndarray, origin: tuple[float, float], cell: float,
           long_side: int) -> list[PlaceArea]:
    """Non-maximum suppression of the vote map: up to :data:`MAX_AREAS` areas, best first."""
    top = int(best.max()) if best.size else 0
    if top < MIN_NAMES:
        return []
    floor = max(MIN_NAMES, int(np.ceil(AREA_VOTE_FRACTION * top)))
    remaining = best.copy()
    rows, cols = np.indices(best.shape)
    areas: list[PlaceArea] = []
    while len(areas) < MAX_AREAS:
        v = int(remaining.max())
        if v < floor:
            break
        r, c = np.unravel_index(int(np.argmax(remaining)), best.shape)
        s0 = hyps[int(best_h[r, c])][0]
        near = np.hypot(rows - r, cols - c) * cell <= max(AREA_MIN_RADIUS, 0.5 * s0 * long_side)
        rr, cc = np.nonzero(near & (best == v))
        x, y = float(origin[0] + (cc.mean() + 0.5) * cell), float(origin[1] - (rr.mean() + 0.5) * cell)
        # the area holds the hypotheses that lack at most one name of the best (long streets and
        # few names leave the scale, and with it the centre, loosely tied)
        plateau = near & (best >= max(MIN_NAMES, v - 1))
        rr, cc = np.nonzero(plateau)
        xs, ys = origin[0] + (cc + 0.5) * cell, origin[1] - (rr + 0.5) * cell
        radius = float(np.clip(np.max(np.hypot(xs - x, ys - y)) + cell, AREA_MIN_RADIUS, AREA_MAX_RADIUS))
        remaining[near] = 0
        if any(np.hypot(x - a.x, y - a.y) <= a.radius for a in areas):
            continue  # the same place as a better area (another peak of its plateau)
        sc = np.array([hyps[int(h)][0] for h in best_h[plateau]])
        names = _agreeing_names(dist, keys, offsets, hyps[int(best_h[r, c])], (int(r), int(c)), cell)
        areas.append(PlaceArea(x, y, radius, (float(sc.min()) / SCALE_MARGIN, float(sc.max()) * SCALE_MARGIN),
                               names))
    return areas


def _agreeing_names(dist: dict[str, np.ndarray], keys: list[str], offsets: np.ndarray, hyp: tuple[float, float],
                    rc: tuple[int, int], cell: float) -> tuple[str, ...]:
    world = _world_offset(offsets, *hyp)
    out: list[str] = []
    for key, off in zip(keys, world, strict=True):
        r, c = rc[0] + int(round(-off[1] / cell)), rc[1] + int(round(off[0] / cell))
        d = dist[key]
        if key not in out and 0 <= r < d.shape[0] and 0 <= c < d.shape[1] and \
                d[r, c] <= OFFSET_SLACK * float(np.hypot(*off)) + cell / 2:
            out.append(key)
    return tuple(out)


# -- reading the names ----------------------------------------------------------------------------
def read_name_cues(scan: str | os.PathLike[str], classes: str | os.PathLike[str], year: int | None = None,
                   progress: bool = True) -> list[NameCue]:
    """Read the street names of ``scan`` (its class raster from ``jadis segment``: ``classes``, the
    same size) and return the confident ones as cues (~25-45 s per 9 MP on a CPU)."""
    import warnings

    from jadis.geocode.vocabulary import vocabulary
    from jadis.io.images import open_image
    from jadis.ocr.correct import NameCorrector
    from jadis.ocr.layers import image_reader_for
    from jadis.ocr.mapread import read_map_text
    from jadis.vectorize.layers import vectorize_class_raster

    scan, classes = Path(scan), Path(classes)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not georeferenced.*")
        layers = vectorize_class_raster(classes, progress=progress)
    labels, streets = layers.get("labels"), layers.get("streets")
    if labels is None or streets is None or len(labels) == 0 or len(streets) == 0:
        return []
    with open_image(scan) as ds:
        text = read_map_text(image_reader_for(ds, scan), labels, streets, corrector=NameCorrector(vocabulary(year=year)),
                             size=(ds.width, ds.height), progress=progress)
    return cues_from_text(text)


@contextmanager
def segmented(map_path: str | os.PathLike[str], scan: str | os.PathLike[str] | None = None, *,
              checkpoint: str | os.PathLike[str] | None = None, device: str = "cpu",
              progress: bool = True) -> Iterator[tuple[object, Path | None, Path | None]]:
    """(roads, scan, classes): the street mask of a map (:class:`~jadis.georef.auto_inputs.MapRoads`)
    and, where it has text to read, its scan and class raster, for :func:`read_name_cues`.

    ``map_path``: a scan (segmented once here, into a class raster kept while the context is open)
    or a class raster of ``jadis segment`` with its ``scan`` (else nothing to read); a road mask has
    no text (scan and classes None)."""
    import tempfile
    from dataclasses import replace

    from jadis.georef.auto_inputs import classify_image, load_map_roads
    from jadis.io.images import check_image

    map_path = Path(map_path)
    kind = classify_image(map_path)
    if kind != "scan":
        if kind == "classes" and scan is not None:
            a, b = check_image(map_path), check_image(scan)
            if (a.width, a.height) != (b.width, b.height):
                raise JadisError(f"--scan: {Path(scan).name} is {b.width}x{b.height} pixels but {map_path.name} "
                                 f"is {a.width}x{a.height}")
        text = kind == "classes" and scan is not None
        yield load_map_roads(map_path, progress=progress), Path(scan) if text else None, map_path if text else None
        return
    from jadis.segment.infer import predict_file
    from jadis.segment.predictor import load_predictor

    with tempfile.TemporaryDirectory(prefix="jadis-auto-") as tmp:
        classes = Path(tmp) / "classes.tif"
        predict_file(map_path, classes, load_predictor(checkpoint, device=device), progress=progress)
        yield replace(load_map_roads(classes, progress=progress), kind="scan", path=map_path), map_path, classes


def roads_and_cues(map_path: str | os.PathLike[str], scan: str | os.PathLike[str] | None = None, *,
                   checkpoint: str | os.PathLike[str] | None = None, device: str = "cpu", year: int | None = None,
                   progress: bool = True) -> tuple[object, list[NameCue]]:
    """The street mask of a map (:class:`~jadis.georef.auto_inputs.MapRoads`) and the names read on it.

    ``map_path``: a scan (segmented once here, for both) or a class raster of ``jadis segment``
    with its ``scan``; a road mask has no text to read (:class:`JadisError`)."""
    from jadis.georef.auto_inputs import classify_image

    kind = classify_image(Path(map_path))
    if kind == "mask":
        raise JadisError(f"{map_path}: a road mask has no names to read; give the scan or its class raster "
                         "with --scan")
    if kind == "classes" and scan is None:
        raise JadisError(f"{map_path} is a class raster: give its scan with --scan to read the names")
    with segmented(map_path, scan, checkpoint=checkpoint, device=device, progress=progress) as (roads, img, classes):
        return roads, read_name_cues(img, classes, year=year, progress=progress)
