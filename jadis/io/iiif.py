"""Scans served by an IIIF Image API service (version 2 or 3), fetched into a local cache.

A scan can be given as the URL of an IIIF Image service: its base URL
(``https://example.org/iiif/sheet13``) or its ``info.json``. :func:`read_info` reads the service
description; :func:`fetch_image` downloads the image at full size (or a reduced size) region by
region — the service's own tiles when ``info.json`` lists them, as level-0 (static) services
require, else regions of at most :data:`REGION_PX` pixels — and writes each region straight into
a tiled GeoTIFF, so the whole image is never held in memory. Every request is retried with
exponential backoff on network errors, HTTP 5xx and 429; a region that stays truncated or
undecodable is refused with a :class:`~jadis.errors.JadisError` and nothing is cached.

The cache lives in ``$JADIS_HOME/cache/iiif`` (or the ``cache_dir`` argument): one folder per
service holding its ``info.json`` and the assembled images. A second call reads the cache and
makes no request. :func:`resolve_scan` turns "a path or an IIIF URL" into a local file; it is
what commands that accept a scan call.

Tile URLs follow the canonical forms used by static tile generators and OpenSeadragon:
region ``full`` when a request covers the whole image, else ``x,y,w,h``; size ``full`` (v2) /
``max`` (v3) for the full image at full size, else ``w,`` (v2) / ``w,h`` (v3); then
``/0/default.{format}``.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import json
import math
import os
import re
import time
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jadis.errors import JadisError, shorten
from jadis.paths import user_home

#: Largest region (in output pixels, each side) requested from a service that lists no tiles.
REGION_PX = 1024
#: Default number of retries of one request (so ``RETRIES + 1`` tries in all).
RETRIES = 4
#: First backoff delay in seconds; doubled after each failed try.
BACKOFF_S = 0.5
#: Timeout of one request in seconds.
TIMEOUT_S = 60.0
#: Image formats we can decode, in order of preference when the service offers several.
_DECODABLE = ("png", "jpg", "tif", "webp")

_USER_AGENT = "jadis (IIIF client; +https://github.com/)"
_V2_CONTEXT = "iiif.io/api/image/2"
_V3_CONTEXT = "iiif.io/api/image/3"


def is_url(source: object) -> bool:
    """Whether ``source`` is an ``http(s)://`` URL (rather than a local path)."""
    return isinstance(source, str) and re.match(r"(?i)https?://", source.strip()) is not None


def service_base(url: str) -> str:
    """The service base URL of ``url``: without a trailing ``/`` or ``/info.json``."""
    base = url.strip()
    if base.endswith("/info.json"):
        base = base[: -len("/info.json")]
    return base.rstrip("/")


@dataclass(frozen=True)
class ImageService:
    """An IIIF Image API service, as described by its ``info.json``.

    Attributes:
        id: the service base URL (``id`` / ``@id`` of ``info.json``).
        version: 2 or 3.
        width, height: full size in pixels.
        level: compliance level (0, 1, 2), if the profile says.
        tiles: ``(width, height, scale_factors)`` of each tile grid the service lists.
        sizes: the whole-image sizes the service lists, ``(width, height)``.
        formats: the image formats the service offers (``jpg`` first unless it prefers others).
    """

    id: str
    version: int
    width: int
    height: int
    level: int | None = None
    tiles: tuple[tuple[int, int, tuple[int, ...]], ...] = ()
    sizes: tuple[tuple[int, int], ...] = ()
    formats: tuple[str, ...] = ("jpg",)

    @property
    def type(self) -> str:
        """``ImageService2`` or ``ImageService3`` (the Allmaps / IIIF Presentation 3 type)."""
        return f"ImageService{self.version}"

    def annotation_source(self) -> dict:
        """``target.source`` of a Georeference Annotation: ``{id, type, height, width}``."""
        return {"id": self.id, "type": self.type, "height": self.height, "width": self.width}


