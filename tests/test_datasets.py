"""Deriving street / block / other masks from closed-shape outlines (small synthetic drawings)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from jadis.classes import MapClass
from jadis.errors import JadisError
from jadis.segment.datasets import VAL_GAP, VAL_REGION, DevCrop, region_mask
from jadis.segment.gt import DerivationRule, derive_class_mask

FOUR = ndi.generate_binary_structure(2, 1)


def rect(edges: np.ndarray, y0: int, x0: int, y1: int, x1: int) -> None:
    """Draw the 1-px outline of the rectangle rows y0..y1, columns x0..x1 (inclusive)."""
    edges[y0, x0:x1 + 1] = edges[y1, x0:x1 + 1] = True
    edges[y0:y1 + 1, x0] = edges[y0:y1 + 1, x1] = True


@pytest.fixture()
def drawing() -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """A 240×320 map: a frame, blocks, a building against a block edge, a sidewalk, a river."""
    h, w = 240, 320
    content = np.zeros((h, w), bool)
    content[5:h - 5, 5:w - 5] = True
    edges = np.zeros((h, w), bool)
    rect(edges, 5, 5, h - 6, w - 6)  # the map frame, on the content border
    rect(edges, 5, 20, 80, 90)  # block A, cut by the frame at the top
    rect(edges, 5, 30, 40, 60)  # a building of A sharing A's outline (and the frame)
    rect(edges, 5, 110, 80, 150)  # B1 and B2 share the line x=150: one block
    rect(edges, 5, 150, 80, 200)
    rect(edges, 20, 220, 110, 310)  # block C, with a courtyard drawn inside
    rect(edges, 50, 255, 70, 275)
    rect(edges, 82, 20, 90, 200)  # a sidewalk strip 7 px wide along the street below the blocks
    rect(edges, 172, 5, 178, w - 6)  # the river bank (a strip between street and water)
    rect(edges, 178, 5, h - 6, w - 6)  # the river
    rect(edges, 120, 150, 122, 152)  # a tiny closed shape (a kiosk) in the street
    seeds = [(100, 210)]
    return edges, content, seeds


def test_blocks_streets_water(drawing):
    edges, content, seeds = drawing
    cls = derive_class_mask(edges, content, water_seeds=seeds)
    assert cls.dtype == np.uint8 and cls.shape == edges.shape
    blocks, n = ndi.label(cls == MapClass.BLOCK, structure=FOUR)
    assert n == 3  # A, B1+B2, C
    assert blocks[50, 50] != blocks[50, 130] != blocks[50, 260] != blocks[50, 50]
    assert blocks[50, 130] == blocks[50, 170]  # shapes sharing an outline are one block
    assert cls[25, 45] == MapClass.BLOCK  # the building inside A
    assert cls[50, 265] == MapClass.BLOCK  # C's courtyard
    assert cls[80, 50] == MapClass.BLOCK  # A's own outline belongs to A
    assert cls[50, 100] == MapClass.STREET  # between A and B
    assert cls[100, 100] == MapClass.STREET
    assert cls[86, 100] == MapClass.STREET  # the sidewalk strip is public way
    assert cls[175, 100] == MapClass.STREET  # the river bank too
    assert cls[121, 151] == MapClass.STREET  # the kiosk takes the class around it
    assert cls[210, 100] == MapClass.OTHER  # water
    assert (cls[~content] == MapClass.OTHER).all()


def test_without_water_seed_the_river_is_a_block(drawing):
    edges, content, _ = drawing
    cls = derive_class_mask(edges, content)
    assert cls[210, 100] == MapClass.BLOCK


def test_blocks_touching_the_frame_stay_apart(drawing):
    edges, content, seeds = drawing
    cls = derive_class_mask(edges, content, water_seeds=seeds)
    blocks, _ = ndi.label(cls == MapClass.BLOCK, structure=FOUR)
    top = blocks[5:8]
    assert len(np.unique(top[top > 0])) == 2  # A and B1+B2 both reach the frame, still two blocks


def test_adjacent_blocks_never_touch_4_connected():
    """Two blocks whose outlines run 1 px apart (a 1-px street) stay separate components."""
    edges = np.zeros((100, 140), bool)
    content = np.ones_like(edges)
    rect(edges, 10, 10, 90, 60)
    rect(edges, 10, 62, 90, 120)
    cls = derive_class_mask(edges, content)
    _, n = ndi.label(cls == MapClass.BLOCK, structure=FOUR)
    assert n == 2
    assert (cls[20:80, 61] == MapClass.STREET).all()


def test_thin_and_tiny_shapes_are_not_blocks():
    edges = np.zeros((120, 200), bool)
    content = np.ones_like(edges)
    rect(edges, 10, 10, 100, 100)  # a real block
    rect(edges, 10, 120, 100, 135)  # a 14-px-wide closed shape: too thin for a block
    rect(edges, 50, 160, 58, 168)  # a 7×7 closed shape: too small
    cls = derive_class_mask(edges, content)
    assert cls[50, 50] == MapClass.BLOCK
    assert cls[50, 127] == MapClass.STREET
    assert cls[54, 164] == MapClass.STREET


def test_empty_and_bad_inputs():
    assert not derive_class_mask(np.zeros((10, 10)), np.zeros((10, 10))).any()
    with pytest.raises(JadisError):
        derive_class_mask(np.zeros((10, 10)), np.zeros((10, 11)))
    with pytest.raises(JadisError):
        derive_class_mask(np.zeros((10, 10)), np.ones((10, 10)), water_seeds=[(20, 3)])


def test_validation_region_is_kept_apart():
    shape = (3000, 6000)
    content = np.ones(shape, bool)
    crop = DevCrop(image=np.zeros((*shape, 3), np.uint8), edges=np.zeros(shape, bool), content=content,
                   classes=np.zeros(shape, np.uint8))
    val, train = crop.val_mask(), crop.train_mask()
    assert val.any() and train.any() and not (val & train).any()
    x0 = VAL_REGION[0]
    assert not train[:, x0 - VAL_GAP:].any() and train[:, x0 - VAL_GAP - 1].all()
    assert region_mask(shape, VAL_REGION).sum() == val.sum()


def test_sidewalk_drawn_against_a_block_joins_it():
    """A sidewalk drawn as its own strip against a block: part of the block (the block ends at the kerb),
    or street with ``sidewalks_are_street``; a free-standing island is street either way."""
    edges = np.zeros((140, 220), bool)
    content = np.ones_like(edges)
    rect(edges, 10, 10, 80, 200)  # the block (building line at row 80)
    rect(edges, 80, 10, 88, 200)  # its sidewalk, sharing the building line; kerb at row 88
    rect(edges, 105, 30, 112, 190)  # a boulevard island in the middle of the street
    cls = derive_class_mask(edges, content)
    assert cls[84, 100] == MapClass.BLOCK and cls[50, 100] == MapClass.BLOCK
    _, n = ndi.label(cls == MapClass.BLOCK, structure=FOUR)
    assert n == 1
    assert cls[108, 100] == MapClass.STREET and cls[96, 100] == MapClass.STREET
    cls = derive_class_mask(edges, content, rule=DerivationRule(sidewalks_are_street=True))
    assert cls[84, 100] == MapClass.STREET and cls[50, 100] == MapClass.BLOCK
    assert cls[108, 100] == MapClass.STREET
