"""``jadis georef auto``: automatic georeferencing against a modern street network."""

from __future__ import annotations

from pathlib import Path

import click

from jadis.cli.main import UserError
from jadis.georef.transforms import TRANSFORM_CHOICES

_TRANSFORMS = ("auto", *TRANSFORM_CHOICES)


def _grid_series() -> tuple:
    from jadis.georef.grid import SERIES

    return SERIES

#: Exit status when no trustworthy alignment is found (bad input stays 2).
EXIT_FAILED = 3


class AlignmentFailed(UserError):
    """No trustworthy alignment: one line on stderr, exit status 3, nothing written."""

    exit_code = EXIT_FAILED


@click.command("auto")
@click.argument("map_source", metavar="MAP")
@click.option("-r", "--reference", "reference", default=None, type=click.Path(path_type=Path),
              help="Modern street network: a road raster with a projected CRS (roads = high values) "
                   "or a vector file of street lines/polygons (GeoPackage, GeoJSON, Shapefile, ...). "
                   "Default: the shipped OSM road raster of Paris (Lambert-93; (c) OpenStreetMap "
                   "contributors, ODbL).")
@click.option("-o", "--output", "output", required=True, type=click.Path(path_type=Path),
              help="Georeference to write (Allmaps annotation JSON with jadis metadata).")
@click.option("-t", "--transform", type=click.Choice(_TRANSFORMS, case_sensitive=False), default="auto",
              show_default=True, help="Output transform; 'auto' picks it by cross-validation.")
@click.option("--scale-range", nargs=2, type=float, default=None, metavar="MIN MAX",
              help="Metres per map pixel to search (default: atlas sheets, 0.2-2 m/px, and city plans, "
                   "the map's long side 1/4 to 2.5x the reference's).")
@click.option("--max-rotation", type=float, default=180.0, show_default=True,
              help="Largest rotation from north-up to search, in degrees (180 = any).")
@click.option("--checkpoint", type=click.Path(path_type=Path), default=None,
              help="Segmentation checkpoint, when MAP is a scan (default: the bundled one).")
@click.option("--device", default="cpu", show_default=True, help="Segmentation device for scans (cpu, cuda, auto).")
@click.option("--image-url", default=None, metavar="URL",
              help="The scan's IIIF Image API service (base URL or info.json), the same size as MAP: "
                   "the annotation then targets it and opens in Allmaps.")
@click.option("--names/--no-names", "read_names", default=None,
              help="Read the street names on the scan (~25-45 s per 9 MP) and locate them through the "
                   "gazetteers with geometry (bundled, `jadis gazetteer fetch` or `add`): the areas where "
                   "several agree are searched first. Default: read them only when the search fails "
                   "without them; --no-names: never. Needs a scan, or a class raster with --scan.")
@click.option("--scan", "scan", type=click.Path(path_type=Path), default=None,
              help="When MAP is a class raster or road mask: the scan it was segmented from (same size), "
                   "to read names on (--names) and to look for the printed grid on.")
@click.option("--grid", "grid", type=click.Choice(["auto", "none", *(s.name for s in _grid_series())]),
              default="auto", show_default=True,
              help="Printed coordinate grid to snap the result to, once aligned: 'auto' looks for every "
                   "known series' grid (Jacoubet's 250 m Verniquet grid, the Atlas municipal's kilometre "
                   "grid) on the scan and, where enough crossings are found, fits the georeference on them.")
@click.option("--year", type=click.IntRange(1500, 2100), default=None,
              help="The map's year, for the names read (only gazetteers valid near it locate them).")
@click.option("--near", "near", type=click.Path(path_type=Path), multiple=True,
              help="Georeference (JSON) of a sheet of the same series already aligned; repeatable. When the "
                   "upright search over the whole city fails, the map is looked for next to them, at their "
                   "scale (an atlas's sheets lie side by side).")
