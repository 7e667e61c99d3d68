"""Placing a house number on a street: known points, interpolation with Paris parity, or the centre.

A street is reduced to one polyline (:func:`main_path`: the longest path through its segments, small
gaps bridged). Everything known about its numbering becomes *anchors* — (distance along the line,
house number, side, distance from the centre-line) — taken from address points of any year
(projected onto the line) or from house-number ranges of street segments (1888 Atlas municipal).
A number is then interpolated between the anchors of its own parity that bracket it, extrapolated
from the nearest ones, or, with no anchors at all, placed by the 1805 rule (:mod:`.seine`: from
the Seine or from upstream, odd numbers on the left) with a typical frontage per house. Positions
are offset from the centre-line to the correct side. Each placement says how it was made and how
uncertain it is.

Written here rather than taken from a library: linear referencing with sides, parity and
Paris-specific numbering is the geocoder's core, and it must run at thousands of addresses a second.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field

import numpy as np

from jadis.geocode.seine import numbering_starts_at_first_vertex

#: Typical street frontage per house (metres along the street for one number on one side), used
#: only when nothing is known about a street's numbering. Median of the 1888 Atlas municipal
#: segments of the bundled gazetteer (segment length / houses on that side): see docs/geocoding.md.
FRONTAGE_M = 11.0
#: Distance of a house-number point from the street centre-line when no point of the street is
#: known: about half the street width plus the façade setback, by street type.
DEFAULT_OFFSET_M = {"boulevard": 12.0, "avenue": 14.0, "quai": 10.0, "place": 10.0, "cours": 12.0,
                    "passage": 4.0, "impasse": 4.0, "cour": 4.0, "cite": 4.0, "ruelle": 3.0, "villa": 4.0}
OFFSET_M = 6.0
#: Address points farther than this from a street line belong to another street.
MAX_ANCHOR_DISTANCE_M = 60.0
#: Beyond this distance from the nearest known number, a source's numbering is not trusted.
MAX_EXTRAPOLATION_M = 120.0


def _drift(years: float) -> float:
    """Extra uncertainty when the numbering comes from another time (streets get renumbered)."""
    return min(60.0, 0.5 * max(years, 0.0))


def default_offset(street_type: str | None) -> float:
    return DEFAULT_OFFSET_M.get(street_type or "", OFFSET_M)


@dataclass(frozen=True)
class Polyline:
    """A polyline with cumulative lengths, for fast linear referencing (EPSG:2154 metres)."""

    xy: np.ndarray   #: (N, 2) vertices
    cum: np.ndarray  #: (N,) distance along the line at each vertex

    @classmethod
    def from_coords(cls, coords) -> Polyline:
        xy = np.asarray(coords, dtype=float)[:, :2]
        keep = np.ones(len(xy), dtype=bool)
        keep[1:] = np.any(np.diff(xy, axis=0) != 0, axis=1)
        xy = xy[keep]
        if len(xy) == 1:
            xy = np.vstack([xy, xy + 1e-3])
        seg = np.hypot(*np.diff(xy, axis=0).T)
        return cls(xy, np.concatenate([[0.0], np.cumsum(seg)]))

    @property
    def length(self) -> float:
        return float(self.cum[-1])

    @property
    def start(self) -> tuple[float, float]:
        return float(self.xy[0, 0]), float(self.xy[0, 1])

    @property
    def end(self) -> tuple[float, float]:
        return float(self.xy[-1, 0]), float(self.xy[-1, 1])

    def reversed(self) -> Polyline:
        return Polyline.from_coords(self.xy[::-1])

    def point_at(self, m: float, offset: float = 0.0) -> tuple[float, float]:
        """The point at distance ``m`` along the line, ``offset`` metres to its left (right if < 0)."""
        m = min(max(m, 0.0), self.length)
        i = int(np.searchsorted(self.cum, m, side="right")) - 1
        i = min(max(i, 0), len(self.xy) - 2)
        p0, p1 = self.xy[i], self.xy[i + 1]
        seg = self.cum[i + 1] - self.cum[i]
        t = (m - self.cum[i]) / seg if seg > 0 else 0.0
        d = (p1 - p0) / seg if seg > 0 else np.zeros(2)
        x = p0[0] + t * (p1[0] - p0[0]) - offset * d[1]
        y = p0[1] + t * (p1[1] - p0[1]) + offset * d[0]
        return float(x), float(y)

    def locate(self, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distance along the line and signed distance from it (> 0 on the left) of points (K, 2)."""
        pts = np.asarray(pts, dtype=float).reshape(-1, 2)
        a = self.xy[:-1][None, :, :]
        ab = np.diff(self.xy, axis=0)[None, :, :]
        ap = pts[:, None, :] - a
        len2 = np.maximum((ab ** 2).sum(-1), 1e-12)
        t = np.clip((ap * ab).sum(-1) / len2, 0.0, 1.0)
        proj = a + t[..., None] * ab
        dist2 = ((pts[:, None, :] - proj) ** 2).sum(-1)
        best = dist2.argmin(axis=1)
        rows = np.arange(len(pts))
        m = self.cum[best] + t[rows, best] * np.sqrt(len2[0, best])
        cross = ab[0, best, 0] * ap[rows, best, 1] - ab[0, best, 1] * ap[rows, best, 0]
        return m, np.where(cross >= 0, 1.0, -1.0) * np.sqrt(dist2[rows, best])


