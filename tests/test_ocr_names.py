"""From boxes and readings to street names: phrases, chains along streets, correction, numbers."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
import shapely

from jadis.ocr.assign import attach_numbers, parse_number, street_corridor
from jadis.ocr.correct import NameCorrector, display_form
from jadis.ocr.layout import box_from_corners, phrases
from jadis.ocr.lines import Word
from jadis.ocr.names import chains, read_names


def _corners(cx: float, cy: float, length: float, height: float, angle: float = 0.0) -> np.ndarray:
    a = math.radians(angle)
    u, v = np.array([math.cos(a), math.sin(a)]), np.array([-math.sin(a), math.cos(a)])
    c = np.array([cx, cy])
    return np.array([c - u * length / 2 - v * height / 2, c + u * length / 2 - v * height / 2,
                     c + u * length / 2 + v * height / 2, c - u * length / 2 + v * height / 2])


def _word(i: int, x: float, y: float, text: str, length: float | None = None, height: float = 20.0,
          angle: float = 0.0, score: float = 0.95) -> Word:
    a = math.radians(angle)
    return Word(i, np.array([x, y], float), np.array([math.cos(a), math.sin(a)]),
                length if length is not None else 11.0 * len(text), height, text, score)


def _streets(*lines: list[tuple[float, float]], width: float = 60.0) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"street_id": list(range(len(lines))), "width_px": [width] * len(lines),
                             "node_start": [2 * i for i in range(len(lines))],
                             "node_end": [2 * i + 1 for i in range(len(lines))]},
                            geometry=[shapely.LineString(p) for p in lines])


def test_phrases_merge_word_fragments_and_keep_neighbours_apart():
    boxes = [box_from_corners(1, _corners(100, 100, 50, 20)),      # "Grene"
             box_from_corners(2, _corners(166, 101, 60, 20)),      # "lle" after a letter-sized gap
             box_from_corners(3, _corners(133, 150, 90, 20)),      # the line below: another street
             box_from_corners(4, _corners(400, 100, 60, 20)),      # far along the line: not a word space
             box_from_corners(5, _corners(520, 300, 40, 16, 90)),  # vertical word
             box_from_corners(6, _corners(520, 345, 36, 16, 90))]  # its continuation
    groups = sorted(sorted(p.ids) for p in phrases(boxes))
    assert groups == [[1, 2], [3], [4], [5, 6]]
    merged = next(p for p in phrases(boxes) if sorted(p.ids) == [1, 2])
    assert merged.length == pytest.approx(121, abs=3) and merged.height == pytest.approx(20, abs=1)


def test_phrases_do_not_depend_on_the_order_of_the_boxes():
    # a long box reaches a short one just past its end; each pair is looked at from the box that
    # reaches further, whatever their order
    rng = np.random.default_rng(3)
    boxes = [box_from_corners(1, _corners(300, 100, 400, 20)),    # a long name
             box_from_corners(2, _corners(520, 100, 24, 20)),     # a short word just after it
             box_from_corners(3, _corners(600, 400, 30, 20)),     # elsewhere
             box_from_corners(4, _corners(640, 401, 30, 20)),     # its neighbour
             box_from_corners(5, _corners(100, 100, 20, 20))]    # before the long name, a word space apart
    expected = [[1, 2, 5], [3, 4]]
    for _ in range(5):
        order = [boxes[k] for k in rng.permutation(len(boxes))]
        assert sorted(sorted(p.ids) for p in phrases(order)) == expected


def test_letter_spaced_name_is_chained_along_its_street_and_split_into_two_names():
    corrector = NameCorrector(["Rue des Degrés", "Rue du Bac", "Rue de Grenelle", "Boulevard de Grenelle"])
    street = _streets([(0, 100), (2000, 100)])
    words = [_word(0, 100, 100, "Rue"), _word(1, 260, 101, "des"), _word(2, 420, 99, "RodDegrés", 90),
             # the next name on the same straight line: a new street
             _word(3, 700, 100, "Rue"), _word(4, 800, 100, "du"), _word(5, 900, 100, "Bac")]
    lines = read_names(words, corrector, street_corridor(street))
    named = [(line.name, [w.id for w in line.words]) for line in lines if line.name]
    assert ("Rue des Degrés", [0, 1, 2]) in named and ("Rue du Bac", [3, 4, 5]) in named
    # the same words with a block (no street) between them stay apart
    lines = read_names(words[:3], corrector, street_corridor(_streets([(0, 400), (2000, 400)])))
    assert not any(line.name == "Rue des Degrés" for line in lines)


def test_chains_follow_the_reading_direction():
    words = [_word(0, 300, 100, "Prés", angle=180), _word(1, 400, 100, "Rue", angle=180),
             _word(2, 350, 300, "Gérard", angle=90)]
    found = chains(words)
    assert [[w.text for w in c] for c in found if len(c) > 1] == [["Rue", "Prés"]]


def test_type_less_reading_takes_the_type_the_map_uses():
    corrector = NameCorrector(["Rue de Grenelle", "Boulevard de Grenelle", "Rue du Bac"])
    street = _streets([(0, 100), (3000, 100)], [(0, 800), (3000, 800)])
    alone = read_names([_word(0, 500, 800, "Grenelle")], corrector, street_corridor(street))
    assert alone[0].name == "Rue de Grenelle" and not alone[0].correction.typed
    words = [_word(0, 100, 100, "Boulevard", 100), _word(1, 220, 100, "de"), _word(2, 330, 100, "Grenelle", 90),
             _word(3, 500, 800, "Grenelle", 90)]
    lines = read_names(words, corrector, street_corridor(street))
    assert {line.name for line in lines if line.name} == {"Boulevard de Grenelle"}


def test_correction_refuses_an_ambiguous_fragment_and_writes_names_properly():
    corrector = NameCorrector(["Rue Mariotte", "Rue Mariette", "R DE LA PARCHEMINERIE", "rue de la Parcheminerie"])
    refused = corrector.correct("Rue Mariatte")
    assert refused.name is None and refused.how.startswith("ambiguous")
    decided = corrector.correct("Rue Mariatte", context={"rue|mariette": 1.0})
    assert decided.name == "Rue Mariette"
    assert corrector.correct("R. DE LA PARCHEMINERIE").name == "Rue de la Parcheminerie"
    assert display_form(["R DE LA PARCHEMINERIE"]) == "Rue de la Parcheminerie"
    assert display_form(["BD SAINT-GERMAIN"]) == "Boulevard Saint-Germain"
    assert display_form(["rue Saint Dominique"]) == "Rue Saint-Dominique"
    # initials are kept, so "P.-L. Courier" finds Paul-Louis Courier
    assert NameCorrector(["rue Paul-Louis Courier", "Rue Couprie"]).correct("Rue P.-L. Courier").name \
        == "Rue Paul-Louis Courier"


def test_house_numbers_are_parsed_and_given_a_side_of_their_street():
    assert [parse_number(t) for t in ("12", "12 bis", "3b", "1O", "Rue", "12a4")] == ["12", "12bis", "3bis", "10",
                                                                                       None, None]
    street = _streets([(0, 100), (1000, 100)], width=40)
    numbers = attach_numbers(street, [_word(0, 300, 70, "12", 14, 10), _word(1, 500, 131, "15", 14, 10),
                                      _word(2, 500, 600, "7", 7, 10)])
    assert [(n.number, n.street_id, n.side) for n in numbers] == [("12", 0, "left"), ("15", 0, "right"),
                                                                  ("7", None, None)]


def test_a_name_printed_on_two_lines_is_one_name():
    corrector = NameCorrector(["Rue de Gribeauval", "Place de Gribeauval", "Rue du Bac"])
    lines = read_names([_word(0, 200, 100, "Rue de", 60), _word(1, 210, 130, "Gribeauval", 100),
                        _word(2, 900, 100, "Rue de", 60)], corrector)
    named = [line for line in lines if line.name]
    assert len(named) == 1 and named[0].name == "Rue de Gribeauval" and named[0].correction.typed
    assert sorted(named[0].ids) == [0, 1]


def test_spellings_of_one_street_are_no_ambiguity_but_near_names_of_two_streets_are():
    corrector = NameCorrector(["Rue du Mont-Thabor", "Rue du Montabor", "Rue Dauphine", "Rue du Dauphin",
                               "Quai de la Tournelle", "Rue des Tournelles"])
    assert corrector.correct("Rue du Monthabor").name in {"Rue du Mont-Thabor", "Rue du Montabor"}
    for fragment in ("Dauphi", "Tournell"):  # the start of two different streets' names: refused
        refused = corrector.correct(fragment)
        assert refused.name is None and refused.how.startswith("ambiguous"), refused
    assert corrector.correct("Tournelle").name == "Quai de la Tournelle"  # not "Rue des Tournelles"


def test_a_place_prior_settles_a_fragment_that_fits_two_streets():
    corrector = NameCorrector(["Rue Dauphine", "Rue du Dauphin", "Rue de Nevers"])
    street = _streets([(0, 100), (2000, 100)])
    words = [_word(0, 300, 100, "Dauphi", 66)]
    assert read_names(words, corrector, street_corridor(street))[0].name is None
    lines = read_names(words, corrector, street_corridor(street), prior={"rue|dauphine": 0.3})
    assert lines[0].name == "Rue Dauphine"


def test_place_prior_lists_the_names_of_the_mapped_place():
    from jadis.geocode.vocabulary import place_prior

    # a box in the Faubourg Saint-Antoine (bundled gazetteers) and one far outside Paris
    inside = place_prior(shapely.box(654_500, 6_861_500, 655_500, 6_862_500), 1836)
    assert "rue|faubourg saint antoine" in inside and all(v > 0 for v in inside.values())
    assert place_prior(shapely.box(100_000, 6_000_000, 101_000, 6_001_000), 1836) == {}


def test_a_second_reading_names_a_garbled_word_but_not_a_building_word() -> None:
    corrector = NameCorrector(["Place Vauban", "Route du Fort", "Rue de Grenelle"])
    garbled = _word(0, 100, 100, "Pl. Vatban", 110)
    garbled.alternatives = (("Pl. Vauban", 0.9, None),)
    port = _word(1, 600, 400, "Port", 44)  # a street type alone: its other readings are not tried
    port.alternatives = (("Fort", 0.9, None),)
    lines = read_names([garbled, port], corrector)
    named = {line.ids[0]: line.name for line in lines if line.name}
    assert named == {0: "Place Vauban"}
    # without the second reading, no name
    assert not [line for line in read_names([_word(0, 100, 100, "Pl. Vatban", 110)], corrector) if line.name]


def test_second_look_reads_unnamed_words_again(monkeypatch) -> None:
    from jadis.ocr import mapread

    class Recogniser:
        def __init__(self) -> None:
            self.widths: list[float] = []

        def read_with_frames(self, crops, stretch=None):
            self.widths.append(stretch)
            return [(f"reading x{stretch}", 0.9, np.zeros((4, 38), np.float16)) for _ in crops]

    class Reader:
        recognise = Recogniser()

    image = np.full((400, 400, 3), 255, np.uint8)

    def image_reader(x0: int, y0: int, w: int, h: int) -> np.ndarray:
        out = np.full((h, w, 3), 255, np.uint8)
        xs, ys = max(x0, 0), max(y0, 0)
        xe, ye = min(x0 + w, 400), min(y0 + h, 400)
        if xe > xs and ye > ys:
            out[ys - y0:ye - y0, xs - x0:xe - x0] = image[ys:ye, xs:xe]
        return out

    words = [_word(0, 100, 100, "Vatban", 70), _word(1, 200, 200, "12", 20), _word(2, 300, 100, "Grenelle", 90)]
    corrector = NameCorrector(["Rue de Grenelle"])
    lines = read_names(words, corrector)
    assert mapread.second_look(image_reader, words, lines, Reader()) == 1
    assert Reader.recognise.widths == list(mapread.SECOND_LOOK)
    assert [a[0] for a in words[0].alternatives] == [f"reading x{s}" for s in mapread.SECOND_LOOK]
    assert words[1].alternatives == () and words[2].alternatives == ()  # a number; a word already named


def test_a_street_type_printed_far_along_the_street_is_the_names_type() -> None:
    corrector = NameCorrector(["Place Vendôme", "Rue Vendôme", "Rue du Bac"])
    street = _streets([(0, 100), (3000, 100)])
    # "Place" … 23 letter heights … "Vendôme": too far apart to be chained, but one name
    words = [_word(0, 100, 100, "Place"), _word(1, 620, 100, "Vendôme", 80)]
    alone = read_names(words[1:], corrector, street_corridor(street))
    assert alone[0].name == "Rue Vendôme" and not alone[0].correction.typed
    named = [line for line in read_names(words, corrector, street_corridor(street)) if line.name]
    assert [(line.name, [w.id for w in line.words], line.correction.typed) for line in named] == \
        [("Place Vendôme", [0, 1], True)]
    # another name printed on the way: the type is not its to take
    blocked = words + [_word(2, 330, 100, "Rue du Bac", 100)]
    names = sorted(line.name for line in read_names(blocked, corrector, street_corridor(street)) if line.name)
    assert names == ["Rue Vendôme", "Rue du Bac"]
    # no street between them (a block): apart
    apart = read_names(words, corrector, street_corridor(_streets([(0, 400), (3000, 400)])))
    assert not any(line.name == "Place Vendôme" for line in apart)
    # off the name's axis, or beyond SPREAD_REACH: apart
    aside = [_word(0, 100, 160, "Place"), words[1]]
    assert not any(line.name == "Place Vendôme" for line in read_names(aside, corrector, street_corridor(street)))
    far = [_word(0, 620 - 45 * 20, 100, "Place"), words[1]]
    assert not any(line.name == "Place Vendôme" for line in read_names(far, corrector, street_corridor(street)))


def test_words_on_the_way_and_a_lone_saint_join_a_spread_name() -> None:
    corrector = NameCorrector(["Rue Saint-Nicolas", "Rue Nicolas", "Rue Saint-Lazare", "Rue Lagarde"])
    street = _streets([(0, 100), (3000, 100)], [(0, 600), (3000, 600)])
    # "Rue" … "St" … "Nicolas", each 20+ letter heights apart: the unnamed "St" on the way joins
    words = [_word(0, 100, 100, "Rue", height=16), _word(1, 420, 100, "St", height=16),
             _word(2, 760, 100, "Nicolas", height=16)]
    named = [line for line in read_names(words, corrector, street_corridor(street)) if line.name]
    assert [(line.name, [w.id for w in line.words]) for line in named] == [("Rue Saint-Nicolas", [0, 1, 2])]
    # a lone "St" before a word that names nothing alone
    lazare = [_word(3, 100, 600, "St"), _word(4, 600, 600, "Laxare")]
    assert not any(line.name for line in read_names(lazare[1:], corrector, street_corridor(street)))
    named = [line.name for line in read_names(lazare, corrector, street_corridor(street)) if line.name]
    assert named == ["Rue Saint-Lazare"]


def test_type_and_prefix_readings() -> None:
    from jadis.ocr.names import prefix_only, type_only

    assert all(type_only(t) for t in ["Rue", "Rue de la", "R.", "Imp.", "Ruc", "Placet", "Passage"])
    assert not any(type_only(t) for t in ["R", "S", "Rue de Grenelle", "Grenelle", "de"])
    assert all(prefix_only(t) for t in ["St", "S.t", "Ste", "Sainte", "Neuve"])
    assert not any(prefix_only(t) for t in ["S", "Rue", "Honoré", "St Honoré"])


def test_a_word_read_again_mends_a_longer_run() -> None:
    from jadis.ocr.names import split_chain

    corrector = NameCorrector(["Rue des Poitevins", "Rue de Poitiers", "Rue Pétion"])
    garbled = _word(1, 200, 100, "Pctitcvns", 90)
    chain = [_word(0, 100, 100, "Rue des", 70), garbled]
    assert not any(line.name for line in split_chain(chain, corrector))
    garbled.alternatives = (("Poitevins", 0.9, None),)
    named = [line for line in split_chain(chain, corrector) if line.name]
    assert [(line.name, len(line.words), line.correction.typed) for line in named] == [("Rue des Poitevins", 2, True)]


def test_glued_particles_and_names_that_are_a_type_word() -> None:
    from jadis.ocr.correct import clean_reading

    assert clean_reading("deConti") == "de Conti" and clean_reading("Rue desGa") == "Rue des Ga"
    assert clean_reading("Desaix") == "Desaix" and clean_reading("Dupuytren") == "Dupuytren"
    corrector = NameCorrector(["Quai de Conti", "Rue de l'Arcade", "Rue du Bac"])
    assert corrector.correct("deConti").name == "Quai de Conti"
    assert corrector.correct("Rue l'Arcade").name == "Rue de l'Arcade"
    for reading in ("Rue", "Arcade", "Rue de la"):  # a type alone is still no name
        assert corrector.correct(reading).name is None


def test_a_street_type_read_glued_to_its_name_is_split() -> None:
    from jadis.ocr.correct import clean_reading

    assert clean_reading("RueJacob") == "Rue Jacob"
    assert clean_reading("RueduDragon") == "Rue du Dragon"
    assert clean_reading("Quaides Grands Augustins") == "Quai des Grands Augustins"
    assert clean_reading("PuedeLAbbaye") == "Rue de LAbbaye"  # misread type mended after the split
    assert clean_reading("RMignon") == "R Mignon"
    # names that only begin like a type, and words in capitals, stay whole
    for text in ("Pontoise", "Ruelle", "Courcelles", "PLACE VENDOME", "Rue Desaix", "MacMahon"):
        assert clean_reading(text) == text
    corrector = NameCorrector(["Rue Jacob", "Rue du Dragon", "Rue du Four", "Quai Conti"])
    assert corrector.correct("RueJacob").name == "Rue Jacob"
    assert corrector.correct("RuedFour").name == "Rue du Four"
    assert corrector.correct("QuaiConti").name == "Quai Conti"


def test_runs_of_unnamed_pieces_are_read_again_as_one_line() -> None:
    from jadis.ocr import mapread

    # "Ru" "e d" "e" "Harlay" letter-spaced along one line; a house number and a far word apart
    words = [_word(0, 100, 100, "Ru", 22), _word(1, 150, 100, "e d", 30), _word(2, 195, 100, "e", 11),
             _word(3, 270, 100, "Hxrlq", 60), _word(4, 330, 100, "19", 20), _word(5, 900, 100, "Musée", 55)]
    runs = mapread._runs(words, named=set())
    assert [[w.id for w in r] for r in runs] == [[0, 1, 2, 3]]
    # a piece already named is not taken into a run
    assert mapread._runs(words, named={id(words[2])}) == [[words[0], words[1]]]
    whole = mapread._run_word(runs[0])
    assert whole.length == pytest.approx(300 - 89, abs=1.0) and whole.centre[1] == pytest.approx(100)
    assert whole.ids == (0, 1, 2, 3)

    class Recogniser:
        def read_with_frames(self, crops, stretch=None):
            return [("Rue de Harlay" if c.shape[1] > 6 * c.shape[0] else "Musée", 0.9, None) for c in crops]

    class Reader:
        recognise = Recogniser()

    def image_reader(x0: int, y0: int, w: int, h: int) -> np.ndarray:
        return np.full((h, w, 3), 255, np.uint8)

    corrector = NameCorrector(["Rue de Harlay", "Rue du Bac"])
    lines = read_names(words, corrector)
    assert not any(line.name for line in lines)
    pieces = mapread.read_runs(image_reader, words, lines, Reader(), corrector)
    assert [p.text for p in pieces] == ["Rue de Harlay", "19", "Musée"]
    assert [line.name for line in read_names(pieces, corrector) if line.name] == ["Rue de Harlay"]
    # a lone "Rue de" is read further along its line, where the name the detector missed is printed
    alone = [_word(0, 100, 100, "Rue de", 60)]
    pieces = mapread.read_runs(image_reader, alone, read_names(alone, corrector), Reader(), corrector)
    assert [p.text for p in pieces] == ["Rue de Harlay"] and pieces[0].length > 60 + 7 * 20
    # a lone name that names nothing is not
    assert mapread.read_runs(image_reader, [_word(0, 100, 100, "Hxrlq", 60)], [], Reader(), corrector) is None


def test_capitals_without_a_street_type_name_no_street() -> None:
    corrector = NameCorrector(["Quai des Tuileries", "Quai Malaquais"])
    garden = read_names([_word(0, 100, 100, "DES TUILERIES", 150)], corrector)
    assert garden[0].name is None and "capitals" in garden[0].correction.how
    # with its type printed, a name in capitals is a street; small letters without a type still name one
    assert read_names([_word(0, 100, 100, "QUAI MALAQUAIS", 140)], corrector)[0].name == "Quai Malaquais"
    assert read_names([_word(0, 100, 100, "Malaquais", 90)], corrector)[0].name == "Quai Malaquais"


def test_a_second_opinion_recogniser_adds_its_reading_to_the_second_look() -> None:
    from jadis.ocr import mapread

    class Recogniser:
        def __init__(self, text: str) -> None:
            self.text = text

        def read_with_frames(self, crops, stretch=None):
            return [(f"{self.text} x{stretch}", 0.9, None) for _ in crops]

    class Reader:
        recognise = Recogniser("main")
        second_opinion = Recogniser("other")

    def image_reader(x0: int, y0: int, w: int, h: int) -> np.ndarray:
        return np.full((h, w, 3), 255, np.uint8)

    words = [_word(0, 100, 100, "Vatban", 70)]
    lines = read_names(words, NameCorrector(["Rue de Grenelle"]))
    assert mapread.second_look(image_reader, words, lines, Reader()) == 1
    assert [a[0] for a in words[0].alternatives] == [f"main x{s}" for s in mapread.SECOND_LOOK] + ["other xNone"]


def test_a_recogniser_can_be_named_by_its_onnx_file(tmp_path) -> None:
    from jadis.ocr.reader import make_recogniser

    with pytest.raises(FileNotFoundError, match="no such recogniser model"):
        make_recogniser(str(tmp_path / "missing.onnx"))
    with pytest.raises(ValueError, match="unknown recogniser"):
        make_recogniser("klingon")


def test_a_lone_figure_is_read_the_way_its_neighbour_number_reads() -> None:
    from jadis.ocr import mapread

    seen: list[tuple[int, int]] = []

    class Recogniser:
        def read_with_frames(self, crops, stretch=None):
            seen.extend(c.shape[:2] for c in crops)
            return [("9", 0.95, None) for _ in crops]

    class Reader:
        recognise = Recogniser()

    def image_reader(x0: int, y0: int, w: int, h: int) -> np.ndarray:
        return np.full((h, w, 3), 255, np.uint8)

    guide = _word(0, 100, 100, "33", 30, height=16, angle=90.0)   # read upwards, confidently
    lone = _word(1, 100, 160, "6", 15, height=15, angle=0.0)      # a square box, read left to right
    far = _word(2, 900, 900, "6", 15, height=15, angle=0.0)       # no number near it
    word = _word(3, 130, 100, "e", 15, height=15, angle=0.0)       # a lone character near a number
    along = _word(4, 100, 220, "7", 15, height=15, angle=80.0)    # already read about the guide's way
    pieces = [guide, lone, far, word, along]
    assert mapread.orient_digits(image_reader, pieces, Reader()) == 2
    assert lone.text == "9" and np.allclose(lone.direction, guide.direction)
    assert far.text == "6" and along.text == "7"
    assert word.text == "9"  # read again the number's way; kept because it now reads as a number
    assert len(seen) == 2


def test_a_type_printed_beside_a_name_replaces_the_assumed_type() -> None:
    corrector = NameCorrector(["Place Vendôme", "Rue Vendôme", "Place du Carrousel", "Rue du Carrousel"])
    name = _word(1, 300, 300, "Vendôme", 80)
    alone = read_names([name], corrector)
    assert alone[0].name == "Rue Vendôme" and not alone[0].correction.typed
    # "Place" stacked four letter heights over "Vendôme": too far apart for join_stacked, off its axis
    named = [line for line in read_names([_word(0, 310, 220, "Place"), name], corrector) if line.name]
    assert [(line.name, sorted(line.ids), line.correction.typed) for line in named] == \
        [("Place Vendôme", [0, 1], True)]
    # a type a few letter heights behind the name on its axis, across an open place (no street there)
    block = street_corridor(_streets([(0, 900), (3000, 900)]))
    spread = [_word(2, 300, 600, "Placet"), _word(3, 500, 600, "Carrousel", 100)]
    assert [line.name for line in read_names(spread, corrector, block) if line.name] == ["Place du Carrousel"]
    # further than RETYPE_OPEN heights it must lie along a street
    far = [_word(2, -100, 600, "Placet"), spread[1]]
    assert [line.name for line in read_names(far, corrector, block) if line.name] == ["Rue du Carrousel"]
    along = street_corridor(_streets([(-300, 600), (3000, 600)]))
    assert [line.name for line in read_names(far, corrector, along) if line.name] == ["Place du Carrousel"]
    # the type assumed already, a type ahead of the name, aside or turned: nothing changes
    for head in (_word(0, 310, 220, "Rue"), _word(0, 500, 300, "Place"), _word(0, 300, 100, "Place"),
                 _word(0, 310, 220, "Place", angle=60)):
        lines = read_names([head, name], corrector)
        assert [(line.name, line.ids) for line in lines if line.name] == [("Rue Vendôme", [1])]
    # a name refused (no street along it) stays refused
    refused = read_names([_word(0, 310, 220, "Place"), name], corrector, along=lambda words: False)
    assert not any(line.name for line in refused)


def test_a_garbled_first_word_before_a_particle_is_a_street_type() -> None:
    from jadis.ocr.correct import clean_reading

    assert clean_reading("Viue du font de Lod") == "Rue du font de Lod"  # two edits off "Rue", before "du"
    for text in ("Viue Dauphine", "Bde de Rennes", "Vieux Colombier"):  # no particle after it, or too short
        assert clean_reading(text) == text
    corrector = NameCorrector(["Rue du Pont de Lodi", "Rue de Lodi"])
    assert corrector.correct("Viue du Pont de Lodi").name == "Rue du Pont de Lodi"


def test_a_misread_building_word_names_no_street_without_its_type() -> None:
    corrector = NameCorrector(["Rue des Écoles", "Rue de l'Église", "Rue du Théâtre", "Rue de Grenelle"])
    for reading in ("Lcoles", "Rglise", "Theatref", "Ecoles"):  # building labels, one letter misread or not
        assert corrector.correct(reading).name is None, reading
    assert corrector.correct("Rue des Ecoles").name == "Rue des Écoles"  # with its type: the street
    assert corrector.correct("Grenelle").name == "Rue de Grenelle"


def test_a_reading_of_prefixes_and_lone_letters_is_too_short() -> None:
    corrector = NameCorrector(["Rue du Faubourg du Temple", "Rue Saint-Sabin", "Rue Saint-Guillaume",
                               "Rue de l'Arcade", "Rue Saint-Roch"])
    for reading in ("F T", "Saint S", "St S."):  # abbreviations expand to letters never read
        assert corrector.correct(reading).how == "too short", reading
    assert corrector.correct("S Guillaume").name == "Rue Saint-Guillaume"
    assert corrector.correct("St Roch").name == "Rue Saint-Roch"
    assert corrector.correct("Rue de l'Arcade").name == "Rue de l'Arcade"  # a type word as the name's core


def _local(places: dict[str, list[tuple[float, float]]], radius_m: float = 100.0):
    """A LocalNames lookup over synthetic streets (pixels are metres)."""
    from jadis.ocr.place import LocalNames

    names = list(places)
    return LocalNames(names, [shapely.LineString(places[n]) for n in names], lambda px: np.asarray(px, float),
                      radius_m)


def test_local_names_lists_the_streets_within_the_radius():
    local = _local({"Rue Guisarde": [(0, 150), (500, 150)], "Rue de Seine": [(0, 300), (500, 300)]})
    assert local(np.array([250.0, 100.0])) == ["Rue Guisarde"]
    assert local(np.array([250.0, 220.0])) == ["Rue Guisarde", "Rue de Seine"]
    assert local(np.array([2000.0, 2000.0])) == []


def test_a_garbled_reading_is_named_only_among_the_streets_around_it():
    corrector = NameCorrector(["Rue Guisarde", "Rue de Nevers", "Rue de Seine", "Rue des Ciseaux"])
    street = _streets([(0, 100), (2000, 100)])
    words = [_word(0, 300, 100, "Tte GuisardeGer", 160, score=0.6)]
    assert read_names(words, corrector, street_corridor(street))[0].name is None  # 0.71 < 0.8
    near = _local({"Rue Guisarde": [(0, 120), (2000, 120)], "Rue de Seine": [(0, 180), (2000, 180)]})
    line = read_names(words, corrector, street_corridor(street), local=near)[0]
    assert line.name == "Rue Guisarde" and "near the place" in line.correction.how
    # the same reading far from Rue Guisarde names nothing
    far = _local({"Rue Guisarde": [(0, 2000), (2000, 2000)], "Rue de Seine": [(0, 180), (2000, 180)]})
    assert read_names(words, corrector, street_corridor(street), local=far)[0].name is None


def test_two_streets_around_a_garbled_reading_that_fit_it_alike_name_nothing():
    corrector = NameCorrector(["Rue des Ciseaux", "Rue des Oiseaux", "Rue de Seine"])
    street = _streets([(0, 100), (2000, 100)])
    words = [_word(0, 300, 100, "E des tiseaux", 140, score=0.7)]
    both = _local({"Rue des Ciseaux": [(0, 120), (2000, 120)], "Rue des Oiseaux": [(0, 60), (2000, 60)]})
    assert read_names(words, corrector, street_corridor(street), local=both)[0].name is None
    one = _local({"Rue des Ciseaux": [(0, 120), (2000, 120)], "Rue des Oiseaux": [(0, 900), (2000, 900)]})
    assert read_names(words, corrector, street_corridor(street), local=one)[0].name == "Rue des Ciseaux"


def test_local_names_reads_the_registered_gazetteers_around_the_map():
    from jadis.ocr.place import local_names

    box = shapely.box(654_500, 6_861_500, 655_500, 6_862_500)  # Faubourg Saint-Antoine (bundled gazetteers)
    local = local_names(lambda px: np.asarray(px, float), box, 1836)
    assert local is not None and len(local)
    on_street = shapely.get_coordinates(local.tree.geometries[0])[0]
    assert str(local.names[0]) in local(on_street)
    assert local_names(lambda px: np.asarray(px, float), shapely.box(100_000, 6_000_000, 101_000, 6_001_000),
                       1836) is None


def test_a_short_fragment_is_not_named_among_the_streets_around_it():
    # "Roch" of a spread "Église St Roch" fits the street, the church and the passage alike
    corrector = NameCorrector(["Rue Saint-Roch", "Rue de Rohan"])
    street = _streets([(0, 100), (2000, 100)])
    near = _local({"Rue Saint-Roch": [(0, 120), (2000, 120)]})
    assert read_names([_word(0, 300, 100, "Roch", 44)], corrector, street_corridor(street), local=near)[0].name is None
