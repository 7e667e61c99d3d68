"""Rebuild the bundled real sample in ``data/samples/`` from ``../shared/data`` (needs the shared data).

The sample is a 1000×800 crop of the Atlas municipal 1925 scan (ICDAR 2021 vectorization ground truth,
CC BY 4.0) taken inside the validation region that training never sees
(:data:`jadis.segment.datasets.VAL_REGION`), with its hand-drawn outlines, its content mask and the
class mask derived from the outlines over the whole crop (:func:`jadis.segment.gt.derive_class_mask`).

    .venv/bin/python -m benchmarks.seg_make_sample
"""

from __future__ import annotations

import json
import sys

import numpy as np
from PIL import Image

from jadis.paths import data_dir
from jadis.segment.classes import CLASS_COLORS
from jadis.segment.datasets import DEV_CROP_STEM, VAL_REGION, load_dev_crop

#: The crop, in pixels of the 6000×3000 development crop: (x0, y0, width, height).
SAMPLE_BOX = (4960, 850, 1000, 800)
STEM = "atlas_municipal_1925_crop"


def main() -> int:
    x0, y0, w, h = SAMPLE_BOX
    vx0, vy0, vx1, vy1 = VAL_REGION
    assert vx0 <= x0 and x0 + w <= vx1 and vy0 <= y0 and y0 + h <= vy1, "sample must lie in the validation region"
    crop = load_dev_crop()
    out = data_dir() / "samples"
    out.mkdir(parents=True, exist_ok=True)
    window = np.s_[y0:y0 + h, x0:x0 + w]
    Image.fromarray(crop.image[window]).save(out / f"{STEM}.png", optimize=True)
    classes = Image.fromarray(crop.classes[window].astype(np.uint8), mode="P")
    palette = [c for k in sorted(CLASS_COLORS) for c in CLASS_COLORS[k]]
    classes.putpalette(palette + [0] * (768 - len(palette)))
    classes.save(out / f"{STEM}_classes.png", optimize=True)
    Image.fromarray((crop.edges[window] * 255).astype(np.uint8)).save(out / f"{STEM}_outlines.png", optimize=True)
    Image.fromarray((crop.content[window] * 255).astype(np.uint8)).save(out / f"{STEM}_content.png", optimize=True)
    meta = {
        "source": f"{DEV_CROP_STEM}INPUT_color_border.png (ICDAR 2021 vectorization dataset, VAL strip)",
        "box_in_dev_crop": {"x0": x0, "y0": y0, "width": w, "height": h},
        "validation_region": list(VAL_REGION),
        "classes": "derived from the outlines over the whole 6000x3000 crop by jadis.segment.gt.derive_class_mask",
        "licence": "CC BY 4.0",
        "credit": "Chen, Carlinet, Chazalon, Mallet, Dumenieu, Perret (ICDAR 2021); scan: Bibliotheque de "
                  "l'Hotel de Ville, Ville de Paris",
    }
    (out / f"{STEM}.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}/{STEM}*.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
