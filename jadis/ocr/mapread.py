"""Reading a segmented map, in pixels: label boxes -> phrases -> text -> street names and numbers.

:func:`read_map_text` is the whole reading of one sheet, with no georeference needed:

1. the segmenter's label boxes are merged into phrases (:mod:`jadis.ocr.layout`) and each phrase
   is read in one upright crop, both ways up (:mod:`jadis.ocr.reader`);
2. numbers become house numbers on a side of their street (:mod:`jadis.ocr.assign`);
3. the other pieces are chained along their streets and cut into known names
   (:mod:`jadis.ocr.names`, :mod:`jadis.ocr.correct`), refused below ``min_score``;
4. names go to the street segments they are written on.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from jadis.ocr.assign import (
    HouseNumber,
    along_street,
    attach_numbers,
    name_segments,
    parse_number,
    street_corridor,
)
from jadis.ocr.correct import NameCorrector
from jadis.ocr.layout import Box, Phrase, box_from_corners, boxes_from_labels, phrases
from jadis.ocr.lines import Word, label_frame
from jadis.ocr.names import NamedLine, read_names, type_only

#: Default least confidence for a name to be given (calibrated on the development truth set;
#: see benchmarks/RESULTS.md, "Reading the map").
MIN_NAME_SCORE = 0.41
#: Ids of the word boxes the text detector finds start here (below: the segmenter's label ids).
DETECTED_ID = 10_000_000
#: Ids of the house numbers found by the colour of their ink (:mod:`jadis.ocr.inkcolour`).
COLOUR_ID = 20_000_000
#: Look for house numbers printed in red (the Atlas municipal's); a sheet without red ink costs
#: one colour conversion.
COLOUR_NUMBERS = True
#: Phrases smaller than this (pixels along the text) are not read; taller than this are not text.
MIN_LENGTH = 6.0
#: Widths (times the crop's own) a word that named no street is read again at, and the least
#: letters it must have (see :func:`second_look`).
SECOND_LOOK = (1.0, 1.6)
SECOND_LOOK_LETTERS = 4
#: Runs of unnamed pieces read again as one crop (:func:`read_runs`): the largest gap between two
#: pieces and the longest run, in letter heights; the most pieces; the largest bend, in degrees.
RUN_GAP, RUN_LENGTH, RUN_PIECES, RUN_ANGLE = 3.0, 60.0, 12, 8.0
#: How far (letter heights) a run that stops at a street type or particle is read ahead.
RUN_AHEAD = 8.0
#: A lone figure is read the way the nearest number of two or more figures reads (read at least
#: this confidently, at most this many letter heights away; :func:`orient_digits`).
DIGIT_GUIDE_SCORE, DIGIT_REACH = 0.8, 8.0
#: Text within this many degrees of vertical is read both ways up (elsewhere: left to right).
VERTICAL = 25.0
#: Each crop is lengthened by this many letter heights at both ends.
END_PAD = 0.35
MAX_HEIGHT = 150.0

ImageReader = Callable[[int, int, int, int], "np.ndarray | None"]


def ocr_threads() -> int:
    """Threads for the OCR models: the machine's cores, at most 4 (``JADIS_OCR_THREADS`` overrides)."""
    import os

    value = os.environ.get("JADIS_OCR_THREADS")
    if value and value.isdigit() and int(value) > 0:
        return int(value)
    return max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))


@dataclass
class MapText:
    """Everything read on one sheet (pixel coordinates)."""

    pieces: list[Word] = field(default_factory=list)          #: every phrase read (text and numbers)
    lines: list[NamedLine] = field(default_factory=list)      #: text pieces grouped into names
    numbers: list[HouseNumber] = field(default_factory=list)
    segment_names: dict[int, tuple[str, str, float]] = field(default_factory=dict)  #: street_id -> name
    detected: dict[int, np.ndarray] = field(default_factory=dict)  #: word boxes found by the detector (id -> corners)

    @property
    def named_lines(self) -> list[NamedLine]:
        return [line for line in self.lines if line.name]

    def label_texts(self) -> dict[int, str]:
        """label_id -> the text read in the phrase the label was part of."""
        out = {}
        for piece in self.pieces:
            for i in piece.ids or (piece.id,):
                out[int(i)] = piece.text
        return out


