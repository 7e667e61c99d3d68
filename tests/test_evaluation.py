"""Panoptic quality as ICDAR 2021 MapSeg task 1 computes it, on hand-checked cases."""

from __future__ import annotations

import numpy as np
import pytest

from jadis.classes import MapClass
from jadis.segment.evaluation import block_pq, class_iou, instance_labels, panoptic_quality


def _boxes(shape, boxes):
    m = np.zeros(shape, bool)
    for x0, y0, x1, y1 in boxes:
        m[y0:y1, x0:x1] = True
    return m


def test_perfect_prediction():
    t = _boxes((50, 50), [(0, 0, 10, 10), (20, 20, 30, 40)])
    r = panoptic_quality(instance_labels(t)[0], instance_labels(t)[0])
    assert (r.pq, r.sq, r.rq, r.tp, r.n_pred, r.n_true) == (1.0, 1.0, 1.0, 2, 2, 2)


def test_hand_computed_case():
    t = _boxes((40, 60), [(0, 0, 10, 10), (20, 0, 30, 10), (40, 0, 50, 10)])
    # block 1 exact; block 2 shifted by 2 px (IoU 80/120); block 3 missed; one false positive.
    p = _boxes((40, 60), [(0, 0, 10, 10), (22, 0, 32, 10), (0, 20, 5, 25)])
    r = panoptic_quality(instance_labels(t)[0], instance_labels(p)[0])
    assert r.tp == 2 and r.n_true == 3 and r.n_pred == 3
    assert r.sq == pytest.approx((1.0 + 80 / 120) / 2)
    assert r.rq == pytest.approx(2 * 2 / 6)
    assert r.pq == pytest.approx(r.sq * r.rq)


def test_iou_must_exceed_half():
    t = _boxes((20, 40), [(0, 0, 10, 10)])
    p = _boxes((20, 40), [(5, 0, 15, 10)])  # IoU = 50 / 150
    assert panoptic_quality(instance_labels(t)[0], instance_labels(p)[0]).tp == 0


def test_merged_prediction_matches_at_most_one():
    t = _boxes((20, 40), [(0, 0, 10, 10), (11, 0, 14, 10)])  # a big and a thin block
    p = _boxes((20, 40), [(0, 0, 14, 10)])  # predicted as one
    r = panoptic_quality(instance_labels(t)[0], instance_labels(p)[0])
    assert r.tp == 1 and r.sq == pytest.approx(100 / 140)


def test_empty_prediction_scores_zero():
    t = _boxes((20, 20), [(0, 0, 10, 10)])
    r = panoptic_quality(instance_labels(t)[0], np.zeros((20, 20), np.int32))
    assert (r.pq, r.sq, r.rq) == (0.0, 0.0, 0.0)


def test_icdar_unique_iou_quirk():
    """The reference code averages distinct IoU values: two perfect matches and one at 0.8 give
    SQ = (1 + 0.8) / 2 there, (1 + 1 + 0.8) / 3 in the published definition."""
    t = _boxes((30, 80), [(0, 0, 10, 10), (20, 0, 30, 10), (40, 0, 50, 10)])
    p = _boxes((30, 80), [(0, 0, 10, 10), (20, 0, 30, 10), (40, 0, 50, 8)])
    a, b = instance_labels(t)[0], instance_labels(p)[0]
    assert panoptic_quality(a, b).sq == pytest.approx((1 + 1 + 0.8) / 3)
    assert panoptic_quality(a, b, icdar_unique_iou=True).sq == pytest.approx((1 + 0.8) / 2)


def test_block_pq_uses_4_connectivity_and_content_mask():
    t = np.zeros((20, 20), np.uint8)
    t[0:5, 0:5] = MapClass.BLOCK
    t[5:10, 5:10] = MapClass.BLOCK  # diagonal neighbour: a separate block
    p = t.copy()
    p[15:20, 15:20] = MapClass.BLOCK  # outside the content mask: ignored
    content = np.ones((20, 20), bool)
    content[12:, 12:] = False
    r = block_pq(t, p, content)
    assert r.n_true == 2 and r.n_pred == 2 and r.pq == 1.0


def test_class_iou():
    t = np.array([[1, 1, 0, 0]])
    p = np.array([[1, 0, 0, 1]])
    assert class_iou(t, p, 1) == pytest.approx(1 / 3)
    assert np.isnan(class_iou(t, p, 3))
