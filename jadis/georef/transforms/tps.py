"""Thin-plate spline: exact interpolation of the control points plus an affine part.

``f(p) = a0 + a1 x + a2 y + sum_i w_i U(|p - p_i|)`` with the kernel ``U(r) = r^2 log r`` and
the side conditions ``sum w_i = sum w_i x_i = sum w_i y_i = 0``; solved per output coordinate
from the (N+3)x(N+3) system, as Allmaps' ``thinPlateSpline`` (RBF with ``thinPlateKernel``) and
GDAL's ``-tps`` (which uses ``r^2 log r^2``, the same interpolant). Written here rather than via
``scipy.interpolate.RBFInterpolator`` because the analytic Jacobian (deformation maps) needs the
weights; the interpolant is identical.

Residuals are zero by construction: judge a TPS by its leave-one-out error (``jadis.georef.fit``).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from jadis.errors import JadisError
from jadis.georef.transforms.base import Normalizer, Transform

#: Elements of the (points x nodes) distance matrix evaluated at once (bounds memory, ~32 MB).
_CHUNK_ELEMENTS = 4_000_000


def _kernel(r2: np.ndarray) -> np.ndarray:
    """U(r) = r^2 log r computed from r^2 (0 at r = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(r2 > 0, 0.5 * r2 * np.log(r2), 0.0)


class ThinPlateSpline(Transform):
    name = "tps"
    title = "thin-plate spline"
    min_points = 3
    interpolating = True

    def _fit(self, src: np.ndarray, dst: np.ndarray) -> None:
        self._norm = Normalizer(src)
        self._nodes = self._norm(src)
        n = len(src)
        d2 = np.sum((self._nodes[:, None, :] - self._nodes[None, :, :]) ** 2, axis=2)
        p = np.column_stack([np.ones(n), self._nodes])
        lhs = np.zeros((n + 3, n + 3))
        lhs[:n, :n] = _kernel(d2)
        lhs[:n, n:] = p
        lhs[n:, :n] = p.T
        self._dmean = dst.mean(axis=0)
        rhs = np.zeros((n + 3, 2))
        rhs[:n] = dst - self._dmean
        try:
            sol = scipy.linalg.solve(lhs, rhs, assume_a="sym", check_finite=False)
        except (np.linalg.LinAlgError, scipy.linalg.LinAlgError) as exc:
            raise JadisError(f"{self.title}: the control points are degenerate (duplicates or all on a line)") from exc
        if not np.all(np.isfinite(sol)):
            raise JadisError(f"{self.title}: the control points are degenerate (duplicates or all on a line)")
        self.weights = sol[:n]  # (n, 2) kernel weights
        self.affine = sol[n:]   # (3, 2) rows: constant, x, y (normalised coordinates)

    @property
    def _chunk(self) -> int:
        return max(1, _CHUNK_ELEMENTS // len(self._nodes))

    def _apply(self, xy: np.ndarray) -> np.ndarray:
        out = np.empty_like(xy)
        step = self._chunk
        nodes2 = np.sum(self._nodes**2, axis=1)
        for start in range(0, len(xy), step):
            u = self._norm(xy[start:start + step])
            # |u - v|^2 = |u|^2 + |v|^2 - 2 u.v with a matrix product (BLAS), clipped at 0 against rounding
            d2 = np.maximum(np.sum(u**2, axis=1)[:, None] + nodes2[None, :] - 2.0 * (u @ self._nodes.T), 0.0)
            out[start:start + step] = (_kernel(d2) @ self.weights + self.affine[0]
                                         + u @ self.affine[1:] + self._dmean)
        return out

    def _jacobian(self, xy: np.ndarray) -> np.ndarray:
        jac = np.empty((len(xy), 2, 2))
        step = self._chunk
        for start in range(0, len(xy), step):
            u = self._norm(xy[start:start + step])
            diff = u[:, None, :] - self._nodes[None, :, :]  # (m, n, 2)
            r2 = np.sum(diff**2, axis=2)
            with np.errstate(divide="ignore", invalid="ignore"):
                g = np.where(r2 > 0, np.log(r2) + 1.0, 0.0)  # dU/dr / r = 2 log r + 1
            for j in range(2):
                dk = g * diff[:, :, j]  # (m, n)
                jac[start:start + step, :, j] = dk @ self.weights + self.affine[1 + j]
        return jac / self._norm.scale
