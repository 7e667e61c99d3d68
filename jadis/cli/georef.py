"""``jadis georef``: control points, transforms, residuals, warping, applying, deformation."""

from __future__ import annotations

from pathlib import Path

import click

from jadis.cli.main import LazyGroup
from jadis.georef.transforms import TRANSFORM_CHOICES


@click.group(cls=LazyGroup, lazy={"auto": "jadis.cli.georef_auto:auto"})
def georef() -> None:
    """Georeference scanned maps: fit GCPs, warp to GeoTIFF, apply to data, deformation.

    GCP files: QGIS .points, Allmaps annotations (.json), GDAL (.vrt / .tif with GCPs), CSV.
    CRSs: EPSG codes, PROJ strings, WKT, or the Paris grids VERNIQUET-toise, VERNIQUET-m, ATLAS-MUN.
    Transforms: helmert, affine (polynomial1), polynomial2, polynomial3, projective, tps.

    \b
    Example:
      jadis georef fit sheet.jpg --gcps sheet.points --crs VERNIQUET-m --transform polynomial2 -o sheet.json
      jadis georef warp sheet.jpg sheet.json --crs EPSG:2154 -o sheet.tif
    """


def _print_report(georef_obj, title: str) -> None:  # a Georeference
    from rich.console import Console
    from rich.table import Table

    rep = georef_obj.report()
    unit = georef_obj.crs.axis_info[0].unit_name if georef_obj.crs.axis_info else ""
    table = Table(title=title, title_justify="left")
    for col in ("GCP", "on", "x", "y", f"dX ({unit})", f"dY ({unit})", "res m", "res px", "LOO m", "LOO px", ""):
        table.add_column(col, justify="right" if col not in ("GCP", "") else "left")
    gcps = georef_obj.gcps
    for i, row in enumerate(rep.rows()):
        table.add_row(
            row["id"], "yes" if row["enabled"] else "no", f"{gcps.pixel[i, 0]:.1f}", f"{gcps.pixel[i, 1]:.1f}",
            f"{row['dx']:.3f}", f"{row['dy']:.3f}", f"{row['residual_m']:.2f}", f"{row['residual_px']:.2f}",
            _num(row["loo_m"]), _num(row["loo_px"]), "OUTLIER" if row["outlier"] else "",
        )
    console = Console(width=140)
    console.print(table)
    s = rep.summary()
    console.print(
        f"{georef_obj.transform}: {s['enabled']} enabled GCPs (min {s['min_points']}); "
        f"RMSE {_num(s['rmse_m'])} m = {_num(s['rmse_px'])} px [sqrt(sum r^2 / n)]; "
        f"QGIS-style {_num(s['rmse_qgis_m'])} m [/ (n - {s['min_points']})]; "
        f"leave-one-out RMSE {_num(s['loo_rmse_m'])} m = {_num(s['loo_rmse_px'])} px, "
        f"median {_num(s['loo_median_m'])} m"
        + (f"; outliers: {', '.join(s['outliers'])}" if s["outliers"] else ""),
        markup=False,
    )


def _num(v: float | None) -> str:
    import math

    return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.2f}"


