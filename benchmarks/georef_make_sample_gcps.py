"""Make the shippable GCPs of the bundled Atlas municipal 1925 crop (data/samples/).

The crop (CC BY 4.0) has no georeference, the Allmaps GCPs of its sheet are not shippable and
the crop's offset in the sheet is unknown, so its GCPs are measured here against the OpenStreetMap
road raster of Paris (ODbL, "© OpenStreetMap contributors"), by street-pattern matching:

1. global search: the crop's street mask (its derived class mask, class 1), blurred, is
   correlated (normalised cross-correlation, FFT via OpenCV ``matchTemplate``) with the blurred
   road raster around the Pont Neuf, over scales 0.30-0.60 m/px and rotations -4..4 degrees;
2. each of a 4 x 3 grid of 300 x 300 px patches of the crop is then matched on its own (translation
   within +-12 m of the global fit): its centre and the matched position give one GCP;
   patches with a weak or flat correlation peak are dropped.

The GCPs are independent local measurements (not samples of one fitted transform), so the fit
report of the demo shows real residuals. Absolute accuracy is that of the OSM raster, ~3-10 m
(see ../shared/data/modern/paris_osm_roads_l93.md); check the result by eye with
``jadis georef warp`` and the raster. Run: ``.venv/bin/python -m benchmarks.georef_make_sample_gcps``.
"""

from __future__ import annotations

import sys

import cv2
import numpy as np
import rasterio
from PIL import Image

from jadis.georef.formats.qgis_points import write_points
from jadis.georef.gcps import GcpSet
from jadis.paths import data_dir, shared_data_dir

CROP = "samples/atlas_municipal_1925_crop_classes.png"
OUT = "samples/atlas_municipal_1925_crop.points"
CENTRE_L93 = (651676.5, 6862030.7)  # near the Pont Neuf (lon 2.3414, lat 48.8565): the search window
SEARCH_RADIUS_PX = 800  # of the 1.3 m road raster: +-1 km
BLUR = 2.0


def _blur(a: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(a.astype(np.float32), (0, 0), BLUR)


def _render(street: np.ndarray, scale: float, rot: float, res: float) -> tuple[np.ndarray, np.ndarray]:
    """The crop mask scaled to the raster resolution and rotated; the index-coordinate affine."""
    h, w = street.shape
    f = scale / res
    m = cv2.getRotationMatrix2D((w / 2, h / 2), rot, f)
    nw, nh = int(w * f) + 2, int(h * f) + 2
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    return cv2.warpAffine(street, m, (nw, nh)), m


def _subpixel(v: np.ndarray) -> float:
    """Offset of a parabola's top through three samples around a peak (0 at the edge of the map)."""
    if len(v) != 3:
        return 0.0
    den = v[0] - 2 * v[1] + v[2]
    return float(np.clip(0.5 * (v[0] - v[2]) / den, -0.5, 0.5)) if den < 0 else 0.0


def main() -> int:
    shared = shared_data_dir()
    if shared is None:
        print("needs ../shared/data (the OSM road raster)")
        return 1
    street = (np.array(Image.open(data_dir() / CROP)) == 1).astype(np.float32)
    with rasterio.open(shared / "modern" / "paris_osm_roads_l93.tif") as ds:
        r, c = ds.index(*CENTRE_L93)
        win = rasterio.windows.Window(c - SEARCH_RADIUS_PX, r - SEARCH_RADIUS_PX, 2 * SEARCH_RADIUS_PX,
                                      2 * SEARCH_RADIUS_PX)
        osm = (ds.read(1, window=win) > 127).astype(np.float32)
        wt = ds.window_transform(win)
        res = ds.res[0]
    ref = _blur(osm)
    best = (-1.0, 0.0, 0.0, (0, 0), None)
    for scale in np.arange(0.30, 0.62, 0.01):
        for rot in np.arange(-4.0, 4.01, 0.5):
            tpl, m = _render(street, scale, rot, res)
            score = cv2.matchTemplate(ref, _blur(tpl), cv2.TM_CCOEFF_NORMED)
            _, mx, _, loc = cv2.minMaxLoc(score)
            if mx > best[0]:
                best = (mx, scale, rot, loc, m)
    score, scale, rot, loc, m = best
    print(f"global: NCC {score:.3f} at {scale:.2f} m/px, rotation {rot:+.1f} deg")
    # crop index (x, y) -> window index: m @ (x, y, 1) + loc
    aff = m.copy()
    aff[:, 2] += loc

    def crop_to_window(xy: np.ndarray) -> np.ndarray:  # continuous coordinates (corner origin)
        idx = np.column_stack([xy - 0.5, np.ones(len(xy))]) @ aff.T
        return idx + 0.5

    h, w = street.shape
    pixel, world = [], []
    margin = int(round(12 / res))
    for cy in np.linspace(150, h - 150, 3):
        for cx in np.linspace(150, w - 150, 4):
            patch = np.zeros_like(street)
            y0, x0 = int(cy - 150), int(cx - 150)
            patch[y0:y0 + 300, x0:x0 + 300] = street[y0:y0 + 300, x0:x0 + 300]
            if patch.mean() < 0.02:
                continue
            tpl = cv2.warpAffine(patch, aff, (osm.shape[1], osm.shape[0]))
            ys, xs = np.nonzero(tpl > 0.01)
            ty0, ty1, tx0, tx1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
            t = _blur(tpl)[ty0:ty1, tx0:tx1]
            area = ref[ty0 - margin:ty1 + margin, tx0 - margin:tx1 + margin]
            sc = cv2.matchTemplate(area, t, cv2.TM_CCOEFF_NORMED)
            _, mx, _, (dx, dy) = cv2.minMaxLoc(sc)
            flat = float(np.partition(sc.ravel(), -1)[-1] - np.median(sc))
            if mx < 0.4 or flat < 0.1:
                print(f"patch ({cx:.0f}, {cy:.0f}): dropped (NCC {mx:.2f}, contrast {flat:.2f})")
                continue
            shift = np.array([dx - margin + _subpixel(sc[dy, dx - 1:dx + 2]),
                              dy - margin + _subpixel(sc[dy - 1:dy + 2, dx])], float)
            centre = np.array([[cx, cy]])
            win_xy = crop_to_window(centre)[0] + shift
            X, Y = wt * (win_xy[0], win_xy[1])
            pixel.append([cx, cy])
            world.append([X, Y])
            print(f"patch ({cx:.0f}, {cy:.0f}): NCC {mx:.2f}, local shift ({shift[0] * res:+.1f}, {shift[1] * res:+.1f}) m -> ({X:.1f}, {Y:.1f})")
    gcps = GcpSet(np.array(pixel), np.array(world), "EPSG:2154", ids=[f"p{i + 1}" for i in range(len(pixel))])
    dest = data_dir() / OUT
    write_points(dest, gcps)
    print(f"wrote {dest} ({len(gcps)} GCPs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
