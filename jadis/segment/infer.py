"""Windowed, tiled inference over map sheets of any size (the one call, scan -> class raster + layers,
is :func:`jadis.pipelines.scan.segment_image`).

How a sheet is processed (memory is bounded by the tile size and ``band_width``, not the sheet):

1. The sheet is covered by overlapping tiles (:class:`~jadis.segment.tiling.TileGrid`). Tiles in the
   blank margins (see :mod:`jadis.segment.blank`) are not run through the network.
2. Tiles are processed one tile-row at a time, left to right, in *column bands* at most
   ``band_width`` pixels wide (one band for any ordinary sheet). Input rows are read by windows,
   each row of the image once per band, top to bottom (sequential reads suit JPEG/PNG decoders).
3. Each tile's logits, weighted by a smooth window, are added to a rolling accumulator one tile
   high. When a tile-row is done, the rows no later tile can touch are final: their arg-max is
   cleaned of block specks (:mod:`jadis.segment.postprocess`, in row chunks with context) and
   written to the class raster (by windows aligned to its internal 512-px blocks).

Tiles overlapping a band's edge are run for both bands, so the result does not depend on
``band_width``: it equals the blend of the whole tile grid.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from jadis.classes import CLASS_COLORS, CLASS_NAMES, NUM_CLASSES, MapClass
from jadis.errors import JadisError
from jadis.segment.predictor import Predictor
from jadis.segment.tiling import TileGrid, round_up

#: Defaults of ``jadis segment`` (chosen by benchmarks/seg_speed.py and seg_accuracy.py).
DEFAULT_TILE = 1024
DEFAULT_OVERLAP = 128
DEFAULT_BATCH = 2
#: Widest column band processed at once; wider sheets are split into several bands.
DEFAULT_BAND_WIDTH = 16384
#: Internal block size of the class GeoTIFF (writes are aligned to it).
BLOCK = 512
#: Logit given to class 0 on skipped margin tiles (others get 0).
_MARGIN_LOGIT = 10.0

ReadFn = Callable[[int, int, int, int], np.ndarray]  # (x0, y0, w, h) -> (h, w, 3) uint8
WriteFn = Callable[[int, int, np.ndarray], None]  # (x0, y0, classes (h, w) uint8)


@dataclass
class PredictStats:
    """What a windowed prediction did."""

    width: int
    height: int
    tiles: int = 0  #: tiles in the grid
    tiles_run: int = 0  #: network forward passes over a tile (band edges count twice)
    tiles_skipped: int = 0  #: margin tiles not run
    class_pixels: list[int] = field(default_factory=lambda: [0] * NUM_CLASSES)
    seconds: float = 0.0

    @property
    def class_fractions(self) -> dict[str, float]:
        total = max(1, sum(self.class_pixels))
        return {CLASS_NAMES.get(i, str(i)): n / total for i, n in enumerate(self.class_pixels)}


def predict_windows(read: ReadFn, width: int, height: int, write: WriteFn, predictor: Predictor, *,
                    tile: int = DEFAULT_TILE, overlap: int = DEFAULT_OVERLAP, batch_size: int = DEFAULT_BATCH,
                    skip: np.ndarray | None = None, band_width: int = DEFAULT_BAND_WIDTH,
                    on_tiles: Callable[[int], None] | None = None, clean: bool = True) -> PredictStats:
    """Predict the class of every pixel of a ``width`` × ``height`` image read through ``read``.

    ``write`` receives final class rows band by band, top to bottom. ``skip`` (optional, shape of
    the tile grid) marks tiles to label 0 without running the network. ``on_tiles(n)`` is called
    after every batch with the number of tiles done. ``clean`` removes block specks on the way out
    (:func:`jadis.segment.postprocess.clean_classes`).
    """
    grid = make_grid(width, height, tile, overlap, predictor)
    if skip is not None and skip.shape != (len(grid.ys), len(grid.xs)):
        raise ValueError(f"skip mask shape {skip.shape} does not match the tile grid")
    import torch

    stats = PredictStats(width, height, tiles=grid.n_tiles)
    started = time.perf_counter()
    weights = torch.from_numpy(grid.weights())
    band_width = max(64, round_up(band_width, 64))

    def counted_write(x0: int, y0: int, classes: np.ndarray) -> None:
        counts = np.bincount(classes.ravel(), minlength=NUM_CLASSES)
        stats.class_pixels = [int(a + b) for a, b in zip(stats.class_pixels, counts, strict=False)]
        write(x0, y0, classes)

    for ca in range(0, width, band_width):
        cb = min(width, ca + band_width)
        cols = [i for i, x in enumerate(grid.xs) if x < cb and x + grid.tile_w > ca]
        _predict_band(read, counted_write, predictor, grid, weights, cols, ca, cb, batch_size, skip, stats,
                      on_tiles, clean)
    stats.seconds = time.perf_counter() - started
    return stats


def make_grid(width: int, height: int, tile: int, overlap: int, predictor: Predictor) -> TileGrid:
    """The tile grid used for an image: ``tile`` rounded up to what the network's input scale needs."""
    if tile < 64:
        raise JadisError(f"tile size {tile} is too small (use at least 64 px)")
    if not 0 <= overlap < tile // 2:
        raise JadisError(f"overlap {overlap} must be between 0 and half the tile size ({tile // 2})")
    tile = round_up(tile, predictor.tile_multiple())
    return TileGrid.build(width, height, tile, overlap)


