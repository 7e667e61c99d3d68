"""Generate synthetic period maps with exact class masks, one sample or a whole folder."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from jadis.errors import JadisError
from jadis.io.atomic import atomic_path, atomic_write_text
from jadis.segment.synth.layout import make_layout
from jadis.segment.synth.networks import DATA_DIR, bundled_network_paths, get_network
from jadis.segment.synth.render import Sample, render
from jadis.segment.synth.styles import STYLES, get_style


@dataclass
class SynthConfig:
    """What to generate. Scales are metres per pixel (log-uniform between the two bounds)."""

    size: int = 512
    styles: tuple[str, ...] = tuple(STYLES)
    networks: tuple[str, ...] = ()  #: GIS line layers or bundled .json files; empty: the bundled ones
    p_procedural: float = 0.3  #: share of tiles drawn on a procedural network
    scale: tuple[float, float] = (0.22, 0.75)
    p_water: float = 0.15
    degrade: float = 1.0
    extra: dict = field(default_factory=dict)

    def network_paths(self) -> list[str]:
        paths = [str(p) for p in self.networks] or [str(p) for p in bundled_network_paths()]
        for p in paths:
            if not Path(p).is_file():
                raise JadisError(f"{p}: network file not found")
        return paths


@lru_cache(maxsize=1)
def street_names() -> list[str]:
    """Street names for labels when a network has none (Wikidata, CC0)."""
    path = DATA_DIR / "street_names.txt"
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def generate_sample(seed: int | np.random.SeedSequence, config: SynthConfig | None = None,
                    style: str | None = None) -> Sample:
    """One synthetic tile, fully determined by ``seed`` and ``config``."""
    config = config or SynthConfig()
    rng = np.random.default_rng(seed)
    style_name = style or str(rng.choice(config.styles))
    st = get_style(style_name)
    paths = config.network_paths()
    network = None
    if not paths or rng.random() < config.p_procedural:
        network = None
    else:
        network = get_network(paths[int(rng.integers(len(paths)))])
    lo, hi = config.scale
    scale = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
    # degenerate buffers of tiny slivers make GEOS/numpy warn "divide by zero"; they yield empty shapes
    with np.errstate(divide="ignore", invalid="ignore"):
        layout = make_layout(rng, network, config.size, scale, p_water=config.p_water, names=street_names())
        return render(rng, layout, st, names=street_names(), degrade=config.degrade)


def write_sample(sample: Sample, image_path: Path, mask_path: Path) -> None:
    from PIL import Image

    with atomic_path(image_path) as tmp:
        Image.fromarray(sample.image).save(tmp, format="PNG" if image_path.suffix == ".png" else "JPEG",
                                           **({"quality": 95} if image_path.suffix != ".png" else {}))
    with atomic_path(mask_path) as tmp:
        Image.fromarray(sample.mask).save(tmp, format="PNG")


def _one(args: tuple[int, int, SynthConfig, str, str]) -> dict:
    index, seed, config, out, ext = args
    sample = generate_sample(np.random.SeedSequence([seed, index]), config)
    name = f"{index:06d}"
    out_dir = Path(out)
    write_sample(sample, out_dir / "images" / f"{name}.{ext}", out_dir / "masks" / f"{name}.png")
    counts = np.bincount(sample.mask.ravel(), minlength=4)[:4]
    return {"name": name, "image": f"images/{name}.{ext}", "mask": f"masks/{name}.png",
            "seed": [seed, index], **sample.meta, "class_pixels": counts.tolist()}


def generate_dataset(out: str | os.PathLike[str], n: int, config: SynthConfig | None = None, seed: int = 0,
                     workers: int = 1, image_format: str = "png", start: int = 0) -> Path:
    """Write ``n`` tiles to ``out/images``, ``out/masks`` and ``out/manifest.jsonl``; return the manifest.

    Tile ``i`` depends only on ``(seed, i)``, so a dataset can be extended (``start``) or regenerated
    in parallel and stays the same.
    """
    from jadis.progress import track

    config = config or SynthConfig()
    if n < 1:
        raise JadisError("--n must be at least 1")
    if image_format not in {"png", "jpg"}:
        raise JadisError("image format must be png or jpg")
    config.network_paths()  # fail early on a missing file
    for s in config.styles:
        get_style(s)
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    jobs = [(i, seed, config, str(out), image_format) for i in range(start, start + n)]
    rows: list[dict] = []
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as pool:
            for row in track(pool.map(_one, jobs, chunksize=4), "rendering synthetic maps", total=n):
                rows.append(row)
    else:
        for job in track(jobs, "rendering synthetic maps"):
            rows.append(_one(job))
    manifest = out / "manifest.jsonl"
    previous = manifest.read_text(encoding="utf-8").splitlines() if start and manifest.exists() else []
    keep = [line for line in previous if line.strip() and json.loads(line)["name"] not in {r["name"] for r in rows}]
    atomic_write_text(manifest, "\n".join([*keep, *(json.dumps(r, ensure_ascii=False) for r in rows)]) + "\n")
    atomic_write_text(out / "synth.json", json.dumps({"seed": seed, "n": n, "start": start,
                                                      "config": asdict(config)}, indent=2, default=list))
    return manifest
