"""Vector layers out: GeoPackage (several layers per file) written atomically."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import pyogrio

from jadis.io.atomic import atomic_path


def write_layers(dest: str | os.PathLike[str], layers: Mapping[str, gpd.GeoDataFrame]) -> Path:
    """Write several GeoDataFrames as layers of one GeoPackage, atomically (all or nothing).

    Empty layers are written too (with their schema), so consumers can rely on every layer
    existing. Returns the destination path.
    """
    dest = Path(dest)
    with atomic_path(dest) as tmp:
        for name, gdf in layers.items():
            pyogrio.write_dataframe(gdf, tmp, layer=name, driver="GPKG", append=tmp.exists())
    return dest


def list_layers(path: str | os.PathLike[str]) -> list[str]:
    """Names of the layers in a vector file."""
    return [str(name) for name, _geom in pyogrio.list_layers(path)]