def _predict_band(read: ReadFn, write: WriteFn, predictor: Predictor, grid: TileGrid, weights,
                  cols: list[int], ca: int, cb: int, batch_size: int, skip: np.ndarray | None,
                  stats: PredictStats, on_tiles: Callable[[int], None] | None, clean: bool) -> None:
    import torch

    th, tw = grid.tile_h, grid.tile_w
    bx0, bx1 = grid.xs[cols[0]], grid.xs[cols[-1]] + tw
    bw = bx1 - bx0
    n_cls = predictor.num_classes
    # Accumulate in torch: its element-wise ops and arg-max use all threads.
    acc = torch.zeros((n_cls, th, bw), dtype=torch.float32)  # rows [ys[j], ys[j] + th) of the band
    margin = torch.zeros((n_cls, 1, 1), dtype=torch.float32)
    margin[MapClass.OTHER] = _MARGIN_LOGIT
    margin_tile = margin * weights
    rows = _RowBuffer(read, bx0, bw)
    writer: _AlignedWriter | _CleaningWriter = _AlignedWriter(write, ca, BLOCK)
    if clean:
        writer = _CleaningWriter(writer, grid.height, open_left=ca > 0, open_right=cb < grid.width)
    for j, y in enumerate(grid.ys):
        image_rows = rows.get(y, y + th)
        pending: list[tuple[int, np.ndarray]] = []
        for i in cols:
            x = grid.xs[i] - bx0
            if skip is not None and skip[j, i]:
                acc[:, :, x:x + tw] += margin_tile
                stats.tiles_skipped += 1
                if on_tiles:
                    on_tiles(1)
                continue
            pending.append((x, image_rows[:, x:x + tw]))
            if len(pending) == batch_size:
                _run_batch(predictor, pending, acc, weights, stats, on_tiles)
                pending = []
        if pending:
            _run_batch(predictor, pending, acc, weights, stats, on_tiles)
        next_y = grid.ys[j + 1] if j + 1 < len(grid.ys) else grid.height
        done = next_y - y
        writer.add(y, _argmax_classes(acc[:, :done, ca - bx0:cb - bx0]))
        if j + 1 < len(grid.ys):  # slide the accumulator down to the next tile-row
            carry = th - done
            acc[:, :carry] = acc[:, done:].clone()
            acc[:, carry:] = 0.0
    writer.flush()


def _run_batch(predictor: Predictor, pending: list[tuple[int, np.ndarray]], acc, weights,
               stats: PredictStats, on_tiles: Callable[[int], None] | None) -> None:
    logits = predictor.logits_tensor(np.stack([t for _, t in pending]))
    tw = weights.shape[1]
    for (x, _), out in zip(pending, logits, strict=True):
        acc[:, :, x:x + tw] += out * weights
    stats.tiles_run += len(pending)
    if on_tiles:
        on_tiles(len(pending))