def parse_info(data: object, url: str = "info.json") -> ImageService:
    """An :class:`ImageService` from a parsed ``info.json`` (``url`` is for messages and a missing id)."""
    where = shorten(url)
    if not isinstance(data, dict):
        raise JadisError(f"{where}: not an IIIF Image API info.json (not a JSON object)")
    context = data.get("@context")
    contexts = " ".join(context) if isinstance(context, list) else str(context or "")
    if _V3_CONTEXT in contexts or data.get("type") == "ImageService3":
        version = 3
    elif _V2_CONTEXT in contexts or data.get("@type") == "iiif:Image" or (
            "@id" in data and "id" not in data):
        version = 2
    elif "image-api/1" in contexts:
        raise JadisError(f"{where}: IIIF Image API 1 is not supported (versions 2 and 3 are)")
    else:
        raise JadisError(f"{where}: not an IIIF Image API 2 or 3 info.json (unknown @context {contexts!r})")
    ident = data.get("id") if version == 3 else data.get("@id")
    ident = ident or data.get("@id") or data.get("id") or service_base(url)
    if not is_url(ident):
        raise JadisError(f"{where}: the info.json id {ident!r} is not an http(s) URL")
    try:
        width, height = int(data["width"]), int(data["height"])
    except (KeyError, TypeError, ValueError) as exc:
        raise JadisError(f"{where}: info.json lacks a numeric width and height") from exc
    if width <= 0 or height <= 0:
        raise JadisError(f"{where}: info.json gives an empty image ({width}x{height})")

    level = None
    profile = data.get("profile")
    first = profile[0] if isinstance(profile, list) and profile else profile
    m = re.search(r"level\s*([012])", str(first or ""))
    if m:
        level = int(m.group(1))
    formats = ["jpg"]
    extra: list[str] = []
    if version == 3:
        extra = [str(f) for f in data.get("preferredFormats") or []]
        extra += [str(f) for f in data.get("extraFormats") or []]
    elif isinstance(profile, list):
        for p in profile[1:]:
            if isinstance(p, dict):
                extra += [str(f) for f in p.get("formats") or []]
    preferred = [str(f) for f in data.get("preferredFormats") or []] if version == 3 else []
    formats = [f for f in preferred if f in _DECODABLE] + formats
    formats += [f for f in extra if f in _DECODABLE]
    formats = list(dict.fromkeys(formats))

    tiles = []
    for t in data.get("tiles") or []:
        try:
            tw = int(t["width"])
            th = int(t.get("height") or tw)
            factors = tuple(sorted({int(s) for s in t.get("scaleFactors") or [1]}))
        except (KeyError, TypeError, ValueError) as exc:
            raise JadisError(f"{where}: malformed tiles entry {t!r} in info.json") from exc
        if tw <= 0 or th <= 0 or not factors or min(factors) <= 0:
            raise JadisError(f"{where}: malformed tiles entry {t!r} in info.json")
        tiles.append((tw, th, factors))
    sizes = []
    for s in data.get("sizes") or []:
        try:
            sizes.append((int(s["width"]), int(s["height"])))
        except (KeyError, TypeError, ValueError) as exc:
            raise JadisError(f"{where}: malformed sizes entry {s!r} in info.json") from exc
    return ImageService(id=service_base(str(ident)), version=version, width=width, height=height, level=level,
                        tiles=tuple(tiles), sizes=tuple(sorted(sizes)), formats=tuple(formats))


# -- the cache ----------------------------------------------------------------------------------------
def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The IIIF cache folder: ``cache_dir`` if given, else ``$JADIS_HOME/cache/iiif``."""
    return Path(cache_dir).expanduser() if cache_dir is not None else user_home() / "cache" / "iiif"


def service_cache_dir(url: str, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The cache folder of one service: a readable slug of its URL plus a hash."""
    base = service_base(url)
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", re.sub(r"(?i)^https?://", "", base))[-60:].strip("_.") or "service"
    digest = hashlib.sha256(base.encode("utf-8")).hexdigest()[:16]
    return cache_root(cache_dir) / f"{slug}-{digest}"


# -- HTTP ---------------------------------------------------------------------------------------------
class _Retryable(Exception):
    """A failed try worth repeating (network error, 5xx, 429, truncated or corrupt body)."""