def _parts(geoms) -> list[np.ndarray]:
    import shapely

    out = []
    for g in geoms:
        if g is None or g.is_empty:
            continue
        for part in shapely.get_parts(g):
            if part.geom_type == "LineString" and part.length > 0:
                out.append(np.asarray(part.coords)[:, :2])
    return out


def main_path(geoms, snap_m: float = 2.0, bridge_m: float = 80.0) -> Polyline | None:
    """The longest path through a street's segments, as one polyline (None without lines).

    Segments whose ends lie within ``snap_m`` are joined; separate pieces closer than ``bridge_m``
    are bridged by a straight link (a crossing digitised under another name, a missing piece).
    Side branches (a spur, the second carriageway) are left out.
    """
    import networkx as nx

    parts = _parts(geoms)
    if not parts:
        return None
    if len(parts) == 1:
        return Polyline.from_coords(parts[0])
    # the common case: segments that chain end to end into one line (no branch, no gap)
    import shapely

    merged = shapely.line_merge(shapely.MultiLineString(parts))
    if merged.geom_type == "LineString":
        return Polyline.from_coords(np.asarray(merged.coords))
    ends = np.array([p for part in parts for p in (part[0], part[-1])])
    node = np.arange(len(ends))
    close = np.hypot(ends[:, None, 0] - ends[None, :, 0], ends[:, None, 1] - ends[None, :, 1]) <= snap_m
    for i, j in zip(*np.nonzero(np.triu(close, 1)), strict=True):  # a street has few ends: plain union
        ri, rj = node[i], node[j]
        if ri != rj:
            node[node == rj] = ri
    graph = nx.Graph()
    for k, part in enumerate(parts):
        u, v = int(node[2 * k]), int(node[2 * k + 1])
        if u == v:
            continue
        length = float(np.hypot(*np.diff(part, axis=0).T).sum())
        if graph.has_edge(u, v) and graph[u][v]["weight"] >= length:
            continue
        graph.add_edge(u, v, weight=length, coords=part, start=u)
    if graph.number_of_edges() == 0:
        longest = max(parts, key=lambda p: np.hypot(*np.diff(p, axis=0).T).sum())
        return Polyline.from_coords(longest)
    # bridge separate pieces, closest pairs first
    where = {int(n): ends[i] for i, n in enumerate(node)}
    comps = [list(c) for c in nx.connected_components(graph)]
    while len(comps) > 1:
        best = None
        for a in range(len(comps)):
            for b in range(a + 1, len(comps)):
                pa = np.array([where[n] for n in comps[a]])
                pb = np.array([where[n] for n in comps[b]])
                d = np.hypot(pa[:, None, 0] - pb[None, :, 0], pa[:, None, 1] - pb[None, :, 1])
                i, j = np.unravel_index(d.argmin(), d.shape)
                if best is None or d[i, j] < best[0]:
                    best = (float(d[i, j]), a, b, comps[a][i], comps[b][j], pa[i], pb[j])
        if best is None or best[0] > bridge_m:
            break
        dist, a, b, u, v, pu, pv = best
        graph.add_edge(u, v, weight=dist, coords=np.array([pu, pv]), start=u)
        comps[a] = comps[a] + comps[b]
        del comps[b]
    # the largest piece, then its diameter (two sweeps of Dijkstra; exact on trees)
    piece = max(nx.connected_components(graph), key=lambda c: graph.subgraph(c).size(weight="weight"))
    sub = graph.subgraph(piece)
    first = next(iter(piece))
    far = nx.single_source_dijkstra_path_length(sub, first)
    u = max(far, key=far.get)
    dist, paths = nx.single_source_dijkstra(sub, u)
    v = max(dist, key=dist.get)
    nodes = paths[v]
    coords: list[np.ndarray] = []
    for a, b in zip(nodes[:-1], nodes[1:], strict=True):
        edge = sub[a][b]
        seg = edge["coords"] if edge["start"] == a else edge["coords"][::-1]
        coords.append(seg if not coords else seg[1:])
    return Polyline.from_coords(np.vstack(coords))


