"""Parsing historical French addresses: street, house number, and the words around them.

Handles both orders seen in sources — modern ``"12 bis, rue de la Harpe"`` and the trade-directory
``"Dupont, tailleur, r. S.-Honoré, 123"`` — numbers with ``bis``/``ter``/``quater`` and ranges
(``12-14``, ``12 et 14``), ``n°`` prefixes, OCR hyphenation (``Dau- phine``), HTML entities,
several addresses in one entry (the first is the primary one, the others are kept), and the
qualifiers ``au coin de …`` (a cross street) and ``près …`` / ``en face …`` (a landmark nearby).
The street text is returned as written (cleaned); :mod:`jadis.geocode.normalize` compares names.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from functools import lru_cache

from jadis.geocode.normalize import (
    PARTICLES,
    STREET_TYPES,
    TYPE_ABBREVIATIONS,
    WORD_ABBREVIATIONS,
    clean_text,
    fold,
)

_SUFFIX = r"(?:bis|ter|quater|quinquies|[a-d])"
_NUM = rf"(\d{{1,4}})\s*({_SUFFIX})?\b\.?"
_RANGE = rf"(?:\s*(?:-|–|à|a|et|&)\s*(\d{{1,4}})\s*(?:{_SUFFIX})?\b)?"
_NO = r"(?:n\s?\.?\s?[°ºo]s?\s?\.?\s*|n\s?\.\s*|num[ée]ro\s*)"
#: a segment that is only a number (possibly followed by a page reference or remarks: "34. (Elig.) 449")
_NUM_SEGMENT = re.compile(rf"^\s*{_NO}?{_NUM}{_RANGE}(?=$|[\s.;:()*|])", re.IGNORECASE)
#: "12 bis rue de la Harpe": a number, then words
_NUM_FIRST = re.compile(rf"^\s*{_NO}?{_NUM}{_RANGE}\s*[,.]?\s+(?=[^\d\s])(.+)$", re.IGNORECASE)
#: "rue de la Harpe 12" / "rue de la Harpe n° 12 bis"
_NUM_LAST = re.compile(rf"^(.*?[^\d\s].*?)[\s,]+{_NO}?(\d{{1,4}})\s*({_SUFFIX})?{_RANGE}\s*\.?\s*$", re.IGNORECASE)
_CORNER = re.compile(r"^\s*(?:au|a|à|faisant)?\s*(?:l')?\s*(?:coin|angle)\s+(?:de\s+la|du|des|de\s+l'|de|d')?\s*(.*)$",
                     re.IGNORECASE)
_NEAR = re.compile(r"^\s*(?:pr[èe]s|proche|vis-?[àa]-?vis|en\s+face|derri[èe]re|attenant)\s*"
                   r"(?:de\s+la|du|des|de\s+l'|de|d'|la|le|les|l')?\s*(.*)$", re.IGNORECASE)
_POSTCODE = re.compile(r"\b(?:75\d{3}|\d{5})\b")
_CITY = re.compile(r"^\s*(?:paris|france)\s*\.?\s*$", re.IGNORECASE)
_PALAIS_ROYAL = re.compile(r"^pal(?:ais)?[\s.-]*r(?:oy(?:al)?)?\.?$", re.IGNORECASE)
_LOCATIVE = re.compile(r"^(?:au|aux|à|a)\s+[A-ZÀ-Ý]")
#: words that belong to a street name even though they are written in lower case
_NAME_WORDS = frozenset({*PARTICLES, *WORD_ABBREVIATIONS, *WORD_ABBREVIATIONS.values(), *TYPE_ABBREVIATIONS,
                         *STREET_TYPES, "grande", "grand", "petite", "petit", "vieille", "vieux", "neuve",
                         "sur", "sous", "haute", "basse", "faubourg", "saint", "sainte"})
_WORDS = re.compile(r"[\w']+\.?")
_LETTERS = re.compile(r"[a-z]+")
_WORD_BREAK = re.compile(r"[.'-]")
_LEADING_AND = re.compile(r"^(?:et|&)\s+", re.IGNORECASE)
_WS = re.compile(r"\s+")
_RUN_BREAK = re.compile(r"\s{2,}|\)\s+")
_WORD3 = re.compile(r"^[a-zA-Zàâäéèêëîïôöûùüç]{3,}")
_ANY_WORD3 = re.compile(r"[A-Za-zÀ-ÿ]{3,}")
_SYMBOL = re.compile(r"[^\w\s'’.,()&°-]")
_SPACE_BEFORE_COMMA = re.compile(r"\s+([,;])")
_SPACED_DASH = re.compile(r"\s+[-–]\s+")
_PAGE_REF = re.compile(r"(\d\s*(?:bis|ter)?)\s*\.\s*\d{1,4}\s*\.?\s*$")
_INNER_CORNER = re.compile(r"\s(?:au\s+coin|[àa]\s+l'angle)\s+(.*)$", re.IGNORECASE)
_LEADING_OF = re.compile(r"^(?:de\s+la|du|des|de\s+l'|de|d')\s*")
_INNER_NEAR = re.compile(r"\s(?:pr[èe]s|en\s+face|vis-?[àa]-?vis)\s+(.*)$", re.IGNORECASE)
_NUM_THEN_ITEM = re.compile(rf"^({_NO}?\d{{1,4}}\s*(?:{_SUFFIX})?)\s*\.\s+(\S.*)$", re.IGNORECASE)
_TWO_STREETS = re.compile(r"^(?:rues\s+)?(.+?)\s+et\s+(?:de\s+la\s+|du\s+|des\s+|de\s+)?(.+)$")
#: fast paths for the plain forms "12 bis rue X" and "rue X, 12" (no other commas, no qualifiers)
_SIMPLE_NUM_FIRST = re.compile(r"^\s*(\d{1,4})\s*(bis|ter|quater)?\s*,?\s+([A-Za-zÀ-ÿ][^\d,;()&—–]*?)\s*$",
                               re.IGNORECASE)
_SIMPLE_NUM_LAST = re.compile(r"^\s*([A-Za-zÀ-ÿ][^\d,;()&—–]*?)\s*,\s*(\d{1,4})\s*(bis|ter|quater)?\s*\.?\s*$",
                              re.IGNORECASE)
_NOT_SIMPLE = re.compile(r"(?i)\b(?:coin|angle|pr[èe]s|face|vis|paris|france|n[o°º]|et)\b|-\s|\s-|\.\s*\d|\s{2}")
_TRAILING = re.compile(r"[\s.,;:*|]+$")
_LEADING = re.compile(r"^[\s.,;:*|]+")


@dataclass(frozen=True)
class Address:
    """One street + number found in a text."""

    street: str                 #: the street as written, cleaned: "r. S.-Honoré"
    number: int | None = None   #: 123
    suffix: str = ""            #: "bis", "ter", "quater", or a letter
    number_to: int | None = None  #: end of a range ("12-14" -> 14)

    @property
    def house(self) -> str:
        """The house number as text: "12bis", "12-14", or ""."""
        if self.number is None:
            return ""
        text = f"{self.number}{self.suffix}"
        return f"{text}-{self.number_to}" if self.number_to is not None else text


@dataclass(frozen=True)
class ParsedAddress:
    """The result of :func:`parse_address`: a primary address plus what was said around it."""

    raw: str
    street: str | None = None
    number: int | None = None
    suffix: str = ""
    number_to: int | None = None
    cross_street: str | None = None   #: "au coin de la r. St-Honoré" -> "r. St-Honoré"
    near: str | None = None           #: "près la cour Batave" -> "cour Batave"
    others: tuple[Address, ...] = field(default=())  #: further addresses of the same entry

    @property
    def house(self) -> str:
        return Address(self.street or "", self.number, self.suffix, self.number_to).house


def _split_segments(text: str) -> list[str]:
    """Split on commas/semicolons that are not inside parentheses."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif ch in ",;—" and depth == 0:
            out.append(text[start:i])
            start = i + 1
    out.append(text[start:])
    return [s.strip() for s in out]


