"""Words read on a map -> street names.

Map lettering spreads a street's name along the street: "Rue" … "de" … "Grenelle", sometimes a
block apart, sometimes interrupted by a crossing street; two streets' names can also follow each
other on one straight line. So names are found in steps:

1. :func:`chains` links read pieces (:class:`~jadis.ocr.lines.Word`) that follow each other along
   one direction — same reading direction, on a common axis, the gap between them lying inside
   the street (``corridor``) — into ordered chains;
2. :func:`split_chain` cuts each chain into the names it holds: every run of consecutive pieces is
   tried against the known names and the best set of non-overlapping names wins (dynamic
   programming over the chain). Street-type-only pieces ("Rue", "Quai") and single letters are
   kept only as parts of a longer name;
3. :func:`join_stacked` joins names printed on two lines, and :func:`adopt_types` gives a line
   without its street type the lone type ("Rue", "Pl.", or a lone "St") printed far behind it on
   its axis along the street, with the unnamed words on the way ("Rue" … "St" … "Lazare");
4. :func:`retype` gives a name read without its type, and named with an assumed one, the type
   printed beside it instead ("Place" over "Vendôme": *Place Vendôme*, not *Rue Vendôme*).

A name's ``score`` is its confidence: the correction's similarity times the recogniser's
confidence, lowered when the reading had to borrow its street type from elsewhere.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from jadis.ocr.correct import Correction, NameCorrector, clean_reading
from jadis.ocr.lines import Word

#: Chained pieces: reading directions within this many degrees ...
MAX_ANGLE = 25.0
#: ... the next piece's centre within this many letter heights of the axis ...
MAX_OFFSET = 0.8
#: ... and the gap at most this many letter heights (letter-spaced names leave blocks between words).
MAX_GAP = 18.0
#: Gaps longer than this many heights must run along a street (``corridor``) to be bridged.
FREE_GAP = 2.5
#: Most pieces one name is made of.
MAX_PIECES = 6
#: A street type printed apart from the rest of its name, far along the street ("Rue" … "de Londres"):
#: the rest starts at most this many letter heights ahead of it ...
SPREAD_REACH = 40.0
#: ... seen from the type within this many degrees of the rest's reading direction (or within
#: ``MAX_OFFSET`` heights of its axis).
SPREAD_ANGLE = 6.0
#: Lines within this many letter heights of the straight way from the type to the rest lie on the way.
SPREAD_WAY = 1.5
#: Up to this many unnamed words on the way are tried in every combination (more: all or none).
SPREAD_MIDDLES = 4
#: A name given an assumed type takes the type printed with it instead (:func:`retype`): a lone
#: type stacked over or under it within this many letter heights of its line, or behind it on its
#: axis within ``SPREAD_REACH`` heights with no named line or other type on the way, along a street
#: (``corridor``) when further than ``RETYPE_OPEN`` heights (nearer: across an open place too).
RETYPE_STACK = 5.0
RETYPE_OPEN = 12.0
#: A reading that named nothing is named among the streets around it (a georeferenced map,
#: :func:`name_locally`) with this similarity and this margin over the next street there.
LOCAL_MIN_SIMILARITY = 0.6
LOCAL_MARGIN = 0.1


@dataclass
class NamedLine:
    """Pieces read as one street name (or as text that names no street: ``name`` None)."""

    words: list[Word]
    correction: Correction
    score: float

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words if w.text)

    @property
    def name(self) -> str | None:
        return self.correction.name

    @property
    def ids(self) -> list[int]:
        return [i for w in self.words for i in (w.ids or (w.id,))]

    @property
    def height(self) -> float:
        return float(np.median([w.height for w in self.words]))

    @property
    def direction(self) -> np.ndarray:
        total = sum(w.direction * max(w.length, 1.0) for w in self.words)
        return total / max(float(np.linalg.norm(total)), 1e-9)

    @property
    def length(self) -> float:
        first, last = self.words[0], self.words[-1]
        return float(np.linalg.norm((last.centre + last.direction * last.length / 2)
                                    - (first.centre - first.direction * first.length / 2)))

    @property
    def centre(self) -> np.ndarray:
        """Middle of the span from the first piece's start to the last piece's end."""
        first, last = self.words[0], self.words[-1]
        start = first.centre - first.direction * first.length / 2
        end = last.centre + last.direction * last.length / 2
        return (start + end) / 2


def _follows(a: Word, b: Word, corridor: Callable[[np.ndarray, np.ndarray, float], bool] | None) -> float | None:
    """The gap (in letter heights) when ``b`` continues ``a``'s line ahead of it, else None."""
    if float(a.direction @ b.direction) < math.cos(math.radians(MAX_ANGLE)):
        return None
    h = max(a.height, b.height)
    if max(a.height, b.height) > 1.8 * min(a.height, b.height):
        return None
    axis = a.direction + b.direction
    axis = axis / max(float(np.linalg.norm(axis)), 1e-9)
    d = b.centre - a.centre
    along = float(d @ axis)
    across = abs(float(d[0] * axis[1] - d[1] * axis[0]))
    gap = along - (a.length + b.length) / 2
    if along <= 0 or gap < -0.6 * h or across > MAX_OFFSET * h or gap > MAX_GAP * h:
        return None
    if gap > FREE_GAP * h and corridor is not None:
        start = a.centre + axis * a.length / 2
        end = b.centre - axis * b.length / 2
        if not corridor(start, end, h):
            return None
    return gap / h


