"""Global pose search: rotation x scale grid, translation by FFT correlation of orientation fields.

For every rotation (full circle) and scale of a geometric grid, the map's orientation field is
turned and resized to the reference's resolution and correlated with the reference field for all
translations at once (FFT). Each correlation surface is scored by its **peak-to-sidelobe ratio**
(PSR: the peak's height above the mean of the surface, in standard deviations of the surface):
a true match is a sharp, isolated peak, while a wrong scale or rotation gives a flat surface.
Unlike raw or normalised correlation, the PSR is comparable across scales (large templates do not
win by covering more area, small ones do not win by chance) — on the benchmark maps the raw
z-score picked a wrong scale for most maps, the PSR for none.

The best poses (after non-maximum suppression) are refined on finer grids (:func:`refine_pose`).
Poses are 3x3 matrices taking map pixels (x right, y down, pixel corners at integers) to world
coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import fft as sfft

from jadis.georef.auto_features import (
    area_resize,
    blur_field,
    footprint,
    orientation_field,
    resize_field,
    rotate_values,
)
from jadis.georef.auto_inputs import MapRoads, ReferenceRoads

#: Resolution (metres per pixel) at which orientation gradients are taken on the reference.
REF_GRADIENT_RES = 5.0
#: Long side (pixels) of the map level on which its orientation gradients are taken.
MAP_GRADIENT_SIDE = 2000
#: Width of the rim of the map's footprint left out of matching, as a fraction of its long side.
MAP_RIM = 0.015
#: Blur (pixels of the search level) of both fields before correlation.
FIELD_BLUR = 1.0
#: A translation is considered only if the two footprints overlap by this fraction of the smaller.
MIN_OVERLAP = 0.25
#: Half size (pixels) of the window around a peak left out of the side-lobe statistics.
PSR_EXCLUDE = 3
#: Threads of the search's FFTs (-1: one per CPU; the batches of templates parallelise well).
FFT_WORKERS = -1
#: Surroundings of a refined pose's window correlated for the side-lobe statistics, in template lengths.
LOCAL_CONTEXT = 1.0
#: Radius of the reference footprint closing, in metres (gaps between streets are smaller).
REF_FOOTPRINT_RADIUS_M = 400.0
#: Finest resolution (m/px) at which the reference footprint is computed; finer levels resample it.
REF_FOOTPRINT_RES = 10.0


@dataclass(frozen=True)
class Candidate:
    """A similarity pose found by the search, with its score at the level it was scored on."""

    pose: np.ndarray  # 3x3: map pixel (x, y, 1) -> world (X, Y, 1)
    theta: float      # rotation of the map (degrees, cv2 convention)
    extent: float     # world length of the map's long side (metres)
    score: float      # PSR
    resolution: float  # metres per pixel of the level it was scored on


# -- fields at a given resolution ---------------------------------------------------------------
class ReferenceFields:
    """The reference orientation field and footprint at any resolution (cached)."""

    def __init__(self, ref: ReferenceRoads) -> None:
        self.ref = ref
        k = max(1, int(round(REF_GRADIENT_RES / ref.resolution)))
        h, w = ref.roads.shape
        self.base_w, self.base_h = max(1, w // k), max(1, h // k)
        dens = area_resize(ref.roads, self.base_w, self.base_h)
        self.base_res = ref.resolution * w / self.base_w
        valid = area_resize(ref.valid.astype(np.uint8), self.base_w, self.base_h) > 0.5
        self.base_density = dens * valid
        self.base_valid = valid
        self.base_field = orientation_field(self.base_density) * valid
        self._cache: dict[float, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def level(self, res: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(field, footprint, affine 3x3 index-corner -> world) at ``res`` metres per pixel."""
        key = round(float(res), 6)
        if key not in self._cache:
            h, w = self.ref.roads.shape
            width = max(2, int(round(w * self.ref.resolution / res)))
            height = max(2, int(round(h * self.ref.resolution / res)))
            if res >= 0.999 * self.base_res:
                field = resize_field(self.base_field, width, height)
                dens = area_resize(self.base_density, width, height)
            else:  # finer than the gradient level: gradients at this resolution
                dens = area_resize(self.ref.roads, width, height)
                field = orientation_field(dens)
            field = blur_field(field, FIELD_BLUR)
            valid = area_resize(self.base_valid.astype(np.float32), width, height) > 0.5
            if res >= REF_FOOTPRINT_RES:
                foot = footprint(dens, REF_FOOTPRINT_RADIUS_M / res) * valid
            else:  # a smooth outline: closed at a coarser level (a 400 m kernel at 2 m/px costs minutes)
                foot = (area_resize(self.level(REF_FOOTPRINT_RES)[1], width, height) > 0.5) * valid
            t = self.ref.transform
            # pixel-corner coordinates of this level -> world
            sx, sy = w / width, h / height
            aff = np.array([[t.a * sx, t.b * sy, t.c], [t.d * sx, t.e * sy, t.f], [0, 0, 1]], dtype=float)
            self._cache[key] = (field * foot, foot.astype(np.float32), aff)
        return self._cache[key]

    def density(self, res: float) -> tuple[np.ndarray, np.ndarray]:
        """(road density, affine corner -> world) at ``res`` metres per pixel (not cached)."""
        h, w = self.ref.roads.shape
        width = max(2, int(round(w * self.ref.resolution / res)))
        height = max(2, int(round(h * self.ref.resolution / res)))
        src = self.ref.roads if res < self.base_res else self.base_density
        dens = area_resize(src, width, height)
        t = self.ref.transform
        sx, sy = w / width, h / height
        return dens, np.array([[t.a * sx, t.b * sy, t.c], [t.d * sx, t.e * sy, t.f], [0, 0, 1]], dtype=float)