def _argmax_classes(scores) -> np.ndarray:  # a (C, H, W) torch tensor
    """Arg-max over the class axis as uint8 (a loop over the few classes: element-wise, multi-threaded,
    several times faster than ``torch.argmax`` over a strided leading axis). Ties go to the lower id."""
    import torch

    best = scores[0].clone()
    out = torch.zeros(best.shape, dtype=torch.uint8)
    for c in range(1, scores.shape[0]):
        better = scores[c] > best
        out.masked_fill_(better, c)
        torch.maximum(best, scores[c], out=best)
    return out.numpy()


class _RowBuffer:
    """Rows [y0, y1) of a column range of the image, reading each new row once, top to bottom."""

    def __init__(self, read: ReadFn, x0: int, width: int) -> None:
        self.read, self.x0, self.width = read, x0, width
        self.y0 = self.y1 = 0
        self.data = np.zeros((0, width, 3), dtype=np.uint8)

    def get(self, y0: int, y1: int) -> np.ndarray:
        if y0 < self.y0:
            raise ValueError("rows must be requested top to bottom")
        keep = self.data[max(0, y0 - self.y0):]
        start = max(y0, self.y1)
        if y1 > start:
            new = self.read(self.x0, start, self.width, y1 - start)
            keep = np.concatenate([keep, new], axis=0) if len(keep) else new
        self.data, self.y0, self.y1 = keep, y0, y1
        return keep[: y1 - y0]


class _CleaningWriter:
    """Clean class rows (:func:`~jadis.segment.postprocess.clean_classes`) in chunks, each with
    :data:`~jadis.segment.postprocess.CONTEXT` rows of context above and below, then pass them on."""

    def __init__(self, out: _AlignedWriter, height: int, *, open_left: bool, open_right: bool,
                 chunk: int = 2048) -> None:
        self.out, self.height, self.chunk = out, height, chunk
        self.sides = (open_left, open_right)
        self.buf: np.ndarray | None = None
        self.buf_y0 = self.done = 0

    def add(self, y: int, classes: np.ndarray) -> None:
        if self.buf is None:
            self.buf, self.buf_y0, self.done = classes, y, y
        else:
            self.buf = np.concatenate([self.buf, classes], axis=0)
        self._run(final=False)

    def flush(self) -> None:
        if self.buf is not None:
            self._run(final=True)
        self.out.flush()

    def _run(self, final: bool) -> None:
        from jadis.segment.postprocess import CONTEXT, clean_classes

        assert self.buf is not None
        end = self.buf_y0 + len(self.buf)
        limit = end if final else end - CONTEXT
        if limit <= self.done or (not final and limit - self.done < self.chunk):
            return
        top = max(self.buf_y0, self.done - CONTEXT)
        cleaned = clean_classes(self.buf[top - self.buf_y0:], open_edges=(top > 0, end < self.height, *self.sides))
        self.out.add(self.done, cleaned[self.done - top:limit - top])
        self.done = limit
        keep = max(self.buf_y0, self.done - CONTEXT)
        self.buf, self.buf_y0 = self.buf[keep - self.buf_y0:], keep


