"""``jadis gazetteer fetch``: download a catalogue source once, convert it, register it as gazetteers.

Downloads are cached in ``$JADIS_HOME/downloads/<source>/`` (a complete file is reused unless
``refresh``); the gazetteers are written to ``$JADIS_HOME/gazetteers`` and recorded in its manifest
with the source URL, the date of download, the sha256 of what was downloaded and the licence. The
network is used only here. ``JADIS_FETCH_BASE_URL`` (or ``base_url``) sends every request of the
catalogue to a mirror that keeps the upstream paths (tests use a local server).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from jadis.errors import JadisError
from jadis.geocode.gazetteer import (
    GazetteerInfo,
    _read_manifest,
    user_gazetteers_dir,
    write_gazetteer,
    write_manifest,
)
from jadis.geocode.sources import (
    CATALOGUE,
    Resource,
    Source,
    dataverse_metadata_url,
    dataverse_resources,
    get_source,
    licence_terms,
)
from jadis.paths import user_home

BASE_URL_ENV = "JADIS_FETCH_BASE_URL"


@dataclass(frozen=True)
class Plan:
    """What a fetch will download, and under which terms (shown to the user before downloading)."""

    source: Source
    resources: tuple[Resource, ...]
    licence: str
    licence_url: str

    def describe(self) -> str:
        s = self.source
        lines = [f"{s.name}: {s.title}",
                 f"  licence: {self.licence}" + (f" <{self.licence_url}>" if self.licence_url else "")]
        terms = s.licence_terms or licence_terms(self.licence)
        if terms:
            lines.append(f"  terms: {terms}")
        lines.append(f"  attribution: {s.attribution}")
        lines.append(f"  becomes: {', '.join(s.outputs)} ({', '.join(s.kinds)}"
                     f"{', present-day data' if s.era == 'modern' else ''})")
        for r in self.resources:
            size = f" ({r.size / 1e6:.1f} MB)" if r.size else ""
            lines.append(f"  download: {r.url}{size}")
        return "\n".join(lines)


def downloads_dir(source: Source) -> Path:
    return user_home() / "downloads" / source.name


def rebase(url: str, base: str | None) -> str:
    """``url`` with its scheme and host (and nothing else) replaced by ``base`` (a mirror's root)."""
    if not base:
        return url
    parts = urlsplit(url)
    root = base.rstrip("/")
    if urlsplit(root).scheme not in ("http", "https"):
        raise JadisError(f"base URL must start with http:// or https://, got {root!r}")
    return f"{root}{parts.path}" + (f"?{parts.query}" if parts.query else "")


def make_plan(name: str, *, base_url: str | None = None, url: str | None = None, timeout: float = 60.0) -> Plan:
    """Resolve a source's files (a Dataverse record is read for its file list and licence)."""
    from jadis.io.download import fetch_bytes

    source = get_source(name)
    base = base_url if base_url is not None else os.environ.get(BASE_URL_ENV) or None
    if source.dataverse:
        record_url = url or rebase(dataverse_metadata_url(source.dataverse), base)
        server = "{0.scheme}://{0.netloc}".format(urlsplit(record_url))
        try:
            record = json.loads(fetch_bytes(record_url, timeout=timeout))
        except ValueError as exc:
            raise JadisError(f"{server}: the dataset record is not JSON ({str(exc).splitlines()[0]})") from exc
        resources, licence, licence_url = dataverse_resources(record, source.file_pattern, server)
        if not resources:
            raise JadisError(f"{source.dataverse}: no file matching {source.file_pattern!r} in the dataset record")
        return Plan(source, tuple(resources), licence, licence_url)
    resources = tuple(replace(r, url=rebase(r.url, base)) for r in source.resources)
    if url:
        if len(resources) != 1:
            raise JadisError(f"{name} has {len(resources)} files: --url replaces one file's URL; "
                             f"use --base-url (or ${BASE_URL_ENV}) for a mirror")
        resources = (replace(resources[0], url=url),)
    return Plan(source, resources, source.licence, source.licence_url)


def fetch(name: str, *, base_url: str | None = None, url: str | None = None,
          confirm: Callable[[Plan], bool] | None = None, refresh: bool = False, progress: bool = True,
          timeout: float = 60.0, retries: int = 3, echo: Callable[[str], None] | None = None) -> list[GazetteerInfo]:
    """Download (or reuse) a source's files, convert them and register the gazetteers.

    ``confirm`` sees the plan (licence included) and may refuse: nothing is then downloaded and an
    empty list is returned.
    """
    from jadis.io.download import download, part_path, sha256_of

    plan = make_plan(name, base_url=base_url, url=url, timeout=timeout)
    if confirm is not None and not confirm(plan):
        return []
    folder = downloads_dir(plan.source)
    files: dict[str, Path] = {}
    sums: list[str] = []
    retrieved: list[dt.date] = []
    for res in plan.resources:
        dest = folder / res.filename
        if dest.exists() and not refresh and not part_path(dest).exists():
            digest = sha256_of(dest)
            if res.sha256 and digest != res.sha256.lower():
                raise JadisError(f"cached {dest} has the wrong checksum; fetch again with --refresh")
            day = dt.date.fromtimestamp(dest.stat().st_mtime)
            if echo:
                echo(f"using the copy downloaded on {day.isoformat()}: {dest}")
        else:
            if refresh:
                dest.unlink(missing_ok=True)
            got = download(res.url, dest, sha256=res.sha256, md5=res.md5, timeout=timeout, retries=retries,
                           description=res.filename, progress=progress)
            digest, day = got.sha256, dt.date.today()
            if echo:
                echo(f"downloaded {got.size:,} bytes{' (resumed)' if got.resumed else ''}: {dest}")
        files[res.key] = dest
        sums.append(f"{res.filename} sha256:{digest}")
        retrieved.append(day)
    day = max(retrieved)
    try:
        converted = plan.source.convert(plan.source, files, day.year)
    except JadisError as exc:  # an unusable file must not stay in the cache, to be reused next time
        for path in files.values():
            path.unlink(missing_ok=True)
        raise JadisError(f"{exc} (the downloaded file was removed: fetch again once the source is fixed)") from exc
    out = user_gazetteers_dir()
    out.mkdir(parents=True, exist_ok=True)
    urls = " ; ".join(r.url for r in plan.resources)
    written = []
    for item in converted:
        info = replace(item.info, licence=plan.licence, url=urls, retrieved=day.isoformat(),
                       checksum=" ; ".join(sums), folder=str(out))
        written.append(write_gazetteer(item.frame, info, out))
    names = {i.name for i in written}
    others = [i for i in _read_manifest(out, bundled=False) if i.name not in names]
    write_manifest(out, [*others, *written])
    return written


def catalogue_rows() -> list[dict[str, str]]:
    """One row per catalogue source, with what of it is installed."""
    installed = {i.name: i for i in _read_manifest(user_gazetteers_dir(), bundled=False)}
    rows = []
    for s in CATALOGUE:
        have = [installed[n] for n in s.outputs if n in installed]
        status = f"fetched {max(i.retrieved for i in have) or '?'}" if have else "-"
        rows.append({"name": s.name, "kinds": "+".join(s.kinds), "era": s.era, "licence": s.licence,
                     "status": status, "title": s.title})
    return rows
