"""The map as the gazetteer of its year: street names read on a segmented, georeferenced map.

From the segmenter's GeoPackage (``streets`` centre-lines and ``labels`` boxes, in pixels), the
scan and a georeference, :func:`build_map_gazetteer`:

1. reads every word-sized label with RapidOCR (:mod:`jadis.ocr.reader`), skipping house numbers;
2. chains words into lines of text (:mod:`jadis.ocr.lines`) and corrects each line against known
   street names (:mod:`jadis.ocr.correct`; the vocabulary is every gazetteer's names);
3. gives each name to the street segments its words lie along (same direction, inside the
   street's width), then carries it on along pieces of the same street (through nodes that join
   two pieces, where the next piece continues straight); names are not carried across crossings,
   where Paris streets often change name;
4. moves the named segments to Lambert-93 through the georeference and stores them as a
   ``street_network`` gazetteer (with a ``labels`` layer of every reading, for checking).

This is the JADIS idea that a map is the gazetteer of its own year: addresses of that year are
then geocoded on the streets as the map drew them.
"""

from __future__ import annotations

import math
import os
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jadis.errors import JadisError
from jadis.geocode.gazetteer import CRS, GazetteerInfo

#: Labels shorter than this (pixels along the text) or squatter than this ratio are not read
#: (single letters, house numbers).
MIN_LABEL_LENGTH = 14.0
MIN_ASPECT = 1.4
#: A word names a street segment lying within this many letter heights of it ...
MAX_DISTANCE_HEIGHTS = 3.0
#: ... and running in the same direction (degrees).
MAX_ANGLE = 35.0
#: Names continue through a junction onto the straightest next segment when it bends less than this.
MAX_TURN = 30.0
#: A reading kept as a new name (with ``keep_unmatched``) needs this confidence.
MIN_NEW_NAME_SCORE = 0.9


@dataclass(frozen=True)
class MapGazetteer:
    """What :func:`build_map_gazetteer` made."""

    info: GazetteerInfo
    labels_read: int       #: word labels read by OCR
    lines: int             #: lines of text found
    lines_named: int       #: lines matched to a known (or kept) name
    segments: int          #: street segments of the map
    segments_named: int    #: segments given a name
    names: int             #: distinct names


def _segment_direction(line, point) -> np.ndarray:  # noqa: ANN001 - shapely LineString, Point
    m = line.project(point)
    a = line.interpolate(max(m - 3.0, 0.0))
    b = line.interpolate(min(m + 3.0, line.length))
    d = np.array([b.x - a.x, b.y - a.y])
    n = np.linalg.norm(d)
    return d / n if n > 0 else np.array([1.0, 0.0])


def read_words(image_reader, labels, reader, progress: bool = True) -> list:  # noqa: ANN001
    """OCR the word-sized labels. ``image_reader(x0, y0, w, h)`` returns RGB pixels of the scan."""
    from jadis.ocr.lines import Word, label_frame
    from jadis.ocr.reader import crop_label

    rows = []
    for label_id, geom in zip(labels["label_id"].to_numpy(), labels.geometry.to_numpy(), strict=True):
        if geom is None or geom.is_empty:
            continue
        corners = np.asarray(geom.exterior.coords)[:4]
        centre, theta, length, height = label_frame(corners)
        if length < MIN_LABEL_LENGTH or length < MIN_ASPECT * height:
            continue
        rows.append((int(label_id), corners, centre, theta, length, height))
    items = rows
    if progress:
        from jadis.progress import track

        items = track(rows, "reading labels")
    words = []
    for label_id, corners, centre, theta, length, height in items:
        pad = int(math.ceil(length / 2 + height))
        x0, y0 = int(math.floor(centre[0])) - pad, int(math.floor(centre[1])) - pad
        window = image_reader(x0, y0, 2 * pad, 2 * pad)
        if window is None or window.size == 0:
            continue
        crop = crop_label(window, corners - np.array([x0, y0]))
        if crop is None:
            continue
        reading = reader.read(crop)
        text = reading.text.strip()
        if not any(ch.isalpha() for ch in text):
            continue  # a house number or a mark
        direction = np.array([math.cos(math.radians(theta)), math.sin(math.radians(theta))])
        if reading.flipped:
            direction = -direction
        words.append(Word(label_id, np.array(centre), direction, length, height, text, reading.score))
    return words