class _AlignedWriter:
    """Collect class rows and write them in windows aligned to the output's block rows."""

    def __init__(self, write: WriteFn, x0: int, block: int) -> None:
        self.write, self.x0, self.block = write, x0, block
        self.y0 = 0
        self.parts: list[np.ndarray] = []
        self.rows = 0

    def add(self, y: int, classes: np.ndarray) -> None:
        if not self.parts:
            self.y0 = y
        self.parts.append(classes)
        self.rows += len(classes)
        end = self.y0 + self.rows
        aligned = (end // self.block) * self.block
        if aligned > self.y0:
            data = np.concatenate(self.parts, axis=0)
            n = aligned - self.y0
            self.write(self.x0, self.y0, data[:n])
            rest = data[n:]
            self.parts, self.rows, self.y0 = ([rest] if len(rest) else []), len(rest), aligned

    def flush(self) -> None:
        if self.parts:
            self.write(self.x0, self.y0, np.concatenate(self.parts, axis=0))
            self.parts, self.rows = [], 0


# ---------------------------------------------------------------------------------------------
# Arrays in memory


def predict_array(image: np.ndarray, predictor: Predictor, *, tile: int = DEFAULT_TILE,
                  overlap: int = DEFAULT_OVERLAP, batch_size: int = DEFAULT_BATCH,
                  band_width: int = DEFAULT_BAND_WIDTH, clean: bool = True) -> np.ndarray:
    """Class raster (H, W) uint8 of an in-memory (H, W, 3) uint8 image (no margin skipping)."""
    from jadis.io.images import to_rgb

    image = to_rgb(image)
    h, w = image.shape[:2]
    out = np.zeros((h, w), dtype=np.uint8)

    def read(x0: int, y0: int, ww: int, hh: int) -> np.ndarray:
        return image[y0:y0 + hh, x0:x0 + ww]

    def write(x0: int, y0: int, classes: np.ndarray) -> None:
        out[y0:y0 + classes.shape[0], x0:x0 + classes.shape[1]] = classes

    predict_windows(read, w, h, write, predictor, tile=tile, overlap=overlap, batch_size=batch_size,
                    band_width=band_width, clean=clean)
    return out


# ---------------------------------------------------------------------------------------------
# Files


class RasterSource:
    """Reads RGB windows of an open rasterio dataset (grey, palette, RGBA or 16-bit input)."""

    def __init__(self, ds, path: Path) -> None:  # a rasterio DatasetReader
        from rasterio.enums import ColorInterp

        self.ds, self.path = ds, path
        self.bands = list(range(1, min(ds.count, 3) + 1)) if ds.count != 2 else [1]
        self.lut: np.ndarray | None = None
        if ds.count == 1 and ds.colorinterp[0] == ColorInterp.palette:
            cmap = ds.colormap(1)
            lut = np.zeros((max(256, max(cmap) + 1), 3), dtype=np.uint8)
            for k, rgba in cmap.items():
                lut[k] = rgba[:3]
            self.lut = lut

    def _to_rgb(self, arr: np.ndarray) -> np.ndarray:
        from jadis.io.images import to_rgb

        if self.lut is not None:
            return self.lut[arr[..., 0]]
        return to_rgb(arr)

    def read(self, x0: int, y0: int, w: int, h: int) -> np.ndarray:
        from rasterio.windows import Window

        from jadis.io.images import read_window

        return self._to_rgb(read_window(self.ds, Window(x0, y0, w, h), path=self.path, bands=self.bands))

    def overview(self, max_pixels: int = 1_500_000) -> np.ndarray:
        """The whole image reduced (area average) to at most ``max_pixels``."""
        import rasterio
        from rasterio.enums import Resampling

        factor = max(1.0, float(np.sqrt(self.ds.width * self.ds.height / max_pixels)))
        oh, ow = max(1, int(self.ds.height / factor)), max(1, int(self.ds.width / factor))
        resampling = Resampling.nearest if self.lut is not None else Resampling.average
        try:
            with rasterio.Env(GDAL_ERROR_ON_LIBJPEG_WARNING="TRUE"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                arr = self.ds.read(self.bands, out_shape=(len(self.bands), oh, ow), resampling=resampling)
        except rasterio.errors.RasterioError as exc:
            raise JadisError(f"{self.path}: cannot decode image data (truncated or corrupt file?)") from exc
        return self._to_rgb(np.moveaxis(arr, 0, -1))


@contextmanager
def _open_checked(path: Path) -> Iterator:
    """Open an image that :func:`jadis.io.images.check_image` has already accepted."""
    import rasterio

    with rasterio.Env(GDAL_ERROR_ON_LIBJPEG_WARNING="TRUE", GDAL_PAM_ENABLED="NO"), warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        ds = rasterio.open(path)
    try:
        yield ds
    finally:
        ds.close()


def class_raster_profile(ds, width: int, height: int) -> dict:  # rasterio dataset
    """GeoTIFF creation options of a class raster: uint8, 1 band, tiled, DEFLATE, georef copied."""
    profile = {"driver": "GTiff", "width": width, "height": height, "count": 1, "dtype": "uint8",
               "tiled": True, "blockxsize": BLOCK, "blockysize": BLOCK, "compress": "deflate",
               "zlevel": 6, "interleave": "band", "BIGTIFF": "IF_SAFER"}
    if ds is not None and not ds.transform.is_identity:
        profile["transform"] = ds.transform
    if ds is not None and ds.crs is not None:
        profile["crs"] = ds.crs
    return profile


def _write_class_colormap_and_tags(dst, meta: dict) -> None:  # rasterio writer
    dst.write_colormap(1, {int(k): (*v, 255) for k, v in CLASS_COLORS.items()})
    dst.set_band_description(1, "class")
    dst.update_tags(1, **{f"CLASS_{k}": v for k, v in CLASS_NAMES.items()})
    dst.update_tags(**{k: str(v) for k, v in meta.items()})


def predict_file(src_path: str | os.PathLike[str], dst_path: str | os.PathLike[str], predictor: Predictor, *,
                 tile: int = DEFAULT_TILE, overlap: int = DEFAULT_OVERLAP, batch_size: int = DEFAULT_BATCH,
                 skip_margins: bool = True, band_width: int = DEFAULT_BAND_WIDTH, max_pixels: int | None = None,
                 progress: bool = True, description: str | None = None, check: bool = True,
                 clean: bool = True, on_rows: Callable[[int, np.ndarray], None] | None = None) -> PredictStats:
    """Segment image ``src_path`` into the class GeoTIFF ``dst_path`` (written in place: wrap the
    call in :func:`jadis.io.atomic.atomic_path` for an all-or-nothing file).

    Georeferencing (CRS + transform, or GCPs) of the input is copied to the output. ``check=False``
    skips :func:`jadis.io.images.check_image` for a file the caller has just checked (on a JPEG or
    PNG the check decodes the whole image). ``on_rows(y0, rows)`` also receives every final row,
    top to bottom, full width (only for sheets no wider than ``band_width``).
    """
    import rasterio

    from jadis.io.images import open_image
    from jadis.progress import make_progress

    src_path = Path(src_path)
    with (open_image(src_path, max_pixels) if check else _open_checked(src_path)) as ds:
        source = RasterSource(ds, src_path)
        width, height = ds.width, ds.height
        if on_rows is not None and width > max(64, round_up(band_width, 64)):
            raise ValueError("on_rows needs a sheet no wider than band_width")
        grid = make_grid(width, height, tile, overlap, predictor)
        skip = None
        if skip_margins and grid.n_tiles > 1:
            from jadis.segment.blank import margin_tiles

            skip = margin_tiles(source.overview(), grid)
        profile = class_raster_profile(ds, width, height)
        gcps, gcp_crs = ds.gcps if ds.transform.is_identity else ([], None)
        with rasterio.Env(GDAL_CACHEMAX=128, GDAL_PAM_ENABLED="NO"), warnings.catch_warnings():
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            with rasterio.open(dst_path, "w", **profile) as dst, make_progress() as bar:
                if gcps:
                    dst.gcps = (gcps, gcp_crs)
                task = bar.add_task(description or f"segment {src_path.name}", total=grid.n_tiles)

                def write(x0: int, y0: int, classes: np.ndarray) -> None:
                    from rasterio.windows import Window

                    dst.write(classes[None], window=Window(x0, y0, classes.shape[1], classes.shape[0]))
                    if on_rows is not None:
                        on_rows(y0, classes)

                def on_tiles(n: int) -> None:
                    bar.advance(task, n)

                stats = predict_windows(source.read, width, height, write, predictor, tile=tile, overlap=overlap,
                                        batch_size=batch_size, skip=skip, band_width=band_width,
                                        on_tiles=on_tiles if progress else None, clean=clean)
                _write_class_colormap_and_tags(dst, {
                    "JADIS_SOURCE": src_path.name,
                    "JADIS_CHECKPOINT": predictor.meta.get("checkpoint", ""),
                    "JADIS_TILE": grid.tile_w, "JADIS_OVERLAP": grid.overlap, "JADIS_PRECISION": predictor.precision,
                })
    return stats
