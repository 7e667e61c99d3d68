"""Round trip of the real georeferencing files: ~450 Allmaps annotations and ~400 QGIS .points.

Reads ``../shared/data/georef/allmaps_annotations`` (not shippable, so not in the tests):

1. every Allmaps annotation (AnnotationPage, 1 or several items): read with jadis, checked
   against a plain JSON parse of the same file (pixelCoords, lon/lat, transformation, SVG size and
   polygon, image id), written back as an annotation, as QGIS .points and as CSV, and read again:
   the GCPs must come back unchanged (pixels to 1e-6 px, lon/lat to 1e-9 degree ~ 0.1 mm);
2. every .points file, read with the grid CRS of its atlas (the ``#CRS`` headers of the Verniquet
   files are wrong: overridden), written and read back; its GCPs are then projected to WGS84 and
   compared with the lon/lat of the same GCPs in the published annotation (matched by pixel
   position): this checks the named grids VERNIQUET-toise / VERNIQUET-m / ATLAS-MUN on real data;
3. the declared transform of every annotation is fitted (counting the files with too few GCPs).

Run: ``.venv/bin/python -m benchmarks.georef_roundtrip``; prints a summary (and failures).
"""

from __future__ import annotations

import csv
import json
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from jadis.errors import JadisError
from jadis.georef.crs import ground_distance, parse_crs, to_wgs84
from jadis.georef.formats import read_gcps, write_gcps
from jadis.georef.formats.allmaps import read_annotations, transformation_from_allmaps, write_annotations
from jadis.paths import shared_data_dir

#: atlas folder -> CRS of its .points grid coordinates
ATLAS_CRS = {
    "bnf_verniquet": "VERNIQUET-toise", "rumsey_verniquet": "VERNIQUET-toise",
    "SHDGR__GR_6_M_J10_C_1188": "VERNIQUET-toise", "jacoubet": "VERNIQUET-m", "FRAD094_3P": "EPSG:2154",
    **{f"bhdv_atlas_municipal_{y}": "ATLAS-MUN" for y in (1868, 1878, 1886, 1887, 1888, 1900, 1912, 1925, 1937)},
}


def _raw_items(path: Path) -> list[dict]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return data["items"] if data.get("type") == "AnnotationPage" else [data]


def check_annotation(path: Path, tmp: Path, problems: list[str], stats: Counter) -> None:
    items = read_annotations(path)
    raw = _raw_items(path)
    stats["annotation items"] += len(items)
    for g, r in zip(items, raw, strict=True):
        feats = r["body"]["features"]
        px = np.array([f["properties"]["pixelCoords"] for f in feats], float)
        ll = np.array([f["geometry"]["coordinates"] for f in feats], float)
        stats["annotation GCPs"] += len(px)
        ours_ll = to_wgs84(g.gcps.world, g.crs)
        if not (np.allclose(g.gcps.pixel, px, atol=1e-9) and np.allclose(ours_ll, ll, atol=1e-9)):
            problems.append(f"{path.name}: GCPs differ from a plain JSON parse")
        if g.transform != transformation_from_allmaps(r["body"].get("transformation")):
            problems.append(f"{path.name}: transformation differs")
        svg = r["target"]["selector"]["value"]
        w, h = (int(v) for v in re.search(r'width="(\d+)" height="(\d+)"', svg).groups())
        if g.image_size != (w, h):
            problems.append(f"{path.name}: image size {g.image_size} != {(w, h)}")
        nums = [float(v) for v in re.findall(r"-?\d+\.?\d*", re.search(r'points="([^"]*)"', svg).group(1))]
        poly = np.array(nums).reshape(-1, 2)
        if np.allclose(poly[0], poly[-1]) and len(poly) > 3:
            poly = poly[:-1]
        if g.mask is None or not np.allclose(g.mask, poly):
            problems.append(f"{path.name}: clip polygon differs")
        # write it back in three formats and read again
        back = read_annotations(write_annotations(tmp / "a.json", [g], include_report=False))[0]
        for name, other in (("annotation", back.gcps), ("points", read_gcps(write_gcps(tmp / "a.points", g.gcps))),
                            ("csv", read_gcps(write_gcps(tmp / "a.csv", g.gcps)))):
            o_ll = to_wgs84(other.world, other.crs)
            ok = np.allclose(other.pixel, g.gcps.pixel, atol=1e-6) and np.allclose(o_ll, ll, atol=1e-9)
            stats[f"round trip {name} ok"] += ok
            if not ok:
                problems.append(f"{path.name}: {name} round trip changed the GCPs")
        if (back.transform, back.image_size, back.image) != (g.transform, g.image_size, g.image) or \
                not np.allclose(back.mask, g.mask):
            problems.append(f"{path.name}: annotation round trip changed transform/size/image/mask")
        try:
            g.validate()
            g.pixel_to_world(g.gcps.pixel[:1])
            stats["declared transform fitted"] += 1
        except JadisError as exc:
            stats["declared transform not fittable"] += 1
            problems.append(f"{path.name}: (upstream data) {exc}")