def _first_word(text: str) -> str:
    words = _WORDS.findall(fold(text))
    return words[0] if words else ""


@lru_cache(maxsize=100_000)
def _starts_with_type(text: str) -> bool:
    """Whether a segment starts with a street type ("r.", "rue", "boul.", "cul-de-sac"…)."""
    folded = fold(text).strip()
    words = _LETTERS.findall(folded)
    if not words:
        return False
    first = words[0]
    if first in STREET_TYPES or f"{first} {words[1] if len(words) > 1 else ''}".strip() in STREET_TYPES:
        return True
    if first in TYPE_ABBREVIATIONS or " ".join(words[:3]) == "cul de sac":
        # a one-letter abbreviation must carry its full stop ("r.", "b.", "q.") to count
        return len(first) > 1 or re.match(rf"^{first}\s*\.", folded) is not None
    return False


def _strip_activity(segment: str) -> str:
    """Drop lower-case words that precede the street in a segment ("herb. Grenétat" -> "Grenétat")."""
    words = segment.split()
    i = 0
    while i < len(words) - 1:
        word = words[i]
        bare = fold(word).strip(".,;:()'")
        first = _WORD_BREAK.split(bare)[0]
        if (not word[:1].islower()) or bare in _NAME_WORDS or first in _NAME_WORDS:
            break
        if _starts_with_type(" ".join(words[i:])):
            break
        i += 1
    return " ".join(words[i:])


