"""Reading the bundled real crop (Atlas municipal 1925) against its labels transcribed by eye.

The crop's 17 street-name labels come from the shipped truth set (``data/truth``, CC BY 4.0); the
segmenter, the text detector, the French-masked recogniser and the name correction run as
``jadis segment`` runs them. Minimums are the measured values minus a margin (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import json
import re

import pyogrio
import pytest

from jadis.ocr.evaluate import crop_truth, load_truth, score
from jadis.paths import data_dir
from jadis.segment.predictor import default_checkpoint

SAMPLE = data_dir() / "samples" / "atlas_municipal_1925_crop.png"
TRUTH = [data_dir() / "truth" / "am1925_dev_left.csv", data_dir() / "truth" / "am1925_dev_right.csv"]
#: Measured on the crop: 5 of its 17 street labels found, 5 of 6 named lines right.
MIN_RECALL = 0.2
MIN_PRECISION = 0.6

pytestmark = pytest.mark.skipif(not default_checkpoint().is_file(),
                                reason=f"shipped checkpoint {default_checkpoint().name} not present")


@pytest.fixture(scope="module")
def read_crop(tmp_path_factory):
    from jadis.ocr.layers import name_layers
    from jadis.pipelines.scan import segment_image

    out = tmp_path_factory.mktemp("read")
    result = segment_image(SAMPLE, out, progress=False)
    text = name_layers(result.gpkg_path, SAMPLE, year=1925, progress=False)
    return result.gpkg_path, text


def test_street_names_are_read_on_the_real_crop(read_crop):
    _, text = read_crop
    box = json.loads(SAMPLE.with_suffix(".json").read_text())["box_in_dev_crop"]
    truth = crop_truth(load_truth(TRUTH), box["x0"], box["y0"], box["width"], box["height"])
    assert sum(r["kind"] == "street" for r in truth) == 17
    result = score(truth, text.lines, text.numbers, radius=100.0)
    assert result["recall"] >= MIN_RECALL, result
    assert result["precision"] >= MIN_PRECISION, result
    # the recogniser is decoded within French: no CJK character in anything read
    assert not any(re.search(r"[\u3040-\u30ff\u3400-\u9fff]", p.text) for p in text.pieces)


def test_names_survive_into_the_geopackage(read_crop):
    gpkg, text = read_crop
    streets = pyogrio.read_dataframe(gpkg, layer="streets")
    named = streets[streets["name"].notna()]
    assert len(named) >= 3 and named["name_score"].between(0, 1).all()
    assert set(named["name"]) <= {line.name for line in text.named_lines}
    lines = pyogrio.read_dataframe(gpkg, layer="text_lines")
    assert {"reading", "name", "name_score", "how", "label_ids"} <= set(lines.columns)
    labels = pyogrio.read_dataframe(gpkg, layer="labels")
    assert labels["text"].notna().sum() >= 10 and set(labels["source"]) <= {"segmenter", "detector"}
    assert "house_numbers" in set(pyogrio.list_layers(gpkg)[:, 0])


def test_red_house_numbers_are_read_by_their_colour(read_crop):
    """The crop's house numbers are printed in red: found by colour, 7 of its 16 are read right
    (4 without the colour pass)."""
    from jadis.ocr.mapread import COLOUR_ID

    _, text = read_crop
    assert any(p.id >= COLOUR_ID for p in text.pieces)
    box = json.loads(SAMPLE.with_suffix(".json").read_text())["box_in_dev_crop"]
    truth = crop_truth(load_truth(TRUTH), box["x0"], box["y0"], box["width"], box["height"])
    assert score(truth, text.lines, text.numbers, radius=100.0)["number_recall"] >= 0.35
