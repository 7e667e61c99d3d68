"""The streets around a place of a georeferenced map: a local prior for reading garbled labels.

A reader who cannot make out a label looks at the streets around it. With a georeference (pixel ->
Lambert-93) and gazetteers with geometry, :class:`LocalNames` gives, for a pixel of the map, the
names the gazetteers have within ``radius_m`` metres of it; :func:`jadis.ocr.names.read_names`
then names a reading that named nothing against those few names only, with a lower threshold.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

#: Metres around a line's world position where its street may lie (label to centre-line distance,
#: the gazetteer's own drift, a few metres of georeference error). Measured: benchmarks/RESULTS.md.
LOCAL_RADIUS_M = 100.0


class LocalNames:
    """Names the gazetteers have near each pixel of a georeferenced map (shapely STRtree)."""

    def __init__(self, names: Sequence[str], geometries: Sequence, to_world: Callable[[np.ndarray], np.ndarray],
                 radius_m: float = LOCAL_RADIUS_M) -> None:
        import shapely

        self.names = np.asarray(list(names), dtype=object)
        self.tree = shapely.STRtree(np.asarray(list(geometries), dtype=object))
        self.to_world = to_world
        self.radius_m = radius_m

    def __len__(self) -> int:
        return len(self.names)

    def __call__(self, pixel: np.ndarray) -> list[str]:
        """The distinct names within ``radius_m`` of ``pixel`` (x, y) once on the ground."""
        import shapely

        x, y = np.asarray(self.to_world(np.asarray(pixel, float).reshape(1, 2)), float).reshape(-1)[:2]
        hits = self.tree.query(shapely.Point(x, y), predicate="dwithin", distance=self.radius_m)
        return sorted({str(n) for n in self.names[hits]})


def local_names(to_world: Callable[[np.ndarray], np.ndarray], area, year: int | None = None,
                radius_m: float = LOCAL_RADIUS_M) -> LocalNames | None:
    """The lookup of :class:`LocalNames` over the registered gazetteers with geometry valid near
    ``year`` (:func:`jadis.geocode.vocabulary.named_geometries`), kept to ``area`` (the map's
    footprint in EPSG:2154) plus ``radius_m``; None when none covers it."""
    from jadis.geocode.vocabulary import named_geometries

    names, geoms = named_geometries(area, year, margin_m=radius_m)
    return LocalNames(names, geoms, to_world, radius_m) if len(names) else None

