"""Helmert (similarity) transform: translation, rotation and uniform scale (4 parameters).

``x' = tx + a x - b y``, ``y' = ty + b x + a y`` fitted by least squares over both coordinates
jointly, as Allmaps' ``Helmert``. It is a proper similarity (no reflection): a georeference
flips the pixel y axis before fitting (pixels have y down, maps have y up), as Allmaps does.
"""

from __future__ import annotations

import numpy as np

from jadis.georef.transforms.base import Normalizer, Transform, lstsq


class Helmert(Transform):
    name = "helmert"
    title = "Helmert (similarity) transform"
    min_points = 2

    def _fit(self, src: np.ndarray, dst: np.ndarray) -> None:
        ns, nd = Normalizer(src), Normalizer(dst)
        s, d = ns(src), nd(dst)
        n = len(s)
        a = np.zeros((2 * n, 4))
        a[:n, 0], a[:n, 2], a[:n, 3] = 1.0, s[:, 0], -s[:, 1]
        a[n:, 1], a[n:, 2], a[n:, 3] = 1.0, s[:, 1], s[:, 0]
        w = lstsq(a, np.concatenate([d[:, 0], d[:, 1]]), self.title)
        # Undo the normalisations: dst = nd.scale * (T(ns(src))) + nd.mean
        k = nd.scale / ns.scale
        self.a, self.b = w[2] * k, w[3] * k
        lin = np.array([[self.a, -self.b], [self.b, self.a]])
        self.t = nd.mean + nd.scale * w[:2] - lin @ ns.mean

    @property
    def matrix(self) -> np.ndarray:
        """The 3x3 homogeneous matrix."""
        return np.array([[self.a, -self.b, self.t[0]], [self.b, self.a, self.t[1]], [0.0, 0.0, 1.0]])

    @property
    def scale(self) -> float:
        return float(np.hypot(self.a, self.b))

    @property
    def rotation(self) -> float:
        """Rotation angle in radians (counter-clockwise in a y-up frame)."""
        return float(np.arctan2(self.b, self.a))

    def _apply(self, xy: np.ndarray) -> np.ndarray:
        x, y = xy[:, 0], xy[:, 1]
        return np.column_stack([self.t[0] + self.a * x - self.b * y, self.t[1] + self.b * x + self.a * y])

    def _jacobian(self, xy: np.ndarray) -> np.ndarray:
        return np.broadcast_to(np.array([[self.a, -self.b], [self.b, self.a]]), (len(xy), 2, 2)).copy()

    def inverse(self) -> Helmert:
        """The exact inverse similarity (what Allmaps uses as the backward Helmert)."""
        inv = object.__new__(Helmert)
        inv.src, inv.dst = self.dst, self.src
        det = self.a**2 + self.b**2
        inv.a, inv.b = self.a / det, -self.b / det
        lin = np.array([[inv.a, -inv.b], [inv.b, inv.a]])
        inv.t = -(lin @ self.t)
        return inv