def chains(words: list[Word], corridor: Callable[[np.ndarray, np.ndarray, float], bool] | None = None
           ) -> list[list[Word]]:
    """Ordered chains of pieces that follow each other along one line (each piece in one chain).

    A link a -> b is kept when b is a's nearest follower and a is b's nearest predecessor.
    ``corridor(start, end, height)`` says whether the straight gap from start to end lies in a street.
    """
    from scipy.spatial import cKDTree

    n = len(words)
    if n == 0:
        return []
    centres = np.array([w.centre for w in words])
    reach = np.array([w.length / 2 + (MAX_GAP + 1) * w.height for w in words])
    tree = cKDTree(centres)
    nxt: dict[int, tuple[float, int]] = {}
    prv: dict[int, tuple[float, int]] = {}
    for i in range(n):
        for j in tree.query_ball_point(centres[i], r=float(reach[i])):
            if j == i:
                continue
            gap = _follows(words[i], words[j], corridor)
            if gap is None:
                continue
            if i not in nxt or gap < nxt[i][0]:
                nxt[i] = (gap, j)
            if j not in prv or gap < prv[j][0]:
                prv[j] = (gap, i)
    link = {i: j for i, (_, j) in nxt.items() if prv.get(j, (0, -1))[1] == i}
    has_prev = set(link.values())
    out, seen = [], set()
    for i in range(n):
        if i in has_prev or i in seen:
            continue
        chain = [i]
        seen.add(i)
        while chain[-1] in link and link[chain[-1]] not in seen:
            chain.append(link[chain[-1]])
            seen.add(chain[-1])
        out.append([words[k] for k in chain])
    for i in range(n):  # cycles (cannot happen with a consistent direction, but never drop a piece)
        if i not in seen:
            out.append([words[i]])
    return out


def _letters(text: str) -> int:
    return sum(ch.isalpha() for ch in text)


def line_score(words: list[Word], correction: Correction) -> float:
    """Confidence of a name read from ``words``: similarity x recogniser confidence."""
    if correction.name is None:
        return 0.0
    weights = np.array([max(_letters(w.text), 1) for w in words], dtype=float)
    ocr = float(np.average([w.score for w in words], weights=weights))
    typed = 1.0 if correction.typed else 0.68  # measured (stop 9): 91 % of typed names right, 67 % of type-less
    return round(correction.similarity ** 2 * (0.5 + 0.5 * ocr) * typed, 3)


def run_frames(words: list[Word]) -> np.ndarray | None:
    """The recogniser's steps of pieces read one after another (None when a piece has none)."""
    if not words or any(w.frames is None for w in words):
        return None
    from jadis.ocr.spotting import join_frames

    return join_frames([w.frames for w in words])


