"""How well a georeference fits: residuals, RMSE, leave-one-out errors, outlier flags.

Definitions (all computed on the pixel -> world fit, for every GCP, enabled or not):

* **residual** of GCP i: ``f(p_i) - w_i`` where f is fitted on the enabled GCPs. In world units,
  in ground **metres** (geodesic distance, so toises / Web Mercator / degrees are all handled),
  and in **pixels** (the world residual taken back through the local inverse Jacobian of f).
  A disabled GCP is not used by the fit, so its residual is an independent check error.
* **RMSE** = ``sqrt(sum |r_i|^2 / n)`` over the n enabled GCPs (the plain root mean square).
  **RMSE (QGIS)** = ``sqrt(sum |r_i|^2 / (n - m))`` with m the transform's minimum number of
  points, the convention of QGIS's georeferencer "mean error" (undefined when n = m).
* **leave-one-out (LOO) error** of an enabled GCP i: ``f_{-i}(p_i) - w_i`` with ``f_{-i}`` fitted
  without GCP i: how far the point would be predicted if it had not been given. It is the honest
  accuracy figure, the only one meaningful for a thin-plate spline (whose residuals are 0).
  For a disabled GCP it equals its residual. ``loo_rmse`` is the RMS over enabled GCPs.
* **outlier**: an enabled GCP whose LOO error is more than 3x the median LOO error *and* more
  than median + 3 robust standard deviations (1.4826 MAD) of the LOO errors, and more than
  ``MIN_OUTLIER_PX`` (2 px) in the scan; needs n >= m + 3.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

from jadis.errors import JadisError
from jadis.georef.crs import crs_name, ground_distance
from jadis.georef.georeference import _FLIP, Georeference
from jadis.georef.transforms import Polynomial, ThinPlateSpline

#: An outlier's leave-one-out error must also exceed this many pixels (sub-pixel noise is no outlier).
MIN_OUTLIER_PX = 2.0


@dataclass(frozen=True)
class FitReport:
    """Per-GCP errors (arrays of length N = all GCPs) and summary figures."""

    transform: str
    crs: str
    n_enabled: int
    min_points: int
    enabled: np.ndarray
    ids: tuple[str, ...]
    residual_world: np.ndarray  # (N, 2) world units
    residual_pxy: np.ndarray    # (N, 2) pixels (x right, y down)
    residual_m: np.ndarray      # (N,) metres
    residual_px: np.ndarray     # (N,) pixels
    loo_m: np.ndarray           # (N,) metres (NaN if it cannot be computed)
    loo_px: np.ndarray          # (N,) pixels
    outlier: np.ndarray         # (N,) bool

    def _rms(self, values: np.ndarray, denom: int | None = None) -> float:
        v = values[self.enabled]
        v = v[np.isfinite(v)]
        if len(v) == 0:
            return float("nan")
        d = len(v) if denom is None else denom
        return float(np.sqrt(np.sum(v**2) / d)) if d > 0 else float("nan")

    @property
    def rmse_m(self) -> float:
        return self._rms(self.residual_m)

    @property
    def rmse_px(self) -> float:
        return self._rms(self.residual_px)

    @property
    def rmse_qgis_m(self) -> float:
        return self._rms(self.residual_m, self.n_enabled - self.min_points)

    @property
    def rmse_qgis_px(self) -> float:
        return self._rms(self.residual_px, self.n_enabled - self.min_points)

    @property
    def loo_rmse_m(self) -> float:
        return self._rms(self.loo_m)

    @property
    def loo_rmse_px(self) -> float:
        return self._rms(self.loo_px)

    @property
    def loo_median_m(self) -> float:
        v = self.loo_m[self.enabled]
        v = v[np.isfinite(v)]
        return float(np.median(v)) if len(v) else float("nan")

    @property
    def max_residual_m(self) -> float:
        v = self.residual_m[self.enabled]
        return float(v.max()) if len(v) else float("nan")

    def summary(self) -> dict:
        """The summary figures as a JSON-friendly dict (NaN -> None)."""
        def num(x: float) -> float | None:
            return None if not np.isfinite(x) else round(float(x), 4)

        return {
            "transform": self.transform, "crs": self.crs, "gcps": int(len(self.enabled)),
            "enabled": self.n_enabled, "min_points": self.min_points,
            "rmse_m": num(self.rmse_m), "rmse_px": num(self.rmse_px),
            "rmse_qgis_m": num(self.rmse_qgis_m), "rmse_qgis_px": num(self.rmse_qgis_px),
            "loo_rmse_m": num(self.loo_rmse_m), "loo_rmse_px": num(self.loo_rmse_px),
            "loo_median_m": num(self.loo_median_m), "max_residual_m": num(self.max_residual_m),
            "outliers": [self.ids[i] for i in np.flatnonzero(self.outlier)],
            "rmse_convention": "sqrt(sum r^2 / n) over enabled GCPs; rmse_qgis: / (n - min_points)",
        }

    def rows(self) -> list[dict]:
        """One dict per GCP (for tables and JSON)."""
        out = []
        for i in range(len(self.enabled)):
            out.append({
                "id": self.ids[i], "enabled": bool(self.enabled[i]),
                "dx": float(self.residual_world[i, 0]), "dy": float(self.residual_world[i, 1]),
                "residual_m": float(self.residual_m[i]), "residual_px": float(self.residual_px[i]),
                "loo_m": float(self.loo_m[i]), "loo_px": float(self.loo_px[i]),
                "outlier": bool(self.outlier[i]),
            })
        return out


def fit_report(georef: Georeference) -> FitReport:
    """Compute residuals, LOO errors and outlier flags of ``georef`` (see the module docstring)."""
    gcps = georef.gcps
    n = len(gcps)
    fwd = georef.forward
    pred = georef.pixel_to_world(gcps.pixel)
    res_world = pred - gcps.world
    res_m = ground_distance(pred, gcps.world, gcps.crs)
    jac = georef.jacobian(gcps.pixel)
    res_pxy = _world_to_pixel(jac, res_world)
    res_px = np.hypot(res_pxy[:, 0], res_pxy[:, 1])

    loo_world = np.full((n, 2), np.nan)
    act_idx = np.flatnonzero(gcps.enabled)
    cls = georef.transform_cls
    if len(act_idx) - 1 >= cls.min_points:
        src = gcps.pixel[act_idx] * _FLIP
        dst = gcps.world[act_idx]
        if cls is ThinPlateSpline:
            loo_world[act_idx] = _tps_loo(fwd, dst)
        elif isinstance(fwd, Polynomial):
            loo_world[act_idx] = _polynomial_loo(fwd, src, dst)
        else:
            for k, i in enumerate(act_idx):
                keep = np.arange(len(act_idx)) != k
                try:
                    t = cls.fit(src[keep], dst[keep])
                except JadisError:
                    continue  # removing this point leaves a degenerate set
                loo_world[i] = t(src[k:k + 1])[0] - dst[k]
    inactive = ~gcps.enabled
    loo_world[inactive] = res_world[inactive]
    finite = np.all(np.isfinite(loo_world), axis=1)
    loo_m = np.full(n, np.nan)
    if finite.any():
        loo_m[finite] = ground_distance(gcps.world[finite] + loo_world[finite], gcps.world[finite], gcps.crs)
    loo_pxy = _world_to_pixel(jac, loo_world)
    loo_px = np.hypot(loo_pxy[:, 0], loo_pxy[:, 1])

    outlier = np.zeros(n, dtype=bool)
    v = loo_m[act_idx]
    ok = np.isfinite(v)
    if len(act_idx) >= cls.min_points + 3 and ok.sum() >= 3:
        med = float(np.median(v[ok]))
        mad = 1.4826 * float(np.median(np.abs(v[ok] - med)))
        vpx = loo_px[act_idx]
        flag = ok & (v > 3 * med) & (v > med + 3 * mad) & (vpx > MIN_OUTLIER_PX)
        outlier[act_idx[flag]] = True

    ids = tuple(gcps.ids[i] if gcps.ids and gcps.ids[i] else str(i + 1) for i in range(n))
    return FitReport(
        transform=georef.transform, crs=crs_name(gcps.crs) if len(crs_name(gcps.crs)) < 80 else gcps.crs.name,
        n_enabled=gcps.n_enabled, min_points=cls.min_points, enabled=gcps.enabled.copy(), ids=ids,
        residual_world=res_world, residual_pxy=res_pxy, residual_m=res_m, residual_px=res_px, loo_m=loo_m, loo_px=loo_px,
        outlier=outlier,
    )


def _world_to_pixel(jac: np.ndarray, vec: np.ndarray) -> np.ndarray:
    """(N, 2) world vectors -> pixel vectors (x right, y down), through the local inverse Jacobian."""
    out = np.full((len(vec), 2), np.nan)
    for i in range(len(vec)):
        if not np.all(np.isfinite(vec[i])):
            continue
        try:
            out[i] = np.linalg.solve(jac[i], vec[i])
        except np.linalg.LinAlgError:
            continue
    return out


def _polynomial_loo(poly: Polynomial, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Leave-one-out errors of a least-squares polynomial in closed form (the hat matrix).

    For a linear least-squares fit the LOO residual is ``r_i / (1 - h_ii)`` with ``h_ii`` the
    leverage of point i; a leverage of 1 (the point alone determines a coefficient) gives NaN.
    """
    from jadis.georef.transforms.polynomial import _design

    a = _design(poly._norm(src), poly._terms)
    q, _ = np.linalg.qr(a)
    h = np.sum(q**2, axis=1)
    res = poly(src) - dst
    with np.errstate(divide="ignore", invalid="ignore"):
        out = res / (1.0 - h)[:, None]
    out[h > 1 - 1e-9] = np.nan
    return out


