"""Correcting OCR readings of street names against known names (rapidfuzz).

OCR on old maps garbles letters ("Bobill ot", "Vanndane"), drops words ("Moulin Pres") or reads
fragments. The reading is normalised like any address (:mod:`jadis.geocode.normalize`) and matched
to a vocabulary of real street names — the gazetteers' names, Wikidata's, the road-name list —
with the geocoder's own similarity (types, particles, abbreviations, split words).

A reading is corrected only when one street is clearly closest: a fragment that fits two
different streets about equally well ("Tournelle": *Quai de la Tournelle* or *Rue des
Tournelles*?) is refused, not guessed. A reading without its street type ("Grenelle") is given
the type the map itself uses for that name elsewhere (``context``), else the commonest one of the
vocabulary. The name given back is the vocabulary's best-written form ("Rue de la Parcheminerie",
not "R DE LA PARCHEMINERIE").
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process

from jadis.geocode.match import similarity
from jadis.geocode.normalize import STREET_TYPES, TYPE_ABBREVIATIONS, StreetName, street_name

#: Least similarity for a reading to be replaced by a known name.
MIN_SIMILARITY = 0.8
#: Readings shorter than this many letters need this similarity unless they match exactly.
SHORT = 8
SHORT_MIN_SIMILARITY = 0.92
TYPED_SHORT_MIN_SIMILARITY = 0.86
#: Spotting names in the recogniser's steps: candidates as far as this rapidfuzz ratio, at most this many.
SPOT_CUTOFF = 50
SPOT_CANDIDATES = 12
#: Readings whose candidates a corrector remembers (then it forgets them all and starts again).
MEMO_SIZE = 100_000
#: Two names the reading fits about equally: the one whose spelling the steps explain at least this
#: well and this many times better than the other's is chosen (else the reading is refused).
SPOT_DECISIVE, SPOT_DECISIVE_RATIO = 0.3, 3.0
#: A different street this close to the best one makes the reading ambiguous (refused).
AMBIGUITY_MARGIN = 0.04
#: Cores this similar (rapidfuzz ratio, spaces removed) are spellings of one name, not two streets.
VARIANT_RATIO = 88
#: Readings that are only a street type (or a word that never names a street alone).
_GENERIC = frozenset({*STREET_TYPES, *TYPE_ABBREVIATIONS, "faubourg", "saint", "sainte", "grande", "petite",
                      "neuve", "vieille", "arrondt", "arrondissement", "quartier"})
#: Words that, read alone without a street type, are the label of a building or a compass point.
_NOT_ALONE = frozenset({"ecole", "ecoles", "eglise", "caserne", "hotel", "station", "mairie", "ministere", "hopital",
                        "lycee", "college", "marche", "jardin", "seine", "ile", "nord", "sud", "est", "ouest",
                        "palais", "musee", "theatre", "fleuve", "arrond", "chapelle", "temple", "prison"})
_NOISE = re.compile(r"\b\d+\b(?!\s+(?:janvier|f[ée]vrier|mars|avril|mai|juin|juillet|ao[uû]t|septembre|octobre|"
                    r"novembre|d[ée]cembre)\b)|[|_~*=<>\[\]{}]", re.IGNORECASE)
#: Coded names of unnamed ways in the road-name list ("Voie P/14", "Passage L/10"): never printed on a map.
_CODED = re.compile(r"\b[A-Z]{1,3}/\d+\b|\b\d+/[A-Z]{1,3}\b")
_SAINT = re.compile(r"\b(Saint|Sainte|Saints|Saintes) (?=[A-ZÀ-Ý])")
#: Which type a reading without one most likely has (a prior; the map's own readings come first).
_TYPE_PRIOR = {"rue": 1.0, "quai": 0.8, "boulevard": 0.7, "avenue": 0.6, "place": 0.5, "impasse": 0.3,
               "passage": 0.3, "cour": 0.2, "cite": 0.2}
_ACCENTED = {"cite": "cité", "allee": "allée", "barriere": "barrière", "marche": "marché", "cloitre": "cloître"}
#: Street types as printed in full, which OCR garbles at the start of a reading.
_PRINTED_TYPES = ("Rue", "Quai", "Place", "Passage", "Impasse", "Boulevard", "Avenue", "Cité", "Cour", "Pont", "Port",
                  "Square", "Ruelle")
_PARTICLES_AND_TYPES = frozenset({"de", "du", "des", "la", "le", "les", "aux", "au", "et", "sur", "en", "ile",
                                  *STREET_TYPES, *TYPE_ABBREVIATIONS})
_LOWER = frozenset({"de", "du", "des", "la", "le", "les", "aux", "au", "et", "sur", "en", "à"})
#: Words that begin a name but tell no street apart ("Saint" … "Honoré", "Fg" … "du Temple").
_NAME_PREFIXES = frozenset({"saint", "sainte", "saints", "saintes", "st", "ste", "sts", "faubourg", "fg", "neuve",
                            "vieille", "vieux", "grande", "petite"})


@dataclass(frozen=True)
class Correction:
    """A reading and the known name it was matched to (``name`` is None when none is close)."""

    reading: str
    name: str | None
    similarity: float
    how: str
    key: str = ""          #: the name's type|core key (equal keys: the same street name)
    typed: bool = False    #: the reading gave the street type itself ("Rue de Grenelle", not "Grenelle")
    spot: float = 0.0      #: how well the name explains the recogniser's steps (0 when not spotted)
    spot_rival: float = 0.0  #: the same for the best other street


#: Particles after which a garbled first word is taken for a street type more readily ("Viue du Pont").
_TYPE_PARTICLES = frozenset({"de", "du", "des"})
#: Particles a street type is read glued to ("RueduDragon"), longest first.
_GLUED_PARTICLES = ("des", "du", "de", "d'", "l'", "d", "l")


def _misread_type(word: str, short_edits: int = 1) -> str | None:
    """The printed street type ``word`` is, misread by a letter or two ("Riue", "Qnai", "Pue"), or None.
    ``short_edits``: the edits allowed for types of at most five letters (two for longer ones)."""
    from rapidfuzz.distance import Levenshtein

    low = word.lower()
    if len(low) < 3:
        return None
    return next((t for t in _PRINTED_TYPES
                 if Levenshtein.distance(low, t.lower()) <= (short_edits if len(t) <= 5 else 2)), None)


def _is_type_word(word: str) -> bool:
    """A street type as printed, abbreviated, or misread ("Rue", "Bd", "Pue")."""
    low = word.lower()
    return low == "r" or (len(low) >= 2 and low in TYPE_ABBREVIATIONS) or _misread_type(word) is not None


def _unglue_type(text: str) -> str:
    """A street type read glued to the words after it, as letter-spaced lettering often is:
    "RueJacob" -> "Rue Jacob", "RueduDragon" -> "Rue du Dragon", "Quaides Grands" -> "Quai des
    Grands". Words in capitals are left alone ("QUAI" is not "Q UAI")."""
    first, sep, rest = text.partition(" ")
    if len(first) < 3 or not any(ch.islower() for ch in first):
        return text
    for k in range(1, min(len(first) - 1, 10)):
        head, tail = first[:k], first[k:]
        if not head[0].isupper() or not _is_type_word(head):
            continue
        if tail[0].isupper():
            return f"{head} {tail}{sep}{rest}"
        for particle in _GLUED_PARTICLES:
            after = tail[len(particle):]
            if tail.startswith(particle) and ((after and after[0].isupper()) or (not after and sep and
                                                                               particle[-1] != "'")):
                glue = "" if particle.endswith("'") or not after else " "
                return f"{head} {particle}{glue}{after}{sep}{rest}".rstrip()
    return text


