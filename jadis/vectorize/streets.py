"""Street centre-lines: skeleton of the street mask -> a graph of junctions and street segments.

Steps (each window of a large raster, then once globally):

1. Street mask = class 1 after text is absorbed; small holes (kiosks, specks, letters' leftovers)
   filled so they do not create little loops; edges smoothed by a median filter.
2. Skeleton (scikit-image thinning, at ``STREET_SCALE`` of the resolution) and distance transform
   (street half-width).
3. Graph tracing (here, because it is the product's core and needs the window bookkeeping):
   skeleton pixels with other than two neighbours are *node* pixels; 8-connected clusters of
   them are one node each (a junction or a dead end). The remaining pixels form simple chains,
   each one an edge between the nodes its ends touch (a closed chain is a loop).
4. Windows: a window is thinned with a halo around its core, and its lines clipped to the core;
   pieces meet exactly at the cuts and are joined there (``shapely.line_merge``).
5. Spur pruning: an edge ending in a dead end is dropped when it is shorter than
   ``spur_factor`` × the street's half-width at its junction (or ``min_spur`` px): thinning
   creates such stubs at bumps of the outline, while real dead-end streets are long compared
   to their width. Repeated until stable; isolated bits shorter than ``min_length`` go too.
6. Split junctions: two junctions joined by an edge shorter than the street width there (thinning
   turns an oblique crossing of wide streets into two nearby junctions) become one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import cv2
import numpy as np
import shapely
from scipy import ndimage
from shapely.geometry import LineString, MultiLineString, Point, box
from skimage.morphology import skeletonize

from jadis.classes import MapClass
from jadis.vectorize.cleanup import fill_small_holes

#: Defaults (pixels of the full-resolution sheet).
#: Resolution of the thinning: streets are wide (≥ 6 px on any usable scan), so their centre-lines
#: are traced at half resolution (8x faster) with ±1 px error; streets narrower than ~4 px need 1.0.
STREET_SCALE = 0.5
MAX_HOLE_AREA = 400
MIN_SPUR = 12.0
SPUR_FACTOR = 2.5
JUNCTION_FACTOR = 1.0
MIN_LENGTH = 20.0
SIMPLIFY_TOLERANCE = 1.0

_EIGHT = np.ones((3, 3), dtype=bool)


def street_mask(resolved: np.ndarray, max_hole_area: int = MAX_HOLE_AREA) -> np.ndarray:
    """Clean boolean street mask of a class raster whose text was absorbed."""
    mask = resolved == MapClass.STREET
    if not mask.any():
        return mask
    mask = cv2.medianBlur(mask.astype(np.uint8) * 255, 5) > 127
    return fill_small_holes(mask, max_hole_area)


@dataclass
class SkeletonGraph:
    """Nodes and edges traced from a skeleton, in pixel coordinates (x, y) of pixel centres."""

    nodes: np.ndarray  #: (K, 2) float x, y
    node_half_width: np.ndarray  #: (K,) street half-width at the node (px)
    edges: list[tuple[int, int, np.ndarray, float]]  #: (u, v, coords (n, 2) x/y, mean half-width)


def trace_skeleton(skeleton: np.ndarray, half_width: np.ndarray | None = None) -> SkeletonGraph:
    """Turn a one-pixel-wide 8-connected skeleton into nodes and edges."""
    sk = np.pad(skeleton.astype(bool), 1)
    hw = np.pad(half_width, 1) if half_width is not None else np.zeros(sk.shape, np.float32)
    h, w = sk.shape
    kernel = np.ones((3, 3), np.float32)
    kernel[1, 1] = 0
    nb = cv2.filter2D(sk.astype(np.uint8), -1, kernel, borderType=cv2.BORDER_CONSTANT)
    node_px = sk & (nb != 2)
    node_lab, n_nodes = ndimage.label(node_px, structure=_EIGHT)
    if n_nodes:
        rr, cc = np.nonzero(node_lab)
        ids = node_lab[rr, cc]
        counts = np.bincount(ids, minlength=n_nodes + 1)[1:]
        cx = np.bincount(ids, weights=cc, minlength=n_nodes + 1)[1:] / counts
        cy = np.bincount(ids, weights=rr, minlength=n_nodes + 1)[1:] / counts
        node_hw = np.zeros(n_nodes + 1, dtype=np.float64)
        np.maximum.at(node_hw, ids, hw[rr, cc])
        node_hw = node_hw[1:]
        nodes = np.column_stack([cx - 1 + 0.5, cy - 1 + 0.5])
    else:
        nodes, node_hw = np.zeros((0, 2)), np.zeros(0)
    chain_px = sk & ~node_px
    flat_chain = np.flatnonzero(chain_px)
    chain_set = set(flat_chain.tolist())
    node_flat = node_lab.ravel()
    offsets = (-w - 1, -w, -w + 1, -1, 1, w - 1, w, w + 1)
    visited: set[int] = set()
    edges: list[tuple[int, int, np.ndarray, float]] = []
    extra_nodes: list[tuple[float, float, float]] = []
    hw_flat = hw.ravel()

    def chain_neighbours(p: int) -> list[int]:
        return [p + o for o in offsets if (p + o) in chain_set]

    def touching_node(p: int, exclude: int = 0) -> int:
        for o in offsets:
            lab = int(node_flat[p + o])
            if lab and lab != exclude:
                return lab
        for o in offsets:  # only the excluded node is adjacent: a loop back to it
            lab = int(node_flat[p + o])
            if lab:
                return lab
        return 0

    # Start chains at their ends (pixels with fewer than two chain neighbours), then loops.
    ends = [p for p in flat_chain.tolist() if len(chain_neighbours(p)) < 2]
    for start in ends + flat_chain.tolist():
        if start in visited:
            continue
        path = [start]
        visited.add(start)
        prev, cur = -1, start
        while True:
            nxt = [q for q in chain_neighbours(cur) if q != prev and q not in visited]
            if not nxt:
                break
            prev, cur = cur, nxt[0]
            visited.add(cur)
            path.append(cur)
        arr = np.asarray(path)
        rows, cols = arr // w, arr % w
        coords = np.column_stack([cols - 1 + 0.5, rows - 1 + 0.5]).astype(np.float64)
        mean_hw = float(hw_flat[arr].mean())
        u = touching_node(path[0])
        v = touching_node(path[-1], exclude=u)
        is_loop = len(path) > 2 and (path[-1] - path[0]) in offsets and not u and not v
        if is_loop:  # a closed street with no junction: anchor it on a node of its own
            k = n_nodes + len(extra_nodes) + 1
            extra_nodes.append((coords[0, 0], coords[0, 1], float(hw_flat[path[0]])))
            coords = np.vstack([coords, coords[:1]])
            edges.append((k - 1, k - 1, coords, mean_hw))
            continue
        if not u:  # a free end (should not happen: ends are node pixels) -> make it a node
            k = n_nodes + len(extra_nodes) + 1
            extra_nodes.append((coords[0, 0], coords[0, 1], float(hw_flat[path[0]])))
            u = k
        if not v:
            k = n_nodes + len(extra_nodes) + 1
            extra_nodes.append((coords[-1, 0], coords[-1, 1], float(hw_flat[path[-1]])))
            v = k
        all_nodes_xy = nodes if not extra_nodes else np.vstack([nodes, np.asarray(extra_nodes)[:, :2]])
        coords = np.vstack([all_nodes_xy[u - 1], coords, all_nodes_xy[v - 1]])
        edges.append((u - 1, v - 1, coords, mean_hw))
    if extra_nodes:
        extra = np.asarray(extra_nodes)
        nodes = np.vstack([nodes, extra[:, :2]])
        node_hw = np.concatenate([node_hw, extra[:, 2]])
    return SkeletonGraph(nodes=nodes, node_half_width=node_hw, edges=edges)


def skeleton_of(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(skeleton, half-width map) of a boolean street mask."""
    skel = skeletonize(mask)
    dist = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 5)
    return skel, dist