def _tps_loo(tps: ThinPlateSpline, dst: np.ndarray) -> np.ndarray:
    """Leave-one-out errors of a thin-plate spline in closed form (Rippa 1999).

    For the interpolation system ``M c = [y; 0]`` the LOO error at node i is
    ``y_i - s_{-i}(x_i) = c_i / (M^-1)_ii``; one matrix inverse instead of N refits.
    """
    n = len(tps.weights)
    nodes = tps._nodes
    d2 = np.sum((nodes[:, None, :] - nodes[None, :, :]) ** 2, axis=2)
    from jadis.georef.transforms.tps import _kernel

    p = np.column_stack([np.ones(n), nodes])
    m = np.zeros((n + 3, n + 3))
    m[:n, :n] = _kernel(d2)
    m[:n, n:] = p
    m[n:, :n] = p.T
    try:
        minv = scipy.linalg.inv(m)
    except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
        return np.full((n, 2), np.nan)
    diag = np.diag(minv)[:n]
    with np.errstate(divide="ignore", invalid="ignore"):
        err = tps.weights / diag[:, None]  # y_i - s_{-i}(x_i)
    return -err  # prediction minus observation, like the other LOO errors


def compare_transforms(georef: Georeference, names: tuple[str, ...] | None = None) -> list[tuple[str, FitReport | None]]:
    """Fit report of ``georef``'s GCPs under each transform type (None where it cannot be fitted)."""
    from jadis.georef.transforms import TRANSFORMS

    out: list[tuple[str, FitReport | None]] = []
    for name in names or tuple(TRANSFORMS):
        try:
            out.append((name, fit_report(georef.with_transform(name).validate())))
        except JadisError:
            out.append((name, None))
    return out


def best_transform(georef: Georeference, names: tuple[str, ...] | None = None) -> tuple[str, list]:
    """The transform with the lowest leave-one-out RMSE (metres) on ``georef``'s GCPs.

    Ties within 1 % go to the transform with fewer parameters (the order of ``TRANSFORMS``).
    Raises :class:`JadisError` when no transform has a leave-one-out figure (too few GCPs).
    """
    reports = compare_transforms(georef, names)
    scored = [(rep.loo_rmse_m, k, name) for k, (name, rep) in enumerate(reports)
              if rep is not None and np.isfinite(rep.loo_rmse_m)]
    if not scored:
        raise JadisError("cannot choose a transform: no transform has a leave-one-out error with these GCPs "
                         "(too few points); give --transform")
    lowest = min(s[0] for s in scored)
    name = min((k, n) for loo, k, n in scored if loo <= lowest * 1.01 + 1e-9)[1]
    return name, reports
