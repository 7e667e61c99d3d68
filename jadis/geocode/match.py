"""Matching a street name against the names of gazetteers: fuzzy, explained, and aware of time.

Every gazetteer's distinct names are normalised (:mod:`.normalize`) and pooled in one vocabulary,
searched once per query name with rapidfuzz; candidates are then re-scored by :func:`similarity`,
which understands what old spellings do: abbreviations written with a full stop compare as prefixes
("Mauv. Paroles" ~ "Mauvaises Paroles"), words split or joined ("Beau Sire" ~ "Beausire"), district
qualifiers added or dropped ("rue Lenoir-Saint-Antoine" ~ "rue Lenoir"), and a missing or different
street type. Features of one gazetteer that share a name but lie far apart are kept as separate
streets (homonyms). :class:`NameHistory` follows renamed streets through dated name records.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from rapidfuzz import fuzz, process

from jadis.geocode.districts import qualifier_of
from jadis.geocode.gazetteer import Gazetteer
from jadis.geocode.normalize import StreetName, street_name

#: Features of one name farther apart than this are different streets (homonyms).
HOMONYM_DISTANCE_M = 150.0
#: Score multipliers (documented in docs/geocoding.md).
TYPE_MISSING = 0.98        # query without a type ("Quincampoix") vs a "rue"
TYPE_MISSING_OTHER = 0.88  # query without a type vs a quai, place… (directories omit only "rue")
TYPE_DIFFERENT = 0.78      # "passage X" vs "rue X": another street, unless the name says more
QUALIFIER_DROPPED = 0.9    # "rue Lenoir Saint-Antoine" vs "rue Lenoir"
OTHER_DISTRICT = 0.6       # "rue Sainte-Marguerite Saint-Germain" vs "… Saint-Antoine"
#: Candidates kept per gazetteer for one name.
PER_GAZETTEER = 6
_ALT_NAMES = re.compile(r"\s+(?:ou|dite?|autrement dite?)\s+", re.IGNORECASE)
#: Types that old sources use for the same street (one became the other, or both were in use).
_COMPATIBLE_TYPES = {frozenset(pair) for pair in (
    ("rue", "grande rue"), ("cours", "avenue"), ("quai", "port"), ("rue", "ruelle"), ("cour", "passage"),
    ("galerie", "passage"), ("cite", "villa"), ("chemin", "rue"), ("sentier", "chemin"), ("ruelle", "passage"),
    ("barriere", "place"))}


@dataclass(frozen=True)
class Street:
    """One street of one gazetteer: the features sharing a name and lying together."""

    gazetteer: str
    name: str               #: as written in the gazetteer (most frequent spelling)
    sname: StreetName
    rows: tuple[int, ...]   #: row positions in the gazetteer frame
    cluster: int = 0        #: homonym index (0 when the name is unique in its gazetteer)
    clusters: int = 1       #: how many streets of that gazetteer share the name

    @property
    def uid(self) -> tuple[str, int, int]:
        return (self.gazetteer, self.rows[0], self.cluster)


@dataclass(frozen=True)
class Candidate:
    street: Street
    similarity: float       #: 0–1 name similarity (type and qualifiers included)
    reason: str             #: how the name matched ("exact", "fuzzy 0.93", "prefix"…)
    via: str = ""           #: the name actually searched when it came from the name history


def _core_ratio(a: str, b: str) -> float:
    return max(fuzz.ratio(a, b), fuzz.ratio(a.replace(" ", ""), b.replace(" ", ""))) / 100.0


def _prefix_ratio(q: StreetName, c: StreetName) -> float:
    """Similarity where the query's abbreviated words match candidate words they begin."""
    if not q.prefixes:
        return 0.0
    qw, cw = q.words, c.words
    if len(qw) != len(cw):
        return 0.0
    out = []
    for i, (a, b) in enumerate(zip(qw, cw, strict=True)):
        out.append(b if i in q.prefixes and b.startswith(a) else a)
    return _core_ratio(" ".join(out), c.core)


def _type_factor(q: StreetName, c: StreetName) -> tuple[float, str]:
    if q.type == c.type:
        return 1.0, ""
    if q.type is None:
        return (TYPE_MISSING, "") if c.type in (None, "rue") else (TYPE_MISSING_OTHER, f"type {c.type} assumed")
    if c.type is None:
        return TYPE_MISSING, ""
    if frozenset({q.type, c.type}) in _COMPATIBLE_TYPES:
        return 0.95, f"{q.type} ~ {c.type}"
    return TYPE_DIFFERENT, f"type differs ({q.type} vs {c.type})"