def _stretch(corners: np.ndarray, centre: np.ndarray, theta: float, by: float) -> np.ndarray:
    """The rectangle lengthened by ``by`` at both ends along its axis (the segmenter's text boxes
    often stop short of a word's first and last letters)."""
    axis = np.array([math.cos(math.radians(theta)), math.sin(math.radians(theta))])
    along = (corners - centre) @ axis
    return corners + np.sign(along)[:, None] * axis * by


@dataclass
class _Crop:
    """One upright crop to read and where it came from."""

    image: np.ndarray
    ids: tuple[int, ...]
    centre: np.ndarray
    direction: np.ndarray   #: reading direction of the crop as given (its left-to-right)
    length: float
    letter: float
    both_ways: bool         #: near-vertical text: which way up is not known


def _phrase_crops(phrase: Phrase, image_reader: ImageReader) -> list[_Crop]:
    """The crops of one phrase: one, or one per box when its words bend.

    Map lettering reads left to right, or upwards when vertical: a crop is turned that way up, and
    read both ways only when it is within ``VERTICAL`` degrees of vertical.
    """
    from jadis.ocr.reader import crop_label

    parts = [(phrase.corners, phrase.ids, phrase.height)] if not phrase.bent else [
        (b.corners, [b.id], min(b.length, b.height) if b.length < 1.5 * b.height else b.height)
        for b in phrase.boxes]
    out = []
    for corners, ids, letter in parts:
        centre, theta, length, height = label_frame(corners)
        if length < MIN_LENGTH or letter > MAX_HEIGHT:
            continue
        corners = _stretch(np.asarray(corners, dtype=float), np.array(centre), theta, END_PAD * letter)
        pad = int(math.ceil(length / 2 + height))
        x0, y0 = int(math.floor(centre[0])) - pad, int(math.floor(centre[1])) - pad
        window = image_reader(x0, y0, 2 * pad, 2 * pad)
        if window is None or window.size == 0:
            continue
        crop = crop_label(window, np.asarray(corners) - np.array([x0, y0]))
        if crop is None:
            continue
        direction = np.array([math.cos(math.radians(theta)), math.sin(math.radians(theta))])
        if direction[0] < 0:  # the crop reads right to left in the scan: turn it the usual way up
            crop, direction = np.ascontiguousarray(crop[::-1, ::-1]), -direction
        both = abs(direction[0]) < math.sin(math.radians(VERTICAL))
        out.append(_Crop(crop, tuple(int(i) for i in ids), np.array(centre), direction, length, float(letter), both))
    return out


