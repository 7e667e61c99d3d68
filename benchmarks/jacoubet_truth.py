"""Georeferencing truth of the Jacoubet 1836 low-res sheets, measured on the scans themselves.

The sheets print the Verniquet grid, a thin straight line every 250 m (VERNIQUET-m). The 2023
hand-corrected GCPs (``hd_gcps``, made on the absent HD scans) list its crossings; here each crossing
is **located in the low-res image** (``../shared/data/scans/jacoubet_1836_lowres``, not shippable;
nothing measured is written to the repository):

1. a thin-dark-line response (darker than the pixels 3 px away on both sides, across the line);
2. each grid line (a world X or Y) is searched over its whole length near where the old transfer
   (:func:`benchmarks.georef_jacoubet.hd_check`, off by up to ~80 px) puts it (+-130 px, +-0.7 deg);
   a similarity from the HD pixels to the crossings of these lines is fitted by RANSAC over pairs
   (4 px), which predicts every crossing to ~1-2 px;
3. at each crossing both lines are searched on +-250 px (+-12 px, +-0.6 deg around the prediction),
   refined on +-120 px (per-row / per-column centroid of the line, robust straight fit) and
   intersected. A crossing is dropped when one of its lines is seen on < 40 % of that stretch (hidden
   by buildings or text, or too pale), or when it lands > 5 px from the prediction.

The sheets are cut on grid lines: the outer crossings lie on the sheet's frame, where each line runs
on one side only. Measured crossings fit a polynomial-2 to ~0.5-0.8 m RMSE (a bent corner ~1.3 m).

``.venv/bin/python -m benchmarks.jacoubet_truth`` prints, per sheet, the crossings measured, the
residuals of affine / polynomial-2 fits, the fitted scale and anisotropy, and how far the old truth
(the transfer through the corner grid) is from the measured crossings.
"""

from __future__ import annotations

import csv
import sys
import time
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

from jadis.georef.gcps import GcpSet

SPAN_PX = 3           # the line response compares a pixel with those SPAN_PX across the line
CLIP = 40.0           # line response cap (grey levels), so that dense ink does not dominate a score
LOCAL_PX = 120        # half-length of the stretch of each line used to refine a crossing
GAP_PX = 7            # rows / columns skipped around the crossing itself (the other line)
MIN_SEEN = 0.4        # fraction of that stretch where the line must be seen
SEEN_LEVEL = 10.0     # line response (grey levels) counted as "seen"
SEARCH_PX = 250      # half-length of the stretch of each line first searched near a crossing
MAX_OFF_PX = 5.0      # a crossing further than this from the HD similarity's prediction: dropped


@dataclass
class _Line:
    """A line ``u = a + b * (v - vc)`` (u across the line, v along it), its score and its range."""

    a: float
    b: float
    vc: float
    score: float

    def at(self, v: np.ndarray | float) -> np.ndarray | float:
        return self.a + self.b * (np.asarray(v, float) - self.vc)


