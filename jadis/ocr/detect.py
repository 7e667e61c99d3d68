"""Finding words on the scan with a text detector (PP-OCR's DB detector, shipped in the ``rapidocr``
wheel: offline).

The segmenter's text class finds label *areas*, but on real atlases it breaks words into letters
or misses thin italic names altogether (measured on the Atlas municipal 1925 dev sheet: most
spread names have only letter-sized boxes). A detector trained for text finds whole words at any
angle. The sheet is cut into overlapping tiles read at full resolution; a box belongs to the tile
whose core holds its centre, so words on tile borders are found once and whole.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: Tile side and overlap (pixels of the scan): the overlap exceeds a long word.
TILE = 1280
OVERLAP = 320
#: Tiles this uniform (standard deviation of grey) are blank paper: not searched.
BLANK_STD = 4.0


class TextDetector:
    """Word boxes of a sheet (CPU, ``threads`` threads; the model is loaded once)."""

    def __init__(self, threads: int = 1) -> None:
        from jadis.ocr.rapid import rapid_engine

        self.engine = rapid_engine(threads, **{"Det.limit_type": "min", "Det.limit_side_len": 640,
                                               "Det.box_thresh": 0.5, "Det.unclip_ratio": 1.6})

    def detect_tile(self, rgb: np.ndarray) -> np.ndarray:
        """(N, 4, 2) word quadrilaterals in the tile's pixels."""
        result = self.engine(np.ascontiguousarray(rgb[..., ::-1]), use_det=True, use_cls=False, use_rec=False)
        boxes = getattr(result, "boxes", None)
        if boxes is None or len(boxes) == 0:
            return np.zeros((0, 4, 2))
        return np.asarray(boxes, dtype=float).reshape(-1, 4, 2)

    def detect(self, image_reader: Callable[[int, int, int, int], np.ndarray | None], width: int, height: int,
               progress: bool = True) -> list[np.ndarray]:
        """Word boxes (4 corners each, pixels of the scan) of a ``width`` x ``height`` sheet."""
        step = TILE - OVERLAP
        origins = [(x, y) for y in range(0, max(height - OVERLAP, 1), step)
                   for x in range(0, max(width - OVERLAP, 1), step)]
        items = origins
        if progress:
            from jadis.progress import track

            items = track(origins, "finding words")
        out: list[np.ndarray] = []
        for x0, y0 in items:
            w, h = min(TILE, width - x0), min(TILE, height - y0)
            tile = image_reader(x0, y0, w, h)
            if tile is None or float(tile.std()) < BLANK_STD:
                continue
            # the core of a tile: the half of each overlap on its side (the sheet's edge for the last tile)
            cx0 = x0 + (OVERLAP // 2 if x0 > 0 else 0)
            cy0 = y0 + (OVERLAP // 2 if y0 > 0 else 0)
            cx1 = x0 + w - (OVERLAP // 2 if x0 + w < width else 0)
            cy1 = y0 + h - (OVERLAP // 2 if y0 + h < height else 0)
            for quad in self.detect_tile(tile):
                quad = quad + np.array([x0, y0])
                cx, cy = quad.mean(axis=0)
                if cx0 <= cx < cx1 and cy0 <= cy < cy1:
                    out.append(quad)
        return out