def split_chain(chain: list[Word], corrector: NameCorrector, context: Mapping[str, float] | None = None,
                cache: dict | None = None) -> list[NamedLine]:
    """The names a chain holds: the best set of runs of consecutive pieces that match known names.

    Pieces not used by any name come back as unnamed lines of one piece each.
    """
    cache = {} if cache is None else cache
    n = len(chain)

    def corrected(a: int, b: int) -> Correction:
        text = " ".join(w.text for w in chain[a:b])
        frames = run_frames(chain[a:b])
        key = (text, id(context) if context else 0, tuple(id(w) for w in chain[a:b]) if frames is not None else ())
        if key not in cache:
            corr = corrector.correct(text, context, frames)
            if b == a + 1 and corr.name is None and not corr.how.startswith(("a street type", "too short")):
                # a piece read again another way (mapread's second look): its best reading that names a street
                for alt_text, _, alt_frames in chain[a].alternatives:
                    alt = corrector.correct(alt_text, context, alt_frames)
                    if alt.name is not None and (corr.name is None or alt.similarity > corr.similarity):
                        corr = alt
            elif b > a + 1 and corr.name is None:
                # the same with one piece of a longer run read again
                for i in range(a, b):
                    for alt_words in _readings([chain[i]])[1:]:
                        words = chain[a:i] + alt_words + chain[i + 1:b]
                        alt = corrector.correct(" ".join(w.text for w in words), context, run_frames(words))
                        if alt.name is not None and (corr.name is None or alt.similarity > corr.similarity):
                            corr = alt
            cache[key] = corr
        return cache[key]

    best = [0.0] * (n + 1)
    choice: list[tuple[int, Correction | None]] = [(0, None)] * (n + 1)
    for b in range(1, n + 1):
        best[b], choice[b] = best[b - 1], (b - 1, None)
        for a in range(max(0, b - MAX_PIECES), b):
            corr = corrected(a, b)
            if corr.name is None:
                continue
            value = best[a] + line_score(chain[a:b], corr) * _letters(" ".join(w.text for w in chain[a:b]))
            if value > best[b] + 1e-9:
                best[b], choice[b] = value, (a, corr)
    out: list[NamedLine] = []
    b = n
    while b > 0:
        a, corr = choice[b]
        if corr is None:
            out.append(NamedLine([chain[a]], corrected(a, b), 0.0))
        else:
            out.append(NamedLine(chain[a:b], corr, line_score(chain[a:b], corr)))
        b = a
    out.reverse()
    return out


def _stacked(upper: tuple, lower: tuple) -> bool:
    """Whether ``lower`` is the next line of text under ``upper`` (a name printed on two lines).
    Each is (centre, direction, length, height)."""
    (cu, d, lu, hu), (cl, dl, ll, hl) = upper, lower
    if float(d @ dl) < math.cos(math.radians(20.0)):
        return False
    h = max(hu, hl)
    if h > 1.6 * min(hu, hl):
        return False
    v = cl - cu
    down = float(v[0] * -d[1] + v[1] * d[0])  # y down: (-dy, dx) points below the reading direction
    along = abs(float(v @ d))
    return 0.5 * h <= down <= 2.6 * h and along <= (lu + ll) / 2


def join_stacked(lines: list[NamedLine], corrector: NameCorrector,
                 context: Mapping[str, float] | None = None) -> list[NamedLine]:
    """Names printed on two lines ("Rue de" over "Gribeauval"): a line and the one under it become
    one name when together they match a known name at least as well as the lower line alone."""
    from scipy.spatial import cKDTree

    if len(lines) < 2:
        return list(lines)
    geo = [(line.centre, line.direction, line.length, line.height) for line in lines]
    centres = np.array([g[0] for g in geo])
    lengths = np.array([g[2] for g in geo])
    heights = np.array([g[3] for g in geo])
    pairs = np.array(sorted(cKDTree(centres).query_pairs(r=float(lengths.max() + 3 * heights.max()))), dtype=int)
    if len(pairs) == 0:
        return list(lines)
    dist = np.linalg.norm(centres[pairs[:, 0]] - centres[pairs[:, 1]], axis=1)
    near = dist <= (lengths[pairs[:, 0]] + lengths[pairs[:, 1]]) / 2 + 3 * np.maximum(heights[pairs[:, 0]],
                                                                                       heights[pairs[:, 1]])
    pairs, dist = pairs[near], dist[near]
    merged_into: dict[int, NamedLine] = {}
    gone: set[int] = set()
    for a, b in pairs[np.argsort(dist, kind="stable")].tolist():
        for i, j in ((a, b), (b, a)):
            if i in gone or j in gone or i in merged_into or j in merged_into:
                continue
            upper, lower = lines[i], lines[j]
            if (upper.name and upper.correction.typed) or not _stacked(geo[i], geo[j]):
                continue
            corr = corrector.correct(f"{upper.text} {lower.text}", context, run_frames(upper.words + lower.words))
            if corr.name is None:
                continue
            merged = NamedLine(upper.words + lower.words, corr, line_score(upper.words + lower.words, corr))
            if merged.score >= max(lower.score, upper.score):
                merged_into[i] = merged
                gone.add(j)
    return [merged_into.get(k, line) for k, line in enumerate(lines) if k not in gone]


