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
#: Coarser scales the tiles are also searched at: the detector, trained on documents, misses
#: lettering much larger than theirs (names of quays, boulevards, places).
SCALES = (0.5,)
#: The detector's thresholds (text-pixel probability; mean probability inside a box), lower than
#: PaddleOCR's defaults (0.3, 0.5): map names cross hatching and street lines, which lowers the
#: detector's certainty; a box that is not text reads as nothing the corrector accepts.
PIXEL_THRESH, BOX_THRESH = 0.2, 0.3
#: A box found at a coarser scale is new when at most this share of it lies in boxes already found.
NEW_OVERLAP = 0.5
#: Tiles this uniform (standard deviation of grey) are blank paper: not searched.
BLANK_STD = 4.0


class TextDetector:
    """Word boxes of a sheet (CPU, ``threads`` threads; the model is loaded once)."""

    def __init__(self, threads: int = 1) -> None:
        from jadis.ocr.rapid import rapid_engine

        self.engine = rapid_engine(threads, **{"Det.limit_type": "min", "Det.limit_side_len": 640,
                                               "Det.box_thresh": BOX_THRESH, "Det.thresh": PIXEL_THRESH,
                                               "Det.unclip_ratio": 1.6})

    def _detect(self, rgb: np.ndarray) -> np.ndarray:
        result = self.engine(np.ascontiguousarray(rgb[..., ::-1]), use_det=True, use_cls=False, use_rec=False)
        boxes = getattr(result, "boxes", None)
        if boxes is None or len(boxes) == 0:
            return np.zeros((0, 4, 2))
        return np.asarray(boxes, dtype=float).reshape(-1, 4, 2)

    def detect_tile(self, rgb: np.ndarray) -> np.ndarray:
        """(N, 4, 2) word quadrilaterals in the tile's pixels: found at full resolution, plus those
        found only at the coarser scales (large lettering: names of quays, boulevards, districts)."""
        import cv2

        found = self._detect(rgb)
        for scale in SCALES:
            small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            found = _add_new(found, self._detect(small) / scale)
        return found

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


def _add_new(found: np.ndarray, more: np.ndarray) -> np.ndarray:
    """``found`` plus the quadrilaterals of ``more`` that do not mostly overlap one of them."""
    if len(more) == 0:
        return found
    if len(found) == 0:
        return more
    import shapely

    have = shapely.make_valid(shapely.polygons(found))
    tree = shapely.STRtree(have)
    keep = []
    for quad in more:
        poly = shapely.make_valid(shapely.Polygon(quad))
        if poly.area <= 0:
            continue
        hits = tree.query(poly, predicate="intersects")
        covered = sum(shapely.intersection(poly, have[k]).area for k in hits) / poly.area
        if covered <= NEW_OVERLAP:
            keep.append(quad)
    return np.concatenate([found, np.array(keep).reshape(-1, 4, 2)]) if keep else found