def read_map_text(image_reader: ImageReader, labels, streets, reader=None,
                  corrector: NameCorrector | None = None, *, min_score: float = MIN_NAME_SCORE,
                  size: tuple[int, int] | None = None, detector=None, prior: dict[str, float] | None = None,
                  progress: bool = True, local: Callable[[np.ndarray], Sequence[str]] | None = None) -> MapText:
    """Read the street names and house numbers of a segmented sheet.

    ``image_reader(x0, y0, w, h)``: RGB pixels of the scan (padding outside it); ``labels`` and
    ``streets``: the segmenter's layers in pixels; ``reader``: a :class:`~jadis.ocr.reader.LabelReader`
    (default: a new one); ``corrector``: known names (default: every gazetteer's). With the sheet's
    ``size`` (width, height), words are also found by a text detector (``detector``, default a
    :class:`~jadis.ocr.detect.TextDetector`), which finds whole words where the segmenter's text
    class has only letters; label boxes it covers are then left out. ``prior`` and ``local``: the
    place's names, map-wide and around each line (:func:`names_from_pieces`).
    """
    if reader is None:
        from jadis.ocr.reader import LabelReader

        reader = LabelReader(threads=ocr_threads())
    if corrector is None:
        from jadis.geocode.vocabulary import vocabulary

        corrector = NameCorrector(vocabulary())
    boxes = boxes_from_labels(labels)
    detected: dict[int, np.ndarray] = {}
    if size is not None:
        if detector is None:
            from jadis.ocr.detect import TextDetector

            detector = TextDetector(threads=ocr_threads())
        quads = detector.detect(image_reader, size[0], size[1], progress=progress)
        detected = {DETECTED_ID + k: q for k, q in enumerate(quads)}
        boxes = merge_boxes([box_from_corners(i, q) for i, q in detected.items()], boxes)
    pieces = read_pieces(image_reader, boxes, reader, progress=progress)
    if size is not None and COLOUR_NUMBERS:
        pieces = add_coloured_numbers(pieces, image_reader, size, reader)
    orient_digits(image_reader, pieces, reader)
    text = names_from_pieces(pieces, streets, corrector, min_score=min_score, prior=prior, local=local)
    # both from the first names: the words that named nothing are read again, alone and in runs
    looked = second_look(image_reader, pieces, text.lines, reader)
    joined = read_runs(image_reader, pieces, text.lines, reader, corrector)
    if joined is not None:
        pieces = joined
    if looked or joined is not None:
        text = names_from_pieces(pieces, streets, corrector, min_score=min_score, prior=prior, local=local)
    text.detected = detected
    return text


def add_coloured_numbers(pieces: list[Word], image_reader: ImageReader, size: tuple[int, int],
                         reader) -> list[Word]:
    """``pieces`` plus the house numbers printed in red (:func:`jadis.ocr.inkcolour.coloured_numbers`,
    read by the reader's CTC recogniser with digits only). A piece read on such a number (the
    number read as a number, or as a few letters: "a" for 3) gives way to it."""
    from jadis.ocr.inkcolour import coloured_numbers

    found = coloured_numbers(image_reader, size[0], size[1], getattr(reader, "recognise", None), COLOUR_ID)
    if not found:
        return pieces
    centres = np.array([w.centre for w in found], dtype=float)
    reach = np.array([max(w.length / 2, w.height) for w in found])
    kept = []
    for p in pieces:
        short = parse_number(p.text) is not None or len(p.text.strip()) <= 3
        if short and (np.hypot(*(centres - np.asarray(p.centre, dtype=float)).T) <= reach).any():
            continue
        kept.append(p)
    return kept + found


def _read_batches(read: Callable, crops: list[np.ndarray], **kwargs) -> list:
    """``read`` (a recogniser's ``read_with_frames``) over ``crops`` in batches of 16."""
    return [r for start in range(0, len(crops), 16) for r in read(crops[start:start + 16], **kwargs)]


def orient_digits(image_reader: ImageReader, pieces: list[Word], reader) -> int:
    """Read a lone figure again the way the nearest number of two or more figures reads: a single
    digit's box is about square, so its own axis says nothing about which way is up ("9" read "6",
    "7" read "L"), but house numbers along one street are printed the same way. Guides are read at
    least :data:`DIGIT_GUIDE_SCORE` and lie within :data:`DIGIT_REACH` letter heights; a figure
    already read within 45° of its guide's direction is left as it is. Returns the pieces changed."""
    read = getattr(getattr(reader, "recognise", None), "read_with_frames", None)
    if read is None:
        return 0
    guides = [p for p in pieces if p.score >= DIGIT_GUIDE_SCORE and parse_number(p.text) is not None
              and sum(ch.isdigit() for ch in p.text) >= 2 and p.length >= 1.3 * p.height]
    singles = [p for p in pieces if p.length < 1.3 * p.height and
               (len(p.text.strip()) == 1 or (len(p.text.strip()) == 2 and any(ch.isdigit() for ch in p.text)))]
    if not guides or not singles:
        return 0
    centres = np.array([g.centre for g in guides], dtype=float)
    jobs = []
    for p in singles:
        d = np.hypot(*(centres - np.asarray(p.centre, dtype=float)).T)
        k = int(np.argmin(d))
        if d[k] > DIGIT_REACH * max(p.height, guides[k].height):
            continue
        direction = np.asarray(guides[k].direction, dtype=float)
        if float(direction @ np.asarray(p.direction, dtype=float)) > math.cos(math.radians(45.0)):
            continue  # already read about that way
        side = max(p.length, p.height)
        crop = piece_crop(image_reader, replace(p, direction=direction, length=side, height=side))
        if crop is not None:
            jobs.append((p, direction, crop))
    changed = 0
    for (p, direction, _), (text, score, frames) in zip(jobs, _read_batches(read, [c for _, _, c in jobs]),
                                                        strict=True):
        if text.strip() and parse_number(text) is not None:
            p.text, p.score, p.frames, p.direction = text.strip(), float(score), frames, direction
            changed += 1
    return changed