def name_segments(streets, lines: list, names: list[str | None],  # noqa: ANN001
                  continue_through_junctions: bool = False) -> dict[int, tuple[str, str]]:
    """street_id -> (name, how) from named text lines, then continued along the street: through
    nodes joining two pieces (and, optionally, straight through junctions)."""
    import shapely

    geoms = streets.geometry.to_numpy()
    ids = streets["street_id"].to_numpy()
    half_widths = (streets["width_px"].to_numpy(dtype=float) / 2 if "width_px" in streets.columns
                   else np.zeros(len(streets)))
    half_widths = np.nan_to_num(half_widths, nan=0.0)
    tree = shapely.STRtree(geoms)
    votes: dict[int, Counter] = defaultdict(Counter)
    for line, name in zip(lines, names, strict=True):
        if not name:
            continue
        for word in line.words:
            point = shapely.Point(*word.centre)
            # a name is written inside its street: within the half-width (+ a letter height)
            reach = MAX_DISTANCE_HEIGHTS * word.height + float(half_widths.max(initial=0.0))
            best, best_cost = None, math.inf
            for k in tree.query(point, predicate="dwithin", distance=reach):
                d = geoms[k].distance(point)
                inside = max(half_widths[k], word.height) + word.height
                if d > max(inside, MAX_DISTANCE_HEIGHTS * word.height if half_widths[k] == 0 else inside):
                    continue
                cos = abs(float(_segment_direction(geoms[k], point) @ word.direction))
                angle = math.degrees(math.acos(min(1.0, cos)))
                if angle > MAX_ANGLE:
                    continue
                cost = d / inside + angle / MAX_ANGLE
                if cost < best_cost:
                    best, best_cost = k, cost
            if best is not None:
                votes[int(ids[best])][name] += max(len(word.text), 1) * word.score
    named = {sid: (c.most_common(1)[0][0], "label") for sid, c in votes.items()}
    # carry names onto the straight continuation (mutual: a T's stem stays apart)
    by_id = dict(zip(ids.tolist(), geoms, strict=True))
    ends: dict[int, list[tuple[int, np.ndarray]]] = defaultdict(list)
    for sid, start, end in zip(ids.tolist(), streets["node_start"].to_numpy(), streets["node_end"].to_numpy(),
                               strict=True):
        coords = np.asarray(by_id[sid].coords)
        if len(coords) < 2:
            continue
        out_start = _unit(coords[min(3, len(coords) - 1)] - coords[0])   # leaving the start node
        out_end = _unit(coords[max(-4, -len(coords))] - coords[-1])      # leaving the end node
        ends[int(start)].append((sid, out_start))
        ends[int(end)].append((sid, out_end))

    def straightest(node: int, sid: int, out: np.ndarray) -> int | None:
        best, best_turn = None, MAX_TURN
        for other, out_other in ends[node]:
            if other == sid:
                continue
            turn = 180.0 - math.degrees(math.acos(float(np.clip(out @ out_other, -1.0, 1.0))))
            if turn < best_turn:
                best, best_turn = other, turn
        return best

    changed = True
    while changed:
        changed = False
        for node, incident in ends.items():
            if len(incident) != 2 and not continue_through_junctions:
                continue  # names change at crossings: only a street cut in pieces is continued
            for sid, out in incident:
                if sid in named:
                    continue
                nxt = straightest(node, sid, out)
                if nxt is None or nxt not in named:
                    continue
                back = dict(ends[node])[nxt]
                if straightest(node, nxt, back) != sid:
                    continue
                named[sid] = (named[nxt][0], "continued")
                changed = True
    return named


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else np.array([1.0, 0.0])


def vocabulary(include_user: bool = True) -> list[str]:
    """Every street name known to the gazetteers (bundled and the user's)."""
    from jadis.geocode.gazetteer import list_gazetteers, load_gazetteer

    names: set[str] = set()
    for info in list_gazetteers(include_user=include_user):
        frame = load_gazetteer(info).frame
        names.update(str(n) for n in frame["name"].dropna().unique())
    return sorted(names)


@dataclass
class MapReading:
    """The named streets of one map (EPSG:2154) and every line of text read on it."""

    streets: object    #: GeoDataFrame in the gazetteer schema (+ ``name_from``: label | continued)
    readings: object   #: GeoDataFrame: reading, ocr_score, name, similarity, how, label_ids
    labels_read: int
    lines: int
    lines_named: int
    segments: int


