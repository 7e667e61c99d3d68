"""Segmentation scores: per-class IoU and the COCO panoptic quality of building blocks.

:func:`panoptic_quality` follows the ICDAR 2021 MapSeg task 1 evaluation (``icdar21-mapseg-eval``,
``COCO`` in ``coco.py``/``iou.py``, MIT) step by step:

* instances are the 4-connected components of the block mask (label 0 = not a block);
* for every instance, its best-overlapping instance on the other side and their IoU
  (intersection over union of the two whole components, pixels outside any instance included);
* a match is a pair with IoU > 0.5 (such matches are necessarily one-to-one);
* SQ = mean IoU of the matches, RQ = F-score = 2·TP / (|pred| + |true|), PQ = SQ × RQ;
* with no prediction at all the scores are 0.

One deviation of the reference code from the published COCO definition: it averages the *distinct*
IoU values of the matches (``np.unique``), so two matches with exactly the same IoU (typically
perfect matches, IoU = 1) count once in SQ. ``icdar_unique_iou=True`` reproduces that quirk
bit for bit; the default is the published definition. The two differ only when IoUs tie.

:func:`block_pq` restricts both sides to the map-content mask first, as the task does.
``tests/test_evaluation.py`` checks this against hand-computed cases.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from jadis.classes import MapClass


@dataclass(frozen=True)
class PanopticQuality:
    pq: float
    sq: float
    rq: float
    tp: int  #: matched instances
    n_pred: int
    n_true: int

    def as_dict(self) -> dict:
        return asdict(self)


def instance_labels(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """4-connected components of a boolean mask: (int32 labels, 0 = background; count)."""
    n, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=4, ltype=cv2.CV_32S)
    return labels, n - 1


def panoptic_quality(true_labels: np.ndarray, pred_labels: np.ndarray, threshold: float = 0.5, *,
                     icdar_unique_iou: bool = False) -> PanopticQuality:
    """COCO PQ / SQ / RQ between two instance label images (0 = no instance)."""
    if true_labels.shape != pred_labels.shape:
        raise ValueError(f"shape mismatch {true_labels.shape} vs {pred_labels.shape}")
    t = true_labels.astype(np.int64).ravel()
    p = pred_labels.astype(np.int64).ravel()
    nt, npred = int(t.max(initial=0)) + 1, int(p.max(initial=0)) + 1
    # Sparse intersection table: only the (true, pred) pairs that actually overlap.
    pair, counts = np.unique(t * npred + p, return_counts=True)
    ti, pi = pair // npred, pair % npred
    area_t = np.bincount(t, minlength=nt)
    area_p = np.bincount(p, minlength=npred)
    n_true = int(np.count_nonzero(area_t[1:]))
    n_pred = int(np.count_nonzero(area_p[1:]))
    if n_pred == 0:
        return PanopticQuality(0.0, 0.0, 0.0, 0, 0, n_true)
    keep = (ti > 0) & (pi > 0)
    ti, pi, inter = ti[keep], pi[keep], counts[keep]
    iou = inter / (area_t[ti] + area_p[pi] - inter)
    matched = iou > threshold
    tp = int(np.count_nonzero(matched))
    matched_iou = np.unique(iou[matched]) if icdar_unique_iou else iou[matched]
    sq = float(matched_iou.mean()) if tp else 0.0
    rq = 2 * tp / (n_pred + n_true) if (n_pred + n_true) else 0.0
    return PanopticQuality(pq=sq * rq, sq=sq, rq=rq, tp=tp, n_pred=n_pred, n_true=n_true)


def block_pq(true_classes: np.ndarray, pred_classes: np.ndarray, valid: np.ndarray | None = None, *,
             icdar_unique_iou: bool = False) -> PanopticQuality:
    """Block PQ: 4-connected components of class 2 inside ``valid`` (the content mask) on both sides."""
    t = true_classes == MapClass.BLOCK
    p = pred_classes == MapClass.BLOCK
    if valid is not None:
        t, p = t & valid, p & valid
    return panoptic_quality(instance_labels(t)[0], instance_labels(p)[0], icdar_unique_iou=icdar_unique_iou)


def class_iou(true_classes: np.ndarray, pred_classes: np.ndarray, cls: int, valid: np.ndarray | None = None) -> float:
    """Intersection over union of one class inside ``valid``; NaN when the class is absent on both sides."""
    t = true_classes == cls
    p = pred_classes == cls
    if valid is not None:
        t, p = t & valid, p & valid
    union = np.count_nonzero(t | p)
    return float(np.count_nonzero(t & p) / union) if union else float("nan")