def _clean_street(text: str) -> str:
    text = _POSTCODE.sub("", text)
    text = _LEADING.sub("", _TRAILING.sub("", text))
    text = _LEADING_AND.sub("", text.strip())
    return _WS.sub(" ", text).strip()


_INNER_TYPE = re.compile(
    r"(?<=[\s)])(?:r\.|rue|boul\.|bd\.?|boulevard|pl\.|place|q\.|quai|pass\.|passage|imp\.|impasse|"
    r"cul-de-sac|av\.|avenue|carref\.|carrefour|faub\.|fg\.?|fb\.?|cit[ée]|all[ée]e)[\s-]", re.IGNORECASE)


def _street_tail(text: str) -> str:
    """The street at the end of a run of words with no commas ("Boocks (Felix)  pass. Saulnier")."""
    if _starts_with_type(text):
        return text
    for m in reversed(list(_INNER_TYPE.finditer(text))):
        before = text[: m.start()].split()
        if before and fold(before[-1]).strip(".'") not in PARTICLES:
            return text[m.start():]
    parts = _RUN_BREAK.split(text)
    text = parts[-1] if parts else text
    # "Collin. méd. Provence": a name ending with a full stop, then the trade, then the street
    words = text.split()
    for k in range(len(words) - 2, -1, -1):
        word, nxt = words[k], fold(words[k + 1]).strip(".,'")
        if (word.endswith(".") and word[:1].isupper() and len(word) >= 6 and nxt[:1].isalpha()
                and nxt not in _NAME_WORDS and fold(word).rstrip(".") not in _NAME_WORDS):
            return " ".join(words[k + 1:])
    return text


def _number(groups: tuple[str | None, ...]) -> tuple[int, str, int | None]:
    num, suffix, to = groups
    suffix = (suffix or "").lower()
    n = int(num)  # type: ignore[arg-type]
    n_to = int(to) if to else None
    if n_to is not None and n_to <= n:
        n_to = None
    return n, suffix, n_to


def _segment_address(segment: str) -> Address | None:
    """An address contained in one segment: "12 rue X" or "rue X 12" (else None)."""
    m = _NUM_FIRST.match(segment)
    if m:
        rest = m.group(4)
        if not _NUM_SEGMENT.match(rest):
            n, suffix, to = _number(m.group(1, 2, 3))
            return Address(_clean_street(rest), n, suffix, to)
    m = _NUM_LAST.match(segment)
    if m and len(m.group(1).strip()) > 1:
        n, suffix, to = _number(m.group(2, 3, 4))
        return Address(_clean_street(_strip_activity(_street_tail(m.group(1)))), n, suffix, to)
    return None


