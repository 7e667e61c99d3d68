"""``jadis project``: the review workspace on the command line (what the app does, scriptable)."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def project() -> None:
    """Create and manage a review project: one folder, one GeoPackage.

    A project holds the registered scans (path, checksum, size, status), their segmentation as
    versioned tiles, every correction with who and when, control points and georeferences, and
    geocoding runs. QGIS opens PROJECT/project.gpkg as it is. `jadis app PROJECT` opens it in the
    web app.

    \b
    Example:
      jadis project init paris1836
      jadis project add paris1836 scans/sheet13.jpg --year 1836
      jadis project status paris1836
    """


@project.command("init")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--name", help="Project name (default: the folder name).")
@click.option("--crs", default="EPSG:2154", show_default=True,
              help="CRS of the project's world layers (control points, geocoded addresses).")
def init_cmd(folder: Path, name: str | None, crs: str) -> None:
    """Create a new, empty project in FOLDER.

    \b
    Example:
      jadis project init paris1836 --name "Jacoubet 1836"
    """
    from jadis.project.workspace import init_project

    proj = init_project(folder, name=name, crs=crs)
    click.echo(f"created project '{proj.name}' in {proj.root} (store: {proj.gpkg_path.name}, CRS {proj.crs})")


@project.command("add")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.argument("maps", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--copy", is_flag=True, help="Copy the scans into PROJECT/scans/ instead of referencing them.")
@click.option("--year", type=int, help="Year the map represents (used by geocoding).")
@click.option("--name", help="Map name (one map only; default: the file name).")
@click.option("--classes", "classes", type=click.Path(dir_okay=False, path_type=Path),
              help="A class raster for the map (e.g. from `jadis segment`): imported as its segmentation.")
@click.option("--author", help="Who is adding (default: $JADIS_AUTHOR or the login name).")
def add_cmd(folder: Path, maps: tuple[Path, ...], copy: bool, year: int | None, name: str | None,
            classes: Path | None, author: str | None) -> None:
    """Register map scans (TIFF, JPEG, PNG, JPEG 2000) in the project FOLDER.

    Each scan is checked (readable, within the pixel limit) and its SHA-256 recorded; the same
    file cannot be registered twice.

    \b
    Example:
      jadis project add paris1836 sheet13.jpg sheet20.jpg --year 1836 --copy
      jadis project add paris1836 sheet13.jpg --classes out/sheet13_classes.tif
    """
    import contextlib
    import sqlite3

    from jadis.errors import JadisError
    from jadis.io.images import check_image
    from jadis.project.maps import add_map, unregister_map
    from jadis.project.tiles import check_class_raster, import_class_raster
    from jadis.project.workspace import open_project

    if (name or classes) and len(maps) > 1:
        raise JadisError("--name and --classes apply to one map at a time")
    proj = open_project(folder)
    if classes is not None:  # before registering: a wrong raster must leave the project unchanged
        scan = check_image(maps[0])
        check_class_raster(classes, scan.width, scan.height, f"the scan {maps[0].name}")
    for path in maps:
        record = add_map(proj, path, name=name, copy=copy, year=year, author=author)
        if classes is not None:
            try:
                import_class_raster(proj, record.id, classes, source="import", detail=str(classes), author=author)
            except BaseException:  # roll the registration back (the original error is the one to show)
                with contextlib.suppress(JadisError, OSError, sqlite3.Error):
                    unregister_map(proj, record, delete_copy=record.path.resolve() != path.resolve())
                raise
        click.echo(f"added map #{record.id} '{record.name}' ({record.width}x{record.height} px, "
                   f"sha256 {record.sha256[:12]}…)")
        if classes is not None:
            click.echo(f"  imported class raster {classes}")


@project.command("status")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--verify", is_flag=True, help="Also re-check each scan's checksum.")
def status_cmd(folder: Path, verify: bool) -> None:
    """Show the maps of a project and how far each one is (segmented, validated, georeferenced),
    and each map's steps (segment, georef, names, warp: done, failed and why, or still to do).

    \b
    Example:
      jadis project status paris1836 --verify
    """
    from rich.console import Console
    from rich.table import Table

    from jadis.project.status import project_summary
    from jadis.project.workspace import open_project

    proj = open_project(folder)
    summary = project_summary(proj, verify=verify)
    table = Table(title=f"{proj.name} — {proj.root}")
    for col in ("#", "map", "size", "status", "tiles reviewed", "georef", "steps", "problem"):
        table.add_column(col)
    for s in summary.maps:
        failed = [f"{step} failed: {state.get('message') or ''}" for step, state in s.steps.items()
                  if state.get("status") == "failed"]
        table.add_row(str(s.record.id), s.record.name, f"{s.record.width}x{s.record.height}", s.record.status,
                      f"{s.tiles_accepted}+{s.tiles_rejected}/{s.tiles_total}" if s.tiles_total else "-",
                      f"v{s.georef_version} {s.georef_transform}" if s.georef_version else "-",
                      s.steps_text, "; ".join(filter(None, [s.problem, *failed])))
    Console(width=160).print(table)
    from jadis.project.batch import rejected_sources

    for reject in rejected_sources(proj):
        click.echo(f"not registered by the last batch run: {reject['source']}: {reject['reason']}")
    click.echo(f"{len(summary.maps)} map(s), {summary.corrections} correction(s) "
               f"({summary.conflicts} refused for conflict), {summary.geocode_runs} geocoding run(s)")


@project.command("history")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--map", "map_ref", help="Only this map (name or id).")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True,
              help="How many corrections to show.")
def history_cmd(folder: Path, map_ref: str | None, limit: int) -> None:
    """List the corrections saved in a project, newest first (who, when, what).

    \b
    Example:
      jadis project history paris1836 --map sheet13
    """
    from jadis.project.corrections import list_corrections
    from jadis.project.maps import get_map
    from jadis.project.workspace import open_project

    proj = open_project(folder)
    map_id = get_map(proj, map_ref).id if map_ref else None
    for c in list_corrections(proj, map_id)[:limit]:
        click.echo(f"#{c.id}\t{c.created_at}\t{c.author}\tmap {c.map_id}\t{c.target}\t{c.status}\t{c.message}")


@project.command("segment")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.argument("maps", nargs=-1)
@click.option("--checkpoint", type=click.Path(dir_okay=False, path_type=Path), help="Model checkpoint.")
@click.option("--author", help="Who runs it (default: $JADIS_AUTHOR or the login name).")
@click.option("--names/--no-names", default=True, show_default=True,
              help="Also read the street names and house numbers printed on the map (OCR).")
def segment_cmd(folder: Path, maps: tuple[str, ...], checkpoint: Path | None, author: str | None,
                names: bool) -> None:
    """Segment maps of the project (all not yet segmented, or the named ones) with the U-Net,
    then read their street names (see docs/reading_the_map.md).

    \b
    Example:
      jadis project segment paris1836 sheet13
      jadis project segment paris1836 --no-names
    """
    from jadis.project.maps import get_map, list_maps
    from jadis.project.runs import segment_map
    from jadis.project.workspace import open_project

    proj = open_project(folder)
    records = [get_map(proj, m) for m in maps] if maps else [r for r in list_maps(proj) if r.status == "registered"]
    if not records:
        click.echo("nothing to segment (every map is segmented; name maps to segment them again)")
    for record in records:
        segment_map(proj, record.id, checkpoint=checkpoint, author=author, names=names)
        click.echo(f"segmented '{record.name}'" + (" and read its street names" if names else ""))


@project.command("export")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Output folder (default: PROJECT/exports).")
@click.option("--map", "map_refs", multiple=True, help="Only these maps (name or id; repeatable).")
@click.option("--crs", help="CRS of the georeferenced outputs (default: the project CRS).")
def export_cmd(folder: Path, out_dir: Path | None, map_refs: tuple[str, ...], crs: str | None) -> None:
    """Export the project for GIS: GeoPackage layers, class rasters, COG GeoTIFFs, a QGIS project.

    Writes OUT/<project>.gpkg (per-map segmentation layers, control points, geocoded addresses,
    in the project CRS for georeferenced maps, else in pixels), OUT/<map>_classes.tif,
    and for georeferenced maps OUT/<map>_cog.tif and OUT/<map>_classes_cog.tif (Cloud-Optimized
    GeoTIFFs), plus OUT/<project>.qgz, a QGIS project with every layer styled by class.

    \b
    Example:
      jadis project export paris1836 --out paris1836_gis
    """
    from jadis.project.export import export_project
    from jadis.project.workspace import open_project

    proj = open_project(folder)
    report = export_project(proj, out_dir, maps=list(map_refs) or None, crs=crs)
    for path in report.files:
        click.echo(str(path))
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
