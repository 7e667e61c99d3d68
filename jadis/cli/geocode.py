"""``jadis geocode``: place historical addresses on the streets of their year."""

from __future__ import annotations

from pathlib import Path

import click


def _is_file(source: str) -> bool:
    """Whether SOURCE names an existing file (an address too long for a file name is not one)."""
    try:
        return Path(source).is_file()
    except (OSError, ValueError):  # e.g. "File name too long", an embedded NUL
        return False


@click.command()
@click.argument("source")
@click.option("--year", type=int, help="Year of the addresses (default for rows without one in --year-column).")
@click.option("--year-column", help="Column holding each row's year (a year or a date).")
@click.option("--address-column", help="Column holding the addresses (guessed from its name if omitted).")
@click.option("--number-column", help="Column holding house numbers, when they are apart from the street.")
@click.option("--gazetteer", "gazetteers", multiple=True,
              help="Use only this gazetteer (repeatable; see `jadis gazetteer list`). Default: all.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Result file: .csv, or .gpkg (points in EPSG:2154). Required for a CSV input.")
@click.option("--encoding", default="utf-8", show_default=True, help="Encoding of the input CSV.")
@click.option("--delimiter", help="CSV delimiter (guessed from the first lines if omitted).")
@click.option("--min-score", default=0.8, show_default=True, type=click.FloatRange(0.0, 1.0),
              help="Least name similarity for a street to match.")
def geocode(source: str, year: int | None, year_column: str | None, address_column: str | None,
            number_column: str | None, gazetteers: tuple[str, ...], output: Path | None, encoding: str,
            delimiter: str | None, min_score: float) -> None:
    """Geocode historical Paris addresses: SOURCE is a CSV file or one address in quotes.

    Each address is matched to the streets of its year (gazetteers valid then are preferred) and
    placed on a known address point, interpolated along the street with Paris odd/even sides, or
    put at the street's centre. The output keeps the input columns and adds lon, lat (WGS84),
    x, y (EPSG:2154), match_type (address_point | interpolated | street | none), score (0-1),
    matched_name, gazetteer, uncertainty_m and an explanation of every match.

    \b
    Example:
      jadis geocode "12 rue de Charonne" --year 1836
      jadis geocode "Dupont, tailleur, faub. S.-Antoine, 123" --year 1836
      jadis geocode bottin_1836.csv --year 1836 --address-column adresse -o bottin_1836.gpkg
      jadis geocode list.csv --year-column annee --gazetteer jacoubet_1836 -o out.csv
    """
    import pandas as pd

    from jadis.errors import JadisError
    from jadis.geocode.gazetteer import load_gazetteers
    from jadis.geocode.geocoder import MATCH_TYPES, YEAR_MAX, YEAR_MIN, Geocoder
    from jadis.geocode.tables import (
        check_delimiter,
        guess_address_column,
        guess_year_column,
        output_format,
        read_table,
        write_results,
    )
    from jadis.io.atomic import check_output_file

    if output is not None:
        output_format(output)  # fail early on a bad extension or an unwritable place
        check_output_file(output, "-o")
    is_file = _is_file(source) or source.lower().endswith((".csv", ".tsv", ".txt"))
    if year is not None and not YEAR_MIN <= year <= YEAR_MAX:
        raise JadisError(f"--year {year} is not a plausible year (use {YEAR_MIN}-{YEAR_MAX})")
    delimiter = check_delimiter(delimiter)
    geocoder = Geocoder(load_gazetteers(list(gazetteers) or None), min_score=min_score)

    if not is_file:
        if year_column or address_column or number_column:
            raise JadisError("--year-column/--address-column/--number-column need a CSV file as SOURCE")
        frame = pd.DataFrame({"address": [source]})
        result = geocoder.geocode_table(frame, "address", year=year, progress=False)
        row = result.iloc[0]
        for key in ("match_type", "score", "lon", "lat", "x", "y", "matched_name", "gazetteer", "uncertainty_m",
                    "explanation"):
            value = row[key]
            click.echo(f"{key:14s} {'' if pd.isna(value) else value}")
        if output is not None:
            write_results(result, output)
            click.echo(f"wrote {output}", err=True)
        return

    if output is None:
        raise JadisError("give an output file with -o OUT.csv or -o OUT.gpkg")
    table = read_table(source, encoding=encoding, delimiter=delimiter)
    if table.empty:
        raise JadisError(f"{source}: the table has a header but no rows to geocode")
    columns = list(map(str, table.columns))
    if address_column is None:
        address_column = guess_address_column(columns)
        if address_column is None:
            raise JadisError(f"which column holds the addresses? pass --address-column (columns: {', '.join(columns)})")
    if year_column is None and year is None:
        year_column = guess_year_column(columns)
        if year_column is None:
            raise JadisError("give the addresses' year with --year, or a column of years with --year-column")
    result = geocoder.geocode_table(table, address_column, year=year, year_column=year_column,
                                    number_column=number_column)
    write_results(result, output)
    counts = result["match_type"].value_counts()
    summary = ", ".join(f"{counts.get(t, 0)} {t}" for t in MATCH_TYPES if t in counts or not t.startswith("modern"))
    click.echo(f"geocoded {len(result)} addresses ({summary}) -> {output}", err=True)
