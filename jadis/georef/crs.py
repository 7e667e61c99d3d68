"""Coordinate reference systems: EPSG codes, PROJ strings, WKT and the historical Paris grids.

``parse_crs`` accepts everything a user may type on the command line or find in a GCP file:

* ``EPSG:2154``, ``2154``, ``IGNF:LAMB93``, ``OGC:CRS84``, ``WGS84``;
* a PROJ string (``+proj=aeqd ...``) or WKT (1 or 2), a path to a ``.prj`` / ``.wkt`` file;
* the named grids of the Paris atlases (definitions shipped in ``crs_defs/``, see its README):
  ``VERNIQUET-toise`` (Verniquet 1791 and the atlases drawn on his grid, unit: toise du Châtelet),
  ``VERNIQUET-m`` (the same grid in metres; Jacoubet 1836), ``ATLAS-MUN`` (Atlas municipal 1868-1937).

World coordinates are always handled as (x, y) = (easting, northing) or (lon, lat): every
transformer here is built with ``always_xy=True``.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import pyproj
from pyproj.exceptions import CRSError

from jadis.errors import JadisError

_DEFS = Path(__file__).with_name("crs_defs")

#: WGS84 longitude/latitude (x = lon, y = lat), the CRS of Allmaps annotations and GeoJSON.
WGS84 = "OGC:CRS84"

_ALIASES = {
    "WGS84": WGS84, "WGS 84": WGS84, "CRS84": WGS84, "LONLAT": WGS84,
    "L93": "EPSG:2154", "LAMBERT93": "EPSG:2154", "LAMBERT-93": "EPSG:2154",
    "WEBMERCATOR": "EPSG:3857", "WEB-MERCATOR": "EPSG:3857",
}

#: Display names of the named historical grids (keys are matched case-insensitively).
NAMED_GRIDS = ("VERNIQUET-toise", "VERNIQUET-m", "ATLAS-MUN")


def _proj_strings() -> dict[str, str]:
    out: dict[str, str] = {}
    for line in (_DEFS / "proj_strings.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, proj, *_ = line.split("|")
            out[name.strip().upper()] = proj.strip()
    return out


def _renamed(crs: pyproj.CRS, name: str) -> pyproj.CRS:
    data = crs.to_json_dict()
    data["name"] = name
    return pyproj.CRS.from_json_dict(data)


@functools.cache
def named_grid(name: str) -> pyproj.CRS:
    """The CRS of a named historical Paris grid (``VERNIQUET-toise``, ``VERNIQUET-m``, ``ATLAS-MUN``)."""
    key = name.strip().upper()
    if key == "VERNIQUET-TOISE":
        # The SoDUCo WKT (modified azimuthal equidistant, toise unit); identical to the PROJ
        # string of proj_strings.txt to 0.0 m over Paris, but carries proper names and units.
        return pyproj.CRS.from_wkt((_DEFS / "verniquet.wkt").read_text(encoding="utf-8"))
    if key == "VERNIQUET-M":
        return _renamed(pyproj.CRS.from_proj4(_proj_strings()[key]), "Verniquet Paris - metres")
    if key == "ATLAS-MUN":
        return _renamed(pyproj.CRS.from_proj4(_proj_strings()[key]), "Atlas municipal de Paris grid")
    raise JadisError(f"unknown named grid {name!r}; known: {', '.join(NAMED_GRIDS)}")


@functools.lru_cache(maxsize=256)
def _parse_text(text: str) -> pyproj.CRS:
    key = text.strip()
    upper = key.upper()
    if upper in {g.upper() for g in NAMED_GRIDS}:
        return named_grid(upper)
    key = _ALIASES.get(upper, key)
    if key.isdigit():
        key = f"EPSG:{key}"
    try:
        return pyproj.CRS.from_user_input(key)
    except CRSError as exc:
        short = " ".join(text.split())
        short = short if len(short) <= 60 else short[:57] + "..."
        raise JadisError(
            f"unknown CRS {short!r}: give an EPSG code (EPSG:2154), a PROJ string, WKT, "
            f"or one of {', '.join(NAMED_GRIDS)}"
        ) from exc


def parse_crs(value: str | int | os.PathLike[str] | pyproj.CRS) -> pyproj.CRS:
    """Parse a CRS from an EPSG code, PROJ string, WKT, a file holding one, or a named Paris grid."""
    if isinstance(value, pyproj.CRS):
        return value
    if isinstance(value, int):
        return _parse_text(f"EPSG:{value}")
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or not value.strip():
        raise JadisError(f"unknown CRS {value!r}: empty or not text")
    text = value.strip()
    if len(text) < 260 and "\n" not in text and text.lower().endswith((".prj", ".wkt", ".proj")):
        path = Path(text)
        if not path.is_file():
            raise JadisError(f"{text}: CRS file not found")
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    return _parse_text(text)


def crs_name(crs: pyproj.CRS) -> str:
    """A short, re-parseable text for ``crs``: a named grid, ``AUTH:CODE``, else WKT2."""
    for name in NAMED_GRIDS:
        if crs == named_grid(name):
            return name
    if crs == pyproj.CRS.from_user_input(WGS84):
        return WGS84
    auth = crs.to_authority(min_confidence=100)
    if auth is not None:
        return f"{auth[0]}:{auth[1]}"
    return crs.to_wkt()


def same_crs(a: pyproj.CRS, b: pyproj.CRS) -> bool:
    """Whether two CRSs are the same (ignoring names)."""
    return a == b or a.equals(b, ignore_axis_order=True)


@functools.lru_cache(maxsize=64)
def _transformer(src_wkt: str, dst_wkt: str) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(pyproj.CRS.from_wkt(src_wkt), pyproj.CRS.from_wkt(dst_wkt), always_xy=True)


def transformer(src: pyproj.CRS, dst: pyproj.CRS) -> pyproj.Transformer:
    """A cached (x, y)-ordered transformer from ``src`` to ``dst``."""
    return _transformer(src.to_wkt(), dst.to_wkt())


def reproject(xy: np.ndarray, src: pyproj.CRS, dst: pyproj.CRS) -> np.ndarray:
    """Reproject an (N, 2) array of (x, y) / (lon, lat) from ``src`` to ``dst``."""
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    if same_crs(src, dst):
        return xy.copy()
    x, y = transformer(src, dst).transform(xy[:, 0], xy[:, 1])
    out = np.column_stack([np.asarray(x, dtype=float), np.asarray(y, dtype=float)])
    if not np.all(np.isfinite(out[np.all(np.isfinite(xy), axis=1)])):
        raise JadisError(f"coordinates cannot be reprojected from {crs_name(src)[:40]} to {crs_name(dst)[:40]} "
                         "(outside the domain of the projection?)")
    return out


def to_wgs84(xy: np.ndarray, src: pyproj.CRS) -> np.ndarray:
    """(N, 2) coordinates in ``src`` -> (N, 2) lon/lat WGS84."""
    return reproject(xy, src, pyproj.CRS.from_user_input(WGS84))


def ground_distance(a: np.ndarray, b: np.ndarray, crs: pyproj.CRS) -> np.ndarray:
    """Geodesic distance in metres between matching rows of two (N, 2) arrays in ``crs``.

    Works for any CRS (toises, Web Mercator, lon/lat) because it measures on the ellipsoid.
    """
    la, lb = to_wgs84(a, crs), to_wgs84(b, crs)
    geod = pyproj.Geod(ellps="WGS84")
    _, _, dist = geod.inv(la[:, 0], la[:, 1], lb[:, 0], lb[:, 1])
    return np.asarray(dist, dtype=float)


def metres_per_unit(crs: pyproj.CRS, near: np.ndarray | None = None) -> float:
    """How many ground metres one unit of ``crs`` is, near ``near`` (an (N, 2) array in ``crs``).

    For a projected CRS this is the axis unit (1 for metres, 1.949 for toises) times the local
    scale factor of the projection; for a geographic CRS it is metres per degree of latitude.
    """
    if near is None or len(near) == 0:
        if crs.is_geographic:
            return 111_195.0
        return float(crs.axis_info[0].unit_conversion_factor or 1.0)
    c = np.nanmean(np.asarray(near, dtype=float).reshape(-1, 2), axis=0)
    step = 1e-4 if crs.is_geographic else 10.0
    a = np.array([c, c])
    b = np.array([c + [step, 0.0], c + [0.0, step]])
    return float(np.mean(ground_distance(a, b, crs)) / step)


def outside_area_of_use(xy: np.ndarray, crs: pyproj.CRS, margin_deg: float = 1.0) -> np.ndarray | None:
    """Which rows of the (N, 2) ``xy`` in ``crs`` lie outside the CRS's area of use (pyproj's,
    widened by ``margin_deg`` degrees); None when the CRS declares no area of use."""
    area = crs.area_of_use
    if area is None:
        return None
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    geographic = pyproj.CRS.from_user_input(WGS84)
    if same_crs(crs, geographic):
        lon, lat = xy[:, 0], xy[:, 1]
    else:
        with np.errstate(all="ignore"):
            lon, lat = transformer(crs, geographic).transform(xy[:, 0], xy[:, 1], errcheck=False)
        lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    west, south, east, north = area.bounds
    with np.errstate(invalid="ignore"):
        if west <= east:
            in_lon = (lon >= west - margin_deg) & (lon <= east + margin_deg)
        else:  # the area crosses the antimeridian
            in_lon = (lon >= west - margin_deg) | (lon <= east + margin_deg)
        inside = np.isfinite(lon) & np.isfinite(lat) & in_lon & (lat >= south - margin_deg) & (lat <= north + margin_deg)
    return ~inside
