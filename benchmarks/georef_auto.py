"""Benchmark of automatic georeferencing on the SuperMapRealigner dev maps (24 Gallica maps of Paris).

Input: the road masks ``georef/supermaprealigner/masks/*.png`` and the modern OSM road raster
``modern/paris_osm_roads_l93.tif`` from ``../shared/data``. Truth: the 5 manual control points per
map (``gcps_dev.csv``), used ONLY to score the result, never as input.

Metrics (as in the JADIS evaluation): a map is aligned when the median error at its manual GCPs is
<= 50 m; median error in metres over all GCPs; CPU time per map. A map for which jadis says
"failed" is reported as failed (not aligned), apart from maps where it returned a wrong alignment.

    .venv/bin/python -m benchmarks.georef_auto                 # all 24 maps
    .venv/bin/python -m benchmarks.georef_auto --maps btv1b530277395 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

SUCCESS_M = 50.0


def _cpu() -> float:
    """CPU seconds (user + system) of this process and its finished children."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime + c.ru_utime + c.ru_stime


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run(maps: list[str] | None = None, verbose: bool = True, save: Path | None = None) -> dict:
    from jadis.georef.auto import AutoGeorefFailed, auto_georeference
    from jadis.georef.auto_inputs import load_reference
    from jadis.georef.auto_search import ReferenceFields
    from jadis.paths import shared_data_dir

    shared = shared_data_dir()
    if shared is None:
        raise SystemExit("../shared/data not found (set JADIS_SHARED_DATA)")
    root = shared / "georef" / "supermaprealigner"
    truth = pd.read_csv(root / "gcps_dev.csv")
    ids = maps or sorted(truth.map_id.unique())

    t0, c0 = time.perf_counter(), _cpu()
    ref = load_reference(shared / "modern" / "paris_osm_roads_l93.tif")
    ref_load = {"wall_s": time.perf_counter() - t0, "cpu_s": _cpu() - c0}
    if verbose:
        print(f"reference loaded in {ref_load['wall_s']:.1f} s", file=sys.stderr)

    rows = []
    for mid in ids:
        g = truth[truth.map_id == mid]
        px = g[["px_x", "px_y"]].to_numpy(float) + 0.5  # annotated integer pixels -> pixel centres
        world = g[["x_l93", "y_l93"]].to_numpy(float)
        t0, c0 = time.perf_counter(), _cpu()
        row: dict = {"map": mid}
        try:
            # a fresh ReferenceFields per map: its resampled levels are part of each map's cost
            res = auto_georeference(root / "masks" / f"{mid}.png", ReferenceFields(ref), progress=False)
        except AutoGeorefFailed as exc:
            row.update(status="failed", message=str(exc))
        else:
            if save is not None:
                from jadis.georef.auto import write_result

                write_result(res, Path(save) / f"{mid}.json")
            pred = res.georef.pixel_to_world(px)
            err = np.hypot(*(pred - world).T)
            s = res.summary()
            row.update(status="aligned" if np.median(err) <= SUCCESS_M else "wrong",
                       errors_m=[round(float(e), 2) for e in err],
                       residuals_m=[[round(float(v), 2) for v in d] for d in pred - world], median_m=round(float(np.median(err)), 2),
                       transform=res.georef.transform, gcps=s["gcps"], cv_error_m=s["cv_error_m"],
                       confidence=s["confidence"], search_margin=s["search_margin"],
                       metres_per_pixel=s["metres_per_pixel"], rotation_deg=s["rotation_deg"], stages=s["stages"])
        row["wall_s"] = round(time.perf_counter() - t0, 2)
        row["cpu_s"] = round(_cpu() - c0, 2)
        rows.append(row)
        if verbose:
            extra = (f"median {row['median_m']:6.1f} m  {row['transform']:11s} {row['gcps']:4d} GCPs  "
                     f"cv {row['cv_error_m']:5.1f} m  conf {row['confidence']:.2f}"
                     if "median_m" in row else row.get("message", ""))
            print(f"{mid:16s} {row['status']:8s} {extra}  cpu {row['cpu_s']:5.1f} s  wall {row['wall_s']:5.1f} s",
                  file=sys.stderr, flush=True)
    return summarize(rows, ref_load)


