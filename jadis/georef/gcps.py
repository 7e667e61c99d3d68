"""A set of ground control points (GCPs): pixel (x, y) <-> world (X, Y) in one CRS.

Pixel coordinates: x to the right, y down, origin at the top-left corner of the full-resolution
image (so the centre of the top-left pixel is (0.5, 0.5)); this is what Allmaps ``pixelCoords``,
GDAL GCP pixel/line and QGIS ``sourceX, -sourceY`` use. World coordinates are (easting, northing)
or (lon, lat) in :attr:`GcpSet.crs`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pyproj

from jadis.errors import JadisError
from jadis.georef.crs import crs_name, parse_crs, reproject


@dataclass(frozen=True, eq=False)
class GcpSet:
    """Pixel <-> world control points with their CRS, enabled flags and optional ids / labels."""

    pixel: np.ndarray
    world: np.ndarray
    crs: pyproj.CRS
    enabled: np.ndarray = field(default=None)  # type: ignore[assignment]
    ids: tuple[str, ...] | None = None
    labels: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        pixel = np.asarray(self.pixel, dtype=float).reshape(-1, 2)
        world = np.asarray(self.world, dtype=float).reshape(-1, 2)
        if len(pixel) != len(world):
            raise JadisError(f"GCPs: {len(pixel)} pixel points but {len(world)} world points")
        if not np.all(np.isfinite(pixel)) or not np.all(np.isfinite(world)):
            bad = int(np.flatnonzero(~(np.isfinite(pixel).all(1) & np.isfinite(world).all(1)))[0])
            raise JadisError(f"GCP {self._name(bad)} has a missing or non-numeric coordinate")
        enabled = (np.ones(len(pixel), dtype=bool) if self.enabled is None
                   else np.asarray(self.enabled, dtype=bool).reshape(-1))
        if len(enabled) != len(pixel):
            raise JadisError(f"GCPs: {len(enabled)} enabled flags for {len(pixel)} points")
        for attr in ("ids", "labels"):
            value = getattr(self, attr)
            if value is not None:
                value = tuple("" if v is None else str(v) for v in value)
                if len(value) != len(pixel):
                    raise JadisError(f"GCPs: {len(value)} {attr} for {len(pixel)} points")
                object.__setattr__(self, attr, value)
        pixel.flags.writeable = False
        world.flags.writeable = False
        enabled.flags.writeable = False
        object.__setattr__(self, "pixel", pixel)
        object.__setattr__(self, "world", world)
        object.__setattr__(self, "enabled", enabled)
        object.__setattr__(self, "crs", parse_crs(self.crs))

    # -- basic views -----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.pixel)

    @property
    def n_enabled(self) -> int:
        return int(self.enabled.sum())

    def _name(self, i: int) -> str:
        if self.ids is not None and self.ids[i]:
            return f"{self.ids[i]!r}"
        return f"#{i + 1}"

    def name(self, i: int) -> str:
        """A human name for GCP ``i`` (its id, else its 1-based number)."""
        return self._name(i)

    def active(self) -> GcpSet:
        """Only the enabled GCPs."""
        return self.subset(self.enabled)

    def subset(self, index: np.ndarray | Sequence[int] | Sequence[bool]) -> GcpSet:
        """The GCPs selected by a boolean mask or an index array (ids/labels follow)."""
        idx = np.asarray(index)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        idx = idx.astype(int)
        def pick(t: tuple[str, ...] | None) -> tuple[str, ...] | None:
            return None if t is None else tuple(t[i] for i in idx)

        return GcpSet(self.pixel[idx], self.world[idx], self.crs, self.enabled[idx], pick(self.ids), pick(self.labels))

    def with_enabled(self, enabled: np.ndarray) -> GcpSet:
        return replace(self, enabled=np.asarray(enabled, dtype=bool))

    def to_crs(self, crs: str | pyproj.CRS) -> GcpSet:
        """The same GCPs with world coordinates reprojected to ``crs``."""
        crs = parse_crs(crs)
        return replace(self, world=reproject(self.world, self.crs, crs), crs=crs)

    def with_crs(self, crs: str | pyproj.CRS) -> GcpSet:
        """The same numbers declared in another CRS (to fix a wrong CRS header; no reprojection)."""
        return replace(self, crs=parse_crs(crs))

    def scaled_pixels(self, factor: float) -> GcpSet:
        """Pixel coordinates multiplied by ``factor`` (e.g. GCPs of a half-resolution scan)."""
        return replace(self, pixel=self.pixel * float(factor))

    def __repr__(self) -> str:
        return f"GcpSet({len(self)} points, {self.n_enabled} enabled, crs={crs_name(self.crs)[:40]!r})"

    # -- validation ------------------------------------------------------------------------------
    def validate(self, min_points: int = 1, what: str = "this transform") -> None:
        """Check the enabled GCPs can support a transform needing ``min_points`` points.

        Raises :class:`JadisError` for too few points, duplicated pixel or world positions, and
        (for 3 or more required points) points that are all on one line.
        """
        act = self.active()
        n = len(act)
        if n < min_points:
            raise JadisError(f"{what} needs at least {min_points} enabled GCPs, got {n}")
        for label, pts in (("pixel", act.pixel), ("world", act.world)):
            dup = _first_duplicate(pts)
            if dup is not None:
                i, j = dup
                raise JadisError(f"GCPs {act.name(i)} and {act.name(j)} have the same {label} position "
                                 f"({pts[i, 0]:.6g}, {pts[i, 1]:.6g})")
        if min_points >= 3 and n >= 3:
            for label, pts in (("pixel", act.pixel), ("world", act.world)):
                if is_collinear(pts):
                    raise JadisError(f"the {n} enabled GCPs are on one line in {label} space; "
                                     f"{what} needs points spread in two dimensions")


def _first_duplicate(pts: np.ndarray, rel_tol: float = 1e-9) -> tuple[int, int] | None:
    if len(pts) < 2:
        return None
    span = float(np.ptp(pts, axis=0).max()) or 1.0
    tol = rel_tol * max(span, float(np.abs(pts).max()))
    order = np.lexsort((pts[:, 1], pts[:, 0]))
    s = pts[order]
    close = np.all(np.abs(np.diff(s, axis=0)) <= tol, axis=1)
    if close.any():
        k = int(np.flatnonzero(close)[0])
        i, j = sorted((int(order[k]), int(order[k + 1])))
        return i, j
    return None


def is_collinear(pts: np.ndarray, rel_tol: float = 1e-6) -> bool:
    """Whether all points lie (almost) on one line: the smaller principal spread is ~0."""
    pts = np.asarray(pts, dtype=float)
    if len(pts) < 3:
        return True
    centred = pts - pts.mean(axis=0)
    s = np.linalg.svd(centred, compute_uv=False)
    return bool(s[0] == 0 or s[1] <= rel_tol * s[0])
