"""``jadis segment``: map sheets -> class rasters + GeoPackage layers."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "-o", "out_dir", type=click.Path(path_type=Path), default=Path("."), show_default=True,
              help="Output folder for <stem>_classes.tif and <stem>.gpkg.")
@click.option("--checkpoint", type=click.Path(path_type=Path), default=None,
              help="Model checkpoint [default: checkpoints/jadis-unet-v1.pt].")
@click.option("--tile", type=click.IntRange(64, 8192), default=1024, show_default=True,
              help="Tile size in pixels.")
@click.option("--overlap", type=click.IntRange(0, 4096), default=128, show_default=True,
              help="Overlap between neighbouring tiles in pixels (blended smoothly).")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:N or auto.")
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16", "fp16"]), default="auto",
              show_default=True, help="Compute precision (auto: bf16 where the CPU/GPU supports it).")
@click.option("--batch", "batch_size", type=click.IntRange(1, 64), default=2, show_default=True,
              help="Tiles per forward pass.")
@click.option("--max-pixels", type=click.FloatRange(1), default=None,
              help="Refuse images larger than this many pixels [default: JADIS_MAX_PIXELS or 2e9].")
@click.option("--no-vectors", is_flag=True, help="Only write the class raster (skip the GeoPackage).")
@click.option("--all-tiles", is_flag=True, help="Also run the network on blank margin tiles.")
@click.option("--raw", is_flag=True, help="Keep the network's raw classes (no removal of block specks).")
@click.option("--tta", type=click.Choice(["1", "2", "4", "8"]), default="2", show_default=True,
              help="Test-time augmentation: average over this many flipped copies of each tile "
                   "(2 = the tile and its mirror; 1 is ~20 % faster end to end and less accurate).")
@click.option("--names/--no-names", default=True, show_default=True,
              help="Read the street names and house numbers on the map (OCR) into the layers.")
@click.option("--year", type=click.IntRange(1500, 2100), default=None,
              help="Year the map shows: street names are corrected to names that existed then.")
def segment(images: tuple[Path, ...], out_dir: Path, checkpoint: Path | None, tile: int, overlap: int, device: str,
            precision: str, batch_size: int, max_pixels: float | None, no_vectors: bool, all_tiles: bool,
            raw: bool, tta: str, names: bool, year: int | None) -> None:
    """Segment scanned map sheets into streets, building blocks and text labels.

    For each IMAGE (TIFF, JPEG, PNG or JPEG 2000, any size) writes OUT/<stem>_classes.tif
    (uint8 GeoTIFF: 0 other, 1 street, 2 block, 3 text; georeferencing copied from the input)
    and OUT/<stem>.gpkg with the layers blocks (polygons), streets (centre-lines),
    street_nodes (junctions and dead ends) and labels (oriented text boxes with their angle),
    in pixel coordinates (x right, y down) or in the input's CRS when it is georeferenced.
    The street names printed on the map are read (OCR, offline) and corrected against the
    known street names: streets get name and name_score, labels the text read, and the layers
    text_lines (every line read) and house_numbers (numbers with their street and side) are added.

    \b
    Example:
      jadis segment data/samples/atlas_municipal_1925_crop.png --out out/
      jadis segment sheet1.tif sheet2.jp2 --out out/ --tile 1024 --overlap 128
      jadis segment jacoubet_22.jpg --out out/ --year 1836     # names corrected to those of 1836
    """
    import click as _click

    from jadis.errors import JadisError
    from jadis.io.atomic import check_output_dir, check_output_file
    from jadis.io.images import check_image
    from jadis.pipelines.scan import output_paths, segment_image
    from jadis.segment.predictor import load_predictor

    limit = int(max_pixels) if max_pixels else None
    # Check every input and destination first: a bad one fails before the model loads or anything is written.
    check_output_dir(out_dir, "--out")
    for image in images:
        for dest in output_paths(image, out_dir)[:1 if no_vectors else 2]:
            check_output_file(dest)
    infos = [check_image(image, limit) for image in images]
    stems = [p.stem for p in images]
    duplicates = {s for s in stems if stems.count(s) > 1}
    if duplicates:
        raise JadisError(f"several inputs share the name {sorted(duplicates)[0]!r}; their outputs would collide")
    predictor = load_predictor(checkpoint, device=device, precision=precision, tta=int(tta))
    for image, info in zip(images, infos, strict=True):
        result = segment_image(image, out_dir, tile=tile, overlap=overlap, max_pixels=limit, batch_size=batch_size,
                               skip_margins=not all_tiles, vectorize=not no_vectors, predictor=predictor, info=info,
                               clean=not raw)
        counts = ", ".join(f"{n} {name}" for name, n in result.counts.items())
        _click.echo(f"{image}: {result.width}x{result.height} px in {result.seconds:.1f} s "
                    f"({result.megapixels_per_second:.2f} MP/s; inference {result.predict.seconds:.1f} s, "
                    f"vectors {result.seconds_vectorize:.1f} s)")
        _click.echo(f"  classes: {result.classes_path}")
        if result.gpkg_path:
            _click.echo(f"  layers:  {result.gpkg_path} ({counts})")
            if names:
                import time

                from jadis.ocr.layers import name_layers

                t0 = time.perf_counter()
                # name_layers rewrites the GeoPackage through a temporary copy renamed into place: a
                # failure here leaves the complete GeoPackage just written, without the names.
                try:
                    text = name_layers(result.gpkg_path, image, year=year)
                except JadisError as exc:
                    raise JadisError(f"{image}: reading the names failed ({exc}); {result.gpkg_path} is kept "
                                     "without names (run again, or with --no-names)") from exc
                named = sum(1 for v in text.segment_names.values() if v)
                _click.echo(f"  names:   {len(text.named_lines)} street names read, {named} street segments named, "
                            f"{len(text.numbers)} house numbers ({time.perf_counter() - t0:.1f} s)")