@dataclass
class Anchors:
    """Known house numbers along a street line, all from one source."""

    m: np.ndarray      #: distance along the line
    n: np.ndarray      #: house number (int)
    side: np.ndarray   #: +1 left of the line's direction, -1 right
    dist: np.ndarray   #: distance from the centre-line (metres)
    source: str        #: gazetteer name
    kind: str          #: "points" or "ranges"
    years_apart: float = 0.0  #: years between the source and the query (adds uncertainty)
    _views: dict = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.n)

    def parity(self, odd: int) -> tuple[list[int], list[float], list[int], float]:
        """Anchors of one parity sorted by number: (n, m, side) as lists, and their median distance
        from the centre-line (cached: placing a number then costs a bisection)."""
        if odd not in self._views:
            same = (self.n % 2) == odd
            order = np.argsort(self.n[same], kind="stable")
            dist = float(np.median(self.dist[same])) if same.any() else 0.0
            self._views[odd] = (self.n[same][order].tolist(), self.m[same][order].tolist(),
                                self.side[same][order].tolist(), dist)
        return self._views[odd]

    def slope(self) -> float | None:
        """Metres per house number along the line (signed), fitted on all anchors (cached)."""
        if "slope" not in self._views:
            slope = None
            if len(np.unique(self.n)) >= 2:
                fit = float(np.polyfit(self.n.astype(float), self.m, 1)[0])
                if np.isfinite(fit) and fit != 0:
                    # clamp to plausible frontages (1 to 30 m per number) keeping the fitted direction
                    slope = float(np.sign(fit) * min(max(abs(fit), 1.0), 30.0))
            self._views["slope"] = slope
        return self._views["slope"]


@dataclass
class RangeSegments:
    """Street segments with their house-number ranges (one source), each used on its own geometry."""

    lines: list[Polyline]
    ranges: list[tuple[int | None, int | None, int | None, int | None]]  #: left from/to, right from/to
    offset: float
    source: str
    anchors: Anchors | None = None  #: the same ranges as anchors on the street's main line

    def locate(self, number: int) -> Placement | None:
        """TIGER-style: the segment whose range on one side holds ``number`` (same parity)."""
        for line, (lf, lt, rf, rt) in zip(self.lines, self.ranges, strict=True):
            for first, last, side in ((lf, lt, 1), (rf, rt, -1)):
                if first is None or last is None or first % 2 != number % 2 or last % 2 != number % 2:
                    continue
                if min(first, last) <= number <= max(first, last):
                    t = 0.5 if first == last else (number - first) / (last - first)
                    inset = min(self.offset, line.length / 4)
                    m = inset + t * (line.length - 2 * inset)
                    x, y = line.point_at(m, side * self.offset)
                    houses = abs(last - first) / 2 + 1
                    unc = 4.0 + 0.5 * line.length / houses
                    return Placement(x, y, "interpolated", unc,
                                     f"within the range {first}–{last} of a segment (house-number ranges of "
                                     f"{self.source}), {'odd' if number % 2 else 'even'} side")
        return None