def piece_crop(image_reader: ImageReader, word: Word) -> np.ndarray | None:
    """The upright crop of a piece read, turned so that it reads left to right."""
    from jadis.ocr.reader import crop_label

    d = np.asarray(word.direction, dtype=float)
    n = np.array([-d[1], d[0]])
    half_l, half_h = word.length / 2 + END_PAD * word.height, word.height / 2
    c = np.asarray(word.centre, dtype=float)
    corners = np.array([c - d * half_l - n * half_h, c + d * half_l - n * half_h,
                        c + d * half_l + n * half_h, c - d * half_l + n * half_h])
    pad = int(math.ceil(half_l + half_h)) + 2
    x0, y0 = int(math.floor(c[0])) - pad, int(math.floor(c[1])) - pad
    window = image_reader(x0, y0, 2 * pad, 2 * pad)
    if window is None or window.size == 0:
        return None
    crop = crop_label(window, corners - np.array([x0, y0]))
    if crop is None:
        return None
    _, theta, _, _ = label_frame(corners)
    if math.cos(math.radians(theta)) * d[0] + math.sin(math.radians(theta)) * d[1] < 0:
        crop = np.ascontiguousarray(crop[::-1, ::-1])
    return crop


def second_look(image_reader: ImageReader, pieces: list[Word], lines: list[NamedLine], reader) -> int:
    """Read again, narrower and wider (:data:`SECOND_LOOK`), the words that named no street: map
    lettering garbled at one width often reads right at another ("Pl. Vatban" / "Pl. Vauban"); and
    by the reader's ``second_opinion`` recogniser when it has one. The readings are kept as the
    pieces' alternatives; returns how many pieces got some."""
    read = getattr(getattr(reader, "recognise", None), "read_with_frames", None)
    if read is None or not SECOND_LOOK:
        return 0
    named = {id(w) for line in lines if line.name for w in line.words}
    todo = [(p, piece_crop(image_reader, p)) for p in pieces
            if id(p) not in named and parse_number(p.text) is None
            and sum(ch.isalpha() for ch in p.text) >= SECOND_LOOK_LETTERS]
    todo = [(p, c) for p, c in todo if c is not None]
    todo.sort(key=lambda pc: pc[1].shape[1] / max(pc[1].shape[0], 1))
    crops = [c for _, c in todo]
    readings = [_read_batches(read, crops, stretch=s) for s in SECOND_LOOK]
    other = getattr(getattr(reader, "second_opinion", None), "read_with_frames", None)
    if other is not None:  # another recogniser's reading, at its own width
        readings.append(_read_batches(other, crops))
    for k, (piece, _) in enumerate(todo):
        piece.alternatives = tuple(r[k] for r in readings if r[k][0].strip() and r[k][0] != piece.text)
    return sum(1 for p, _ in todo if p.alternatives)