@georef.command("fit")
@click.argument("map_source", metavar="MAP")
@click.option("--gcps", "gcp_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="GCP file: .points (QGIS), .json (Allmaps), .csv, .vrt/.tif (GDAL).")
@click.option("--transform", "-t", default="polynomial1", show_default=True,
              help=f"Transform type: {', '.join(TRANSFORM_CHOICES)}, or 'best' (lowest leave-one-out error).")
@click.option("--crs", default=None, help="CRS of the GCP world coordinates (overrides the file's header).")
@click.option("--to-crs", default=None, help="Reproject the GCPs to this CRS and fit there (e.g. EPSG:2154).")
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Georeference to write (Allmaps annotation + jadis metadata, .json).")
@click.option("--image-url", default=None, metavar="URL",
              help="The scan's IIIF Image API service (base URL or info.json): the annotation then "
                   "targets it and opens in Allmaps. Implied when MAP is such a URL.")
@click.option("--quiet", "-q", is_flag=True, help="Do not print the residual table.")
def fit_cmd(map_source: str, gcp_file: Path, transform: str, crs: str | None, to_crs: str | None,
            output: Path, image_url: str | None, quiet: bool) -> None:
    """Fit a transform to GCPs; write the georeference and print residuals and leave-one-out errors.

    RMSE is sqrt(sum r^2 / n); the QGIS-style figure divides by n minus the transform's minimum
    number of points. The leave-one-out (LOO) error of a GCP is its error when the transform is
    fitted without it: the honest accuracy figure (a thin-plate spline always has zero residuals).

    \b
    Example:
      jadis georef fit jacoubet_13.jpg --gcps jacoubet_13.points --crs VERNIQUET-m -t polynomial2 -o j13.json
      jadis georef fit sheet.jpg --gcps sheet.json -t best -o sheet_best.json
      jadis georef fit https://iiif.example.org/iiif/sheet13 --gcps j13.points -o j13.json

    MAP is a local scan or the URL of an IIIF Image API service (fetched once into
    $JADIS_HOME/cache/iiif). With an IIIF service (MAP or --image-url) the output is a
    Georeference Annotation that Allmaps opens; otherwise target.source is the local path.
    """
    from jadis.georef.formats import read_gcps
    from jadis.georef.georeference import Georeference
    from jadis.io.atomic import check_output_file
    from jadis.io.iiif import read_info, resolve_scan_service
    from jadis.io.images import check_image

    check_output_file(output, "-o")
    map_image, service = resolve_scan_service(map_source)
    if image_url is not None:
        service = read_info(image_url)
    info = check_image(map_image)
    if service is not None and (service.width, service.height) != (info.width, info.height):
        from jadis.errors import JadisError

        raise JadisError(f"the IIIF image {service.id} is {service.width}x{service.height} pixels but "
                         f"{map_image.name} is {info.width}x{info.height}; give the full-size scan")
    gcps = read_gcps(gcp_file, crs=crs)
    if to_crs:
        gcps = gcps.to_crs(to_crs)
    mask = None
    if gcp_file.suffix.lower() == ".json":
        from jadis.georef.formats.allmaps import read_annotation

        mask = read_annotation(gcp_file).mask
    best = transform.strip().lower() == "best"
    g = Georeference(gcps, "polynomial1" if best else transform, image_size=(info.width, info.height), mask=mask,
                     image=service.id if service is not None else str(map_image), image_service=service)
    g.check_image(info.width, info.height, str(map_image))
    if best:
        from jadis.georef.fit import best_transform

        name, reports = best_transform(g)
        if not quiet:
            for n, rep in reports:
                loo = "cannot be fitted" if rep is None else f"leave-one-out RMSE {_num(rep.loo_rmse_m)} m"
                click.echo(f"  {n:12s} {loo}{'   <- best' if n == name else ''}")
        g = g.with_transform(name)
    g.validate()
    g.save(output)
    if not quiet:
        _print_report(g, f"{map_image.name if service is None else service.id}: {len(gcps)} GCPs")
    click.echo(f"wrote {output}")


@georef.command("report")
@click.argument("georef_file", metavar="GEOREF.json", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--transform", "-t", default=None, help="Refit with another transform type.")
@click.option("--index", type=int, default=None, help="Item of an AnnotationPage with several maps (0-based).")
def report_cmd(georef_file: Path, transform: str | None, index: int | None) -> None:
    """Print the residual / leave-one-out table of a georeference (any Allmaps annotation).

    \b
    Example:
      jadis georef report sheet.json
      jadis georef report sheet.json --transform tps
    """
    from jadis.georef.georeference import Georeference

    g = Georeference.load(georef_file, index=index)
    if transform:
        g = g.with_transform(transform)
    _print_report(g.validate(), f"{georef_file.name}: {len(g.gcps)} GCPs")


@georef.command("convert")
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("dest", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--crs", default=None, help="CRS of the source world coordinates (overrides the file's).")
@click.option("--to-crs", default=None, help="Reproject the world coordinates to this CRS.")
@click.option("--transform", "-t", default=None, help="Transform type written into an Allmaps annotation.")
@click.option("--image", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The scan (needed to write GDAL .vrt/.tif; gives the image size of an annotation).")
def convert_cmd(source: Path, dest: Path, crs: str | None, to_crs: str | None, transform: str | None,
                image: Path | None) -> None:
    """Convert GCPs between QGIS .points, Allmaps .json, CSV and GDAL .vrt/.tif.

    \b
    Example:
      jadis georef convert sheet.points sheet.json --crs VERNIQUET-toise --transform polynomial2 --image sheet.jpg
      jadis georef convert sheet.json sheet.points --to-crs EPSG:2154
    """
    from jadis.georef.formats import format_of, read_gcps, write_gcps
    from jadis.georef.georeference import Georeference
    from jadis.io.atomic import check_output_file

    format_of(dest)
    check_output_file(dest, "DEST")
    size, mask, name, kind, service = None, None, None, "polynomial1", None
    if format_of(source) == "allmaps":
        g = Georeference.load(source)
        gcps, size, mask, name, kind, service = g.gcps, g.image_size, g.mask, g.image, g.transform, g.image_service
        if crs:
            gcps = gcps.with_crs(crs)
    else:
        gcps = read_gcps(source, crs=crs)
    if to_crs:
        gcps = gcps.to_crs(to_crs)
    if image is not None:
        from jadis.io.images import check_image

        info = check_image(image)
        size, name, service = (info.width, info.height), str(image), None
    if format_of(dest) == "allmaps":
        Georeference(gcps, transform or kind, image_size=size, mask=mask, image=name, image_service=service).save(dest)
    else:
        write_gcps(dest, gcps, image=image)
    click.echo(f"wrote {dest} ({len(gcps)} GCPs)")


@georef.command("warp")
@click.argument("map_image", metavar="MAP", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("georef_file", metavar="GEOREF.json", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Cloud-Optimized GeoTIFF to write.")
@click.option("--crs", default=None, help="Output CRS (default: the georeference's), e.g. EPSG:2154.")
@click.option("--resampling", type=click.Choice(["nearest", "bilinear", "cubic", "lanczos"]), default="bilinear",
              show_default=True)
@click.option("--resolution", type=float, default=None, help="Output pixel size in CRS units (default: the scan's).")
@click.option("--compress", type=click.Choice(["deflate", "lzw", "zstd"]), default="deflate", show_default=True)
@click.option("--transform", "-t", default=None, help="Refit with another transform type.")
def warp_cmd(map_image: Path, georef_file: Path, output: Path, crs: str | None, resampling: str,
             resolution: float | None, compress: str, transform: str | None) -> None:
    """Warp a scan into a Cloud-Optimized GeoTIFF, transparent outside the map content.

    Uses the georeference's fitted world -> pixel transform; the content is its clip polygon
    (Allmaps SVG selector), else the whole image.

    \b
    Example:
      jadis georef warp sheet.jpg sheet.json --crs EPSG:2154 -o sheet_l93.tif
    """
    from jadis.georef.georeference import Georeference
    from jadis.georef.warp import warp
    from jadis.io.atomic import check_output_file

    check_output_file(output, "-o")
    g = Georeference.load(georef_file)
    if transform:
        g = g.with_transform(transform)
    warp(map_image, g, output, crs=crs, resampling=resampling, resolution=resolution, compress=compress)
    click.echo(f"wrote {output}")


@georef.command("apply")
@click.argument("georef_file", metavar="GEOREF.json", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--points", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="CSV with pixel columns x, y (with --inverse: lon, lat or X, Y).")
@click.option("--layers", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Vector file (e.g. the segmenter's GeoPackage) in pixel coordinates.")
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--inverse", is_flag=True, help="World -> pixel (points only).")
@click.option("--crs", default=None, help="CRS of X, Y / of the output layers (default: the georeference's).")
def apply_cmd(georef_file: Path, points: Path | None, layers: Path | None, output: Path, inverse: bool,
              crs: str | None) -> None:
    """Transform points (CSV) or vector layers from pixels to world coordinates, or back.

    Points: adds lon, lat (WGS84) and X, Y (georeference CRS or --crs); --inverse adds x, y.
    Every other column passes through unchanged. Layers: every layer of the file, to a GeoPackage.

    \b
    Example:
      jadis georef apply sheet.json --points labels.csv -o labels_world.csv
      jadis georef apply sheet.json --points places.csv --inverse -o places_px.csv
      jadis georef apply sheet.json --layers out/sheet.gpkg --crs EPSG:2154 -o sheet_l93.gpkg
    """
    from jadis.errors import JadisError
    from jadis.georef.apply import apply_layers, apply_points_file
    from jadis.georef.georeference import Georeference
    from jadis.io.atomic import check_output_file

    if (points is None) == (layers is None):
        raise JadisError("give exactly one of --points CSV or --layers FILE")
    check_output_file(output, "-o")
    g = Georeference.load(georef_file).validate()
    if points is not None:
        apply_points_file(g, points, output, inverse=inverse, crs=crs)
    else:
        if inverse:
            raise JadisError("--inverse applies to --points only")
        apply_layers(g, layers, output, crs=crs)
    click.echo(f"wrote {output}")


@georef.command("deformation")
@click.argument("georef_file", metavar="GEOREF.json", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--output", "-o", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory for the heat maps (PNG + GeoTIFF) and the distortion grid (GPKG + PNG).")
@click.option("--crs", default=None, help="CRS of the outputs (default: the georeference's).")
@click.option("--map", "map_image", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The scan, drawn under the distortion grid.")
@click.option("--grid-spacing", type=float, default=None, help="Distortion grid spacing in CRS units (default: auto).")
def deformation_cmd(georef_file: Path, output: Path, crs: str | None, map_image: Path | None,
                    grid_spacing: float | None) -> None:
    """Map the deformation of the fitted transform: local scale and rotation, distortion grid.

    From the Jacobian of pixel -> world: scale (metres per scan pixel, and relative to the
    median), rotation (degrees, relative to the median), as heat maps; and a regular world grid
    drawn on the scan, MapAnalyst-style.

    \b
    Example:
      jadis georef deformation sheet.json --map sheet.jpg -o sheet_deformation/
    """
    from jadis.georef.deformation import write_deformation
    from jadis.georef.georeference import Georeference
    from jadis.io.atomic import check_output_dir

    check_output_dir(output, "-o")
    g = Georeference.load(georef_file).validate()
    paths = write_deformation(g, output, crs=crs, image=map_image, spacing=grid_spacing)
    for p in paths:
        click.echo(f"wrote {p}")