def auto(map_source: str, reference: Path | None, output: Path, transform: str, scale_range: tuple[float, float] | None,
         max_rotation: float, checkpoint: Path | None, device: str, image_url: str | None, read_names: bool | None,
         scan: Path | None, grid: str, year: int | None, near: tuple[Path, ...]) -> None:
    """Georeference MAP automatically by matching its streets to a modern street network.

    MAP is a road mask (one band, two values, roads white), a class raster from `jadis segment`,
    or a scanned map (segmented on the fly); what it is, is recognised from its pixels. MAP may also
    be the URL of an IIIF Image API service (base URL or info.json): the scan is fetched once into
    $JADIS_HOME/cache/iiif and the annotation targets the service (opens in Allmaps). The map
    may be rotated, distorted, partial, and have blank margins or a legend.

    The command searches every rotation (upright first), scale and position, in bands fitted to
    the map's size (atlas sheets of a few hundred metres to city plans), matches street patches,
    keeps the consistent ones as control points and fits the transform with the lowest
    cross-validated error. Atlas sheets that print a coordinate grid of a known series are then
    refitted on the grid's crossings, found where the alignment puts them (--grid); a Jacoubet
    sheet is placed by the grid values printed in its margin, checked against its streets where they
    still match today's. Where the streets match nowhere, the street names read on the map
    (--names) say which of the grid's lines are which. It prints its
    confidence. When it finds no trustworthy alignment it says "failed", writes nothing, and exits
    with status 3 (bad input: status 2).

    \b
    Example:
      jadis georef auto scan.jpg -o scan.json        # Paris: the shipped OSM reference
      jadis georef auto sheet_classes.tif -o sheet.json --max-rotation 10
      jadis georef auto map_roads.png -r streets_l93.gpkg -o map.json --transform polynomial2
      jadis georef warp scan.jpg scan.json -o scan.tif
      jadis georef auto scan.jpg -o scan.json --image-url https://iiif.example.org/iiif/scan  # for Allmaps
      jadis georef auto https://iiif.example.org/iiif/scan -o scan.json  # fetched, targets the service
      jadis georef auto sheet.jpg -o sheet.json --names --year 1836    # names read on it as a place prior
      jadis georef auto sheet_classes.tif --names --scan sheet.jpg -o sheet.json
      jadis georef auto jacoubet_22.jpg -o j22.json --grid verniquet-250m   # snap to the printed grid
      jadis georef auto jacoubet_21.jpg -o j21.json --near j20.json --near j22.json  # next to its neighbours
    """
    from jadis.georef.auto import AutoGeorefFailed, AutoOptions, auto_georeference, write_result
    from jadis.georef.auto_inputs import default_reference
    from jadis.progress import enabled

    if reference is None:
        reference = default_reference()
    from jadis.io.iiif import is_url

    service = None
    if is_url(map_source):
        from jadis.io.iiif import resolve_scan_service

        map_path, service = resolve_scan_service(map_source.strip())
    else:
        map_path = Path(map_source).expanduser()
    if image_url is not None:
        from jadis.errors import JadisError
        from jadis.io.iiif import read_info
        from jadis.io.images import check_image

        service = read_info(image_url)
        info = check_image(map_path)
        if (service.width, service.height) != (info.width, info.height):
            raise JadisError(f"--image-url: the IIIF image is {service.width}x{service.height} pixels but "
                             f"{map_path.name} is {info.width}x{info.height}; give the full-size scan")

    opts = AutoOptions(transform=transform, scale_range=scale_range, max_rotation=max_rotation,
                       checkpoint=str(checkpoint) if checkpoint else None, device=device, grid=grid)
    if year is not None and read_names is False:
        raise UserError("--year is the year of the names read: it does not go with --no-names")
    if scan is not None:
        from jadis.io.images import check_image

        if not scan.is_file():
            raise UserError(f"--scan: {scan}: no such file")
        a, b = check_image(map_path), check_image(scan)
        if (a.width, a.height) != (b.width, b.height):
            raise UserError(f"--scan: {scan.name} is {b.width}x{b.height} pixels but {map_path.name} is "
                            f"{a.width}x{a.height}")
    neighbours = []
    for path in near:
        from jadis.georef.georeference import Georeference

        if not path.is_file():
            raise UserError(f"--near: {path}: no such file")
        neighbours.append(Georeference.load(path))
    cues = None
    extra: dict = {"scan": scan} if scan is not None else {}
    if neighbours:
        extra["neighbours"] = neighbours
    map_input: Path | object = map_path
    if read_names:
        from jadis.georef.auto_names import roads_and_cues

        map_input, cues = roads_and_cues(map_path, scan, checkpoint=checkpoint, device=device, year=year,
                                         progress=enabled())
        if cues:
            extra.update(names=cues, year=year)
    elif read_names is None:   # read only if the search fails without them (a scan is segmented again then)

        def late() -> list:
            from jadis.georef.auto_names import read_name_cues, segmented

            with segmented(map_path, scan, checkpoint=checkpoint, device=device,
                           progress=enabled()) as (_, text_scan, classes):
                return [] if classes is None else read_name_cues(text_scan, classes, year=year, progress=enabled())

        extra.update(read_names=late, year=year)
    try:
        result = auto_georeference(map_input, reference, opts, progress=enabled(), **extra)
    except AutoGeorefFailed as exc:
        raise AlignmentFailed(" ".join(str(exc).split())) from exc
    if service is not None:
        from dataclasses import replace

        result = replace(result, georef=replace(result.georef, image=service.id, image_service=service))
    write_result(result, output)
    s = result.summary()
    matched = f" ({s['consistent_matches']} consistent matches of {s['matches']})" if s["matches"] else ""
    click.echo(
        f"{output}: {result.georef.transform}, {s['gcps']} GCPs{matched}; "
        f"cross-validated error {s['cv_error_m']:.1f} m; confidence {s['confidence']:.2f}; "
        f"{s['metres_per_pixel']:.3g} m/px, x axis at {s['rotation_deg']:.1f} deg; {s['seconds']:.0f} s"
    )
    if "grid" in s:
        how = {"printed values": "placed by the values printed on it",
               "grid lines labelled by the names read": "its lines placed by the street names read"
               }.get(s["grid"].get("source"), "the georeference is fitted on them")
        click.echo(f"printed grid: {s['grid']['series']}, {s['grid']['crossings']} crossings "
                   f"(RMSE {s['grid']['rmse_px']:.1f} px); {how}")
    read = len(cues) if cues is not None else s.get("names", {}).get("cues")  # given, or read when the search failed
    if read is not None:
        used = f"{s['names']['agreeing']} of them agree with the result" if "names" in s else \
            "they located no area the streets confirmed (usual search)"
        click.echo(f"names: {read} read; {used}")