@lru_cache(maxsize=500_000)
def similarity(q: StreetName, c: StreetName) -> tuple[float, str]:
    """Name similarity in [0, 1] and a short reason."""
    if not q.core or not c.core:
        return 0.0, "empty"
    tf, tnote = _type_factor(q, c)
    if q.core == c.core:
        core, how = 1.0, "exact"
    else:
        core = _core_ratio(q.core, c.core)
        how = f"fuzzy {core:.2f}"
        pre = _prefix_ratio(q, c)
        if pre > core:
            core, how = pre, f"abbreviation {pre:.2f}"
        for variant, label in ((q.without_qualifier(), "qualifier dropped"),):
            if variant is not None and variant.core:
                alt = _core_ratio(variant.core, c.core) * QUALIFIER_DROPPED
                if alt > core:
                    core, how = alt, label
        c_unq = c.without_qualifier()
        if c_unq is not None and c_unq.core:
            alt = _core_ratio(q.core, c_unq.core) * QUALIFIER_DROPPED
            if alt > core:
                core, how = alt, "qualifier added"
    if core < 1.0:
        qa, qb = qualifier_of(q.core), qualifier_of(c.core)
        if qa and qb and not (qa.endswith(qb) or qb.endswith(qa)):
            core *= OTHER_DISTRICT  # "… Saint-Germain" is not "… Saint-Antoine"
            how += f", other district ({qa} / {qb})"
    reason = how if not tnote else f"{how}, {tnote}"
    return core * tf, reason