def _get_once(url: str, timeout: float) -> bytes:
    req = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read()
            expected = resp.headers.get("Content-Length")
    except urllib.error.HTTPError as exc:
        if exc.code >= 500 or exc.code in (408, 429):
            raise _Retryable(f"HTTP {exc.code} {exc.reason}") from exc
        raise JadisError(f"{shorten(url)}: HTTP {exc.code} {exc.reason}") from exc
    except http.client.IncompleteRead as exc:
        raise _Retryable(f"truncated download ({len(exc.partial)} bytes received)") from exc
    except (TimeoutError, urllib.error.URLError, http.client.HTTPException, ConnectionError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise _Retryable(f"network error ({reason})") from exc
    if expected is not None and expected.isdigit() and int(expected) != len(body):
        raise _Retryable(f"truncated download ({len(body)} of {expected} bytes)")
    return body


def _retrying(url: str, attempt, retries: int, backoff: float):
    """Call ``attempt()`` up to ``retries + 1`` times, sleeping ``backoff * 2**k`` between tries."""
    last = ""
    for k in range(retries + 1):
        try:
            return attempt()
        except _Retryable as exc:
            last = str(exc)
            if k < retries:
                time.sleep(backoff * 2**k)
    raise JadisError(f"{shorten(url)}: {last} after {retries + 1} tries; check the URL or retry later")


def http_get(url: str, retries: int = RETRIES, backoff: float = BACKOFF_S, timeout: float = TIMEOUT_S) -> bytes:
    """The body of ``url``, retried on network errors, HTTP 5xx/429 and truncated bodies."""
    return _retrying(url, lambda: _get_once(url, timeout), retries, backoff)


def _get_json(url: str, retries: int, backoff: float, timeout: float) -> object:
    def attempt():
        body = _get_once(url, timeout)
        try:
            return json.loads(body.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _Retryable(f"not valid JSON ({exc})") from exc

    return _retrying(url, attempt, retries, backoff)


def _get_image(url: str, retries: int, backoff: float, timeout: float) -> np.ndarray:
    """One region, decoded to an (h, w, 3) uint8 array; a body that does not decode is retried."""
    from PIL import Image

    def attempt():
        body = _get_once(url, timeout)
        try:
            with Image.open(io.BytesIO(body)) as im:
                im.load()
                return np.asarray(im.convert("RGB"))
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            raise _Retryable(f"truncated or corrupt image ({exc})") from exc

    return _retrying(url, attempt, retries, backoff)


# -- reading a service --------------------------------------------------------------------------------
def read_info(url: str, cache_dir: str | os.PathLike[str] | None = None, retries: int = RETRIES,
              backoff: float = BACKOFF_S, timeout: float = TIMEOUT_S, refresh: bool = False) -> ImageService:
    """The :class:`ImageService` at ``url`` (its base URL or its ``info.json``), cached.

    The ``info.json`` is kept in the service's cache folder; later calls read it from there
    (``refresh=True`` fetches it again).
    """
    if not is_url(url):
        raise JadisError(f"{shorten(url)}: an IIIF Image service must be an http(s) URL")
    base = service_base(url)
    if re.search(r"(?i)\.(jpe?g|png|tiff?|webp|jp2|gif)$", base):
        raise JadisError(f"{shorten(url)}: looks like an image file, not an IIIF Image service; give the "
                         f"service base URL (the part before /full/...) or its info.json")
    cached = service_cache_dir(base, cache_dir) / "info.json"
    if cached.is_file() and not refresh:
        try:
            return parse_info(json.loads(cached.read_text(encoding="utf-8")), base)
        except (json.JSONDecodeError, UnicodeDecodeError, JadisError):
            pass  # a damaged cache entry: fetch again
    data = _get_json(f"{base}/info.json", retries, backoff, timeout)
    service = parse_info(data, f"{base}/info.json")
    from jadis.io.atomic import atomic_write_text

    cached.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(cached, json.dumps(data, indent=1) + "\n")
    return service


def _scale_factor(service: ImageService, scale: float) -> int:
    """The integer down-scaling factor to fetch at: the largest the service offers that still gives
    at least ``scale`` times the full resolution (1 for full size)."""
    if not 0 < scale <= 1:
        raise JadisError(f"scale must be in (0, 1], got {scale}")
    wanted = 1.0 / scale
    factors = service.tiles[0][2] if service.tiles else tuple(2**k for k in range(16))
    ok = [f for f in factors if f <= wanted + 1e-9]
    return max(ok) if ok else min(factors)


def _size_param(service: ImageService, w: int, h: int) -> str:
    if w == service.width and (service.version == 2 or h == service.height):
        return "full" if service.version == 2 else "max"
    return f"{w}," if service.version == 2 else f"{w},{h}"


def region_urls(service: ImageService, factor: int = 1, fmt: str | None = None
                ) -> tuple[tuple[int, int], list[tuple[str, int, int, int, int]]]:
    """The output size at ``factor`` and the requests that cover it: ``(url, col, row, w, h)``
    in output pixels. Uses the service's first tile grid when it lists one."""
    fmt = fmt or service.formats[0]
    W, H = service.width, service.height
    out_w, out_h = math.ceil(W / factor), math.ceil(H / factor)
    if service.tiles:
        tw, th = service.tiles[0][0], service.tiles[0][1]
    elif service.level == 0:
        # a static service without tiles serves whole images only
        return (out_w, out_h), [(_whole_url(service, out_w, out_h, fmt), 0, 0, out_w, out_h)]
    else:
        tw = th = REGION_PX
    rw, rh = tw * factor, th * factor  # region size in full-resolution pixels
    out = []
    for y in range(0, H, rh):
        for x in range(0, W, rw):
            w, h = min(rw, W - x), min(rh, H - y)
            whole = x == 0 and y == 0 and w == W and h == H
            region = "full" if whole else f"{x},{y},{w},{h}"
            sw, sh = math.ceil(w / factor), math.ceil(h / factor)
            size = _size_param(service, sw, sh)
            out.append((f"{service.id}/{region}/{size}/0/default.{fmt}", x // factor, y // factor, sw, sh))
    return (out_w, out_h), out


def _whole_url(service: ImageService, w: int, h: int, fmt: str) -> str:
    if (w, h) == (service.width, service.height):
        size = "full" if service.version == 2 else "max"
    else:
        listed = [s for s in service.sizes if s[0] >= w] or list(service.sizes[-1:])
        if listed:
            w, h = listed[0]
        size = f"{w}," if service.version == 2 else f"{w},{h}"
    return f"{service.id}/full/{size}/0/default.{fmt}"


def fetch_image(url: str | ImageService, scale: float = 1.0, cache_dir: str | os.PathLike[str] | None = None,
                fmt: str | None = None, retries: int = RETRIES, backoff: float = BACKOFF_S,
                timeout: float = TIMEOUT_S, max_pixels: int | None = None) -> Path:
    """Download the image of an IIIF Image service into the cache; return the local GeoTIFF.

    ``scale`` (0 < scale <= 1, default full size) asks for a reduced image: the largest
    resolution the service offers at or above it is fetched. The image is assembled region by
    region into a tiled, deflate-compressed GeoTIFF (no CRS); a failed download leaves nothing in
    the cache; a second call returns the cached file without any request.
    """
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning
    from rasterio.windows import Window

    from jadis.io.atomic import atomic_path
    from jadis.io.images import format_pixels, max_pixels_from_env

    service = url if isinstance(url, ImageService) else read_info(url, cache_dir, retries, backoff, timeout)
    factor = _scale_factor(service, scale)
    fmt = fmt or service.formats[0]
    (out_w, out_h), requests = region_urls(service, factor, fmt)
    dest = service_cache_dir(service.id, cache_dir) / f"image_s{factor}_{fmt}.tif"
    if dest.is_file() and dest.stat().st_size > 0:
        return dest
    limit = max_pixels_from_env() if max_pixels is None else max_pixels
    if out_w * out_h > limit:
        raise JadisError(f"{shorten(service.id)}: {out_w}x{out_h} = {format_pixels(out_w * out_h)} exceeds the limit "
                         f"of {format_pixels(limit)} (ask for a smaller scale, or raise JADIS_MAX_PIXELS)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    profile = {"driver": "GTiff", "width": out_w, "height": out_h, "count": 3, "dtype": "uint8",
               "tiled": True, "blockxsize": 256, "blockysize": 256, "compress": "deflate",
               "photometric": "RGB", "BIGTIFF": "IF_SAFER"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with atomic_path(dest) as tmp, rasterio.open(tmp, "w", **profile) as ds:
            for req_url, col, row, w, h in requests:
                arr = _get_image(req_url, retries, backoff, timeout)
                if len(requests) == 1 and arr.shape[:2] != (h, w):
                    # a level-0 service without tiles: only whole images; resample to the plan
                    arr = _resize(arr, w, h)
                if arr.shape[:2] != (h, w):
                    raise JadisError(f"{shorten(req_url)}: the service returned {arr.shape[1]}x{arr.shape[0]} "
                                     f"pixels, expected {w}x{h}")
                ds.write(np.moveaxis(arr, -1, 0), window=Window(col, row, w, h))
    return dest


def _resize(arr: np.ndarray, w: int, h: int) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(arr).resize((w, h), Image.Resampling.LANCZOS))


# -- scans given as a path or a URL -------------------------------------------------------------------
def resolve_scan_service(source: str | os.PathLike[str], scale: float = 1.0,
                         cache_dir: str | os.PathLike[str] | None = None) -> tuple[Path, ImageService | None]:
    """``(local file, service)`` of a scan given as a path (service None) or an IIIF Image URL."""
    if is_url(source):
        service = read_info(str(source), cache_dir)
        return fetch_image(service, scale=scale, cache_dir=cache_dir), service
    return Path(source), None


def resolve_scan(source: str | os.PathLike[str], scale: float = 1.0,
                 cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """A local file for a scan given as a path (returned as is) or an IIIF Image service URL
    (downloaded into the cache once; see :func:`fetch_image`)."""
    return resolve_scan_service(source, scale, cache_dir)[0]
