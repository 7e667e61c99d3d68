"""A class raster -> the GeoPackage layers ``blocks``, ``streets``, ``street_nodes``, ``labels``.

The raster is read in windows of ``window`` px with a ``halo`` around each (memory is bounded by
the window size, not the sheet). Coordinates are pixels (x right, y down, origin at the top-left
corner of the sheet) or, when the raster is georeferenced (a CRS and an affine transform), world
coordinates in its CRS.

Layers (all geometry valid):

* ``blocks``: Polygon, ``block_id``, ``area`` (CRS units², or px²).
* ``streets``: LineString centre-lines, ``street_id``, ``node_start``, ``node_end`` (ids in
  ``street_nodes``), ``length`` (CRS units or px), ``width_px`` (mean street width).
* ``street_nodes``: Point, ``node_id``, ``degree`` (1 dead end, ≥ 3 junction).
* ``labels``: Polygon (oriented rectangle), ``label_id``, ``angle`` (degrees, see
  :mod:`jadis.vectorize.labels`), ``length_px``, ``height_px``, ``pixels``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

import geopandas as gpd
import numpy as np
import shapely
from affine import Affine

from jadis.vectorize.blocks import BlockPieces, block_mask, finish_blocks
from jadis.vectorize.cleanup import absorb_text
from jadis.vectorize.labels import LabelPieces, reading_angle
from jadis.vectorize.streets import STREET_SCALE, StreetPieces, build_graph, street_mask

WINDOW = 4096
HALO = 256

LAYERS = ("blocks", "streets", "street_nodes", "labels")

ReadFn = Callable[[int, int, int, int], np.ndarray]  # (x0, y0, w, h) -> (h, w) uint8 classes


def vectorize_array(classes: np.ndarray, *, transform: Affine | None = None, crs=None,
                    window: int = WINDOW, halo: int = HALO,
                    street_scale: float = STREET_SCALE) -> dict[str, gpd.GeoDataFrame]:
    """Vectorize an in-memory class raster (H, W) uint8."""
    h, w = classes.shape

    def read(x0: int, y0: int, ww: int, hh: int) -> np.ndarray:
        return classes[y0:y0 + hh, x0:x0 + ww]

    return vectorize_windows(read, w, h, transform=transform, crs=crs, window=window, halo=halo,
                             street_scale=street_scale, progress=False)


def vectorize_class_raster(path: str | os.PathLike[str], *, window: int = WINDOW, halo: int = HALO,
                           street_scale: float = STREET_SCALE, progress: bool = True) -> dict[str, gpd.GeoDataFrame]:
    """Vectorize a class GeoTIFF, reading it by windows."""
    import warnings

    import rasterio
    from rasterio.windows import Window

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(path) as ds:
            georef = ds.crs is not None and not ds.transform.is_identity

            def read(x0: int, y0: int, ww: int, hh: int) -> np.ndarray:
                return ds.read(1, window=Window(x0, y0, ww, hh))

            return vectorize_windows(read, ds.width, ds.height, transform=ds.transform if georef else None,
                                     crs=ds.crs if georef else None, window=window, halo=halo,
                                     street_scale=street_scale, progress=progress)


def _grid(window: int, halo: int, street_scale: float) -> tuple[int, int]:
    """Window and halo sizes rounded so that the thinning grids of all windows line up."""
    if street_scale not in (1.0, 0.5, 0.25):
        raise ValueError("street_scale must be 1, 0.5 or 0.25")
    step = round(1 / street_scale)
    return max(64, window - window % step), max(0, halo - halo % step)


Pieces = tuple[BlockPieces, StreetPieces, LabelPieces]


def window_pieces(raw: np.ndarray, ex0: int, ey0: int, core: tuple[int, int, int, int], width: int, height: int,
                  street_scale: float = STREET_SCALE) -> Pieces:
    """Blocks, street lines and labels of one window: ``raw`` is the class raster over the window
    with its halo, whose top-left pixel is (ex0, ey0); ``core`` = (x0, y0, x1, y1) the part it owns."""
    x0, y0, x1, y1 = core
    b, s, lab = BlockPieces(), StreetPieces(), LabelPieces()
    resolved = absorb_text(raw)
    b.add_window(block_mask(resolved[y0 - ey0:y1 - ey0, x0 - ex0:x1 - ex0]), x0, y0, width, height)
    s.add_window(street_mask(resolved), ex0, ey0, core, scale=street_scale)
    lab.add_window(raw, ex0, ey0, core)
    return b, s, lab


def join_windows(results: Iterable[Pieces], transform: Affine | None = None,
                 crs=None) -> dict[str, gpd.GeoDataFrame]:
    """Join the windows' pieces (in window order) into the final layers."""
    blocks, streets, labels = BlockPieces(), StreetPieces(), LabelPieces()
    for b, s, lab in results:
        blocks.final += b.final
        blocks.cut += b.cut
        streets.lines += s.lines
        streets.half_widths += s.half_widths
        streets.node_half_width.update(s.node_half_width)
        labels.boxes += lab.boxes
    return _layers(blocks, streets, labels, transform, crs)


