"""Robust fitting of the matched control points: outlier rejection, thinning, transform choice.

* :func:`consistent` keeps the matches whose shift agrees with the median shift of their
  neighbours (a local test: old maps are distorted, so a single global polynomial cannot tell a
  bad match from a local distortion, but neighbouring patches move together).
* :func:`thin` keeps the best match per grid cell, so that overlapping patches (whose errors are
  correlated) do not masquerade as independent evidence.
* :func:`tps_mapping` / :func:`poly_mapping` turn control points into a two-way
  :class:`~jadis.georef.auto_match.Mapping` for the next, finer matching pass.
* :func:`choose_transform` picks the output transform by **spatially blocked cross-validation**:
  the control points are split into blocks of neighbouring points and each block is predicted
  from the others. Plain leave-one-out would favour the thin-plate spline unfairly, because a
  left-out point's neighbours, from overlapping patches, share its error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import RBFInterpolator
from scipy.spatial import cKDTree

from jadis.georef.auto_match import Mapping

#: Candidate output transforms, simplest first (names of jadis.georef.transforms).
CANDIDATE_TRANSFORMS = ("polynomial1", "polynomial2", "polynomial3", "tps")
#: Minimum points per coefficient before a polynomial is considered.
_POINTS_PER_TERM = 3
_TERMS = {"polynomial1": 3, "polynomial2": 6, "polynomial3": 10}


def consistent(world: np.ndarray, shift: np.ndarray, radius: float, tol: float, min_neighbours: int = 4,
               rounds: int = 2) -> np.ndarray:
    """Boolean mask of matches whose shift is within ``tol`` of the median shift of the other
    kept matches within ``radius`` (world units); matches with too few neighbours are dropped."""
    n = len(world)
    keep = np.ones(n, dtype=bool)
    for _ in range(rounds):
        idx = np.flatnonzero(keep)
        if len(idx) <= min_neighbours:
            return np.zeros(n, dtype=bool)
        tree = cKDTree(world[idx])
        neighbours = tree.query_ball_point(world, radius)
        new = np.zeros(n, dtype=bool)
        for i in range(n):
            nb = [idx[j] for j in neighbours[i] if idx[j] != i]
            if len(nb) < min_neighbours:
                continue
            med = np.median(shift[nb], axis=0)
            new[i] = np.hypot(*(shift[i] - med)) <= tol
        if np.array_equal(new, keep):
            break
        keep = new
    return keep


def thin(world: np.ndarray, quality: np.ndarray, cell: float) -> np.ndarray:
    """Indices of the best-quality match in each ``cell`` x ``cell`` square of the world."""
    if len(world) == 0:
        return np.zeros(0, dtype=int)
    key = np.floor(world / cell).astype(np.int64)
    key = key[:, 0] * 2_000_003 + key[:, 1]
    order = np.lexsort((-quality, key))
    k = key[order]
    first = np.r_[True, k[1:] != k[:-1]]
    return np.sort(order[first])


# -- point-to-point fits (internal: numpy / scipy, no validation overhead) ---------------------------
class _Poly:
    """Least-squares polynomial of total degree ``order`` on normalised coordinates."""

    def __init__(self, src: np.ndarray, dst: np.ndarray, order: int) -> None:
        self.mu = src.mean(axis=0)
        self.sd = float(src.std()) or 1.0
        self.order = order
        self.coef, *_ = np.linalg.lstsq(self._design(src), dst, rcond=None)

    def _design(self, p: np.ndarray) -> np.ndarray:
        u = (np.asarray(p, float) - self.mu) / self.sd
        cols = [np.ones(len(u))]
        for d in range(1, self.order + 1):
            for i in range(d + 1):
                cols.append(u[:, 0] ** (d - i) * u[:, 1] ** i)
        return np.stack(cols, axis=1)

    def __call__(self, p: np.ndarray) -> np.ndarray:
        return self._design(np.asarray(p, float).reshape(-1, 2)) @ self.coef


class _Tps:
    """Thin-plate spline (exact, or smoothing with ``smoothing`` > 0) on normalised coordinates."""

    def __init__(self, src: np.ndarray, dst: np.ndarray, smoothing: float = 0.0) -> None:
        self.mu = src.mean(axis=0)
        self.sd = float(src.std()) or 1.0
        self.rbf = RBFInterpolator((src - self.mu) / self.sd, dst, kernel="thin_plate_spline",
                                   smoothing=smoothing, degree=1)

    def __call__(self, p: np.ndarray) -> np.ndarray:
        return self.rbf((np.asarray(p, float).reshape(-1, 2) - self.mu) / self.sd)


def poly_mapping(pixel: np.ndarray, world: np.ndarray, order: int) -> Mapping:
    """Two-way polynomial mapping fitted on control points (each direction by least squares)."""
    return Mapping(_Poly(pixel, world, order), _Poly(world, pixel, order))


def tps_mapping(pixel: np.ndarray, world: np.ndarray, smoothing: float = 0.0) -> Mapping:
    """Two-way thin-plate-spline mapping through the control points."""
    return Mapping(_Tps(pixel, world, smoothing), _Tps(world, pixel, smoothing))


def fitter(name: str):  # noqa: ANN201 - returns a class-like callable
    """A fitting function ``(src, dst) -> callable`` for a candidate transform name."""
    if name == "tps":
        return _Tps
    order = int(name[-1])
    return lambda s, d: _Poly(s, d, order)


def min_points_for(name: str) -> int:
    return 3 * _POINTS_PER_TERM if name == "tps" else _TERMS[name] * _POINTS_PER_TERM


# -- choosing the output transform --------------------------------------------------------------
@dataclass(frozen=True)
class TransformChoice:
    """The chosen transform and the cross-validated error (metres) of every candidate tried."""

    name: str
    cv_error: dict[str, float]  # median blocked-CV error per candidate
    cv_errors: np.ndarray        # per-point blocked-CV errors of the chosen transform


def spatial_folds(world: np.ndarray, block: float, k: int = 5, seed: int = 0) -> np.ndarray:
    """Fold number (0..k-1) of each point; points of one ``block``-sized square share a fold."""
    key = np.floor(world / block).astype(np.int64)
    _, inverse = np.unique(key, axis=0, return_inverse=True)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(inverse.max() + 1)
    return perm[inverse.ravel()] % k


def cv_errors(name: str, pixel: np.ndarray, world: np.ndarray, folds: np.ndarray,
              min_points: int | None = None) -> np.ndarray:
    """Per-point error (world units) when each fold is predicted by ``name`` fitted on the others
    (on at least ``min_points`` points, default :func:`min_points_for`)."""
    fit = fitter(name)
    need = min_points_for(name) if min_points is None else min_points
    err = np.full(len(pixel), np.nan)
    for f in np.unique(folds):
        test = folds == f
        train = ~test
        if train.sum() < need or test.sum() == 0:
            continue
        try:
            model = fit(pixel[train], world[train])
        except (np.linalg.LinAlgError, ValueError):
            continue
        err[test] = np.hypot(*(model(pixel[test]) - world[test]).T)
    return err


def choose_transform(pixel: np.ndarray, world: np.ndarray, block: float,
                     candidates: tuple[str, ...] = CANDIDATE_TRANSFORMS,
                     least: dict[str, int] | None = None) -> TransformChoice:
    """The candidate with the lowest median blocked-CV error (ties go to the simpler one).

    ``least``: for precise points (printed grid crossings), the fewest points each candidate needs;
    each point is then its own fold (leave-one-out) instead of a ``block``-sized square's."""
    folds = spatial_folds(world, block) if least is None else np.arange(len(pixel))
    scores: dict[str, float] = {}
    per_point: dict[str, np.ndarray] = {}
    for name in candidates:
        needed = min_points_for(name) * 5 / 4 if least is None else least[name]
        if len(pixel) < needed:
            continue
        e = cv_errors(name, pixel, world, folds, None if least is None else least[name] - 1)
        if np.isfinite(e).sum() < len(e) / 2:
            continue
        scores[name] = float(np.nanmedian(e))
        per_point[name] = e
    if not scores:
        raise ValueError("too few control points for any transform")
    best = min(scores, key=lambda n: (scores[n] * (1.0 + 0.02 * candidates.index(n))))
    return TransformChoice(name=best, cv_error=scores, cv_errors=per_point[best])
