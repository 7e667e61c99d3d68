"""The geometry of one synthetic tile, in pixels: streets, blocks, water, quays, places, map frame.

A window of a :class:`~jadis.segment.synth.networks.Network` is chosen (centre near a street, random
rotation and scale in metres per pixel); each street is buffered to a width that depends on its kind
(boulevards and quays wide, passages narrow); blocks are what is left between the streets. Optionally
a river crosses the tile with quays along it and a few bridges, places open at junctions, and the tile
shows the edge of the map (frame line, blank margin).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box
from shapely.ops import polylabel, unary_union

from jadis.segment.synth.networks import Network, procedural_network

_WIDE = re.compile(r"^(boulevard|avenue|quai|cours|bd|av)\b", re.I)
_NARROW = re.compile(r"^(passage|impasse|cour|cité|cite|ruelle|cul|villa|sentier|allée|allee|chemin|galerie)\b", re.I)


@dataclass
class StreetGeom:
    """One street of the tile: centre-line and width in pixels, name and kind."""

    line: LineString
    width: float
    name: str
    kind: str  #: "wide", "street" or "narrow"


@dataclass
class Layout:
    """Everything the renderer draws, in pixel coordinates of a ``size``×``size`` tile."""

    size: int
    scale: float  #: metres per pixel
    streets: list[StreetGeom]
    street_area: Polygon | MultiPolygon  #: public way (class 1), bridges and quays included
    blocks: list[Polygon]  #: building blocks (class 2), separated by street or water
    water: Polygon | MultiPolygon | None = None  #: water (class 0)
    river_line: LineString | None = None
    content: Polygon | None = None  #: the map content inside the frame (None: the whole tile)
    frame_line: LineString | None = None
    places: list[Polygon] = field(default_factory=list)
    source: str = ""


def street_kind(name: str) -> str:
    if _WIDE.match(name or ""):
        return "wide"
    if _NARROW.match(name or ""):
        return "narrow"
    return "street"


def _width_m(rng: np.random.Generator, kind: str) -> float:
    if kind == "wide":
        return float(rng.uniform(18, 40))
    if kind == "narrow":
        return float(rng.uniform(3.5, 7))
    return float(rng.choice([rng.uniform(6, 10), rng.uniform(9, 15)], p=[0.5, 0.5]))


def make_layout(rng: np.random.Generator, network: Network | None, size: int, scale: float, *,
                p_water: float = 0.15, p_place: float = 0.3, p_frame: float = 0.12,
                names: list[str] | None = None) -> Layout:
    """Choose a window of ``network`` (or a procedural one when ``None``) and build the tile geometry."""
    span_m = size * scale * 1.6  # geometry is built on a larger area, then clipped
    if network is None:
        network = procedural_network(rng, span_m * 1.3)
    centre = _pick_centre(rng, network, size * scale / 2)
    angle = rng.uniform(0, 2 * np.pi) if rng.random() < 0.7 else rng.choice([0, np.pi / 2, np.pi, 1.5 * np.pi])
    c, s = np.cos(angle), np.sin(angle)
    half = size / 2

    def to_px(xy: np.ndarray) -> np.ndarray:
        d = (xy - centre) / scale
        x = c * d[:, 0] - s * d[:, 1]
        y = s * d[:, 0] + c * d[:, 1]
        return np.stack([x + half, half - y], axis=1)

    reach = box(-0.4 * size, -0.4 * size, 1.4 * size, 1.4 * size)
    tile = box(0, 0, size, size)
    widths: dict[str, float] = {}
    streets: list[StreetGeom] = []
    for st in network.streets:
        px = to_px(st.coords)
        if len(px) < 2:
            continue
        line = LineString(px)
        if not line.intersects(reach):
            continue
        clipped = line.intersection(reach)
        name = st.name
        if not name and names and rng.random() < 0.8:
            name = str(rng.choice(names))
        kind = street_kind(name)
        key = name or f"#{id(st)}"
        if key not in widths:
            widths[key] = _width_m(rng, kind) / scale
        for part in getattr(clipped, "geoms", [clipped]):
            if part.geom_type == "LineString" and part.length > 1:
                streets.append(StreetGeom(part, widths[key], name, kind))
    if not streets:  # an empty corner of the network: fall back to a procedural layout
        return make_layout(rng, None, size, scale, p_water=p_water, p_place=p_place, p_frame=p_frame, names=names)

    # flat ends (dead ends and impasses end square), round joints where streets meet
    buffers = [st.line.buffer(st.width / 2, quad_segs=6, cap_style="flat") for st in streets]
    ends: dict[tuple[int, int], list[tuple[np.ndarray, float]]] = {}
    for st in streets:
        for pt in (st.line.coords[0], st.line.coords[-1]):
            key = (int(round(pt[0] / 3)), int(round(pt[1] / 3)))
            ends.setdefault(key, []).append((np.asarray(pt), st.width))
    for items in ends.values():
        if len(items) >= 2:
            buffers.append(Point(items[0][0]).buffer(max(w for _, w in items) / 2, quad_segs=6))
    street_area = unary_union(buffers)

    places: list[Polygon] = []
    if rng.random() < p_place:
        junctions = _junctions(streets)
        inside = [p for p in junctions if tile.buffer(-0.1 * size).contains(Point(p))]
        for p in (inside[i] for i in rng.permutation(len(inside))[: int(rng.integers(1, 3))]):
            r = float(np.median([st.width for st in streets])) * rng.uniform(1.2, 3.0)
            sides = int(rng.choice([4, 6, 8, 64]))
            place = Point(p).buffer(r, quad_segs=max(1, sides // 4))
            places.append(place)
        if places:
            street_area = unary_union([street_area, *places])

    water = river_line = None
    if rng.random() < p_water:
        water, river_line, quays, bridges = _river(rng, size, scale, streets)
        street_area = unary_union([street_area.difference(water), quays, bridges])
        water = water.difference(bridges)

    content = frame_line = None
    if rng.random() < p_frame:
        content, frame_line = _frame(rng, size)

    blocked = street_area if water is None else unary_union([street_area, water])
    rest = reach.difference(blocked)
    min_area = (8.0 / scale) ** 2  # blocks smaller than ~8 m × 8 m are islands of the street
    blocks, islands = [], []
    for poly in getattr(rest, "geoms", [rest]):
        if poly.geom_type != "Polygon" or poly.is_empty:
            continue
        if poly.area < min_area or _inscribed_diameter(poly) < 6.0:
            islands.append(poly)
        elif poly.intersects(tile):
            blocks.append(poly)
    if islands:
        street_area = unary_union([street_area, *islands])
    return Layout(size=size, scale=scale, streets=streets, street_area=street_area, blocks=blocks, water=water,
                  river_line=river_line, content=content, frame_line=frame_line, places=places,
                  source=network.source)


def _pick_centre(rng: np.random.Generator, network: Network, radius: float) -> np.ndarray:
    """A point near a street, preferring (best of a few tries) places with many streets around."""
    best, best_count = None, -1
    vertices = network.vertices
    for _ in range(5):
        st = network.streets[int(rng.integers(len(network.streets)))]
        k = int(rng.integers(len(st.coords)))
        centre = st.coords[k] + rng.normal(0, 20, 2)
        count = int(np.count_nonzero(np.abs(vertices - centre).max(axis=1) < radius))
        if count > best_count:
            best, best_count = centre, count
    return best


def _junctions(streets: list[StreetGeom]) -> list[tuple[float, float]]:
    ends = np.array([pt for st in streets for pt in (st.line.coords[0], st.line.coords[-1])])
    if len(ends) < 2:
        return []
    keys = np.round(ends / 4).astype(int)
    _, inverse, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    return [tuple(ends[np.flatnonzero(inverse.ravel() == k)[0]]) for k in np.flatnonzero(counts >= 3)]


def _inscribed_diameter(poly: Polygon) -> float:
    """Twice the distance from the pole of inaccessibility to the boundary."""
    try:
        centre = polylabel(poly, tolerance=1.0)
    except Exception:  # noqa: BLE001 - degenerate sliver
        return 0.0
    return 2.0 * poly.exterior.distance(centre) if poly.contains(centre) else 0.0


def _river(rng: np.random.Generator, size: int, scale: float, streets: list[StreetGeom]):
    """A river crossing the tile: water polygon, centre-line, quays on both banks, a few bridges."""
    width = rng.uniform(45, 160) / scale
    quay = rng.uniform(8, 25) / scale
    a = rng.uniform(0, np.pi)
    d = np.array([np.cos(a), np.sin(a)])
    n = np.array([-d[1], d[0]])
    c = np.array([size / 2, size / 2]) + n * rng.uniform(-0.35, 0.35) * size
    t = np.linspace(-size, size, 40)
    bend = rng.normal(0, 0.15) * (t / size) ** 2 * size + rng.normal(0, 0.03) * size * np.sin(t / size * 3)
    pts = c + t[:, None] * d + bend[:, None] * n
    line = LineString(pts)
    water = line.buffer(width / 2, cap_style="flat")
    banks = line.buffer(width / 2 + quay, cap_style="flat")
    quays = banks.difference(water)
    crossing = [st for st in streets if st.line.intersects(water) and st.line.length > width]
    rng.shuffle(crossing)
    bridges = [st.line.buffer(max(st.width, 10 / scale) / 2, cap_style="flat").intersection(banks)
               for st in crossing[: int(rng.integers(0, 3))]]
    return water, line, quays, unary_union(bridges) if bridges else Polygon()


def _frame(rng: np.random.Generator, size: int) -> tuple[Polygon, LineString]:
    """The map's edge: a straight frame line; content on one side, blank margin on the other."""
    side = int(rng.integers(4))
    pos = rng.uniform(0.15, 0.6) * size
    tilt = rng.normal(0, 0.01) * size
    if side == 0:  # margin on the left
        line = LineString([(pos, -1), (pos + tilt, size + 1)])
        content = Polygon([(pos, -1), (size + 1, -1), (size + 1, size + 1), (pos + tilt, size + 1)])
    elif side == 1:  # margin at the top
        line = LineString([(-1, pos), (size + 1, pos + tilt)])
        content = Polygon([(-1, pos), (size + 1, pos + tilt), (size + 1, size + 1), (-1, size + 1)])
    elif side == 2:  # margin on the right
        x = size - pos
        line = LineString([(x, -1), (x + tilt, size + 1)])
        content = Polygon([(-1, -1), (x, -1), (x + tilt, size + 1), (-1, size + 1)])
    else:  # margin at the bottom
        y = size - pos
        line = LineString([(-1, y), (size + 1, y + tilt)])
        content = Polygon([(-1, -1), (size + 1, -1), (size + 1, y + tilt), (-1, y)])
    return content, line