class MapFields:
    """The map's orientation field (on a level about :data:`MAP_GRADIENT_SIDE` pixels long) and footprint."""

    def __init__(self, roads: MapRoads, levels: list[np.ndarray]) -> None:
        self.width, self.height = roads.width, roads.height
        self.levels = levels
        k = 0
        while k + 1 < len(levels) and max(levels[k].shape) > 1.5 * MAP_GRADIENT_SIDE:
            k += 1
        base = levels[k].astype(np.float32) / np.float32(255.0)
        h, w = base.shape
        side = MAP_GRADIENT_SIDE if max(h, w) > MAP_GRADIENT_SIDE else max(h, w)
        f = side / max(h, w)
        self.base = area_resize(base, round(w * f), round(h * f))
        self.base_w, self.base_h = self.base.shape[1], self.base.shape[0]
        # footprint: streets closed over gaps of 4 % of the long side, holes filled, then its rim
        # left out: a sheet's frame line (segmented as a street) and the cut streets along the edge
        self.foot = footprint(self.base, 0.02 * max(self.base.shape))
        self.content = self.foot  # the whole content, for the output's clip polygon
        rim = int(round(MAP_RIM * max(self.base.shape)))
        if rim > 0:
            self.foot = cv2.erode(self.foot, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * rim + 1,) * 2),
                                  borderType=cv2.BORDER_CONSTANT, borderValue=0)
        self.field = orientation_field(self.base) * self.foot
        # halved copies, so that small templates are not area-averaged from the 2000-px level each time
        self._pyramid = [(self.field, self.foot)]
        while min(self._pyramid[-1][1].shape) >= 128:
            f, m = self._pyramid[-1]
            hh, ww = m.shape[0] // 2, m.shape[1] // 2
            self._pyramid.append((resize_field(f, ww, hh), area_resize(m, ww, hh)))

    @property
    def long_side(self) -> int:
        return max(self.width, self.height)

    def template(self, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
        """(field, footprint) of the whole map resized to ``width x height`` (area average)."""
        src = self._pyramid[0]
        for f, m in self._pyramid[1:]:
            if m.shape[1] < 2 * width or m.shape[0] < 2 * height:
                break
            src = (f, m)
        return resize_field(src[0], width, height), area_resize(src[1], width, height)


# -- small matrix helpers -------------------------------------------------------------------------
def _h(m: np.ndarray) -> np.ndarray:
    out = np.eye(3)
    out[:2] = m[:2]
    return out


def _shift(dx: float, dy: float) -> np.ndarray:
    return np.array([[1.0, 0, dx], [0, 1.0, dy], [0, 0, 1.0]])


def _scale(sx: float, sy: float) -> np.ndarray:
    return np.diag([sx, sy, 1.0])


def rotated_template(field: np.ndarray, foot: np.ndarray, theta: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Turn a template field and its footprint by ``theta`` degrees (onto a canvas holding it all).

    Returns (field, footprint, M) with M the 3x3 matrix from the input's corner coordinates to
    the output's pixel-index coordinates.
    """
    height, width = field.shape
    rot = cv2.getRotationMatrix2D((width / 2 - 0.5, height / 2 - 0.5), theta, 1.0)
    box = np.abs(rot[:, :2]) @ [width, height]
    rot[:, 2] = box / 2 - 0.5 - rot[:, :2] @ [width / 2 - 0.5, height / 2 - 0.5]  # centre -> canvas centre
    size = (int(np.ceil(box[0])) + 1, int(np.ceil(box[1])) + 1)
    re = cv2.warpAffine(np.ascontiguousarray(field.real), rot, size, flags=cv2.INTER_LINEAR)
    im = cv2.warpAffine(np.ascontiguousarray(field.imag), rot, size, flags=cv2.INTER_LINEAR)
    gm = (cv2.warpAffine(foot, rot, size, flags=cv2.INTER_LINEAR) > 0.5).astype(np.float32)
    g = blur_field((re + 1j * im).astype(np.complex64), FIELD_BLUR)
    g = rotate_values(g, theta) * gm
    return g, gm, _h(rot) @ _shift(-0.5, -0.5)


def _psr_batch(surf: np.ndarray, valid: np.ndarray, ex: int = PSR_EXCLUDE,
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Peak-to-sidelobe ratio and peak index (row, col) of each surface of a batch (B, H, W).

    The side-lobe statistics are taken over all ``valid`` translations; the peak is searched among
    the ``allowed`` ones (default: the valid ones).
    """
    b, h, w = surf.shape
    allowed = valid if allowed is None else (allowed & valid)
    masked = np.where(allowed, surf, -np.inf).reshape(b, -1)
    flat = np.argmax(masked, axis=1)
    peak = masked[np.arange(b), flat]
    iy, ix = np.unravel_index(flat, (h, w))
    vs = np.where(valid, surf, 0.0)
    n = valid.reshape(b, -1).sum(axis=1).astype(float)
    s1 = vs.reshape(b, -1).sum(axis=1, dtype=float)
    s2 = (vs.astype(np.float64) ** 2).reshape(b, -1).sum(axis=1)
    oy = (iy[:, None] + np.arange(-ex, ex + 1)[None, :]) % h
    ox = (ix[:, None] + np.arange(-ex, ex + 1)[None, :]) % w
    win_v = valid[np.arange(b)[:, None, None], oy[:, :, None], ox[:, None, :]]
    win_s = np.where(win_v, surf[np.arange(b)[:, None, None], oy[:, :, None], ox[:, None, :]], 0.0)
    n -= win_v.reshape(b, -1).sum(axis=1)
    s1 -= win_s.reshape(b, -1).sum(axis=1)
    s2 -= (win_s.astype(np.float64) ** 2).reshape(b, -1).sum(axis=1)
    ok = (n >= 10) & np.isfinite(peak)
    nn = np.maximum(n, 1)
    mean = s1 / nn
    sd = np.sqrt(np.maximum(s2 / nn - mean**2, 1e-18))
    psr = np.where(ok, (peak - mean) / sd, -np.inf)
    return psr, np.stack([iy, ix], axis=1)


def _correlate(ref_field: np.ndarray, ref_foot: np.ndarray, temps: list[np.ndarray], feet: list[np.ndarray],
               cache: dict, key: object = None) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """Correlation surfaces Re(sum F(x+u) conj G(x)) and overlap validity for a batch of templates.

    The surfaces are circular over ``shape`` (at least the reference plus the largest template
    on each axis), so every shift u from minus the template's size to the reference's size has
    its own cell: see :func:`signed_shift`. ``key`` names the reference window in ``cache``.
    """
    hmax = max(t.shape[0] for t in temps)
    wmax = max(t.shape[1] for t in temps)
    shape = (sfft.next_fast_len(ref_field.shape[0] + hmax), sfft.next_fast_len(ref_field.shape[1] + wmax))
    if (shape, key) not in cache:
        cache[(shape, key)] = (sfft.fft2(ref_field, shape, workers=FFT_WORKERS),
                              sfft.rfft2(ref_foot, shape, workers=FFT_WORKERS))
    f_ref, f_foot = cache[(shape, key)]
    g = np.zeros((len(temps), hmax, wmax), np.complex64)
    gm = np.zeros((len(temps), hmax, wmax), np.float32)
    for i, (t, m) in enumerate(zip(temps, feet, strict=True)):
        g[i, :t.shape[0], :t.shape[1]] = t
        gm[i, :m.shape[0], :m.shape[1]] = m
    surf = sfft.ifft2(f_ref[None] * np.conj(sfft.fft2(g, shape, workers=FFT_WORKERS)), axes=(-2, -1),
                      workers=FFT_WORKERS).real
    overlap = sfft.irfft2(f_foot[None] * np.conj(sfft.rfft2(gm, shape, workers=FFT_WORKERS)), shape, axes=(-2, -1),
                          workers=FFT_WORKERS)
    area = np.minimum(gm.reshape(len(temps), -1).sum(axis=1), ref_foot.sum())
    valid = overlap >= MIN_OVERLAP * area[:, None, None]
    return surf.astype(np.float32), valid, shape


def signed_shift(index: np.ndarray | int, size: int, limit: int) -> np.ndarray | int:
    """The shift of a circular correlation cell ``index`` on an axis of ``size`` cells, for a
    reference ``limit`` cells long: cells up to ``limit`` are shifts >= 0, the others wrap to
    negative shifts (the template hanging over the reference's start).

    Splitting at ``size // 2`` instead (the usual FFT convention) turns every shift past the middle
    of a reference much larger than the template into a negative one: an atlas sheet in the east or
    south half of the reference was placed a whole reference width away.
    """
    return np.where(np.asarray(index) > limit, np.asarray(index) - size, np.asarray(index))


def _pose_from_peak(tmat: np.ndarray, peak: np.ndarray, shape: tuple[int, int], ref_shape: tuple[int, int],
                    ref_aff: np.ndarray, base_to_full: np.ndarray) -> np.ndarray:
    """3x3 full-resolution map pixel -> world, from a template matrix and a correlation peak."""
    dy = int(signed_shift(int(peak[0]), shape[0], ref_shape[0]))
    dx = int(signed_shift(int(peak[1]), shape[1], ref_shape[1]))
    # template index coords -> reference index coords (+ shift) -> reference corner coords -> world
    return ref_aff @ _shift(0.5 + dx, 0.5 + dy) @ tmat @ np.linalg.inv(base_to_full)


def _window(shape: tuple[int, int], cx: float, cy: float, half: float) -> tuple[int, int, int, int]:
    """(row0, row1, col0, col1): the part of an array of ``shape`` within ``half`` cells of (cx, cy)."""
    r0 = int(np.clip(np.floor(cy - half), 0, shape[0] - 1))
    r1 = int(np.clip(np.ceil(cy + half), r0 + 1, shape[0]))
    c0 = int(np.clip(np.floor(cx - half), 0, shape[1] - 1))
    c1 = int(np.clip(np.ceil(cx + half), c0 + 1, shape[1]))
    return r0, r1, c0, c1


def score_grid(mapf: MapFields, reff: ReferenceFields, res: float, thetas: np.ndarray, extents: np.ndarray,
               near: np.ndarray | None = None, window: float = 0.0) -> list[Candidate]:
    """Score every (rotation, extent) of the grid at ``res`` m/px; one best translation each.

    With ``near`` (a 3x3 pose) only translations whose map centre lands within ``window`` metres of
    where ``near`` puts it are considered, and the correlation runs on the part of the reference
    around it (the window, the template, and :data:`LOCAL_CONTEXT` template lengths of
    surroundings for the side-lobe statistics): refining a 500 m sheet at 4 m/px then costs FFTs
    of a few hundred pixels instead of the whole city's thousands.
    """
    ref_field, ref_foot, ref_aff = reff.level(res)
    base_to_full = _scale(mapf.width / mapf.base_w, mapf.height / mapf.base_h)
    cache: dict = {}
    out: list[Candidate] = []
    centre_full = np.array([mapf.width / 2, mapf.height / 2, 1.0])
    for extent in extents:
        m_per_px = extent / mapf.long_side
        tw = max(4, int(round(mapf.width * m_per_px / res)))
        th_ = max(4, int(round(mapf.height * m_per_px / res)))
        field, foot = mapf.template(tw, th_)
        zoom = _scale(tw / mapf.base_w, th_ / mapf.base_h)  # base corner coords -> template corner coords
        temps, feet, mats = [], [], []
        for theta in thetas:
            g, gm, mat = rotated_template(field, foot, float(theta))
            temps.append(g)
            feet.append(gm)
            mats.append(mat @ zoom)
        rf, rfoot, aff, key = ref_field, ref_foot, ref_aff, None
        if near is not None:
            target = np.linalg.inv(ref_aff) @ near @ centre_full  # reference corner coords of the centre
            half = window / res + float(np.hypot(tw, th_)) * (0.5 + LOCAL_CONTEXT) + PSR_EXCLUDE
            key = _window(ref_field.shape, target[0], target[1], half)
            r0, r1, c0, c1 = key
            rf, rfoot = ref_field[r0:r1, c0:c1], ref_foot[r0:r1, c0:c1]
            aff = ref_aff @ _shift(c0, r0)
            target = target - [c0, r0, 0]  # the same point in the window's coords
        surf, valid, shape = _correlate(rf, rfoot, temps, feet, cache, key)
        allowed = None
        if near is not None:
            allowed = np.zeros_like(valid)
            rad = window / res
            yy = signed_shift(np.arange(shape[0]), shape[0], rf.shape[0])
            xx = signed_shift(np.arange(shape[1]), shape[1], rf.shape[1])
            for i, mat in enumerate(mats):
                c_t = mat @ np.linalg.inv(base_to_full) @ centre_full  # template index coords
                want = target[:2] - 0.5 - c_t[:2]                       # desired shift (dx, dy)
                allowed[i] = ((yy[:, None] - want[1]) ** 2 + (xx[None, :] - want[0]) ** 2) <= rad**2
        psr, peaks = _psr_batch(surf, valid, allowed=allowed)
        for i, theta in enumerate(thetas):
            if not np.isfinite(psr[i]):
                continue
            pose = _pose_from_peak(mats[i], peaks[i], shape, rf.shape, aff, base_to_full)
            out.append(Candidate(pose=pose, theta=float(theta), extent=float(extent), score=float(psr[i]),
                                 resolution=float(res)))
    return out


def distinct(cands: list[Candidate], k: int, mapf: MapFields, min_dist: float) -> list[Candidate]:
    """The ``k`` best candidates, suppressing those whose map corners land within ``min_dist``
    metres (on average) of a better one."""
    corners = np.array([[0, 0, 1], [mapf.width, 0, 1], [0, mapf.height, 1], [mapf.width, mapf.height, 1]], float).T
    kept: list[tuple[Candidate, np.ndarray]] = []
    for c in sorted(cands, key=lambda c: -c.score):
        pts = (c.pose @ corners)[:2]
        if all(np.mean(np.hypot(*(pts - q))) > min_dist for _, q in kept):
            kept.append((c, pts))
            if len(kept) >= k:
                break
    return [c for c, _ in kept]


def geometric_grid(lo: float, hi: float, step: float) -> np.ndarray:
    """Values from ``lo`` to ``hi`` with a constant ratio ``1 + step`` (both ends included)."""
    n = max(1, int(np.ceil(np.log(hi / lo) / np.log1p(step))))
    return lo * np.exp(np.linspace(0.0, np.log(hi / lo), n + 1))
