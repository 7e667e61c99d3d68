"""Reading labels (RapidOCR, offline), grouping words into lines, correcting against known names."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

from jadis.ocr.correct import NameCorrector, clean_reading
from jadis.ocr.lines import label_frame
from jadis.ocr.reader import LabelReader, Reading, crop_label
from jadis.segment.synth.text import get_font


def _rotated_word(text: str, angle: float, size: int = 26) -> tuple[np.ndarray, np.ndarray]:
    """A paper-coloured image with ``text`` rotated by ``angle`` degrees; the text's box corners."""
    font = get_font("serif", size)
    left, top, right, bottom = font.getbbox(text)
    w, h = right - left + 8, bottom - top + 8
    tile = Image.new("L", (w, h), 0)
    ImageDraw.Draw(tile).text((4 - left, 4 - top), text, fill=255, font=font)
    canvas = np.zeros((400, 400), np.uint8)
    canvas[200 - h // 2:200 - h // 2 + h, 200 - w // 2:200 - w // 2 + w] = np.array(tile)
    rot = cv2.getRotationMatrix2D((200, 200), angle, 1.0)
    ink = cv2.warpAffine(canvas, rot, (400, 400))
    image = np.full((400, 400, 3), (236, 228, 196), np.uint8)
    image[ink > 100] = (60, 50, 40)
    ys, xs = np.nonzero(ink > 100)
    corners = cv2.boxPoints(cv2.minAreaRect(np.column_stack([xs, ys]).astype(np.float32)))
    return image, corners


@pytest.fixture(scope="module")
def reader() -> LabelReader:
    return LabelReader()


@pytest.mark.parametrize("angle", [0, 35, -60, 90, 160])
def test_reads_rotated_words(reader, angle):
    image, corners = _rotated_word("Vandrezanne", angle)
    crop = crop_label(image, corners)
    assert crop is not None and crop.shape[1] > crop.shape[0]
    reading = reader.read(crop)
    assert reading.text.replace(" ", "").lower() == "vandrezanne"
    assert reading.score > 0.8


def test_label_frame_and_degenerate_crop():
    centre, theta, length, height = label_frame(np.array([[0, 0], [40, 0], [40, 10], [0, 10]], float))
    assert centre == pytest.approx((20, 5)) and length == pytest.approx(40) and height == pytest.approx(10)
    assert crop_label(np.zeros((10, 10, 3), np.uint8), np.array([[1, 1], [1, 1], [1, 1], [1, 1]], float)) is None


def test_corrector_matches_known_names():
    corrector = NameCorrector(["Rue Bobillot", "Rue Vandrezanne", "Passage Boiton", "Rue de la Butte aux Cailles",
                               "Rue du Moulin des Prés", "Rue Gérard", "Passage"])
    assert corrector.correct("Bobill ot").name == "Rue Bobillot"
    assert corrector.correct("R. Vandrezanne").name == "Rue Vandrezanne"
    assert corrector.correct("Moulin des Pres").name == "Rue du Moulin des Prés"
    assert corrector.correct("Butte aux Caill").name == "Rue de la Butte aux Cailles"
    for junk in ("Rue", "Passage", "12", "地", "e"):
        assert corrector.correct(junk).name is None
    far = corrector.correct("Rue Saint-Honoré")
    assert far.name is None and "closest" in far.how
    assert clean_reading("Rue Gérard 12 |") == "Rue Gérard"


def _is_cjk(ch: str) -> bool:
    import unicodedata

    return unicodedata.name(ch, "").startswith(("CJK", "HIRAGANA", "KATAKANA", "HANGUL"))


@pytest.mark.parametrize("text", ["Rue de l'Université", "Quai Malaquais", "Port St Nicolas"])
def test_reads_french_street_names(reader, text):
    image, corners = _rotated_word(text, 20, size=22)
    reading = reader.read(crop_label(image, corners))
    assert reading.text == text and not reading.flipped
    upside_down = reader.read(crop_label(*_rotated_word(text, 200, size=22)))
    assert upside_down.text == text


def test_french_reader_never_returns_cjk(reader):
    from jadis.ocr.ctc import FRENCH

    rng = np.random.default_rng(0)
    crops = [rng.integers(0, 256, (40, 160, 3), dtype=np.uint8),            # noise
             np.full((40, 120, 3), 235, np.uint8)]                            # blank paper
    image, corners = _rotated_word("宁福 Port", 0)                              # CJK glyphs (tofu in a serif font)
    crops.append(crop_label(image, corners))
    for crop in crops:
        reading = reader.read(crop)
        assert set(reading.text) <= set(FRENCH), reading.text
        assert not any(_is_cjk(ch) for ch in reading.text)


def test_restricted_decoder_masks_non_french_classes():
    from jadis.ocr.ctc import FRENCH, allowed_mask, greedy_decode

    classes = ["<blank>", "宁", "P", "o", "r", "t", "ø", "é", "'", " "]
    mask = allowed_mask(classes, FRENCH)
    assert mask.tolist() == [True, False, True, True, True, True, False, True, True, True]
    assert allowed_mask(classes, None).all()
    probs = np.full((9, len(classes)), 0.01)
    for step, cls in enumerate([1, 1, 0, 3, 4, 4, 0, 4, 6]):   # 宁 宁 _ o r r _ r ø
        probs[step, cls] = 0.9
    probs[0, 2] = probs[1, 2] = 0.05                           # ... where P is the best French class
    probs[8, 3] = 0.05                                          # ... and o the best instead of ø
    text, score = greedy_decode(probs, classes, mask)
    assert text == "Porro"                                      # repeats merged, blanks dropped
    assert 0 < score < 0.9                                      # masked steps lower the confidence
    assert greedy_decode(probs, classes, np.ones(len(classes), bool))[0] == "宁orrø"
    blank = np.zeros((4, len(classes)))
    blank[:, 0] = 1
    assert greedy_decode(blank, classes, mask) == ("", 0.0)


def test_recogniser_choice():
    from jadis.ocr.reader import RECOGNISERS, make_recogniser

    assert "french" in RECOGNISERS and "rapidocr" in RECOGNISERS
    with pytest.raises(ValueError, match="unknown recogniser"):
        make_recogniser("klingon")
    calls = []

    def fake(crops):
        calls.append(len(crops))
        return [("Rue", 0.4), ("Quai", 0.6)]

    reading = LabelReader(recogniser=fake).read(np.zeros((20, 60, 3), np.uint8))
    assert reading == Reading("Quai", 0.6, True) and calls == [2]


def test_former_rapidocr_reader_still_available():
    image, corners = _rotated_word("Vandrezanne", 0)
    reading = LabelReader(recogniser="rapidocr").read(crop_label(image, corners))
    assert reading.text == "Vandrezanne"


def test_coarse_scale_boxes_are_added_only_where_nothing_was_found() -> None:
    import numpy as np

    from jadis.ocr.detect import _add_new

    def quad(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
        return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], float)

    found = np.array([quad(0, 0, 100, 20)])
    more = np.array([quad(5, 2, 95, 18),        # the same word seen again at half scale
                     quad(200, 200, 400, 240),  # a large name only the coarse scale saw
                     quad(80, 0, 140, 20)])     # a third of it overlaps a found word: new
    out = _add_new(found, more)
    assert len(out) == 3
    np.testing.assert_allclose(out[1:], more[1:])
    assert len(_add_new(np.zeros((0, 4, 2)), more)) == 3 and len(_add_new(found, np.zeros((0, 4, 2)))) == 1
