"""Street networks for synthetic maps: real historical networks (GIS line layers) and procedural ones.

A :class:`Network` is a list of named polylines in metres (any projected CRS). The bundled networks
(``data/networks/*.json``) are the PeGazUs street layers of the Faubourg Saint-Antoine (Delagrive 1728,
Verniquet 1791, Vasserot 1810, Jacoubet 1836, Andriveau 1849, Atlas municipal 1888) and of the
Butte-aux-Cailles (Atlas municipal 1888), Licence Ouverte 2.0 (Charly Bernard, PeGazUs; geometries
from ALPAGE / GeoHistoricalData). Any other line layer can be loaded with :func:`load_network`.

Procedural networks (:func:`procedural_network`) add layouts the real ones lack: regular grids,
Haussmann-like diagonals and stars, and irregular medieval tangles.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from jadis.errors import JadisError

DATA_DIR = Path(__file__).resolve().parent / "data"
NETWORKS_DIR = DATA_DIR / "networks"

#: Abbreviations of the Atlas municipal 1888 layers (``R LACUEE``) and their long form.
_ABBREVIATIONS = {
    "R": "Rue", "BD": "Boulevard", "AV": "Avenue", "PAS": "Passage", "IMP": "Impasse", "PL": "Place",
    "QU": "Quai", "CITE": "Cité", "VLA": "Villa", "SQ": "Square", "CHE": "Chemin", "SENT": "Sentier",
    "CR": "Cour", "RLE": "Ruelle", "CAR": "Carrefour", "RPT": "Rond-Point", "ALL": "Allée", "PT": "Pont",
}
_NAME_FIELDS = ("nom_entier", "nom", "name", "nom_1888", "NOM", "Name", "street", "nomOff")


@dataclass
class Street:
    """One polyline of a network, in metres, with its name ('' if unknown)."""

    coords: np.ndarray  #: (N, 2) float
    name: str = ""


@dataclass
class Network:
    """Named street polylines in metres; ``source`` says where they come from."""

    streets: list[Street]
    source: str = ""
    licence: str = ""
    bounds: tuple[float, float, float, float] = field(init=False)
    vertices: np.ndarray = field(init=False, repr=False)  #: all polyline vertices, (N, 2)

    def __post_init__(self) -> None:
        if not self.streets:
            raise JadisError(f"network {self.source or '?'} has no street lines")
        allc = np.concatenate([s.coords for s in self.streets])
        self.vertices = allc
        self.bounds = (float(allc[:, 0].min()), float(allc[:, 1].min()),
                       float(allc[:, 0].max()), float(allc[:, 1].max()))

    def to_json(self) -> dict:
        return {"source": self.source, "licence": self.licence,
                "streets": [{"name": s.name, "coords": np.round(s.coords, 1).tolist()} for s in self.streets]}


def tidy_name(raw: object) -> str:
    """A readable street name: expand Atlas municipal abbreviations, fix the case of upper-case names."""
    if raw is None or (isinstance(raw, float) and np.isnan(raw)):
        return ""
    name = " ".join(str(raw).split())
    if not name or name.lower() in {"nan", "none", "null"}:
        return ""
    words = name.split(" ")
    if words[0].upper() in _ABBREVIATIONS and (name.isupper() or len(words[0]) <= 3):
        words[0] = _ABBREVIATIONS[words[0].upper()]
    small = {"de", "du", "des", "la", "le", "les", "aux", "au", "et", "sur", "ou", "en"}
    fixed = []
    for k, word in enumerate(words):
        if (word.isupper() or re.match(r"^([DL]'|[dl]'[A-Z])", word) or "-" in word
                or (word.islower() and k > 0 and word not in small)):
            low = word.lower()
            if low in small and k > 0:
                word = low
            elif low[:2] in {"d'", "l'"}:
                word = low[:2] + _cap(low[2:])
            else:
                word = _cap(low)
        fixed.append(word)
    name = " ".join(fixed)
    return name[0].upper() + name[1:]


def _cap(word: str) -> str:
    return "-".join(part[:1].upper() + part[1:] for part in word.split("-"))


def load_network(path: str | os.PathLike[str]) -> Network:
    """Read any GIS line layer (GeoPackage, GeoJSON, Shapefile…) or a bundled ``.json`` network.

    Geographic CRSs are projected to Lambert-93 so that coordinates are metres. Names come from the
    first present field among ``nom_entier, nom, name, nom_1888, …``.
    """
    path = Path(path)
    if not path.is_file():
        raise JadisError(f"{path}: network file not found")
    if path.suffix == ".json":
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
            streets = [Street(np.asarray(s["coords"], float), s.get("name", "")) for s in payload["streets"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise JadisError(f"{path}: not a jadis network file ({exc})") from exc
        return Network(streets, source=payload.get("source", path.stem), licence=payload.get("licence", ""))
    import geopandas as gpd

    try:
        gdf = gpd.read_file(path)
    except Exception as exc:  # noqa: BLE001 - any GDAL failure is a bad input file
        raise JadisError(f"{path}: cannot read as a GIS layer ({type(exc).__name__})") from exc
    if gdf.crs is None:
        raise JadisError(f"{path}: the layer has no CRS; street widths need metres")
    if gdf.crs.is_geographic:
        gdf = gdf.to_crs(2154)
    name_field = next((f for f in _NAME_FIELDS if f in gdf.columns), None)
    streets: list[Street] = []
    for geom, raw in zip(gdf.geometry, gdf[name_field] if name_field else [None] * len(gdf), strict=True):
        if geom is None or geom.is_empty:
            continue
        name = tidy_name(raw)
        parts = getattr(geom, "geoms", [geom])
        for part in parts:
            if part.geom_type == "LineString" and len(part.coords) >= 2:
                streets.append(Street(np.asarray(part.coords, float)[:, :2], name))
            elif part.geom_type == "Polygon":  # some layers map ways as polygons: use their outline
                streets.append(Street(np.asarray(part.exterior.coords, float)[:, :2], name))
    if not streets:
        raise JadisError(f"{path}: no line geometries found")
    return Network(streets, source=path.name)


def bundled_network_paths() -> list[Path]:
    """The networks shipped with jadis (Licence Ouverte 2.0, PeGazUs)."""
    return sorted(NETWORKS_DIR.glob("*.json"))


@lru_cache(maxsize=32)
def _cached(path: str) -> Network:
    return load_network(path)


def get_network(path: str | os.PathLike[str]) -> Network:
    """:func:`load_network` with a per-process cache."""
    return _cached(str(Path(path).resolve()))


# --- procedural networks -------------------------------------------------------------------------

def procedural_network(rng: np.random.Generator, size_m: float, kind: str | None = None) -> Network:
    """A street network covering a ``size_m`` square (origin at 0, 0), of kind grid / radial / organic."""
    kind = kind or str(rng.choice(["grid", "radial", "organic"], p=[0.4, 0.25, 0.35]))
    if kind == "grid":
        lines = _grid(rng, size_m)
    elif kind == "radial":
        lines = _radial(rng, size_m)
    elif kind == "organic":
        lines = _organic(rng, size_m)
    else:
        raise JadisError(f"unknown procedural network kind {kind!r} (grid, radial, organic)")
    return Network([Street(c) for c in lines if len(c) >= 2], source=f"procedural:{kind}")


def _grid(rng: np.random.Generator, size: float) -> list[np.ndarray]:
    """A rotated, jittered grid; some segments dropped so that blocks merge (irregular block sizes)."""
    lines: list[np.ndarray] = []
    angle = rng.uniform(0, np.pi)
    pitch = rng.uniform(45, 140, size=2)
    c, s = np.cos(angle), np.sin(angle)
    rot = np.array([[c, -s], [s, c]])
    half = size * 0.75
    centre = np.array([size / 2, size / 2])
    for axis in (0, 1):
        pos = -half + rng.uniform(0, pitch[axis])
        while pos < half:
            t = np.linspace(-half, half, 12)
            pts = np.zeros((12, 2))
            pts[:, axis] = pos + rng.normal(0, pitch[axis] * 0.03, 12).cumsum() * 0.3
            pts[:, 1 - axis] = t
            # drop random stretches so that some blocks span two cells
            keep = rng.random(11) > 0.18
            start = None
            for i in range(11):
                if keep[i] and start is None:
                    start = i
                if (not keep[i] or i == 10) and start is not None:
                    stop = i + 1 if keep[i] else i
                    if stop - start >= 1:
                        lines.append(pts[start:stop + 1] @ rot.T + centre)
                    start = None
            pos += pitch[axis] * rng.uniform(0.6, 1.5)
    return lines


def _radial(rng: np.random.Generator, size: float) -> list[np.ndarray]:
    """A star (place with radiating avenues) over a grid, as in Haussmann's Paris."""
    lines = _grid(rng, size) if rng.random() < 0.7 else _organic(rng, size)
    centre = rng.uniform(0.3, 0.7, 2) * size
    n = int(rng.integers(4, 9))
    start = rng.uniform(0, 2 * np.pi)
    for k in range(n):
        a = start + 2 * np.pi * k / n + rng.normal(0, 0.12)
        r = np.linspace(0, size * 1.2, 10)
        lines.append(centre + np.stack([np.cos(a) * r, np.sin(a) * r], 1))
    ring = rng.uniform(25, 60)
    t = np.linspace(0, 2 * np.pi, 48)
    lines.append(centre + ring * np.stack([np.cos(t), np.sin(t)], 1))
    return lines


def _organic(rng: np.random.Generator, size: float) -> list[np.ndarray]:
    """An irregular network: the edges of a Voronoi diagram of random seeds, some removed, wiggled."""
    from scipy.spatial import Voronoi

    n = int(size * size / rng.uniform(3500, 12000)) + 8
    pts = rng.uniform(-0.2 * size, 1.2 * size, (n, 2))
    vor = Voronoi(pts)
    lines = []
    for (i, j) in vor.ridge_vertices:
        if i < 0 or j < 0 or rng.random() < 0.15:
            continue
        a, b = vor.vertices[i], vor.vertices[j]
        if np.abs(np.concatenate([a, b]) - size / 2).max() > size:
            continue
        t = np.linspace(0, 1, 5)[:, None]
        seg = a + (b - a) * t
        normal = np.array([-(b - a)[1], (b - a)[0]]) / (np.linalg.norm(b - a) + 1e-9)
        seg = seg + normal * (np.sin(t * np.pi) * rng.normal(0, 4))
        lines.append(seg)
    return lines
