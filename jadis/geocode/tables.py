"""Reading address lists (CSV) strictly and writing geocoding results (CSV or GeoPackage).

Historians' spreadsheets arrive with semicolons or commas, a BOM, Latin-1 bytes, or rows with an
unquoted comma inside a value. We refuse what we cannot read faithfully, with the line number,
instead of silently shifting columns.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from jadis.errors import JadisError, shorten
from jadis.io.atomic import atomic_path

DELIMITERS = ",;\t|"


#: Column names that hold the addresses (any case), most likely first.
ADDRESS_COLUMNS = ("address", "adresse", "addresses", "adresses", "addr", "query", "raw", "entry", "texte", "text")
#: Words that make a column name look like an address column ("Adresse complète", "nom de rue").
_ADDRESS_WORDS = ("adresse", "address", "addr")
#: Column names that hold each row's year (any case), most likely first.
YEAR_COLUMNS = ("year", "annee", "année", "date", "address_date", "years")


def pick_column(columns: Sequence[str], names: Sequence[str]) -> str | None:
    """The first of ``names`` that is one of ``columns`` (any case, outer spaces ignored), as spelt there."""
    lower = {str(c).lower().strip(): str(c) for c in columns}
    return next((lower[n] for n in names if n in lower), None)


def guess_address_column(columns: Sequence[str]) -> str | None:
    """The column that most likely holds the addresses: one named as in :data:`ADDRESS_COLUMNS`, else
    the first whose name contains an address word (adresse, address, addr) or the word ``rue``, else
    the only column; None when nothing says (the CLI and the app both guess with this)."""
    columns = [str(c) for c in columns]
    exact = pick_column(columns, ADDRESS_COLUMNS)
    if exact is not None:
        return exact
    for column in columns:
        name = column.lower()
        if any(word in name for word in _ADDRESS_WORDS) or "rue" in re.split(r"[^\w]+", name):
            return column
    return columns[0] if len(columns) == 1 else None


def guess_year_column(columns: Sequence[str]) -> str | None:
    """The column that most likely holds each row's year (named as in :data:`YEAR_COLUMNS`), or None."""
    return pick_column(columns, YEAR_COLUMNS)


def _decode(path: Path, encoding: str) -> str:
    data = path.read_bytes()
    if not data.strip():
        raise JadisError(f"{path}: empty file")
    if b"\x00" in data[:4096]:
        raise JadisError(f"{path}: binary file, not a CSV table")
    enc = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    try:
        return data.decode(enc)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise JadisError(f"{path}: not valid {encoding} (line {line}, byte {exc.start}); re-save it as UTF-8 "
                         "or pass --encoding latin-1 / cp1252") from exc
    except LookupError as exc:
        raise JadisError(f"unknown encoding {encoding!r}") from exc


def sniff_delimiter(text: str) -> str:
    """The delimiter that splits the first lines into the same, largest number of fields."""
    lines = [ln for ln in text.splitlines()[:20] if ln.strip()]
    best, best_score = ",", (-1, -1)
    for delim in DELIMITERS:
        counts = [len(row) for row in csv.reader(lines, delimiter=delim)]
        if not counts:
            continue
        consistent = sum(1 for c in counts if c == counts[0])
        score = (consistent if counts[0] > 1 else 0, counts[0])
        if score > best_score:
            best, best_score = delim, score
    return best


def check_delimiter(delimiter: str | None) -> str | None:
    """A usable CSV delimiter: one character (``\\t`` or ``tab`` mean a tab); None stays None."""
    if delimiter is None:
        return None
    if delimiter in ("\\t", "tab", "TAB"):
        return "\t"
    if len(delimiter) != 1 or delimiter in ('"', "\r", "\n"):
        raise JadisError(f"--delimiter must be one character such as , ; | or \\t, got {shorten(repr(delimiter), 20)}")
    return delimiter


def read_table(path: str | os.PathLike[str], encoding: str = "utf-8", delimiter: str | None = None) -> pd.DataFrame:
    """Read a CSV file as strings; one-line :class:`JadisError` for anything malformed."""
    path = Path(path)
    try:
        if not path.exists():
            raise JadisError(f"{shorten(path, 120)}: no such file")
    except OSError as exc:  # a name too long
        raise JadisError(f"{shorten(path, 120)}: not a usable file name ({exc.strerror})") from exc
    if path.is_dir():
        raise JadisError(f"{path}: is a directory, not a CSV file")
    delimiter = check_delimiter(delimiter)
    text = _decode(path, encoding)
    delim = delimiter or sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim, strict=True)
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise JadisError(f"{path}: malformed CSV at line {reader.line_num}: {exc}") from exc
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise JadisError(f"{path}: empty file")
    header = [h.strip() or f"unnamed_{i}" for i, h in enumerate(rows[0])]  # e.g. an exported index
    seen: dict[str, int] = {}
    for i, h in enumerate(header):  # a repeated name becomes "name.1", "name.2" (as pandas does)
        if h in seen:
            seen[h] += 1
            header[i] = f"{h}.{seen[h]}"
        else:
            seen[h] = 0
    for i, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise JadisError(f"{path}: row {i} has {len(row)} fields but the header has {len(header)} "
                             f"(an unquoted {delim!r} inside a value?); fix or quote that row")
    return pd.DataFrame(rows[1:], columns=header, dtype=object)


def output_format(path: str | os.PathLike[str]) -> str:
    """``csv`` or ``gpkg`` from the output file name; anything else is an error."""
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix == ".gpkg":
        return "gpkg"
    raise JadisError(f"{path}: output must end in .csv or .gpkg")


def write_results(frame: pd.DataFrame, path: str | os.PathLike[str], layer: str = "geocoded") -> Path:
    """Write a result table as CSV, or as a GeoPackage of points in EPSG:2154 (rows without a
    position keep an empty geometry). Atomic: the file appears only when complete."""
    path = Path(path)
    fmt = output_format(path)
    if fmt == "csv":
        with atomic_path(path) as tmp:
            frame.to_csv(tmp, index=False, encoding="utf-8")
        return path
    import geopandas as gpd
    import pyogrio

    geometry = gpd.points_from_xy(pd.to_numeric(frame["x"], errors="coerce"),
                                  pd.to_numeric(frame["y"], errors="coerce"), crs="EPSG:2154")
    gdf = gpd.GeoDataFrame(frame.copy(), geometry=geometry, crs="EPSG:2154")
    gdf.loc[frame["x"].isna().to_numpy(), "geometry"] = None
    with atomic_path(path) as tmp:
        pyogrio.write_dataframe(gdf, tmp, layer=layer, driver="GPKG")
    return path
