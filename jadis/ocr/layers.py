"""Names on the segmenter's GeoPackage: the ``streets`` layer gets ``name`` and ``name_score``,
``labels`` gets the ``text`` read, and two layers are added: ``text_lines`` (one row per line of
text: what was read, the name it was matched to, its confidence) and ``house_numbers`` (points,
with the street segment and side each number faces).

Works in the layers' own coordinates: pixels, or the CRS of a georeferenced scan.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from jadis.errors import JadisError
from jadis.ocr.mapread import MIN_NAME_SCORE, ImageReader, MapText, read_map_text


def image_reader_for(ds, path: Path) -> ImageReader:  # rasterio dataset
    """``reader(x0, y0, w, h)``: RGB pixels of the scan, white outside it."""
    from rasterio.windows import Window

    from jadis.io.images import read_window, to_rgb

    width, height = ds.width, ds.height

    def image_reader(x0: int, y0: int, w: int, h: int) -> np.ndarray | None:
        xa, ya, xb, yb = max(0, x0), max(0, y0), min(width, x0 + w), min(height, y0 + h)
        if xb <= xa or yb <= ya:
            return None
        arr = to_rgb(read_window(ds, Window(xa, ya, xb - xa, yb - ya), path=path))
        out = np.full((h, w, 3), 255, dtype=np.uint8)
        out[ya - y0:yb - y0, xa - x0:xb - x0] = arr
        return out

    return image_reader


def name_layers(gpkg_path: str | os.PathLike[str], image_path: str | os.PathLike[str], *, reader=None,
                names: list[str] | None = None, year: int | None = None, min_score: float = MIN_NAME_SCORE,
                detect: bool = True, progress: bool = True,
                local: Callable[[np.ndarray], Sequence[str]] | None = None) -> MapText:
    """Read the sheet's names and numbers and write them into its GeoPackage (atomically).

    ``names``: the known street names readings are corrected to (default: every gazetteer's,
    only those that can be on a map of ``year`` when it is given). ``local``: the street names
    around a pixel of the map, when it is georeferenced (:mod:`jadis.ocr.place`)."""
    import geopandas as gpd
    import pandas as pd
    import pyogrio
    import shapely

    from jadis.io.images import open_image
    from jadis.io.vector import list_layers, write_layers
    from jadis.ocr.correct import NameCorrector

    gpkg_path, image_path = Path(gpkg_path), Path(image_path)
    present = list_layers(gpkg_path)
    if "streets" not in present or "labels" not in present:
        raise JadisError(f"{gpkg_path}: no streets or labels layer (give the GeoPackage of `jadis segment`)")
    layers = {name: pyogrio.read_dataframe(gpkg_path, layer=name) for name in present}
    streets, labels = layers["streets"], layers["labels"]
    crs = streets.crs
    with open_image(image_path) as ds:
        if crs is not None:  # a georeferenced scan: layers in its CRS -> pixels and back
            inverse, forward = ~ds.transform, ds.transform

            def to_px(xy: np.ndarray) -> np.ndarray:
                return np.column_stack(inverse * (xy[:, 0], xy[:, 1]))

            def to_world(xy: np.ndarray) -> np.ndarray:
                return np.column_stack(forward * (xy[:, 0], xy[:, 1]))

            streets_px = streets.set_geometry(shapely.transform(streets.geometry.to_numpy(), to_px), crs=None)
            labels_px = labels.set_geometry(shapely.transform(labels.geometry.to_numpy(), to_px), crs=None)
        else:
            streets_px, labels_px, to_world = streets, labels, None
        if names is None:
            from jadis.geocode.vocabulary import vocabulary

            names = vocabulary(year=year)
        corrector = NameCorrector(names)
        text = read_map_text(image_reader_for(ds, image_path), labels_px, streets_px, reader, corrector,
                             min_score=min_score, size=(ds.width, ds.height) if detect else None,
                             progress=progress, local=local)

    def world(geoms: np.ndarray) -> np.ndarray:
        return geoms if to_world is None else shapely.transform(geoms, to_world)

    sids = streets["street_id"].to_numpy()
    streets = streets.copy()
    streets["name"] = [text.segment_names[int(s)][0] if int(s) in text.segment_names else None for s in sids]
    streets["name_score"] = [text.segment_names[int(s)][2] if int(s) in text.segment_names else None
                             for s in sids]
    streets["name_from"] = [text.segment_names[int(s)][1] if int(s) in text.segment_names else None
                            for s in sids]
    texts = text.label_texts()
    labels = labels.copy()
    labels["source"] = "segmenter"
    if text.detected:  # words the text detector found: label boxes too
        from jadis.vectorize.labels import reading_angle

        ids = list(text.detected)
        quads = [text.detected[i] for i in ids]
        polys = np.asarray([shapely.Polygon(q) for q in quads], dtype=object)
        found = gpd.GeoDataFrame({
            "label_id": ids,
            "angle": [reading_angle(q) for q in quads],
            "length_px": [float(max(np.hypot(*(q[1] - q[0])), np.hypot(*(q[2] - q[1])))) for q in quads],
            "height_px": [float(min(np.hypot(*(q[1] - q[0])), np.hypot(*(q[2] - q[1])))) for q in quads],
            "source": "detector",
        }, geometry=gpd.GeoSeries(world(polys), crs=crs), crs=crs)
        labels = gpd.GeoDataFrame(pd.concat([labels, found], ignore_index=True), crs=crs)
        labels_px = gpd.GeoDataFrame(pd.concat([labels_px, found.set_geometry(gpd.GeoSeries(polys), crs=None)],
                                               ignore_index=True))
    labels["text"] = [texts.get(int(i)) for i in labels["label_id"].to_numpy()]
    by_id = dict(zip(labels_px["label_id"].to_numpy().tolist(), labels_px.geometry.to_numpy(), strict=True))
    line_geoms = np.asarray([shapely.union_all([by_id[i] for i in line.ids if i in by_id]) for line in text.lines],
                            dtype=object)
    layers["streets"] = streets
    layers["labels"] = labels
    layers["text_lines"] = gpd.GeoDataFrame({
        "reading": [line.text for line in text.lines],
        "name": [line.name for line in text.lines],
        "name_score": [line.score for line in text.lines],
        "how": [line.correction.how for line in text.lines],
        "label_ids": [",".join(map(str, line.ids)) for line in text.lines],
    }, geometry=gpd.GeoSeries(world(line_geoms) if len(line_geoms) else [], crs=crs), crs=crs)
    seg_names = {int(s): n for s, n in zip(sids, streets["name"], strict=True)}
    points = np.asarray([shapely.Point(*n.centre) for n in text.numbers], dtype=object)
    layers["house_numbers"] = gpd.GeoDataFrame({
        "number": [n.number for n in text.numbers],
        "street_id": [n.street_id for n in text.numbers],
        "side": [n.side for n in text.numbers],
        "name": [seg_names.get(n.street_id) if n.street_id is not None else None for n in text.numbers],
        "ocr_score": [round(n.score, 3) for n in text.numbers],
    }, geometry=gpd.GeoSeries(world(points) if len(points) else [], crs=crs), crs=crs)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="'crs' was not provided")
        write_layers(gpkg_path, layers)
    return text
