"""Dense matching: the map warped onto the reference grid, then patch-by-patch correlation.

Given a current estimate of the map -> world mapping, the map's road density is resampled onto a
world grid at resolution ``res`` (metres per pixel), both orientation fields are taken there, and
square patches of the warped map are searched for in the reference within ``radius`` pixels
(normalised correlation of the complex fields, OpenCV ``matchTemplate`` on the real and imaginary
parts as two channels). Each patch gives one control-point candidate: the map pixel under the
patch centre <-> the world position where the patch fits best, with the correlation as quality.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from jadis.georef.auto_features import area_resize, blur_field, orientation_field, resize_field
from jadis.georef.auto_search import REF_GRADIENT_RES, MapFields, ReferenceFields

PointFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Mapping:
    """A map pixel <-> world mapping in both directions ((N, 2) arrays in and out)."""

    forward: PointFn   # map pixel (x right, y down) -> world
    backward: PointFn  # world -> map pixel

    @classmethod
    def from_matrix(cls, mat: np.ndarray) -> Mapping:
        inv = np.linalg.inv(mat)

        def fwd(p: np.ndarray) -> np.ndarray:
            return p @ mat[:2, :2].T + mat[:2, 2]

        def bwd(w: np.ndarray) -> np.ndarray:
            return w @ inv[:2, :2].T + inv[:2, 2]

        return cls(fwd, bwd)

    def pixel_size(self, at: np.ndarray) -> float:
        """Metres per map pixel near ``at`` (a map pixel)."""
        at = np.asarray(at, float).reshape(1, 2)
        d = self.forward(np.vstack([at, at + [1.0, 0.0], at + [0.0, 1.0]]))
        a, b = d[1] - d[0], d[2] - d[0]
        return float(np.sqrt(abs(a[0] * b[1] - a[1] * b[0])))


@dataclass(frozen=True)
class PatchMatches:
    """Control-point candidates from one matching pass (arrays of length N)."""

    pixel: np.ndarray    # (N, 2) map pixels
    world: np.ndarray    # (N, 2) matched world positions
    shift: np.ndarray    # (N, 2) world shift found relative to the current mapping (metres)
    quality: np.ndarray  # (N,) peak correlation
    ratio: np.ndarray    # (N,) second peak / first peak (lower = more distinctive)
    res: float           # metres per pixel of the pass


class WorldGrid:
    """A north-up world grid: ``aff`` takes (col, row) pixel corners to world; ``shape`` (rows, cols)."""

    def __init__(self, aff: np.ndarray, shape: tuple[int, int]) -> None:
        self.aff = aff
        self.shape = shape

    def centres(self, step: int = 1) -> np.ndarray:
        """World coordinates of every ``step``-th pixel centre, (rows, cols, 2), up to and including
        the first one at or past the last pixel (so that interpolation between them covers the grid)."""
        rows = np.arange(0, self.shape[0] - 1 + step, step) + 0.5
        cols = np.arange(0, self.shape[1] - 1 + step, step) + 0.5
        cc, rr = np.meshgrid(cols, rows)
        x = self.aff[0, 0] * cc + self.aff[0, 1] * rr + self.aff[0, 2]
        y = self.aff[1, 0] * cc + self.aff[1, 1] * rr + self.aff[1, 2]
        return np.stack([x, y], axis=-1)

    def to_world(self, rc: np.ndarray) -> np.ndarray:
        """(N, 2) (col, row) corner coordinates -> world."""
        return rc @ self.aff[:2, :2].T + self.aff[:2, 2]


def crop_grid(ref_aff: np.ndarray, ref_shape: tuple[int, int], world_pts: np.ndarray, margin: float
              ) -> tuple[WorldGrid, tuple[slice, slice]] | None:
    """The part of a reference level grid covering ``world_pts`` (+ ``margin`` metres)."""
    inv = np.linalg.inv(ref_aff)
    rc = world_pts @ inv[:2, :2].T + inv[:2, 2]
    res = abs(ref_aff[0, 0])
    m = margin / res
    c0 = int(np.floor(max(0, rc[:, 0].min() - m)))
    c1 = int(np.ceil(min(ref_shape[1], rc[:, 0].max() + m)))
    r0 = int(np.floor(max(0, rc[:, 1].min() - m)))
    r1 = int(np.ceil(min(ref_shape[0], rc[:, 1].max() + m)))
    if c1 - c0 < 8 or r1 - r0 < 8:
        return None
    aff = ref_aff @ np.array([[1.0, 0, c0], [0, 1.0, r0], [0, 0, 1.0]])
    return WorldGrid(aff, (r1 - r0, c1 - c0)), (slice(r0, r1), slice(c0, c1))


def warp_map(mapf: MapFields, mapping: Mapping, grid: WorldGrid, sub: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """The map's road density and footprint resampled onto ``grid`` (float32, 0 outside the map).

    The backward mapping is evaluated every ``sub`` pixels and interpolated in between; the
    density is read from the pyramid level whose pixels are closest to (not larger than) the grid's.
    """
    h, w = grid.shape
    coarse = grid.centres(sub)  # samples at fine pixel indices 0, sub, 2 sub, ... (one past the end)
    px = mapping.backward(coarse.reshape(-1, 2)).reshape(coarse.shape)
    mx = _upsample(px[..., 0], sub, h, w)
    my = _upsample(px[..., 1], sub, h, w)
    res = abs(grid.aff[0, 0])
    centre = np.array([[mapf.width / 2, mapf.height / 2]])
    s = mapping.pixel_size(centre[0])
    k = 0
    while k + 1 < len(mapf.levels) and 2 ** (k + 1) * s <= res:
        k += 1
    lev = mapf.levels[k]
    fx = lev.shape[1] / mapf.width
    fy = lev.shape[0] / mapf.height
    dens = cv2.remap(lev, mx * fx - 0.5, my * fy - 0.5, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                     borderValue=0).astype(np.float32) / np.float32(255.0)
    bx = mapf.base_w / mapf.width
    by = mapf.base_h / mapf.height
    foot = cv2.remap(mapf.foot, mx * bx - 0.5, my * by - 0.5, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                     borderValue=0)
    return dens, (foot > 0.5).astype(np.float32)


def level_fields(mapf: MapFields, reff: ReferenceFields, mapping: Mapping, res: float, margin: float
                 ) -> tuple[WorldGrid, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """(grid, map field, map footprint, reference field, reference footprint) at ``res`` m/px,
    on the part of the reference covered by the map."""
    ref_field, ref_foot, ref_aff = reff.level(res)
    corners = np.array([[0, 0], [mapf.width, 0], [mapf.width, mapf.height], [0, mapf.height]], float)
    edge = np.concatenate([corners + t * (np.roll(corners, -1, axis=0) - corners) for t in np.linspace(0, 1, 9)])
    crop = crop_grid(ref_aff, ref_field.shape, mapping.forward(edge), margin)
    if crop is None:
        return None
    grid, (rs, cs) = crop
    gres = min(REF_GRADIENT_RES, res)
    k = max(1, int(round(res / gres)))
    fine = WorldGrid(grid.aff @ np.diag([1.0 / k, 1.0 / k, 1.0]), (grid.shape[0] * k, grid.shape[1] * k))
    dens, foot = warp_map(mapf, mapping, fine)
    field = orientation_field(dens) * foot
    if k > 1:
        field = resize_field(field, grid.shape[1], grid.shape[0])
        foot = (area_resize(foot, grid.shape[1], grid.shape[0]) > 0.5).astype(np.float32)
    field = blur_field(field, 1.0) * foot
    return grid, field, foot, ref_field[rs, cs], ref_foot[rs, cs]


def match_patches(mapf: MapFields, reff: ReferenceFields, mapping: Mapping, res: float, patch: int,
                  step: int, radius: int, min_cover: float = 0.5) -> PatchMatches | None:
    """Match square patches of ``patch`` pixels every ``step`` pixels within ``radius`` pixels."""
    lf = level_fields(mapf, reff, mapping, res, margin=(radius + patch) * res)
    if lf is None:
        return None
    grid, mfield, mfoot, rfield, rfoot = lf
    h, w = mfield.shape
    m2 = np.dstack([mfield.real, mfield.imag]).astype(np.float32)
    r2 = np.dstack([rfield.real, rfield.imag]).astype(np.float32)
    half = patch // 2
    pix, wor, sh, qual, rat = [], [], [], [], []
    cov_m = cv2.integral(mfoot)
    cov_r = cv2.integral(rfoot)

    def cover(ii: np.ndarray, r0: int, c0: int, n: int) -> float:
        return float(ii[r0 + n, c0 + n] - ii[r0, c0 + n] - ii[r0 + n, c0] + ii[r0, c0]) / (n * n)

    for r in range(radius, h - patch - radius + 1, step):
        for c in range(radius, w - patch - radius + 1, step):
            if cover(cov_m, r, c, patch) < min_cover:
                continue
            if cover(cov_r, r - radius, c - radius, patch + 2 * radius) < min_cover:
                continue
            tmpl = m2[r:r + patch, c:c + patch]
            if float(np.abs(tmpl).sum()) == 0.0:
                continue
            win = r2[r - radius:r + patch + radius, c - radius:c + patch + radius]
            surf = cv2.matchTemplate(win, tmpl, cv2.TM_CCORR_NORMED)
            iy, ix = np.unravel_index(int(np.argmax(surf)), surf.shape)
            best = float(surf[iy, ix])
            if not np.isfinite(best) or best <= 0:
                continue
            dy, dx = _subpixel(surf, iy, ix)
            second = _second_peak(surf, iy, ix)
            centre = np.array([[c + half, r + half]], float)  # corner coords of the patch centre
            wc = grid.to_world(centre)
            wm = grid.to_world(centre + [[ix - radius + dx, iy - radius + dy]])
            pix.append(mapping.backward(wc)[0])
            wor.append(wm[0])
            sh.append(wm[0] - wc[0])
            qual.append(best)
            rat.append(second / best)
    if not pix:
        return None
    return PatchMatches(pixel=np.array(pix), world=np.array(wor), shift=np.array(sh), quality=np.array(qual),
                        ratio=np.array(rat), res=res)


def _interp_matrix(n_fine: int, sub: int, n_coarse: int) -> np.ndarray:
    """(n_fine, n_coarse) linear interpolation weights from samples at 0, sub, 2 sub, ..."""
    pos = np.arange(n_fine) / sub
    i0 = np.minimum(np.floor(pos).astype(int), n_coarse - 1)
    i1 = np.minimum(i0 + 1, n_coarse - 1)
    t = pos - i0
    m = np.zeros((n_fine, n_coarse), np.float32)
    m[np.arange(n_fine), i0] += 1 - t
    m[np.arange(n_fine), i1] += t
    return m


def _upsample(coarse: np.ndarray, sub: int, h: int, w: int) -> np.ndarray:
    """Bilinear interpolation of samples taken every ``sub`` pixels to an (h, w) float32 array."""
    rows = _interp_matrix(h, sub, coarse.shape[0])
    cols = _interp_matrix(w, sub, coarse.shape[1])
    return np.ascontiguousarray(rows @ coarse.astype(np.float32) @ cols.T)


def _subpixel(surf: np.ndarray, iy: int, ix: int) -> tuple[float, float]:
    """Parabolic sub-pixel offset of a peak (0 at the border)."""
    def off(a: float, b: float, c: float) -> float:
        den = a - 2 * b + c
        return 0.0 if den >= 0 else float(np.clip(0.5 * (a - c) / den, -0.5, 0.5))

    h, w = surf.shape
    dy = off(surf[iy - 1, ix], surf[iy, ix], surf[iy + 1, ix]) if 0 < iy < h - 1 else 0.0
    dx = off(surf[iy, ix - 1], surf[iy, ix], surf[iy, ix + 1]) if 0 < ix < w - 1 else 0.0
    return dy, dx


def _second_peak(surf: np.ndarray, iy: int, ix: int, ex: int = 2) -> float:
    """Highest local maximum of ``surf`` farther than ``ex`` pixels from (iy, ix) (0 if none)."""
    dil = cv2.dilate(surf, np.ones((3, 3), np.uint8))
    peaks = (surf >= dil)
    peaks[max(0, iy - ex):iy + ex + 1, max(0, ix - ex):ix + ex + 1] = False
    vals = surf[peaks]
    return float(vals.max()) if vals.size else 0.0
