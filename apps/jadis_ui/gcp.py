"""The editable list of control points of the Control points page, and its live fit."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from jadis.errors import JadisError
from jadis.georef.transforms import TRANSFORMS as TRANSFORM_TYPES
from jadis.georef.transforms import transform_label

#: Transforms offered, with their labels (one source: :mod:`jadis.georef.transforms`).
TRANSFORMS = {name: transform_label(name) for name in TRANSFORM_TYPES}


@dataclass
class PointSet:
    """What the user is editing for one map: points, their world CRS, the transform, the loaded version."""

    crs: str
    transform: str = "polynomial1"
    version: int = 0
    points: list[dict] = field(default_factory=list)  # {id, x, y, X, Y, enabled}
    pending_pixel: tuple[float, float] | None = None
    pending_world: tuple[float, float] | None = None

    def next_id(self) -> str:
        used = {p["id"] for p in self.points}
        n = len(self.points) + 1
        while str(n) in used:
            n += 1
        return str(n)

    def add(self, x: float, y: float, wx: float, wy: float, enabled: bool = True, ident: str | None = None) -> str:
        values = np.array([x, y, wx, wy], float)
        if not np.isfinite(values).all():
            raise JadisError("a control point needs four finite numbers (x, y, X, Y)")
        ident = ident or self.next_id()
        self.points.append({"id": ident, "x": float(x), "y": float(y), "X": float(wx), "Y": float(wy),
                            "enabled": bool(enabled)})
        return ident

    def remove(self, ident: str) -> None:
        self.points = [p for p in self.points if p["id"] != ident]

    def set_enabled(self, disabled: set[str]) -> None:
        for p in self.points:
            p["enabled"] = p["id"] not in disabled

    def gcps(self):  # GcpSet
        from jadis.georef.gcps import GcpSet

        return GcpSet(pixel=np.array([[p["x"], p["y"]] for p in self.points], float).reshape(-1, 2),
                      world=np.array([[p["X"], p["Y"]] for p in self.points], float).reshape(-1, 2),
                      crs=self.crs, enabled=np.array([p["enabled"] for p in self.points], bool),
                      ids=tuple(p["id"] for p in self.points))

    @classmethod
    def from_georef(cls, georef, version: int) -> PointSet:  # Georeference
        g = georef.gcps
        ids = g.ids or tuple(str(i + 1) for i in range(len(g)))
        pts = [{"id": ids[i] or str(i + 1), "x": float(g.pixel[i, 0]), "y": float(g.pixel[i, 1]),
                "X": float(g.world[i, 0]), "Y": float(g.world[i, 1]), "enabled": bool(g.enabled[i])}
               for i in range(len(g))]
        return cls(crs=g.crs.to_wkt(), transform=georef.transform, version=version, points=pts)


@dataclass
class Fit:
    """The live fit: a georeference and its report, or why there is none."""

    georef: object | None = None
    report: object | None = None
    problem: str | None = None


def fit(points: PointSet, image_size: tuple[int, int]) -> Fit:
    """Fit the chosen transform on the enabled points (never raises for user-side problems)."""
    from jadis.georef.georeference import Georeference

    if not points.points:
        return Fit(problem="no control points yet")
    try:
        georef = Georeference(points.gcps(), points.transform, image_size=image_size)
        georef.validate()
        return Fit(georef, georef.report())
    except JadisError as exc:
        return Fit(problem=" ".join(str(exc).split()))
