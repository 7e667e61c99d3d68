"""Speed and memory of ``jadis georef warp`` on a big sheet.

Builds (once, in ``out/georef_warp/``) an ~80 MP sheet by tiling a real Jacoubet scan 2 x 3
(about 6 800 x 12 300 px, tiled GeoTIFF), with GCPs on a 250 m-like grid made by scaling the
sheet's own GCPs, then warps it to a Lambert-93 COG (polynomial order 2 and thin-plate spline) in
a child process and reports wall time, MP/s and the child's peak RSS (memory bounded by windows).
Run: ``.venv/bin/python -m benchmarks.georef_warp``.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time

import numpy as np

from jadis.paths import ROOT, shared_data_dir

OUT = ROOT / "out" / "georef_warp"
REPEAT = (3, 2)  # rows, columns of copies of the sheet

CHILD = """
import sys, time, resource, json
from jadis.georef.georeference import Georeference
from jadis.georef.formats import read_gcps
from jadis.georef.warp import warp
img, pts, transform, dest = sys.argv[1:5]
g = Georeference(read_gcps(pts), transform)
t = time.perf_counter()
warp(img, g, dest, crs="EPSG:2154", progress=False)
sec = time.perf_counter() - t
print(json.dumps({"seconds": sec, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def build_sheet() -> tuple[str, str, float]:
    """The big test sheet and its GCP file (built once); returns their paths and megapixels."""
    import rasterio
    from rasterio.windows import Window

    from jadis.georef.formats import read_gcps, write_gcps
    from jadis.georef.gcps import GcpSet
    from jadis.io.images import open_image

    shared = shared_data_dir()
    base = shared / "scans" / "jacoubet_1836_lowres"
    src_img = sorted(base.glob("*_-_21.*.jpg"))[0]
    big = OUT / "big_sheet.tif"
    pts = OUT / "big_sheet.points"
    with open_image(src_img) as src:
        arr = src.read()
        h, w = src.height, src.width
    H, W = h * REPEAT[0], w * REPEAT[1]
    if not big.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        with rasterio.open(big, "w", driver="GTiff", width=W, height=H, count=3, dtype="uint8", tiled=True,
                           blockxsize=512, blockysize=512, compress="deflate") as dst:
            for r in range(REPEAT[0]):
                for c in range(REPEAT[1]):
                    dst.write(arr, window=Window(c * w, r * h, w, h))
    # GCPs: the sheet's grid stretched over the big sheet (same ground size per pixel)
    g = read_gcps(base / "lowres_gcps" / f"{src_img.name}.points", crs="VERNIQUET-m")
    px = g.pixel * [REPEAT[1], REPEAT[0]]
    centre = g.world.mean(axis=0)
    world = centre + (g.world - centre) * [REPEAT[1], REPEAT[0]]
    rng = np.random.default_rng(0)
    write_gcps(pts, GcpSet(px, world + rng.normal(0, 0.5, world.shape), g.crs))
    return str(big), str(pts), W * H / 1e6


def main() -> int:
    if shared_data_dir() is None:
        print("needs ../shared/data")
        return 1
    img, pts, mp = build_sheet()
    print(f"sheet: {img} ({mp:.0f} MP)")
    for transform in ("polynomial2", "tps"):
        dest = OUT / f"big_sheet_{transform}_l93.tif"
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", CHILD, img, pts, transform, str(dest)], capture_output=True,
                              text=True, check=True)
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"{transform}: {res['seconds']:.0f} s warp ({mp / res['seconds']:.2f} input MP/s), "
              f"{time.perf_counter() - t0:.0f} s with start-up; peak RSS {res['peak_rss_mb']:.0f} MB; "
              f"output {dest.stat().st_size / 1e6:.0f} MB")
    print(f"parent peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