def check_points(root: Path, tmp: Path, problems: list[str], stats: Counter, dist: dict) -> None:
    for index in sorted(root.glob("*.csv")):
        atlas = index.stem
        if atlas not in ATLAS_CRS:
            continue
        crs = parse_crs(ATLAS_CRS[atlas])
        with index.open(encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        for row in rows:
            pfile = root / row["gcp_file"]
            if not pfile.is_file():
                continue
            g = read_gcps(pfile, crs=crs)
            stats["points files"] += 1
            stats["points GCPs"] += len(g)
            again = read_gcps(write_gcps(tmp / "p.points", g))
            ok = np.allclose(again.pixel, g.pixel, atol=1e-9) and np.allclose(again.world, g.world, atol=1e-9) \
                and list(again.enabled) == list(g.enabled)
            stats["points round trip ok"] += ok
            if not ok:
                problems.append(f"{pfile.name}: .points round trip changed the GCPs")
            ann = root / row.get("annotation_output", "")
            if not ann.is_file():
                continue
            a = read_annotations(ann)[0]
            ll = to_wgs84(a.gcps.world, a.crs)
            act = g.active()
            for p, w in zip(act.pixel, act.world, strict=True):
                d = np.hypot(*(a.gcps.pixel - p).T)
                k = int(np.argmin(d))
                if d[k] <= 1.0:  # the annotation rounds pixelCoords to integers
                    ours = to_wgs84(w[None], crs)
                    dist[atlas].append(float(ground_distance(ours, ll[k:k + 1], parse_crs("OGC:CRS84"))[0]))


def main() -> int:
    shared = shared_data_dir()
    if shared is None:
        print("needs ../shared/data")
        return 1
    root = shared / "georef" / "allmaps_annotations"
    problems: list[str] = []
    stats: Counter = Counter()
    dist: dict[str, list[float]] = defaultdict(list)
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        files = sorted((root / "output").glob("*/*.json"))
        stats["annotation files"] = len(files)
        for path in files:
            try:
                check_annotation(path, tmp, problems, stats)
            except JadisError as exc:
                problems.append(f"{path.name}: cannot read: {exc}")
        check_points(root, tmp, problems, stats, dist)
    print(f"georef round trip on {root} ({time.time() - t0:.0f} s)")
    for k, v in stats.items():
        print(f"  {k}: {v}")
    print("  .points grid coordinates -> WGS84 vs the published annotation lon/lat (matched GCPs):")
    for atlas, d in sorted(dist.items()):
        a = np.array(d)
        print(f"    {atlas:28s} {ATLAS_CRS[atlas]:16s} n={len(a):5d} median {np.median(a):.3f} m  max {a.max():.3f} m")
    data_problems = [p for p in problems if "(upstream data)" in p]
    real = [p for p in problems if "(upstream data)" not in p]
    print(f"  upstream data issues: {len(data_problems)}")
    for p in data_problems:
        print(f"    {p}")
    print(f"  FAILURES: {len(real)}")
    for p in real[:50]:
        print(f"    {p}")
    return 0 if not real else 1


if __name__ == "__main__":
    sys.exit(main())
