"""Documented example: georeference the real Jacoubet 1836 low-resolution sheets.

Data (``../shared/data/scans/jacoubet_1836_lowres``, not shippable): 6 sheet scans and their GCPs,
a regular 250 m grid in VERNIQUET-m **interpolated from the sheet corners** (not hand-picked).
For every sheet and transform this prints the fit figures (RMSE, leave-one-out RMSE), then:

* an independent check against the 2023 **hand-corrected** GCPs of the same sheets (made on the
  HD scans, about twice the resolution, absent here): each hand-corrected GCP's world position is
  taken to low-res pixels with our backward transform; a similarity (scale, rotation, shift: the
  HD -> low-res resampling and cropping) between the HD pixels and those predictions is fitted,
  and its residuals, in metres, are the disagreement between the low-res georeference and the
  hand-corrected points (a lower bound of the true error: the similarity absorbs global errors);
* the warp of each sheet to a Lambert-93 COG (``out/georef_jacoubet/``), timed.

Run: ``.venv/bin/python -m benchmarks.georef_jacoubet [--no-warp]``. The same with the CLI::

    jadis georef fit SHEET.jpg --gcps SHEET.jpg.points --crs VERNIQUET-m -t polynomial2 -o sheet.json
    jadis georef warp SHEET.jpg sheet.json --crs EPSG:2154 -o sheet_l93.tif
    jadis georef deformation sheet.json --map SHEET.jpg -o sheet_deformation/
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

from jadis.errors import JadisError
from jadis.georef.formats import read_gcps
from jadis.georef.gcps import GcpSet
from jadis.georef.georeference import Georeference
from jadis.georef.transforms import Helmert
from jadis.io.images import check_image
from jadis.paths import ROOT, shared_data_dir

TRANSFORMS = ("helmert", "polynomial1", "polynomial2", "polynomial3", "projective", "tps")


def hd_check(g: Georeference, hd_file: Path) -> tuple[float, float, int, GcpSet]:
    """(median, max) metres of disagreement with the hand-corrected HD GCPs, their number, and
    the hand-corrected GCPs transferred to the low-res pixels (through the fitted similarity)."""
    hd = read_gcps(hd_file, crs="VERNIQUET-m").active()
    pred = g.world_to_pixel(hd.world)
    sim = Helmert.fit(hd.pixel * [1, -1], pred * [1, -1])
    moved = sim(hd.pixel * [1, -1]) * [1, -1]
    res_px = np.hypot(*(moved - pred).T)
    m_per_px = float(np.sqrt(abs(np.linalg.det(g.jacobian(pred[:1])[0]))))
    res = res_px * m_per_px
    return float(np.median(res)), float(res.max()), len(hd), GcpSet(moved, hd.world, hd.crs)


def _n(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-warp", action="store_true")
    args = parser.parse_args()
    shared = shared_data_dir()
    if shared is None:
        print("needs ../shared/data")
        return 1
    base = shared / "scans" / "jacoubet_1836_lowres"
    with (base / "hd_gcps_index.csv").open(encoding="utf-8") as f:
        hd_index = {row["sheet"]: shared / row["hd_gcps_path"] for row in csv.DictReader(f)}
    out = ROOT / "out" / "georef_jacoubet"
    print("| sheet | size | transform | RMSE m | RMSE px | LOO RMSE m | vs hand-corrected HD GCPs: median / max m (n) |")
    print("|---|---|---|---|---|---|---|")
    timings = []
    transferred = {}
    for img in sorted(base.glob("*.jpg")):
        sheet = img.name.split("_-_")[1].split(".")[0]
        info = check_image(img)
        gcps = read_gcps(base / "lowres_gcps" / f"{img.name}.points", crs="VERNIQUET-m")
        for name in TRANSFORMS:
            try:
                g = Georeference(gcps, name, image_size=(info.width, info.height), image=img.name).validate()
                s = g.report().summary()
            except JadisError as exc:
                print(f"| {sheet} | | {name} | {exc} |")
                continue
            hd = hd_check(g, hd_index[sheet])
            transferred.setdefault(sheet, (hd[3], info))
            print(f"| {sheet} | {info.width}x{info.height} | {name} | {s['rmse_m']:.2f} | {s['rmse_px']:.2f} | "
                  f"{s['loo_rmse_m']:.2f} | {hd[0]:.1f} / {hd[1]:.1f} ({hd[2]}) |")
        if not args.no_warp:
            from jadis.georef.warp import warp

            g = Georeference(gcps, "polynomial2", image_size=(info.width, info.height), image=img.name)
            t0 = time.perf_counter()
            dest = warp(img, g, out / f"jacoubet_{sheet}_l93.tif", crs="EPSG:2154", progress=False)
            timings.append((sheet, info.width * info.height / 1e6, time.perf_counter() - t0, dest))
    print("\nThe hand-corrected GCPs transferred to the low-res scans (real picking noise):")
    print("| sheet | GCPs | transform | RMSE m | RMSE (QGIS) m | LOO RMSE m | LOO median m | outliers |")
    print("|---|---|---|---|---|---|---|---|")
    for sheet, (gcps, info) in transferred.items():
        for name in TRANSFORMS:
            try:
                s = Georeference(gcps, name, image_size=(info.width, info.height)).validate().report().summary()
            except JadisError as exc:
                print(f"| {sheet} | {len(gcps)} | {name} | {exc} |")
                continue
            print(f"| {sheet} | {len(gcps)} | {name} | {s['rmse_m']:.2f} | {_n(s['rmse_qgis_m'])} | "
                  f"{_n(s['loo_rmse_m'])} | {_n(s['loo_median_m'])} | {len(s['outliers'])} |")
    for sheet, mp, sec, dest in timings:
        print(f"warp sheet {sheet}: {mp:.1f} MP in {sec:.1f} s ({mp / sec:.2f} MP/s) -> {dest.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