def type_only(text: str) -> bool:
    """Whether a reading is a street type alone, with its particles ("Rue", "Rue de la", "Imp.",
    a misread "Ruc"): the start of a name whose other words are printed elsewhere."""
    first = text.split()[0] if text.split() else ""
    if sum(ch.isalpha() for ch in first) < 2 and "." not in first:
        return False  # a lone letter is no type unless written as an abbreviation ("R.")
    from jadis.geocode.normalize import street_name

    parsed = street_name(clean_reading(f"{text} Xq"))
    return parsed.type is not None and parsed.core == "xq"


#: Words that start a name but never name a street alone ("St" … "Honoré", "Neuve" … "Croix").
_PREFIX_WORDS = frozenset({"saint", "sainte", "saints", "neuve", "vieille", "vieux", "grande", "petite", "faubourg"})


def prefix_only(text: str) -> bool:
    """Whether a reading is only the first word of a name ("St", "Ste", "Neuve"), dots aside."""
    from jadis.geocode.normalize import street_name

    plain = text.replace(".", "")
    return sum(ch.isalpha() for ch in plain) >= 2 and street_name(plain).core in _PREFIX_WORDS


def _readings(words: list[Word]) -> list[list[Word]]:
    """The words as read, then (one word alone) as read again by the second look."""
    if len(words) != 1 or not words[0].alternatives:
        return [words]
    w = words[0]
    return [words] + [[replace(w, text=text, score=float(score), frames=frames, alternatives=())]
                      for text, score, frames in w.alternatives]


def _between(origin: np.ndarray, target: np.ndarray, points: np.ndarray, reach: float) -> np.ndarray:
    """Which of ``points`` (n, 2) lie on the way from ``origin`` to ``target``: past the one,
    before the other, within ``reach`` of the straight line between them."""
    way, v = target - origin, np.atleast_2d(points) - origin
    dist = max(float(np.linalg.norm(way)), 1e-9)
    along = v @ way / dist
    across = np.abs(v[:, 0] * way[1] - v[:, 1] * way[0]) / dist
    return (along > 0) & (along < dist) & (across <= reach)


def adopt_types(lines: list[NamedLine], corrector: NameCorrector, context: Mapping[str, float] | None = None,
                corridor: Callable[[np.ndarray, np.ndarray, float], bool] | None = None,
                min_score: float = 0.0) -> list[NamedLine]:
    """Names printed with their street type far from the rest ("Rue" … "Poitiers" along one street):
    a line that gives no type takes a lone type printed behind it on its axis (nearest first) when
    together they read a known name better than the line alone. Unnamed words on the way join the
    name when they improve it; a named line or another type on the way stops it."""
    from jadis.geocode.normalize import street_name

    heads = {k for k, line in enumerate(lines) if not line.name and line.text and type_only(line.text)}
    prefixes = {k for k, line in enumerate(lines) if not line.name and k not in heads and prefix_only(line.text)}
    if not heads and not prefixes:
        return list(lines)
    tails = [k for k, line in enumerate(lines)
             if k not in heads and k not in prefixes and sum(ch.isalpha() for ch in line.text) >= 3
             and (line.name is None or not line.correction.typed)
             and street_name(clean_reading(line.text)).type is None]
    cos_turn = math.cos(math.radians(MAX_ANGLE))
    centres = np.array([line.centre for line in lines])
    directions = np.array([line.direction for line in lines])
    options = []
    for t in tails:
        tail = lines[t]
        d, h = tail.direction, tail.height
        start = tail.centre - d * tail.length / 2
        for k in heads | prefixes:
            head = lines[k]
            if abs(float(head.direction @ d)) < cos_turn:
                continue
            v = start - head.centre
            along = float(v @ d)
            across = abs(float(v[0] * d[1] - v[1] * d[0]))
            if along <= 0 or along > SPREAD_REACH * h:
                continue
            if across > max(MAX_OFFSET * h, along * math.tan(math.radians(SPREAD_ANGLE))):
                continue
            if corridor is not None and along > FREE_GAP * h and not corridor(head.centre, start, h):
                continue
            on_way = [m for m in np.flatnonzero(_between(head.centre, start, centres, SPREAD_WAY * h)
                                                & (np.abs(directions @ d) >= cos_turn)).tolist() if m not in (k, t)]
            if any((lines[m].name and lines[m].score >= min_score) or m in heads for m in on_way):
                continue
            on_way = sorted((m for m in on_way if not lines[m].name),
                            key=lambda m: float((lines[m].centre - head.centre) @ d))
            subsets = ([[m for b, m in enumerate(on_way) if mask >> b & 1] for mask in range(1 << len(on_way))]
                       if len(on_way) <= SPREAD_MIDDLES else [[], on_way])
            best = None
            for middle, tail_words in itertools.product(subsets, _readings(tail.words)):
                words = head.words + [w for m in middle for w in lines[m].words] + tail_words
                corr = corrector.correct(" ".join(w.text for w in words), context, run_frames(words))
                if corr.name is None or (k in heads and not corr.typed):
                    continue
                score = line_score(words, corr)
                value = score * _letters(" ".join(w.text for w in words))
                if score >= tail.score and (k in heads or score > tail.score) and (best is None or value > best[0]):
                    best = (value, middle, NamedLine(words, corr, score))
            if best is not None:
                options.append((k not in heads, along / h, k, t, best[1], best[2]))
    options.sort(key=lambda o: o[:2])  # names with their type first, nearest first
    used: set[int] = set()
    joined: dict[int, NamedLine] = {}
    for _, _, k, t, middle, merged in options:
        if used & {k, t, *middle}:
            continue
        used.update((k, t, *middle))
        joined[t] = merged
    return [joined.get(k, line) for k, line in enumerate(lines) if k not in used or k in joined]


