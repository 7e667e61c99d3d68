"""Build the ~80 MP benchmark sheet (10 000 × 8 000) from real scans in ``../shared/data``.

A mosaic of the Atlas municipal 1925 crop (6000 × 3000) and the six low-resolution Jacoubet 1836
sheets (about 3400 × 4100 each), at full resolution, with their own margins — what a large scanned
sheet looks like to ``jadis segment``. Written once as a baseline JPEG (quality 90, the usual
format of library scans) under ``out/bench/`` and reused.

    .venv/bin/python -m benchmarks.seg_sheet [--out out/bench/sheet_10000x8000.jpg]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from jadis.paths import ROOT, shared_data_dir

WIDTH, HEIGHT = 10_000, 8_000
DEFAULT_PATH = ROOT / "out" / "bench" / "sheet_10000x8000.jpg"

_ATLAS = "segmentation/atlas_municipal_1925_dev/BHdV_PL_ATL20Ardt_1926_0004-VAL-left6000-INPUT_color_border.png"
_JACOUBET = "scans/jacoubet_1836_lowres"


def build_sheet(path: Path = DEFAULT_PATH) -> Path:
    """Create the mosaic if it does not exist yet; return its path."""
    if path.is_file():
        return path
    shared = shared_data_dir()
    if shared is None:
        raise SystemExit("the benchmark sheet is built from ../shared/data, which is missing")
    Image.MAX_IMAGE_PIXELS = None
    sheet = np.full((HEIGHT, WIDTH, 3), (233, 220, 186), np.uint8)
    atlas = np.asarray(Image.open(shared / _ATLAS).convert("RGB"))
    jac = [np.asarray(Image.open(p).convert("RGB")) for p in sorted((shared / _JACOUBET).glob("*.jpg"))]
    # Row 1 (y 0-3000): the Atlas crop, then a Jacoubet sheet.
    sheet[0:3000, 0:6000] = atlas
    sheet[0:3000, 6000:10000] = _fit(jac[0], 3000, 4000)
    # Row 2 (y 3000-7100): three Jacoubet sheets.
    for i, x0 in enumerate((0, 3334, 6668)):
        w = min(3332, WIDTH - x0)
        sheet[3000:7100, x0:x0 + w] = _fit(jac[1 + i], 4100, w)
    # Row 3 (y 7100-8000): strips of the Atlas and of the remaining Jacoubet sheets.
    sheet[7100:8000, 0:6000] = atlas[1500:2400]
    sheet[7100:8000, 6000:10000] = _fit(jac[4], 4100, 4000)[1600:2500]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part.jpg")
    Image.fromarray(sheet).save(tmp, quality=90)
    tmp.replace(path)
    return path


def _fit(img: np.ndarray, h: int, w: int) -> np.ndarray:
    """Centre crop (or pad with paper) to exactly h × w."""
    out = np.full((h, w, 3), (233, 220, 186), np.uint8)
    ih, iw = img.shape[:2]
    y0, x0 = max(0, (ih - h) // 2), max(0, (iw - w) // 2)
    crop = img[y0:y0 + h, x0:x0 + w]
    out[:crop.shape[0], :crop.shape[1]] = crop
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_PATH)
    args = ap.parse_args(argv)
    print(build_sheet(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