def read_map(layers_path: str | os.PathLike[str], image_path: str | os.PathLike[str], *,
             georef_path: str | os.PathLike[str] | None = None, names: list[str] | None = None,
             keep_unmatched: bool = False, min_similarity: float | None = None, reader=None,  # noqa: ANN001
             progress: bool = True) -> MapReading:
    """Read the street names of a segmented map (nothing is written; see :func:`build_map_gazetteer`).

    ``layers_path``: the segmenter's GeoPackage (``streets`` and ``labels`` in pixels, or in a CRS
    when the scan was georeferenced); ``image_path``: the scan; ``georef_path``: a georeference
    (jadis/Allmaps JSON) unless the scan itself is a georeferenced GeoTIFF. ``names``: known names
    to correct readings against (default: every gazetteer's). ``keep_unmatched``: keep confident
    readings that match no known name (a street the gazetteers lack).
    """
    import geopandas as gpd
    import pyogrio
    import shapely

    from jadis.io.images import open_image, read_window
    from jadis.ocr.correct import MIN_SIMILARITY, NameCorrector, clean_reading
    from jadis.ocr.lines import group_lines
    from jadis.ocr.reader import LabelReader

    layers_path = Path(layers_path)
    if not layers_path.is_file():
        raise JadisError(f"{layers_path}: no such file")
    try:
        available = {str(n) for n, _ in pyogrio.list_layers(layers_path)}
    except pyogrio.errors.DataSourceError as exc:
        raise JadisError(f"{layers_path}: not a readable GeoPackage ({str(exc).splitlines()[0]})") from exc
    missing = {"streets", "labels"} - available
    if missing:
        raise JadisError(f"{layers_path}: no {' and no '.join(sorted(missing))} layer: give the GeoPackage "
                         "written by `jadis segment`")
    streets = pyogrio.read_dataframe(layers_path, layer="streets")
    labels = pyogrio.read_dataframe(layers_path, layer="labels")
    if len(streets) == 0:
        raise JadisError(f"{layers_path}: the streets layer is empty (nothing to name)")

    georef = None
    if georef_path is not None:
        from jadis.georef.georeference import Georeference

        georef = Georeference.load(georef_path)
    with open_image(image_path) as ds:
        in_pixels = streets.crs is None
        if in_pixels and georef is None and not _georeferenced(ds):
            raise JadisError("the layers are in pixels and the scan has no georeference: pass --georef G.json")
        if not in_pixels and georef is None and not _georeferenced(ds):
            raise JadisError("the layers are in a CRS: pass the georeference of the scan (--georef) to read labels")
        to_pixel, to_l93 = _transforms(ds, georef, streets.crs)
        streets_px = streets.copy()
        labels_px = labels.copy()
        if not in_pixels:
            streets_px = streets_px.set_geometry(shapely.transform(streets.geometry.to_numpy(), to_pixel), crs=None)
            labels_px = labels_px.set_geometry(shapely.transform(labels.geometry.to_numpy(), to_pixel), crs=None)

        from rasterio.windows import Window

        width, height = ds.width, ds.height

        def image_reader(x0: int, y0: int, w: int, h: int) -> np.ndarray | None:
            xa, ya = max(0, x0), max(0, y0)
            xb, yb = min(width, x0 + w), min(height, y0 + h)
            if xb <= xa or yb <= ya:
                return None
            arr = read_window(ds, Window(xa, ya, xb - xa, yb - ya), path=Path(image_path))
            from jadis.io.images import to_rgb

            arr = to_rgb(arr)
            out = np.full((h, w, 3), 255, dtype=np.uint8)
            out[ya - y0:yb - y0, xa - x0:xb - x0] = arr
            return out

        words = read_words(image_reader, labels_px, reader or LabelReader(), progress=progress)

    lines = group_lines(words)
    corrector = NameCorrector(names if names is not None else vocabulary(),
                              min_similarity=MIN_SIMILARITY if min_similarity is None else min_similarity)
    corrections = [corrector.correct(line.text) for line in lines]
    line_names: list[str | None] = []
    for line, corr in zip(lines, corrections, strict=True):
        if corr.name is None and keep_unmatched and line.score >= MIN_NEW_NAME_SCORE:
            reading = clean_reading(line.text)
            line_names.append(reading if sum(ch.isalpha() for ch in reading) >= 4 else None)
        else:
            line_names.append(corr.name)
    named = name_segments(streets_px, lines, line_names)

    keep = [sid in named for sid in streets_px["street_id"].to_numpy()]
    chosen = streets_px[np.asarray(keep, dtype=bool)]
    geoms = to_l93(chosen.geometry.to_numpy())
    sids = chosen["street_id"].to_numpy()
    frame = gpd.GeoDataFrame({
        "name": [named[int(s)][0] for s in sids],
        "number": [None] * len(sids),
        "source_id": [f"street:{int(s)}" for s in sids],
        "name_from": [named[int(s)][1] for s in sids],
    }, geometry=gpd.GeoSeries(geoms, crs=CRS), crs=CRS)
    readings = _readings_layer(lines, corrections, line_names, to_l93, labels_px)
    return MapReading(frame, readings, len(words), len(lines), sum(1 for n in line_names if n), len(streets))


