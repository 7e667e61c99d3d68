"""``jadis gazetteer``: list, add and remove the reference data of the geocoder."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def gazetteer() -> None:
    """List, add and remove gazetteers (historical street networks, address points, names).

    Bundled gazetteers ship with jadis (with their source and licence); your own are stored in
    $JADIS_HOME/gazetteers (default ~/.local/share/jadis/gazetteers).

    \b
    Example:
      jadis gazetteer list
      jadis gazetteer fetch --list
      jadis gazetteer fetch ban-paris
      jadis gazetteer add 1836_jacoubet.gpkg --name jacoubet_1836 --years 1825-1845 --name-field nom_entier
      jadis gazetteer from-map seg/sheet.gpkg --image sheet.jpg --georef sheet.json --name sheet_1888 --years 1888
    """


@gazetteer.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest entries as JSON.")
def list_cmd(as_json: bool) -> None:
    """List the gazetteers: name, kind, years valid, features, licence.

    \b
    Example:
      jadis gazetteer list
      jadis gazetteer list --json
    """
    import json

    from jadis.geocode.gazetteer import list_gazetteers

    infos = list_gazetteers()
    if as_json:
        click.echo(json.dumps([{**i.to_json(), "bundled": i.bundled, "path": str(i.path)} for i in infos],
                              ensure_ascii=False, indent=2))
        return
    click.echo(f"{'name':38s} {'kind':15s} {'years':11s} {'features':>8s}  {'origin':7s} licence")
    for i in infos:
        click.echo(f"{i.name:38s} {i.kind:15s} {i.years_text():11s} {i.features:8d}  "
                   f"{'bundled' if i.bundled else 'user':7s} {i.licence}")


@gazetteer.command("add")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--name", required=True, help="Short name to refer to it (lower-case, digits, _ - .).")
@click.option("--years", required=True, help="Years the data is valid for: 1820-1850, or one year.")
@click.option("--name-field", help="Field holding the street name (guessed if omitted).")
@click.option("--number-field", help="Field holding house numbers (address points).")
@click.option("--layer", help="Layer to read from a multi-layer file.")
@click.option("--crs", help="CRS of the coordinates when the file declares none or a wrong one (e.g. EPSG:2154).")
@click.option("--x-field", help="CSV: column of x / longitude.")
@click.option("--y-field", help="CSV: column of y / latitude.")
@click.option("--wkt-field", help="CSV: column of WKT geometries.")
@click.option("--kind", type=click.Choice(["street_network", "address_points", "street_points"]),
              help="What the file holds (guessed from geometries and numbers if omitted).")
@click.option("--licence", default="", help="Licence of the data, recorded in the manifest.")
@click.option("--source", default="", help="Where the data comes from, recorded in the manifest.")
@click.option("--replace", is_flag=True, help="Replace a gazetteer of yours with the same name.")
def add_cmd(file: Path, name: str, years: str, name_field: str | None, number_field: str | None,
            layer: str | None, crs: str | None, x_field: str | None, y_field: str | None,
            wkt_field: str | None, kind: str | None, licence: str, source: str, replace: bool) -> None:
    """Add your own gazetteer from a GeoPackage, GeoJSON, Shapefile or CSV (WKT or x/y columns).

    Lines become a street network, points with numbers address points, other points (or
    polygons) one point per street. The file is checked (names, geometries, CRS inside the
    Paris region) and stored in EPSG:2154.

    \b
    Example:
      jadis gazetteer add 1836_jacoubet.gpkg --name jacoubet_1836 --years 1825-1845 --name-field nom_entier
      jadis gazetteer add points.csv --name bottin_1850 --years 1850 --x-field lon --y-field lat --number-field num
    """
    from jadis.geocode.gazetteer import add_gazetteer

    info = add_gazetteer(file, name, years, name_field=name_field, number_field=number_field, layer=layer, crs=crs,
                         x_field=x_field, y_field=y_field, wkt_field=wkt_field, kind=kind, licence=licence,
                         source=source, replace_existing=replace)
    click.echo(f"added {info.name}: {info.features} features, {info.kind}, valid {info.years_text()} -> {info.path}")


@gazetteer.command("from-map")
@click.argument("layers", type=click.Path(path_type=Path))
@click.option("--image", required=True, type=click.Path(path_type=Path),
              help="The scan the layers were segmented from (labels are read on it).")
@click.option("--georef", "georef_path", type=click.Path(path_type=Path),
              help="Georeference of the scan (jadis/Allmaps JSON); not needed for a georeferenced GeoTIFF.")
@click.option("--name", required=True, help="Short name of the new gazetteer.")
@click.option("--years", required=True, help="Years the map shows: 1886-1890, or one year.")
@click.option("--keep-unmatched", is_flag=True,
              help="Also keep confident readings that match no known street name (new streets).")
@click.option("--min-similarity", type=click.FloatRange(0.0, 1.0), default=None,
              help="Least similarity between a reading and a known name (default 0.8).")
@click.option("--replace", is_flag=True, help="Replace a gazetteer of yours with the same name.")
def from_map_cmd(layers: Path, image: Path, georef_path: Path | None, name: str, years: str, keep_unmatched: bool,
                 min_similarity: float | None, replace: bool) -> None:
    """Make a gazetteer of the street names read on a segmented map: the map is the gazetteer of its year.

    LAYERS is the GeoPackage written by `jadis segment` (streets and labels). The words on the
    scan are found and read by OCR (offline), chained along their streets into names, corrected
    against the street names valid in the map's years (refused when unsure), and each name is given
    to the streets it is written on; house numbers read on named streets become a second gazetteer
    NAME_numbers (address points). Names are stored in Lambert-93 with a "labels" layer of every
    line read. How, and how well: docs/reading_the_map.md.

    \b
    Example:
      jadis segment sheet.jpg --out seg/
      jadis georef fit sheet.jpg --gcps sheet.points --crs ATLAS-MUN -o sheet.json
      jadis gazetteer from-map seg/sheet.gpkg --image sheet.jpg --georef sheet.json --name atlas_1888_s12 --years 1888
      jadis geocode "12 rue Dauphine" --year 1888 --gazetteer atlas_1888_s12
    """
    from jadis.pipelines.map_gazetteer import build_map_gazetteer

    result = build_map_gazetteer(layers, image, name, years, georef_path=georef_path, keep_unmatched=keep_unmatched,
                                 min_similarity=min_similarity, replace_existing=replace)
    click.echo(f"read {result.labels_read} word labels -> {result.lines} lines of text, {result.lines_named} named; "
               f"{result.segments_named} of {result.segments} street segments named ({result.names} names)")
    click.echo(f"added {result.info.name}: street_network, valid {result.info.years_text()} -> {result.info.path}")
    if result.numbers_info is not None:
        click.echo(f"added {result.numbers_info.name}: address_points ({result.numbers_info.features} house numbers)"
                   f" -> {result.numbers_info.path}")


@gazetteer.command("fetch")
@click.argument("name", required=False)
@click.option("--list", "show_list", is_flag=True, help="List the sources that can be fetched, and which are.")
@click.option("--yes", "-y", is_flag=True, help="Accept the licence without asking (it is still printed).")
@click.option("--url", help="Download from this URL instead (a mirror of a one-file source, or of a "
                            "Dataverse dataset record).")
@click.option("--base-url", help="Send every request to this mirror, which keeps the upstream paths "
                                 "(also: $JADIS_FETCH_BASE_URL).")
@click.option("--refresh", is_flag=True, help="Download again even if a complete copy is cached.")
@click.option("--timeout", type=click.FloatRange(1, 3600), default=60.0, show_default=True,
              help="Seconds to wait for the server.")
def fetch_cmd(name: str | None, show_list: bool, yes: bool, url: str | None, base_url: str | None, refresh: bool,
              timeout: float) -> None:
    """Download an open whole-city source once and add it as gazetteers (needs the network).

    Sources: the Base Adresse Nationale for Paris (present-day address points), the Ville de
    Paris street names, current and obsolete, with their former names (the bridge from historical to
    present names), OpenStreetMap streets of Paris, and GeoHistoricalData's Verniquet (1791) and
    Jacoubet (1836) street networks. The licence and attribution are printed before anything is
    downloaded. Files are cached in $JADIS_HOME/downloads (an interrupted download resumes; a
    truncated or corrupted one is refused); the gazetteers go to $JADIS_HOME/gazetteers, recorded
    with the source URL, the date, the sha256 and the licence. Present-day data is used as such by
    the geocoder: its matches are `modern_address` / `modern_street`, less certain the older the
    address. Nothing else in jadis uses the network. See docs/fetch.md.

    \b
    Example:
      jadis gazetteer fetch --list
      jadis gazetteer fetch ban-paris
      jadis gazetteer fetch paris-voies --yes
      jadis geocode "12 rue de Charonne" --year 1850
    """
    from jadis.errors import JadisError

    if show_list:
        from jadis.geocode.fetch import catalogue_rows

        click.echo(f"{'name':20s} {'becomes':20s} {'data':10s} {'status':18s} licence")
        for row in catalogue_rows():
            click.echo(f"{row['name']:20s} {row['kinds']:20s} {row['era']:10s} {row['status']:18s} {row['licence']}")
        return
    if not name:
        raise JadisError("name a source to fetch (see `jadis gazetteer fetch --list`)")
    from jadis.geocode.fetch import Plan, fetch

    def confirm(plan: Plan) -> bool:
        click.echo(plan.describe())
        if yes:
            return True
        if not click.get_text_stream("stdin").isatty():
            raise JadisError("accept the licence above with --yes (no terminal to ask on)")
        return click.confirm("Download under these terms?", default=True)

    infos = fetch(name, base_url=base_url, url=url, confirm=confirm, refresh=refresh, timeout=timeout,
                  echo=lambda line: click.echo(line, err=True))
    if not infos:
        click.echo("nothing downloaded")
        return
    for info in infos:
        what = f"{info.features} names with their dates" if info.kind == "names" else \
            f"{info.features} features, {info.kind}, valid {info.years_text()}"
        click.echo(f"added {info.name}: {what} -> {info.path}")


@gazetteer.command("remove")
@click.argument("name")
def remove_cmd(name: str) -> None:
    """Remove a gazetteer you added.

    \b
    Example:
      jadis gazetteer remove jacoubet_1836
    """
    from jadis.geocode.gazetteer import remove_gazetteer

    info = remove_gazetteer(name)
    click.echo(f"removed {info.name}")
