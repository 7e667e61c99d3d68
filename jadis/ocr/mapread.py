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
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from jadis.ocr.assign import HouseNumber, attach_numbers, name_segments, parse_number, street_corridor
from jadis.ocr.correct import NameCorrector
from jadis.ocr.layout import Phrase, boxes_from_labels, phrases
from jadis.ocr.lines import Word, label_frame
from jadis.ocr.names import NamedLine, read_names

#: Default least confidence for a name to be given (calibrated on the development truth set;
#: see benchmarks/RESULTS.md, "Reading the map").
MIN_NAME_SCORE = 0.5
#: Phrases smaller than this (pixels along the text) are not read; taller than this are not text.
MIN_LENGTH = 6.0
#: Each crop is lengthened by this many letter heights at both ends.
END_PAD = 0.35
MAX_HEIGHT = 150.0

ImageReader = Callable[[int, int, int, int], "np.ndarray | None"]


@dataclass
class MapText:
    """Everything read on one sheet (pixel coordinates)."""

    pieces: list[Word] = field(default_factory=list)          #: every phrase read (text and numbers)
    lines: list[NamedLine] = field(default_factory=list)      #: text pieces grouped into names
    numbers: list[HouseNumber] = field(default_factory=list)
    segment_names: dict[int, tuple[str, str, float]] = field(default_factory=dict)  #: street_id -> name

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


def _read_phrase(phrase: Phrase, image_reader: ImageReader, reader) -> list[Word]:  # noqa: ANN001
    """Read one phrase: as one crop, or box by box when its words bend."""
    from jadis.ocr.reader import crop_label

    parts = [(phrase.corners, phrase.ids, phrase.height)] if not phrase.bent else [
        (b.corners, [b.id], min(b.length, b.height) if b.length < 1.5 * b.height else b.height)
        for b in phrase.boxes]
    words = []
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
        reading = reader.read(crop)
        text = reading.text.strip()
        if not any(ch.isalnum() for ch in text):
            continue
        direction = np.array([math.cos(math.radians(theta)), math.sin(math.radians(theta))])
        if reading.flipped:
            direction = -direction
        words.append(Word(int(ids[0]), np.array(centre), direction, length, float(letter), text,
                          float(reading.score), tuple(int(i) for i in ids)))
    return words


def read_map_text(image_reader: ImageReader, labels, streets, reader=None,  # noqa: ANN001
                  corrector: NameCorrector | None = None, *, min_score: float = MIN_NAME_SCORE,
                  progress: bool = True) -> MapText:
    """Read the street names and house numbers of a segmented sheet.

    ``image_reader(x0, y0, w, h)``: RGB pixels of the scan (padding outside it); ``labels`` and
    ``streets``: the segmenter's layers in pixels; ``reader``: a :class:`~jadis.ocr.reader.LabelReader`
    (default: a new one); ``corrector``: known names (default: every gazetteer's).
    """
    if reader is None:
        from jadis.ocr.reader import LabelReader

        reader = LabelReader()
    if corrector is None:
        from jadis.geocode.map_gazetteer import vocabulary

        corrector = NameCorrector(vocabulary())
    found = phrases(boxes_from_labels(labels))
    items = found
    if progress:
        from jadis.progress import track

        items = track(found, "reading labels")
    pieces: list[Word] = []
    for phrase in items:
        pieces.extend(_read_phrase(phrase, image_reader, reader))
    number_pieces = [p for p in pieces if parse_number(p.text) is not None]
    text_pieces = [p for p in pieces if parse_number(p.text) is None and any(ch.isalpha() for ch in p.text)]
    corridor = street_corridor(streets) if len(streets) else None
    lines = read_names(text_pieces, corrector, corridor, min_score=min_score)
    named = [line for line in lines if line.name]
    segment_names = name_segments(streets, named, [line.name for line in named],
                                  scores=[line.score for line in named]) if len(streets) and named else {}
    numbers = attach_numbers(streets, number_pieces) if number_pieces else []
    return MapText(pieces, lines, numbers, segment_names)
