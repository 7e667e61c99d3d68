"""Resumable HTTP downloads that refuse truncated or corrupted files.

:func:`download` writes into ``<dest>.part`` and renames it to ``dest`` only once the file is
complete (size from the server's ``Content-Length`` / ``Content-Range``), intact (gzip and zip
files are read through, which checks their CRCs) and, when a checksum is pinned, equal to it. An
interrupted transfer keeps its ``.part`` file: the next call asks the server for the rest with an
HTTP ``Range`` header (and starts over if the server ignores it). Every failure is a one-line
:class:`~jadis.errors.JadisError`: offline, server error, truncated, bad checksum, corrupted.

Only the standard library is used (``urllib.request``).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import json
import os
import re
import socket
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from jadis.errors import JadisError, shorten

CHUNK = 256 * 1024
USER_AGENT = "jadis/0.1 (historical geocoding of Paris; Python urllib)"
#: Failures worth retrying at once (the connection dropped, the server stalled).
_TRANSIENT = (http.client.IncompleteRead, http.client.RemoteDisconnected, ConnectionResetError,
              socket.timeout, TimeoutError)


@dataclass(frozen=True)
class Downloaded:
    """A complete, checked download."""

    path: Path
    url: str
    size: int
    sha256: str
    resumed: bool  #: whether part of it came from an earlier, interrupted transfer


def part_path(dest: Path) -> Path:
    """Where an unfinished download of ``dest`` is kept."""
    return dest.with_name(dest.name + ".part")


def sha256_of(path: Path) -> str:
    return _digest(path, hashlib.sha256())


def _md5_of(path: Path) -> str:
    return _digest(path, hashlib.md5(usedforsecurity=False))


def _digest(path: Path, digest) -> str:
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_bytes(url: str, *, timeout: float = 60.0, limit: int = 50 << 20) -> bytes:
    """GET a small resource (an API's JSON answer) into memory, with the same one-line errors."""
    with _open(url, timeout=timeout) as resp:
        data = resp.read(limit + 1)
    if len(data) > limit:
        raise JadisError(f"{_host(url)}: answer larger than {limit >> 20} MiB for {shorten(url)}")
    return data


def download(url: str, dest: str | os.PathLike[str], *, sha256: str | None = None, md5: str | None = None,
             timeout: float = 60.0,
             retries: int = 3, description: str | None = None, progress: bool = True) -> Downloaded:
    """Download ``url`` to ``dest`` (resuming an earlier ``.part``); return what was downloaded.

    ``sha256`` (or ``md5``, as Dataverse publishes) pins the expected checksum (hex); ``retries`` is how many times a dropped transfer is
    resumed at once before giving up (the ``.part`` file stays for a later call).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(dest)
    resumed = part.exists() and part.stat().st_size > 0
    total: int | None = None
    attempt = 0
    while True:
        try:
            total = _transfer(url, part, timeout, description or dest.name, progress)
            break
        except _TRANSIENT as exc:
            attempt += 1
            if attempt > retries:
                have = part.stat().st_size if part.exists() else 0
                raise JadisError(f"download of {shorten(url)} stopped at {have:,} bytes "
                                 f"({type(exc).__name__}): truncated; run the same command again to resume") from exc
            resumed = True
            time.sleep(min(2.0 ** attempt * 0.1, 5.0))
    size = part.stat().st_size
    if total is not None and size != total:
        if size > total:
            part.unlink(missing_ok=True)
        raise JadisError(f"download of {shorten(url)} is truncated: {size:,} of {total:,} bytes; "
                         "run the same command again to resume")
    _check_integrity(part, dest.name, url)
    digest = sha256_of(part)
    for algo, want, got in (("sha256", sha256, digest), ("md5", md5, _md5_of(part) if md5 else "")):
        if want and got.lower() != want.lower():
            part.unlink(missing_ok=True)
            raise JadisError(f"download of {shorten(url)} has the wrong checksum ({algo} {got[:16]}…, expected "
                             f"{want[:16]}…): refused and deleted; the file changed upstream or was corrupted")
    os.replace(part, dest)
    return Downloaded(dest, url, size, digest, resumed)


# --------------------------------------------------------------------------------------------- internals


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


def _open(url: str, *, timeout: float, headers: dict[str, str] | None = None):
    """urlopen with one-line errors for everything but transient mid-transfer failures."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise JadisError(f"not an http(s) URL: {shorten(url)}")
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **(headers or {})})
    try:
        return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - http(s) checked above
    except urllib.error.HTTPError as exc:
        if exc.code == 416:
            raise
        kind = "server error" if exc.code >= 500 else "refused"
        raise JadisError(f"{_host(url)}: {kind} HTTP {exc.code} {exc.reason} for {shorten(url)}"
                         f"{'; try again later' if exc.code >= 500 else ''}") from exc
    except urllib.error.URLError as exc:
        reason = exc.reason
        why = getattr(reason, "strerror", None) or str(reason)
        raise JadisError(f"cannot reach {_host(url)} ({why}): are you offline? "
                         "jadis needs the network only for `jadis gazetteer fetch`") from exc
    except _TRANSIENT as exc:
        raise JadisError(f"{_host(url)}: no answer within {timeout:g} s ({type(exc).__name__}); try again later") \
            from exc