def _runs(pieces: list[Word], named: set[int]) -> list[list[Word]]:
    """Runs of two or more unnamed text pieces that follow each other closely on one straight line
    (at most :data:`RUN_GAP` letter heights apart): the words and letters of one letter-spaced name."""
    from jadis.ocr.names import chains

    text = [p for p in pieces if id(p) not in named and parse_number(p.text) is None
            and any(ch.isalpha() for ch in p.text)]
    out = []
    for chain in chains(text):
        run = [chain[0]]
        for a, b in zip(chain, chain[1:], strict=False):
            h = max(a.height, b.height)
            gap = float(np.linalg.norm(b.centre - a.centre)) - (a.length + b.length) / 2
            if gap <= RUN_GAP * h and abs(float(a.direction @ b.direction)) >= math.cos(math.radians(RUN_ANGLE)):
                run.append(b)
                continue
            if len(run) >= 2:
                out.append(run)
            run = [b]
        if len(run) >= 2:
            out.append(run)
    return out


def _run_word(run: list[Word]) -> Word:
    """One piece spanning a run (its box, not yet read)."""
    d = sum(w.direction * max(w.length, 1.0) for w in run)
    d = d / max(float(np.linalg.norm(d)), 1e-9)
    ends = [float((w.centre + s * w.direction * w.length / 2) @ d) for w in run for s in (-1, 1)]
    centre = np.mean([w.centre for w in run], axis=0)
    centre = centre + d * ((min(ends) + max(ends)) / 2 - float(centre @ d))
    height = float(max(w.height for w in run))
    ids = tuple(i for w in run for i in (w.ids or (w.id,)))
    return Word(ids[0], centre, d, max(ends) - min(ends), height, "", 0.0, ids)


def read_runs(image_reader: ImageReader, pieces: list[Word], lines: list[NamedLine], reader,
              corrector: NameCorrector) -> list[Word] | None:
    """Read in one crop each run of unnamed pieces that follow each other closely along a line
    (:func:`_runs`): a letter-spaced name ("R u e  d e  H a r l a y") comes out of the detector
    in letters and fragments that name nothing one by one, but often reads whole. Where the whole
    reading names a street, it replaces the run's pieces; returns the new pieces (None: no change)."""
    read = getattr(getattr(reader, "recognise", None), "read_with_frames", None)
    if read is None:
        return None
    named = {id(w) for line in lines if line.name for w in line.words}
    runs = [r for r in _runs(pieces, named) if len(r) <= RUN_PIECES]
    in_runs = {id(w) for r in runs for w in r}
    runs += [[p] for p in pieces if id(p) not in named and id(p) not in in_runs and type_only(p.text)]
    jobs = []
    for run in runs:
        word = _run_word(run)
        if type_only(" ".join(w.text for w in run)):  # "Rue de" ...: the name is further on
            ext = RUN_AHEAD * word.height
            word = replace(word, centre=word.centre + word.direction * ext / 2, length=word.length + ext)
        if word.length > RUN_LENGTH * word.height:
            continue
        crop = piece_crop(image_reader, word)
        if crop is not None:
            jobs.append((run, word, crop))
    replaced: dict[int, Word] = {}
    for (run, word, _), (reading, score, frames) in zip(jobs, _read_batches(read, [c for _, _, c in jobs]),
                                                        strict=True):
        if not reading.strip() or corrector.correct(reading, None, frames).name is None:
            continue
        joined = replace(word, text=reading.strip(), score=float(score), frames=frames)
        for w in run:
            replaced[id(w)] = joined
    if not replaced:
        return None
    out, added = [], set()
    for p in pieces:
        j = replaced.get(id(p))
        if j is None:
            out.append(p)
        elif id(j) not in added:
            added.add(id(j))
            out.append(j)
    return out


