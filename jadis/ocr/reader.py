"""Reading the text of map labels with RapidOCR (offline: the ONNX models ship in the wheel).

A label is an oriented rectangle around a word in pixel coordinates of the scan (the segmenter's
``labels`` layer). :func:`crop_label` cuts it out upright (rotated so the text is horizontal,
with a margin); :class:`LabelReader` recognises the crop both ways up and keeps the better
reading, since a label along a street may be written either way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

#: Margin around a label crop, in label heights.
PAD = 0.35
#: Crops are scaled so that the text is about this many pixels high (the recogniser's input is 48).
TARGET_HEIGHT = 40


@dataclass(frozen=True)
class Reading:
    """What the recogniser read in one crop."""

    text: str
    score: float    #: recogniser confidence, 0–1
    flipped: bool   #: True when the text reads upside down relative to the crop


def crop_label(image: np.ndarray, corners: np.ndarray, pad: float = PAD) -> np.ndarray | None:
    """The label's rectangle cut out of ``image`` (H, W, 3) and rotated so its long side is horizontal.

    ``corners``: (4, 2) pixel coordinates (x right, y down). Returns None for degenerate boxes.
    """
    import cv2

    pts = np.asarray(corners, dtype=np.float32)[:4]
    (cx, cy), (w, h), theta = cv2.minAreaRect(pts)
    if h > w:
        w, h, theta = h, w, theta + 90.0
    if w < 2 or h < 2:
        return None
    margin = pad * h
    out_w, out_h = int(round(w + 2 * margin)), int(round(h + 2 * margin))
    scale = min(4.0, max(1.0, TARGET_HEIGHT / max(h, 1.0)))
    rot = cv2.getRotationMatrix2D((cx, cy), theta, scale)
    rot[0, 2] += (out_w * scale) / 2 - cx
    rot[1, 2] += (out_h * scale) / 2 - cy
    size = (max(1, int(out_w * scale)), max(1, int(out_h * scale)))
    return cv2.warpAffine(image, rot, size, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


class LabelReader:
    """RapidOCR text recognition on label crops (loaded once; CPU, one thread by default)."""

    def __init__(self, threads: int = 1) -> None:
        from rapidocr import RapidOCR

        logging.getLogger("RapidOCR").setLevel(logging.WARNING)
        self.engine = RapidOCR(params={
            "Global.log_level": "warning",
            "EngineConfig.onnxruntime.intra_op_num_threads": threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        })

    def _recognise(self, crop: np.ndarray) -> tuple[str, float]:
        result = self.engine(crop[..., ::-1].copy(), use_det=False, use_cls=False, use_rec=True)  # RGB -> BGR
        texts = getattr(result, "txts", None) or ()
        scores = getattr(result, "scores", None) or ()
        if not texts:
            return "", 0.0
        return str(texts[0]).strip(), float(scores[0])

    def read(self, crop: np.ndarray) -> Reading:
        """Read a crop both ways up; the more confident reading wins."""
        up = self._recognise(crop)
        down = self._recognise(np.ascontiguousarray(crop[::-1, ::-1]))
        if down[1] > up[1]:
            return Reading(down[0], down[1], True)
        return Reading(up[0], up[1], False)
