"""Speed and memory of ``jadis segment`` on a ~80 MP sheet, against a naive baseline, in one run.

* **jadis segment**: the real command (``python -m jadis segment SHEET --out …``) in a child process:
  wall time from start to exit (Python start-up and model loading included), CPU time and peak RSS
  of that process (``os.wait4``), and the inference / vectorization split it prints.
* **naive baseline**: the same model and tile layout with none of the optimisations: fp32, NCHW,
  no batch-norm folding, one tile per forward pass, no margin skipping, the whole image read into
  memory and whole-image numpy accumulators; then the same vectorization and outputs.

The sheet is the 10 000 × 8 000 mosaic of real scans of :mod:`benchmarks.seg_sheet`. Other
engineers share this machine's two cores: the load average before and after each run is recorded.

    .venv/bin/python -m benchmarks.seg_speed [--checkpoint checkpoints/jadis-unet-v1.pt] [--no-naive]
    .venv/bin/python -m benchmarks.seg_speed --ablation     # one optimisation at a time, 16 MP crop
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from jadis.paths import ROOT

OUT = ROOT / "out" / "bench"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def run_child(cmd: list[str]) -> dict:
    """Run ``cmd``; return its wall time, CPU time, peak RSS (its own, via ``os.wait4``), its output
    and the load average around it."""
    import tempfile

    load_before = os.getloadavg()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, cwd=ROOT,
                                env={**os.environ, "JADIS_QUIET": "1"})
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{stderr[-2000:]}")
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_gb": usage.ru_maxrss / 1e6,
            "stdout": stdout, "load_before": load_before, "load_after": os.getloadavg()}


def naive_child(sheet: Path, out_dir: Path, checkpoint: Path, tile: int, overlap: int) -> None:
    """The baseline (runs in a child process; prints a JSON line with its timings)."""
    import warnings

    import rasterio
    import torch
    from rasterio.windows import Window

    from jadis.io.images import open_image
    from jadis.io.vector import write_layers
    from jadis.pipelines.scan import output_paths
    from jadis.segment.infer import RasterSource, class_raster_profile, make_grid
    from jadis.segment.predictor import load_predictor
    from jadis.vectorize.layers import vectorize_class_raster

    t0 = time.perf_counter()
    predictor = load_predictor(checkpoint, naive=True)
    classes_path, gpkg_path = output_paths(sheet, out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with open_image(sheet) as ds:
        image = RasterSource(ds, sheet).read(0, 0, ds.width, ds.height)  # whole image in memory
        profile = class_raster_profile(ds, ds.width, ds.height)
    h, w = image.shape[:2]
    grid = make_grid(w, h, tile, overlap, predictor)
    weights = grid.weights()
    acc = np.zeros((predictor.num_classes, h, w), np.float32)  # whole-image accumulator
    with torch.inference_mode():
        for y in grid.ys:
            for x in grid.xs:
                logits = predictor.logits(image[None, y:y + grid.tile_h, x:x + grid.tile_w])[0]
                acc[:, y:y + grid.tile_h, x:x + grid.tile_w] += logits * weights
    classes = np.argmax(acc, axis=0).astype(np.uint8)
    del acc
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(classes_path, "w", **profile) as dst:
            dst.write(classes[None], window=Window(0, 0, w, h))
    t_infer = time.perf_counter() - t0
    layers = vectorize_class_raster(classes_path, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write_layers(gpkg_path, layers)
    print(json.dumps({"inference_s": t_infer, "vectorize_s": time.perf_counter() - t0 - t_infer,
                      "tiles": grid.n_tiles}))


def ablation(sheet: Path, checkpoint: Path, tile: int, overlap: int, size: int = 4000) -> list[dict]:
    """Inference only (no vectors), on the top-left ``size``² crop of the sheet, adding one
    optimisation at a time. CPU seconds are reported next to wall time: they are less sensitive
    to the other processes sharing the machine."""
    import warnings

    import rasterio
    from PIL import Image
    from rasterio.windows import Window

    from jadis.segment.infer import predict_file
    from jadis.segment.model import load_checkpoint
    from jadis.segment.predictor import predictor_from_model

    crop = OUT / f"ablation_{size}.png"
    if not crop.is_file():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with rasterio.open(sheet) as ds:
                arr = ds.read(window=Window(0, 0, size, size))
        Image.fromarray(np.moveaxis(arr, 0, -1)).save(crop)
    variants = [
        ("naive: fp32, NCHW, 1 tile per pass, no margin skipping", dict(precision="fp32", channels_last=False,
                                                                        fold_bn=False), 1, False),
        ("+ channels-last", dict(precision="fp32", channels_last=True, fold_bn=False), 1, False),
        ("+ batch-norm folding", dict(precision="fp32", channels_last=True, fold_bn=True), 1, False),
        ("+ bf16 autocast", dict(precision="bf16", channels_last=True, fold_bn=True, fuse=False), 1, False),
        ("+ fused bf16 conv+activation", dict(precision="bf16", channels_last=True, fold_bn=True), 1, False),
        ("+ 2 tiles per pass", dict(precision="bf16", channels_last=True, fold_bn=True), 2, False),
        ("+ margin skipping (= jadis segment)", dict(precision="bf16", channels_last=True, fold_bn=True), 2, True),
    ]
    rows = []
    model, arch, meta = load_checkpoint(checkpoint)
    for name, opts, batch, skip in variants:
        import copy

        predictor = predictor_from_model(copy.deepcopy(model), arch, **opts)
        predictor.logits(np.zeros((1, 256, 256, 3), np.uint8))  # warm-up: oneDNN primitive creation
        load = os.getloadavg()[0]
        c0, t0 = time.process_time(), time.perf_counter()
        stats = predict_file(crop, OUT / "ablation_out.tif", predictor, tile=tile, overlap=overlap, batch_size=batch,
                             skip_margins=skip, progress=False)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        mp = stats.width * stats.height / 1e6
        rows.append({"variant": name, "wall_s": wall, "cpu_s": cpu, "mp_per_s": mp / wall, "mp_per_cpu_s": mp / cpu,
                     "tiles_run": stats.tiles_run, "load": load, "fused": predictor.fused})
        print(f"| {name} | {wall:.1f} s | {cpu:.1f} s | {mp / wall:.2f} | {mp / cpu:.2f} | {stats.tiles_run} | "
              f"{load:.1f} |", flush=True)
    return rows


_TIMES = re.compile(r"in ([\d.]+) s .*inference ([\d.]+) s, vectors ([\d.]+) s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="segmentation speed benchmark")
    ap.add_argument("--checkpoint", type=Path, default=None)
    ap.add_argument("--sheet", type=Path, default=None, help="default: the 10000x8000 mosaic of real scans")
    ap.add_argument("--tile", type=int, default=1024)
    ap.add_argument("--overlap", type=int, default=128)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--no-naive", action="store_true", help="skip the naive baseline")
    ap.add_argument("--out", type=Path, default=OUT / "seg_speed.json")
    ap.add_argument("--ablation", action="store_true",
                    help="instead: inference-only ablation of the optimisations on a 16 MP crop")
    ap.add_argument("--naive-child", nargs=3, metavar=("SHEET", "OUT", "CKPT"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.naive_child:
        sheet, out, ckpt = args.naive_child
        naive_child(Path(sheet), Path(out), Path(ckpt), args.tile, args.overlap)
        return 0

    from benchmarks.seg_sheet import build_sheet
    from jadis.io.images import check_image
    from jadis.segment.predictor import default_checkpoint

    ckpt = (args.checkpoint or default_checkpoint()).resolve()
    sheet = (args.sheet or build_sheet()).resolve()
    if args.ablation:
        print(f"{cpu_model()}; {ckpt.name}; tile {args.tile}, overlap {args.overlap}")
        print("| variant | wall | CPU | MP/s | MP per CPU-s | tiles run | load |")
        rows = ablation(sheet, ckpt, args.tile, args.overlap)
        out = args.out.with_name("seg_speed_ablation.json")
        out.write_text(json.dumps({"checkpoint": str(ckpt), "cpu": cpu_model(), "rows": rows,
                                   "date": time.strftime("%Y-%m-%d %H:%M %Z")}, indent=2) + "\n")
        return 0
    info = check_image(sheet)
    mp = info.width * info.height / 1e6
    result: dict = {"sheet": str(sheet), "width": info.width, "height": info.height, "megapixels": mp,
                    "checkpoint": str(ckpt), "tile": args.tile, "overlap": args.overlap, "device": args.device,
                    "cpu": cpu_model(), "cores": os.cpu_count(), "date": time.strftime("%Y-%m-%d %H:%M %Z")}
    cmd = [sys.executable, "-m", "jadis", "segment", str(sheet), "--out", str(OUT / "speed"), "--checkpoint",
           str(ckpt), "--tile", str(args.tile), "--overlap", str(args.overlap), "--device", args.device]
    fast = run_child(cmd)
    m = _TIMES.search(fast["stdout"])
    if m:
        fast["segment_s"], fast["inference_s"], fast["vectorize_s"] = map(float, m.groups())
    fast["mp_per_s"] = mp / fast["wall_s"]
    result["jadis_segment"] = fast
    result["command"] = " ".join(["jadis", *cmd[3:]])
    if not args.no_naive:
        naive = run_child([sys.executable, "-m", "benchmarks.seg_speed", "--tile", str(args.tile), "--overlap",
                           str(args.overlap), "--naive-child", str(sheet), str(OUT / "naive"), str(ckpt)])
        naive.update(json.loads(naive["stdout"].strip().splitlines()[-1]))
        naive["mp_per_s"] = mp / naive["wall_s"]
        result["naive"] = naive
        result["speedup_end_to_end"] = naive["wall_s"] / fast["wall_s"]
        if "inference_s" in fast:
            result["speedup_inference"] = naive["inference_s"] / fast["inference_s"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")

    print(f"{result['cpu']}, {result['cores']} cores; sheet {info.width}x{info.height} ({mp:.0f} MP); {ckpt.name}")
    f = fast
    print(f"| jadis segment | {f['wall_s']:.1f} s | {f['mp_per_s']:.2f} MP/s | peak RSS {f['peak_rss_gb']:.2f} GB | "
          f"CPU {f['cpu_s']:.0f} s | inference {f.get('inference_s', float('nan')):.1f} s, "
          f"vectors {f.get('vectorize_s', float('nan')):.1f} s | load {f['load_before'][0]:.1f}->{f['load_after'][0]:.1f} |")
    if "naive" in result:
        n = result["naive"]
        print(f"| naive baseline | {n['wall_s']:.1f} s | {n['mp_per_s']:.2f} MP/s | peak RSS {n['peak_rss_gb']:.2f} GB | "
              f"CPU {n['cpu_s']:.0f} s | inference {n['inference_s']:.1f} s, vectors {n['vectorize_s']:.1f} s | "
              f"load {n['load_before'][0]:.1f}->{n['load_after'][0]:.1f} |")
        print(f"speed-up: end to end x{result['speedup_end_to_end']:.2f}, inference "
              f"x{result.get('speedup_inference', float('nan')):.2f}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
