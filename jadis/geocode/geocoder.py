"""The geocoding pipeline: parse → match the street in the gazetteers of the year → position.

For each address the geocoder:

1. parses it (:mod:`.parse`) into a street, a house number and qualifiers;
2. finds candidate streets in every gazetteer (:mod:`.match`), scoring each by name similarity times
   a temporal factor (1 inside the gazetteer's years, decreasing outside); a street that is not
   found is looked up again under its other names (Wikidata, renaming events);
3. picks the reference street (the best candidate, a street line when one is nearly as good);
4. positions the number: an address point of that street when one is known (any year of the same
   numbering system), else interpolation along the street line (:mod:`.position`), else the
   street's centre; a corner ("au coin de …") is placed at the crossing of the two streets.

Every result carries ``match_type`` (address_point | interpolated | street | modern_address |
modern_street | none), ``score``
(0–1: how sure we are that the street is the right one), ``uncertainty_m`` (how far the true
place may be) and a one-line explanation.

Present-day gazetteers (``era: modern`` in the manifest: the BAN, OpenStreetMap, the Ville de Paris
nomenclature fetched by ``jadis gazetteer fetch``) are the last resort: a historical street line or
address point of the address's time is preferred, present-day house numbers are used only when
no historical source places the number, and a result placed on present-day data says so
(``modern_address`` / ``modern_street``), its uncertainty grown with the years between the address
and the data (renumbering, streets cut or extended).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, replace
from functools import lru_cache

import numpy as np
import pandas as pd

from jadis.errors import JadisError, JadisWarning, shorten
from jadis.geocode.districts import in_district, qualifier_of
from jadis.geocode.gazetteer import RANGE_COLUMNS, Gazetteer, GazetteerInfo, load_gazetteers
from jadis.geocode.match import Candidate, NameHistory, NameIndex, Street
from jadis.geocode.normalize import StreetName, street_name
from jadis.geocode.parse import ParsedAddress, parse_address
from jadis.geocode.position import (
    MAX_ANCHOR_DISTANCE_M,
    Anchors,
    Placement,
    Polyline,
    RangeSegments,
    StreetModel,
    anchors_from_points,
    anchors_from_ranges,
    default_offset,
    main_path,
)

MATCH_TYPES = ("address_point", "interpolated", "street", "modern_address", "modern_street", "none")
#: What a match on present-day data becomes.
MODERN_TYPES = {"address_point": "modern_address", "interpolated": "modern_address", "street": "modern_street"}
#: Present-day data for an older address: metres of uncertainty added per year between them, and at most.
MODERN_DRIFT_M_PER_YEAR = 0.5
MODERN_DRIFT_MAX_M = 150.0
#: Least name score of a match on present-day data.
MODERN_MIN_SCORE = 0.9
#: The years an address may have (``--year`` and every value of ``--year-column``), inclusive.
YEAR_MIN, YEAR_MAX = 1000, 2200
#: The 1805 decree: before it, Paris house numbers ran through each section, not along streets.
NUMBERING_REFORM_YEAR = 1805
#: Default minimum score of a street match.
MIN_SCORE = 0.8
#: Score factor for a name found through the name history (a renamed street).
RENAMED = 0.97
#: Score factor when several streets of the gazetteer bear the name.
AMBIGUOUS = 0.9
#: Score factor for an inexact match when the queried name is itself a known Paris street name
#: ("rue de la Harpe" is not a misspelling of "rue de l'Écharpe").
KNOWN_OTHER_NAME = 0.88
#: Least name score of a street whose numbers may serve (it must also lie along the reference street).
RELATED_MIN = 0.75
#: Address points this many years farther than a source of house-number ranges are not used.
RENUMBERING_YEARS = 20
#: Uncertainty of a street known only as a point (its length is unknown).
STREET_POINT_UNCERTAINTY_M = 150.0
#: Columns added to the input by :meth:`Geocoder.geocode_table`.
RESULT_COLUMNS = ("lon", "lat", "x", "y", "match_type", "score", "matched_name", "gazetteer",
                  "uncertainty_m", "explanation", "parsed_street", "parsed_number")


@dataclass(frozen=True)
class GeocodeResult:
    """One geocoded address (coordinates in EPSG:2154; lon/lat are added for tables)."""

    match_type: str
    score: float
    x: float | None
    y: float | None
    matched_name: str | None
    gazetteer: str | None
    uncertainty_m: float | None
    explanation: str
    parsed_street: str | None
    parsed_number: str

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def parse_year(value: object) -> int | None:
    """The year of a ``--year-column`` cell; None for an empty cell, ValueError when unusable.

    A cell that is a number is the year itself (``1836``, ``1836.0``); in other text the first
    four-digit number is (``12/05/1836``, ``1836-05-12``, ``1836-1840``). Either way the year must
    lie in :data:`YEAR_MIN`–:data:`YEAR_MAX`, the range ``--year`` accepts.
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value).strip()
    if not text or text.lower() in ("nan", "na", "n/a", "none", "null", "-"):
        return None
    try:
        number = float(text.replace(",", "."))
    except ValueError:
        found = re.search(r"(?<![\d.,])\d{4}(?![\d.,])", text)
        if found is None:
            raise ValueError(f"no year in {text!r}") from None
        number = float(found.group())
    if not (np.isfinite(number) and number == int(number) and YEAR_MIN <= number <= YEAR_MAX):
        raise ValueError(f"{text!r} is not a year {YEAR_MIN}-{YEAR_MAX}")
    return int(number)