@dataclass(frozen=True)
class Placement:
    """Where a house number was put, how, and how sure we are."""

    x: float
    y: float
    match_type: str          #: "interpolated" or "street"
    uncertainty_m: float
    explanation: str


def anchors_from_points(line: Polyline, xy: np.ndarray, numbers: np.ndarray, source: str,
                        years_apart: float = 0.0) -> Anchors | None:
    """Project address points onto the line; keep those close enough to belong to it."""
    if len(numbers) == 0:
        return None
    m, s = line.locate(xy)
    keep = np.abs(s) <= MAX_ANCHOR_DISTANCE_M
    if keep.sum() == 0:
        return None
    return Anchors(m[keep], numbers[keep].astype(int), np.where(s[keep] >= 0, 1, -1), np.abs(s[keep]),
                   source, "points", years_apart)


def anchors_from_ranges(line: Polyline, segments: list[tuple[np.ndarray, list[int | None]]], source: str,
                        offset: float, years_apart: float = 0.0) -> Anchors | None:
    """House-number ranges of segments -> anchors at their ends (numbers are set back from corners).

    ``segments``: (coords (K, 2), [left_from, left_to, right_from, right_to]) in digitising order.
    """
    ms, ns, sides = [], [], []
    for coords, (lf, lt, rf, rt) in segments:
        m, s = line.locate(np.array([coords[0], coords[-1]]))
        if np.any(np.abs(s) > MAX_ANCHOR_DISTANCE_M):
            continue
        m0, m1 = float(m[0]), float(m[1])
        same_way = m1 >= m0
        span = abs(m1 - m0)
        inset = min(offset, span / 4)
        a0 = m0 + inset if same_way else m0 - inset
        a1 = m1 - inset if same_way else m1 + inset
        for first, last, side in ((lf, lt, 1), (rf, rt, -1)):
            side = side if same_way else -side
            if first is not None:
                ms.append(a0)
                ns.append(first)
                sides.append(side)
            if last is not None and (last != first or first is None):
                ms.append(a1)
                ns.append(last)
                sides.append(side)
    if not ns:
        return None
    return Anchors(np.array(ms), np.array(ns, dtype=int), np.array(sides), np.full(len(ns), offset),
                   source, "ranges", years_apart)