def _type_beside(line: NamedLine, head: NamedLine) -> float | None:
    """How far (letter heights) a lone type ``head`` lies from ``line`` when the lettering puts the
    two together: stacked over or under the line within ``RETYPE_STACK`` heights, or behind its
    start on its axis within ``SPREAD_REACH``; None otherwise (ahead of it, aside, turned)."""
    d, h = line.direction, line.height
    if abs(float(head.direction @ d)) < math.cos(math.radians(MAX_ANGLE)):
        return None
    v = head.centre - (line.centre - d * line.length / 2)
    along = float(v @ d)
    across = abs(float(v[0] * d[1] - v[1] * d[0]))
    if -h <= along <= line.length + h and across <= RETYPE_STACK * h:
        return across / h
    if along < 0 and -along <= SPREAD_REACH * h and across <= max(MAX_OFFSET * h,
                                                                 -along * math.tan(math.radians(SPREAD_ANGLE))):
        return -along / h
    return None


def retype(lines: list[NamedLine], corrector: NameCorrector, context: Mapping[str, float] | None = None,
           corridor: Callable[[np.ndarray, np.ndarray, float], bool] | None = None) -> list[NamedLine]:
    """Names read without their type and given an assumed one ("Vendôme" named *Rue Vendôme*) take
    the lone type printed beside them instead (:func:`_type_beside`: "Place" stacked over
    "Vendôme", "Place" … "Carrousel" across an open place) when the vocabulary has the name with
    that other type and it scores at least as well. Only the type changes, never the name's
    presence: lines refused or unnamed stay so. Nearest type first; each type serves one name."""
    heads = [k for k, line in enumerate(lines) if not line.name and line.text and type_only(line.text)]
    stops = np.array([bool(line.name) or k in heads for k, line in enumerate(lines)])
    centres = np.array([line.centre for line in lines]) if lines else np.zeros((0, 2))
    options = []
    for t, line in enumerate(lines):
        if not heads or not line.name or line.correction.typed:
            continue
        assumed = line.correction.key.split("|", 1)[0]
        start = line.centre - line.direction * line.length / 2
        for k in heads:
            far = _type_beside(line, lines[k])
            if far is None:
                continue
            way = _between(lines[k].centre, start, centres, SPREAD_WAY * line.height) & stops
            way[[k, t]] = False
            if way.any():
                continue  # another name or type printed between them
            if far > RETYPE_OPEN and corridor is not None \
                    and not corridor(lines[k].centre, start, line.height):
                continue  # far behind the name, across a block
            words = lines[k].words + line.words
            corr = corrector.correct(" ".join(w.text for w in words), context, run_frames(words))
            if corr.name is None or not corr.typed or corr.key.split("|", 1)[0] == assumed:
                continue  # no name, or the type assumed already: nothing to mend
            merged = NamedLine(words, corr, line_score(words, corr))
            if merged.score >= line.score:
                options.append((far, k, t, merged))
    options.sort(key=lambda o: o[0])
    out = dict(enumerate(lines))
    used: set[int] = set()
    for _, k, t, merged in options:
        if used & {k, t}:
            continue
        used.update((k, t))
        out[t] = merged
        del out[k]
    return [out[k] for k in sorted(out)]


