"""Ground truth for training and scoring: class masks derived from hand-drawn closed-shape outlines.

The ICDAR 2021 MapSeg / SoDUCo ground truth of the Atlas municipal is not a class map: annotators drew
the 1-px outlines of every closed shape (building blocks, the buildings and gardens inside them,
sidewalks and boulevard islands, squares, river banks). :func:`derive_class_mask` turns such an outline
raster into the jadis classes. A *building block* is what MapSeg task 1 calls one: a closed shape that
may enclose other shapes and lines, surrounded by streets or water, never directly connected to
another block. The rule (thresholds in :class:`DerivationRule`, in pixels of a ~1:5000 atlas scan
like the ICDAR one):

1. **Street network.** Label the 4-connected regions of non-outline pixels inside the content mask.
   The network is the open space running between the shapes: the largest region, plus any region at
   least ``network_fraction`` as large and elongated like a network. Open squares (places), quays and
   boulevards belong to it because nothing closes them.
2. **Sidewalks.** Where a sidewalk or side alley is drawn as its own strip against a block, it joins
   the block (through the shared outline, step 5): the block ends at the kerb, as where annotators
   drew the block outline at the kerb directly — both conventions occur on the same sheet, and this
   makes them agree. Free-standing strips (boulevard islands, medians) form thin groups of their own
   and are street (step 6). ``sidewalks_are_street=True`` gives the other convention (thin strips that
   run along the network join it; the block ends at its building line).
3. **Water** (a hand decision): regions containing one of ``water_seeds`` are water, class 0.
   Outlines alone cannot tell the Seine from a huge block.
4. **Outlines.** An outline pixel bordering exactly one remaining closed shape belongs to it (a block's
   printed contour is part of the block); one bordering several glues them together; the others
   (outlines of the network, of the water, the map frame) take the nearest region.
5. **Groups.** Closed shapes that touch — through a shared outline — form one group: a block with
   the buildings, courtyards and gardens drawn in it or against its edge. Two groups are always
   separated by street or water pixels, so **each building block is exactly one 4-connected
   component** of class 2, as the MapSeg PQ protocol counts them.
6. **Block or street?** A group is a building block when it is thick (inscribed width ≥
   ``min_block_width``), not a long strip (area / width² < ``max_block_elongation``), large enough
   (≥ ``min_block_area`` px) and does not share an outline with water (river banks, ports and lower
   quays are public way). Other groups are street. Tiny groups (fragments of dashed lines) take the
   majority class around them: street, or other.
7. Everything outside the content mask is class 0. Text is not annotated in this kind of ground
   truth: labels lie inside blocks or streets and take their class.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from jadis.classes import MapClass
from jadis.errors import JadisError

_FOUR = ndi.generate_binary_structure(2, 1)


@dataclass(frozen=True)
class DerivationRule:
    """Thresholds of :func:`derive_class_mask` (pixels of the scan the outlines were drawn on)."""

    #: a group narrower than this (diameter of its largest inscribed disc) is street, not a block
    min_block_width: float = 24.0
    #: a group smaller than this is a fragment: it takes the class around it
    min_block_area: int = 400
    #: sidewalks and side alleys drawn as closed shapes against a block: False (default) = they belong
    #: to the block, which then ends at the kerb, as where annotators drew the block outline at the kerb;
    #: True = they are street (the block ends at its building line). Free-standing strips (boulevard
    #: islands, medians) are street either way (they form thin groups of their own).
    sidewalks_are_street: bool = False
    #: with ``sidewalks_are_street``: a thin shape (narrower than ``min_block_width``) along the network this
    #: elongated (area / width²) is a sidewalk or an island: street, and it separates blocks
    min_strip_elongation: float = 5.0
    #: …and at least this fraction of its contour runs along the network (a building inside a block
    #: touches the street only on one side of one wing)
    min_strip_contact: float = 0.3
    #: shapes smaller than this are never strips (kiosks, statues: they join their group)
    min_strip_area: int = 50
    #: a group more elongated than this (area / width²) is a strip of public way (quay, island)
    max_block_elongation: float = 8.0
    #: other open regions at least this fraction of the largest one may also be street network…
    network_fraction: float = 0.05
    #: …when they are elongated like a network (area / inscribed width²)
    network_elongation: float = 40.0


def derive_class_mask(edges: np.ndarray, content: np.ndarray, *,
                      water_seeds: Sequence[tuple[int, int]] = (),
                      rule: DerivationRule | None = None) -> np.ndarray:
    """Street / block / other class mask (uint8 ids of :class:`MapClass`) from closed-shape outlines.

    ``edges``: 2-D array, non-zero on the 1-px outlines. ``content``: same shape, non-zero inside the
    map content. ``water_seeds``: ``(x, y)`` pixels inside water regions (class 0). See the module
    docstring for the rule; :class:`DerivationRule` holds its thresholds.
    """
    rule = rule or DerivationRule()
    edges = np.asarray(edges) != 0
    content = np.asarray(content) != 0
    if edges.ndim != 2 or edges.shape != content.shape:
        raise JadisError(f"edges {edges.shape} and content {content.shape} must be 2-D arrays of the same shape")
    out = np.zeros(edges.shape, np.uint8)
    free = content & ~edges
    regions, n = ndi.label(free, structure=_FOUR)
    if n == 0:
        return out

    # 1. water, by hand-placed seeds
    is_water = np.zeros(n + 1, bool)
    for x, y in water_seeds:
        if not (0 <= y < regions.shape[0] and 0 <= x < regions.shape[1]):
            raise JadisError(f"water seed ({x}, {y}) lies outside the {regions.shape[1]}x{regions.shape[0]} image")
        is_water[regions[y, x]] = regions[y, x] > 0

    # 2. the street network: the largest open region that is not water, and any other large one
    # elongated like a network
    areas = np.bincount(regions.ravel(), minlength=n + 1)
    areas[0] = 0
    land = np.where(is_water, 0, areas)
    largest = int(np.argmax(land))
    network = np.zeros(n + 1, bool)
    network[largest] = land[largest] > 0
    slices = ndi.find_objects(regions)
    for i in np.flatnonzero(land >= rule.network_fraction * land[largest]):
        if i != largest and _elongation(regions[slices[i - 1]] == i) >= rule.network_elongation:
            network[i] = True

    # 2b. strips of public way drawn as closed shapes along the network: sidewalks, tree-lined side
    # alleys, boulevard islands, rings around monuments. They are thin, elongated and run along the
    # network (a large part of their contour is within 2 px of it, across one outline).
    near_network = ndi.binary_dilation(network[regions], structure=_FOUR, iterations=2)
    candidates = np.unique(regions[near_network & ~network[regions]]) if rule.sidewalks_are_street else []
    for i in candidates:
        if i == 0 or is_water[i] or areas[i] < rule.min_strip_area:
            continue
        sl = _grow(slices[i - 1], regions.shape)
        if _is_strip(regions[sl] == i, near_network[sl], rule):
            network[i] = True

    # 3. every outline pixel joins a region: the closed shape it borders (if it borders exactly one),
    # else the nearest region. Outline pixels bordering two shapes glue them together.
    is_shape = ~network & ~is_water
    is_shape[0] = False
    full, glued = _assign_outlines(regions, edges & content, is_shape)

    # 4. groups of closed shapes: shapes that touch (through a shared outline) form one group
    pairs = [glued]
    for a, b in ((full[:, :-1], full[:, 1:]), (full[:-1, :], full[1:, :])):
        touch = (a != b) & is_shape[a] & is_shape[b]
        pairs.append(np.stack([a[touch], b[touch]], axis=1))
    pairs = np.unique(np.concatenate(pairs), axis=0)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n + 1, n + 1))
    _, group_of = connected_components(graph, directed=False)
    group_of = np.where(is_shape, group_of + 1, 0)  # 0 = not a shape (network, water, outside)
    groups = group_of[full]
    bank = np.zeros(group_of.max() + 1, bool)  # groups sharing an outline with water: quays, ports
    if is_water.any():
        for a, b in ((full[:, :-1], full[:, 1:]), (full[:-1, :], full[1:, :])):
            for x, y in ((a, b), (b, a)):
                touch = is_water[x] & is_shape[y]
                bank[group_of[y[touch]]] = True

    # 5. classify each group; open space is street, water and the outside are other
    out[network[full] & content] = MapClass.STREET
    fragments: list[tuple[int, tuple[slice, slice]]] = []
    for gid, sl in enumerate(ndi.find_objects(groups), start=1):
        if sl is None:
            continue
        shape = groups[sl] == gid
        area = int(shape.sum())
        if area < rule.min_block_area:
            fragments.append((gid, sl))
            continue
        width = _inscribed_width(shape)
        block = (width >= rule.min_block_width and area / width**2 < rule.max_block_elongation
                 and not bank[gid])
        out[sl][shape] = MapClass.BLOCK if block else MapClass.STREET

    # 6. fragments take the majority class of their 1-px surroundings: street or other (water,
    # outside). Never block: a fragment only touches blocks diagonally, so it would be a separate
    # tiny instance.
    for gid, sl in fragments:
        sl = _grow(sl, groups.shape)
        shape = groups[sl] == gid
        ring = ndi.binary_dilation(shape, structure=np.ones((3, 3), bool)) & ~shape
        around = out[sl][ring]
        streetish = np.count_nonzero(around == MapClass.STREET)
        otherish = np.count_nonzero(around == MapClass.OTHER)
        out[sl][shape] = MapClass.STREET if streetish >= otherish else MapClass.OTHER
    out[~content] = MapClass.OTHER
    return out


def _assign_outlines(regions: np.ndarray, edges: np.ndarray, is_shape: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Give every outline pixel a region label; return (labels, pairs of shapes glued by an outline).

    An outline pixel whose 4-neighbours include exactly one closed shape belongs to that shape (a
    block's printed contour is part of the block); one bordering several shapes is glued to them
    all; the others (outlines of the street network, of water, map frame) take the nearest region.
    """
    full = regions.copy()
    padded = np.pad(regions, 1)
    neighbours = np.stack([padded[:-2, 1:-1], padded[2:, 1:-1], padded[1:-1, :-2], padded[1:-1, 2:]])
    neighbours = np.where(is_shape[neighbours], neighbours, 0)
    hi = neighbours.max(axis=0)
    lo = np.where(neighbours > 0, neighbours, np.iinfo(neighbours.dtype).max).min(axis=0)
    take = edges & (hi > 0)
    full[take] = hi[take]
    several = take & (lo != hi)
    glued = [np.stack([hi[several], lo[several]], axis=1)]
    for k in range(4):  # a third or fourth distinct shape at a junction
        nk = neighbours[k]
        extra = several & (nk > 0) & (nk != hi) & (nk != lo)
        glued.append(np.stack([hi[extra], nk[extra]], axis=1))
    rest = edges & (full == 0)
    if rest.any():
        targets = full > 0
        if targets.any():
            _, (iy, ix) = ndi.distance_transform_edt(~targets, return_indices=True)
            full[rest] = full[iy[rest], ix[rest]]
    return full, np.concatenate(glued).astype(full.dtype)


