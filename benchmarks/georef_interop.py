"""Agreement of jadis transforms with Allmaps (@allmaps/transform) and GDAL on the real GCP sets.

For each of the ~450 real GCP sets of ``../shared/data/georef/allmaps_annotations`` and each
transform type, the three implementations are fitted on the same GCPs and evaluated on a 10 x 10
grid over the GCPs' pixel bounding box, forward (pixel -> world; differences converted to pixels
with the local scale) and backward (world -> pixel). Two coordinate spaces for the world side:

* ``lonlat``: WGS84 degrees, what Allmaps' ``GcpTransformer`` receives from an annotation;
* ``local``: metres in an azimuthal equidistant frame centred on the sheet (small numbers).

Prints, per space / transform / reference: the mean over sets of the grid-mean difference, its
95th percentile and maximum, and how many sets exceed 0.1 px.
Run: ``.venv/bin/python -m benchmarks.georef_interop [--no-gdal]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict

import numpy as np
import pyproj

from jadis.georef.crs import to_wgs84
from jadis.georef.formats.allmaps import read_annotations
from jadis.georef.transforms import Helmert, fit_transform, min_points
from jadis.paths import shared_data_dir
from tests._reference_impl import (
    ALLMAPS_TYPE,
    GDAL_OPTIONS,
    allmaps_available,
    allmaps_transform_many,
    gdal_available,
    gdal_transform,
)

FLIP = np.array([1.0, -1.0])


def _ours(name: str, pixel: np.ndarray, world: np.ndarray):  # noqa: ANN202
    fwd = fit_transform(name, pixel * FLIP, world)
    bwd = fwd.inverse() if isinstance(fwd, Helmert) else fit_transform(name, world, pixel * FLIP)
    return (lambda p: fwd(p * FLIP)), (lambda w: bwd(w) * FLIP), fwd


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-gdal", action="store_true")
    args = parser.parse_args()
    shared = shared_data_dir()
    if shared is None or allmaps_available():
        print(f"needs ../shared/data and Allmaps ({allmaps_available()})")
        return 1
    use_gdal = not args.no_gdal and gdal_available() is None
    files = sorted((shared / "georef" / "allmaps_annotations" / "output").glob("*/*.json"))
    t0 = time.time()
    jobs, meta = [], []
    for f in files:
        for g in read_annotations(f):
            act = g.gcps.active()
            lonlat = to_wgs84(act.world, act.crs)
            c = lonlat.mean(axis=0)
            aeqd = pyproj.Transformer.from_crs(
                "OGC:CRS84", f"+proj=aeqd +lat_0={c[1]} +lon_0={c[0]} +ellps=WGS84 +units=m", always_xy=True)
            local = np.column_stack(aeqd.transform(lonlat[:, 0], lonlat[:, 1]))
            lo, hi = act.pixel.min(0), act.pixel.max(0)
            gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 10), np.linspace(lo[1], hi[1], 10))
            q = np.column_stack([gx.ravel(), gy.ravel()])
            for space, world in (("lonlat", lonlat), ("local", local)):
                for name in ALLMAPS_TYPE:
                    if len(act) < min_points(name):
                        continue
                    try:
                        fwd, bwd, tf = _ours(name, act.pixel, world)
                    except Exception:  # noqa: BLE001 - degenerate sets are skipped for every implementation
                        continue
                    ow = fwd(q)
                    op = bwd(ow)
                    jac = tf.jacobian((q * FLIP)[:1])[0]
                    per_px = float(np.sqrt(abs(np.linalg.det(jac))))  # world units per pixel
                    jobs.append((name, act.pixel, world, q, ow))
                    meta.append((f.name, space, name, ow, op, per_px, act.pixel, world, q))
    print(f"{len(meta)} comparisons prepared ({time.time() - t0:.0f} s); running Allmaps...")
    answers = allmaps_transform_many(jobs)
    results: dict[tuple[str, str, str], list[tuple[float, float]]] = defaultdict(list)
    for (_, space, name, ow, op, per_px, pixel, world, q), (aw, ap) in zip(meta, answers, strict=True):
        results[(space, name, "allmaps")].append((float(np.mean(np.hypot(*(aw - ow).T)) / per_px),
                                                  float(np.mean(np.hypot(*(ap - op).T)))))
        if use_gdal and name in GDAL_OPTIONS and space == "lonlat":
            gw = gdal_transform(name, pixel, world, q)
            gp = gdal_transform(name, pixel, world, ow, inverse=True)
            results[(space, name, "gdal")].append((float(np.mean(np.hypot(*(gw - ow).T)) / per_px),
                                                   float(np.mean(np.hypot(*(gp - op).T)))))
    print(f"done in {time.time() - t0:.0f} s\n")
    print("| world coords | transform | reference | sets | forward mean / p95 / max (px) | "
          "backward mean / p95 / max (px) | sets > 0.1 px |")
    print("|---|---|---|---|---|---|---|")
    for (space, name, ref), v in sorted(results.items()):
        a = np.array(v)
        bad = int(np.sum(np.any(a > 0.1, axis=1)))

        def s(x: np.ndarray) -> str:
            return f"{x.mean():.2g} / {np.percentile(x, 95):.2g} / {x.max():.2g}"

        print(f"| {space} | {name} | {ref} | {len(a)} | {s(a[:, 0])} | {s(a[:, 1])} | {bad} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
