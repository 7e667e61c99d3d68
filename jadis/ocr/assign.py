"""Names and house numbers read on a map -> the street segments they belong to.

A name is written inside its street, along it: each word of a named line votes for the street
segment it lies on (same direction, within the street's width); the name then carries on along
pieces of the same street (through nodes that join two pieces, where the next piece continues
straight); names are not carried across crossings, where Paris streets often change name.
A house number belongs to the nearest street it faces, on one side of it (left or right of the
segment's drawing direction).
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np

#: A word names a street segment lying within this many letter heights of it ...
MAX_DISTANCE_HEIGHTS = 3.0
#: ... and running in the same direction (degrees).
MAX_ANGLE = 35.0
#: Names continue through a junction onto the straightest next segment when it bends less than this.
MAX_TURN = 30.0
#: A house number belongs to a street at most this many number heights away from its centre-line,
#: beyond the street's half-width.
NUMBER_REACH = 4.0
_NUMBER = re.compile(r"^\s*(\d{1,4})\s*(bis|ter|quater|b|t)?\s*$", re.IGNORECASE)


def _segment_direction(line, point) -> np.ndarray:  # shapely LineString, Point
    m = line.project(point)
    a = line.interpolate(max(m - 3.0, 0.0))
    b = line.interpolate(min(m + 3.0, line.length))
    d = np.array([b.x - a.x, b.y - a.y])
    n = np.linalg.norm(d)
    return d / n if n > 0 else np.array([1.0, 0.0])


def _segment_under(word, tree, geoms, half_widths) -> int | None:
    """Index of the street segment a word is written along (None: none near it, or none its way)."""
    import shapely

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
            best, best_cost = int(k), cost
    return best


def along_street(streets):  # GeoDataFrame -> callable
    """``along(words)``: whether any of the words is written along a street segment."""
    import shapely

    geoms = streets.geometry.to_numpy()
    half = _half_widths(streets)
    tree = shapely.STRtree(geoms)

    def along(words: list) -> bool:
        return len(geoms) > 0 and any(_segment_under(w, tree, geoms, half) is not None for w in words)

    return along


def name_segments(streets, lines: list, names: list[str | None],
                  continue_through_junctions: bool = False, scores: list[float] | None = None,
                  ) -> dict[int, tuple[str, str, float]]:
    """street_id -> (name, how, score) from named text lines, then continued along the street:
    through nodes joining two pieces (and, optionally, straight through junctions). ``scores``:
    each line's confidence (default 1); a segment's score is its best line's, a continued
    segment's 0.9 times its neighbour's."""
    import shapely

    geoms = streets.geometry.to_numpy()
    ids = streets["street_id"].to_numpy()
    half_widths = (streets["width_px"].to_numpy(dtype=float) / 2 if "width_px" in streets.columns
                   else np.zeros(len(streets)))
    half_widths = np.nan_to_num(half_widths, nan=0.0)
    tree = shapely.STRtree(geoms)
    votes: dict[int, Counter] = defaultdict(Counter)
    best_score: dict[tuple[int, str], float] = {}
    scores = [1.0] * len(lines) if scores is None else scores
    for line, name, line_score in zip(lines, names, scores, strict=True):
        if not name:
            continue
        for word in line.words:
            best = _segment_under(word, tree, geoms, half_widths)
            if best is not None:
                sid = int(ids[best])
                votes[sid][name] += max(len(word.text), 1) * word.score * max(line_score, 0.05)
                best_score[sid, name] = max(best_score.get((sid, name), 0.0), float(line_score))
    named = {}
    for sid, c in votes.items():
        name = c.most_common(1)[0][0]
        named[sid] = (name, "label", best_score[sid, name])
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
                named[sid] = (named[nxt][0], "continued", round(0.9 * named[nxt][2], 3))
                changed = True
    return named


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else np.array([1.0, 0.0])





def _half_widths(streets) -> np.ndarray:
    if "width_px" not in streets.columns:
        return np.zeros(len(streets))
    return np.nan_to_num(streets["width_px"].to_numpy(dtype=float) / 2, nan=0.0)


def street_corridor(streets, slack: float = 1.0):  # GeoDataFrame -> callable
    """``corridor(start, end, height)``: whether the straight gap from ``start`` to ``end`` runs
    along the streets (3/4 of the points sampled every letter height along it lie within a
    street's half-width plus ``slack`` heights of its centre-line)."""
    import shapely

    geoms = streets.geometry.to_numpy()
    half = _half_widths(streets)
    tree = shapely.STRtree(geoms)
    widest = float(half.max(initial=0.0))

    def corridor(start: np.ndarray, end: np.ndarray, height: float) -> bool:
        if len(geoms) == 0:
            return False
        length = float(np.linalg.norm(end - start))
        k = max(2, int(length / max(height, 1.0)) + 1)
        pts = shapely.points(start + np.linspace(0, 1, k)[:, None] * (end - start))
        reach = slack * height
        left, right = tree.query(pts, predicate="dwithin", distance=widest + reach)
        inside = np.zeros(k, dtype=bool)
        if len(left):
            d = shapely.distance(pts[left], geoms[right])
            ok = d <= half[right] + reach
            inside[left[ok]] = True
        return bool(inside.mean() >= 0.75)

    return corridor


@dataclass(frozen=True)
class HouseNumber:
    """A house number read on the map and the street side it faces."""

    number: str             #: as read: "12", "12bis"
    centre: tuple[float, float]
    height: float
    score: float            #: recogniser confidence
    street_id: int | None   #: the street segment it faces (None: no street near)
    side: str | None        #: "left" / "right" of the segment's drawing direction
    label_ids: tuple[int, ...] = ()


def parse_number(text: str) -> str | None:
    """"12", "12 bis", "3b" -> the number as written on a door ("12bis"); None for anything else."""
    if any(ch.isdigit() for ch in text):  # the usual misreadings of digits among digits
        text = text.translate(str.maketrans({"O": "0", "o": "0", "l": "1", "I": "1", "|": "1"}))
    m = _NUMBER.match(text)
    if not m:
        return None
    suffix = {"b": "bis", "t": "ter"}.get((m.group(2) or "").lower(), (m.group(2) or "").lower())
    return f"{int(m.group(1))}{suffix}"


def attach_numbers(streets, pieces: list) -> list[HouseNumber]:
    """House numbers (pieces whose text is a number) with the street side each one faces."""
    import shapely

    geoms = streets.geometry.to_numpy()
    ids = streets["street_id"].to_numpy()
    half = _half_widths(streets)
    tree = shapely.STRtree(geoms) if len(geoms) else None
    out = []
    for piece in pieces:
        number = parse_number(piece.text)
        if number is None:
            continue
        point = shapely.Point(*piece.centre)
        sid, side = None, None
        if tree is not None:
            reach = NUMBER_REACH * piece.height + float(half.max(initial=0.0))
            near = tree.query(point, predicate="dwithin", distance=reach)
            if len(near):
                d = shapely.distance(point, geoms[near]) - half[near]
                k = int(near[int(np.argmin(d))])
                if d.min() <= NUMBER_REACH * piece.height:
                    line = geoms[k]
                    m = line.project(point)
                    foot = line.interpolate(m)
                    direction = _segment_direction(line, foot)
                    v = np.array([point.x - foot.x, point.y - foot.y])
                    # y down: a positive cross product is on the right of the drawing direction
                    cross = direction[0] * v[1] - direction[1] * v[0]
                    sid, side = int(ids[k]), ("right" if cross > 0 else "left")
        out.append(HouseNumber(number, (float(piece.centre[0]), float(piece.centre[1])), float(piece.height),
                               float(piece.score), sid, side, tuple(piece.ids or (piece.id,))))
    return out