@lru_cache(maxsize=100_000)
def temporal_factor(info: GazetteerInfo, year: float | None) -> float:
    """1 inside the gazetteer's years, then −0.5 % per year outside, down to 0.5."""
    return max(0.5, 1.0 - info.years_from(year) / 200.0)


def numbering_compatible(info: GazetteerInfo, year: float | None) -> bool:
    """Whether house numbers of ``info`` follow the same numbering system as addresses of ``year``."""
    if year is None or info.years is None:
        return True
    return (year >= NUMBERING_REFORM_YEAR) == (info.years[1] >= NUMBERING_REFORM_YEAR + 5)


@dataclass(frozen=True)
class _Scored:
    cand: Candidate
    info: GazetteerInfo
    score: float       # name similarity x temporal factor (x renaming / ambiguity factors)
    name_score: float  # the same without the temporal factor: decides acceptance
    note: str          # the name-history note, if any

    @property
    def street(self) -> Street:
        return self.cand.street


@dataclass
class _Context:
    """One street as written, in one year: the part of geocoding that does not depend on the number."""

    query: StreetName
    good: list[_Scored]           #: candidates related by name (for house numbers, checked in space)
    ref: _Scored | None
    head: str                     #: explanation after "<street as written> -> " (or the closest name)
    point_sources: list[_Scored]  #: address-point streets to look numbers up in, best first
    numbering_ok: bool            #: house numbers of this year can be placed along streets
    model: StreetModel | None = None


def _split_number(text) -> tuple[int | None, str]:
    """"12bis" -> (12, "bis"); anything without leading digits -> (None, "")."""
    if not isinstance(text, str):
        return None, ""
    digits = ""
    for i, ch in enumerate(text):
        if ch.isdigit():
            digits += ch
        else:
            return (int(digits) if digits else None), text[i:].strip().lower()
    return (int(digits) if digits else None), ""