def _join_qualifiers(segments: list[str]) -> list[str]:
    """Glue district qualifiers to their street: "r. Ste-Anastase, au Marais" / "Palais-Royal, gal. de bois"."""
    out: list[str] = []
    for seg in segments:
        qualifier = bool(out) and _LOCATIVE.match(seg) is not None and not _NUM_SEGMENT.match(out[-1]) \
            and _starts_with_type(_strip_activity(out[-1]))
        gallery = bool(out) and _PALAIS_ROYAL.match(out[-1].strip()) is not None \
            and fold(seg).startswith(("gal", "galerie", "pass"))
        if qualifier or gallery:
            out[-1] = f"{out[-1]}, {seg}"
        else:
            out.append(seg)
    return out


def _is_plain_number(segment: str, num: re.Match[str]) -> bool:
    """A segment that is a house number, perhaps followed by remarks ("34. (Elig.) 449", "25. Mont Blanc")."""
    rest = segment[num.end():].strip()
    if not rest:
        return True
    if num.group(0).rstrip().endswith(".") or rest.startswith("."):
        # after a full stop comes a new sentence (a section, a page, a trade), unless it is a street
        return not _starts_with_type(rest.lstrip(". "))
    return _WORD3.match(rest) is None and not _starts_with_type(rest)


def _NUM_SEGMENT_PLAIN(segment: str) -> bool:  # noqa: N802 - reads like the regex it wraps
    num = _NUM_SEGMENT.match(segment)
    return num is not None and _is_plain_number(segment, num)


def _plausibility(street: str, number: int | None) -> float:
    """How much a (street, number) pair looks like an address rather than a medal year or a page."""
    score = 0.0
    if _starts_with_type(street):
        score += 1.0
    if not _ANY_WORD3.search(street) or _SYMBOL.search(street):
        score -= 3.0  # "Ⓐ S. H.", "(H)": symbols, not a street
    if number is not None and 1700 <= number <= 1899 and not _starts_with_type(street):
        score -= 2.0  # "exp. 1819", "M. H. 1827": a year
    if street[:1].islower() and not _starts_with_type(street):
        score -= 0.5  # "de lot", "et": a fragment
    return score


def _simple(text: str) -> ParsedAddress | None:
    """The common plain forms, parsed without the general machinery (same result, much faster)."""
    if _NOT_SIMPLE.search(text):
        return None
    m = _SIMPLE_NUM_FIRST.match(text)
    if m:
        street, number, suffix = m.group(3), m.group(1), m.group(2)
    else:
        m = _SIMPLE_NUM_LAST.match(text)
        if not m:
            return None
        street, number, suffix = m.group(1), m.group(2), m.group(3)
    street = _clean_street(street)
    if not _starts_with_type(street):  # "Dupont, 12" or "tailleur, 3": leave it to the general parser
        return None
    return ParsedAddress(text, street, int(number), (suffix or "").lower(), None, None, None, ())


