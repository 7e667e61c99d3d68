"""Cleaning predicted class rasters: block specks, pin-holes, sheet edges, chunked streaming."""

from __future__ import annotations

import numpy as np
from _segfixtures import local_predictor, map_image

from jadis.classes import MapClass
from jadis.segment.infer import predict_array
from jadis.segment.postprocess import clean_classes

S, B, OTH, T = MapClass.STREET, MapClass.BLOCK, MapClass.OTHER, MapClass.TEXT


def test_block_specks_take_the_class_around_them():
    c = np.full((100, 100), S, np.uint8)
    c[10:60, 10:60] = B  # a real block (2500 px)
    c[70:75, 70:75] = B  # a speck on the street
    c[80:84, 5:9] = B  # a speck in the river
    c[78:90, 0:20][c[78:90, 0:20] == S] = OTH
    out = clean_classes(c)
    assert (out[10:60, 10:60] == B).all()
    assert (out[70:75, 70:75] == S).all()
    assert (out[80:84, 5:9] == OTH).all()


def test_text_is_never_changed_and_big_blocks_stay():
    c = np.full((60, 60), S, np.uint8)
    c[5:10, 5:10] = T
    c[20:50, 20:50] = B
    out = clean_classes(c, min_block_area=100)
    assert (out[5:10, 5:10] == T).all() and (out[20:50, 20:50] == B).all()


def test_open_edges_keep_regions_that_may_continue():
    c = np.full((50, 50), S, np.uint8)
    c[0:5, 20:25] = B  # touches the top edge
    assert (clean_classes(c)[0:5, 20:25] == S).all()  # the sheet's own edge: cleaned
    assert (clean_classes(c, open_edges=(True, False, False, False))[0:5, 20:25] == B).all()


def test_pin_holes_optional():
    c = np.full((60, 60), B, np.uint8)
    c[20:23, 20:23] = S
    assert (clean_classes(c)[20:23, 20:23] == S).all()
    assert (clean_classes(c, max_hole_area=50)[20:23, 20:23] == B).all()


def test_streamed_cleaning_equals_cleaning_the_whole_raster():
    """Cleaning in row chunks with context (as jadis segment writes) = cleaning everything at once."""
    image = np.concatenate([map_image(900, 260, seed=s) for s in range(4)], axis=0)  # 3600 rows
    p = local_predictor()
    raw = predict_array(image, p, tile=512, overlap=64, clean=False)
    streamed = predict_array(image, p, tile=512, overlap=64, clean=True)
    assert not np.array_equal(raw, streamed)  # there was something to clean
    assert np.array_equal(streamed, clean_classes(raw))


def test_a_one_pixel_street_keeps_its_two_blocks_apart_down_to_the_blocks_layer():
    """Issue 10: a narrow street must stay open through the clean-up and the vectorization (a closed
    one merges two blocks: one predicted instance for two true ones in the block PQ)."""
    from jadis.vectorize.layers import vectorize_array

    c = np.full((120, 200), S, np.uint8)
    c[10:110, 10:99] = B
    c[10:110, 100:190] = B  # column 99: a street one pixel wide
    c[50:56, 90:110] = T  # a label printed across the lane
    out = clean_classes(c)
    assert (out[10:50, 99] == S).all() and (out[56:110, 99] == S).all()
    blocks = vectorize_array(out)["blocks"]
    assert len(blocks) == 2
    assert all(abs(g.area - 89 * 100) < 0.1 * 89 * 100 for g in blocks.geometry)