def clean_reading(text: str) -> str:
    """Drop what cannot be part of a name: house numbers read along, stray symbols; mend a
    misread street type at its start ("Riue de Poitiers", "Qnai Voltaire")."""
    text = re.sub(r"\s+", " ", _NOISE.sub(" ", text)).strip(" .,-'")
    # initials read without their full stops: "P-L Courier" is "P.-L. Courier"
    text = re.sub(r"\b([A-Z])-([A-Z])\b", r"\1.-\2.", text)
    # a particle read glued to the capitalised word after it: "deConti" is "de Conti"
    text = re.sub(r"\b(de|du|des)(?=[A-ZÀ-Ý][a-zà-ÿ])", r"\1 ", text)
    text = _unglue_type(text)
    first, sep, rest = text.partition(" ")
    if sep and rest and first.lower() not in _PARTICLES_AND_TYPES and (mended := _misread_type(first)):
        return f"{mended} {rest}"
    if sep and rest.split()[0].lower() in _TYPE_PARTICLES and len(first) >= 4 \
            and first.lower() not in _PARTICLES_AND_TYPES and (mended := _misread_type(first, 2)):
        return f"{mended} {rest}"  # before a particle, a word of four letters or more two edits off ("Viue du")
    return text


def display_form(variants: Iterable[str]) -> str:
    """The best-written of several spellings of one name, in the usual French form.

    Prefers mixed case over capitals, accents over none, hyphens ("Saint-Germain") over spaces; the
    street type takes a capital ("Rue de la Parcheminerie").
    """
    def quality(name: str) -> tuple[float, int]:
        letters = [c for c in name if c.isalpha()]
        upper = sum(c.isupper() for c in letters) / max(len(letters), 1)
        q = (4.0 if upper < 0.5 else 0.0) + (1.0 if any(ord(c) > 127 for c in name) else 0.0)
        q += 0.5 * ("-" in name) + 0.5 * name[:1].isupper()
        return q, -len(name)

    best = max(variants, key=quality)
    first, _, rest = best.partition(" ")
    abbreviation = first.lower().rstrip(".")
    if rest and abbreviation in TYPE_ABBREVIATIONS and abbreviation not in ("c", "b", "p", "q"):
        best = f"{_ACCENTED.get(TYPE_ABBREVIATIONS[abbreviation], TYPE_ABBREVIATIONS[abbreviation])} {rest}"
    letters = [c for c in best if c.isalpha()]
    if letters and sum(c.isupper() for c in letters) / len(letters) >= 0.5:  # "R DE LA PARCHEMINERIE"
        words = best.lower().split()
        best = " ".join(w if (k and w in _LOWER) else "-".join(p[:1].upper() + p[1:] for p in w.split("-"))
                        for k, w in enumerate(words))
        best = re.sub(r"\b([dl])'(\w)", lambda m: f"{m.group(1)}'{m.group(2).upper()}", best)
    best = _SAINT.sub(lambda m: f"{m.group(1)}-", best)
    return best[:1].upper() + best[1:]


