"""Cross-check ``jadis.segment.evaluation.panoptic_quality`` against the ICDAR 2021 reference code.

The reference package ``icdar21-mapseg-eval`` (MIT) pins old numpy/pandas/scikit-image, so it is not a
jadis dependency. Put it in a throwaway folder and point this script at it:

    python -m venv /tmp/icdar && /tmp/icdar/bin/pip download --no-deps icdar21-mapseg-eval -d /tmp/icdar/dl
    (cd /tmp/icdar && unzip -o -q dl/*.whl)            # the package's modules, unpacked
    /tmp/icdar/bin/pip install matplotlib pandas         # what its iou.py imports
    PYTHONPATH=/tmp/icdar/lib/python3.11/site-packages \\
        .venv/bin/python -m benchmarks.seg_pq_crosscheck --reference /tmp/icdar/icdar21_mapseg_eval

It compares PQ / SQ / RQ on random instance maps (rectangles, blurred and speckled copies, empty
predictions) and prints the largest difference: 0 with ``icdar_unique_iou=True`` (the reference
averages distinct IoU values), and a difference only where IoUs tie with the published definition.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import types
from pathlib import Path

import cv2
import numpy as np

from jadis.segment.evaluation import instance_labels, panoptic_quality


def load_reference(folder: Path):  # noqa: ANN201 - the reference module
    """Import the reference ``coco`` module without the package's ``__init__`` (which needs its CLI deps)."""
    pkg = types.ModuleType("icdar21_mapseg_eval")
    pkg.__path__ = [str(folder)]
    sys.modules["icdar21_mapseg_eval"] = pkg
    for name in ("iou", "coco"):
        spec = importlib.util.spec_from_file_location(f"icdar21_mapseg_eval.{name}", folder / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = mod
        spec.loader.exec_module(mod)
    return sys.modules["icdar21_mapseg_eval.coco"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="PQ cross-check against icdar21-mapseg-eval")
    ap.add_argument("--reference", type=Path, required=True, help="folder of the unpacked icdar21_mapseg_eval")
    ap.add_argument("--cases", type=int, default=30)
    args = ap.parse_args(argv)
    coco = load_reference(args.reference)
    rng = np.random.default_rng(0)
    worst_quirk = worst_published = 0.0
    for k in range(args.cases):
        h, w = 300, 400
        gt = np.zeros((h, w), bool)
        for _ in range(int(rng.integers(5, 40))):
            x, y = int(rng.integers(0, w - 20)), int(rng.integers(0, h - 20))
            gt[y:y + int(rng.integers(5, 60)), x:x + int(rng.integers(5, 60))] = True
        noise = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), 3)
        pred = cv2.GaussianBlur(gt.astype(np.float32), (0, 0), rng.uniform(0.5, 4)) > rng.uniform(0.3, 0.7)
        pred ^= noise > np.quantile(noise, 0.97)
        if k % 7 == 0:
            pred[:] = False
        a, b = instance_labels(gt)[0], instance_labels(pred)[0]
        ref = coco.COCO(a.astype(np.uint32), b.astype(np.uint32), mode="labelmap")
        quirk = panoptic_quality(a, b, icdar_unique_iou=True)
        published = panoptic_quality(a, b)
        worst_quirk = max(worst_quirk, *(abs(x - y) for x, y in zip(ref, (quirk.pq, quirk.sq, quirk.rq), strict=True)))
        worst_published = max(worst_published, abs(ref[0] - published.pq))
        print(f"{k:2d} reference PQ {ref[0]:.4f} SQ {ref[1]:.4f} RQ {ref[2]:.4f} | jadis PQ {quirk.pq:.4f} "
              f"(published definition {published.pq:.4f})")
    print(f"largest difference: {worst_quirk:.2e} (icdar_unique_iou=True), {worst_published:.2e} (published)")
    return 0 if worst_quirk < 1e-12 else 1


if __name__ == "__main__":
    sys.exit(main())
