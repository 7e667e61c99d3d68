"""Safe intake of files sent by users: size limits, type by magic bytes, sanitised names.

The app saves every upload through :func:`save_upload`; nothing a browser sends chooses a path:
the name is reduced to a plain file name, the bytes are checked before anything is kept, and the
file lands (atomically) inside the project folder only.
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

from jadis.errors import JadisError
from jadis.io.atomic import atomic_path

#: Default upload limits (bytes). Scans are big; CSV address lists are not.
DEFAULT_MAX_SCAN_BYTES = 2 * 1024**3
DEFAULT_MAX_CSV_BYTES = 50 * 1024**2
DEFAULT_MAX_GCP_BYTES = 5 * 1024**2

#: Magic bytes of the image formats jadis reads (``jadis.io.images.SUPPORTED_DRIVERS``).
_IMAGE_MAGIC: list[tuple[bytes, str]] = [
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"II+\x00", "tiff"),  # BigTIFF
    (b"MM\x00+", "tiff"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "jp2"),
    (b"\xff\x4f\xff\x51", "jp2"),  # raw JPEG 2000 codestream
]
IMAGE_SUFFIXES = {"jpeg": {".jpg", ".jpeg"}, "png": {".png"}, "tiff": {".tif", ".tiff"}, "jp2": {".jp2", ".j2k"}}

_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}


def max_scan_bytes() -> int:
    """The scan upload limit: ``JADIS_MAX_UPLOAD_MB`` (megabytes) if set, else 2 GiB."""
    raw = os.environ.get("JADIS_MAX_UPLOAD_MB")
    if not raw:
        return DEFAULT_MAX_SCAN_BYTES
    try:
        return int(float(raw) * 1024**2)
    except ValueError as exc:
        raise JadisError(f"JADIS_MAX_UPLOAD_MB must be a number, got {raw!r}") from exc


def safe_filename(name: str, *, default_stem: str = "file", max_length: int = 100) -> str:
    """Reduce any user-supplied name to a harmless file name (no folders, no dots first, ASCII).

    >>> safe_filename("../../etc/passwd")
    'passwd'
    >>> safe_filename("Plan de Paris (1836) é.jpg")
    'Plan_de_Paris_1836_e.jpg'
    """
    base = re.split(r"[\\/]", str(name).replace("\x00", ""))[-1]
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode("ascii")
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", base)
    base = re.sub(r"_+", "_", base).strip("._-")
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = stem.strip("._-") or default_stem
    if stem.lower() in _WINDOWS_RESERVED:
        stem = f"{stem}_"
    suffix = suffix.lower()[:10]
    keep = max_length - (len(suffix) + 1 if suffix else 0)
    stem = stem[:max(1, keep)]
    return f"{stem}.{suffix}" if suffix else stem


def sniff_image(head: bytes) -> str | None:
    """The image kind ('jpeg', 'png', 'tiff', 'jp2') from the first bytes, or None."""
    for magic, kind in _IMAGE_MAGIC:
        if head.startswith(magic):
            return kind
    return None


def check_image_bytes(name: str, data: bytes, *, max_bytes: int | None = None) -> str:
    """Check size and magic bytes of an uploaded image; return its kind, else JadisError."""
    limit = max_scan_bytes() if max_bytes is None else max_bytes
    if not data:
        raise JadisError(f"{name}: empty file")
    if len(data) > limit:
        raise JadisError(f"{name}: {len(data) / 1024**2:.0f} MB exceeds the upload limit of "
                         f"{limit / 1024**2:.0f} MB")
    kind = sniff_image(data[:16])
    if kind is None:
        raise JadisError(f"{name}: not a supported image (TIFF, JPEG, PNG or JPEG 2000 expected)")
    return kind


def check_text_bytes(name: str, data: bytes, *, max_bytes: int = DEFAULT_MAX_CSV_BYTES,
                     suffixes: tuple[str, ...] = (".csv", ".txt", ".tsv")) -> str:
    """Check an uploaded text file (CSV, .points): size, suffix, no binary content; return the text."""
    if not data:
        raise JadisError(f"{name}: empty file")
    if len(data) > max_bytes:
        raise JadisError(f"{name}: {len(data) / 1024**2:.1f} MB exceeds the limit of {max_bytes / 1024**2:.0f} MB")
    if Path(name).suffix.lower() not in suffixes:
        raise JadisError(f"{name}: expected a {' / '.join(suffixes)} file")
    if b"\x00" in data[:65536]:
        raise JadisError(f"{name}: binary content, not a text file")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise JadisError(f"{name}: cannot decode the text (save it as UTF-8)")


def unique_path(folder: Path, filename: str) -> Path:
    """``folder/filename``, or ``folder/stem_2.ext``… if taken."""
    candidate = folder / filename
    stem, suffix = Path(filename).stem, Path(filename).suffix
    n = 2
    while candidate.exists():
        candidate = folder / f"{stem}_{n}{suffix}"
        n += 1
    return candidate


def save_upload(folder: Path, name: str, data: bytes, *, max_bytes: int | None = None) -> Path:
    """Check an uploaded scan and write it atomically into ``folder`` under a sanitised name.

    ``folder`` must already be a checked location inside the project (``Project.inside("scans")``).
    The image is fully validated (decodable, within the pixel limit) before it is kept.
    """
    from jadis.io.images import check_image

    kind = check_image_bytes(name, data, max_bytes=max_bytes)
    filename = safe_filename(name, default_stem="scan")
    if Path(filename).suffix.lower() not in IMAGE_SUFFIXES[kind]:
        filename = f"{Path(filename).stem}{sorted(IMAGE_SUFFIXES[kind])[0]}"
    folder.mkdir(parents=True, exist_ok=True)
    dest = unique_path(folder, filename)
    if dest.resolve().parent != folder.resolve():
        raise JadisError(f"{name}: refusing to write outside {folder}")
    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)
        try:
            check_image(tmp)
        except JadisError as exc:
            raise JadisError(f"{name}: {str(exc).split(': ', 1)[-1]}") from exc
    return dest
