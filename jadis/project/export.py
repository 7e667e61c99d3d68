"""Export a project for GIS: one GeoPackage, class rasters, COG GeoTIFFs and a styled QGIS project.

Per map: the current (corrected) class raster, its vector layers (vectorized by
:mod:`jadis.vectorize`), its street names and house numbers as corrected by the librarians
(:mod:`jadis.project.names`), and, when the map is georeferenced, the scan and the class raster
warped to Cloud-Optimized GeoTIFFs by :mod:`jadis.georef.warp` with the latest georeference and
the vector layers transformed to world coordinates by :mod:`jadis.georef.apply`. Plus the
current control points and geocoded addresses. Every file is written atomically.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd

from jadis.errors import JadisError
from jadis.project import georefs, qgis, tiles
from jadis.project.maps import MapRecord, get_map, list_maps
from jadis.project.uploads import safe_filename
from jadis.project.workspace import Project

_GEOMETRY = {"blocks": "Polygon", "labels": "Polygon", "streets": "Line", "street_nodes": "Point",
             "street_names": "Line", "house_numbers": "Point"}
_STYLE = {"street_names": "streets", "house_numbers": "street_nodes"}


@dataclass
class ExportReport:
    """What an export wrote."""

    folder: Path
    files: list[Path] = field(default_factory=list)
    layers: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _vectorize(project: Project, record: MapRecord) -> dict[str, gpd.GeoDataFrame]:
    from jadis.vectorize.layers import vectorize_windows

    def read(x0: int, y0: int, w: int, h: int):  # numpy array
        return tiles.read_classes(project, record.id, (x0, y0, w, h))

    return vectorize_windows(read, record.width, record.height, progress=False)


def _read_view(project: Project, name: str) -> gpd.GeoDataFrame | pd.DataFrame:
    import pyogrio

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pyogrio.read_dataframe(project.gpkg_path, layer=name)


def export_project(project: Project, out_dir: str | os.PathLike[str] | None = None, *,
                   maps: list[str | int] | None = None, crs: str | None = None,
                   progress: bool = False) -> ExportReport:
    """Write the GIS outputs of ``project`` into ``out_dir`` (default ``PROJECT/exports``)."""
    from jadis.georef.crs import parse_crs
    from jadis.io.vector import write_layers

    out = project.inside("exports") if out_dir is None else Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    out_crs = parse_crs(crs or project.crs)
    authority = out_crs.to_authority()
    authid = f"{authority[0]}:{authority[1]}" if authority else None
    records = [get_map(project, m) for m in maps] if maps else list_maps(project)
    if not records:
        raise JadisError("nothing to export: the project has no maps")
    report = ExportReport(out)
    stem = safe_filename(project.name.replace(".", "_"), default_stem="project")
    gpkg_path = out / f"{stem}.gpkg"
    layers: dict[str, gpd.GeoDataFrame | pd.DataFrame] = {}
    qlayers: list[qgis.QgisLayer] = []
    world_wkt = out_crs.to_wkt()

    for record in records:
        tag = safe_filename(record.name.replace(".", "_"), default_stem=f"map{record.id}")
        with project.connection() as conn:
            segmented = tiles.has_tiles(conn, record.id)
        saved = georefs.load_georef(project, record.id)
        georef = saved.georef if saved else None
        if georef is not None and record.path.exists():
            from jadis.georef.warp import warp

            cog = warp(record.path, georef, out / f"{tag}_cog.tif", crs=out_crs, progress=progress)
            report.files.append(cog)
            qlayers.append(qgis.QgisLayer(f"{record.name} (scan)", cog.name, "raster", crs_wkt=world_wkt,
                                          crs_authid=authid, style="scan", group=record.name))
        elif georef is not None:
            report.notes.append(f"{record.name}: scan file missing, no warped scan")
        if not segmented:
            report.notes.append(f"{record.name}: not segmented, no segmentation layers")
            continue
        classes = tiles.write_class_raster(project, record.id, out / f"{tag}_classes.tif")
        report.files.append(classes)
        if georef is not None:
            from jadis.georef.warp import warp

            classes_cog = warp(classes, georef, out / f"{tag}_classes_cog.tif", crs=out_crs, resampling="nearest",
                               progress=progress)
            report.files.append(classes_cog)
            qlayers.append(qgis.QgisLayer(f"{record.name} (classes)", classes_cog.name, "raster", crs_wkt=world_wkt,
                                          crs_authid=authid, style="classes", group=record.name))
        else:
            qlayers.append(qgis.QgisLayer(f"{record.name} (classes, pixels)", classes.name, "raster",
                                          style="classes", group=record.name))
        try:
            vectors = _vectorize(project, record)
        except ImportError:
            report.notes.append("vector layers skipped: the vectorizer is not installed")
            vectors = {}
        from jadis.project.names import export_layers

        vectors = {**vectors, **export_layers(project, record.id)}
        for kind, gdf in vectors.items():
            if georef is not None:
                from jadis.georef.apply import transform_geometries

                geoms = transform_geometries(georef, gdf.geometry.to_numpy(), out_crs)
                gdf = gpd.GeoDataFrame(gdf.drop(columns=gdf.geometry.name), geometry=geoms, crs=out_crs)
            name = f"{tag}_{kind}"
            layers[name] = gdf
            qlayers.append(qgis.QgisLayer(f"{record.name} {kind}", gpkg_path.name, "vector", layer=name,
                                          geometry=_GEOMETRY.get(kind, "Polygon"),
                                          crs_wkt=world_wkt if georef is not None else None,
                                          crs_authid=authid if georef is not None else None,
                                          style=_STYLE.get(kind, kind),
                                          group=record.name))

    points = _read_view(project, "control_points_current")
    if len(points):
        layers["control_points"] = points.to_crs(out_crs)
        qlayers.append(qgis.QgisLayer("control points", gpkg_path.name, "vector", layer="control_points",
                                      geometry="Point", crs_wkt=world_wkt, crs_authid=authid, style="points"))
    geocoded = _read_view(project, "geocode_results_current")
    if len(geocoded):
        layers["geocoded_addresses"] = geocoded.to_crs(out_crs)
        qlayers.append(qgis.QgisLayer("geocoded addresses", gpkg_path.name, "vector", layer="geocoded_addresses",
                                      geometry="Point", crs_wkt=world_wkt, crs_authid=authid, style="addresses"))
    maps_table = _read_view(project, "maps")
    layers["maps"] = pd.DataFrame(maps_table)
    layers["corrections"] = pd.DataFrame(_read_view(project, "corrections"))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pixel layers have no CRS, by design
        write_layers(gpkg_path, layers)
    report.files.append(gpkg_path)
    report.layers = list(layers)
    # QGIS draws the first layer of the tree on top: points, then each map's vectors, classes, scan
    rank = {"points": 0, "addresses": 0, "scan": 3, "classes": 2}
    qlayers.sort(key=lambda q: (q.group is not None, rank.get(q.style, 1)))
    qgz = qgis.write_qgz(out / f"{stem}.qgz", project.name, qlayers, crs_wkt=world_wkt, crs_authid=authid)
    report.files.append(qgz)
    return report