def vectorize_windows(read: ReadFn, width: int, height: int, *, transform: Affine | None = None,
                      crs=None, window: int = WINDOW, halo: int = HALO,
                      street_scale: float = STREET_SCALE, progress: bool = True,
                      threads: int | None = None) -> dict[str, gpd.GeoDataFrame]:
    """Vectorize a ``width`` × ``height`` class raster read through ``read``, window by window
    (``threads`` windows at a time; default: one per CPU core, at most 4)."""
    from jadis.progress import track

    window, halo = _grid(window, halo, street_scale)
    cores = [(x0, y0, min(width, x0 + window), min(height, y0 + window))
             for y0 in range(0, height, window) for x0 in range(0, width, window)]
    lock = threading.Lock()

    def one(core: tuple[int, int, int, int]) -> Pieces:
        x0, y0, x1, y1 = core
        ex0, ey0 = max(0, x0 - halo), max(0, y0 - halo)
        ex1, ey1 = min(width, x1 + halo), min(height, y1 + halo)
        with lock:  # a rasterio dataset is not thread-safe
            raw = np.asarray(read(ex0, ey0, ex1 - ex0, ey1 - ey0))
        return window_pieces(raw, ex0, ey0, core, width, height, street_scale)

    workers = max(1, min(threads or os.cpu_count() or 1, len(cores), 4))
    with ThreadPoolExecutor(max_workers=workers) as pool:  # much of the work runs in C without the GIL
        results = pool.map(one, cores)  # in window order: the output does not depend on the threads
        if progress and len(cores) > 1:
            results = track(results, "vectorize", total=len(cores))
        return join_windows(list(results), transform, crs)


class StreamVectorizer:
    """Vectorize a class raster while it is being produced, top to bottom, in full-width rows.

    ``add_rows`` as rows become final; each row of windows is handed to a worker thread as soon as
    its last halo row has arrived, so vectorization overlaps whatever produces the rows (inference).
    ``finish`` returns the same layers as :func:`vectorize_windows` on the whole raster.
    """

    def __init__(self, width: int, height: int, *, window: int = WINDOW, halo: int = HALO,
                 street_scale: float = STREET_SCALE, threads: int = 1) -> None:
        self.width, self.height, self.street_scale = width, height, street_scale
        self.window, self.halo = _grid(window, halo, street_scale)
        self.pool = ThreadPoolExecutor(max_workers=threads)
        self.futures: list = []
        self.buf = np.zeros((0, width), np.uint8)
        self.buf_y0 = 0
        self.next_y0 = 0  # top of the next row of windows to submit

    def add_rows(self, y0: int, rows: np.ndarray) -> None:
        if y0 != self.buf_y0 + len(self.buf) or rows.shape[1] != self.width:
            raise ValueError("rows must be full width and arrive top to bottom without gaps")
        self.buf = np.concatenate([self.buf, rows], axis=0)
        self._submit_ready()

    def _submit_ready(self) -> None:
        while self.next_y0 < self.height:
            y0 = self.next_y0
            y1 = min(self.height, y0 + self.window)
            ey0, ey1 = max(0, y0 - self.halo), min(self.height, y1 + self.halo)
            if self.buf_y0 + len(self.buf) < ey1:
                return
            strip = self.buf[ey0 - self.buf_y0:ey1 - self.buf_y0]
            for x0 in range(0, self.width, self.window):
                x1 = min(self.width, x0 + self.window)
                ex0, ex1 = max(0, x0 - self.halo), min(self.width, x1 + self.halo)
                raw = np.ascontiguousarray(strip[:, ex0:ex1])
                self.futures.append(self.pool.submit(window_pieces, raw, ex0, ey0, (x0, y0, x1, y1), self.width,
                                                     self.height, self.street_scale))
            self.next_y0 = y1
            keep = max(self.buf_y0, y1 - self.halo)  # the next row of windows starts its halo here
            self.buf, self.buf_y0 = self.buf[keep - self.buf_y0:], keep

    def finish(self, transform: Affine | None = None, crs=None) -> dict[str, gpd.GeoDataFrame]:
        """Wait for the windows and build the layers (all rows must have been added)."""
        try:
            if self.buf_y0 + len(self.buf) != self.height:
                raise ValueError("not all rows were added")
            self._submit_ready()
            return join_windows([f.result() for f in self.futures], transform, crs)
        finally:
            self.close()

    def close(self) -> None:
        for f in self.futures:
            f.cancel()
        self.pool.shutdown(wait=True)