class NameCorrector:
    """Match OCR readings to a vocabulary of street names."""

    def __init__(self, names: Iterable[str], min_similarity: float = MIN_SIMILARITY) -> None:
        self.min_similarity = min_similarity
        variants: dict[str, list[str]] = {}
        parsed: dict[str, StreetName] = {}
        for name in names:
            sn = street_name(str(name))
            if sn.core and (sn.core not in _GENERIC or _typed_word_name(sn)) and not _CODED.search(str(name)):
                variants.setdefault(sn.key, []).append(str(name))
                parsed.setdefault(sn.key, sn)
        self._display = {key: display_form(v) for key, v in variants.items()}
        self._count = {key: len(v) for key, v in variants.items()}
        self._by_core: dict[str, list[tuple[str, StreetName]]] = {}
        for key, sn in parsed.items():
            self._by_core.setdefault(sn.core, []).append((key, sn))
        self._cores = list(self._by_core)
        self._squeezed = [c.replace(" ", "") for c in self._cores]
        self._types = Counter(sn.type for sn in parsed.values())
        self._memo: dict[tuple, tuple[set[str], dict[str, float]]] = {}
        self._targets: dict[str, list[tuple[list[int], int]]] = {}  # core -> spotting targets, their letters

    def __len__(self) -> int:
        return len(self._by_core)

    def display(self, key: str) -> str:
        """The written form of a name key."""
        return self._display[key]

    @staticmethod
    def _same_street(core: str, other: str) -> bool:
        """One core, or two spellings of one name ("mont thabor" / "montabor"): no ambiguity."""
        a, b = core.replace(" ", ""), other.replace(" ", "")
        if a.startswith(b) or b.startswith(a):  # "dauphin" / "dauphine", "tournelle" / "tournelles": two streets
            return a == b
        return fuzz.ratio(a, b) >= VARIANT_RATIO

    def correct(self, reading: str, context: Mapping[str, float] | None = None,
                frames: np.ndarray | None = None) -> Correction:
        """The known name closest to ``reading``, or none when nothing reaches ``min_similarity``
        or two different streets fit about equally. ``context``: name keys already read on this
        map with their weight (they decide the type of a type-less reading and break ties).
        ``frames``: the recogniser's steps for the reading (:mod:`jadis.ocr.spotting`): names are
        then also scored by how well they explain what the recogniser saw, not only its first
        choice of letters."""
        text = clean_reading(reading)
        query = street_name(text)
        letters = len(query.core.replace(" ", ""))
        if letters < 3 or _distinctive_letters(text) < 3 or not self._cores:
            return Correction(reading, None, 0.0, "too short")
        if (query.core in _GENERIC and not _typed_word_name(query)) or (query.type is None and query.core in _NOT_ALONE):
            # "Rue", "Passage" alone: a type, not a name; "Ecole", "Nord" alone: not a street
            return Correction(reading, None, 0.0, "a street type without a name")
        cores, spotted = self._candidates(query, frames)
        context = context or {}
        scored: list[tuple[float, float, str, str]] = []  # (similarity, tie-break, key, how)
        for core in cores:
            for key, sn in self._by_core[core]:
                sim, how = _fit(query, sn)
                if core in spotted:
                    tf = 1.0 if query.type is None else similarity(StreetName("", query.type, sn.core, frozenset()),
                                                                   sn)[0]
                    if spotted[core] * tf > sim:
                        sim, how = spotted[core] * tf, f"spotted {spotted[core]:.2f}"
                tie = context.get(key, 0.0) * 10 + _TYPE_PRIOR.get(sn.type or "", 0.1) + 0.001 * self._count[key]
                scored.append((sim, tie, key, how))
        if not scored:
            return Correction(reading, None, 0.0, "closest: none")
        scored.sort(key=lambda s: (s[0], s[1]), reverse=True)
        sim, _, key, how = scored[0]
        needed = self.min_similarity
        if letters < SHORT and not how.startswith(("exact", "truncated")):
            # a short fragment fits many names (less so when its street type was read with it)
            needed = max(needed, SHORT_MIN_SIMILARITY if query.type is None else TYPED_SHORT_MIN_SIMILARITY)
        best_core = key.split("|", 1)[1]
        if sim < needed:
            return Correction(reading, None, sim, f"closest {self._display[key]!r} ({sim:.2f})")
        close = [c for c in scored if c[0] >= sim - AMBIGUITY_MARGIN]
        rivals = [c for c in close[1:] if not self._same_street(best_core, c[2].split("|", 1)[1])]
        if rivals:
            # two streets fit about equally: the map (or the place) decides, if it knows one of them
            known = [c for c in close if context.get(c[2], 0.0) > 0]
            streets = {c[2].split("|", 1)[1] for c in known}
            decisive = self._decisive_spot(close, spotted)
            if len(known) and all(self._same_street(next(iter(streets)), other) for other in streets):
                sim, _, key, how = known[0]
                how = f"{how}, decided by the map"
            elif decisive is not None:
                sim, _, key, how = decisive
                how = f"{how}, decided by the recogniser's steps"
            else:
                return Correction(reading, None, sim, f"ambiguous: {self._display[key]!r} or "
                                                     f"{self._display[rivals[0][2]]!r}")
        best_core = key.split("|", 1)[1]
        if query.type is None and best_core in _NOT_ALONE:
            # "Lcoles", "Rglise": a building word misread, not the street named after it
            return Correction(reading, None, sim, f"a building word without a street type ({self._display[key]!r})")
        rival = max((v for c, v in spotted.items() if not self._same_street(best_core, c)), default=0.0)
        return Correction(reading, self._display[key], sim, how, key, query.type is not None,
                          spotted.get(best_core, 0.0), rival)

    def correct_among(self, reading: str, names: Iterable[str], min_similarity: float = 0.6,
                      margin: float = 0.1, min_letters: int = 5) -> Correction:
        """The one of a few ``names`` (the streets around the reading's place, :mod:`jadis.ocr.place`)
        that ``reading`` fits: at least ``min_similarity`` and ``margin`` more than any other
        street among them; else none. The usual guards hold (a type alone, a building word without
        a type), and the reading needs ``min_letters`` distinctive letters ("Roch", "Anne": the end
        of a spread "St Roch" fits the street, the church and the passage alike)."""
        text = clean_reading(reading)
        query = street_name(text)
        if len(query.core.replace(" ", "")) < 3 or _distinctive_letters(text) < max(3, min_letters):
            return Correction(reading, None, 0.0, "too short")
        if (query.core in _GENERIC and not _typed_word_name(query)) or (query.type is None and query.core in _NOT_ALONE):
            return Correction(reading, None, 0.0, "a street type without a name")
        best: dict[str, tuple[float, str, str]] = {}  # key -> (similarity, how, name)
        for name in names:
            sn = street_name(str(name))
            if not sn.core or (sn.core in _GENERIC and not _typed_word_name(sn)):
                continue
            sim, how = _fit(query, sn)
            if sim > best.get(sn.key, (-1.0, "", ""))[0]:
                best[sn.key] = (sim, how, str(name))
        if not best:
            return Correction(reading, None, 0.0, "near the place: none")
        ranked = sorted(best.items(), key=lambda kv: kv[1][0], reverse=True)
        key, (sim, how, name) = ranked[0]
        core = key.split("|", 1)[1]
        rival = max((s for k, (s, _, _) in ranked[1:] if not self._same_street(core, k.split("|", 1)[1])),
                    default=0.0)
        if sim < min_similarity:
            return Correction(reading, None, sim, f"near the place: closest {name!r} ({sim:.2f})")
        if sim - rival < margin:
            return Correction(reading, None, sim, f"near the place: {name!r} ({sim:.2f}) or another ({rival:.2f})")
        if query.type is None and core in _NOT_ALONE:
            return Correction(reading, None, sim, f"a building word without a street type ({name!r})")
        shown = self._display.get(key) or display_form([name])
        return Correction(reading, shown, sim, f"{how}, near the place (next {rival:.2f})", key,
                          query.type is not None)

    def _candidates(self, query: StreetName, frames: np.ndarray | None) -> tuple[set[str], dict[str, float]]:
        """The cores close enough to the reading to be scored, and how well the steps spell each
        (remembered: a map's readings are corrected several times, with and without context)."""
        memo_key = (query, None if frames is None else hash(frames.tobytes()))
        if memo_key in self._memo:
            return self._memo[memo_key]
        cores = {c for c, _, _ in process.extract(query.core, self._cores, scorer=fuzz.ratio, limit=8,
                                                  score_cutoff=60)}
        squeezed = query.core.replace(" ", "")  # "Bobill ot" / "Vandre zanne": OCR splits words
        cores.update(self._cores[i] for _, _, i in process.extract(squeezed, self._squeezed, scorer=fuzz.ratio,
                                                                   limit=8, score_cutoff=60))
        longest = max(query.words, key=len)
        if len(longest) >= 5:  # "P.L. Courier": the long word finds "paul louis courier"
            cores.update(c for c, _, _ in process.extract(longest, self._cores, scorer=fuzz.partial_ratio, limit=12,
                                                          score_cutoff=90))
        spotted: dict[str, float] = {}
        if frames is not None and len(frames):
            wider = process.extract(squeezed, self._squeezed, scorer=fuzz.ratio, limit=SPOT_CANDIDATES,
                                    score_cutoff=SPOT_CUTOFF)
            cores.update(self._cores[i] for _, _, i in wider)
            spotted = self._spot(frames, query, cores)
        if len(self._memo) >= MEMO_SIZE:
            self._memo.clear()
        self._memo[memo_key] = (cores, spotted)
        return cores, spotted

    def _decisive_spot(self, close: list[tuple[float, float, str, str]],
                       spotted: Mapping[str, float]) -> tuple[float, float, str, str] | None:
        """Of names the reading fits about equally, the one the recogniser's steps spell far better
        than every other street's (None when none does)."""
        if not spotted or any(c[3] == "truncated" for c in close):
            return None  # a word cut by the crop: the steps cannot spell its lost letters
        cores = {c[2].split("|", 1)[1] for c in close}
        top = max(cores, key=lambda c: spotted.get(c, 0.0))
        best = spotted.get(top, 0.0)
        others = [spotted.get(c, 0.0) for c in cores if not self._same_street(top, c)]
        if best < SPOT_DECISIVE or any(best < SPOT_DECISIVE_RATIO * max(v, 0.01) for v in others):
            return None
        return next(c for c in close if c[2].split("|", 1)[1] == top)

    def _spot(self, frames: np.ndarray, query: StreetName, cores: Iterable[str]) -> dict[str, float]:
        """core -> how well the core's printed spelling explains the recogniser's steps, in [0, 1]:
        exp(spotting cost per letter) times the share of the reading's letters it accounts for."""
        from jadis.ocr.spotting import spot

        read_letters = len(query.core.replace(" ", ""))
        owners = [(core, letters) for core in cores for _, letters in self._spot_targets(core)]
        targets = [t for core in cores for t, _ in self._spot_targets(core)]
        out: dict[str, float] = {}
        for (core, letters), cost in zip(owners, spot(frames, targets), strict=True):
            if letters < 3 or not np.isfinite(cost):
                continue
            coverage = min(1.0, letters / max(read_letters, 1))
            out[core] = max(out.get(core, 0.0), float(np.exp(cost / letters)) * coverage)
        return out

    def _spot_targets(self, core: str) -> list[tuple[list[int], int]]:
        """The spotting targets of a core's printed spellings ("Saint-Germain", "St-Germain") and
        their letter counts (made when first needed: most names are never candidates)."""
        if core not in self._targets:
            from jadis.ocr.spotting import SEP_GROUP, spelling, target, variants

            spelled = {v for key, _ in self._by_core[core] for v in variants(spelling(self._display[key]))}
            self._targets[core] = [(t, sum(1 for g in t if 0 < g < SEP_GROUP)) for t in map(target, sorted(spelled))]
        return self._targets[core]


