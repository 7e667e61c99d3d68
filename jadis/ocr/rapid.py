"""RapidOCR's own recognition pipeline, whole dictionary (Chinese + Latin): the former default reader,
kept for comparison (``LabelReader(recogniser="rapidocr")``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np


def rapid_engine(threads: int = 1, **params: object):  # rapidocr.RapidOCR
    """A quiet RapidOCR engine on ``threads`` CPU threads (``params``: more RapidOCR settings)."""
    from rapidocr import RapidOCR

    logging.getLogger("RapidOCR").setLevel(logging.WARNING)
    return RapidOCR(params={
        "Global.log_level": "warning",
        "EngineConfig.onnxruntime.intra_op_num_threads": threads,
        "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        **params,
    })


class RapidOcrRecogniser:
    """RapidOCR (``rapidocr`` 3.x, PP-OCRv6 small recogniser) on RGB crops, one at a time."""

    def __init__(self, threads: int = 1) -> None:
        self.engine = rapid_engine(threads)

    def _one(self, crop: np.ndarray) -> tuple[str, float]:
        result = self.engine(crop[..., ::-1].copy(), use_det=False, use_cls=False, use_rec=True)  # RGB -> BGR
        texts = getattr(result, "txts", None) or ()
        scores = getattr(result, "scores", None) or ()
        if not texts:
            return "", 0.0
        return str(texts[0]).strip(), float(scores[0])

    def __call__(self, crops_rgb: Sequence[np.ndarray]) -> list[tuple[str, float]]:
        return [self._one(c) for c in crops_rgb]