def merge_boxes(detected: list[Box], segmented: list[Box]) -> list[Box]:
    """The detector's word boxes, plus the segmenter's label boxes that no detected word covers."""
    if not detected:
        return segmented
    import shapely

    polys = shapely.polygons([b.corners for b in detected])
    tree = shapely.STRtree(shapely.buffer(polys, 2.0))
    centres = shapely.points([b.centre for b in segmented]) if segmented else []
    covered = set()
    if len(centres):
        hits, _ = tree.query(centres, predicate="within")
        covered = set(hits.tolist())
    return detected + [b for k, b in enumerate(segmented) if k not in covered]


def _read_crops(crops: list[_Crop], reader, progress: bool, what: str) -> list:
    chunks = [crops[k:k + 64] for k in range(0, len(crops), 64)]
    items = chunks
    if progress and chunks:
        from jadis.progress import track

        items = track(chunks, what)
    readings = []
    for chunk in items:
        if hasattr(reader, "read_many"):
            readings.extend(reader.read_many([c.image for c in chunk], [c.both_ways for c in chunk]))
        else:  # any object with read(crop) -> Reading (reads both ways itself)
            readings.extend(reader.read(c.image) for c in chunk)
    return readings


def _numbers_in_a_row(text: str) -> bool:
    """"47 45 43 41": house numbers along a street merged into one phrase."""
    tokens = text.split()
    return len(tokens) >= 2 and sum(t.strip(".,").isdigit() for t in tokens) >= 0.6 * len(tokens)


def read_pieces(image_reader: ImageReader, boxes: list[Box], reader, progress: bool = True) -> list[Word]:
    """Every phrase of the sheet read (the costly part: the recogniser). A phrase that reads as a
    row of numbers (house numbers along a street, each its own label) is read again box by box."""
    found = phrases(boxes)
    crops = [(phrase, c) for phrase in found for c in _phrase_crops(phrase, image_reader)]
    readings = _read_crops([c for _, c in crops], reader, progress, "reading labels")
    kept: list[tuple[_Crop, object]] = []
    again: list[_Crop] = []
    for (phrase, c), reading in zip(crops, readings, strict=True):
        if len(c.ids) > 1 and _numbers_in_a_row(reading.text):
            single = [Phrase([b], b.corners, b.centre, b.axis, b.length, min(b.length, b.height), False)
                      for b in phrase.boxes if b.id in c.ids]
            again.extend(x for p in single for x in _phrase_crops(p, image_reader))
        else:
            kept.append((c, reading))
    if again:
        kept.extend(zip(again, _read_crops(again, reader, False, "reading numbers"), strict=True))
    pieces: list[Word] = []
    for c, reading in kept:
        text = reading.text.strip()
        if not any(ch.isalnum() for ch in text):
            continue
        direction = -c.direction if reading.flipped else c.direction
        pieces.append(Word(c.ids[0], c.centre, direction, c.length, c.letter, text, float(reading.score), c.ids,
                           getattr(reading, "frames", None)))
    return pieces


def names_from_pieces(pieces: list[Word], streets, corrector: NameCorrector,
                      min_score: float = MIN_NAME_SCORE, prior: dict[str, float] | None = None,
                      local: Callable[[np.ndarray], Sequence[str]] | None = None) -> MapText:
    """Street names, their segments and the house numbers, from the pieces read (``prior``: name
    keys known to be on the mapped place; ``local(centre)``: the street names around a pixel of a
    georeferenced map; see :func:`jadis.ocr.names.read_names`)."""
    number_pieces = [p for p in pieces if parse_number(p.text) is not None]
    text_pieces = [p for p in pieces if parse_number(p.text) is None and any(ch.isalpha() for ch in p.text)]
    corridor = street_corridor(streets) if len(streets) else None
    lines = read_names(text_pieces, corrector, corridor, min_score=min_score,
                       along=along_street(streets) if len(streets) else None, prior=prior,
                       local=local)
    named = [line for line in lines if line.name]
    segment_names = name_segments(streets, named, [line.name for line in named],
                                  scores=[line.score for line in named]) if len(streets) and named else {}
    numbers = attach_numbers(streets, number_pieces) if number_pieces else []
    return MapText(pieces, lines, numbers, segment_names)