def _distinctive_letters(text: str) -> int:
    """Letters of a reading outside its leading street type, its particles, name prefixes ("Saint",
    "Neuve", "Faubourg") and lone letters: "F T" and "Saint S" have none, whatever their
    abbreviations expand to; "Rue de l'Arcade" keeps its "Arcade"."""
    from jadis.geocode.normalize import fold

    words = re.findall(r"[^\W\d_]+", fold(text).lower())
    if words and (words[0] in STREET_TYPES or words[0] in TYPE_ABBREVIATIONS):
        words = words[1:]
    return sum(len(w) for w in words if len(w) >= 2 and w not in _LOWER and w not in _NAME_PREFIXES)


def _typed_word_name(name: StreetName) -> bool:
    """A name whose core is a street type's word, written in full after another type
    ("Rue de l'Arcade", "Rue du Sentier"): a name, not a type alone."""
    from jadis.geocode.normalize import fold

    return (name.type is not None and name.type != name.core and len(name.core) >= 4
            and name.core in STREET_TYPES and name.core in fold(name.raw).lower())


def _truncated(query: StreetName, candidate: StreetName) -> float:
    """Similarity of a reading that lost the first or last letters of its name ("Babylo", "arenne":
    a word cut by the crop or by the segmenter) to a name it is the start or the end of."""
    q, c = query.core.replace(" ", ""), candidate.core.replace(" ", "")
    if len(q) < 5 or len(q) >= len(c) or len(q) < 0.55 * len(c):
        return 0.0
    if query.type is not None and candidate.type is not None and query.type != candidate.type:
        return 0.0
    ratio = max(fuzz.ratio(q, c[:len(q)]), fuzz.ratio(q, c[-len(q):])) / 100.0
    return 0.8 + 0.15 * len(q) / len(c) if ratio >= 0.99 else 0.0


def _fit(query: StreetName, sn: StreetName) -> tuple[float, str]:
    """How well a reading fits a known name, and how: the name similarity; for a reading without
    its type, as well as its core fits (every type of that core fits as well as the map says); or
    the reading as the cut start or end of the name."""
    sim, how = similarity(query, sn)
    if query.type is None:
        sim = max(sim, _core_only(query, sn, sim))
    cut = _truncated(query, sn)
    return (cut, "truncated") if cut > sim else (sim, how)


def _core_only(query: StreetName, candidate: StreetName, sim: float) -> float:
    """Similarity of a type-less reading to a typed name: the core's own (no missing-type penalty)."""
    if query.core == candidate.core:
        return 1.0 if sim > 0 else sim
    return sim