def _response(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Thin dark line responses (vertical lines, horizontal lines): how much darker a pixel is than
    both its neighbours SPAN_PX away across the line (0 for edges, which are dark on one side only)."""
    g = ndi.gaussian_filter(gray, 0.7)
    p = np.pad(g, SPAN_PX, mode="edge")
    s, h, w = SPAN_PX, g.shape[0], g.shape[1]
    vert = np.minimum(p[s:s + h, :w], p[s:s + h, 2 * s:2 * s + w]) - g
    horiz = np.minimum(p[:h, s:s + w], p[2 * s:2 * s + h, s:s + w]) - g
    return np.clip(vert, 0, CLIP).astype(np.float32), np.clip(horiz, 0, CLIP).astype(np.float32)


def _search(resp: np.ndarray, a0: float, b0: float, vc: float, v0: float, v1: float, da: float,
            db: float, step_b: float = 0.0005) -> _Line:
    """Best straight line near ``u = a0 + b0 (v - vc)`` over v in [v0, v1] (resp indexed [v, u]):
    the highest mean response, offsets +-da px, slopes +-db."""
    n_v, n_u = resp.shape
    v = np.arange(max(0, int(v0)), min(n_v, int(v1) + 1))
    offs = np.arange(-da, da + 1)
    best = _Line(a0, b0, vc, -1.0)
    for b in b0 + np.arange(-db, db + step_b / 2, step_b):
        u = np.rint(a0 + offs[:, None] + b * (v[None, :] - vc)).astype(int)
        ok = (u >= 0) & (u < n_u)
        vals = np.where(ok, resp[v[None, :], np.clip(u, 0, n_u - 1)], 0.0)
        score = vals.sum(1) / max(len(v), 1)
        i = int(np.argmax(score))
        if score[i] > best.score:
            best = _Line(float(a0 + offs[i]), float(b), vc, float(score[i]))
    return best


def _refine(resp: np.ndarray, line: _Line, vc: float, half: int = LOCAL_PX) -> tuple[_Line, float] | None:
    """The line near ``vc`` fitted to the per-row centroids of the response within 2 px of ``line``
    (robust straight fit), and the fraction of the stretch where it is seen; None when unseen."""
    n_v, n_u = resp.shape
    v = np.arange(int(vc) - half, int(vc) + half + 1)
    v = v[(v >= 0) & (v < n_v) & (np.abs(v - vc) >= GAP_PX)]
    if len(v) < half:
        return None
    local = _search(resp, line.at(vc), line.b, vc, v[0], v[-1], 3, 0.01)
    u0 = np.rint(local.at(v)).astype(int)
    k = np.arange(-2, 3)
    uu = u0[:, None] + k[None, :]
    if uu.min() < 0 or uu.max() >= n_u:
        return None
    w = resp[v[:, None], uu].astype(float)
    peak = w.max(1)
    seen = peak >= SEEN_LEVEL
    if seen.mean() < MIN_SEEN:
        return None
    w = np.where(w >= 0.5 * peak[:, None], w, 0.0)
    cu = u0[seen] + (w[seen] * k).sum(1) / w[seen].sum(1)
    vv = v[seen].astype(float)
    keep = np.ones(len(vv), bool)
    for _ in range(3):
        coef = np.polyfit(vv[keep] - vc, cu[keep], 1)
        r = cu - np.polyval(coef, vv - vc)
        keep = np.abs(r) <= max(1.0, 2.5 * float(np.std(r[keep])))
    return _Line(float(coef[1]), float(coef[0]), vc, local.score), float(keep.sum() / len(v))


def _intersect(vl: _Line, hl: _Line) -> np.ndarray:
    """Intersection of a vertical line x = f(y) and a horizontal line y = g(x)."""
    y = hl.at(vl.at(hl.vc))
    for _ in range(5):
        x = vl.at(y)
        y = hl.at(x)
    return np.array([float(vl.at(y)), float(y)])


def _similarity(src: np.ndarray, dst: np.ndarray) -> tuple[complex, complex]:
    """Least-squares similarity dst = m src + t (points as complex numbers)."""
    zs, zd = src[:, 0] + 1j * src[:, 1], dst[:, 0] + 1j * dst[:, 1]
    a = np.stack([zs, np.ones_like(zs)], 1)
    (m, t), *_ = np.linalg.lstsq(a, zd, rcond=None)
    return complex(m), complex(t)


def _apply(sim: tuple[complex, complex], pts: np.ndarray) -> np.ndarray:
    z = sim[0] * (pts[:, 0] + 1j * pts[:, 1]) + sim[1]
    return np.stack([z.real, z.imag], 1)


def _grid_lines(resp_v: np.ndarray, resp_h: np.ndarray, world: np.ndarray, pred: np.ndarray,
                da: float, db: float) -> tuple[dict[float, _Line], dict[float, _Line]]:
    """Each grid line (by world X, then world Y) searched along its whole length near the predicted
    crossings ``pred``."""
    h, w = resp_v.shape
    out: tuple[dict[float, _Line], dict[float, _Line]] = ({}, {})
    for axis, resp, lines in ((0, resp_v, out[0]), (1, resp_h.T, out[1])):
        along, across = (1, 0) if axis == 0 else (0, 1)
        spacing = float(np.median(np.abs(np.diff(np.sort(np.unique(pred[:, along]))))) or 700)
        for value in np.unique(world[:, axis]):
            p = pred[world[:, axis] == value]
            if len(p) < 2:
                continue
            b0, a0 = np.polyfit(p[:, along], p[:, across], 1)
            vc = float(np.mean(p[:, along]))
            v0 = max(0.0, p[:, along].min() - 0.4 * spacing)
            v1 = min((h if axis == 0 else w) - 1.0, p[:, along].max() + 0.4 * spacing)
            lines[float(value)] = _search(resp, a0 + b0 * vc, b0, vc, v0, v1, da, db)
    return out


def _crossings(lines: tuple[dict[float, _Line], dict[float, _Line]], world: np.ndarray) -> np.ndarray:
    """Intersections of the whole grid lines at the world crossings (NaN where a line is missing)."""
    out = np.full((len(world), 2), np.nan)
    for i, (x, y) in enumerate(world):
        if x in lines[0] and y in lines[1]:
            out[i] = _intersect(lines[0][x], lines[1][y])
    return out


def measure_sheet(sheet_image: Path, hd_points_file: Path) -> dict:
    """The crossings of one sheet: world, HD pixels, old transferred pixels, measured low-res pixels
    (NaN where dropped), whether each lies inside the image, and the whole-line scores."""
    from PIL import Image

    from benchmarks.georef_jacoubet import hd_check
    from jadis.georef.formats import read_gcps
    from jadis.georef.georeference import Georeference

    base = sheet_image.parent
    with Image.open(sheet_image) as im:
        gray = np.asarray(im.convert("L"), dtype=np.float32)
    h, w = gray.shape
    grid = read_gcps(base / "lowres_gcps" / f"{sheet_image.name}.points", crs="VERNIQUET-m")
    g = Georeference(grid, "polynomial1", image_size=(w, h)).validate()
    old = hd_check(g, hd_points_file)[3]
    hd = read_gcps(hd_points_file, crs="VERNIQUET-m").active()
    world, hd_px, old_px = np.asarray(hd.world), np.asarray(hd.pixel), np.asarray(old.pixel)
    resp_v, resp_h = _response(gray)

    # pass 1: wide search of the whole lines around the old transfer; similarity from the HD pixels
    lines = _grid_lines(resp_v, resp_h, world, old_px, 130, 0.012)
    first = _crossings(lines, world)
    ok = np.flatnonzero(np.isfinite(first).all(1))
    best = np.zeros(len(world), bool)
    for i, j in combinations(ok, 2):  # RANSAC over every pair: some whole lines may be wrong
        sim = _similarity(hd_px[[i, j]], first[[i, j]])
        r = np.full(len(world), np.inf)
        r[ok] = np.hypot(*(_apply(sim, hd_px[ok]) - first[ok]).T)
        if (r <= 4.0).sum() > best.sum():
            best = r <= 4.0
    sim = _similarity(hd_px[best], first[best])
    pred = _apply(sim, hd_px)

    # pass 2: at each crossing, both lines searched near the prediction, refined, intersected
    inside = (pred[:, 0] > 10) & (pred[:, 1] > 10) & (pred[:, 0] < w - 10) & (pred[:, 1] < h - 10)
    measured = np.full((len(world), 2), np.nan)
    seen = np.zeros((len(world), 2))
    slope = [{v: np.polyfit(pred[world[:, ax] == v, 1 - ax], pred[world[:, ax] == v, ax], 1)[0]
              if (world[:, ax] == v).sum() > 1 else 0.0 for v in np.unique(world[:, ax])} for ax in (0, 1)]
    for i, (x, y) in enumerate(world):
        if not inside[i]:
            continue
        cx, cy = pred[i]
        found = []
        for resp, along, across, b in ((resp_v, cy, cx, slope[0][x]), (resp_h.T, cx, cy, slope[1][y])):
            start = _search(resp, across, b, along, along - SEARCH_PX, along + SEARCH_PX, 12, 0.01)
            found.append(_refine(resp, start, along))
        seen[i] = [0.0 if f is None else f[1] for f in found]
        if found[0] is not None and found[1] is not None:
            measured[i] = _intersect(found[0][0], found[1][0])
    # consistency: a crossing further than MAX_OFF_PX from the HD similarity's prediction is dropped
    # (that similarity agrees with the crossings to ~1-2 px; a bigger gap means a wrong line)
    outlier = np.isfinite(measured).all(1) & (np.hypot(*(measured - pred).T) > MAX_OFF_PX)
    raw = measured.copy()
    measured[outlier] = np.nan
    return {"world": world, "hd_px": hd_px, "old_px": old_px, "pred_px": pred, "whole_px": first,
            "px": measured, "inside": inside, "seen": seen, "size": (w, h), "outlier": outlier, "raw_px": raw,
            "line_scores": {k: round(v.score, 1) for d in lines for k, v in d.items()}}


def measured_crossings(sheet_image: Path, hd_points_file: Path) -> GcpSet:
    """The Verniquet grid crossings measured on a Jacoubet low-res scan: low-res pixels <-> VERNIQUET-m
    (the crossings listed by the hand-corrected HD GCP file, hidden ones left out; the corner-grid
    ``lowres_gcps/<scan name>.points`` next to the scan gives the starting guess). Deterministic."""
    m = measure_sheet(sheet_image, hd_points_file)
    ok = np.isfinite(m["px"]).all(1)
    return GcpSet(m["px"][ok], m["world"][ok], "VERNIQUET-m")


def _design(p: np.ndarray, order: int) -> np.ndarray:
    """Polynomial design matrix (order 1 or 2) of centred points, in thousands."""
    x, y = (p - p.mean(0)).T / 1000.0
    cols = [np.ones_like(x), x, y] + ([x * x, x * y, y * y] if order == 2 else [])
    return np.stack(cols, 1)


def _fit_stats(px: np.ndarray, world: np.ndarray) -> dict:
    """Residuals (RMSE, max m) of affine and polynomial-2 fits pixel -> world; affine scale (m/px)
    and anisotropy (ratio of its singular values - 1)."""
    out = {}
    for order in (1, 2):
        a = _design(px, order)
        coef, *_ = np.linalg.lstsq(a, world, rcond=None)
        res = np.hypot(*(a @ coef - world).T)
        out[order] = (float(np.sqrt(np.mean(res ** 2))), float(res.max()))
        if order == 1:
            sv = np.linalg.svd(coef[1:3] / 1000.0, compute_uv=False)
            out["scale"], out["aniso"] = float(np.sqrt(sv[0] * sv[1])), float(sv[0] / sv[1] - 1)
    return out


def sheets(shared: Path) -> list[tuple[str, Path, Path]]:
    """(sheet number, low-res scan, its hand-corrected HD GCP file) of each Jacoubet sheet."""
    base = shared / "scans" / "jacoubet_1836_lowres"
    with (base / "hd_gcps_index.csv").open(encoding="utf-8") as f:
        hd_index = {row["sheet"]: shared / row["hd_gcps_path"] for row in csv.DictReader(f)}
    out = []
    for img in sorted(base.glob("*.jpg")):
        sheet = img.name.split("_-_")[1].split(".")[0]
        out.append((sheet, img, hd_index[sheet]))
    return out


def grid_values_table(shared: Path) -> None:
    """What :func:`jadis.georef.grid_labels.read_grid_candidates` reads off each sheet alone, against
    the measured crossings: the world values it gives them, and how far its crossings lie from them."""
    from jadis.georef.grid import read_scan
    from jadis.georef.grid_labels import read_grid_candidates
    from jadis.ocr.ctc import CtcRecogniser

    recogniser = CtcRecogniser(threads=2)
    print("| sheet | grid lines (V, H) | lines whose value agrees (V, H) | readings | crossings read | "
          "with the measured crossing's world value / listed | pixel distance median / max | s |")
    print("|---|---|---|---|---|---|---|---|")
    for sheet, img, hd_file in sheets(shared):
        t = time.perf_counter()
        rgb, dark = read_scan(img)
        found = read_grid_candidates(rgb, dark, recogniser)
        seconds = time.perf_counter() - t
        if not found:
            print(f"| {sheet} | – | – | none | – | – | – | {seconds:.1f} |")
            continue
        truth = measured_crossings(img, hd_file)
        at = {tuple(w): p for w, p in zip(truth.world, truth.pixel, strict=True)}
        r = found[0]
        d = [float(np.hypot(*(p - at[tuple(w)]))) for w, p in zip(r.world, r.pixel, strict=True) if tuple(w) in at]
        kind = "decisive" if r.decisive else f"{len(found)}, for the streets to settle"
        dist = f"{np.median(d):.1f} / {max(d):.1f} px" if d else "–"
        print(f"| {sheet} | {r.lines[0]}, {r.lines[1]} | {r.agree[0]}, {r.agree[1]} | {kind} | {len(r.pixel)} | "
              f"{len(d)} / {len(truth.pixel)} | {dist} | {seconds:.1f} |")


def main(argv: list[str] | None = None) -> int:
    import argparse

    from jadis.georef.georeference import Georeference
    from jadis.paths import shared_data_dir

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid-values", action="store_true",
                    help="also: the grid values read off each sheet alone (jadis.georef.grid_labels) against this truth")
    args = ap.parse_args(argv)
    shared = shared_data_dir()
    if shared is None:
        print("needs ../shared/data")
        return 1
    print("| sheet | crossings measured / in image (listed) | affine RMSE / max m | poly2 RMSE / max m | "
          "scale m/px | anisotropy % | old scale m/px, aniso % | old truth vs measured: median / max m |")
    print("|---|---|---|---|---|---|---|---|")
    for sheet, img, hd_file in sheets(shared):
        m = measure_sheet(img, hd_file)
        ok = np.isfinite(m["px"]).all(1)
        px, world = m["px"][ok], m["world"][ok]
        new = _fit_stats(px, world)
        old = _fit_stats(m["old_px"], m["world"])
        old_truth = Georeference(GcpSet(m["old_px"], m["world"], "VERNIQUET-m"), "polynomial2",
                                 image_size=m["size"]).validate()
        d = np.hypot(*(old_truth.pixel_to_world(px) - world).T)
        print(f"| {sheet} | {ok.sum()} / {m['inside'].sum()} ({len(ok)}) | {new[1][0]:.2f} / {new[1][1]:.2f} | "
              f"{new[2][0]:.2f} / {new[2][1]:.2f} | {new['scale']:.4f} | {100 * new['aniso']:.2f} | "
              f"{old['scale']:.4f}, {100 * old['aniso']:.2f} | {np.median(d):.1f} / {d.max():.1f} |")
    if args.grid_values:
        print()
        grid_values_table(shared)
    return 0


if __name__ == "__main__":
    sys.exit(main())
