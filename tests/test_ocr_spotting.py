"""CTC name spotting in the recogniser's steps (jadis.ocr.spotting) and its use by the corrector."""

from __future__ import annotations

import numpy as np
import pytest

from jadis.ocr.spotting import (
    BLANK_GROUP,
    GROUPS,
    SEP_GROUP,
    group_of,
    join_frames,
    spelling,
    spot,
    target,
    variants,
)


def frames_for(text: str, confusions: dict[int, tuple[str, float]] | None = None) -> np.ndarray:
    """Steps a CTC recogniser could give for ``text``: blank, letter, blank, ... each step sure of
    its group, except the letters at ``confusions`` (index -> (other letter, its probability))."""
    rows = []
    confusions = confusions or {}

    def step(probs: dict[int, float]) -> np.ndarray:
        p = np.full(len(GROUPS), 1e-4)
        for g, v in probs.items():
            p[g] = v
        return np.log(p / p.sum())

    rows.append(step({BLANK_GROUP: 1.0}))
    for k, ch in enumerate(text):
        g = group_of(ch)
        if k in confusions:
            other, q = confusions[k]
            rows.append(step({group_of(other): q, g: 1.0 - q}))
        else:
            rows.append(step({g: 1.0}))
        rows.append(step({BLANK_GROUP: 1.0}))
    return np.array(rows, np.float16)


def test_groups_merge_case_and_accents() -> None:
    assert group_of("é") == group_of("E") == group_of("e")
    assert group_of("-") == group_of(" ") == SEP_GROUP
    assert group_of("œ") == group_of("o")
    assert group_of("中") is None


def test_the_recogniser_s_own_reading_costs_nothing() -> None:
    f = frames_for("Rue Vaneau")
    cost = spot(f, [target("Vaneau")])[0]
    assert cost == pytest.approx(0.0, abs=0.05)


def test_a_second_choice_costs_less_than_a_wrong_name() -> None:
    # read "Vareau", but the recogniser gave "n" 35 % at the third letter
    f = frames_for("Vareau", {2: ("n", 0.35)})
    right, wrong = spot(f, [target("Vaneau"), target("Vavin")])
    assert -1.0 < right < -0.2
    assert wrong < right - 5


def test_name_boundaries() -> None:
    f = frames_for("Rue Dauphine")
    dauphine, dauphin = spot(f, [target("Dauphine"), target("Dauphin")])
    assert dauphine == pytest.approx(0.0, abs=0.05)
    assert dauphin <= -2.0  # "Dauphin" is inside a word, not a word of its own: a missing boundary


def test_dropped_space_between_words_is_cheap() -> None:
    f = frames_for("RuedeCeinture")
    assert spot(f, [target("Ceinture")])[0] > -2.5
    assert spot(frames_for("SaintsPeres"), [target("Saints-Pères")])[0] > -0.1


def test_pieces_joined_and_too_long_a_name() -> None:
    f = join_frames([frames_for("Rue des"), frames_for("Bernardins")])
    assert spot(f, [target("des Bernardins")])[0] == pytest.approx(0.0, abs=0.05)
    assert spot(frames_for("abc"), [target("abcdefgh")])[0] == -np.inf


def test_spelling_and_variants() -> None:
    assert spelling("Rue de l'Université") == "Université"
    assert spelling("Rue du Pré aux Clercs") == "Pré aux Clercs"
    assert spelling("Boulevard Saint-Germain") == "Saint-Germain"
    assert variants("Saint-Germain") == ["Saint-Germain", "St-Germain"]


def test_corrector_uses_the_steps() -> None:
    from jadis.ocr.correct import NameCorrector

    names = ["Rue Vaneau", "Rue Vavin", "Rue de Varenne", "Rue Perronet", "Rue de Verneuil", "Rue Vernet"]
    corrector = NameCorrector(names)
    # the greedy reading alone is not enough to decide ...
    assert corrector.correct("Verneuit").name is None
    # ... the recogniser's hesitation is
    f = frames_for("Verneuit", {7: ("l", 0.3)})
    got = corrector.correct("Verneuit", frames=f)
    assert got.name == "Rue de Verneuil"
    assert got.how.startswith("spotted")
    # steps that explain no known name change nothing
    assert corrector.correct("Qzxwv", frames=frames_for("Qzxwv")).name is None


def test_the_steps_decide_between_names_the_reading_fits_equally() -> None:
    from jadis.ocr.correct import NameCorrector

    corrector = NameCorrector(["Rue Moreau", "Rue Noreau", "Rue Bourgon", "Rue de Bourgogne"])
    assert corrector.correct("Rue Xoreau").name is None  # "Moreau" or "Noreau"?
    got = corrector.correct("Rue Xoreau", frames=frames_for("Rue Xoreau", {4: ("n", 0.35)}))
    assert got.name == "Rue Noreau"
    assert got.spot > 3 * got.spot_rival
    # two names fit equally (similarity, tie-break, key, how): the far better spelled one wins ...
    close = [(0.85, 1.0, "rue|moreau", "fuzzy"), (0.85, 1.0, "rue|noreau", "fuzzy")]
    assert corrector._decisive_spot(close, {"moreau": 0.1, "noreau": 0.6})[2] == "rue|noreau"
    # ... not one only a little better, nor one spelled badly anyway
    assert corrector._decisive_spot(close, {"moreau": 0.3, "noreau": 0.6}) is None
    assert corrector._decisive_spot(close, {"moreau": 0.01, "noreau": 0.2}) is None
    # a word cut by the crop: its lost letters cannot be spelled by the steps, so no decision
    assert corrector.correct("Bourgo", frames=frames_for("Bourgo")).name is None


def test_initials_read_without_full_stops() -> None:
    from jadis.ocr.correct import NameCorrector, clean_reading

    assert clean_reading("Rue P-L Courier") == "Rue P.-L. Courier"
    assert NameCorrector(["Rue Paul-Louis Courier", "Rue Courier"]).correct("Rue P-L Courier").name == \
        "Rue Paul-Louis Courier"


def test_the_recogniser_groups_only_the_classes_that_count() -> None:
    # the grouped steps come from the ~110 French classes and the blank only: the same as the full product
    from PIL import Image, ImageDraw

    from jadis.ocr.ctc import CtcRecogniser
    from jadis.ocr.spotting import group_matrix, grouped_log_probs

    rec = CtcRecogniser()
    assert 100 <= len(rec.group_rows) < 200 and rec.groups.shape == (len(rec.group_rows), len(GROUPS))
    img = Image.new("RGB", (220, 48), "white")
    ImageDraw.Draw(img).text((8, 12), "Rue du Bac 12", fill="black")
    crop = np.asarray(img)
    (_, _, frames), = rec.read_with_frames([crop])
    full = grouped_log_probs(rec.probabilities([crop])[0], group_matrix(rec.classes, rec.mask))
    assert frames.shape == full.shape and np.array_equal(frames, full)