class Geocoder:
    """Geocode historical Paris addresses against a set of gazetteers.

    >>> geocoder = Geocoder()                      # every bundled and user gazetteer
    >>> geocoder.geocode("12 rue de Charonne", 1836).match_type
    'address_point'
    """

    def __init__(self, gazetteers: Sequence[Gazetteer] | None = None, min_score: float = MIN_SCORE) -> None:
        gazetteers = list(load_gazetteers() if gazetteers is None else gazetteers)
        if not any(g.kind != "names" for g in gazetteers):
            raise JadisError("no gazetteer with geometries to geocode against (see `jadis gazetteer list`)")
        self.gazetteers = {g.name: g for g in gazetteers}
        self.min_score = float(min_score)
        self.index = NameIndex(gazetteers)
        self.history = NameHistory.from_gazetteers(gazetteers)
        self._xy: dict[str, np.ndarray] = {}
        self._numbers: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._models: dict[tuple, StreetModel] = {}
        self._near: dict[tuple, bool] = {}
        self._range_cache: dict[tuple, list[tuple[np.ndarray, list[int | None]]]] = {}
        self._contexts: dict[tuple[StreetName, float | None], _Context] = {}
        self._lookups: dict[tuple, dict] = {}
        self._lengths: dict[str, np.ndarray] = {}
        self._with_ranges: dict[str, bool] = {}
        self._range_values: dict[str, np.ndarray] = {}
        self._bounds: dict[str, np.ndarray] = {}
        self._geoms: dict[str, np.ndarray] = {}
        self._known_cores: set[str] | None = None
        self._cached = lru_cache(maxsize=200_000)(self._geocode)

    # ----------------------------------------------------------------------------------------- public

    def geocode(self, address: str, year: float | None = None) -> GeocodeResult:
        """Geocode one address for a year (None: no time preference)."""
        if year is not None and not np.isfinite(year):
            year = None
        return self._cached(str(address or ""), None if year is None else float(year))

    def geocode_many(self, addresses: Iterable[str], years: Iterable[float | None] | float | None = None,
                     progress: bool = True) -> list[GeocodeResult]:
        """Geocode many addresses (one year for all, or one per address), with a progress bar."""
        addresses = list(addresses)
        if years is None or isinstance(years, (int, float)):
            years = [years] * len(addresses)
        years = list(years)
        if len(years) != len(addresses):
            raise ValueError("addresses and years differ in length")
        items = zip(addresses, years, strict=True)
        if progress:
            from jadis.progress import track

            items = track(items, "geocoding", total=len(addresses))
        return [self.geocode(a, y) for a, y in items]

    def geocode_table(self, frame: pd.DataFrame, address_column: str, year: float | None = None,
                      year_column: str | None = None, number_column: str | None = None,
                      progress: bool = True) -> pd.DataFrame:
        """The input table plus the result columns (:data:`RESULT_COLUMNS`)."""
        for col in (address_column, year_column, number_column):
            if col is not None and col not in frame.columns:
                raise JadisError(f"no column {col!r} in the input; columns are: {', '.join(map(str, frame.columns))}")
        addresses = frame[address_column].fillna("").astype(str)
        if number_column is not None:
            addresses = frame[number_column].fillna("").astype(str).str.strip() + " " + addresses
        if year_column is not None:
            year_list, bad = self._row_years(frame[year_column].tolist(), year)
            if all(y is None for y in year_list):
                raise JadisError(f"column {year_column!r} holds no usable years (a year is {YEAR_MIN}-{YEAR_MAX}) "
                                 "and no --year was given")
            if bad:
                shown = ", ".join(f"row {i + 2} ({shorten(v, 20)!r})" for i, v in bad[:5])
                more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
                used = f"with the default year {year:g}" if year is not None else "without a year"
                warnings.warn(JadisWarning(f"column {year_column!r}: {len(bad)} unusable year(s), not a year "
                                           f"{YEAR_MIN}-{YEAR_MAX}: {shown}{more}; geocoded {used}"),
                              stacklevel=2)
        else:
            year_list = [year] * len(frame)
        results = self.geocode_many(addresses.tolist(), year_list, progress=progress)
        out = frame.copy()
        table = pd.DataFrame([r.as_dict() for r in results], index=frame.index,
                             columns=[f.name for f in fields(GeocodeResult)])
        lon, lat = to_wgs84(table["x"].to_numpy(dtype=float), table["y"].to_numpy(dtype=float))
        clash = [c for c in RESULT_COLUMNS if c in out.columns]
        if clash:
            out = out.rename(columns={c: f"input_{c}" for c in clash})
        out["lon"], out["lat"] = np.round(lon, 7), np.round(lat, 7)
        for col in RESULT_COLUMNS[2:]:
            out[col] = table[col]
        for col, digits in (("x", 2), ("y", 2), ("score", 3), ("uncertainty_m", 1)):
            out[col] = pd.to_numeric(table[col], errors="coerce").astype(float).round(digits)
        return out

    @staticmethod
    def _row_years(values: list[object], default: float | None) -> tuple[list[float | None], list[tuple[int, object]]]:
        """Each row's year (``default`` where the cell is empty or unusable) and the unusable cells."""
        years: list[float | None] = []
        bad: list[tuple[int, object]] = []
        for i, value in enumerate(values):
            try:
                parsed = parse_year(value)
            except ValueError:
                parsed = None
                bad.append((i, value))
            years.append(default if parsed is None else float(parsed))
        return years, bad

    # ----------------------------------------------------------------------------------------- pipeline

    def _geocode(self, address: str, year: float | None) -> GeocodeResult:
        parsed = parse_address(address)
        if not parsed.street:
            return self._none(parsed, "no street name found in the address")
        ctx = self._context(street_name(parsed.street), year)
        if ctx.ref is None:
            return self._none(parsed, f"no street matching {parsed.street!r} in the gazetteers{ctx.head}")
        ref, number = ctx.ref, parsed.number
        head = f"{parsed.street!r} -> {ctx.head}"
        corner = self._corner(parsed, ref, year) if parsed.cross_street else None
        placed: GeocodeResult | None = None
        if number is not None:
            if not ctx.numbering_ok:
                head += "; numbers before 1805 ran through sections, not streets: placed at street level"
            else:
                modern_ref = ref.info.modern
                placed = self._address_point(parsed, ctx, year, head, modern=modern_ref)
                if placed is None:
                    placed = self._interpolate(parsed, ctx, year, head)
                if placed is None and not modern_ref:  # present-day numbers: the last resort
                    placed = self._address_point(parsed, ctx, year, head, modern=True)
        if corner is not None and (placed is None or (placed.uncertainty_m or 0) > corner[2]):
            x, y, unc, cross_name = corner
            return self._modernise(GeocodeResult("street", ref.score, x, y, ref.street.name, ref.info.name, unc,
                                                 f"{head}; at the corner with {cross_name!r}", parsed.street,
                                                 parsed.house), year)
        if placed is not None:
            return self._modernise(placed, year)
        return self._modernise(self._street_level(parsed, ref, head, number), year)

    def _modernise(self, result: GeocodeResult, year: float | None) -> GeocodeResult:
        """A result placed on present-day data: say so, and widen its uncertainty with the years."""
        gaz = self.gazetteers.get(result.gazetteer or "")
        if gaz is None or not gaz.info.modern or result.match_type not in MODERN_TYPES:
            return result
        years = gaz.info.years_from(year)
        drift = min(MODERN_DRIFT_MAX_M, MODERN_DRIFT_M_PER_YEAR * years)
        what = "its house numbers and course" if MODERN_TYPES[result.match_type] == "modern_address" else "its course"
        note = (f"; present-day data ({gaz.info.name}, {gaz.info.years_text()})"
                + (f": {what} may have changed in {years:.0f} years (+{drift:.0f} m)" if years else ""))
        return replace(result, match_type=MODERN_TYPES[result.match_type],
                       uncertainty_m=(result.uncertainty_m or 0.0) + drift, explanation=result.explanation + note)

    def _context(self, query: StreetName, year: float | None) -> _Context:
        """What does not depend on the house number: candidates, reference street, explanation head.

        Cached per normalised name and year: "r. S.-Honoré" and "rue Saint-Honoré" share it."""
        key = (query, year)
        ctx = self._contexts.get(key)
        if ctx is not None:
            return ctx
        scored = self._candidates(query, year)
        # a street is accepted on its name; time lowers the score (and picks the reference) only.
        # Present-day names are accepted only when (nearly) exact: an old spelling close to a modern
        # name is as likely another, vanished street ("Nve St Méry" is not "rue Neuve Saint-Pierre")
        scored = [s for s in scored if not s.info.modern or s.name_score >= MODERN_MIN_SCORE]
        good = [s for s in scored if s.name_score >= self.min_score]
        if not good:
            near = f"; closest: {scored[0].street.name!r} ({scored[0].score:.2f})" if scored else ""
            ctx = _Context(query, [], None, near, [], False)
        else:
            ref = self._reference(good, year)
            numbering_ok = year is None or year >= NUMBERING_REFORM_YEAR or any(
                numbering_compatible(s.info, year) for s in good
                if s.info.kind == "address_points" or (s.info.kind == "street_network" and self._has_ranges(s)))
            # numbers may come from streets named a little differently (a type changed, "Quai de
            # Sully" in 1810 is "Rue de Sully" in 1836) provided they lie along the reference street
            related = [s for s in scored if s.name_score >= min(self.min_score, RELATED_MIN)]
            ctx = _Context(query, related, ref, self._describe(ref, year),
                           self._point_sources(related, ref, year), numbering_ok)
        if len(self._contexts) > 100_000:
            self._contexts.clear()
        self._contexts[key] = ctx
        return ctx

    def _none(self, parsed: ParsedAddress, why: str) -> GeocodeResult:
        return GeocodeResult("none", 0.0, None, None, None, None, None, why, parsed.street, parsed.house)

    def _candidates(self, query, year: float | None) -> list[_Scored]:
        out: list[_Scored] = []
        known = self._known(query)
        for cand in self.index.search(query):
            info = self.gazetteers[cand.street.gazetteer].info
            name_score = cand.similarity
            if known and cand.similarity < 0.95 and cand.reason.startswith(("fuzzy", "abbreviation")):
                name_score *= KNOWN_OTHER_NAME
            if cand.reason.startswith("qualifier dropped") and not self._in_district(query, cand.street):
                continue  # "r. Ste-Marguerite S.-Germain" is not the rue Sainte-Marguerite of another district
            if cand.street.clusters > 1:
                name_score *= AMBIGUOUS
            out.append(_Scored(cand, info, name_score * temporal_factor(info, year), name_score, ""))
        best = max((s.cand.similarity for s in out), default=0.0)
        if best < 0.95:
            for rec, other in self.history.aliases(query, year)[:4]:
                for cand in self.index.search(other.sname):
                    info = self.gazetteers[cand.street.gazetteer].info
                    name_score = cand.similarity * RENAMED
                    if cand.street.clusters > 1:
                        name_score *= AMBIGUOUS
                    span = _span(other.valid_from, other.valid_to)
                    note = f"renamed: {rec.name!r} is also {other.name!r}{span} ({rec.source})"
                    out.append(_Scored(cand, info, name_score * temporal_factor(info, year), name_score, note))
        out.sort(key=lambda s: (-s.score, s.info.years_from(year)))
        return out

    def _in_district(self, query: StreetName, street: Street) -> bool:
        qualifier = qualifier_of(query.core)
        if qualifier is None:
            return True
        x, y = self._centre(street)
        return in_district(qualifier, x, y)

    def _centre(self, street: Street) -> tuple[float, float]:
        """Centre of a street's bounding box (EPSG:2154)."""
        gaz = self.gazetteers[street.gazetteer]
        if gaz.name not in self._bounds:
            self._bounds[gaz.name] = gaz.frame.geometry.bounds.to_numpy()
        b = self._bounds[gaz.name][list(street.rows)]
        return float((b[:, 0].min() + b[:, 2].max()) / 2), float((b[:, 1].min() + b[:, 3].max()) / 2)

    def _known(self, query) -> bool:
        """Whether the queried name is, as written, the name of some Paris street."""
        if self._known_cores is None:
            cores = {street_name(n).core for n in self.history.vocabulary}
            cores.update(s.sname.core for s in self.index.streets)
            self._known_cores = cores
        return query.core in self._known_cores

    def _reference(self, good: list[_Scored], year: float | None) -> _Scored:
        """The street everything is placed on: the best match, preferring a street line nearly as good."""
        best = good[0]
        lines = [s for s in good if s.info.kind == "street_network" and s.score >= best.score - 0.05]
        if not lines:  # a line of another time beats a point-only match of this time
            lines = [s for s in good if s.info.kind == "street_network" and s.name_score >= best.name_score - 0.02
                     and best.info.kind == "street_points"]
        if lines:  # nearest in time, then best named, then the most complete (longest) street
            return min(lines, key=lambda s: (s.info.years_from(year), -round(s.score, 3), -self._length(s.street)))
        return best

    def _geometries(self, name: str) -> np.ndarray:
        """The shapely geometries of a gazetteer as an array (GeoDataFrame access is slow)."""
        if name not in self._geoms:
            self._geoms[name] = np.asarray(self.gazetteers[name].frame.geometry.values, dtype=object)
        return self._geoms[name]

    def _length(self, street: Street) -> float:
        """Total length of a street's features (cheap: no path building)."""
        gaz = self.gazetteers[street.gazetteer]
        if gaz.name not in self._lengths:
            self._lengths[gaz.name] = gaz.frame.geometry.length.to_numpy()
        return float(self._lengths[gaz.name][list(street.rows)].sum())

    def _describe(self, ref: _Scored, year: float | None) -> str:
        where = f"{ref.info.name} ({ref.info.years_text()})"
        text = f"{ref.street.name!r} in {where}, {ref.cand.reason}"
        if year is not None and not ref.info.valid_at(year):
            text += f", {ref.info.years_from(year):.0f} years from {year:.0f}"
        if ref.street.clusters > 1:
            text += f", 1 of {ref.street.clusters} streets of that name (the largest)"
        if ref.note:
            text += f"; {ref.note}"
        return text

    # ----------------------------------------------------------------------------------------- address points

    def _points_of(self, street: Street) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(xy (K, 2), house number ints (K,), house number texts (K,)) of an address-point street."""
        gaz = self.gazetteers[street.gazetteer]
        if gaz.name not in self._xy:
            geom = gaz.frame.geometry
            self._xy[gaz.name] = np.column_stack([geom.x.to_numpy(), geom.y.to_numpy()])
            texts = gaz.frame["number"].fillna("").astype(str).str.lower().str.replace(" ", "").to_numpy()
            ints = np.array([_split_number(t)[0] if t else -1 for t in texts], dtype=float)
            self._numbers[gaz.name] = (np.nan_to_num(ints, nan=-1).astype(int), texts)
        rows = np.asarray(street.rows)
        ints, texts = self._numbers[gaz.name]
        return self._xy[gaz.name][rows], ints[rows], texts[rows]

    def _consistent(self, street: Street, ref: _Scored) -> bool:
        """Whether an address-point street lies along the reference street (not a homonym elsewhere)."""
        if street.uid == ref.street.uid or ref.info.kind != "street_network":
            return True
        key = (street.uid, ref.street.uid)
        if key not in self._near:
            line = self._line(ref.street)
            xy, _, _ = self._points_of(street)
            _, s = line.locate(xy)
            self._near[key] = bool(np.median(np.abs(s)) <= MAX_ANCHOR_DISTANCE_M)
        return self._near[key]

    def _point_sources(self, good: list[_Scored], ref: _Scored, year: float | None) -> list[_Scored]:
        """Address-point streets usable for this street and year, nearest in time first."""
        sources = [s for s in good if s.info.kind == "address_points" and numbering_compatible(s.info, year)]
        sources.sort(key=lambda s: (s.info.years_from(year), -s.score))
        # house-number ranges of a much closer time beat a point of the same number decades away
        ranges = [s.info.years_from(year) for s in good if s.info.kind == "street_network"
                  and numbering_compatible(s.info, year) and self._has_ranges(s) and self._ranges(s.street)]
        if ranges:
            sources = [s for s in sources if s.info.years_from(year) <= min(ranges) + RENUMBERING_YEARS]
        return [s for s in sources if self._consistent(s.street, ref)]

    def _point_lookup(self, street: Street) -> dict:
        """House number text -> row positions within the street, plus int -> positions."""
        lookup = self._lookups.get(street.uid)
        if lookup is None:
            _, ints, texts = self._points_of(street)
            lookup = {"text": {}, "int": {}}
            for i, (n, t) in enumerate(zip(ints, texts, strict=True)):
                lookup["text"].setdefault(t, []).append(i)
                lookup["int"].setdefault(int(n), []).append(i)
            self._lookups[street.uid] = lookup
        return lookup

    def _address_point(self, parsed: ParsedAddress, ctx: _Context, year: float | None,
                       head: str, modern: bool = False) -> GeocodeResult | None:
        """The known address point of the number, from historical sources (``modern``: present-day ones)."""
        wanted = f"{parsed.number}{parsed.suffix}"
        ref = ctx.ref
        assert ref is not None
        for src in ctx.point_sources:
            if src.info.modern != modern:
                continue
            lookup = self._point_lookup(src.street)
            hit = lookup["text"].get(wanted)
            note = ""
            if not hit:
                same = lookup["int"].get(parsed.number)
                if not same:
                    continue
                _, _, texts = self._points_of(src.street)
                # prefer the plain number ("12" for "12bis"), else the first suffixed one
                plain = [i for i in same if texts[i] == str(parsed.number)]
                hit = plain or same[:1]
                note = f" (no {wanted} there; used {texts[hit[0]]})"
            xy, _, _ = self._points_of(src.street)
            x, y = xy[hit].mean(axis=0)
            unc = 5.0 + min(20.0, 0.2 * src.info.years_from(year)) + (4.0 if note else 0.0)
            text = head if src.street.uid == ref.street.uid else (
                f"{head}; address points: {src.street.name!r} in {src.info.name} ({src.info.years_text()})")
            return GeocodeResult("address_point", min(ref.score, src.score) if src is not ref else src.score,
                                 float(x), float(y), src.street.name, src.info.name, unc,
                                 f"{text}; no. {wanted} is a known address point{note}",
                                 parsed.street, parsed.house)
        return None

    # ----------------------------------------------------------------------------------------- lines

    def _line(self, street: Street):
        key = ("line", street.uid)
        if key not in self._models:
            gaz = self.gazetteers[street.gazetteer]
            line = main_path(self._geometries(gaz.name)[list(street.rows)])
            self._models[key] = StreetModel(line, street.sname.type)  # type: ignore[arg-type]
        return self._models[key].line

    def _model(self, ctx: _Context, year: float | None) -> StreetModel:
        if ctx.model is not None:
            return ctx.model
        ref = ctx.ref
        assert ref is not None
        # present-day numbers do not anchor a historical street (its numbering may have changed since)
        sources = [s for s in ctx.good if numbering_compatible(s.info, year) and (
            s.info.kind == "address_points" or (s.info.kind == "street_network" and self._has_ranges(s)))
            and (ref.info.modern or not s.info.modern)]
        sources.sort(key=lambda s: (s.info.years_from(year), s.info.kind != "address_points", -s.score))
        key = ("model", ref.street.uid, tuple((s.street.uid, s.info.years_from(year)) for s in sources))
        if key in self._models:
            ctx.model = self._models[key]
            return ctx.model
        line = self._line(ref.street)
        stype = ref.street.sname.type
        anchor_sets: list[Anchors | RangeSegments] = []
        for src in sources:
            if src.info.kind == "address_points":
                if not self._consistent(src.street, ref):
                    continue
                xy, ints, _ = self._points_of(src.street)
                ok = ints > 0
                anchors = anchors_from_points(line, xy[ok], ints[ok], src.info.name, src.info.years_from(year))
                if anchors is not None and len(anchors):
                    anchor_sets.append(anchors)
            else:
                segments = [(c, v) for c, v in self._ranges(src.street)
                            if np.all(np.abs(line.locate(c[[0, -1]])[1]) <= MAX_ANCHOR_DISTANCE_M)]
                offset = default_offset(stype)
                if segments:
                    # on its own segments when the ranges belong to the reference network itself;
                    # projected onto the reference line when they come from another time's network
                    own = src.info.name == ref.info.name
                    anchor_sets.append(RangeSegments(
                        [Polyline.from_coords(c) for c, _ in segments] if own else [],
                        [tuple(v) for _, v in segments] if own else [],
                        offset, src.info.name,
                        anchors_from_ranges(line, segments, src.info.name, offset, src.info.years_from(year))))
        model = StreetModel(line, stype, ref.street.sname.core.startswith("faubourg"), anchor_sets)
        self._models[key] = ctx.model = model
        return model

    def _has_ranges(self, s: _Scored) -> bool:
        if s.info.name not in self._with_ranges:
            frame = self.gazetteers[s.info.name].frame
            self._with_ranges[s.info.name] = all(c in frame.columns for c in RANGE_COLUMNS)
        return self._with_ranges[s.info.name]

    def _ranges(self, street: Street) -> list[tuple[np.ndarray, list[int | None]]]:
        """(segment coordinates, [left from, left to, right from, right to]) of a street's segments."""
        import shapely

        if street.uid in self._range_cache:
            return self._range_cache[street.uid]
        gaz = self.gazetteers[street.gazetteer]
        if gaz.name not in self._range_values:
            self._range_values[gaz.name] = np.array(
                [[_split_number(v)[0] for v in gaz.frame[c].tolist()] for c in RANGE_COLUMNS], dtype=object).T
        values = self._range_values[gaz.name]
        geoms = self._geometries(gaz.name)
        out = []
        for row in street.rows:
            nums = list(values[row])
            if all(v is None for v in nums):
                continue
            geom = shapely.line_merge(geoms[row])
            if geom.geom_type != "LineString":
                geom = max(shapely.get_parts(geom), key=lambda g: g.length)
            out.append((np.asarray(geom.coords)[:, :2], nums))
        self._range_cache[street.uid] = out
        return out

    def _interpolate(self, parsed: ParsedAddress, ctx: _Context, year: float | None,
                     head: str) -> GeocodeResult | None:
        number, ref = parsed.number, ctx.ref
        assert number is not None and ref is not None
        if ref.info.kind == "street_network":
            model = self._model(ctx, year)
            if model.line is None:
                return None
            rule = year is None or year >= NUMBERING_REFORM_YEAR  # the 1805 rule only after 1805
            place = model.locate(number, allow_rule=rule)
            if place is None:
                return None
            if parsed.number_to is not None:  # "12-14": the middle of the range
                other = model.locate(parsed.number_to, allow_rule=rule) or place
                place = Placement((place.x + other.x) / 2, (place.y + other.y) / 2, place.match_type,
                                  max(place.uncertainty_m, other.uncertainty_m), place.explanation)
            return GeocodeResult("interpolated", ref.score, place.x, place.y, ref.street.name, ref.info.name,
                                 place.uncertainty_m, f"{head}; no. {parsed.house} {place.explanation}",
                                 parsed.street, parsed.house)
        if ref.info.kind == "address_points" and numbering_compatible(ref.info, year):
            xy, ints, _ = self._points_of(ref.street)
            same = (ints % 2 == number % 2) & (ints > 0)
            if not same.any():
                return None
            lo = np.flatnonzero(same & (ints < number))
            hi = np.flatnonzero(same & (ints > number))
            if len(lo) and len(hi):
                i = lo[np.argmax(ints[lo])]
                j = hi[np.argmin(ints[hi])]
                t = (number - ints[i]) / (ints[j] - ints[i])
                x, y = xy[i] + t * (xy[j] - xy[i])
                unc = 4.0 + 0.2 * float(np.hypot(*(xy[j] - xy[i])))
                how = f"between the address points of nos. {ints[i]} and {ints[j]}"
            else:
                k = np.flatnonzero(same)[np.argmin(np.abs(ints[same] - number))]
                x, y = xy[k]
                unc = 10.0 + 6.0 * abs(int(ints[k]) - number)
                how = f"at the nearest known number on its side (no. {ints[k]})"
            return GeocodeResult("interpolated", ref.score, float(x), float(y), ref.street.name, ref.info.name,
                                 unc, f"{head}; no. {parsed.house} {how}", parsed.street, parsed.house)
        return None

    # ----------------------------------------------------------------------------------------- street level

    def _street_level(self, parsed: ParsedAddress, ref: _Scored, head: str, number: int | None) -> GeocodeResult:
        kind = ref.info.kind
        if kind == "street_network":
            line = self._line(ref.street)
            x, y = line.point_at(line.length / 2)
            unc = max(10.0, line.length / 2)
            how = "the middle of the street"
        else:
            xy, _, _ = self._points_of(ref.street)
            centre = xy.mean(axis=0)
            k = int(np.argmin(np.hypot(*(xy - centre).T)))
            x, y = xy[k]
            spread = float(np.max(np.hypot(*(xy - xy[k]).T))) if len(xy) > 1 else 0.0
            unc = STREET_POINT_UNCERTAINTY_M if kind == "street_points" else max(10.0, spread)
            how = "the street's point" if kind == "street_points" else "the central address point of the street"
        why = "" if number is None else f" (no. {parsed.house} could not be placed)"
        return GeocodeResult("street", ref.score, float(x), float(y), ref.street.name, ref.info.name, unc,
                             f"{head}; at {how}{why}", parsed.street, parsed.house)

    def _corner(self, parsed: ParsedAddress, ref: _Scored, year: float | None):
        """(x, y, uncertainty, name) of the crossing with the cross street, or None."""
        import shapely

        if ref.info.kind != "street_network" or not parsed.cross_street:
            return None
        cross = [s for s in self._candidates(street_name(parsed.cross_street), year)
                 if s.score >= self.min_score and s.info.kind == "street_network"]
        if not cross:
            return None
        gaz = self.gazetteers[ref.street.gazetteer]
        a = shapely.union_all(self._geometries(gaz.name)[list(ref.street.rows)])
        for c in cross[:3]:
            cg = self.gazetteers[c.street.gazetteer]
            b = shapely.union_all(self._geometries(cg.name)[list(c.street.rows)])
            pa, pb = shapely.ops.nearest_points(a, b)
            d = pa.distance(pb)
            if d <= 40.0:
                return (pa.x + pb.x) / 2, (pa.y + pb.y) / 2, 10.0 + d, c.street.name
        return None


def _span(a: float | None, b: float | None) -> str:
    if a is None and b is None:
        return ""
    return f" ({'' if a is None else int(a)}–{'' if b is None else int(b)})"


@lru_cache(maxsize=1)
def _to_wgs84():
    from pyproj import Transformer

    return Transformer.from_crs("EPSG:2154", "EPSG:4326", always_xy=True)


def to_wgs84(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lambert-93 -> (lon, lat); NaN stays NaN."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    lon = np.full_like(x, np.nan)
    lat = np.full_like(y, np.nan)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.any():
        lon[ok], lat[ok] = _to_wgs84().transform(x[ok], y[ok])
    return lon, lat