def _clusters(frame, rows: list[int]) -> list[list[int]]:
    """Split features sharing a name into groups lying within HOMONYM_DISTANCE_M of each other."""
    if len(rows) == 1 or "geometry" not in frame.columns:
        return [rows]
    import shapely

    geoms = frame.geometry.values[rows]
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="dwithin", distance=HOMONYM_DISTANCE_M)
    parent = list(range(len(rows)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(left, right, strict=True):
        ri, rj = find(int(i)), find(int(j))
        if ri != rj:
            parent[ri] = rj
    groups: dict[int, list[int]] = defaultdict(list)
    for k in range(len(rows)):
        groups[find(k)].append(rows[k])
    return sorted(groups.values(), key=len, reverse=True)


def _name_variants(name: str) -> list[str]:
    """"R Traversine ou des Chantiers" -> both names (the type carried over to the second)."""
    parts = [p.strip() for p in _ALT_NAMES.split(name) if p.strip()]
    if len(parts) < 2:
        return [name]
    first = street_name(parts[0])
    out = [parts[0]]
    for part in parts[1:]:
        sn = street_name(part)
        out.append(part if sn.type or not first.type else f"{first.type} {part}")
    return out


class NameIndex:
    """All street names of a set of gazetteers, searchable by fuzzy name."""

    def __init__(self, gazetteers: list[Gazetteer]) -> None:
        self.streets: list[Street] = []
        self._by_core: dict[str, list[tuple[int, StreetName]]] = defaultdict(list)
        self._by_bare: dict[str, list[tuple[int, StreetName]]] = defaultdict(list)
        for gaz in gazetteers:
            if gaz.kind == "names":
                continue
            names = gaz.frame["name"].astype(str).to_numpy()
            by_key: dict[str, list[int]] = defaultdict(list)
            spelling: dict[str, list[str]] = defaultdict(list)
            variant_of: dict[str, StreetName] = {}
            for row, raw in enumerate(names):
                for variant in _name_variants(raw):
                    sn = street_name(variant)
                    if not sn.core:
                        continue
                    by_key[sn.key].append(row)
                    spelling[sn.key].append(raw)
                    variant_of[sn.key] = sn
            for key, rows in by_key.items():
                sn = variant_of[key]
                written = max(set(spelling[key]), key=spelling[key].count)
                groups = _clusters(gaz.frame, sorted(set(rows)))
                for k, group in enumerate(groups):
                    self._add(Street(gaz.name, written, sn, tuple(group), k, len(groups)))
        self._cores = list(self._by_core)
        self._by_start: dict[str, list[str]] = defaultdict(list)
        for core in self._cores:
            self._by_start[core[:2]].append(core)

    def _add(self, street: Street) -> None:
        self._by_core[street.sname.core].append((len(self.streets), street.sname))
        bare = street.sname.without_qualifier()
        if bare is not None:  # "rue de l'Egout au Marais" is found from "rue de l'Egout"
            self._by_bare[bare.core].append((len(self.streets), street.sname))
        self.streets.append(street)

    def search(self, query: StreetName, limit: int = 12, min_similarity: float = 0.6) -> list[Candidate]:
        """Candidate streets for a name, best first (similarity ≥ ``min_similarity``)."""
        return list(self._search(query, limit, min_similarity))

    @lru_cache(maxsize=50_000)  # noqa: B019 - the index lives as long as its geocoder
    def _search(self, query: StreetName, limit: int, min_similarity: float) -> tuple[Candidate, ...]:
        if not query.core or not self._cores:
            return ()
        probes = {query.core}
        unq = query.without_qualifier()
        if unq is not None and unq.core:
            probes.add(unq.core)
        cores: set[str] = set()
        for probe in probes:
            if probe in self._by_core:
                cores.add(probe)
            for core, _score, _ in process.extract(probe, self._cores, scorer=fuzz.ratio, limit=limit,
                                                   score_cutoff=max(min_similarity, 0.65) * 100):
                cores.add(core)
        if query.prefixes:  # abbreviated words: also look at names sharing the first letters
            cores.update(c for c in self._by_start.get(query.words[0][:2], ()) if len(c.split()) == len(query.words))
        pairs = [pair for core in cores for pair in self._by_core[core]]
        pairs += [pair for probe in probes for pair in self._by_bare.get(probe, ())]
        out = []
        for idx, sn in dict(pairs).items():
            sim, reason = similarity(query, sn)
            if sim >= min_similarity:
                out.append(Candidate(self.streets[idx], sim, reason))
        out.sort(key=lambda c: -c.similarity)
        # at most PER_GAZETTEER candidates of each gazetteer: enough for homonyms and near spellings
        kept: dict[str, int] = defaultdict(int)
        trimmed = []
        for cand in out:
            if kept[cand.street.gazetteer] < PER_GAZETTEER:
                kept[cand.street.gazetteer] += 1
                trimmed.append(cand)
        return tuple(trimmed)


# --------------------------------------------------------------------------------------------- history


@dataclass
class NameRecord:
    name: str
    sname: StreetName
    entity: str
    valid_from: float | None
    valid_to: float | None
    source: str


@dataclass
class NameHistory:
    """Successive names of the same street (Wikidata items, renaming events)."""

    by_core: dict[str, list[NameRecord]] = field(default_factory=lambda: defaultdict(list))
    by_entity: dict[str, list[NameRecord]] = field(default_factory=lambda: defaultdict(list))
    vocabulary: set[str] = field(default_factory=set)
    #: (core, type) -> the particle sequences of the names written so ("rue Dauphine": (), "rue du
    #: Dauphiné": ("du",)): two sequences mean two streets that normalise alike
    particles: dict[tuple[str, str | None], set[tuple[str, ...]]] = field(default_factory=lambda: defaultdict(set))

    @classmethod
    def from_gazetteers(cls, gazetteers: list[Gazetteer]) -> NameHistory:
        hist = cls()
        for gaz in gazetteers:
            if gaz.kind != "names":
                continue
            frame = gaz.frame
            ents = frame["entity"].to_numpy() if "entity" in frame.columns else [None] * len(frame)
            vf = frame["valid_from"].to_numpy() if "valid_from" in frame.columns else [None] * len(frame)
            vt = frame["valid_to"].to_numpy() if "valid_to" in frame.columns else [None] * len(frame)
            for name, ent, a, b in zip(frame["name"].astype(str), ents, vf, vt, strict=True):
                sn = street_name(name)
                if not sn.core:
                    continue
                hist.vocabulary.add(name)
                hist.particles[(sn.core, sn.type)].add(_particles(name))
                if ent is None or (isinstance(ent, float) and np.isnan(ent)):
                    continue
                rec = NameRecord(name, sn, f"{gaz.name}:{ent}", _year(a), _year(b), gaz.name)
                hist.by_core[sn.core].append(rec)
                hist.by_entity[rec.entity].append(rec)
        return hist

    def aliases(self, query: StreetName, year: float | None) -> list[tuple[NameRecord, NameRecord]]:
        """(record matching the query, another name of the same street), the name valid nearest
        ``year`` first."""
        out = []
        # a name written without a type is a "rue" (directories omit only that one)
        recs = [r for r in self.by_core.get(query.core, [])
                if (r.sname.type in (None, "rue") if query.type is None else r.sname.type in (None, query.type))]
        # a name still borne by a street names that street: a homonym's former name is not followed
        # ("rue Dauphine" is not the former "rue du Dauphiné", now rue Émile Gilbert)
        current = {r.entity for r in recs if r.valid_to is None}
        for rec in recs:
            if rec.valid_to is not None and current - {rec.entity}:
                continue
            if len(self.particles.get((rec.sname.core, rec.sname.type), ())) > 1:
                continue  # "rue Dauphine" and "rue du Dauphiné": which one is meant is unknown
            for other in self.by_entity[rec.entity]:
                if other.sname.key != rec.sname.key:
                    out.append((rec, other))
        out.sort(key=lambda pair: _distance_to(pair[1], year))
        return out


_PARTICLES = {"de", "du", "des", "la", "le", "les", "l", "d", "aux", "au"}


def _particles(name: str) -> tuple[str, ...]:
    """The particles of a name as written, in order ("rue du Dauphiné" -> ("du",))."""
    import unicodedata

    folded = unicodedata.normalize("NFKD", name.lower())
    words = re.split(r"[^a-z]+", "".join(c for c in folded if not unicodedata.combining(c)))
    return tuple(w for w in words if w in _PARTICLES)


def _year(value) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return None if np.isnan(v) else v


def _distance_to(rec: NameRecord, year: float | None) -> float:
    if year is None:
        return 0.0
    lo = rec.valid_from if rec.valid_from is not None else -np.inf
    hi = rec.valid_to if rec.valid_to is not None else np.inf
    return float(max(lo - year, 0.0, year - hi))