def run_negatives(maps: list[str] | None = None, verbose: bool = True) -> dict:
    """Mirror-image maps (flipped left-right): no similarity or smooth warp can align a mirrored
    Paris with Paris, so every one of them should end in "failed". Measures false alignments."""
    from dataclasses import replace

    from jadis.georef.auto import AutoGeorefFailed, auto_georeference
    from jadis.georef.auto_inputs import load_map_roads, load_reference
    from jadis.georef.auto_search import ReferenceFields
    from jadis.paths import shared_data_dir

    shared = shared_data_dir()
    if shared is None:
        raise SystemExit("../shared/data not found (set JADIS_SHARED_DATA)")
    root = shared / "georef" / "supermaprealigner"
    ids = maps or sorted(p.stem for p in (root / "masks").glob("*.png"))
    ref = load_reference(shared / "modern" / "paris_osm_roads_l93.tif")
    rows = []
    for mid in ids:
        roads = load_map_roads(root / "masks" / f"{mid}.png")
        mirrored = replace(roads, mask=np.ascontiguousarray(roads.mask[:, ::-1]))
        t0, c0 = time.perf_counter(), _cpu()
        try:
            res = auto_georeference(mirrored, ReferenceFields(ref), progress=False)
        except AutoGeorefFailed as exc:
            row = {"map": mid, "status": "failed", "message": str(exc)}
        else:
            s = res.summary()
            row = {"map": mid, "status": "returned", "confidence": s["confidence"], "gcps": s["gcps"],
                   "cv_error_m": s["cv_error_m"], "search_margin": s["search_margin"]}
        row.update(cpu_s=round(_cpu() - c0, 2), wall_s=round(time.perf_counter() - t0, 2))
        rows.append(row)
        if verbose:
            print(f"{mid:16s} mirrored: {row['status']:8s} {row.get('message', row)}", file=sys.stderr, flush=True)
    return {"maps": len(rows), "failed": sum(r["status"] == "failed" for r in rows),
            "returned": sum(r["status"] == "returned" for r in rows), "rows": rows}


def summarize(rows: list[dict], ref_load: dict) -> dict:
    n = len(rows)
    aligned = [r for r in rows if r["status"] == "aligned"]
    wrong = [r for r in rows if r["status"] == "wrong"]
    failed = [r for r in rows if r["status"] == "failed"]
    returned = [e for r in rows if "errors_m" in r for e in r["errors_m"]]
    n_gcps_all = 5 * n
    all_with_fail = returned + [float("inf")] * (n_gcps_all - len(returned))
    cpu = [r["cpu_s"] for r in rows]
    wall = [r["wall_s"] for r in rows]
    return {
        "maps": n,
        "aligned": len(aligned),
        "success_rate": round(len(aligned) / n, 4) if n else None,
        "wrong": len(wrong),
        "failed": len(failed),
        "median_error_m_returned": round(float(np.median(returned)), 2) if returned else None,
        "median_error_m_all_gcps": round(float(np.median(all_with_fail)), 2) if n else None,
        "median_error_m_aligned": round(float(np.median([e for r in aligned for e in r["errors_m"]])), 2)
        if aligned else None,
        "p90_error_m_returned": round(float(np.percentile(returned, 90)), 2) if returned else None,
        "cpu_s_per_map_mean": round(float(np.mean(cpu)), 2) if cpu else None,
        "cpu_s_per_map_max": round(float(np.max(cpu)), 2) if cpu else None,
        "wall_s_per_map_mean": round(float(np.mean(wall)), 2) if wall else None,
        "reference_load": {k: round(v, 2) for k, v in ref_load.items()},
        "rows": rows,
    }


def markdown_table(summary: dict) -> str:
    lines = ["| map | status | median error (m) | errors at the 5 GCPs (m) | transform | GCPs | CV error (m) | "
             "confidence | m/px | CPU s |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in summary["rows"]:
        if "errors_m" in r:
            errs = ", ".join(f"{e:.0f}" for e in r["errors_m"])
            lines.append(f"| {r['map']} | {r['status']} | {r['median_m']:.1f} | {errs} | {r['transform']} | {r['gcps']} "
                         f"| {r['cv_error_m']:.1f} | {r['confidence']:.2f} | {r['metres_per_pixel']:.3f} "
                         f"| {r['cpu_s']:.1f} |")
        else:
            lines.append(f"| {r['map']} | failed | - | - | - | - | - | - | - | {r['cpu_s']:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--maps", nargs="*", help="map ids (default: all 24)")
    ap.add_argument("--json", type=Path, help="write the full results here")
    ap.add_argument("--table", action="store_true", help="print the per-map markdown table")
    ap.add_argument("--save", type=Path, help="write each map's georeference (JSON) into this folder")
    ap.add_argument("--negatives", action="store_true",
                    help="run on the mirrored maps instead (all should fail): false-alignment rate")
    args = ap.parse_args(argv)
    os.environ.setdefault("JADIS_QUIET", "1")
    if args.negatives:
        neg = run_negatives(args.maps)
        if args.json:
            args.json.write_text(json.dumps(neg, indent=1))
        print(json.dumps({k: v for k, v in neg.items() if k != "rows"}, indent=1))
        return
    summary = run(args.maps, save=args.save)
    summary["machine"] = {"cpu": cpu_model(), "cores": os.cpu_count(), "load_avg_at_end": os.getloadavg()}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=1))
    head = {k: v for k, v in summary.items() if k != "rows"}
    print(json.dumps(head, indent=1))
    if args.table:
        print(markdown_table(summary))


if __name__ == "__main__":
    main()
