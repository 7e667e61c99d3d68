"""Polynomial transforms of order 1 (affine), 2 and 3, fitted by least squares per coordinate.

Terms of total degree <= order: 3, 6 or 10 coefficients per output coordinate, so 3, 6 or 10
points at least (Allmaps ``polynomial``/``polynomial2``/``polynomial3``; GDAL/QGIS ``-order 1..3``).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from jadis.georef.transforms.base import Normalizer, Transform, lstsq

# Exponents (p, q) of the monomials x^p y^q, in Allmaps' order.
_TERMS = {
    1: [(0, 0), (1, 0), (0, 1)],
    2: [(0, 0), (1, 0), (0, 1), (2, 0), (0, 2), (1, 1)],
    3: [(0, 0), (1, 0), (0, 1), (2, 0), (0, 2), (1, 1), (3, 0), (0, 3), (2, 1), (1, 2)],
}


def _design(u: np.ndarray, terms: list[tuple[int, int]]) -> np.ndarray:
    return np.column_stack([u[:, 0] ** p * u[:, 1] ** q for p, q in terms])


class Polynomial(Transform):
    """Least-squares polynomial transform; use the order-specific subclasses."""

    order: ClassVar[int]

    def _fit(self, src: np.ndarray, dst: np.ndarray) -> None:
        self._norm = Normalizer(src)
        self._terms = _TERMS[self.order]
        self._dmean = dst.mean(axis=0)
        self.coef = lstsq(_design(self._norm(src), self._terms), dst - self._dmean, self.title)  # (k, 2)

    def _apply(self, xy: np.ndarray) -> np.ndarray:
        return _design(self._norm(xy), self._terms) @ self.coef + self._dmean

    def _jacobian(self, xy: np.ndarray) -> np.ndarray:
        u = self._norm(xy)
        dx = np.column_stack([p * u[:, 0] ** max(p - 1, 0) * u[:, 1] ** q for p, q in self._terms])
        dy = np.column_stack([q * u[:, 0] ** p * u[:, 1] ** max(q - 1, 0) for p, q in self._terms])
        jac = np.stack([dx @ self.coef, dy @ self.coef], axis=2) / self._norm.scale  # (n, out, in)
        return jac


class Polynomial1(Polynomial):
    name = "polynomial1"
    title = "affine (polynomial order 1) transform"
    order = 1
    min_points = 3

    @property
    def matrix(self) -> np.ndarray:
        """The 3x3 homogeneous matrix of the affine map."""
        lin = (self.coef[1:3].T) / self._norm.scale
        t = self.coef[0] + self._dmean - lin @ self._norm.mean
        return np.array([[lin[0, 0], lin[0, 1], t[0]], [lin[1, 0], lin[1, 1], t[1]], [0.0, 0.0, 1.0]])


class Polynomial2(Polynomial):
    name = "polynomial2"
    title = "polynomial order 2 transform"
    order = 2
    min_points = 6


class Polynomial3(Polynomial):
    name = "polynomial3"
    title = "polynomial order 3 transform"
    order = 3
    min_points = 10