@lru_cache(maxsize=100_000)
def parse_address(text: str) -> ParsedAddress:
    """Find the street, house number and qualifiers in a historical address or directory entry.

    Never raises: text without any street gives ``street=None``.

    >>> parse_address("Dupont, tailleur, r. S.-Honoré, 123").house
    '123'
    """
    raw = text
    simple = _simple(text or "")
    if simple is not None:
        return simple
    text = clean_text(html.unescape(text or ""))
    text = _SPACE_BEFORE_COMMA.sub(r"\1", text)
    text = _SPACED_DASH.sub("—", text)  # " - " separates items like a comma (1798-1805 directories)
    # "r. S-Martin 42. 326": a page reference after the house number
    text = _PAGE_REF.sub(r"\1", text)
    segments = [s for s in _split_segments(text) if s and not _CITY.match(s)]
    # directory entries end with a page reference after a full stop: "…, 34. 449" is handled by
    # _NUM_SEGMENT; "… 34.  (Elig.) 449" too.
    cross: str | None = None
    near: str | None = None
    kept: list[str] = []
    for seg in segments:
        corner = _CORNER.match(seg)
        nearby = _NEAR.match(seg)
        if corner and corner.group(1).strip():
            cross = cross or _clean_street(corner.group(1))
        elif nearby and nearby.group(1).strip() and not _starts_with_type(seg):
            near = near or _clean_street(nearby.group(1))
        else:
            # "r. Mandar, 13 près celle Montmartre": a qualifier inside a segment
            inner = _INNER_CORNER.search(seg)
            if inner:
                cross = cross or _clean_street(_LEADING_OF.sub("", inner.group(1)))
                seg = seg[: inner.start()]
            inner = _INNER_NEAR.search(seg)
            if inner and not _NUM_SEGMENT.match(seg):
                near = near or _clean_street(inner.group(1))
                seg = seg[: inner.start()]
            kept.append(seg.strip())
    segments = []
    for seg in (s for s in kept if s):
        # "r. St Martin, 107. pass. Molière, 7": a number, a full stop, then the next item
        m = _NUM_THEN_ITEM.match(seg)
        if m and segments:
            segments.extend([m.group(1), m.group(2)])
        else:
            segments.append(seg)
    segments = _join_qualifiers(segments)

    found: list[tuple[float, Address]] = []
    used: dict[int, int] = {}  # segment index -> index in found
    for i, seg in enumerate(segments):
        num = _NUM_SEGMENT.match(seg)
        if num is not None and _is_plain_number(seg, num):
            n, suffix, to = _number(num.group(1, 2, 3))
            j = i - 1
            if j >= 0 and not _NUM_SEGMENT_PLAIN(segments[j]):
                if j in used:
                    # "4 Vents, 13": the previous segment was read as "4, Vents"; it is the street
                    k = used.pop(j)
                    found[k] = (-99.0, found[k][1])
                street = _clean_street(_strip_activity(_street_tail(segments[j])))
                if street:
                    found.append((_plausibility(street, n) + 2.0, Address(street, n, suffix, to)))
                    used[i] = used[j] = len(found) - 1
                    continue
            # "12, rue de la Harpe": the street is the next segment
            if i + 1 < len(segments) and _NUM_SEGMENT.match(segments[i + 1]) is None:
                street = _clean_street(_strip_activity(segments[i + 1]))
                if street:
                    found.append((_plausibility(street, n) + 1.5, Address(street, n, suffix, to)))
                    used[i] = used[i + 1] = len(found) - 1
            continue
        if i in used:
            continue
        addr = _segment_address(seg)
        if addr is not None and addr.street:
            found.append((_plausibility(addr.street, addr.number) + 1.0, addr))
            used[i] = len(found) - 1

    found = [item for item in found if item[0] > -50 and not item[1].street.startswith("(")]
    if found:
        # the first plausible address is the primary one (directories list the main shop first)
        best = max(score for score, _ in found)
        first = next(addr for score, addr in found if score >= min(1.0, best))
        others = tuple(addr for _, addr in found if addr is not first)
        return ParsedAddress(raw, first.street, first.number, first.suffix, first.number_to,
                             cross, near, others)
    # no number: the last segment that starts with a street type, else the last text segment
    candidates = [s for s in segments if not _NUM_SEGMENT.match(s) and _clean_street(s)]
    typed = [s for s in candidates if _starts_with_type(_strip_activity(s))]
    if typed:
        street = _clean_street(_strip_activity(typed[0]))
    elif len(candidates) == 1:
        street = _clean_street(candidates[0])
    elif candidates:
        street = _clean_street(_strip_activity(candidates[-1]))
    else:
        street = None
    if not street and cross:
        street, cross = cross, None
    if street and cross is None:
        # "au coin des rues X et Y" as the whole text
        both = _TWO_STREETS.match(street)
        if both and raw.strip().lower().startswith(("au coin", "coin", "à l'angle", "a l'angle", "angle")):
            street, cross = both.group(1), both.group(2)
    return ParsedAddress(raw, street or None, None, "", None, cross, near, ())
