"""The map as the gazetteer of its year: street names read on a segmented, georeferenced map.

From the segmenter's GeoPackage (``streets`` centre-lines and ``labels`` boxes, in pixels), the
scan and a georeference, :func:`build_map_gazetteer` reads the map (:mod:`jadis.ocr.mapread`:
label boxes merged into phrases, read by a Latin recogniser, chained along their streets, cut
into known names valid for the map and corrected to their written form, refused below a
confidence; a reading that names nothing is then named among the few streets the gazetteers have
around its place, :mod:`jadis.ocr.place`), gives each name to the street segments it is written
on, attaches the house numbers read to a side of their street, moves everything to Lambert-93 through the georeference and stores
it as a ``street_network`` gazetteer (with a ``labels`` layer of every line read, for checking)
plus, where numbers were read, an ``address_points`` gazetteer ``<name>_numbers``.

This is the JADIS idea that a map is the gazetteer of its own year: addresses of that year are
then geocoded on the streets as the map drew them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jadis.errors import JadisError
from jadis.geocode.gazetteer import CRS, GazetteerInfo
from jadis.geocode.vocabulary import place_prior, vocabulary

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
    numbers_info: GazetteerInfo | None = None  #: the house numbers' gazetteer, when numbers were read


@dataclass
class MapReading:
    """The named streets of one map (EPSG:2154) and every line of text read on it."""

    streets: object    #: GeoDataFrame in the gazetteer schema (+ ``name_from``: label | continued)
    readings: object   #: GeoDataFrame: reading, ocr_score, name, similarity, how, label_ids
    labels_read: int
    lines: int
    lines_named: int
    segments: int
    numbers: object = None  #: GeoDataFrame of house numbers on named streets (address points, EPSG:2154)


def read_map(layers_path: str | os.PathLike[str], image_path: str | os.PathLike[str], *,
             georef_path: str | os.PathLike[str] | None = None, names: list[str] | None = None,
             keep_unmatched: bool = False, min_similarity: float | None = None, reader=None,
             min_score: float | None = None, year: int | None = None, detect: bool = True,
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
    from jadis.ocr.assign import name_segments
    from jadis.ocr.correct import MIN_SIMILARITY, NameCorrector, clean_reading
    from jadis.ocr.mapread import MIN_NAME_SCORE, ocr_threads, read_map_text
    from jadis.ocr.place import local_names
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

        corrector = NameCorrector(names if names is not None else vocabulary(year=year),
                                  min_similarity=MIN_SIMILARITY if min_similarity is None else min_similarity)
        frame = np.asarray([shapely.box(0, 0, width, height)], dtype=object)
        footprint = to_l93(frame)[0]
        prior = place_prior(footprint, year)

        def pixel_to_l93(px: np.ndarray) -> np.ndarray:
            return shapely.get_coordinates(to_l93(shapely.points(np.asarray(px, float).reshape(-1, 2))))

        local = local_names(pixel_to_l93, footprint, year)  # the streets around each line
        text = read_map_text(image_reader, labels_px, streets_px, reader or LabelReader(threads=ocr_threads()), corrector,
                             min_score=MIN_NAME_SCORE if min_score is None else min_score,
                             size=(width, height) if detect else None, prior=prior, progress=progress, local=local)

    lines = text.lines
    line_names: list[str | None] = [line.name for line in lines]
    scores = [line.score for line in lines]
    if keep_unmatched:  # confident readings of streets the vocabulary lacks
        for k, line in enumerate(lines):
            reading = clean_reading(line.text)
            if line.name is None and line.words[0].score >= MIN_NEW_NAME_SCORE and \
                    sum(ch.isalpha() for ch in reading) >= 4 and line.correction.how != "a street type without a name":
                line_names[k], scores[k] = reading, round(line.words[0].score * 0.6, 3)
    chosen_lines = [k for k, n in enumerate(line_names) if n]
    named = text.segment_names
    if keep_unmatched and chosen_lines:
        named = name_segments(streets_px, [lines[k] for k in chosen_lines], [line_names[k] for k in chosen_lines],
                              scores=[scores[k] for k in chosen_lines])

    keep = [int(sid) in named for sid in streets_px["street_id"].to_numpy()]
    chosen = streets_px[np.asarray(keep, dtype=bool)]
    geoms = to_l93(chosen.geometry.to_numpy())
    sids = chosen["street_id"].to_numpy()
    frame = gpd.GeoDataFrame({
        "name": [named[int(s)][0] for s in sids],
        "number": [None] * len(sids),
        "source_id": [f"street:{int(s)}" for s in sids],
        "name_from": [named[int(s)][1] for s in sids],
        "name_score": [named[int(s)][2] for s in sids],
    }, geometry=gpd.GeoSeries(geoms, crs=CRS), crs=CRS)
    readings = _readings_layer(lines, line_names, scores, to_l93, labels_px, text.detected)
    numbers = _numbers_layer(text.numbers, named, to_l93)
    return MapReading(frame, readings, len(text.pieces), len(lines), sum(1 for n in line_names if n), len(streets),
                      numbers)


def build_map_gazetteer(layers_path: str | os.PathLike[str], image_path: str | os.PathLike[str], name: str,
                        years: str | tuple[int, int], *, georef_path: str | os.PathLike[str] | None = None,
                        names: list[str] | None = None, keep_unmatched: bool = False,
                        min_similarity: float | None = None, replace_existing: bool = False,
                        reader=None, progress: bool = True) -> MapGazetteer:
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
                      min_similarity=min_similarity, reader=reader, year=(span[0] + span[1]) // 2,
                      progress=progress)
    frame = result.streets
    if len(frame) == 0:
        raise JadisError(f"no street name could be read on {Path(image_path).name} "
                         f"({result.lines} lines of text, none matching a known name)")
    folder = user_gazetteers_dir()
    folder.mkdir(parents=True, exist_ok=True)
    extra_infos = []
    numbers = result.numbers
    numbers_name = f"{name}_numbers"
    if numbers is not None and len(numbers):
        if numbers_name in existing and (existing[numbers_name].bundled or not replace_existing):
            raise JadisError(f"gazetteer name {numbers_name!r} (the map's house numbers) is already taken")
        num_info = GazetteerInfo(name=numbers_name, kind="address_points", file=f"{numbers_name}.gpkg", years=span,
                                 title=f"house numbers read on {Path(image_path).name}",
                                 source=str(Path(image_path).resolve()), licence="as the scan",
                                 notes="built by `jadis gazetteer from-map`: numbers read by OCR on named streets",
                                 bundled=False, folder=str(folder))
        extra_infos.append(write_gazetteer(numbers[["name", "number", "source_id", "geometry"]], num_info, folder))
    info = GazetteerInfo(name=name, kind="street_network", file=f"{name}.gpkg", years=span,
                         title=f"street names read on {Path(image_path).name}", source=str(Path(image_path).resolve()),
                         licence="as the scan", notes="built by `jadis gazetteer from-map`: names read by OCR and "
                                                      "corrected against known names", bundled=False,
                         folder=str(folder))
    info = write_gazetteer(frame, info, folder, extra_layers={"labels": result.readings})
    others = [i for i in _read_manifest(folder, bundled=False) if i.name not in {name, numbers_name}]
    write_manifest(folder, [*others, info, *extra_infos])
    return MapGazetteer(info, result.labels_read, result.lines, result.lines_named, result.segments,
                        len(frame), len(set(frame["name"])), extra_infos[0] if extra_infos else None)


def _georeferenced(ds) -> bool:  # rasterio dataset
    return ds.crs is not None and not ds.transform.is_identity


def _transforms(ds, georef, layers_crs):
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


def _readings_layer(lines, line_names, scores, to_l93, labels_px, detected):
    """One row per text line: where it is, what was read, what it was matched to."""
    import geopandas as gpd
    import shapely

    by_id = dict(zip(labels_px["label_id"].to_numpy().tolist(), labels_px.geometry.to_numpy(), strict=True))
    by_id.update({i: shapely.Polygon(q) for i, q in detected.items()})
    geoms = [shapely.union_all([by_id[i] for i in line.ids if i in by_id]) for line in lines]
    world = to_l93(np.asarray(geoms, dtype=object)) if geoms else np.zeros(0, dtype=object)
    return gpd.GeoDataFrame({
        "reading": [line.text for line in lines],
        "ocr_score": [round(float(np.mean([w.score for w in line.words])), 3) for line in lines],
        "name": list(line_names),
        "name_score": list(scores),
        "similarity": [round(line.correction.similarity, 3) for line in lines],
        "how": [line.correction.how for line in lines],
        "label_ids": [",".join(map(str, line.ids)) for line in lines],
    }, geometry=gpd.GeoSeries(world, crs=CRS), crs=CRS)


def _numbers_layer(numbers, named, to_l93):
    """House numbers read on the map whose street has a name: address points in EPSG:2154."""
    import geopandas as gpd
    import shapely

    rows = [n for n in numbers if n.street_id is not None and n.street_id in named]
    pts = np.asarray([shapely.Point(*n.centre) for n in rows], dtype=object)
    world = to_l93(pts) if len(pts) else np.zeros(0, dtype=object)
    return gpd.GeoDataFrame({
        "name": [named[n.street_id][0] for n in rows],
        "number": [n.number for n in rows],
        "side": [n.side for n in rows],
        "source_id": [f"number:{n.label_ids[0] if n.label_ids else k}" for k, n in enumerate(rows)],
        "ocr_score": [round(n.score, 3) for n in rows],
    }, geometry=gpd.GeoSeries(world, crs=CRS), crs=CRS)
