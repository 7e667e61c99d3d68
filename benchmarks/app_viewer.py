"""Review app on a full-size sheet: registration, tile pyramid, view rendering, corrections, memory.

Builds a 10 000 × 8 000 px sheet (80 MP) by tiling the bundled CC BY Atlas municipal 1925 crop
(with flips, so neighbouring copies differ) and its class mask, then measures what the app does:

* registering the scan (checks + SHA-256) and importing its class raster as 320 versioned tiles;
* building the viewing pyramid (tiled JPEG GeoTIFF + overviews) — once per map — with peak RSS;
* rendering views like the Segmentation review page does (scan + class overlay, encoded as the
  JPEG + PNG the browser receives): whole sheet, 1:4, 1:1 at several places;
* saving a brush correction (rasterised into the touched tiles, new versions, conflict check);
* exporting the corrected class raster (80 MP GeoTIFF).

    .venv/bin/python -m benchmarks.app_viewer [--size 10000x8000] [--keep DIR]

Stages that allocate run in child processes so their peak RSS is measured on their own.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from jadis.paths import ROOT

SAMPLE = ROOT / "data" / "samples" / "atlas_municipal_1925_crop.png"
SAMPLE_CLASSES = ROOT / "data" / "samples" / "atlas_municipal_1925_crop_classes.png"


def make_sheet(folder: Path, width: int, height: int) -> tuple[Path, Path]:
    """A big JPEG sheet and its class raster, tiled from the bundled crop."""
    import cv2
    import rasterio

    crop = cv2.imread(str(SAMPLE))[..., ::-1]
    with rasterio.open(SAMPLE_CLASSES) as ds:
        cls = ds.read(1)
    h, w = cls.shape
    img = np.empty((height, width, 3), np.uint8)
    classes = np.empty((height, width), np.uint8)
    for j, y in enumerate(range(0, height, h)):
        for i, x in enumerate(range(0, width, w)):
            a, c = crop, cls
            if i % 2:
                a, c = a[:, ::-1], c[:, ::-1]
            if j % 2:
                a, c = a[::-1], c[::-1]
            hh, ww = min(h, height - y), min(w, width - x)
            img[y:y + hh, x:x + ww] = a[:hh, :ww]
            classes[y:y + hh, x:x + ww] = c[:hh, :ww]
    sheet = folder / "sheet_80mp.jpg"
    cv2.imwrite(str(sheet), img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
    classes_path = folder / "sheet_80mp_classes.tif"
    with rasterio.open(classes_path, "w", driver="GTiff", width=width, height=height, count=1, dtype="uint8",
                       tiled=True, compress="deflate") as ds:
        ds.write(classes, 1)
    return sheet, classes_path


def _child(stage: str, project: str, *args: str) -> dict:
    """Run one stage in a child process; return its JSON result (with the child's own peak RSS)."""
    out = subprocess.run([sys.executable, "-m", "benchmarks.app_viewer", "--stage", stage, project, *args],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _peak_rss_mb() -> int:
    """This process's peak RSS (VmHWM: unlike ru_maxrss it does not inherit the parent's before exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def stage(name: str, project_dir: str, args: list[str]) -> dict:
    """The stages, run inside the child process."""
    import warnings

    warnings.simplefilter("ignore")
    from jadis.project import corrections, maps, render, tiles
    from jadis.project.workspace import open_project

    project = open_project(project_dir)
    t0 = time.perf_counter()
    if name == "register":
        record = maps.add_map(project, args[0], author="bench")
        t1 = time.perf_counter()
        tiles.import_class_raster(project, record.id, args[1], author="bench")
        t2 = time.perf_counter()
        return {"register_s": round(t1 - t0, 2), "import_tiles_s": round(t2 - t1, 2),
                "tiles": len(tiles.tile_states(project, record.id))}
    record = maps.list_maps(project)[0]
    if name == "pyramid":
        render.ensure_pyramid(project, record)
        return {"pyramid_s": round(time.perf_counter() - t0, 2),
                "pyramid_mb": round(render.pyramid_path(project, record).stat().st_size / 1e6, 1)}
    if name == "views":
        rows = []
        W, H = 960, 620
        fit = render.fit_view(record, W, H)
        cases = [("whole sheet", fit), ("1:4 centre", render.View(record.width / 2, record.height / 2, 0.25, W, H)),
                 ("1:1 top-left", render.View(500, 400, 1.0, W, H)),
                 ("1:1 centre", render.View(record.width / 2, record.height / 2, 1.0, W, H)),
                 ("1:1 bottom-right", render.View(record.width - 500, record.height - 400, 1.0, W, H)),
                 ("2:1 random", render.View(7321, 5123, 2.0, W, H))]
        for label, view in cases:
            times = []
            for _rep in range(3):  # first: cold tile cache; then warm (same view re-rendered, e.g. a button)
                t = time.perf_counter()
                scan = render.read_scan(project, record, view)
                ids, origin, step = render.classes_for_view(project, record, view)
                overlay = render.colorize(render.ids_to_display(ids, origin, step, view))
                jpeg, png = render.encode_jpeg(scan), render.encode_png(overlay)
                times.append(time.perf_counter() - t)
            rows.append({"view": label, "cold_ms": round(times[0] * 1000), "warm_ms": round(min(times[1:]) * 1000),
                         "bytes_kb": round((len(jpeg) + len(png)) * 4 / 3 / 1024)})  # base64 in the page
        return {"views": rows}
    if name == "correct":
        conn = project.connect()
        try:
            base = tiles.current_versions(conn, record.id)
        finally:
            conn.close()
        pts = [(5000 + 40 * i, 4000 + 25 * i) for i in range(30)]  # ~1.4 k px long, crosses 4-6 tiles
        edit = corrections.brush_edit(pts, 15, 3)
        t = time.perf_counter()
        result = corrections.save_correction(project, record.id, [edit], base, author="bench")
        save_s = time.perf_counter() - t
        t = time.perf_counter()
        with contextlib.suppress(corrections.ConflictError):  # same base: refused, as it should be
            corrections.save_correction(project, record.id, [edit], base, author="bench2")
        conflict_s = time.perf_counter() - t
        return {"save_ms": round(save_s * 1000), "tiles_touched": len(result.tiles),
                "conflict_ms": round(conflict_s * 1000)}
    if name == "export_classes":
        out = project.inside("exports", "classes.tif")
        tiles.write_class_raster(project, record.id, out)
        return {"export_classes_s": round(time.perf_counter() - t0, 2)}
    raise SystemExit(f"unknown stage {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="10000x8000")
    parser.add_argument("--keep", help="keep the work folder here")
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    parser.add_argument("rest", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        result = stage(args.stage, args.rest[0], args.rest[1:])
        result["peak_rss_mb"] = _peak_rss_mb()
        print(json.dumps(result))
        return
    from jadis.project.workspace import init_project

    width, height = (int(v) for v in args.size.lower().split("x"))
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="jadis_app_bench_"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        t = time.perf_counter()
        sheet, classes = make_sheet(work, width, height)
        print(f"sheet {width}x{height} ({width * height / 1e6:.0f} MP, JPEG {sheet.stat().st_size / 1e6:.0f} MB) "
              f"made in {time.perf_counter() - t:.1f} s")
        project = init_project(work / "project", name="bench")
        report = {"size": f"{width}x{height}"}
        for name, extra in (("register", [str(sheet), str(classes)]), ("pyramid", []), ("views", []),
                            ("correct", []), ("export_classes", [])):
            result = _child(name, str(project.root), *extra)
            report[name] = result
            print(name, json.dumps(result))
        print(json.dumps(report))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
