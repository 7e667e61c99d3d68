"""Post-processing levers of the segmentation, on the real validation region, from one set of logits.

The logits of the validation region (:data:`jadis.segment.datasets.VAL_REGION` of the Atlas municipal
1925 dev crop) are computed once per checkpoint and input scale (tiles of ``--tile`` px overlapping by
``--overlap``, ``--tta`` views, overlapping tiles averaged **uniformly**, not with the blend weights of
``jadis segment``: compare the rows with one another, not with ``benchmarks.seg_accuracy``), then each
variant turns them into a class raster that :func:`benchmarks.seg_accuracy.score_real` scores (blocks
layer PQ, street IoU with text absorbed):

* ``baseline``: arg-max, then the speck clean-up of ``jadis segment`` (blocks under 400 px relabelled);
* ``street+B``: the street logit raised by B before the arg-max;
* ``min-area N``: the clean-up with blocks under N px relabelled (what a "confident core" filter amounts to);
* ``watershed``: each predicted block split by a watershed on p(street) + p(other), seeded by its
  >= 90 % sure block / text cores (2 px erosion, >= 50 px), basins merged back where the ridge between
  them is weak (mean p(street) + p(other) on it < 0.25);
* with ``--scales``: the network run at other input scales (same weights).

    .venv/bin/python -m benchmarks.seg_postprocess --json out/bench/seg_postprocess.json
    .venv/bin/python -m benchmarks.seg_postprocess --scales 0.625 0.75     # also other input scales (slow)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from jadis.segment.classes import MapClass


def region_logits(image: np.ndarray, predictor, tile: int, overlap: int) -> np.ndarray:  # noqa: ANN001
    """(C, H, W) logits of ``image``, overlapping tiles averaged uniformly."""
    h, w = image.shape[:2]
    step = tile - overlap
    acc = np.zeros((predictor.num_classes, h, w), np.float32)
    count = np.zeros((h, w), np.float32)
    for y0 in range(0, max(h - overlap, 1), step):
        for x0 in range(0, max(w - overlap, 1), step):
            y1, x1 = min(h, y0 + tile), min(w, x0 + tile)
            acc[:, y0:y1, x0:x1] += predictor.logits(image[None, y0:y1, x0:x1])[0]
            count[y0:y1, x0:x1] += 1
    return acc / np.maximum(count, 1)


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def classes_of(logits: np.ndarray, street_bias: float = 0.0, min_block_area: int | None = None) -> np.ndarray:
    """Arg-max (the street logit raised by ``street_bias``) and the speck clean-up."""
    from jadis.segment.postprocess import MIN_BLOCK_AREA, clean_classes

    scores = logits.copy()
    scores[int(MapClass.STREET)] += street_bias
    raw = scores.argmax(axis=0).astype(np.uint8)
    return clean_classes(raw, min_block_area=MIN_BLOCK_AREA if min_block_area is None else min_block_area)


def watershed_split(logits: np.ndarray, sure: float = 0.9, erosion: int = 2, min_seed: int = 50,
                    weak_ridge: float = 0.25) -> np.ndarray:
    """The baseline classes with each predicted block split along weak street evidence (see the module)."""
    from scipy import ndimage as ndi
    from skimage.segmentation import watershed

    cls = classes_of(logits)
    p = softmax(logits)
    open_p = p[int(MapClass.STREET)] + p[int(MapClass.OTHER)]
    block = (cls == MapClass.BLOCK) | (cls == MapClass.TEXT)
    core = ((p[int(MapClass.BLOCK)] + p[int(MapClass.TEXT)]) >= sure) & block
    core = ndi.binary_erosion(core, iterations=erosion)
    seeds, n = ndi.label(core)
    if n == 0:
        return cls
    sizes = np.bincount(seeds.ravel())
    seeds[sizes[seeds] < min_seed] = 0
    basins = watershed(open_p, seeds, mask=block)
    # ridge pixels: pixels whose right or lower neighbour lies in another basin; a pair of basins is
    # cut where the mean open-space probability along their common ridge is high
    out = cls.copy()
    n_basins = int(basins.max()) + 1
    ys, xs, pair, value = [], [], [], []
    for dy, dx in ((0, 1), (1, 0)):
        a, b = basins[:basins.shape[0] - dy, :basins.shape[1] - dx], basins[dy:, dx:]
        y, x = np.nonzero((a != b) & (a > 0) & (b > 0))
        lo, hi = np.minimum(a[y, x], b[y, x]), np.maximum(a[y, x], b[y, x])
        ys.append(y)
        xs.append(x)
        pair.append(lo.astype(np.int64) * n_basins + hi)
        value.append((open_p[y, x] + open_p[y + dy, x + dx]) / 2)
    ys, xs, pair, value = (np.concatenate(v) for v in (ys, xs, pair, value))
    if len(pair) == 0:
        return out
    _, index = np.unique(pair, return_inverse=True)
    mean = np.bincount(index, weights=value) / np.bincount(index)
    cut = mean[index] >= weak_ridge
    out[ys[cut], xs[cut]] = int(MapClass.STREET)   # ridge pixels lie inside the block mask
    return out


def _row(name: str, scores: dict) -> dict:
    lay = scores["block_pq_layer"]
    return {"variant": name, "pq": round(lay["pq"], 3), "sq": round(lay["sq"], 3), "rq": round(lay["rq"], 3),
            "matched": lay["tp"], "predicted": lay["n_pred"], "true": lay["n_true"],
            "street_iou": round(scores["street_iou"], 3)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", type=Path, default=None)
    ap.add_argument("--tile", type=int, default=1024)
    ap.add_argument("--overlap", type=int, default=128)
    ap.add_argument("--tta", type=int, default=2)
    ap.add_argument("--scales", type=float, nargs="*", default=[], help="also run the network at these input scales")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    from benchmarks.seg_accuracy import score_real
    from jadis.segment.datasets import VAL_REGION, load_dev_crop
    from jadis.segment.predictor import default_checkpoint, load_predictor

    ckpt = args.checkpoint or default_checkpoint()
    crop = load_dev_crop()
    x0, y0, x1, y1 = VAL_REGION
    image, gt, valid = crop.image[y0:y1, x0:x1], crop.classes[y0:y1, x0:x1], crop.content[y0:y1, x0:x1]
    predictor = load_predictor(ckpt, tta=args.tta)
    t = time.time()
    logits = region_logits(image, predictor, args.tile, args.overlap)
    rows = [{**_row("baseline", score_real(classes_of(logits), gt, valid)), "logits_s": round(time.time() - t, 1)}]
    for bias in (0.25, 0.5, 1.0, 1.5):
        rows.append(_row(f"street+{bias}", score_real(classes_of(logits, street_bias=bias), gt, valid)))
    for area in (700, 1000, 1500):
        rows.append(_row(f"min-area {area}", score_real(classes_of(logits, min_block_area=area), gt, valid)))
    rows.append(_row("watershed", score_real(watershed_split(logits), gt, valid)))
    for scale in args.scales:
        predictor.arch.extra["input_scale"] = scale
        t = time.time()
        scaled = region_logits(image, predictor, args.tile, args.overlap)
        rows.append({**_row(f"input scale {scale}", score_real(classes_of(scaled), gt, valid)),
                     "logits_s": round(time.time() - t, 1)})
    print("| variant | blocks-layer PQ / SQ / RQ (matched / predicted / true) | street IoU |")
    print("|---|---|---|")
    for r in rows:
        print(f"| {r['variant']} | {r['pq']:.3f} / {r['sq']:.3f} / {r['rq']:.3f} ({r['matched']} / {r['predicted']} / "
              f"{r['true']}) | {r['street_iou']:.3f} |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"checkpoint": str(ckpt), "tta": args.tta, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
