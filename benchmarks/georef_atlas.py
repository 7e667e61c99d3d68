"""Benchmark of automatic georeferencing on atlas sheets: the scan alone, no hints.

Maps (``../shared/data``, not shippable), each given to :func:`jadis.georef.auto.auto_georeference`
as the class raster of ``jadis segment`` (cached under ``--cache``, default
``/tmp/jadis_georef_atlas``; the segmentation time is reported apart), with the shipped modern
reference and default options:

* the 6 **Jacoubet 1836** low-resolution sheets (``scans/jacoubet_1836_lowres``, ~0.34 m/px,
  1.1 x 1.4 km). Truth: the printed Verniquet grid crossings (every 250 m) **located on each low-res
  scan** by :func:`benchmarks.jacoubet_truth.measured_crossings` (26-30 per sheet, those listed by the
  2023 hand-corrected HD GCPs; a polynomial-2 fits them to ~0.5-0.8 m RMSE), polynomial-2 fit,
  VERNIQUET-m converted to Lambert-93. (The former truth, the HD GCPs moved to the low-res pixels
  through the corner-grid georeference, was off by 5-17 m median, up to 3 % in scale);
* the **Atlas municipal 1925** dev strip (``segmentation/atlas_municipal_1925_dev``, 6000 x 3000 px,
  ~0.42 m/px, 2.4 x 1.2 km). Truth: the printed graticule GCPs of its sheet
  ``BHdV_PL_ATL20Ardt_1926_0004`` (``georef/allmaps_annotations``, full-sheet pixels; affine fit),
  brought to the strip by a pure translation (strip pixel + offset = sheet pixel; no scale, no
  rotation), measured on the two graticule crossings printed inside the strip (independent of OSM);
* **crops** of those (0.5-2 km), cut from the class rasters, with the parent's truth;
* the bundled **sample** (``data/samples/atlas_municipal_1925_crop.png``, 1000 x 800 px, 430 m), the
  map ``jadis demo`` georeferences. Truth: the affine fit of its 9 GCPs measured on OpenStreetMap
  (good to ~3-10 m: a loose check, not an independent truth).

Each map is scored at a grid of points over its content (the truth transform at 5 x 5, or 6 x 3
for the strip, points of its inner 80 %): error = distance, in Lambert-93 metres, between where
jadis and the truth put the point. A map is **aligned** when its median error is <= 20 m (the
Jacoubet truth is good to ~1 m, the OSM reference to ~3-10 m), **wrong** when jadis
returned a georeference further off, **failed** when jadis said "failed" (exit 3 of the CLI).

    .venv/bin/python -m benchmarks.georef_atlas                   # all maps
    .venv/bin/python -m benchmarks.georef_atlas --only j13 am_strip --json out/bench/atlas.json
    .venv/bin/python -m benchmarks.georef_atlas --names          # with the street names read (stop 9)
    .venv/bin/python -m benchmarks.georef_atlas --names-when-failed   # names read only when the search fails

``--names`` reads the street names on each scan (``jadis.georef.auto_names.read_name_cues``; cached
under ``--cache``/names with the reading's wall and CPU seconds; a crop keeps the cues of its parent
inside it) and passes them to ``auto_georeference`` with the sheet's year; the names are located
through whole-city gazetteers of ``../shared`` (Jacoubet 1836 network, SoDUCo 1888 street points)
registered as user gazetteers under a temporary JADIS_HOME (``--cache``/names_home), never shipped.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ALIGNED_M = 20.0
SHEET_AM = "BHdV_PL_ATL20Ardt_1926_0004"
STRIP = "BHdV_PL_ATL20Ardt_1926_0004-VAL-left6000-INPUT_color_border.png"
#: strip pixel + STRIP_OFFSET = sheet pixel: measured by eye on the two graticule crossings printed in
#: the strip (sheet GCPs (3330, 5921) and (5704, 5929) appear at strip (2275, 1667) and (4649, 1675),
#: to about 1 px; the same offset at both, so the strip is not resampled)
STRIP_OFFSET = (1055.0, 4254.0)
#: crops: (parent, size in metres, centre as fractions of the parent's width and height)
CROPS = [
    ("j13", 500, (0.5, 0.5)), ("j22", 500, (0.5, 0.5)), ("j49", 500, (0.4, 0.4)), ("j22", 800, (0.5, 0.5)),
    ("am_strip", 500, (0.7, 0.45)), ("am_strip", 1000, (0.45, 0.5)), ("am_strip", 2000, (0.5, 0.5)),
]


@dataclass
class Item:
    """One benchmark map: its class raster and a truth function pixel -> Lambert-93."""

    name: str
    classes: Path
    size: tuple[int, int]
    truth: object          # callable (N, 2) pixels -> (N, 2) Lambert-93
    eval_px: np.ndarray    # (N, 2) evaluation pixels
    m_per_px: float
    seg_seconds: float | None = None
    scan: Path | None = None       # the scan (to read names on), None for crops
    year: int | None = None
    parent: str | None = None      # a crop's parent map
    offset: tuple[float, float] = (0.0, 0.0)  # a crop's origin in its parent's pixels
    image: Path | None = None      # the scan (or a crop's part of it): where the printed grid is looked for

    def __post_init__(self) -> None:
        if self.image is None:
            self.image = self.scan


def _cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _grid(x0: float, y0: float, x1: float, y1: float, nx: int = 5, ny: int = 5) -> np.ndarray:
    """Points of the inner 80 % of a box."""
    dx, dy = 0.1 * (x1 - x0), 0.1 * (y1 - y0)
    xs = np.linspace(x0 + dx, x1 - dx, nx)
    ys = np.linspace(y0 + dy, y1 - dy, ny)
    return np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)


def _classes(scan: Path, cache: Path) -> tuple[Path, float | None]:
    """The cached class raster of a scan (segmented here if missing) and the segmentation time."""
    dest = cache / "classes" / f"{scan.stem}_classes.tif"
    if dest.is_file():
        return dest, None
    from jadis.pipelines.scan import segment_image

    t0 = time.perf_counter()
    result = segment_image(scan, cache / "classes", vectorize=False, progress=False)
    return Path(result.classes_path), time.perf_counter() - t0


def _to_l93(georef, crs) -> object:  # noqa: ANN001 - Georeference, pyproj CRS
    from jadis.georef.crs import parse_crs

    l93 = parse_crs("EPSG:2154")
    return lambda px: georef.pixel_to_crs(np.asarray(px, float).reshape(-1, 2), l93)


def jacoubet_items(shared: Path, cache: Path) -> list[Item]:
    """The 6 Jacoubet sheets; truth: polynomial-2 fit of the grid crossings measured on each scan."""
    from benchmarks.jacoubet_truth import measured_crossings, sheets
    from jadis.georef.georeference import Georeference
    from jadis.io.images import check_image

    items = []
    for sheet, img, hd_file in sheets(shared):
        info = check_image(img)
        gcps = measured_crossings(img, hd_file)  # grid crossings located on the low-res scan
        truth = Georeference(gcps, "polynomial2", image_size=(info.width, info.height)).validate()
        px = gcps.pixel
        classes, seg = _classes(img, cache)
        mpp = float(np.sqrt(abs(np.linalg.det(truth.jacobian(px[:1])[0]))))
        items.append(Item(f"j{sheet}", classes, (info.width, info.height), _to_l93(truth, None), px, mpp, seg,
                          scan=img, year=1836))
    return items


def strip_item(shared: Path, cache: Path) -> Item:
    from jadis.georef.crs import parse_crs
    from jadis.georef.georeference import Georeference

    sheet = Georeference.load(shared / "georef" / "allmaps_annotations" / "output" / "bhdv_atlas_municipal_1925"
                              / f"{SHEET_AM}.json")
    sheet = Georeference(sheet.gcps, "polynomial1", image_size=sheet.image_size).validate()
    offset = np.array(STRIP_OFFSET)
    l93 = parse_crs("EPSG:2154")

    def truth(px: np.ndarray) -> np.ndarray:
        return sheet.pixel_to_crs(np.asarray(px, float).reshape(-1, 2) + offset, l93)

    scan = shared / "segmentation" / "atlas_municipal_1925_dev" / STRIP
    classes, seg = _classes(scan, cache)
    eval_px = _grid(349, 320, 5999, 2678, 6, 3)
    d = truth(np.array([[3000.0, 1500.0], [3001.0, 1500.0]]))
    return Item("am_strip", classes, (6000, 3000), truth, eval_px, float(np.hypot(*(d[1] - d[0]))), seg,
                scan=scan, year=1925)


def sample_item(cache: Path) -> Item:
    """The bundled 1000 x 800 sample (430 m, what ``jadis demo`` georeferences). Truth: the affine
    fit of its 9 GCPs measured on OpenStreetMap (data/samples/*.points), so good to ~3-10 m only."""
    from jadis.georef.formats import read_gcps
    from jadis.georef.georeference import Georeference
    from jadis.paths import data_dir

    scan = data_dir() / "samples" / "atlas_municipal_1925_crop.png"
    truth = Georeference(read_gcps(scan.with_suffix(".points")), "polynomial1", image_size=(1000, 800)).validate()
    classes, seg = _classes(scan, cache)
    mpp = float(np.sqrt(abs(np.linalg.det(truth.jacobian(np.array([[500.0, 400.0]]))[0]))))
    return Item("sample", classes, (1000, 800), _to_l93(truth, None), _grid(0, 0, 1000, 800), mpp, seg,
                scan=scan, year=1925)


def crop_item(parent: Item, size_m: float, centre: tuple[float, float], cache: Path) -> Item:
    """A square crop of ``size_m`` metres of a parent's class raster (written to the cache)."""
    import cv2

    from jadis.io.images import check_image

    w, h = parent.size
    side = int(round(size_m / parent.m_per_px))
    side = min(side, w, h)
    x0 = int(np.clip(centre[0] * w - side / 2, 0, w - side))
    y0 = int(np.clip(centre[1] * h - side / 2, 0, h - side))
    name = f"{parent.name}_crop{int(size_m)}m_{x0}_{y0}"
    dest = cache / "crops" / f"{name}.png"
    if not dest.is_file():
        import warnings

        import rasterio

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            ds = rasterio.open(parent.classes)
        with ds:
            arr = ds.read(1, window=rasterio.windows.Window(x0, y0, side, side))
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_suffix(".tmp.png")
        cv2.imwrite(str(tmp), arr)
        tmp.replace(dest)
    check_image(dest)
    image = None
    if parent.image is not None:  # the same part of the scan, for the printed grid
        image = cache / "crops" / f"{name}_scan.png"
        if not image.is_file():
            from jadis.io.images import open_image, to_rgb

            with open_image(parent.image) as ds:
                rgb = to_rgb(np.moveaxis(ds.read(window=rasterio_window(x0, y0, side)), 0, -1))
            tmp = image.with_suffix(f".{os.getpid()}.tmp.png")
            cv2.imwrite(str(tmp), np.ascontiguousarray(rgb[..., ::-1]))
            tmp.replace(image)
    offset = np.array([x0, y0], float)
    return Item(name, dest, (side, side), lambda px: parent.truth(np.asarray(px, float) + offset),
                _grid(0, 0, side, side), parent.m_per_px, year=parent.year, parent=parent.name,
                offset=(float(x0), float(y0)), image=image)


def rasterio_window(x0: int, y0: int, side: int) -> object:
    """A square rasterio window."""
    from rasterio.windows import Window

    return Window(x0, y0, side, side)


def items(shared: Path, cache: Path, only: list[str] | None) -> list[Item]:
    base = jacoubet_items(shared, cache) + [strip_item(shared, cache), sample_item(cache)]
    by_name = {it.name: it for it in base}
    out = list(base)
    for parent, size, centre in CROPS:
        out.append(crop_item(by_name[parent], size, centre, cache))
    if only:
        out = [it for it in out if it.name in only or any(it.name.startswith(o.rstrip("*") + "_crop") for o in only
                                                           if o.endswith("*"))]
    return out


#: Name-cue gazetteers registered under a temporary JADIS_HOME by ``--names`` (benchmark-only data in
#: ../shared/data, never shipped): (name, path under shared, years, add_gazetteer options).
NAME_GAZETTEERS = [
    ("bench_jacoubet_1836_city", "gazetteers/jacoubet_1836_network/1836_jacoubet.gpkg", "1825-1845",
     {"name_field": "nom_entier", "kind": "street_network"}),
    ("bench_municipal_1888_points", "gazetteers/soduco_geocoder_centerpoints/atlas_municipal_1888_streets_centerpoints.csv",
     "1870-1905", {"name_field": "street", "x_field": "lon", "y_field": "lat", "crs": "EPSG:4326",
                   "kind": "street_points"}),
]


def name_home(shared: Path, cache: Path) -> Path:
    """A JADIS_HOME holding the whole-city name gazetteers (made once under ``cache``); sets it."""
    home = cache / "names_home"
    os.environ["JADIS_HOME"] = str(home)
    from jadis.geocode.gazetteer import add_gazetteer, list_gazetteers

    have = {i.name for i in list_gazetteers()}
    for name, rel, years, kw in NAME_GAZETTEERS:
        if name not in have:
            add_gazetteer(shared / rel, name, years, **kw)
    return home


def name_cues(it: Item, by_name: dict[str, Item], cache: Path) -> tuple[list, dict]:
    """The name cues of a map (read on its scan once, cached as JSON; a crop keeps the cues of its
    parent that fall inside it) and the reading's cost."""
    from jadis.georef.auto_names import NameCue

    src = by_name[it.parent] if it.parent else it
    if src.scan is None:
        return [], {}
    cues, cost = _cached_reading(cache / "names" / f"{src.name}.json", src.scan, src.classes, src.year)
    if it.parent:
        ox, oy = it.offset
        cues = [NameCue(c.name, c.x - ox, c.y - oy, c.score) for c in cues
                if 0 <= c.x - ox < it.size[0] and 0 <= c.y - oy < it.size[1]]
    return cues, cost if not it.parent else {}


def own_cues(it: Item, cache: Path) -> tuple[list, dict]:
    """The name cues read on the map itself (a crop: on the crop, not its parent), as ``jadis georef
    auto`` reads them when its search fails; cached as JSON with the reading's cost."""
    return _cached_reading(cache / "names_own" / f"{it.name}.json", it.image, it.classes, it.year)


def _cached_reading(dest: Path, scan: Path, classes: Path, year: int | None) -> tuple[list, dict]:
    """The name cues read on ``scan`` (its class raster ``classes``) and the reading's cost, read once
    and cached as JSON in ``dest``."""
    from jadis.georef.auto_names import NameCue, read_name_cues
    from jadis.io.atomic import atomic_write_text

    if not dest.is_file():
        t0, c0 = time.perf_counter(), _cpu()
        cues = read_name_cues(scan, classes, year=year, progress=False)
        cost = {"read_wall_s": round(time.perf_counter() - t0, 1), "read_cpu_s": round(_cpu() - c0, 1)}
        dest.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(dest, json.dumps({"cues": [[c.name, c.x, c.y, c.score] for c in cues], **cost}))
    data = json.loads(dest.read_text(encoding="utf-8"))
    return [NameCue(n, x, y, sc) for n, x, y, sc in data["cues"]], {k: v for k, v in data.items() if k != "cues"}


def run_item(it: Item, reff: object, save: Path | None = None, cues: list | None = None,  # noqa: ANN001 - a ReferenceFields
             grid: bool = True, late_cues: object = None) -> dict:
    from jadis.georef.auto import AutoGeorefFailed, AutoOptions, auto_georeference
    from jadis.georef.auto_search import ReferenceFields

    row: dict = {"map": it.name, "size": f"{it.size[0]}x{it.size[1]}", "m_per_px_truth": round(it.m_per_px, 3),
                 "extent_km": round(max(it.size) * it.m_per_px / 1000, 2)}
    if it.seg_seconds is not None:
        row["segment_s"] = round(it.seg_seconds, 1)
    t0, c0 = time.perf_counter(), _cpu()
    try:
        res = auto_georeference(it.classes, ReferenceFields(reff.ref), AutoOptions(grid="auto" if grid else "none"),
                                progress=False, names=cues, year=it.year, scan=it.image if grid else None,
                                read_names=late_cues)
    except AutoGeorefFailed as exc:
        row.update(status="failed", message=" ".join(str(exc).split()))
    else:
        if save is not None:
            from jadis.georef.auto import write_result

            write_result(res, save / f"{it.name}.json")
        pred = res.georef.pixel_to_world(it.eval_px)
        true = it.truth(it.eval_px)
        err = np.hypot(*(pred - true).T)
        # scale of jadis's result over the truth's (a similarity between the two point sets)
        a, b = pred - pred.mean(axis=0), true - true.mean(axis=0)
        row["scale_vs_truth"] = round(float(np.sqrt((a**2).sum() / (b**2).sum())), 4)
        s = res.summary()
        row.update(status="aligned" if np.median(err) <= ALIGNED_M else "wrong",
                   median_m=round(float(np.median(err)), 2), p90_m=round(float(np.percentile(err, 90)), 2),
                   transform=res.georef.transform, gcps=s["gcps"], cv_error_m=s["cv_error_m"],
                   confidence=s["confidence"], metres_per_pixel=s["metres_per_pixel"],
                   rotation_deg=s["rotation_deg"], stages=s["stages"])
        if "names" in s:
            row["names_prior"] = s["names"]
        if "grid" in s:
            row["grid"] = s["grid"]
    row["wall_s"] = round(time.perf_counter() - t0, 1)
    row["cpu_s"] = round(_cpu() - c0, 1)
    return row


def summarize(rows: list[dict]) -> dict:
    n = len(rows)
    aligned = [r for r in rows if r["status"] == "aligned"]
    return {
        "maps": n,
        "aligned": len(aligned),
        "wrong": sum(r["status"] == "wrong" for r in rows),
        "failed": sum(r["status"] == "failed" for r in rows),
        "median_of_medians_aligned_m": round(float(np.median([r["median_m"] for r in aligned])), 2) if aligned else None,
        "wall_s_mean": round(float(np.mean([r["wall_s"] for r in rows])), 1) if rows else None,
        "wall_s_max": round(float(np.max([r["wall_s"] for r in rows])), 1) if rows else None,
    }


def markdown_table(rows: list[dict]) -> str:
    lines = ["| map | size (px) | extent (km) | status | median / p90 error (m) | transform | GCPs | CV error (m) "
             "| confidence | m/px found (truth) | s |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "median_m" in r:
            lines.append(f"| {r['map']} | {r['size']} | {r['extent_km']} | {r['status']} | {r['median_m']:.1f} / "
                         f"{r['p90_m']:.1f} | {r['transform']} | {r['gcps']} | {r['cv_error_m']:.1f} | "
                         f"{r['confidence']:.2f} | {r['metres_per_pixel']:.3f} ({r['m_per_px_truth']}) | {r['wall_s']:.0f} |")
        else:
            lines.append(f"| {r['map']} | {r['size']} | {r['extent_km']} | failed: {r['message'][:80]} | - | - | - | - "
                         f"| - | - ({r['m_per_px_truth']}) | {r['wall_s']:.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from jadis.georef.auto_inputs import load_reference
    from jadis.georef.auto_search import ReferenceFields
    from jadis.paths import shared_data_dir

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", nargs="*", help="map names (j13, am_strip, j22_crop500m_..., or PARENT* for its crops)")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/jadis_georef_atlas"))
    ap.add_argument("--json", type=Path, help="write the full results here")
    ap.add_argument("--list", action="store_true", help="list the maps and exit")
    ap.add_argument("--save", type=Path, help="write each map's georeference (JSON) into this folder")
    ap.add_argument("--no-grid", action="store_true",
                    help="do not look for the printed grid of the series on the scans (jadis.georef.grid)")
    ap.add_argument("--names", action="store_true",
                    help="give jadis the street names read on each sheet (read once, cached under --cache/names; "
                         "a crop keeps its parent's), located through whole-city gazetteers from ../shared "
                         "registered under a temporary JADIS_HOME (--cache/names_home). Example: "
                         "--only j21 j49 --names")
    ap.add_argument("--names-when-failed", action="store_true",
                    help="as `jadis georef auto` does by default: read the names on the map itself (a crop: the "
                         "crop) only when the search fails without them (cached under --cache/names_own), with "
                         "the gazetteers of --names (what `jadis gazetteer fetch` gives a user)")
    args = ap.parse_args(argv)
    os.environ.setdefault("JADIS_QUIET", "1")
    shared = shared_data_dir()
    if shared is None:
        print("needs ../shared/data (set JADIS_SHARED_DATA)", file=sys.stderr)
        return 1
    todo = items(shared, args.cache, args.only)
    if args.list:
        for it in todo:
            print(it.name, it.size, round(it.m_per_px, 3))
        return 0
    reff = ReferenceFields(load_reference())
    rows = []
    by_name = {it.name: it for it in items(shared, args.cache, None)} if args.names else {}
    if args.names or args.names_when_failed:
        name_home(shared, args.cache)
    for it in todo:
        cues, cost = name_cues(it, by_name, args.cache) if args.names else (None, {})
        late: dict = {}

        def read_late(it: Item = it, late: dict = late) -> list:
            found, late["cost"] = own_cues(it, args.cache)
            late["cues"] = len(found)
            return found

        row = run_item(it, reff, args.save, cues, grid=not args.no_grid,
                       late_cues=read_late if args.names_when_failed else None)
        if args.names:
            row.update(cues=len(cues), **cost)
        if late:
            row.update(late_cues=late["cues"], **late["cost"])
        rows.append(row)
        print(f"{row['map']:32s} {row['status']:8s} {row.get('median_m', '-')!s:>7} m  "
              f"{row.get('message', '')[:90]}  {row['wall_s']:.0f} s", file=sys.stderr, flush=True)
    out = {"summary": summarize(rows), "rows": rows, "load_avg_at_end": os.getloadavg()}
    if args.json:
        from jadis.io.atomic import atomic_write_text

        args.json.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.json, json.dumps(out, indent=1))
    print(json.dumps(out["summary"], indent=1))
    print(markdown_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
