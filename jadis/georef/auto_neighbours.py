"""Sheets already aligned as a place prior: an atlas's sheets lie next to each other.

The sheets of one atlas cover the city edge to edge at one scale, and a project's scans of one series
share a resolution. So once some sheets of a project are georeferenced, a sheet whose upright street
search fails over the whole city (too many places match about as well) is then looked for next to
them: the search (:func:`jadis.georef.auto.search_pose`) only looks within :data:`REACH` of their
sheet extents from their centres, at their scales within :data:`SCALE_SLACK`. Its answer must still
pass dense matching and every refusal check, and the pose the search found there must stand out from
the poses wrong places get (:data:`MIN_SCORE`); otherwise the search goes on as usual (every
rotation). Measured on Jacoubet 21 next to 20 and 22 (benchmarks/RESULTS.md). In a project, the
sheets already aligned whose scans have about the map's size (:func:`similar_sheets`) are its
neighbours.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from jadis.georef.auto_names import PlaceArea

#: The map's centre is looked for within this many of a neighbour's long-side extents of its centre
#: (adjacent sheets: about one extent apart, diagonal ones 1.4).
REACH = 1.6
#: The map's scale is looked for within this ratio of a neighbour's (the same series scanned alike).
SCALE_SLACK = 0.1
#: Least search score (PSR at the finest search level) of a pose found next to the neighbours: wrong
#: poses score about 4-7 at every resolution (see :func:`jadis.georef.auto.search_pose`).
MIN_SCORE = 8.0


@dataclass
class NeighbourPrior:
    """Areas next to the sheets already aligned, and what they were made from."""

    areas: list[PlaceArea]
    sheets: list[dict] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.areas)

    def refusal(self, score: float) -> str | None:
        """Why a pose found next to the neighbours with search ``score`` is not trusted (None: it is)."""
        if score < MIN_SCORE:
            return (f"the best pose next to the sheets already aligned scores {score:.1f} "
                    f"(needs {MIN_SCORE:g}): not decisive")
        return None

    def summary(self) -> dict:
        return {"sheets": self.sheets, "reach": REACH, "scale_slack": SCALE_SLACK}


def neighbour_prior(neighbours: Sequence, map_size: tuple[int, int]) -> NeighbourPrior:
    """The areas next to ``neighbours`` (:class:`~jadis.georef.georeference.Georeference` of other
    sheets of the same series, in any CRS) where a map of ``map_size`` pixels may lie (centres in
    EPSG:2154)."""
    from jadis.georef.crs import parse_crs, reproject

    l93 = parse_crs("EPSG:2154")
    areas, sheets = [], []
    for g in neighbours:
        if g.image_size is None:
            continue
        w, h = g.image_size
        probe = np.array([[w / 2, h / 2], [w / 2 + 1, h / 2], [w / 2, h / 2 + 1]], float)
        world = reproject(g.pixel_to_world(probe), g.crs, l93)
        (ax, ay), (bx, by) = world[1] - world[0], world[2] - world[0]
        mpp = float(np.sqrt(abs(ax * by - ay * bx)))
        if not np.isfinite(mpp) or mpp <= 0:
            continue
        extent = mpp * max(w, h)
        reach = REACH * max(extent, mpp * max(map_size))
        areas.append(PlaceArea(float(world[0, 0]), float(world[0, 1]), reach,
                               (mpp * (1 - SCALE_SLACK), mpp * (1 + SCALE_SLACK)), ()))
        sheets.append({"image": g.image, "x": round(float(world[0, 0])), "y": round(float(world[0, 1])),
                       "m_per_px": round(mpp, 4)})
    return NeighbourPrior(areas, sheets)


#: Scans of one series have about one size: within this ratio on each side (either orientation).
SIZE_SLACK = 0.25


def similar_sheets(georefs: Sequence, map_size: tuple[int, int]) -> list:
    """The georeferences whose image is about ``map_size`` (a project's sheets of the same series)."""
    w, h = map_size
    out = []
    for g in georefs:
        if g.image_size is None:
            continue
        gw, gh = g.image_size
        if any(abs(a / max(w, 1) - 1.0) <= SIZE_SLACK and abs(b / max(h, 1) - 1.0) <= SIZE_SLACK
               for a, b in ((gw, gh), (gh, gw))):
            out.append(g)
    return out
