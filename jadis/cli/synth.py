"""``jadis synth``: render synthetic period maps with exact class masks (training data)."""

from __future__ import annotations

from pathlib import Path

import click

from jadis.segment.synth.styles import STYLES


@click.command()
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder: images/, masks/, manifest.jsonl, synth.json.")
@click.option("--n", "n", default=100, show_default=True, type=click.IntRange(1), help="Number of tiles.")
@click.option("--style", "styles", multiple=True, type=click.Choice(sorted(STYLES)),
              help="Period style (repeatable; default: all, mixed).")
@click.option("--seed", default=0, show_default=True, type=int, help="Tile i depends only on (seed, i).")
@click.option("--size", default=512, show_default=True, type=click.IntRange(64, 4096), help="Tile size (px).")
@click.option("--network", "networks", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Street network to draw on: any GIS line layer (repeatable; default: the bundled "
                   "Licence Ouverte networks).")
@click.option("--procedural", default=0.3, show_default=True, type=click.FloatRange(0, 1),
              help="Share of tiles drawn on procedural networks (grids, stars, irregular).")
@click.option("--scale", nargs=2, type=float, default=(0.22, 0.75), show_default=True,
              help="Range of metres per pixel.")
@click.option("--water", default=0.15, show_default=True, type=click.FloatRange(0, 1),
              help="Share of tiles crossed by a river.")
@click.option("--clean", is_flag=True, help="No ageing or scanning effects.")
@click.option("--start", default=0, show_default=True, type=click.IntRange(0), help="First tile index (to extend a set).")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1), help="Parallel processes.")
@click.option("--format", "image_format", default="png", show_default=True, type=click.Choice(["png", "jpg"]))
def synth(out: Path, n: int, styles: tuple[str, ...], seed: int, size: int, networks: tuple[Path, ...],
          procedural: float, scale: tuple[float, float], water: float, clean: bool, start: int, workers: int,
          image_format: str) -> None:
    """Render synthetic historical map tiles of Paris with exact masks.

    Real street geometries (or procedural ones) are drawn in the styles of Paris atlases
    (Atlas municipal, Jacoubet, Verniquet, coloured plans) with street names along the
    streets, house numbers, paper, stains, folds and scan noise. Each mask holds the class ids
    0 other, 1 street, 2 block, 3 text (text = the glyph pixels).

    \b
    Example:
      jadis synth --out data/synth --n 200 --seed 1
      jadis synth --out data/synth_jacoubet --n 50 --style jacoubet --network my_streets.gpkg
    """
    from jadis.errors import JadisError
    from jadis.segment.synth.generate import SynthConfig, generate_dataset

    if not 0 < scale[0] <= scale[1]:
        raise JadisError("--scale needs two positive numbers, smallest first")
    config = SynthConfig(size=size, styles=tuple(styles) or tuple(STYLES),
                         networks=tuple(str(p) for p in networks), p_procedural=procedural,
                         scale=(scale[0], scale[1]), p_water=water, degrade=0.0 if clean else 1.0)
    manifest = generate_dataset(out, n, config, seed=seed, workers=workers, image_format=image_format, start=start)
    click.echo(f"wrote {n} tiles to {out} (manifest: {manifest})")
