"""Normalising historical Paris street names so that spellings of one street compare equal.

``"r. S.-Honoré"``, ``"Rue Saint Honore"`` and ``"R ST-HONORE"`` all become the type ``rue`` and the
core ``saint honore``. The core drops accents, case, punctuation and the particles (``de``, ``la``,
``l'``…), expands the abbreviations of trade directories and old atlases (``S.``, ``St``, ``Ste``,
``faub.``, ``fg``, ``Nve``, ``Gde``…) and canonicalises the street type (``r.`` → rue, ``boul.``/``bd``
→ boulevard, ``cul-de-sac`` → impasse…). Tokens abbreviated with a full stop that we cannot expand
(``Mauv. Paroles``) are remembered so that the matcher can compare them as prefixes.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

#: Canonical street types (after accent folding). Multi-word types are written with spaces.
STREET_TYPES: frozenset[str] = frozenset({
    "rue", "ruelle", "boulevard", "avenue", "quai", "place", "passage", "impasse", "cour", "cours",
    "cite", "carrefour", "chemin", "allee", "square", "villa", "pont", "port", "marche", "cloitre",
    "enclos", "galerie", "barriere", "route", "rond point", "parvis", "sentier", "hameau", "promenade",
    "rampe", "esplanade", "petite rue", "grande rue", "voie", "terrasse", "arcade",
    "arcades", "rotonde", "pourtour", "hospice",
})

#: Abbreviations of a street type, valid only as the first word of a name.
TYPE_ABBREVIATIONS: dict[str, str] = {
    "r": "rue", "ru": "rue", "rle": "ruelle",
    "b": "boulevard", "bd": "boulevard", "bld": "boulevard", "boul": "boulevard", "boulev": "boulevard",
    "bould": "boulevard", "bout": "boulevard", "boulevart": "boulevard", "boulv": "boulevard", "bard": "boulevard",
    "av": "avenue", "ave": "avenue", "aven": "avenue", "avenu": "avenue",
    "q": "quai", "qu": "quai", "qai": "quai", "quay": "quai", "voi": "voie",
    "c": "impasse",  # "C du petit jardinier": cul-de-sac on 18th-century plans
    "pl": "place", "pla": "place",
    "p": "passage", "pas": "passage", "pass": "passage", "passg": "passage", "psg": "passage",
    "imp": "impasse", "impas": "impasse", "cul de sac": "impasse",
    "carref": "carrefour", "carr": "carrefour", "carf": "carrefour",
    "ch": "chemin", "chem": "chemin", "all": "allee", "sq": "square", "crs": "cours", "rte": "route",
    "rd pt": "rond point", "rpt": "rond point", "bre": "barriere", "barr": "barriere", "barre": "barriere",
    "mche": "marche", "marc": "marche", "prom": "promenade", "sent": "sentier", "gal": "galerie",
    "cloit": "cloitre", "enc": "enclos", "pet rue": "petite rue", "pte rue": "petite rue",
    "gde rue": "grande rue", "gr rue": "grande rue", "petite r": "petite rue", "pte r": "petite rue",
    "grande r": "grande rue", "gde r": "grande rue",
}

#: Abbreviations expanded wherever they occur in a name.
WORD_ABBREVIATIONS: dict[str, str] = {
    "s": "saint", "st": "saint", "ste": "sainte", "sts": "saints", "stes": "saintes", "sainct": "saint",
    "f": "faubourg", "fg": "faubourg", "fb": "faubourg", "fbg": "faubourg", "faub": "faubourg", "faubg": "faubourg",
    "faux": "faubourg", "fauxbourg": "faubourg",
    "nve": "neuve", "nv": "neuve", "neuv": "neuve", "nle": "nouvelle", "nvelle": "nouvelle",
    "vle": "vieille", "vx": "vieux", "vieil": "vieille",
    "gd": "grand", "gde": "grande", "gds": "grands", "gdes": "grandes",
    "pt": "petit", "pte": "petite", "pts": "petits", "ptes": "petites", "pet": "petit",
    "mt": "mont", "mtmartre": "montmartre", "nd": "notre dame", "n d": "notre dame",
    "boulevart": "boulevard", "bons": "bons", "cul de sac": "impasse",
}

#: Words dropped from the core: articles and prepositions that spellings add or omit at will.
PARTICLES: frozenset[str] = frozenset({
    "de", "du", "des", "la", "le", "les", "l", "d", "a", "au", "aux", "en", "et", "dit", "dite", "ou",
})

#: District qualifiers that directories append to disambiguate homonyms ("r. Ste-Marguerite-S.-Germain").
DISTRICT_QUALIFIERS: tuple[str, ...] = (
    "faubourg saint antoine", "faubourg saint germain", "faubourg saint honore", "faubourg saint denis",
    "faubourg saint martin", "faubourg saint jacques", "faubourg saint marcel", "faubourg montmartre",
    "faubourg poissonniere", "faubourg du temple", "saint antoine", "saint germain", "saint honore",
    "saint denis", "saint martin", "saint jacques", "saint marcel", "saint victor", "saint michel",
    "saint sauveur", "saint paul", "marais", "cite", "temple", "poissonniere", "montmartre",
    "chaussee antin", "ile saint louis", "roule",
)

# words that cannot end a name once a qualifier is cut off ("faubourg [saint denis]")
_NOT_ALONE = frozenset({"faubourg", "porte", "neuve", "vieille", "petite", "grande", "saint", "sainte"})

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'", "ʼ": "'"})
_LIGATURES = str.maketrans({"œ": "oe", "Œ": "Oe", "æ": "ae", "Æ": "Ae", "ſ": "s", "ß": "ss"})
_NON_WORD = re.compile(r"[^a-z0-9.]+")
_SPACES = re.compile(r"\s+")
# an OCR hyphenation: "Gros-Che- net" -> "Gros-Chenet" (lower-case continuation, not a particle)
_HYPHENATION = re.compile(r"(\w)-\s+(?!(?:de|du|des|la|le|les|aux?|sur|sous|en|et)\b)([a-zà-ÿ])")


@lru_cache(maxsize=100_000)
def fold(text: str) -> str:
    """Lower-case ASCII with accents, ligatures and apostrophes normalised; punctuation kept."""
    text = _SPACES.sub(" ", text.translate(_LIGATURES).translate(_APOSTROPHES))
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return text.encode("ascii", "ignore").decode("ascii").lower()


def dehyphenate(text: str) -> str:
    """Join words split by a line-end hyphen in OCR text ("Dau- phine" -> "Dauphine")."""
    return _HYPHENATION.sub(r"\1\2", text)


@dataclass(frozen=True)
class StreetName:
    """A street name split into its canonical type and normalised core."""

    raw: str = field(compare=False)  #: as written (not part of equality: same name, same key)
    type: str | None          #: canonical street type ("rue", "quai"…) or None when the name has none
    core: str                 #: normalised words without type and particles: "saint honore"
    prefixes: frozenset[int]  #: indices of core words that were abbreviated with a full stop ("mauv.")

    @property
    def key(self) -> str:
        """Type and core in one string (type ``?`` when absent): the exact-match key."""
        return f"{self.type or '?'}|{self.core}"

    @property
    def words(self) -> list[str]:
        return self.core.split()

    def without_qualifier(self) -> StreetName | None:
        """The name without a trailing district qualifier ("… saint antoine"), if it has one."""
        return _without_qualifier(self)

    def display(self) -> str:
        """A readable form: "rue saint honore"."""
        return f"{self.type} {self.core}" if self.type else self.core


@lru_cache(maxsize=200_000)
def _without_qualifier(name: StreetName) -> StreetName | None:
    for qual in DISTRICT_QUALIFIERS:
        if name.core.endswith(" " + qual):
            core = name.core[: -len(qual) - 1].strip()
            if not core or core.split()[-1] in _NOT_ALONE:
                continue
            n = len(core.split())
            return StreetName(name.raw, name.type, core, frozenset(i for i in name.prefixes if i < n))
    return None


def _tokens(text: str) -> list[tuple[str, bool]]:
    """Words of a folded text with a flag telling whether each ended with a full stop."""
    out: list[tuple[str, bool]] = []
    for chunk in _NON_WORD.split(text.replace("'", " ")):
        pieces = chunk.split(".")
        for i, piece in enumerate(pieces):
            if piece:
                out.append((piece, i < len(pieces) - 1))
    return out


def _expand(words: list[tuple[str, bool]], table: dict[str, str], start: int) -> tuple[str, int] | None:
    """Longest entry of ``table`` matching the words at ``start`` (2 words, then 1)."""
    for width in (3, 2, 1):
        if start + width <= len(words):
            phrase = " ".join(w for w, _ in words[start:start + width])
            if phrase in table:
                return table[phrase], width
    return None


@lru_cache(maxsize=200_000)
def street_name(raw: str) -> StreetName:
    """Parse a street name into type and core. Never fails: an empty name gives an empty core."""
    words = _tokens(fold(dehyphenate(raw)))
    # leading street type, abbreviated or not ("r.", "boul.", "cul-de-sac", "petite rue")
    stype: str | None = None
    i = 0
    hit = _expand(words, TYPE_ABBREVIATIONS, 0) if words else None
    if hit is not None:
        stype, i = hit
    else:
        for width in (2, 1):
            phrase = " ".join(w for w, _ in words[:width])
            if len(words) >= width and phrase in STREET_TYPES:
                stype, i = phrase, width
                break
    if stype is not None and i >= len(words):  # a lone "Cour", "Marché": it is the name, not the type
        stype, i = None, 0
    core: list[str] = []
    prefixes: set[int] = set()
    while i < len(words):
        hit = _expand(words, WORD_ABBREVIATIONS, i)
        if hit is not None:
            expansion, width = hit
            core.extend(expansion.split())
            i += width
            continue
        word, dotted = words[i]
        i += 1
        if word in PARTICLES and not (dotted and len(word) == 1):  # "P.-L. Courier": an initial
            continue
        if dotted and not word.isdigit():
            prefixes.add(len(core))
        core.append(word)
    if not core and stype is not None:
        core, stype = [stype], None
    return StreetName(raw=raw, type=stype, core=" ".join(core), prefixes=frozenset(prefixes))


def normalize(raw: str) -> str:
    """The matching key of a street name (see :class:`StreetName`)."""
    return street_name(raw).key


def clean_text(text: str) -> str:
    """Collapse whitespace and fix OCR hyphenation; keeps accents and case."""
    return _SPACES.sub(" ", dehyphenate(text)).strip()