def _layers(blocks: BlockPieces, streets: StreetPieces, labels: LabelPieces, transform: Affine | None,
            crs) -> dict[str, gpd.GeoDataFrame]:
    def world(geoms: list) -> np.ndarray:
        arr = np.asarray(geoms, dtype=object)
        if transform is None or not len(arr):
            return arr
        a, b, c, d, e, f = transform[:6]
        return shapely.transform(arr, lambda xy: np.column_stack([a * xy[:, 0] + b * xy[:, 1] + c,
                                                                 d * xy[:, 0] + e * xy[:, 1] + f]))

    crs_out = crs.to_wkt() if crs is not None and hasattr(crs, "to_wkt") else crs
    polys = world(finish_blocks(blocks.merged()))
    block_gdf = gpd.GeoDataFrame({"block_id": np.arange(len(polys), dtype=np.int64),
                                  "area": shapely.area(polys) if len(polys) else np.zeros(0)},
                                 geometry=gpd.GeoSeries(polys, crs=crs_out), crs=crs_out)
    graph = build_graph(streets)
    lines = world(graph.lines)
    street_gdf = gpd.GeoDataFrame({
        "street_id": np.arange(len(lines), dtype=np.int64),
        "node_start": np.asarray(graph.starts, dtype=np.int64),
        "node_end": np.asarray(graph.ends, dtype=np.int64),
        "length": shapely.length(lines) if len(lines) else np.zeros(0),
        "width_px": np.asarray(graph.widths, dtype=np.float64),
    }, geometry=gpd.GeoSeries(lines, crs=crs_out), crs=crs_out)
    nodes = world(graph.nodes)
    node_gdf = gpd.GeoDataFrame({"node_id": np.arange(len(nodes), dtype=np.int64),
                                 "degree": np.asarray(graph.degrees, dtype=np.int64)},
                                geometry=gpd.GeoSeries(nodes, crs=crs_out), crs=crs_out)
    boxes = labels.boxes
    rects = world([b.polygon() for b in boxes])
    angles = [reading_angle(np.asarray(r.exterior.coords)[:4], y_down=transform is None) for r in rects]
    label_gdf = gpd.GeoDataFrame({
        "label_id": np.arange(len(boxes), dtype=np.int64),
        "angle": np.asarray(angles, dtype=np.float64),
        "length_px": np.asarray([round(b.length, 2) for b in boxes], dtype=np.float64),
        "height_px": np.asarray([round(b.height, 2) for b in boxes], dtype=np.float64),
        "pixels": np.asarray([b.pixels for b in boxes], dtype=np.int64),
    }, geometry=gpd.GeoSeries(rects, crs=crs_out), crs=crs_out)
    return {"blocks": block_gdf, "streets": street_gdf, "street_nodes": node_gdf, "labels": label_gdf}
