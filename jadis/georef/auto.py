"""Automatic georeferencing: match a map's street network to a modern one and fit a transform.

The pipeline (details in ``docs/auto_georeferencing.md``):

1. **Inputs** (:mod:`~jadis.georef.auto_inputs`): the map's street mask (a road mask, a class
   raster, or a scan segmented on the fly) and the reference street network (raster or vector).
2. **Global search** (:mod:`~jadis.georef.auto_search`): every rotation (4 degree steps; within
   +-8 degrees of north-up first, the full circle only if that fails) x every scale (4.5 % steps)
   x every translation (FFT) of the map's street-orientation field against the reference's, in
   bands of map extent fitted to the map's size (city plans: 1/4 to 2.5 times the reference;
   atlas sheets: 0.2-2 m per map pixel), each band at a resolution where its smallest map is 16
   pixels long; the best distinct poses are refined at 2x and 4x finer resolution. With street
   names read on the map (``names=``), the areas where the gazetteers put several of them are
   searched first (:mod:`~jadis.georef.auto_names`), and that answer is kept only if it passes
   every check below and agrees with the names; otherwise the search is the usual one.
3. **Dense matching** (:mod:`~jadis.georef.auto_match`): coarse to fine (from at most 25 m per
   pixel down to a few metres), the map is warped with the current estimate and hundreds to
   thousands of patches are matched locally; inconsistent matches are dropped
   (:mod:`~jadis.georef.auto_fit`) and a thin-plate spline through the rest becomes the estimate
   for the next level.
4. **Fit**: the thinned consistent matches of the last level are the GCPs; the transform
   (affine, polynomial 2 or 3, thin-plate spline) is chosen by spatially blocked cross-validation
   unless the user imposes one. The result is a :class:`~jadis.georef.georeference.Georeference`.
5. **Confidence**: the search margin (how much better the chosen pose scored than the best
   different pose), the number and spread of consistent GCPs, and their cross-validated error.
   Below the thresholds the run **fails** (:class:`AutoGeorefFailed`) rather than return a wrong
   alignment.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from jadis.errors import JadisError
from jadis.georef.auto_features import density_levels
from jadis.georef.auto_fit import choose_transform, consistent, thin, tps_mapping
from jadis.georef.auto_inputs import MapRoads, ReferenceRoads, load_map_roads, load_reference
from jadis.georef.auto_match import Mapping, PatchMatches, match_patches
from jadis.georef.auto_names import NameCue, PlaceArea, PlacePrior
from jadis.georef.auto_neighbours import NeighbourPrior
from jadis.georef.auto_search import (
    Candidate,
    MapFields,
    ReferenceFields,
    distinct,
    geometric_grid,
    score_grid,
)
from jadis.georef.grid_labels import LABELLED_SERIES

#: Rotation step (degrees) and scale step (ratio - 1) of the global search.
SEARCH_ROTATION_STEP = 4.0
SEARCH_SCALE_STEP = 0.045
#: Default range of the map's long side, as a fraction of the reference's long side (city plans).
DEFAULT_EXTENT_RANGE = (0.25, 2.5)
#: Plausible scales of atlas sheets (metres per map pixel), searched too by default.
ATLAS_SCALE_RANGE = (0.2, 2.0)
#: Ratio of the largest to the smallest map extent of one atlas band of the search.
BAND_RATIO = 2.0
#: The smallest template (pixels on the map's long side) of an atlas band.
ATLAS_MIN_TEMPLATE = 16
#: Distinct poses kept from the coarse grid (re-scored at 2x resolution), and of those, the
#: poses refined at 4x resolution and tried by dense matching.
SEARCH_CANDIDATES = 30
SEARCH_KEEP = 6
#: Dense matching: patch size and search radius (pixels), the first pass's smallest radius, the
#: coarsest and finest resolutions (m/px; a city map gets passes at 25, 12.5 and 6 m/px; 3 m/px did
#: not help on the benchmark), and for small maps a final resolution of their long side over
#: DENSE_FINAL_PIXELS (never finer than 1.5 reference pixels).
DENSE_PATCH = 48
DENSE_RADIUS = 5
DENSE_FIRST_RADIUS = 8
DENSE_COARSEST = 25.0
DENSE_FINEST = 6.0
DENSE_FINAL_PIXELS = 1300
#: A dense level on which the map's long side is shorter than this (pixels) steps its patches by a
#: quarter of their size instead of a half: maps under ~2 km, whose last level the reference's
#: resolution keeps under DENSE_FINAL_PIXELS, still get enough GCPs (Jacoubet 20, 1.4 km, found 13
#: consistent matches with half-size steps, too few to fit; it aligns with these).
SMALL_LEVEL_PIXELS = 1000
#: Rotations (degrees from north-up) searched first: most sheets are scanned upright; every rotation
#: is searched only when no upright pose passes dense matching and the checks.
UPRIGHT_ROTATION = 8.0
#: Most candidate poses tried by dense matching (best first, across the search bands).
DENSE_TRIES = 8
#: The coarse search's smallest template (pixels on the map's long side).
SEARCH_MIN_TEMPLATE = 16
#: A dense pass is used only if the map's long side holds at least this many patches; a map
#: smaller than SMALL_MAP_EXTENT metres (an atlas sheet) starts with SMALL_MAP_PATCHES_ACROSS, so
#: that its first pass has enough patches to tell consistent matches from chance.
MIN_PATCHES_ACROSS = 4
SMALL_MAP_EXTENT = 2500.0
SMALL_MAP_PATCHES_ACROSS = 8
#: A patch match is used only if its peak correlation exceeds this and is this much higher than
#: its second peak (ratio below).
MIN_PATCH_QUALITY = 0.3
MAX_PEAK_RATIO = 0.9
#: Consistency test: neighbours within this many patch steps; tolerance in pixels of the level.
CONSISTENCY_STEPS = 4
CONSISTENCY_TOL_PX = 2.0
#: Fewest consistent matches a dense pass must find.
MIN_LEVEL_MATCHES = 12
#: Most GCPs written (thinned on a coarser grid beyond it).
MAX_GCPS = 400
#: Failure thresholds: fewest consistent GCPs, their smallest spread (fraction of the map's
#: world extent covered by their bounding box diagonal), the largest cross-validated error
#: (pixels of the last level), and the search margin (PSR ratio best / runner-up) under which the
#: rival poses are dense-matched too (the run fails if one of them matches elsewhere).
MIN_GCPS = 20
MIN_SPREAD = 0.3
MAX_CV_ERROR_PX = 3.0
MIN_SEARCH_MARGIN = 1.15
#: Two dense alignments are the same answer when the map's outline lands within this fraction of
#: its extent (mean distance of the outline's vertices).
SAME_PLACE = 0.05
#: A rival that passes dense matching elsewhere is refuted if its evidence is under this fraction of
#: the chosen pose's (on the benchmark's small sheets: right poses 0.12, wrong ones 0.01-0.02).
RIVAL_EVIDENCE = 0.5
#: When the printed grid values allow several places (:mod:`jadis.georef.grid_labels`), the one the
#: streets match with at least this evidence and twice any other's (right places 0.04-0.18 on the
#: Jacoubet sheets, including the outskirts; wrong ones fail dense matching or score 0.01-0.02).
MIN_GRID_EVIDENCE = 0.03
#: When the grid's lines are labelled by the names read, the labelling kept must put this many
#: more names on their streets than any other (one grid spacing further along a street may not).
LATTICE_NAME_MARGIN = 2


class AutoGeorefFailed(JadisError):
    """Automatic georeferencing found no trustworthy alignment (no output is written)."""


@dataclass(frozen=True)
class AutoOptions:
    """Options of :func:`auto_georeference`.

    ``transform``: ``"auto"`` (chosen by cross-validation) or a transform name/alias.
    ``scale_range``: (min, max) metres per map pixel; default: atlas sheets
    (:data:`ATLAS_SCALE_RANGE` m/px) and city plans (the map's long side
    :data:`DEFAULT_EXTENT_RANGE` times the reference's), see :func:`search_bands`.
    ``max_rotation``: largest rotation (degrees) of the map from north-up that is searched.
    """

    transform: str = "auto"
    scale_range: tuple[float, float] | None = None
    max_rotation: float = 180.0
    checkpoint: str | None = None
    device: str = "cpu"
    grid: str = "auto"   #: printed grid to snap to: "auto" (every known series), "none", or a series name


#: How a result was found, by its grid's ``source`` (None: the streets).
METHODS = {
    None: "jadis street-orientation matching (global FFT search + dense patch matching)",
    "printed values": "jadis printed grid (grid lines found, their printed values read)",
    "grid lines labelled by the names read": "jadis printed grid (grid lines found, labelled by the street "
                                             "names read on the map)",
}


@dataclass(frozen=True)
class AutoResult:
    """A successful automatic georeference and how much to trust it."""

    georef: object  # jadis.georef.georeference.Georeference
    confidence: float
    cv_error_m: float
    transform_cv_m: dict[str, float]
    n_matches: int
    n_consistent: int
    search_score: float
    search_margin: float
    scale: float       # metres per map pixel at the map centre
    rotation: float    # degrees: direction of the map's x axis in the world, counter-clockwise from east
    input_kind: str
    seconds: float
    stages: dict[str, float] = field(default_factory=dict)
    names: dict | None = None   # the place prior of the names read, when it gave the answer
    neighbours: dict | None = None   # the sheets already aligned next to which it was found
    grid: dict | None = None    # the printed grid the result was snapped to (jadis.georef.grid)

    def summary(self) -> dict:
        """JSON-friendly summary (stored in the output file under ``jadis.auto``)."""
        return {
            "method": METHODS.get((self.grid or {}).get("source"), METHODS[None]),
            "confidence": round(self.confidence, 3),
            "cv_error_m": round(self.cv_error_m, 2),
            "transform_cv_m": {k: round(v, 2) for k, v in self.transform_cv_m.items()},
            "gcps": len(self.georef.gcps),
            "matches": self.n_matches,
            "consistent_matches": self.n_consistent,
            "search_score": round(self.search_score, 2),
            "search_margin": round(self.search_margin, 3) if np.isfinite(self.search_margin) else None,
            "metres_per_pixel": round(self.scale, 4),
            "rotation_deg": round(self.rotation, 2),
            "input": self.input_kind,
            "seconds": round(self.seconds, 1),
            "stages": {k: round(v, 2) for k, v in self.stages.items()},
            **({"names": self.names} if self.names else {}),
            **({"neighbours": self.neighbours} if self.neighbours else {}),
            **({"grid": self.grid} if self.grid else {}),
        }


# -- the pipeline -------------------------------------------------------------------------------
def auto_georeference(map_input: str | os.PathLike[str] | MapRoads,
                      reference: str | os.PathLike[str] | ReferenceRoads | ReferenceFields | None = None,
                      options: AutoOptions | None = None, progress: bool = True,
                      names: Sequence[NameCue] | None = None, year: int | None = None,
                      scan: str | os.PathLike[str] | None = None,
                      neighbours: Sequence | None = None,
                      read_names: Callable[[], Sequence[NameCue]] | None = None) -> AutoResult:
    """Georeference a map automatically against a modern street network.

    ``map_input``: a road mask, a jadis class raster, or a scan (path), or loaded
    :class:`~jadis.georef.auto_inputs.MapRoads`. ``reference``: a road raster or vector street
    network (path), or a loaded reference (pass a :class:`ReferenceFields` to reuse its caches
    over many maps); default: the shipped OSM road raster of Paris. ``names``: street names read
    on the map (:class:`~jadis.georef.auto_names.NameCue`, e.g. from
    :func:`~jadis.georef.auto_names.cues_from_text`), located through the gazetteers valid near
    ``year``: the areas where several agree are searched first (:mod:`~jadis.georef.auto_names`);
    without them (or when they locate nothing) the search is the usual one. ``read_names``: reads
    the names on the map when no ``names`` are given and the search fails without them (reading
    costs ~25-45 s per 9 MP, spent only then). ``neighbours``:
    georeferences of other sheets of the same series already aligned (a project's): when the
    upright search fails, the map is looked for next to them (:mod:`~jadis.georef.auto_neighbours`). Once aligned, a
    printed coordinate grid of a known atlas series (:mod:`jadis.georef.grid`, ``options.grid``) is
    looked for on the scan (``map_input`` itself, or ``scan`` when ``map_input`` is its class
    raster or road mask): when found, the result is refitted on the grid's crossings. A sheet whose
    printed grid values are read (:mod:`jadis.georef.grid_labels`) is placed by them first when its
    streets match there, and by them alone when the street match fails; failing that, the lines of
    its grid labelled by the names read (:mod:`jadis.georef.grid_lattice`). Raises
    :class:`AutoGeorefFailed` when no trustworthy alignment is found.
    """
    from jadis.georef.transforms import transform_name

    opts = options or AutoOptions()
    forced = None if str(opts.transform).lower() in {"auto", "best"} else transform_name(opts.transform)
    started = time.perf_counter()
    stages: dict[str, float] = {}
    with _Stages(progress) as st:
        t = time.perf_counter()
        st.step("reading the map")
        roads = map_input if isinstance(map_input, MapRoads) else load_map_roads(
            map_input, checkpoint=opts.checkpoint, device=opts.device, progress=progress)
        st.step("reading the reference")
        reff = _reference_fields(reference)
        mapf = MapFields(roads, density_levels(roads.mask))
        stages["load"] = time.perf_counter() - t

        # upright sheets first (cheap, and fewer wrong poses compete); then every rotation
        passes = [opts]
        if opts.max_rotation > UPRIGHT_ROTATION + SEARCH_ROTATION_STEP:
            passes.insert(0, replace(opts, max_rotation=UPRIGHT_ROTATION))
        attempts: list[tuple[AutoOptions, PlacePrior | NeighbourPrior | None]] = [(p, None) for p in passes]
        if neighbours:  # when the upright search fails: next to the sheets already aligned
            from jadis.georef.auto_neighbours import neighbour_prior

            near = neighbour_prior(neighbours, (roads.width, roads.height))
            if near:
                attempts.insert(1, (passes[0], near))
        prior = _name_prior(names, mapf, opts, year, st, stages)
        if prior:  # the areas the names point to first (upright, as the names were voted)
            attempts.insert(0, (passes[0], prior))
        scan_path = (roads.path if roads.kind == "scan" and scan is None else scan) if opts.grid != "none" else None
        labels = scan_path is not None and opts.grid in {"auto", LABELLED_SERIES}
        scan_pixels = _ScanPixels(None if scan_path is None else Path(scan_path), (roads.width, roads.height))
        if labels:  # a sheet whose printed grid values are read, and whose streets match there: done
            st.step("reading the printed grid")
            t = time.perf_counter()
            early = _from_grid_labels(roads, mapf, reff, scan_pixels, forced, verify=True)
            stages["grid_labels"] = time.perf_counter() - t
            if early is not None:
                return replace(early, seconds=time.perf_counter() - started, stages=stages)
        usual: AutoGeorefFailed | None = None   # why the search without a prior failed: the reason given
        last: AutoGeorefFailed | None = None
        result: AutoResult | None = None
        # the upright attempts; the other cues of an upright sheet; then every rotation (city plans)
        rotated = attempts[-1:] if len(passes) > 1 else []
        for attempt in [*attempts[:len(attempts) - len(rotated)], None, *rotated]:
            if attempt is None:   # the upright search failed: the sheet's other cues
                early, prior = _other_cues(roads, mapf, reff, opts, forced, st, stages, started, labels, scan_pixels,
                                           prior, None if names is not None else read_names, year)
                if early is not None and early.grid is not None and early.grid.get("source"):
                    return replace(early, seconds=time.perf_counter() - started, stages=stages)
                if early is not None:
                    result = early
                    break
                continue
            pass_opts, pass_prior = attempt
            try:
                result = _align(roads, mapf, reff, pass_opts, forced, st, stages, started, pass_prior)
                break
            except AutoGeorefFailed as exc:
                if pass_prior is None:
                    usual = exc
                last = exc
        if result is None:
            raise (usual or last) from None
        if scan_path is not None:
            st.step("looking for a printed grid")
            t = time.perf_counter()
            result = _snap_grid(result, scan_pixels, opts.grid, forced)
            stages["grid"] = time.perf_counter() - t
            result = replace(result, seconds=time.perf_counter() - started, stages=stages)
    return result


def _other_cues(roads: MapRoads, mapf: MapFields, reff: ReferenceFields, opts: AutoOptions, forced: str | None,
                st: _Stages, stages: dict[str, float], started: float, labels: bool, scan_pixels: _ScanPixels,
                prior: PlacePrior | None, read_names: Callable[[], Sequence[NameCue]] | None,
                year: int | None) -> tuple[AutoResult | None, PlacePrior | None]:
    """When the upright street search has failed: the printed grid's values (without the streets'
    confirmation, when they agree); the names read now (``read_names``) and the areas they point to;
    the printed grid's lines labelled by the names. Returns (a result or None, the names' prior). A
    result placed by the grid (``grid["source"]`` set) is final; one from the names' areas is still
    to be snapped to the grid."""
    if labels:
        t = time.perf_counter()
        read = _from_grid_labels(roads, mapf, reff, scan_pixels, forced)
        stages["grid_labels"] = stages.get("grid_labels", 0.0) + time.perf_counter() - t
        if read is not None:
            return read, prior
    if read_names is not None:
        st.step("reading the street names (the search failed without them)")
        t = time.perf_counter()
        late = list(read_names())
        stages["reading_names"] = time.perf_counter() - t
        prior = _name_prior(late, mapf, opts, year, st, stages)
        if prior:
            upright = replace(opts, max_rotation=min(opts.max_rotation, UPRIGHT_ROTATION))
            with contextlib.suppress(AutoGeorefFailed):   # else the grid's lines, below
                return _align(roads, mapf, reff, upright, forced, st, stages, started, prior), prior
    if prior and scan_pixels.path is not None:   # the lines of its printed grid, labelled by the names
        st.step("labelling the printed grid's lines by the names read")
        t = time.perf_counter()
        read = _from_names_and_lattice(roads, mapf, reff, scan_pixels, prior, opts.grid)
        stages["grid_names"] = time.perf_counter() - t
        if read is not None:
            return read, prior
    return None, prior


class _ScanPixels:
    """The scan's pixels (RGB and darkness), read once when first needed by the grid steps; None
    when there is no scan, or it is not the size of the map (not this map's scan)."""

    def __init__(self, path: Path | None, size: tuple[int, int]) -> None:
        self.path, self.size = path, size
        self._pixels: tuple[np.ndarray, np.ndarray] | None = None
        self._read = False
        self.readings: list | None = None   #: what :mod:`jadis.georef.grid_labels` read on it, once read

    def get(self) -> tuple[np.ndarray, np.ndarray] | None:
        if not self._read and self.path is not None:
            from jadis.georef.grid import read_scan

            rgb, dark = read_scan(self.path)
            self._pixels = (rgb, dark) if (dark.shape[1], dark.shape[0]) == self.size else None
        self._read = True
        return self._pixels


def _from_grid_labels(roads: MapRoads, mapf: MapFields, reff: ReferenceFields, scan: _ScanPixels,
                      forced: str | None, verify: bool = False) -> AutoResult | None:
    """The sheet georeferenced from its printed grid alone (:mod:`jadis.georef.grid_labels`): its
    lines, and the values printed at their ends; refined on the crossings as in :func:`_snap_grid`.
    None when the grid or its values cannot be read with certainty. ``verify``: the streets must
    also match where the values put the sheet (:data:`MIN_GRID_EVIDENCE`), even when the values
    agree. The readings are kept on ``scan`` for a later call. (``seconds`` and ``stages`` of the
    result are the caller's to set.)"""
    from jadis.georef.crs import parse_crs
    from jadis.georef.gcps import GcpSet
    from jadis.georef.georeference import Georeference
    from jadis.georef.grid import series_by_name, snap_to_grid
    from jadis.georef.grid_labels import GridReading, read_grid_candidates
    from jadis.ocr.ctc import CtcRecogniser
    from jadis.ocr.mapread import ocr_threads

    pixels = scan.get()
    if pixels is None:
        return None
    rgb, dark = pixels
    if scan.readings is None:
        scan.readings = read_grid_candidates(rgb, dark, CtcRecogniser(threads=ocr_threads()))
    readings = scan.readings
    if not readings:
        return None

    def placed(reading: GridReading) -> Georeference:
        return Georeference(GcpSet(reading.pixel, reading.world, parse_crs(reading.crs)), "polynomial1",
                            image_size=(roads.width, roads.height), mask=_footprint_polygon(mapf),
                            image=str(roads.path)).validate().to_crs(reff.ref.crs)

    reading, settled = readings[0], {}
    if not reading.decisive or verify:  # the printed values allow several places: the streets decide
        scored = sorted(((_street_evidence(mapf, reff, placed(r)), i) for i, r in enumerate(readings)), reverse=True)
        best, runner_up = scored[0][0], (scored[1][0] if len(scored) > 1 else 0.0)
        if best < MIN_GRID_EVIDENCE or (len(scored) > 1 and best < 2 * runner_up):
            return None
        reading = readings[scored[0][1]]
        settled = {"street_evidence": [round(e, 3) for e, _ in scored]}
    snapped = snap_to_grid(dark, placed(reading), (series_by_name(LABELLED_SERIES),), transform=forced)
    if snapped is None:
        return None
    georef, fit, choice = snapped
    return _grid_result(roads, georef, min(1.0, min(reading.agree) / 5), _cv_of(choice, georef.transform),
                        dict(choice.cv_error), {**fit.summary(), "source": "printed values", **reading.summary(),
                                                **settled})


def _grid_result(roads: MapRoads, georef, confidence: float, cv: float | None,  # noqa: ANN001 - a Georeference
                 cv_by: dict[str, float], grid: dict, names: dict | None = None) -> AutoResult:
    """An :class:`AutoResult` placed by the printed grid (no street matches): its scale and
    rotation at the map's centre. ``cv`` None: the crossings' scatter is given by ``grid``
    (``rmse_px``, turned into metres here). (``seconds`` and ``stages`` are the caller's to set.)"""
    centre = np.array([[roads.width / 2, roads.height / 2], [roads.width / 2 + 1, roads.height / 2]])
    ends = georef.pixel_to_world(centre)
    scale = float(np.hypot(*(ends[1] - ends[0])))
    return AutoResult(georef=georef, confidence=float(confidence),
                      cv_error_m=float(grid["rmse_px"]) * scale if cv is None else cv, transform_cv_m=cv_by,
                      n_matches=0, n_consistent=0, search_score=0.0, search_margin=float("inf"), scale=scale,
                      rotation=float(np.degrees(np.arctan2(ends[1, 1] - ends[0, 1], ends[1, 0] - ends[0, 0]))),
                      input_kind=roads.kind, seconds=0.0, names=names, grid=grid)


def _from_names_and_lattice(roads: MapRoads, mapf: MapFields, reff: ReferenceFields, scan: _ScanPixels,
                            prior: PlacePrior, grid: str) -> AutoResult | None:
    """The sheet georeferenced from the lines of its printed grid, labelled by the names read
    (:mod:`jadis.georef.grid_lattice`): the lattice of the lines, at a spacing the names' scale
    allows, gives scale and rotation; of the labellings of its crossings within the names' areas,
    the one that puts the most names on their streets, by :data:`LATTICE_NAME_MARGIN` more than any
    other, is kept, then refitted on every crossing (:func:`jadis.georef.grid.snap_to_grid`) where
    the map holds enough. None when no grid or no decisive labelling is found."""
    from jadis.georef.auto_names import MIN_NAMES
    from jadis.georef.crs import parse_crs, reproject
    from jadis.georef.gcps import GcpSet
    from jadis.georef.georeference import Georeference
    from jadis.georef.grid import SERIES, series_by_name, snap_to_grid
    from jadis.georef.grid_lattice import find_lattice, labelled, lattice_mapping, origins_near

    pixels = scan.get()
    if pixels is None or not prior.areas:
        return None
    dark = pixels[1]
    lo = min(a.scale[0] for a in prior.areas)
    hi = max(a.scale[1] for a in prior.areas)
    centre = (mapf.width / 2, mapf.height / 2)
    for series in SERIES if grid == "auto" else (series_by_name(grid),):
        if series.spacing / hi > max(mapf.width, mapf.height):
            continue  # not two of its lines on the map at any scale the names allow
        lattice = find_lattice(dark, (series.spacing / hi, series.spacing / lo))
        if lattice is None:
            continue
        grid_crs = parse_crs(series.crs)
        origins: list[tuple[int, int]] = []
        for area in prior.areas:
            w = reproject(np.array([[area.x, area.y]]), reff.ref.crs, grid_crs)[0]
            origins += [o for o in origins_near(lattice, series, centre, (float(w[0]), float(w[1])),
                                                area.radius + series.spacing) if o not in origins]

        def forward_of(origin: tuple[int, int], lattice=lattice, series=series, grid_crs=grid_crs):  # noqa: ANN001, ANN202
            to_grid = lattice_mapping(lattice.pixel, labelled(lattice, series, origin))
            return lambda px: reproject(to_grid(px), grid_crs, reff.ref.crs)

        scored = sorted(((prior.agreeing(forward_of(o), centre), -k, o) for k, o in enumerate(origins)), reverse=True)
        if not scored:
            continue
        best, origin = scored[0][0], scored[0][2]
        runner_up = scored[1][0] if len(scored) > 1 else 0
        if best < MIN_NAMES or best < runner_up + LATTICE_NAME_MARGIN:
            continue
        world = reproject(labelled(lattice, series, origin), grid_crs, reff.ref.crs)
        transform = "polynomial1" if min(lattice.lines) >= 2 else "helmert"   # crossings on one line: a similarity
        georef = Georeference(GcpSet(lattice.pixel, world, reff.ref.crs,
                                     ids=tuple(f"grid{k + 1}" for k in range(len(world)))), transform,
                              image_size=(roads.width, roads.height), mask=_footprint_polygon(mapf),
                              image=str(roads.path)).validate()
        snapped = snap_to_grid(dark, georef, (series,))
        fit_summary = {"series": series.name, "title": series.title, "crs": series.crs, "spacing": series.spacing,
                       "crossings": len(world), "expected": len(world), "rmse_px": round(lattice.rmse_px, 2)}
        cv, cv_by = None, {}   # too few crossings to leave one out: their scatter about a square lattice
        if snapped is not None:
            georef, fit, choice = snapped
            fit_summary, cv, cv_by = fit.summary(), _cv_of(choice, georef.transform), dict(choice.cv_error)
        names = prior.summary() | {"agreeing": prior.agreeing(georef.pixel_to_world, centre),
                                   "labelling": [best, runner_up]}
        return _grid_result(roads, georef, min(1.0, (best - runner_up) / 5), cv, cv_by,
                            {**fit_summary, "source": "grid lines labelled by the names read",
                             "lattice": lattice.summary()}, names)
    return None


def _cv_of(choice, transform: str) -> float:  # noqa: ANN001 - a TransformChoice
    """The cross-validated error of ``transform`` (the chosen one's when it was not a candidate)."""
    return float(choice.cv_error.get(transform, choice.cv_error[choice.name]))


def _street_evidence(mapf: MapFields, reff: ReferenceFields, georef) -> float:  # noqa: ANN001 - a Georeference
    """How well the map's streets match the reference where ``georef`` puts the map: the evidence of
    dense matching from that pose (:attr:`DenseResult.evidence`), 0 where it finds too few matches."""
    corners = np.array([[0, 0], [mapf.width, 0], [0, mapf.height], [mapf.width, mapf.height]], dtype=float)
    world = georef.pixel_to_world(corners)
    coef = np.linalg.lstsq(np.column_stack([corners, np.ones(4)]), world, rcond=None)[0]
    pose = np.eye(3)
    pose[:2, :2], pose[:2, 2] = coef[:2].T, coef[2]
    extent = float(np.hypot(*(world[1] - world[0]))) * max(mapf.width, mapf.height) / mapf.width
    cand = Candidate(pose=pose, theta=0.0, extent=extent, score=0.0, resolution=2.0)
    try:
        return dense_match(mapf, reff, cand, dense_levels(extent, cand.resolution, reff.ref.resolution)).evidence
    except AutoGeorefFailed:
        return 0.0


def _snap_grid(result: AutoResult, scan: _ScanPixels, grid: str, forced: str | None) -> AutoResult:
    """``result`` refitted on the crossings of the printed grid found on the scan, else unchanged."""
    from jadis.georef.grid import SERIES, series_by_name, snap_to_grid

    pixels = scan.get()
    if pixels is None:
        return result  # not the scan of this map (the CLI refuses such a --scan before aligning)
    series = SERIES if grid == "auto" else (series_by_name(grid),)
    snapped = snap_to_grid(pixels[1], result.georef, series, transform=forced)
    if snapped is None:
        return result
    georef, fit, choice = snapped
    return replace(result, georef=georef, cv_error_m=_cv_of(choice, georef.transform),
                   transform_cv_m=dict(choice.cv_error), grid=fit.summary())


def _name_prior(names: Sequence[NameCue] | None, mapf: MapFields, opts: AutoOptions, year: int | None,
                st: _Stages, stages: dict[str, float]) -> PlacePrior | None:
    """The place prior of the name cues (None without cues)."""
    if not names:
        return None
    from jadis.georef.auto_names import place_prior

    t = time.perf_counter()
    st.step("locating the names read")
    scale = opts.scale_range if opts.scale_range is not None else ATLAS_SCALE_RANGE
    prior = place_prior(names, (mapf.width, mapf.height), scale, year=year,
                        max_rotation=min(UPRIGHT_ROTATION, opts.max_rotation))
    stages["names"] = time.perf_counter() - t
    return prior


def _align(roads: MapRoads, mapf: MapFields, reff: ReferenceFields, opts: AutoOptions, forced: str | None,
           st: _Stages, stages: dict[str, float], started: float,
           prior: PlacePrior | NeighbourPrior | None = None) -> AutoResult:
    """One pass of search, dense matching and fit (stage times are added to ``stages``); with a
    ``prior``, the search only looks in its areas, and the result must put at least
    :data:`~jadis.georef.auto_names.MIN_NAMES` of the names read on their streets (names), or the
    pose found must score :data:`~jadis.georef.auto_neighbours.MIN_SCORE` (sheets already aligned)."""
    t = time.perf_counter()
    st.step("search in the areas of the place prior" if prior else "global search (rotation x scale x translation)")
    cands, margin, _ = search_pose(mapf, reff, opts, prior.areas if prior else None)
    stages["search"] = stages.get("search", 0.0) + time.perf_counter() - t

    t = time.perf_counter()
    st.step("dense matching")
    failure = "no candidate pose"
    try:
        for k in range(min(len(cands), DENSE_TRIES)):
            cand = cands[k]
            try:
                dense = dense_match(mapf, reff, cand, dense_levels(cand.extent, cand.resolution, reff.ref.resolution))
            except AutoGeorefFailed as exc:
                failure = str(exc)
                continue
            break
        else:
            raise AutoGeorefFailed(f"automatic georeferencing failed: {failure}")
        # the poses that scored nearly as well must fail dense matching, or land on the same place
        rivals = [c for c in cands[k + 1:DENSE_TRIES] if c.score * MIN_SEARCH_MARGIN > cand.score]
        _check_rivals(mapf, reff, dense, rivals)
        if k > 0:  # a lower-ranked pose won: the search was not decisive, dense matching was
            margin = 1.0
    finally:
        stages["dense"] = stages.get("dense", 0.0) + time.perf_counter() - t

    near = prior if isinstance(prior, NeighbourPrior) else None
    if near is not None:
        reason = near.refusal(cands[k].score)
        if reason:
            raise AutoGeorefFailed(f"automatic georeferencing failed: {reason}")
        prior = None
    if prior:
        from jadis.georef.auto_names import MIN_NAMES

        agree = prior.agreeing(dense.mapping.forward, (mapf.width / 2, mapf.height / 2))
        if agree < MIN_NAMES:
            raise AutoGeorefFailed(f"automatic georeferencing failed: the pose found puts only {agree} of the "
                                   f"names read on their streets")
    t = time.perf_counter()
    st.step("fitting")
    try:
        result = _finish(roads, mapf, reff, cands[k], dense, margin, forced, stages, started)
    finally:
        stages["fit"] = stages.get("fit", 0.0) + time.perf_counter() - t
    if prior:
        result = replace(result, names=prior.summary() | {"agreeing": agree})
    if near is not None:
        result = replace(result, neighbours=near.summary())
    return result


def _check_rivals(mapf: MapFields, reff: ReferenceFields, dense: DenseResult, rivals: list[Candidate]) -> None:
    """Raise :class:`AutoGeorefFailed` if a rival pose also passes dense matching somewhere else
    (more than :data:`SAME_PLACE` of the map's extent away) with comparable evidence (at least
    :data:`RIVAL_EVIDENCE` of the chosen pose's, see :attr:`DenseResult.evidence`): two places fit
    the map."""
    outline = _footprint_outline(mapf)
    here = dense.mapping.forward(outline)
    extent = float(np.hypot(*np.ptp(here, axis=0)))
    for rival in rivals:
        try:
            other = dense_match(mapf, reff, rival, dense_levels(rival.extent, rival.resolution, reff.ref.resolution))
        except AutoGeorefFailed:
            continue
        apart = float(np.mean(np.hypot(*(other.mapping.forward(outline) - here).T)))
        if apart > SAME_PLACE * extent and other.evidence >= RIVAL_EVIDENCE * dense.evidence:
            raise AutoGeorefFailed(f"automatic georeferencing failed: ambiguous position (two poses "
                                   f"{apart:.0f} m apart both match the reference)")


def _reference_fields(reference: str | os.PathLike[str] | ReferenceRoads | ReferenceFields | None
                      ) -> ReferenceFields:
    if isinstance(reference, ReferenceFields):
        return reference
    ref = reference if isinstance(reference, ReferenceRoads) else load_reference(reference)
    return ReferenceFields(ref)


def search_levels(reff: ReferenceFields, min_extent: float) -> tuple[float, float, float]:
    """Resolutions (m/px) of the global search and its two refinements: the smallest map searched
    (``min_extent`` metres on its long side) is :data:`SEARCH_MIN_TEMPLATE` pixels long."""
    r0 = float(np.clip(min_extent / SEARCH_MIN_TEMPLATE, 4 * reff.ref.resolution, 400.0))
    return r0, r0 / 2, r0 / 4


def extent_range(mapf: MapFields, reff: ReferenceFields, opts: AutoOptions) -> tuple[float, float]:
    """(min, max) world length of the map's long side searched, in metres."""
    if opts.scale_range is not None:
        lo, hi = sorted(float(v) for v in opts.scale_range)
        if lo <= 0:
            raise JadisError("--scale-range must be positive metres per pixel")
        return lo * mapf.long_side, hi * mapf.long_side
    lo, hi = DEFAULT_EXTENT_RANGE
    return min(lo * reff.ref.extent, ATLAS_SCALE_RANGE[0] * mapf.long_side), hi * reff.ref.extent


@dataclass(frozen=True)
class SearchBand:
    """A range of map extents (metres on the long side) searched at one coarse resolution."""

    lo: float
    hi: float
    res: float       # m/px of the coarse grid; refined at res/2 and res/4
    template: int    # the smallest map's long side at ``res``, in pixels


def search_bands(mapf: MapFields, reff: ReferenceFields, opts: AutoOptions) -> list[SearchBand]:
    """The extent bands of the global search, each at a resolution that fits its maps.

    Default: city plans (the map's long side :data:`DEFAULT_EXTENT_RANGE` times the reference's)
    in one band whose smallest map is :data:`SEARCH_MIN_TEMPLATE` pixels long, and below it, for
    atlas sheets (:data:`ATLAS_SCALE_RANGE` metres per map pixel), bands of a factor
    :data:`BAND_RATIO` whose smallest map is :data:`ATLAS_MIN_TEMPLATE` pixels long: a sheet of
    a few hundred metres is searched at a few metres per pixel, a city plan at ~200 m/px.
    ``--scale-range`` gives one band, as the city band.
    """
    floor = 4 * reff.ref.resolution
    if opts.scale_range is not None:
        lo, hi = extent_range(mapf, reff, opts)
        r0 = search_levels(reff, lo)[0]
        lo = max(lo, SEARCH_MIN_TEMPLATE * r0)
        if hi < lo:
            raise AutoGeorefFailed(f"the map is too small for this reference ({hi:.0f} m at most on its long side)")
        return [SearchBand(lo, hi, r0, SEARCH_MIN_TEMPLATE)]
    c_lo, c_hi = (f * reff.ref.extent for f in DEFAULT_EXTENT_RANGE)
    bands = [SearchBand(c_lo, c_hi, search_levels(reff, c_lo)[0], SEARCH_MIN_TEMPLATE)]
    lo = ATLAS_SCALE_RANGE[0] * mapf.long_side
    while lo < c_lo / 1.001:
        hi = min(lo * BAND_RATIO, c_lo)
        res = float(np.clip(lo / ATLAS_MIN_TEMPLATE, floor, 400.0))
        bands.append(SearchBand(max(lo, ATLAS_MIN_TEMPLATE / 2 * res), hi, res, ATLAS_MIN_TEMPLATE))
        lo = hi
    return [b for b in bands if b.hi > b.lo * 1.001]


def search_pose(mapf: MapFields, reff: ReferenceFields, opts: AutoOptions,
                areas: Sequence[PlaceArea] | None = None) -> tuple[list[Candidate], float, float]:
    """Candidate similarity poses, best first, the search margin (best / runner-up score) and the
    resolution (m/px) of the search's finest level, which bounds the poses' error.

    With ``areas`` (a place prior), each band only searches the map centres within an area's
    radius, at the extents its scale range allows (none of the band's: the band is skipped).

    Each band of :func:`search_bands` is searched on its own, at its own resolution; the refined
    poses of all bands are then ranked together by their PSR (wrong poses score alike, ~5-7, at
    every resolution, so the scores of the bands' finest levels compare), and the margin is the
    best score over the best score of a different pose of any band.
    """
    found: list[Candidate] = []
    for band in search_bands(mapf, reff, opts):
        if not areas:
            found.extend(_search_band(mapf, reff, opts, band))
            continue
        for area in areas:
            lo = max(band.lo, area.scale[0] * mapf.long_side)
            hi = min(band.hi, area.scale[1] * mapf.long_side)
            if hi >= lo:
                found.extend(_search_band(mapf, reff, opts, replace(band, lo=lo, hi=hi), area))
    if not found:
        raise AutoGeorefFailed("the map and the reference never overlap enough at any scale")
    found.sort(key=lambda c: -c.score)
    best = distinct(found, len(found), mapf, 2 * min(c.resolution for c in found[:2]))
    margin = best[0].score / best[1].score if len(best) > 1 and best[1].score > 0 else float("inf")
    return best, float(margin), best[0].resolution


def _search_band(mapf: MapFields, reff: ReferenceFields, opts: AutoOptions, band: SearchBand,
                 area: PlaceArea | None = None) -> list[Candidate]:
    """The refined poses of one band, best first (scored at a quarter of the band's resolution);
    with an ``area``, only the map centres within its radius."""
    r0, r1, r2 = band.res, band.res / 2, band.res / 4
    extents = geometric_grid(band.lo, band.hi, SEARCH_SCALE_STEP) if band.hi > band.lo * 1.001 else np.array([band.lo])
    max_rot = float(np.clip(opts.max_rotation, 0.0, 180.0))
    if max_rot >= 180.0 - SEARCH_ROTATION_STEP / 2:
        thetas = np.arange(0.0, 360.0, SEARCH_ROTATION_STEP)
    else:
        n = int(np.ceil(max_rot / SEARCH_ROTATION_STEP))
        thetas = SEARCH_ROTATION_STEP * np.arange(-n, n + 1)
    if area is None:
        coarse = score_grid(mapf, reff, r0, thetas, extents)
    else:  # a pose that puts the map's centre on the area's: score_grid only uses where it puts the centre
        near = np.array([[1.0, 0.0, area.x - mapf.width / 2], [0.0, -1.0, area.y + mapf.height / 2], [0, 0, 1]])
        coarse = score_grid(mapf, reff, r0, thetas, extents, near=near, window=area.radius)
    if not coarse:
        return []
    # many coarse candidates, each re-scored at twice the resolution on a small local grid ...
    top = distinct(coarse, SEARCH_CANDIDATES, mapf, 3 * r0)
    step = SEARCH_ROTATION_STEP / 2
    level1 = [_refine(mapf, reff, c, r1, step, 1, SEARCH_SCALE_STEP / 2, 1, 1.5 * r0) for c in top]
    # ... and the best of those refined again at four times the resolution
    level1 = distinct(level1, SEARCH_KEEP, mapf, 2 * r0)
    refined = [_refine(mapf, reff, c, r2, step / 4, 2, SEARCH_SCALE_STEP / 4, 2, r0) for c in level1]
    return sorted(distinct(refined, len(refined), mapf, 2 * r0), key=lambda c: -c.score)


def _refine(mapf: MapFields, reff: ReferenceFields, cand: Candidate, res: float, dth: float, nth: int,
            dsc: float, nsc: int, window: float) -> Candidate:
    thetas = cand.theta + dth * np.arange(-nth, nth + 1)
    extents = cand.extent * np.exp(dsc * np.arange(-nsc, nsc + 1))
    found = score_grid(mapf, reff, res, thetas, extents, near=cand.pose, window=window)
    return max(found, key=lambda c: c.score) if found else cand


def dense_levels(extent: float, pose_res: float, ref_res: float) -> tuple[tuple[float, int, int, int], ...]:
    """The dense passes for a map whose long side is ``extent`` metres: from the coarsest
    resolution that still fits :data:`MIN_PATCHES_ACROSS` patches across the map (twice as many
    for a map under :data:`SMALL_MAP_EXTENT`; at most
    :data:`DENSE_COARSEST` m/px), halving down to the final resolution (:data:`DENSE_FINEST` m/px,
    or finer for small maps, but not finer than 1.5 reference pixels). The first pass searches
    far enough to absorb the error of the search's pose (3 pixels of its finest level)."""
    final = float(np.clip(extent / DENSE_FINAL_PIXELS, 1.5 * ref_res, DENSE_FINEST))
    across = MIN_PATCHES_ACROSS if extent >= SMALL_MAP_EXTENT else SMALL_MAP_PATCHES_ACROSS
    res = float(np.clip(extent / (across * DENSE_PATCH), final, DENSE_COARSEST))
    levels = []
    while res > 1.5 * final:
        levels.append(res)
        res /= 2
    levels.append(final)
    # a last level on which the map is only a few hundred pixels long samples its patches twice as
    # densely, so that a sheet of a few hundred metres still yields enough GCPs once thinned (the
    # coarser levels only guide the next one: denser there cost 1 m on the Atlas municipal strip)
    out = [(r, DENSE_PATCH, DENSE_PATCH // 2, DENSE_RADIUS) for r in levels]
    if extent / final < SMALL_LEVEL_PIXELS:
        out[-1] = (final, DENSE_PATCH, DENSE_PATCH // 4, DENSE_RADIUS)
    r, patch, step, radius = out[0]
    out[0] = (r, patch, step, max(DENSE_FIRST_RADIUS, int(np.ceil(3 * pose_res / r))))
    return tuple(out)


@dataclass(frozen=True)
class DenseResult:
    matches: PatchMatches
    consistent: np.ndarray   # indices into matches
    gcps: np.ndarray         # indices into matches (thinned consistent ones)
    mapping: Mapping
    res: float
    step: int
    cell: float    # thinning cell of the GCPs (world units)
    block: float   # cross-validation block: a patch, so that overlapping patches share a block

    @property
    def evidence(self) -> float:
        """Share of the last level's patches that matched consistently times their median match
        quality: ~0.1 or more where the map really lies, a few hundredths on a wrong pose that
        scraped through (street patterns match by chance here and there, weakly)."""
        if len(self.consistent) == 0:
            return 0.0
        share = len(self.consistent) / len(self.matches.pixel)
        return float(share * np.median(self.matches.quality[self.consistent]))


def dense_match(mapf: MapFields, reff: ReferenceFields, cand: Candidate,
                levels: tuple[tuple[float, int, int, int], ...]) -> DenseResult:
    """Coarse-to-fine patch matching from a similarity pose; raises :class:`AutoGeorefFailed`
    when a level finds too few consistent matches."""
    mapping = Mapping.from_matrix(cand.pose)
    out: DenseResult | None = None
    for res, patch, step, radius in levels:
        pm = match_patches(mapf, reff, mapping, res, patch, step, radius)
        if pm is None:
            raise AutoGeorefFailed(f"no street patch of the map overlaps the reference at {res:g} m/px")
        sel = np.flatnonzero((pm.quality > MIN_PATCH_QUALITY) & (pm.ratio < MAX_PEAK_RATIO))
        # neighbourhood in patch half-widths (not steps): overlapping patches see the same streets
        keep = sel[consistent(pm.world[sel], pm.shift[sel], CONSISTENCY_STEPS * (patch // 2) * res,
                              CONSISTENCY_TOL_PX * res)] if len(sel) else sel
        if len(keep) < MIN_LEVEL_MATCHES:
            raise AutoGeorefFailed(f"only {len(keep)} consistent street matches at {res:g} m/px "
                                   f"(need {MIN_LEVEL_MATCHES}); the map does not match the reference")
        # next estimate: a spline through the consistent matches, one per patch step
        nodes = keep[thin(pm.world[keep], pm.quality[keep], step * res)]
        mapping = tps_mapping(pm.pixel[nodes], pm.world[nodes])
        # one GCP per half patch; on a densely stepped (small map's) last level, one per step
        cell = (step if step < patch // 2 else 2 * step) * res
        gcps = keep[thin(pm.world[keep], pm.quality[keep], cell)]
        out = DenseResult(pm, keep, gcps, mapping, res, step, cell, patch * res)
    assert out is not None
    return out


def _finish(roads: MapRoads, mapf: MapFields, reff: ReferenceFields, cand: Candidate, dense: DenseResult,
            margin: float, forced: str | None, stages: dict[str, float], started: float) -> AutoResult:
    from jadis.georef.gcps import GcpSet
    from jadis.georef.georeference import Georeference

    pm = dense.matches
    idx = dense.gcps
    cell = dense.cell
    while len(idx) > MAX_GCPS:
        cell *= 1.25
        idx = dense.consistent[thin(pm.world[dense.consistent], pm.quality[dense.consistent], cell)]
    pixel, world = pm.pixel[idx], pm.world[idx]
    block = max(2 * cell, dense.block)
    try:
        choice = choose_transform(pixel, world, block)
    except ValueError as exc:
        raise AutoGeorefFailed(f"automatic georeferencing failed: {exc}") from exc
    name = forced or choice.name
    cv = choice.cv_error.get(name)
    if cv is None:
        raise AutoGeorefFailed(f"too few consistent GCPs ({len(idx)}) for a {name} transform")

    # spread: diagonal of the GCPs' bounding box / diagonal of the map's footprint in the world
    span_map = float(np.hypot(*np.ptp(dense.mapping.forward(_footprint_outline(mapf)), axis=0)))
    span_gcp = float(np.hypot(*np.ptp(world, axis=0)))
    spread = span_gcp / max(span_map, 1e-9)
    cv_px = choice.cv_error["tps" if "tps" in choice.cv_error else choice.name] / dense.res
    reasons = []
    if len(idx) < MIN_GCPS:
        reasons.append(f"only {len(idx)} consistent GCPs")
    if spread < MIN_SPREAD:
        reasons.append(f"matches cover only {100 * spread:.0f} % of the map")
    if cv_px > MAX_CV_ERROR_PX:
        reasons.append(f"cross-validated error {cv_px * dense.res:.0f} m is too large")
    if reasons:
        raise AutoGeorefFailed("automatic georeferencing failed: " + "; ".join(reasons))
    confidence = _confidence(len(idx), spread, cv_px, margin)

    ids = tuple(f"auto{k + 1}" for k in range(len(idx)))
    gcps = GcpSet(pixel, world, reff.ref.crs, ids=ids)
    georef = Georeference(gcps=gcps, transform=name, image_size=(roads.width, roads.height),
                          mask=_footprint_polygon(mapf), image=str(roads.path))
    georef.validate()
    centre = np.array([mapf.width / 2, mapf.height / 2])
    scale = dense.mapping.pixel_size(centre)
    ends = dense.mapping.forward(np.array([centre, centre + [1.0, 0.0]]))
    rotation = float(np.degrees(np.arctan2(ends[1, 1] - ends[0, 1], ends[1, 0] - ends[0, 0])))
    return AutoResult(georef=georef, confidence=confidence, cv_error_m=float(cv),
                      transform_cv_m=dict(choice.cv_error), n_matches=len(pm.pixel),
                      n_consistent=len(dense.consistent), search_score=cand.score, search_margin=margin,
                      scale=scale, rotation=rotation, input_kind=roads.kind,
                      seconds=time.perf_counter() - started, stages=stages)


def _confidence(n: int, spread: float, cv_px: float, margin: float) -> float:
    """A 0-1 summary: each criterion scored by how far it clears its failure threshold."""
    parts = [
        min(1.0, np.log(n / MIN_GCPS + 1) / np.log(11)),
        min(1.0, spread / (2 * MIN_SPREAD)),
        max(0.0, min(1.0, (MAX_CV_ERROR_PX - cv_px) / (MAX_CV_ERROR_PX - 1.0))),
        # a margin under MIN_SEARCH_MARGIN only reaches here when dense matching refuted the rivals
        1.0 if not np.isfinite(margin) else min(1.0, max(margin - 1.0, MIN_SEARCH_MARGIN - 1.0)
                                                / (2 * (MIN_SEARCH_MARGIN - 1.0))),
    ]
    return float(np.clip(np.prod(parts) ** (1 / len(parts)), 0.0, 1.0))


def _footprint_outline(mapf: MapFields) -> np.ndarray:
    poly = _footprint_polygon(mapf)
    if poly is None:
        return np.array([[0, 0], [mapf.width, 0], [mapf.width, mapf.height], [0, mapf.height]], float)
    return poly


def _footprint_polygon(mapf: MapFields) -> np.ndarray | None:
    """The map content outline (largest footprint contour) in full-resolution pixels."""
    m = (mapf.content > 0.5).astype(np.uint8)
    contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    c = max(contours, key=cv2.contourArea)
    c = cv2.approxPolyDP(c, 0.005 * max(m.shape), True).reshape(-1, 2).astype(float)
    if len(c) < 3:
        return None
    sx, sy = mapf.width / mapf.base_w, mapf.height / mapf.base_h
    return np.round(np.clip(c * [sx, sy], 0, [mapf.width, mapf.height]), 1)


def write_result(result: AutoResult, path: str | os.PathLike[str]) -> Path:
    """Write the georeference as an Allmaps annotation with the auto summary under ``jadis.auto``."""
    import json

    from jadis.georef.formats.allmaps import annotation_dict
    from jadis.io.atomic import atomic_write_text

    anno = annotation_dict(result.georef, include_report=True)
    anno.setdefault("jadis", {})["auto"] = result.summary()
    path = Path(path)
    atomic_write_text(path, json.dumps(anno, indent=2, ensure_ascii=False) + "\n")
    return path


class _Stages:
    """A one-line progress display of the pipeline's stages on stderr."""

    def __init__(self, enabled: bool) -> None:
        from jadis.progress import make_progress

        self.progress = make_progress() if enabled else None
        self.task = None

    def __enter__(self) -> _Stages:
        if self.progress is not None:
            self.progress.__enter__()
            self.task = self.progress.add_task("auto georeferencing", total=7)
        return self

    def step(self, what: str) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, description=f"auto georeferencing: {what}", advance=1)

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.__exit__(None, None, None)