def _is_strip(shape: np.ndarray, near_network: np.ndarray, rule: DerivationRule) -> bool:
    width = _inscribed_width(shape)
    elongation = float(shape.sum()) / max(width, 1.0) ** 2
    thin = (width < rule.min_block_width and elongation >= rule.min_strip_elongation) or (
        width < 2 * rule.min_block_width and elongation >= 2.4 * rule.min_strip_elongation)
    if not thin:
        return False
    contour = shape & ~ndi.binary_erosion(shape, structure=_FOUR)
    return np.count_nonzero(contour & near_network) >= rule.min_strip_contact * np.count_nonzero(contour)


def _inscribed_width(shape: np.ndarray) -> float:
    """Diameter of the largest disc inside a boolean shape (2 × max Euclidean distance to outside)."""
    return 2.0 * float(ndi.distance_transform_edt(np.pad(shape, 1)).max())


def _elongation(shape: np.ndarray) -> float:
    """Area / inscribed width²: ~1 for a disc or square, hundreds for a street network."""
    width = _inscribed_width(shape)
    return float(shape.sum()) / max(width, 1.0) ** 2


def _grow(sl: tuple[slice, slice], shape: tuple[int, ...], pad: int = 2) -> tuple[slice, slice]:
    return tuple(slice(max(0, s.start - pad), min(n, s.stop + pad)) for s, n in zip(sl, shape, strict=True))
