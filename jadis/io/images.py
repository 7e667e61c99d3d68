"""Open input images safely: existence, format, size limits, truncation.

Every room that reads a user's scan (segmentation, georeferencing, the app) opens it through
:func:`open_image`, so the checks and the error messages are the same everywhere.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.errors import NotGeoreferencedWarning, RasterioIOError
from rasterio.windows import Window

from jadis.errors import JadisError, JadisWarning

#: Default maximum number of pixels of an input image (width × height). 2 gigapixels is far
#: above any real map scan (a 1:2000 sheet at 600 dpi is ~0.3 GP) but stops decompression bombs.
DEFAULT_MAX_PIXELS = 2_000_000_000

#: Raster formats we accept as input, by GDAL driver name.
SUPPORTED_DRIVERS = {"GTiff", "COG", "JPEG", "PNG", "JP2OpenJPEG", "JPEG2000", "JP2KAK", "JP2ECW", "VRT", "WEBP"}

# Make libjpeg's "premature end of data" a real error instead of a grey-filled warning, so
# truncated JPEGs are detected instead of silently segmented.
_GDAL_ENV = {"GDAL_ERROR_ON_LIBJPEG_WARNING": "TRUE", "GDAL_PAM_ENABLED": "NO"}


def max_pixels_from_env() -> int:
    """The pixel limit: ``JADIS_MAX_PIXELS`` if set, else :data:`DEFAULT_MAX_PIXELS`."""
    raw = os.environ.get("JADIS_MAX_PIXELS")
    if not raw:
        return DEFAULT_MAX_PIXELS
    try:
        return int(float(raw))
    except ValueError as exc:
        raise JadisError(f"JADIS_MAX_PIXELS must be a number, got {raw!r}") from exc


@dataclass(frozen=True)
class ImageInfo:
    """What we know about an input image after opening it."""

    path: Path
    width: int
    height: int
    count: int
    dtype: str
    driver: str
    crs: rasterio.crs.CRS | None
    transform: rasterio.Affine
    georeferenced: bool

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6


def check_image(path: str | os.PathLike[str], max_pixels: int | None = None) -> ImageInfo:
    """Validate that ``path`` is a readable, non-empty image within the pixel limit.

    Raises :class:`JadisError` with a one-line message otherwise. Reads only the header and
    the last row (which catches most truncated files without decoding the whole image).
    """
    path = Path(path)
    limit = max_pixels_from_env() if max_pixels is None else max_pixels
    if not path.exists():
        raise JadisError(f"{path}: no such file")
    if path.is_dir():
        raise JadisError(f"{path}: is a directory, not an image")
    if path.stat().st_size == 0:
        raise JadisError(f"{path}: empty file")
    with _open(path) as ds:
        info = _info(path, ds)
        if info.width == 0 or info.height == 0:
            raise JadisError(f"{path}: image has no pixels")
        if info.width * info.height > limit:
            raise JadisError(
                f"{path}: {info.width}x{info.height} = {format_pixels(info.width * info.height)} exceeds the limit "
                f"of {format_pixels(limit)} (raise it with --max-pixels or JADIS_MAX_PIXELS)"
            )
        pages = _page_count(ds)
        if pages > 1:
            warnings.warn(JadisWarning(f"{path}: a TIFF of {pages} pages; only the first page "
                                       f"({info.width}x{info.height} px) is used"), stacklevel=2)
        # Decode the last row: truncated JPEG/PNG/TIFF files fail here.
        read_window(ds, Window(0, info.height - 1, info.width, 1), path=path)
    return info


def format_pixels(n: float) -> str:
    """A pixel count for messages: ``"30,000 pixels"`` below a megapixel, else ``"2,000 MP"`` / ``"1.5 MP"``."""
    if n < 1_000_000:
        return f"{int(n):,} pixel{'s' if int(n) != 1 else ''}"
    return f"{n / 1e6:,.4g} MP" if n < 1e10 else f"{n / 1e6:,.0f} MP"


def _page_count(ds: rasterio.DatasetReader) -> int:
    """How many pages (images) a multi-page TIFF holds (1 for anything else; overviews are not pages)."""
    if ds.driver not in ("GTiff", "COG"):
        return 1
    return max(1, sum(1 for name in ds.subdatasets if name.startswith("GTIFF_DIR:")))


@contextmanager
def open_image(path: str | os.PathLike[str], max_pixels: int | None = None) -> Iterator[rasterio.DatasetReader]:
    """Check ``path`` with :func:`check_image`, then yield an open rasterio dataset."""
    check_image(path, max_pixels)
    with _open(Path(path)) as ds:
        yield ds


def read_window(ds: rasterio.DatasetReader, window: Window, path: Path | None = None,
                bands: list[int] | None = None) -> np.ndarray:
    """Read ``window`` as an (H, W, C) uint8 RGB-like array; a clear error if decoding fails."""
    try:
        with rasterio.Env(**_GDAL_ENV), warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            arr = ds.read(bands or list(range(1, ds.count + 1)), window=window, boundless=False)
    except (RasterioIOError, rasterio.errors.RasterioError) as exc:
        name = path or ds.name
        raise JadisError(f"{name}: cannot decode image data (truncated or corrupt file?): {_first_line(exc)}") from exc
    return np.moveaxis(arr, 0, -1)


def to_rgb(arr: np.ndarray) -> np.ndarray:
    """Convert an (H, W, C) array of any band count / dtype to (H, W, 3) uint8."""
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.dtype != np.uint8:
        if arr.dtype == bool:
            arr = arr.astype(np.uint8) * 255
        elif np.issubdtype(arr.dtype, np.integer) and arr.max(initial=0) > 255:
            arr = (arr.astype(np.float32) / max(1, int(np.iinfo(arr.dtype).max)) * 255).astype(np.uint8)
        else:
            arr = np.clip(arr, 0, 255).astype(np.uint8)
    c = arr.shape[-1]
    if c == 1:
        return np.repeat(arr, 3, axis=-1)
    if c == 2:  # grey + alpha
        return np.repeat(arr[..., :1], 3, axis=-1)
    return np.ascontiguousarray(arr[..., :3])


@contextmanager
def _open(path: Path) -> Iterator[rasterio.DatasetReader]:
    try:
        with rasterio.Env(**_GDAL_ENV), warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            ds = rasterio.open(path)
    except RasterioIOError as exc:
        raise JadisError(f"{path}: not a readable image ({_first_line(exc)})") from exc
    try:
        if ds.driver not in SUPPORTED_DRIVERS:
            raise JadisError(f"{path}: unsupported format {ds.driver}; use TIFF, JPEG, PNG or JPEG 2000")
        yield ds
    finally:
        ds.close()


def _info(path: Path, ds: rasterio.DatasetReader) -> ImageInfo:
    georef = ds.crs is not None and not ds.transform.is_identity
    return ImageInfo(path=path, width=ds.width, height=ds.height, count=ds.count, dtype=ds.dtypes[0],
                     driver=ds.driver, crs=ds.crs, transform=ds.transform, georeferenced=georef)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    # rasterio's chained errors point to "the previous exception", which a user never sees
    line = text[0].replace(" See previous exception for details.", "").strip() if text else ""
    return line or type(exc).__name__