@dataclass
class StreetPieces:
    """Street lines collected over windows, with the half-width known at their nodes."""

    lines: list[LineString] = field(default_factory=list)
    half_widths: list[float] = field(default_factory=list)  #: mean half-width of each line
    node_half_width: dict[tuple[float, float], float] = field(default_factory=dict)

    def add_window(self, mask: np.ndarray, wx0: int, wy0: int, core: tuple[int, int, int, int],
                   scale: float = 1.0) -> None:
        """Trace the street ``mask`` of a window whose top-left is (wx0, wy0); keep the parts of its
        lines inside ``core`` = (x0, y0, x1, y1) in image pixels. With ``scale`` < 1 the mask is
        thinned at that resolution (``1 / scale`` must divide ``wx0`` and ``wy0``)."""
        if not mask.any():
            return
        if scale != 1.0:
            h, w = mask.shape
            small = cv2.resize(mask.astype(np.uint8) * 255, (max(1, round(w * scale)), max(1, round(h * scale))),
                               interpolation=cv2.INTER_AREA)
            mask = small >= 128
        skel, dist = skeleton_of(mask)
        graph = trace_skeleton(skel, dist)
        if scale != 1.0:
            graph = SkeletonGraph(nodes=graph.nodes / scale, node_half_width=graph.node_half_width / scale,
                                  edges=[(u, v, c / scale, hw / scale) for u, v, c, hw in graph.edges])
        offset = np.array([wx0, wy0], dtype=np.float64)
        core_box = box(*core)
        x0, y0, x1, y1 = core
        for (nx, ny), hw in zip(graph.nodes + offset, graph.node_half_width, strict=True):
            if x0 <= nx < x1 and y0 <= ny < y1:
                self.node_half_width[_key(nx, ny)] = float(hw)
        for _u, _v, coords, mean_hw in graph.edges:
            line = LineString(coords + offset)
            if line.length == 0:
                continue
            minx, miny, maxx, maxy = line.bounds
            if minx >= x0 and miny >= y0 and maxx < x1 and maxy < y1:
                parts = [line]
            else:
                parts = _lines(shapely.intersection(line, core_box))
            for part in parts:
                part = shapely.transform(part, _snap)
                if part.length > 0:
                    self.lines.append(part)
                    self.half_widths.append(mean_hw)


