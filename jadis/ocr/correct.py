"""Correcting OCR readings of street names against known names (rapidfuzz).

OCR on old maps garbles letters ("Bobill ot", "Vanndane"), drops words ("Moulin Pres") or reads
fragments. The reading is normalised like any address (:mod:`jadis.geocode.normalize`) and matched
to a vocabulary of real street names — the gazetteers' names, Wikidata's, the road-name list —
with the geocoder's own similarity (types, particles, abbreviations, split words).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from jadis.geocode.match import similarity
from jadis.geocode.normalize import STREET_TYPES, TYPE_ABBREVIATIONS, StreetName, street_name

#: Least similarity for a reading to be replaced by a known name.
MIN_SIMILARITY = 0.8
#: Readings shorter than this many letters need this similarity unless they match exactly.
SHORT = 8
SHORT_MIN_SIMILARITY = 0.92
#: Readings that are only a street type (or a word that never names a street alone).
_GENERIC = frozenset({*STREET_TYPES, *TYPE_ABBREVIATIONS, "faubourg", "saint", "sainte", "grande", "petite",
                      "neuve", "vieille", "arrondt", "arrondissement", "quartier"})
_NOISE = re.compile(r"\b\d+\b|[|_~*=<>\[\]{}]")


@dataclass(frozen=True)
class Correction:
    """A reading and the known name it was matched to (``name`` is None when none is close)."""

    reading: str
    name: str | None
    similarity: float
    how: str


def clean_reading(text: str) -> str:
    """Drop what cannot be part of a name: house numbers read along, stray symbols."""
    return re.sub(r"\s+", " ", _NOISE.sub(" ", text)).strip(" .,-'")


class NameCorrector:
    """Match OCR readings to a vocabulary of street names."""

    def __init__(self, names: Iterable[str], min_similarity: float = MIN_SIMILARITY) -> None:
        self.min_similarity = min_similarity
        self._by_core: dict[str, list[tuple[str, StreetName]]] = {}
        for name in names:
            sn = street_name(str(name))
            if sn.core:
                self._by_core.setdefault(sn.core, []).append((str(name), sn))
        self._cores = list(self._by_core)
        self._squeezed = [c.replace(" ", "") for c in self._cores]

    def __len__(self) -> int:
        return len(self._by_core)

    def correct(self, reading: str) -> Correction:
        """The known name closest to ``reading`` (or none when nothing reaches ``min_similarity``)."""
        text = clean_reading(reading)
        query = street_name(text)
        if len(query.core.replace(" ", "")) < 3 or not self._cores:
            return Correction(reading, None, 0.0, "too short")
        if query.core in _GENERIC:  # "Rue", "Passage", "Impasse" alone: a type, not a name
            return Correction(reading, None, 0.0, "a street type without a name")
        cores = {c for c, _, _ in process.extract(query.core, self._cores, scorer=fuzz.ratio, limit=8,
                                                  score_cutoff=60)}
        squeezed = query.core.replace(" ", "")  # "Bobill ot" / "Vandre zanne": OCR splits words
        cores.update(self._cores[i] for _, _, i in process.extract(squeezed, self._squeezed, scorer=fuzz.ratio,
                                                                   limit=8, score_cutoff=60))
        best = Correction(reading, None, 0.0, "no close name")
        for core in cores:
            if core in _GENERIC:  # a "street" named just "Impasse" or "Passage" in some list
                continue
            for name, sn in self._by_core[core]:
                sim, how = similarity(query, sn)
                if sim > best.similarity or (sim == best.similarity and best.name and len(name) > len(best.name)):
                    best = Correction(reading, name, sim, how)
        # a short fragment ("embre") fits many names: it must match better than a full reading
        needed = self.min_similarity
        if len(query.core.replace(" ", "")) < SHORT and not best.how.startswith("exact"):
            needed = max(needed, SHORT_MIN_SIMILARITY)
        if best.similarity < needed:
            return Correction(reading, None, best.similarity, f"closest {best.name!r} ({best.similarity:.2f})")
        return best