def build_map_gazetteer(layers_path: str | os.PathLike[str], image_path: str | os.PathLike[str], name: str,
                        years: str | tuple[int, int], *, georef_path: str | os.PathLike[str] | None = None,
                        names: list[str] | None = None, keep_unmatched: bool = False,
                        min_similarity: float | None = None, replace_existing: bool = False,
                        reader=None, progress: bool = True) -> MapGazetteer:  # noqa: ANN001
    """Read a segmented map's street names (:func:`read_map`) and store them as a user gazetteer
    (``street_network``, plus a ``labels`` layer of the readings for checking)."""
    from jadis.geocode.gazetteer import (
        _SAFE_NAME,
        _read_manifest,
        list_gazetteers,
        parse_years,
        user_gazetteers_dir,
        write_gazetteer,
        write_manifest,
    )

    if not _SAFE_NAME.match(name):
        raise JadisError(f"gazetteer name {name!r}: use lower-case letters, digits, '_', '-' or '.'")
    span = parse_years(years)
    existing = {i.name: i for i in list_gazetteers()}
    if name in existing and (existing[name].bundled or not replace_existing):
        raise JadisError(f"gazetteer name {name!r} is already taken (choose another, or --replace one of yours)")
    result = read_map(layers_path, image_path, georef_path=georef_path, names=names, keep_unmatched=keep_unmatched,
                      min_similarity=min_similarity, reader=reader, progress=progress)
    frame = result.streets
    if len(frame) == 0:
        raise JadisError(f"no street name could be read on {Path(image_path).name} "
                         f"({result.lines} lines of text, none matching a known name)")
    folder = user_gazetteers_dir()
    folder.mkdir(parents=True, exist_ok=True)
    info = GazetteerInfo(name=name, kind="street_network", file=f"{name}.gpkg", years=span,
                         title=f"street names read on {Path(image_path).name}", source=str(Path(image_path).resolve()),
                         licence="as the scan", notes="built by `jadis gazetteer from-map`: names read by OCR and "
                                                      "corrected against known names", bundled=False,
                         folder=str(folder))
    info = write_gazetteer(frame, info, folder, extra_layers={"labels": result.readings})
    others = [i for i in _read_manifest(folder, bundled=False) if i.name != name]
    write_manifest(folder, [*others, info])
    return MapGazetteer(info, result.labels_read, result.lines, result.lines_named, result.segments,
                        len(frame), len(set(frame["name"])))


def _georeferenced(ds) -> bool:  # noqa: ANN001 - rasterio dataset
    return ds.crs is not None and not ds.transform.is_identity


def _transforms(ds, georef, layers_crs):  # noqa: ANN001
    """(world-of-layers -> pixel, pixel geometries -> EPSG:2154 geometries) for this scan."""
    import shapely
    from pyproj import Transformer

    if georef is not None:
        from jadis.georef.apply import transform_geometries
        from jadis.georef.crs import parse_crs

        def to_pixel(xy: np.ndarray) -> np.ndarray:
            return georef.crs_to_pixel(xy, layers_crs)

        def to_l93(geoms: np.ndarray) -> np.ndarray:
            return transform_geometries(georef, geoms, parse_crs(CRS))

        return to_pixel, to_l93
    affine = ds.transform
    inverse = ~affine
    to_crs = Transformer.from_crs(ds.crs, CRS, always_xy=True)
    from_layers = Transformer.from_crs(layers_crs, ds.crs, always_xy=True) if layers_crs is not None else None

    def to_pixel(xy: np.ndarray) -> np.ndarray:
        x, y = from_layers.transform(xy[:, 0], xy[:, 1]) if from_layers else (xy[:, 0], xy[:, 1])
        c, r = inverse * (np.asarray(x), np.asarray(y))
        return np.column_stack([c, r])

    def to_l93(geoms: np.ndarray) -> np.ndarray:
        def fn(xy: np.ndarray) -> np.ndarray:
            wx, wy = affine * (xy[:, 0], xy[:, 1])
            return np.column_stack(to_crs.transform(np.asarray(wx), np.asarray(wy)))

        return shapely.transform(shapely.segmentize(geoms, 10.0), fn)

    return to_pixel, to_l93


def _readings_layer(lines, corrections, line_names, to_l93, labels_px):  # noqa: ANN001
    """One row per text line: where it is, what was read, what it was matched to."""
    import geopandas as gpd
    import shapely

    by_id = dict(zip(labels_px["label_id"].to_numpy().tolist(), labels_px.geometry.to_numpy(), strict=True))
    geoms = [shapely.union_all([by_id[i] for i in line.ids if i in by_id]) for line in lines]
    world = to_l93(np.asarray(geoms, dtype=object)) if geoms else np.zeros(0, dtype=object)
    return gpd.GeoDataFrame({
        "reading": [line.text for line in lines],
        "ocr_score": [round(line.score, 3) for line in lines],
        "name": list(line_names),
        "similarity": [round(c.similarity, 3) for c in corrections],
        "how": [c.how for c in corrections],
        "label_ids": [",".join(map(str, line.ids)) for line in lines],
    }, geometry=gpd.GeoSeries(world, crs=CRS), crs=CRS)
