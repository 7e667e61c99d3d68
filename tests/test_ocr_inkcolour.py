"""House numbers found by the colour of their ink (jadis.ocr.inkcolour)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from jadis.ocr.inkcolour import coloured_numbers, ink_mask, number_boxes
from jadis.segment.synth.text import get_font

PAPER = (236, 228, 196)
RED = (200, 40, 30)
BLACK = (40, 35, 30)


def _sheet(numbers: list[tuple[str, tuple[int, int]]], size: int = 28) -> np.ndarray:
    """Paper with black linework, an ochre wash, and ``numbers`` printed in red at (x, y)."""
    img = Image.new("RGB", (600, 300), PAPER)
    draw = ImageDraw.Draw(img)
    draw.rectangle((400, 20, 590, 120), fill=(215, 170, 90))  # a hand-coloured wash: not red ink
    for x in range(0, 600, 37):
        draw.line((x, 0, x + 80, 300), fill=BLACK, width=2)  # hatching over everything
    font = get_font("serif", size)
    for text, (x, y) in numbers:
        draw.text((x, y), text, fill=RED, font=font)
    draw.text((420, 200), "Rue", fill=BLACK, font=font)  # black lettering is not ink of the hue
    return np.asarray(img)


def _reader(image: np.ndarray):
    h, w = image.shape[:2]

    def read(x0: int, y0: int, ww: int, hh: int) -> np.ndarray:
        out = np.full((hh, ww, 3), 255, np.uint8)
        xa, ya, xb, yb = max(0, x0), max(0, y0), min(w, x0 + ww), min(h, y0 + hh)
        if xa < xb and ya < yb:
            out[ya - y0:yb - y0, xa - x0:xb - x0] = image[ya:yb, xa:xb]
        return out

    return read


def test_ink_mask_keeps_the_red_ink_only():
    sheet = _sheet([("12", (60, 60))])
    mask = ink_mask(sheet)
    assert mask[:, :300].sum() > 50  # the red digits
    assert not mask[:, 400:].any()  # neither the ochre wash nor the black word nor the hatching


def test_digits_of_a_number_are_grouped_and_neighbouring_numbers_are_not():
    sheet = _sheet([("12", (60, 60)), ("7", (120, 60)), ("38", (60, 180))])
    boxes = sorted(number_boxes(ink_mask(sheet)), key=lambda b: (round(b.centre[1], -2), b.centre[0]))
    assert len(boxes) == 3
    assert boxes[0].centre[0] < boxes[1].centre[0]
    assert boxes[0].length > boxes[1].length  # "12" is wider than "7"
    assert number_boxes(np.zeros((50, 50), bool)) == []


def test_coloured_numbers_are_read_as_digits():
    from jadis.ocr.ctc import CtcRecogniser

    numbers = [("12", (60, 60)), ("7", (150, 60)), ("38", (60, 180))]
    sheet = _sheet(numbers)
    words = coloured_numbers(_reader(sheet), sheet.shape[1], sheet.shape[0], CtcRecogniser(), first_id=1000)
    assert sorted(w.text for w in words) == sorted(t for t, _ in numbers)
    assert all(w.id >= 1000 and w.score >= 0.5 for w in words)
    # a recogniser that cannot decode digits alone gives nothing rather than guesses
    assert coloured_numbers(_reader(sheet), sheet.shape[1], sheet.shape[0], object(), first_id=1) == []


def test_pieces_read_on_a_red_number_give_way_to_it():
    from types import SimpleNamespace

    from jadis.ocr.ctc import CtcRecogniser
    from jadis.ocr.lines import Word
    from jadis.ocr.mapread import COLOUR_ID, add_coloured_numbers

    sheet = _sheet([("12", (60, 60))])
    d = np.array([1.0, 0.0])
    misread = Word(1, np.array([72.0, 75.0]), d, 25.0, 20.0, "a2", 0.4)  # the same digits, garbled
    street = Word(2, np.array([80.0, 100.0]), d, 120.0, 20.0, "Rue de Seine", 0.9)  # a name nearby stays
    far = Word(3, np.array([500.0, 250.0]), d, 20.0, 20.0, "7", 0.9)  # another number elsewhere stays
    reader = SimpleNamespace(recognise=CtcRecogniser())
    out = add_coloured_numbers([misread, street, far], _reader(sheet), (sheet.shape[1], sheet.shape[0]), reader)
    assert [w.id for w in out[:2]] == [2, 3]
    assert len(out) == 3 and out[2].text == "12" and out[2].id >= COLOUR_ID
