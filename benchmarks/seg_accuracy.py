"""Segmentation accuracy on the real validation region and on synthetic validation tiles.

Real data: the validation region (:data:`jadis.segment.datasets.VAL_REGION`) of the Atlas municipal
1925 crop, never seen in training, with the class mask derived from its hand-drawn outlines; scored
inside the map-content mask. Reported:

* block PQ / SQ / RQ exactly as ICDAR 2021 MapSeg task 1 (4-connected components of class 2 inside
  the content mask, match at IoU > 0.5, see :mod:`jadis.segment.evaluation`), for the class raster
  ``jadis segment`` writes, for the same without the speck clean-up (``--raw``), and for the
  ``blocks`` layer of the GeoPackage (the vectors a user gets, rasterized back); also with the
  reference code's averaging of distinct IoUs;
* street, block and other IoU (text pixels of the prediction take the class around them, as the
  ground truth gives text the class under it), and the same raw;
* arg-max agreement of bf16 vs fp32, and of tiled vs whole-image inference;
* on the bundled sample crop (a part of the validation region), the PQ the end-to-end test checks (with the default `--tta`, as that test runs it).

Synthetic data (the only text ground truth): ``jadis synth --n 64 --size 640 --seed 999`` (the
synthetic validation set of configs/unet-lite0-v1*.yaml): text, street and block IoU over all tiles.

    .venv/bin/python -m benchmarks.seg_accuracy [--checkpoint checkpoints/jadis-unet-v1.pt]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

from jadis.paths import ROOT
from jadis.segment.classes import MapClass

OUT = ROOT / "out" / "bench"


def blocks_layer_classes(classes: np.ndarray) -> np.ndarray:
    """The ``blocks`` layer of the GeoPackage rasterized back onto the pixel grid (class 2 / 0)."""
    from rasterio import features

    from jadis.vectorize.layers import vectorize_array

    blocks = vectorize_array(classes)["blocks"]
    out = np.zeros(classes.shape, np.uint8)
    if len(blocks):
        out = features.rasterize(((g, int(MapClass.BLOCK)) for g in blocks.geometry), out_shape=classes.shape,
                                 fill=0, dtype="uint8")
    return out


def score_real(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray) -> dict:
    from jadis.segment.evaluation import block_pq, class_iou
    from jadis.vectorize.cleanup import absorb_text

    resolved = absorb_text(pred)
    layer = blocks_layer_classes(pred)
    out = {
        "block_pq_raw": block_pq(gt, pred, valid).as_dict(),
        "block_pq_layer": block_pq(gt, layer, valid).as_dict(),
        "block_pq_layer_icdar_unique": block_pq(gt, layer, valid, icdar_unique_iou=True).as_dict(),
        "block_pq_raw_icdar_unique": block_pq(gt, pred, valid, icdar_unique_iou=True).as_dict(),
    }
    for name, cls in (("street", MapClass.STREET), ("block", MapClass.BLOCK), ("other", MapClass.OTHER)):
        out[f"{name}_iou"] = class_iou(gt, resolved, cls, valid)
        out[f"{name}_iou_raw"] = class_iou(gt, pred, cls, valid)
    out["text_fraction"] = float(np.count_nonzero((pred == MapClass.TEXT) & valid) / max(1, np.count_nonzero(valid)))
    return out


def synth_set(n: int, size: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The synthetic validation tiles (generated once into out/bench/)."""
    from PIL import Image

    from jadis.segment.synth import SynthConfig, generate_dataset, generate_sample

    folder = OUT / f"synth_val_n{n}_s{size}_seed{seed}"
    manifest = folder / "manifest.jsonl"
    config = SynthConfig(size=size)
    if manifest.is_file():  # still what the generator makes today? (its mask rules may have changed)
        first = generate_sample(np.random.SeedSequence([seed, 0]), config)
        cached = np.asarray(Image.open(folder / "masks" / "000000.png"))
        if not np.array_equal(first.mask, cached):
            manifest.unlink()
    if not manifest.is_file():
        generate_dataset(folder, n, config, seed=seed)
    pairs = []
    for line in manifest.read_text().splitlines():
        rec = json.loads(line)
        img = np.asarray(Image.open(folder / rec["image"]).convert("RGB"))
        mask = np.asarray(Image.open(folder / rec["mask"]))
        pairs.append((img, mask))
    return pairs


