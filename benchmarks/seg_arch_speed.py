"""Forward-pass speed of candidate segmentation architectures on this CPU (the choice before training).

Run: ``.venv/bin/python -m benchmarks.seg_arch_speed [--threads 2] [--repeats 5]``

For each candidate U-Net it times a forward pass (fp32, eval, ``torch.inference_mode``) on a 512×512
tile of the *full-resolution* map; a candidate with ``input_scale`` s runs the network on the tile
resized by s (the class logits are then upsampled, which is included). MP/s = full-resolution
megapixels covered per second, before tile overlap and vectorisation.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from jadis.segment.model import ModelArch, build_model

CANDIDATES: list[tuple[str, ModelArch]] = [
    ("lite0, decoder 256-128-64-32-16 (default)", ModelArch()),
    ("lite0, decoder 128-64-32-16-8", ModelArch(decoder_channels=(128, 64, 32, 16, 8))),
    ("lite0, decoder 64-32-16-16-8", ModelArch(decoder_channels=(64, 32, 16, 16, 8))),
    ("lite0, decoder 128-64-32-16-8, input ×0.75",
     ModelArch(decoder_channels=(128, 64, 32, 16, 8), extra={"input_scale": 0.75})),
    ("lite0, decoder 128-64-32-16-8, input ×0.5",
     ModelArch(decoder_channels=(128, 64, 32, 16, 8), extra={"input_scale": 0.5})),
]


def time_forward(arch: ModelArch, tile: int = 512, repeats: int = 5) -> float:
    """Best-of-``repeats`` seconds for one forward pass over a ``tile``×``tile`` full-resolution tile."""
    model = build_model(arch).eval()
    scale = float(arch.extra.get("input_scale", 1.0))
    x = torch.rand(1, 3, tile, tile)
    times = []
    with torch.inference_mode():
        for i in range(repeats + 1):
            t0 = time.perf_counter()
            inp = F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False) if scale != 1 else x
            out = model(inp)
            if scale != 1:
                out = F.interpolate(out, size=(tile, tile), mode="bilinear", align_corners=False)
            if i:  # the first pass warms up
                times.append(time.perf_counter() - t0)
    return min(times)  # the least disturbed run: other processes share this CPU


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tile", type=int, default=512)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    mp = args.tile * args.tile / 1e6
    print(f"| candidate | params (M) | s / {args.tile}² tile | MP/s |")
    print("|---|---|---|---|")
    for label, arch in CANDIDATES:
        params = sum(p.numel() for p in build_model(arch).parameters()) / 1e6
        sec = time_forward(arch, args.tile, args.repeats)
        print(f"| {label} | {params:.2f} | {sec:.3f} | {mp / sec:.2f} |", flush=True)


if __name__ == "__main__":
    main()
