"""GCP and georeference file formats: QGIS ``.points``, Allmaps annotations, GDAL GCPs, CSV.

:func:`read_gcps` / :func:`write_gcps` pick the format from the file name.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyproj

from jadis.errors import JadisError
from jadis.georef.gcps import GcpSet

#: file suffix -> format name
FORMATS = {".points": "qgis", ".json": "allmaps", ".jsonld": "allmaps", ".geojson": "allmaps",
           ".csv": "csv", ".txt": "csv", ".vrt": "gdal", ".tif": "gdal", ".tiff": "gdal"}


def format_of(path: str | os.PathLike[str]) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise JadisError(f"{path}: unknown GCP file type {suffix or '(none)'}; use .points, .json, .csv, .vrt or .tif")
    return FORMATS[suffix]


def read_gcps(path: str | os.PathLike[str], crs: str | pyproj.CRS | None = None) -> GcpSet:
    """Read GCPs from any supported file; ``crs`` overrides the file's CRS (no reprojection)."""
    kind = format_of(path)
    if kind == "qgis":
        from jadis.georef.formats.qgis_points import read_points

        return read_points(path, crs=crs)
    if kind == "allmaps":
        from jadis.georef.formats.allmaps import read_annotation

        gcps = read_annotation(path).gcps
    elif kind == "csv":
        from jadis.georef.formats.csv import read_csv

        return read_csv(path, crs=crs)
    else:
        from jadis.georef.formats.gdal import read_gdal_gcps

        return read_gdal_gcps(path, crs=crs)
    return gcps if crs is None else gcps.with_crs(crs)


def write_gcps(path: str | os.PathLike[str], gcps: GcpSet, image: str | os.PathLike[str] | None = None) -> Path:
    """Write GCPs in the format given by the suffix (``image``: the raster a GDAL VRT/GeoTIFF refers to)."""
    kind = format_of(path)
    if kind == "qgis":
        from jadis.georef.formats.qgis_points import write_points

        return write_points(path, gcps)
    if kind == "csv":
        from jadis.georef.formats.csv import write_csv

        return write_csv(path, gcps)
    if kind == "gdal":
        from jadis.georef.formats.gdal import write_gdal_gcps

        if image is None:
            raise JadisError(f"{path}: writing GDAL GCPs needs the image they belong to")
        return write_gdal_gcps(path, gcps, image)
    raise JadisError(f"{path}: write a Georeference (not bare GCPs) as an Allmaps annotation")