@dataclass
class StreetGraph:
    """The final street network."""

    lines: list[LineString]
    starts: list[int]
    ends: list[int]
    widths: list[float]  #: mean street width (px)
    nodes: list[Point]
    degrees: list[int]


def build_graph(pieces: StreetPieces, *, min_spur: float = MIN_SPUR, spur_factor: float = SPUR_FACTOR,
                min_length: float = MIN_LENGTH, junction_factor: float = JUNCTION_FACTOR,
                tolerance: float = SIMPLIFY_TOLERANCE) -> StreetGraph:
    """Join the pieces at window cuts and degree-2 nodes, prune spurs, contract split junctions,
    number nodes and edges."""
    lines = _merge(pieces.lines)
    for _ in range(10):
        degree = _degrees(lines)
        keep: list[LineString] = []
        changed = False
        for line in lines:
            a, b = _key(*line.coords[0]), _key(*line.coords[-1])
            da, db = degree.get(a, 0), degree.get(b, 0)
            if da == 1 and db == 1:  # an isolated piece
                if line.length < min_length:
                    changed = True
                    continue
            elif (da == 1 or db == 1) and a != b:
                junction = b if da == 1 else a
                limit = max(min_spur, spur_factor * pieces.node_half_width.get(junction, 0.0))
                if line.length < limit:
                    changed = True
                    continue
            keep.append(line)
        lines = _merge(keep) if changed else keep
        if not changed:
            break
    lines = _contract_junctions(lines, pieces.node_half_width, junction_factor)
    widths = _widths(lines, pieces)
    if tolerance > 0:
        lines = [shapely.simplify(line, tolerance, preserve_topology=False) for line in lines]
    node_ids: dict[tuple[float, float], int] = {}
    starts, ends = [], []
    for line in lines:
        ids = []
        for xy in (line.coords[0], line.coords[-1]):
            ids.append(node_ids.setdefault(_key(*xy), len(node_ids)))
        starts.append(ids[0])
        ends.append(ids[1])
    degree_by_id = np.zeros(len(node_ids), dtype=int)
    for s, e in zip(starts, ends, strict=True):
        degree_by_id[s] += 1
        degree_by_id[e] += 1
    nodes = [Point(xy) for xy in node_ids]
    return StreetGraph(lines=lines, starts=starts, ends=ends, widths=widths, nodes=nodes,
                       degrees=degree_by_id.tolist())