def score_synth(predictor, pairs, tile: int, overlap: int) -> dict:  # noqa: ANN001
    from jadis.segment.infer import predict_array

    inter = np.zeros(4)
    union = np.zeros(4)
    for img, mask in pairs:
        pred = predict_array(img, predictor, tile=tile, overlap=overlap)
        for c in range(4):
            inter[c] += np.count_nonzero((pred == c) & (mask == c))
            union[c] += np.count_nonzero((pred == c) | (mask == c))
    iou = inter / np.maximum(union, 1)
    return {"tiles": len(pairs), "text_iou": iou[3], "street_iou": iou[1], "block_iou": iou[2], "other_iou": iou[0]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="segmentation accuracy benchmark")
    ap.add_argument("--checkpoint", type=Path, default=None)
    ap.add_argument("--tile", type=int, default=1024)
    ap.add_argument("--overlap", type=int, default=128)
    ap.add_argument("--synth-n", type=int, default=64)
    ap.add_argument("--synth-size", type=int, default=640)
    ap.add_argument("--synth-seed", type=int, default=999)
    ap.add_argument("--tta", default="2,4", help="also score these test-time augmentation views (comma list; '' for none)")
    ap.add_argument("--out", type=Path, default=OUT / "seg_accuracy.json")
    args = ap.parse_args(argv)

    from PIL import Image

    from jadis.paths import data_dir
    from jadis.segment.datasets import VAL_REGION, load_dev_crop
    from jadis.segment.evaluation import block_pq
    from jadis.segment.infer import predict_array
    from jadis.segment.predictor import DEFAULT_TTA, default_checkpoint, load_predictor

    ckpt = args.checkpoint or default_checkpoint()
    started = time.time()
    crop = load_dev_crop()
    x0, y0, x1, y1 = VAL_REGION
    image = crop.image[y0:y1, x0:x1]
    gt = crop.classes[y0:y1, x0:x1]
    valid = crop.content[y0:y1, x0:x1]
    result: dict = {"checkpoint": str(ckpt), "val_region": list(VAL_REGION), "tile": args.tile,
                    "overlap": args.overlap, "machine": platform.processor() or platform.machine()}

    fast = load_predictor(ckpt, tta=1)  # what `jadis segment --tta 1` uses (bf16 where supported)
    ref = load_predictor(ckpt, naive=True)  # fp32
    t = time.time()
    pred = predict_array(image, fast, tile=args.tile, overlap=args.overlap)
    result["seconds_val_region"] = time.time() - t
    result["precision"] = fast.precision
    result["real"] = score_real(pred, gt, valid)
    raw = predict_array(image, fast, tile=args.tile, overlap=args.overlap, clean=False)
    result["real_no_cleanup"] = score_real(raw, gt, valid)
    pred32 = predict_array(image, ref, tile=args.tile, overlap=args.overlap)
    result["real_fp32"] = score_real(pred32, gt, valid)
    result["agreement_bf16_fp32"] = float((pred == pred32)[valid].mean())
    whole = predict_array(image, ref, tile=max(image.shape[:2]) + 64, overlap=0)
    result["agreement_tiled_whole_fp32"] = float((pred32 == whole)[valid].mean())

    for views in [int(v) for v in args.tta.split(",") if v.strip()]:
        fast.tta = views
        t = time.time()
        result[f"real_tta{views}"] = score_real(predict_array(image, fast, tile=args.tile, overlap=args.overlap),
                                                gt, valid)
        result[f"real_tta{views}"]["seconds"] = time.time() - t
    fast.tta = 1

    sample = data_dir() / "samples" / "atlas_municipal_1925_crop.png"
    if sample.is_file():
        s_img = np.asarray(Image.open(sample).convert("RGB"))
        s_gt = np.asarray(Image.open(sample.with_name("atlas_municipal_1925_crop_classes.png")))
        s_valid = np.asarray(Image.open(sample.with_name("atlas_municipal_1925_crop_content.png"))) > 0
        fast.tta = DEFAULT_TTA  # as `jadis segment` runs it, as the end-to-end test does
        s_pred = predict_array(s_img, fast, tile=args.tile, overlap=args.overlap)
        fast.tta = 1
        result["sample_crop"] = {"block_pq_raw": block_pq(s_gt, s_pred, s_valid).as_dict(),
                                 "block_pq_layer": block_pq(s_gt, blocks_layer_classes(s_pred), s_valid).as_dict()}

    pairs = synth_set(args.synth_n, args.synth_size, args.synth_seed)
    result["synthetic"] = score_synth(fast, pairs, args.tile, args.overlap)
    result["synthetic"]["set"] = f"jadis synth --n {args.synth_n} --size {args.synth_size} --seed {args.synth_seed}"
    result["seconds_total"] = time.time() - started

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=float) + "\n")
    r, s = result["real"], result["synthetic"]
    lay, raw = r["block_pq_layer"], r["block_pq_raw"]
    print(f"checkpoint {ckpt} ({fast.precision}), tile {args.tile}, overlap {args.overlap}")
    print(f"| blocks layer PQ / SQ / RQ | {lay['pq']:.3f} / {lay['sq']:.3f} / {lay['rq']:.3f} "
          f"({lay['tp']} matched, {lay['n_pred']} predicted, {lay['n_true']} true) |")
    print(f"| class raster PQ / SQ / RQ | {raw['pq']:.3f} / {raw['sq']:.3f} / {raw['rq']:.3f} |")
    nc = result["real_no_cleanup"]["block_pq_raw"]
    print(f"| class raster without speck clean-up (--raw) PQ / SQ / RQ | {nc['pq']:.3f} / {nc['sq']:.3f} / "
          f"{nc['rq']:.3f} ({nc['n_pred']} predicted) |")
    icd = r["block_pq_layer_icdar_unique"]
    print(f"| blocks layer PQ, reference code's SQ (distinct IoUs) | {icd['pq']:.3f} |")
    print(f"| street IoU | {r['street_iou']:.3f} (raw {r['street_iou_raw']:.3f}) |")
    print(f"| block IoU | {r['block_iou']:.3f} (raw {r['block_iou_raw']:.3f}) |")
    print(f"| fp32: blocks layer PQ, street IoU | {result['real_fp32']['block_pq_layer']['pq']:.3f}, "
          f"{result['real_fp32']['street_iou']:.3f} |")
    print(f"| agreement bf16 vs fp32 / tiled vs whole | {result['agreement_bf16_fp32']:.5f} / "
          f"{result['agreement_tiled_whole_fp32']:.5f} |")
    for key in sorted(k for k in result if k.startswith("real_tta")):
        q = result[key]
        print(f"| {key[5:]}: class raster PQ, blocks layer PQ, street IoU | {q['block_pq_raw']['pq']:.3f}, "
              f"{q['block_pq_layer']['pq']:.3f}, {q['street_iou']:.3f} ({q['seconds']:.0f} s vs "
              f"{result['seconds_val_region']:.0f} s) |")
    if "sample_crop" in result:
        print(f"| bundled sample crop, default --tta: blocks layer PQ | {result['sample_crop']['block_pq_layer']['pq']:.3f} |")
    print(f"| synthetic ({s['tiles']} tiles): text / street / block IoU | {s['text_iou']:.3f} / "
          f"{s['street_iou']:.3f} / {s['block_iou']:.3f} |")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
