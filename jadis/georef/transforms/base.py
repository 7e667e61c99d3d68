"""The common base of all transforms: fit from point pairs, apply, Jacobian, minimum points.

A :class:`Transform` is one fitted mapping in one direction (source -> destination), like an
Allmaps ``transformation``. A georeference holds two of them (pixel -> world, world -> pixel),
fitted independently, as Allmaps and GDAL do (see :mod:`jadis.georef.georeference`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from jadis.errors import JadisError
from jadis.georef.gcps import _first_duplicate, is_collinear


class Transform(ABC):
    """A fitted 2-D transform. Subclasses implement ``_fit``, ``_apply`` and ``_jacobian``."""

    #: Canonical name (``helmert``, ``polynomial1`` .. ``polynomial3``, ``projective``, ``tps``).
    name: ClassVar[str]
    #: Human name for messages.
    title: ClassVar[str]
    #: Fewest point pairs that determine the transform.
    min_points: ClassVar[int]
    #: Whether the transform passes exactly through every point (residuals are always 0).
    interpolating: ClassVar[bool] = False

    def __init__(self, src: np.ndarray, dst: np.ndarray) -> None:
        src, dst = _as_points(src), _as_points(dst)
        if len(src) != len(dst):
            raise JadisError(f"{self.title}: {len(src)} source points but {len(dst)} destination points")
        check_points(src, self.min_points, self.title)
        check_points(dst, self.min_points, self.title)
        self.src = src
        self.dst = dst
        self._fit(src, dst)

    @classmethod
    def fit(cls, src: np.ndarray, dst: np.ndarray) -> Transform:
        """Fit the transform mapping ``src`` (N, 2) onto ``dst`` (N, 2)."""
        return cls(src, dst)

    def __call__(self, xy: np.ndarray) -> np.ndarray:
        return self.apply(xy)

    def apply(self, xy: np.ndarray) -> np.ndarray:
        """Map an (N, 2) array (or one (x, y) pair) from source to destination space."""
        arr = np.asarray(xy, dtype=float)
        single = arr.ndim == 1
        out = self._apply(arr.reshape(-1, 2))
        return out[0] if single else out

    def jacobian(self, xy: np.ndarray) -> np.ndarray:
        """(N, 2, 2) partial derivatives: ``J[n, i, j] = d out_i / d in_j`` at each point."""
        return self._jacobian(np.asarray(xy, dtype=float).reshape(-1, 2))

    def residuals(self) -> np.ndarray:
        """(N, 2) ``apply(src) - dst`` at the fitting points."""
        return self.apply(self.src) - self.dst

    @abstractmethod
    def _fit(self, src: np.ndarray, dst: np.ndarray) -> None: ...

    @abstractmethod
    def _apply(self, xy: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def _jacobian(self, xy: np.ndarray) -> np.ndarray: ...

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self.src)} points)"


def _as_points(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    if a.ndim != 2 or a.shape[1] != 2:
        a = a.reshape(-1, 2)
    if not np.all(np.isfinite(a)):
        raise JadisError("control points contain NaN or infinite coordinates")
    return a


def check_points(pts: np.ndarray, min_points: int, what: str) -> None:
    """Enough points, no duplicates, and not all on one line (when 3+ are needed)."""
    n = len(pts)
    if n < min_points:
        raise JadisError(f"{what} needs at least {min_points} control points, got {n}")
    dup = _first_duplicate(pts)
    if dup is not None:
        raise JadisError(f"{what}: control points #{dup[0] + 1} and #{dup[1] + 1} are at the same position")
    if min_points >= 3 and is_collinear(pts):
        raise JadisError(f"{what}: the {n} control points are all on one line; it needs points spread in two dimensions")


class Normalizer:
    """Centre and isotropic scale of a point cloud, for well-conditioned least squares.

    Every fit here is invariant to a translation + uniform scaling of its input (polynomials of
    a given total degree span the same space, and the thin-plate spline's affine part absorbs
    the change), so normalising changes rounding errors only, not the result.
    """

    def __init__(self, pts: np.ndarray) -> None:
        self.mean = pts.mean(axis=0)
        scale = float(np.sqrt(np.mean(np.sum((pts - self.mean) ** 2, axis=1))))
        self.scale = scale if scale > 0 else 1.0

    def __call__(self, pts: np.ndarray) -> np.ndarray:
        return (pts - self.mean) / self.scale


#: Smallest / largest singular value of a (normalised) design matrix below which the points are
#: taken as degenerate. E.g. GCPs on a grid of 3 rows cannot determine a cubic in y: in floating
#: point the system is not exactly singular (ratio ~1e-6 on real SHD sheets) but the fit is noise.
DEGENERATE_RATIO = 1e-5


def lstsq(a: np.ndarray, b: np.ndarray, what: str) -> np.ndarray:
    """Least squares with a rank check (a (nearly) rank-deficient system means degenerate points)."""
    sol, _, rank, sv = np.linalg.lstsq(a, b, rcond=None)
    if rank < a.shape[1] or sv[-1] <= DEGENERATE_RATIO * sv[0]:
        raise JadisError(f"{what}: the control points are degenerate for this transform "
                         "(too few distinct positions, e.g. too few grid rows for this order, or all on a line / conic); "
                         "add points or pick a simpler transform")
    return sol