def _contract_junctions(lines: list[LineString], half_width: dict[tuple[float, float], float],
                        factor: float) -> list[LineString]:
    """Merge two junctions joined by an edge shorter than ``factor`` × the street width there
    (thinning splits a crossing of wide streets into two nearby junctions) into one at its middle."""
    if factor <= 0:
        return lines
    for _ in range(10):
        degree = _degrees(lines)
        candidates = []
        for i, line in enumerate(lines):
            a, b = _key(*line.coords[0]), _key(*line.coords[-1])
            if a == b or degree[a] < 3 or degree[b] < 3:
                continue
            limit = factor * (half_width.get(a, 0.0) + half_width.get(b, 0.0))
            if line.length < limit:
                candidates.append((line.length, i, a, b))
        if not candidates:
            break
        moved: dict[tuple[float, float], tuple[float, float]] = {}
        drop = set()
        for _length, i, a, b in sorted(candidates):
            if a in moved or b in moved:
                continue
            mid = lines[i].interpolate(0.5, normalized=True)
            m = _key(mid.x, mid.y)
            moved[a] = moved[b] = m
            half_width[m] = max(half_width.get(a, 0.0), half_width.get(b, 0.0))
            drop.add(i)
        out = []
        for i, line in enumerate(lines):
            if i in drop:
                continue
            coords = list(line.coords)
            coords[0] = moved.get(_key(*coords[0]), coords[0])
            coords[-1] = moved.get(_key(*coords[-1]), coords[-1])
            if len(coords) == 2 and coords[0] == coords[1]:
                continue
            new = LineString(coords)
            a = _key(*coords[0])
            if a == _key(*coords[-1]) and new.length < 2 * np.pi * half_width.get(a, 0.0):
                continue  # a tiny loop left by the contraction
            out.append(new)
        lines = out
    return lines


def _merge(lines: Iterable[LineString]) -> list[LineString]:
    lines = list(lines)
    if not lines:
        return []
    merged = shapely.line_merge(MultiLineString(lines))
    return _lines(merged)


def _degrees(lines: list[LineString]) -> dict[tuple[float, float], int]:
    degree: dict[tuple[float, float], int] = {}
    for line in lines:
        for xy in (line.coords[0], line.coords[-1]):
            k = _key(*xy)
            degree[k] = degree.get(k, 0) + 1
    return degree


def _widths(lines: list[LineString], pieces: StreetPieces) -> list[float]:
    """Length-weighted mean width (2 × half-width) of the pieces each final line is made of."""
    if not lines or not pieces.lines:
        return [0.0] * len(lines)
    mids = [p.interpolate(0.5, normalized=True) for p in pieces.lines]
    tree = shapely.STRtree(lines)
    line_idx = tree.nearest(mids)
    num = np.zeros(len(lines))
    den = np.zeros(len(lines))
    for piece, hw, li in zip(pieces.lines, pieces.half_widths, line_idx.tolist(), strict=True):
        num[li] += piece.length * hw
        den[li] += piece.length
    return (2 * num / np.maximum(den, 1e-9)).round(2).tolist()


#: Coordinates are snapped to 1/256 px so that pieces cut by windows meet exactly.
_GRID = 256.0


def _snap(xy: np.ndarray) -> np.ndarray:
    return np.round(xy * _GRID) / _GRID


def _key(x: float, y: float) -> tuple[float, float]:
    # Python's round() rounds half to even like np.round in _snap, and is 10x faster on scalars.
    return (round(float(x) * _GRID) / _GRID, round(float(y) * _GRID) / _GRID)


def _lines(geom: shapely.Geometry) -> list[LineString]:
    if isinstance(geom, LineString):
        return [] if geom.is_empty else [geom]
    if hasattr(geom, "geoms"):
        return [g for part in geom.geoms for g in _lines(part)]
    return []