@dataclass
class StreetModel:
    """One street line with what is known about its numbering."""

    line: Polyline
    street_type: str | None = None
    faubourg: bool = False  #: a "rue du Faubourg …" (numbered from the old gate)
    anchor_sets: list[Anchors | RangeSegments] = field(default_factory=list)  #: preferred first
    _oriented: tuple[Polyline, str] | None = field(default=None, repr=False)

    def centre(self) -> tuple[float, float]:
        return self.line.point_at(self.line.length / 2)

    def locate(self, number: int, allow_rule: bool = True) -> Placement | None:
        """Place ``number`` on the street (None only when the 1805 rule is needed but not allowed)."""
        # a source whose numbers bracket this one beats extrapolating from a closer-in-time source
        for extrapolate in (False, True):
            for source in self.anchor_sets:
                placed = None
                if isinstance(source, RangeSegments):
                    placed = None if extrapolate else source.locate(number)
                    if placed is None and source.anchors is not None:
                        placed = self._from_anchors(source.anchors, number, extrapolate)
                else:
                    placed = self._from_anchors(source, number, extrapolate)
                if placed is not None:
                    return placed
        return self._by_rule(number) if allow_rule else None

    # ----------------------------------------------------------------------------------------- anchors

    def _from_anchors(self, a: Anchors, number: int, extrapolate: bool = True) -> Placement | None:
        ns, ms, sides, offset = a.parity(number % 2)
        label = "address points" if a.kind == "points" else "house-number ranges"
        if len(ns) >= 1:
            n_lo = bisect_right(ns, number)  # ns[:n_lo] <= number
            n_hi = bisect_left(ns, number)   # ns[n_hi:] >= number
            if n_lo > 0 and n_hi < len(ns):
                i, j = n_lo - 1, n_hi
                if ns[i] == ns[j]:
                    same = [m for n, m in zip(ns, ms, strict=True) if n == ns[i]]
                    m = sum(same) / len(same)
                    gap, how = 0.0, f"at the known position of no. {ns[i]}"
                else:
                    t = (number - ns[i]) / (ns[j] - ns[i])
                    m = ms[i] + t * (ms[j] - ms[i])
                    gap = abs(ms[j] - ms[i])
                    how = f"between nos. {ns[i]} and {ns[j]}"
                side = sides[i] if abs(m - ms[i]) <= abs(m - ms[j]) else sides[j]
                unc = 4.0 + 0.2 * gap + (4.0 if a.kind == "ranges" else 0.0)
            elif extrapolate and len(a) >= 2:
                near = n_hi if n_hi < len(ns) else n_lo - 1
                slope = a.slope()
                if slope is None:
                    return None
                m = min(max(ms[near] + slope * (number - ns[near]), 0.0), self.line.length)
                if abs(m - ms[near]) > MAX_EXTRAPOLATION_M:
                    return None  # far outside what this source knows: another numbering, another street
                side = sides[near]
                unc = 8.0 + 0.5 * abs(m - ms[near])
                how = f"extrapolated from no. {ns[near]}"
            else:
                return None
            x, y = self.line.point_at(m, side * offset)
            return Placement(x, y, "interpolated", unc + _drift(a.years_apart), f"{how} ({label} of {a.source}), "
                             f"{'odd' if number % 2 else 'even'} side")
        if extrapolate and len(a) >= 2:
            slope = a.slope()
            if slope is None:
                return None
            k = int(np.argmin(np.abs(a.n - number)))
            m = float(np.clip(a.m[k] + slope * (number - a.n[k]), 0.0, self.line.length))
            if abs(m - float(a.m[k])) > MAX_EXTRAPOLATION_M:
                return None
            side = -int(np.sign(np.sum(a.side))) or 1
            offset = float(np.median(a.dist))
            x, y = self.line.point_at(m, side * offset)
            return Placement(x, y, "interpolated", 15.0 + 0.5 * abs(m - float(a.m[k])) + _drift(a.years_apart),
                             f"from the numbers of the other side ({label} of {a.source})")
        return None

    # ----------------------------------------------------------------------------------------- rule

    def _rule_line(self) -> tuple[Polyline, str]:
        """The line oriented in the direction of increasing numbers by the 1805 rule (cached)."""
        if self._oriented is None:
            forward, why = numbering_starts_at_first_vertex(self.line.start, self.line.end, self.faubourg)
            self._oriented = (self.line if forward else self.line.reversed(), why)
        return self._oriented

    def _by_rule(self, number: int) -> Placement:
        line, why = self._rule_line()
        offset = default_offset(self.street_type)
        house = (number + 1) // 2
        m = offset + (house - 0.5) * FRONTAGE_M
        beyond = m > line.length - offset
        m = min(m, max(line.length - offset, line.length / 2))
        side = 1 if number % 2 else -1  # odd on the left walking with increasing numbers
        x, y = line.point_at(m, side * offset)
        unc = min(20.0 + 0.5 * m, max(line.length, 30.0)) + (line.length * 0.25 if beyond else 0.0)
        return Placement(x, y, "interpolated", unc,
                         f"1805 rule ({why}), about {FRONTAGE_M:.0f} m per house, "
                         f"{'odd numbers left' if number % 2 else 'even numbers right'}"
                         + ("; the number lies beyond the street's length" if beyond else ""))