def _transfer(url: str, part: Path, timeout: float, description: str, progress: bool) -> int | None:
    """Append the missing bytes of ``url`` to ``part``; return the full size when the server tells it."""
    have = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={have}-", "Accept-Encoding": "identity"} if have else {"Accept-Encoding": "identity"}
    try:
        resp = _open(url, timeout=timeout, headers=headers)
    except urllib.error.HTTPError as exc:  # 416: nothing left to send (the part may be complete)
        total = _range_total(exc.headers.get("Content-Range", ""))
        if total is not None and total == have:
            return total
        part.unlink(missing_ok=True)
        return _transfer(url, part, timeout, description, progress)
    with resp:
        length = resp.headers.get("Content-Length")
        if have and resp.status == 206:
            total = _range_total(resp.headers.get("Content-Range", ""))
            mode = "ab"
        else:  # a fresh start, or a server that ignores Range: from the beginning
            total = int(length) if length and length.isdigit() else None
            have, mode = 0, "wb"
        with part.open(mode) as fh, _bar(description, total, have, progress) as advance:
            while True:
                block = resp.read(CHUNK)
                if not block:
                    break
                fh.write(block)
                advance(len(block))
        if total is not None and part.stat().st_size < total:
            raise http.client.IncompleteRead(b"", total - part.stat().st_size)
    return total


def _range_total(content_range: str) -> int | None:
    m = re.search(r"/(\d+)\s*$", content_range or "")
    return int(m.group(1)) if m else None


@contextlib.contextmanager
def _bar(description: str, total: int | None, done: int, progress: bool):
    """A byte progress bar (rich, on stderr, off when quiet or not a terminal); yields ``advance(n)``."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    from jadis.progress import console, enabled

    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                   TimeRemainingColumn(), console=console, disable=not (progress and enabled()))
    with bar:
        task = bar.add_task(description, total=total, completed=done)
        yield lambda n: bar.advance(task, n)


def _check_integrity(part: Path, name: str, url: str) -> None:
    """Read gzip and zip files through (their CRCs), parse JSON; refuse and delete a corrupted file."""
    lower = name.lower()
    try:
        if lower.endswith(".json"):
            with part.open("rb") as fh:
                json.load(fh)
        elif lower.endswith(".gz"):
            with gzip.open(part, "rb") as fh:
                while fh.read(1 << 20):
                    pass
        elif lower.endswith(".zip"):
            with zipfile.ZipFile(part) as zf:
                bad = zf.testzip()
            if bad is not None:
                raise zipfile.BadZipFile(f"bad CRC in {bad}")
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, gzip.BadGzipFile) as exc:
        part.unlink(missing_ok=True)
        raise JadisError(f"download of {shorten(url)} is corrupted ({str(exc).splitlines()[0] or type(exc).__name__}): "
                         "refused and deleted; run the command again") from exc
