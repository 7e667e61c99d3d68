"""Vectorization alone, on an 80 MP class raster made of real ground truth.

The class mask derived from the Atlas municipal 1925 outlines (6000 × 3000, 184 blocks, see
``jadis.segment.gt``) is tiled into a 10 000 × 8 000 raster, with 3 000 short text labels stamped on
it, and vectorized by windows as ``jadis segment`` does. Also checks that the result does not depend
on the window size (same blocks, street graph and labels with 4096 px and 1024 px windows, on the
6000 × 3000 crop).

    .venv/bin/python -m benchmarks.seg_vectorize
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time

import cv2
import numpy as np

from jadis.paths import ROOT

OUT = ROOT / "out" / "bench"


def build_raster(gt: np.ndarray, path) -> None:  # noqa: ANN001
    import rasterio

    h, w = 8000, 10000
    big = np.zeros((h, w), np.uint8)
    for y in range(0, h, gt.shape[0]):
        for x in range(0, w, gt.shape[1]):
            part = gt if (x // gt.shape[1] + y // gt.shape[0]) % 2 == 0 else gt[:, ::-1]
            big[y:y + min(gt.shape[0], h - y), x:x + min(gt.shape[1], w - x)] = part[:h - y, :w - x]
    rng = np.random.default_rng(0)
    for _ in range(3000):
        cv2.putText(big, "Rue", (int(rng.integers(0, w)), int(rng.integers(0, h))), cv2.FONT_HERSHEY_SIMPLEX, 0.6, 3, 2)
    with rasterio.open(path, "w", driver="GTiff", width=w, height=h, count=1, dtype="uint8", tiled=True,
                       blockxsize=512, blockysize=512, compress="deflate") as ds:
        ds.write(big[None])


def summary(layers) -> dict:  # noqa: ANN001
    import networkx as nx

    s = layers["streets"]
    g = nx.MultiGraph()
    g.add_edges_from(zip(s.node_start, s.node_end, strict=True))
    return {"blocks": len(layers["blocks"]), "block_area": float(layers["blocks"].area.sum()),
            "streets": len(s), "street_length": float(s.length.sum()), "nodes": len(layers["street_nodes"]),
            "junctions": int((layers["street_nodes"].degree >= 3).sum()), "labels": len(layers["labels"]),
            "graph_components": nx.number_connected_components(g) if len(s) else 0}


def main() -> int:
    import warnings

    from jadis.segment.datasets import load_dev_crop
    from jadis.vectorize.layers import vectorize_array, vectorize_class_raster

    warnings.simplefilter("ignore")
    gt = load_dev_crop().classes
    result = {"date": time.strftime("%Y-%m-%d %H:%M %Z")}
    a = summary(vectorize_array(gt, window=4096))
    b = summary(vectorize_array(gt, window=1024))
    result["crop_window_4096"], result["crop_window_1024"] = a, b
    same = all(a[k] == b[k] for k in ("blocks", "streets", "nodes", "junctions", "labels", "graph_components"))
    print(f"6000x3000 crop: {a}")
    print(f"window 4096 vs 1024: same topology: {same}; block area {a['block_area']:.0f} vs {b['block_area']:.0f}, "
          f"street length {a['street_length']:.0f} vs {b['street_length']:.0f}")
    path = OUT / "classes_10000x8000.tif"
    OUT.mkdir(parents=True, exist_ok=True)
    if not path.is_file():
        build_raster(gt, path)
    load = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    layers = vectorize_class_raster(path, progress=False)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    big = summary(layers)
    result.update({"sheet": big, "wall_s": wall, "cpu_s": cpu, "load_before": load, "load_after": os.getloadavg()[0],
                   "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6})
    print(f"10000x8000: {big}")
    print(f"| vectorize 80 MP | {wall:.1f} s wall | {cpu:.1f} s CPU | {80 / wall:.1f} MP/s | peak RSS "
          f"{result['peak_rss_gb']:.2f} GB | load {load:.1f} -> {result['load_after']:.1f} |")
    (OUT / "seg_vectorize.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