def _in_capitals(text: str) -> bool:
    """Text printed in capitals (at least four letters, none small)."""
    letters = [ch for ch in text if ch.isalpha()]
    return len(letters) >= 4 and all(ch.isupper() for ch in letters)


def read_names(words: list[Word], corrector: NameCorrector,
               corridor: Callable[[np.ndarray, np.ndarray, float], bool] | None = None,
               min_score: float = 0.0, along: Callable[[list[Word]], bool] | None = None,
               prior: Mapping[str, float] | None = None,
               local: Callable[[np.ndarray], Sequence[str]] | None = None) -> list[NamedLine]:
    """Names written on a map from its read pieces (two passes: names read in full on the map then
    decide the type of the pieces that lack one).

    ``along(words)``: whether words lie along a street; a reading without its street type that does
    not is refused (the name of a building, a church, a district: "Chapelle", "Luxembourg").
    ``prior``: name keys known to be on the mapped place (a georeferenced map inside a gazetteer's
    area) with a small weight: they break ties and settle ambiguous readings from the first pass.
    Last, names given an assumed type take the type printed beside them (:func:`retype`).
    ``local(centre)``: the street names around a pixel of a georeferenced map
    (:class:`jadis.ocr.place.LocalNames`); readings that named nothing are then named among those
    (:func:`name_locally`).
    """
    found = chains(words, corridor)
    cache: dict = {}
    prior = dict(prior or {})
    lines = [line for chain in found for line in split_chain(chain, corrector, prior or None, cache)]
    context: dict[str, float] = dict(prior)
    for line in lines:
        if line.name and line.correction.typed and line.score >= 0.5:
            context[line.correction.key] = context.get(line.correction.key, 0.0) + line.score
    if context:
        lines = [line for chain in found for line in split_chain(chain, corrector, context, {})]
    lines = join_stacked(lines, corrector, context)
    lines = adopt_types(lines, corrector, context, corridor, min_score)
    for line in lines:
        _refuse(line, along, min_score)
    lines = retype(lines, corrector, context, corridor)
    if local is not None:
        lines = name_locally(lines, corrector, local, along)
    return lines


def _refuse(line: NamedLine, along: Callable[[list[Word]], bool] | None, min_score: float) -> None:
    """Unname ``line`` (in place) when its name is not a street's: in capitals without a type, no
    street along a type-less reading, or a confidence under ``min_score``."""
    if line.name is not None and not line.correction.typed and _in_capitals(line.text):
        # map lettering in capitals without a street type names a garden, a palace, a district
        # or the river ("JARDIN DES TUILERIES"), not a street
        line.correction = Correction(line.correction.reading, None, line.correction.similarity,
                                     f"refused: capitals without a street type ({line.name})")
        line.score = 0.0
    if line.name is not None and along is not None and not line.correction.typed and not along(line.words):
        line.correction = Correction(line.correction.reading, None, line.correction.similarity,
                                     f"refused: no street along it ({line.name})")
        line.score = 0.0
    if line.name is not None and line.score < min_score:
        line.correction = Correction(line.correction.reading, None, line.correction.similarity,
                                     f"refused: confidence {line.score:.2f} < {min_score:.2f}")
        line.score = 0.0


def name_locally(lines: list[NamedLine], corrector: NameCorrector, local: Callable[[np.ndarray], Sequence[str]],
                 along: Callable[[list[Word]], bool] | None = None, min_similarity: float | None = None,
                 margin: float | None = None) -> list[NamedLine]:
    """Lines that named nothing (the closest name under the threshold, or two streets about equal)
    named among the streets around them (``local(centre)``, a georeferenced map's gazetteers): with
    ``min_similarity`` and a ``margin`` over the next street there
    (:meth:`~jadis.ocr.correct.NameCorrector.correct_among`). The capitals and street-along
    refusals still hold; the confidence threshold does not (the place is the evidence). Defaults:
    ``LOCAL_MIN_SIMILARITY``, ``LOCAL_MARGIN``."""
    min_similarity = LOCAL_MIN_SIMILARITY if min_similarity is None else min_similarity
    margin = LOCAL_MARGIN if margin is None else margin
    out = []
    for line in lines:
        how = line.correction.how
        if line.name is None and line.text and how.startswith(("closest", "ambiguous")):
            corr = corrector.correct_among(line.text, local(line.centre), min_similarity, margin)
            if corr.name is not None:
                named = NamedLine(line.words, corr, line_score(line.words, corr))
                _refuse(named, along, 0.0)
                if named.name is not None:
                    line = named
        out.append(line)
    return out
