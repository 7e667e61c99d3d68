"""Batch processing of many maps on a Dask cluster: segment -> georef -> names -> warp.

What runs where:

* the **driver** (the ``jadis batch`` process) expands the sources, registers the scans in the
  project, decides which steps of which map are still to do, submits them to Dask, and is the only
  process that writes to the project store: it stores each result as soon as its task completes
  (one short write transaction per step), so the app shows maps as they finish;
* the **workers** compute: each step is a pure function of files (:func:`run_step`) that writes
  its products into ``PROJECT/runs/map<ID>/batch/`` under temporary names renamed when complete, and
  returns what the driver needs (paths, a georeference, a summary). Workers never open the
  GeoPackage. On a multi-node cluster the project folder and the scans must be on storage every
  worker sees at the same path.

Resumable: the state of each map's steps is in the store (``batch_steps``; the latest attempt wins,
view ``batch_steps_current``). A step is done when the batch recorded it done, or when the store
already holds its product (a segmentation, a georeference, a name reading); a rerun does only the
rest. A process killed at any point loses at most the steps that were running. A failed step
records its reason; the map's later steps are skipped, the other maps go on. Each run writes a
report CSV ``PROJECT/runs/batch-<time>.csv`` (map, step, status, seconds, message).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as _dt
import io
import json
import os
import re
import socket
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from jadis.errors import JadisError

#: The steps, in the order each map goes through them.
STEPS = ("segment", "georef", "names", "warp")

#: Image files a folder source contributes (case-insensitive suffixes).
IMAGE_SUFFIXES = (".tif", ".tiff", ".jpg", ".jpeg", ".png", ".jp2")

#: Seconds between two rewrites of the report CSV while a batch runs (it is rewritten at the end too).
REPORT_EVERY_S = 10.0

_URL_PREFIXES = ("http://", "https://")


# --- sources ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Source:
    """One map to process: a local scan (``path``) or a remote one (``url``), with optional metadata."""

    path: Path | None = None
    url: str | None = None
    year: int | None = None
    title: str | None = None
    origin: str = ""  #: where it was listed (the argument, or ``file.csv:line``)
    image_service: object | None = None  #: the IIIF Image service a remote scan came from (ImageService)

    @property
    def label(self) -> str:
        return self.title or (self.path.name if self.path is not None else str(self.url))


def parse_steps(text: str | Sequence[str]) -> tuple[str, ...]:
    """``"segment,georef"`` -> the steps in pipeline order (JadisError for an unknown one)."""
    items = text.split(",") if isinstance(text, str) else list(text)
    wanted = {s.strip().lower() for s in items if s.strip()}
    unknown = sorted(wanted - set(STEPS))
    if unknown:
        raise JadisError(f"unknown step(s) {', '.join(unknown)}; choose among {', '.join(STEPS)}")
    if not wanted:
        raise JadisError(f"no steps given; choose among {', '.join(STEPS)}")
    return tuple(s for s in STEPS if s in wanted)


def _is_iiif_json(path: Path) -> bool:
    if path.suffix.lower() != ".json":
        return False
    with contextlib.suppress(OSError, ValueError, UnicodeDecodeError):
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict):
            kind = str(data.get("type") or data.get("@type") or "")
            return "Manifest" in kind or "Collection" in kind or "iiif" in str(data.get("@context", ""))
    return False


def expand_sources(sources: Iterable[str | os.PathLike[str]]) -> list[Source]:
    """Scan files, folders of scans (recursively, sorted), CSV lists, URLs and IIIF manifests -> sources.

    A CSV needs a ``path`` or ``url`` column (one of them per row; relative paths are relative to
    the CSV's folder), and may have ``year`` and ``title``. Raises JadisError for a missing file,
    an empty folder or a malformed CSV, before anything is registered.
    """
    out: list[Source] = []
    for raw in sources:
        text = os.fspath(raw)
        if text.startswith(_URL_PREFIXES):
            out.append(Source(url=text, origin=text))
            continue
        path = Path(text).expanduser()
        if not path.exists():
            raise JadisError(f"{path}: no such file or folder")
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                           and not p.name.startswith("."))
            if not found:
                raise JadisError(f"{path}: no scans in this folder ({', '.join(IMAGE_SUFFIXES)})")
            out.extend(Source(path=p, origin=text) for p in found)
        elif path.suffix.lower() == ".csv":
            out.extend(_csv_sources(path))
        elif _is_iiif_json(path):
            out.append(Source(url=path.resolve().as_uri(), origin=text))
        else:
            out.append(Source(path=path, origin=text))
    if not out:
        raise JadisError("no sources given")
    return out


def _csv_sources(path: Path) -> list[Source]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise JadisError(f"{path}: not a UTF-8 text file") from exc
    reader = csv.DictReader(io.StringIO(text))
    columns = {c.strip().lower(): c for c in (reader.fieldnames or []) if c}
    if "path" not in columns and "url" not in columns:
        raise JadisError(f"{path}: a batch list needs a 'path' or 'url' column (and optionally 'year', 'title')")
    out = []
    for line, row in enumerate(reader, start=2):
        def get(key: str, row: dict = row) -> str:
            return (row.get(columns[key]) or "").strip() if key in columns else ""

        where = f"{path.name}:{line}"
        location, url = get("path"), get("url")
        if not location and not url:
            if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
                continue  # a blank line
            raise JadisError(f"{where}: no path or url")
        year = None
        if get("year"):
            try:
                year = int(float(get("year")))
            except ValueError as exc:
                raise JadisError(f"{where}: year {get('year')!r} is not a number") from exc
        title = get("title") or None
        if location.startswith(_URL_PREFIXES):
            location, url = "", location
        if location:
            scan = Path(location).expanduser()
            if not scan.is_absolute():
                scan = path.parent / scan
            if not scan.is_file():
                raise JadisError(f"{where}: {scan}: no such file")
            out.append(Source(path=scan, year=year, title=title, origin=where))
        else:
            out.append(Source(url=url, year=year, title=title, origin=where))
    return out


#: How deep ``jadis batch`` follows IIIF collections inside collections.
MAX_COLLECTION_DEPTH = 4

_PRESENTATION_KINDS = ("Manifest", "Collection")
_FULL_IMAGE = re.compile(r"/(full|square|\d+,\d+,\d+,\d+|pct:[^/]+)/[^/]+/!?\d+(\.\d+)?/[^/]+\.\w+$")


def _kind(data: object) -> str:
    """``Manifest``, ``Collection`` or ``""`` for a IIIF Presentation 2 (``sc:Manifest``) or 3 document."""
    if not isinstance(data, dict):
        return ""
    raw = data.get("type") or data.get("@type") or ""
    raw = " ".join(raw) if isinstance(raw, list) else str(raw)
    return next((k for k in _PRESENTATION_KINDS if k in raw), "")


def _label(value: object) -> str | None:
    """A IIIF label as text: a string, a v2 ``{"@value"}`` / list, or a v3 language map."""
    if isinstance(value, str):
        return " ".join(value.split()) or None
    if isinstance(value, list):
        return next((t for t in (_label(v) for v in value) if t), None)
    if isinstance(value, dict):
        if "@value" in value:
            return _label(value["@value"])
        for key in ("none", "fr", "en", *value):
            if key in value and (text := _label(value[key])):
                return text
    return None


def _first(value: object) -> object:
    return value[0] if isinstance(value, list) and value else value


def _id(value: object) -> str | None:
    if isinstance(value, dict):
        value = value.get("id") or value.get("@id")
    return value if isinstance(value, str) and value else None


def _canvas_service(canvas: dict) -> str | None:
    """The IIIF Image service base URL of a canvas (v2 ``images[0].resource.service``, v3
    ``items[0].items[0].body.service``), or the service a full-image URL belongs to."""
    if "images" in canvas:  # Presentation 2
        body = _first(canvas.get("images"))
        body = body.get("resource") if isinstance(body, dict) else None
    else:  # Presentation 3
        page = _first(canvas.get("items"))
        anno = _first(page.get("items")) if isinstance(page, dict) else None
        body = _first(anno.get("body")) if isinstance(anno, dict) else None
    if isinstance(body, dict) and isinstance(body.get("items"), list) and "service" not in body:  # a Choice
        body = _first(body["items"])
    if not isinstance(body, dict):
        return None
    service = _id(_first(body.get("service")))
    if service:
        from jadis.io.iiif import service_base

        return service_base(service)
    image = _id(body)
    if image and _FULL_IMAGE.search(image):
        return _FULL_IMAGE.sub("", image)
    return None


def _load_json(url: str) -> object:
    if url.startswith("file:"):
        from urllib.request import url2pathname

        path = Path(url2pathname(url[len("file:"):].removeprefix("//")))
        try:
            return json.loads(path.read_text(encoding="utf-8-sig"))
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise JadisError(f"{path}: not a readable IIIF JSON file ({exc})") from exc
    from jadis.io.iiif import http_get

    try:
        return json.loads(http_get(url).decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise JadisError(f"{url}: not valid JSON ({exc})") from exc


def _probe(url: str) -> object | None:
    """The JSON at ``url`` if it answers with JSON at once, else None (an Image service base URL
    typically answers with a redirect to ``info.json`` or with HTML)."""
    from jadis.io.iiif import http_get

    with contextlib.suppress(JadisError, UnicodeDecodeError, ValueError):
        return json.loads(http_get(url, retries=0, timeout=30).decode("utf-8-sig"))
    return None


def iiif_sources(source: Source, max_depth: int = MAX_COLLECTION_DEPTH) -> list[Source]:
    """A remote source -> the maps it holds, each with ``url`` an IIIF Image service base URL.

    An IIIF Presentation API 2 or 3 manifest gives one map per canvas (titled by the canvas's label,
    else the manifest's with the canvas number); a collection gives the maps of its manifests, and
    of its sub-collections down to ``max_depth`` levels. Any other URL is taken as an Image service
    (returned as is). Raises JadisError for a manifest without any canvas with an image service.
    """
    url = str(source.url)
    lowered = url.lower()
    if url.startswith("file:") or lowered.endswith(".json") and not lowered.endswith("/info.json") or any(
            k in lowered for k in ("manifest", "collection")):
        data = _load_json(url)
    elif lowered.endswith("/info.json"):
        return [source]
    else:
        data = _probe(url)
    if not _kind(data):
        context = str(data.get("@context", "")) if isinstance(data, dict) else ""
        if url.startswith("file:") or "iiif.io/api/presentation" in context:
            raise JadisError(f"{source.origin}: not a IIIF manifest or collection")
        return [source]
    out: list[Source] = []
    _walk(data, url, source, max_depth, set(), out)
    if not out:
        raise JadisError(f"{source.origin}: no canvas with an IIIF Image service in this "
                         f"{_kind(data).lower()}")
    return out


def _walk(data: dict, url: str, source: Source, depth: int, seen: set[str], out: list[Source]) -> None:
    if url in seen:
        return
    seen.add(url)
    if _kind(data) == "Manifest":
        sequence = _first(data.get("sequences"))  # Presentation 2; 3: the manifest's items
        canvases = sequence.get("canvases") if isinstance(sequence, dict) else data.get("items")
        canvases = [c for c in canvases or [] if isinstance(c, dict)]
        title = _label(data.get("label"))
        for i, canvas in enumerate(canvases, start=1):
            service = _canvas_service(canvas)
            if service is None:
                continue
            name = _label(canvas.get("label")) or (title if len(canvases) == 1 else
                                                   f"{title} ({i})" if title else None)
            out.append(Source(url=service, year=source.year, title=name or source.title,
                              origin=f"{source.origin} canvas {i}"))
        return
    if depth <= 0:
        raise JadisError(f"{source.origin}: IIIF collections nested too deep (collection {url})")
    members = [m for key in ("manifests", "collections", "members", "items") for m in data.get(key) or []
               if isinstance(m, dict) and _kind(m)]
    for member in members:
        child_url = _id(member) or url
        child = member
        has_content = any(k in member for k in ("sequences", "manifests", "collections", "members")) or (
            isinstance(member.get("items"), list) and member["items"])
        if not has_content:  # a reference: fetch it
            if child_url in seen:
                continue
            child = _load_json(child_url)
            if not _kind(child):
                raise JadisError(f"{child_url}: not a IIIF manifest or collection")
        _walk(child, child_url, source, depth - 1, seen, out)


def _resolve_remote(source: Source, cache: Path) -> Source:
    """An IIIF Image service URL -> a local scan, through :func:`jadis.io.iiif.resolve_scan` (downloaded
    into ``cache`` once), with its service (for the georeference annotation's target)."""
    try:
        from jadis.io.iiif import resolve_scan_service
    except ImportError as exc:
        raise JadisError(f"{source.origin}: remote sources are not supported in this installation "
                         "(download the scans and list their paths)") from exc
    path, service = resolve_scan_service(str(source.url), cache_dir=cache)
    return Source(path=Path(path), year=source.year, title=source.title, origin=source.origin,
                  image_service=service)


# --- the project side (driver only) --------------------------------------------------------------

@dataclass
class Row:
    """One line of the report."""

    map: str
    step: str
    status: str  #: done | failed | skipped | already done
    seconds: float | None = None
    message: str = ""
    map_id: int | None = None


@dataclass
class BatchReport:
    run_id: int
    rows: list[Row] = field(default_factory=list)
    report_path: Path | None = None
    dashboard: str | None = None

    def count(self, status: str) -> int:
        return sum(1 for r in self.rows if r.status == status)


def _step_done_in_store(conn: sqlite3.Connection, map_id: int, step: str) -> bool:
    """Whether the store already holds the product of ``step`` for the map (made by a batch or not)."""
    row = conn.execute("SELECT status FROM batch_steps_current WHERE map_id = ? AND step = ?",
                       (map_id, step)).fetchone()
    if row is not None and row["status"] == "done":
        return True
    if step == "segment":
        return conn.execute("SELECT 1 FROM seg_tiles WHERE map_id = ? LIMIT 1", (map_id,)).fetchone() is not None
    if step == "georef":
        return conn.execute("SELECT 1 FROM georefs WHERE map_id = ? LIMIT 1", (map_id,)).fetchone() is not None
    if step == "names":
        return conn.execute("SELECT 1 FROM name_runs WHERE map_id = ? LIMIT 1", (map_id,)).fetchone() is not None
    return False


def step_states(project, map_ids: Sequence[int] | None = None) -> dict[int, dict[str, dict]]:
    """``{map_id: {step: {"status", "message", "created_at", "seconds"}}}`` of the latest batch attempts,
    with ``done`` filled in for products the store holds from outside the batch (``message``: how)."""
    out: dict[int, dict[str, dict]] = {}
    with project.connection() as conn:
        ids = list(map_ids) if map_ids is not None else [int(r[0]) for r in conn.execute("SELECT fid FROM maps")]
        for map_id in ids:
            steps: dict[str, dict] = {}
            for row in conn.execute("SELECT step, status, message, created_at, seconds FROM batch_steps_current "
                                    "WHERE map_id = ?", (map_id,)):
                steps[row["step"]] = dict(row)
            for step in STEPS:  # the planner's rule: a product in the store counts as done
                if steps.get(step, {}).get("status") != "done" and _step_done_in_store(conn, map_id, step):
                    steps[step] = {"status": "done", "message": "in the project (not by a batch)",
                                   "created_at": None, "seconds": None}
            out[map_id] = steps
    return out


def _record_step(conn: sqlite3.Connection, run_id: int, map_id: int, step: str, status: str, message: str,
                 output: dict | None, seconds: float | None, worker: str | None) -> None:
    from jadis.project.workspace import now

    conn.execute("INSERT INTO batch_steps (run_id, map_id, step, status, message, output, seconds, worker, "
                 "created_at) VALUES (?,?,?,?,?,?,?,?,?)",
                 (run_id, map_id, step, status, message[:2000],
                  json.dumps(output, ensure_ascii=False) if output else None,
                  None if seconds is None else round(float(seconds), 3), worker, now()))


def _register(project, source: Source, author: str | None) -> tuple[object, bool]:
    """The map of a source: the one already registered from the same file (same path, or else same
    checksum), else a new one. A rerun finds its maps by path without reading the scans again."""
    from jadis.project.maps import add_map, get_map, sha256_file

    with project.connection() as conn:
        row = conn.execute("SELECT fid FROM maps WHERE path = ?", (project.relative(source.path),)).fetchone()
    if row is None:
        digest = sha256_file(source.path)
        with project.connection() as conn:
            row = conn.execute("SELECT fid FROM maps WHERE sha256 = ?", (digest,)).fetchone()
    if row is not None:
        record = get_map(project, int(row["fid"]))
        if source.year is not None and record.year is None:
            with project.transaction() as conn:
                conn.execute("UPDATE maps SET year = ? WHERE fid = ?", (int(source.year), record.id))
            record = get_map(project, record.id)
        return record, False
    return add_map(project, source.path, name=source.title, year=source.year, author=author), True


# --- the worker side ------------------------------------------------------------------------------

_PREDICTORS: dict[tuple[str, str], object] = {}


def _predictor(checkpoint: str | None, device: str):
    """The segmentation model, loaded once per worker process."""
    from jadis.segment.predictor import load_predictor

    key = (str(checkpoint or ""), device)
    if key not in _PREDICTORS:
        _PREDICTORS[key] = load_predictor(checkpoint, device=device)
    return _PREDICTORS[key]


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return f"{socket.gethostname()}:{os.getpid()}"


def run_step(step: str, job: dict) -> dict:
    """Compute one step of one map on a worker; never touches the project store.

    ``job``: ``scan`` (path), ``out_dir`` (the map's batch folder), ``classes`` (the map's class raster,
    from its segment step), ``georef`` (a Georeference, for warp), ``year``, ``checkpoint``,
    ``device``, ``reference``, ``transform``. Returns ``{"step", "seconds", "worker", "output": {...}}``
    plus what the driver stores (``classes``, ``georef``, ``names_path``). Errors propagate.
    """
    started = time.perf_counter()
    delay = float(os.environ.get("JADIS_BATCH_DELAY_S", "0") or 0)  # tests: a slow step, to be interrupted
    if delay > 0:
        time.sleep(delay)
    out_dir = Path(job["out_dir"])
    out_dir.mkdir(parents=True, exist_ok=True)
    result: dict = {"step": step, "worker": _worker_name()}
    if step == "segment":
        from jadis.pipelines.scan import segment_image

        seg = segment_image(job["scan"], out_dir, vectorize=False, progress=False, checkpoint=job.get("checkpoint"),
                            predictor=_predictor(job.get("checkpoint"), job.get("device", "cpu")))
        result["classes"] = str(seg.classes_path)
        result["output"] = {"classes": str(seg.classes_path), "megapixels": round(seg.megapixels, 3)}
    elif step == "georef":
        result.update(_georef(job, out_dir))
    elif step == "names":
        result.update(_names(job, out_dir))
    elif step == "warp":
        from jadis.georef.warp import warp

        dest = out_dir / f"{Path(job['scan']).stem}_cog.tif"
        warp(job["scan"], job["georef"], dest, progress=False)
        result["output"] = {"cog": str(dest)}
    else:
        raise JadisError(f"unknown step {step!r}")
    result["seconds"] = time.perf_counter() - started
    with contextlib.suppress(ImportError, OSError):
        import resource  # the worker's peak memory so far (Linux: KiB), in the step's stored output

        result["output"]["worker_peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return result


def run_step_safe(step: str, job: dict) -> dict:
    """:func:`run_step`, with an ordinary failure returned as ``{"error": message}`` (with the seconds
    and the worker) instead of raised, so the report says how long it took and where."""
    started = time.perf_counter()
    try:
        return run_step(step, job)
    except Exception as exc:  # noqa: BLE001 - any failure of one map's step is that map's, not the batch's
        return {"step": step, "error": _one_line(exc), "seconds": time.perf_counter() - started,
                "worker": _worker_name()}


def _georef(job: dict, out_dir: Path) -> dict:
    from jadis.georef.auto import AutoOptions, auto_georeference, write_result

    source = job.get("classes") or job["scan"]
    options = AutoOptions(transform=job.get("transform") or "auto", checkpoint=job.get("checkpoint"),
                          device=job.get("device", "cpu"))
    late = {}
    if job.get("classes"):  # the names read on it, only when the search fails without them

        def read() -> list:
            from jadis.georef.auto_names import read_name_cues

            return read_name_cues(job["scan"], job["classes"], year=job.get("year"), progress=False)

        late = {"read_names": read, "year": job.get("year")}
    found = auto_georeference(source, job.get("reference"), options, progress=False,
                              scan=job["scan"] if job.get("classes") else None,  # the printed grid is looked for on it
                              **late)
    service = job.get("image_service")
    if service is not None:  # a scan from IIIF: the annotation targets its service (opens in Allmaps)
        from dataclasses import replace

        found = replace(found, georef=replace(found.georef, image=service.id, image_service=service))
    path = write_result(found, out_dir / "georef.json")
    summary = found.summary()
    return {"georef": found.georef,
            "output": {"annotation": str(path), "confidence": summary.get("confidence"),
                       "cv_error_m": summary.get("cv_error_m"), "transform": found.georef.transform}}


def _names(job: dict, out_dir: Path) -> dict:
    """:func:`jadis.project.names.read_street_names` without the store: from the class raster file."""
    import uuid
    import warnings

    import rasterio
    from rasterio.errors import NotGeoreferencedWarning
    from rasterio.windows import Window

    from jadis.io.vector import write_layers
    from jadis.ocr.layers import name_layers
    from jadis.ocr.mapread import MIN_NAME_SCORE
    from jadis.vectorize.layers import vectorize_windows

    classes = job.get("classes")
    if not classes:
        raise JadisError("no segmentation to read the names from")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(classes) as ds:
            width, height = ds.width, ds.height

            def read(x0: int, y0: int, w: int, h: int):
                return ds.read(1, window=Window(x0, y0, w, h))

            layers = vectorize_windows(read, width, height, progress=False, threads=1)
    final = out_dir / "names.gpkg"
    tmp = out_dir / f".names-{uuid.uuid4().hex[:12]}.gpkg"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            write_layers(tmp, layers)
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            local = None
            if job.get("georef") is not None:  # the streets around each line (jadis.ocr.place)
                from jadis.project.names import local_names_of

                local = local_names_of(job["georef"], (width, height), job.get("year"))
            name_layers(tmp, job["scan"], year=job.get("year"), min_score=MIN_NAME_SCORE, progress=False,
                        local=local)
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    return {"names_path": str(final), "min_score": MIN_NAME_SCORE, "output": {"names": str(final)}}


# --- the driver -------------------------------------------------------------------------------------

@dataclass
class _MapJob:
    record: object  # MapRecord
    todo: list[str]
    job: dict
    failed: bool = False


def _client(scheduler: str | None, workers: int, processes: bool, dashboard_address: str | None,
            memory_limit: str | None):
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            return Client(scheduler, timeout="20s"), None
        except (OSError, TimeoutError) as exc:
            raise JadisError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from exc
    threads = max(1, (os.cpu_count() or 1) // max(1, workers))
    kwargs: dict = {"n_workers": workers, "threads_per_worker": 1, "processes": processes,
                    "dashboard_address": dashboard_address or ":0"}
    if processes:  # threads of this process talk in-process (inproc://), not over TCP
        kwargs["host"] = "127.0.0.1"
    if memory_limit:
        kwargs["memory_limit"] = memory_limit
    if processes:  # each worker process computes with its share of the cores (torch, GDAL, OpenCV)
        env = {k: str(threads) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
        kwargs["env"] = env
    import logging

    logging.getLogger("distributed").setLevel(logging.ERROR)
    with contextlib.redirect_stderr(io.StringIO()):
        cluster = LocalCluster(**kwargs)
    return Client(cluster), cluster


def _dashboard(client) -> str | None:
    try:
        import bokeh  # noqa: F401  (the dashboard needs it)
    except ImportError:
        return None
    return client.dashboard_link


def run_batch(project, sources: Sequence[str | os.PathLike[str]], *, steps: Sequence[str] = STEPS,
              workers: int = 1, scheduler: str | None = None, processes: bool = True,
              dashboard_address: str | None = "127.0.0.1:8787", memory_limit: str | None = None,
              checkpoint: str | os.PathLike[str] | None = None, device: str = "cpu",
              reference: str | os.PathLike[str] | None = None, transform: str = "auto",
              retry_failed: bool = True, author: str | None = None,
              echo: Callable[[str], None] | None = None, progress: bool = True,
              expanded: list[Source] | None = None) -> BatchReport:
    """Run ``steps`` on every map of ``sources`` on a Dask cluster; store results as they come.

    ``scheduler``: the address of an existing cluster (``tcp://host:8786``), else a LocalCluster of
    ``workers`` processes on 127.0.0.1 (``processes`` False: threads of this process). Steps already
    done are skipped; failed ones are tried again unless ``retry_failed`` is False. Returns the
    :class:`BatchReport`; the report CSV is written into ``PROJECT/runs/``. ``expanded``: the
    result of :func:`expand_sources` for ``sources`` when the caller already checked them.
    """
    from jadis.project.workspace import clean_author, now

    echo = echo or (lambda _msg: None)
    steps = parse_steps(steps)
    author = clean_author(author)
    if expanded is None:
        expanded = expand_sources(sources)  # all sources checked before anything runs
    if workers < 1:
        raise JadisError("--workers must be at least 1")
    started_at = _dt.datetime.now(_dt.timezone.utc)
    stamp = started_at.strftime("%Y%m%dT%H%M%S")
    report_path = project.inside("runs", f"batch-{stamp}-{os.getpid()}.csv")
    with project.transaction() as conn:
        cur = conn.execute("INSERT INTO batch_runs (started_at, steps, sources, scheduler, workers, report, author) "
                           "VALUES (?,?,?,?,?,?,?)",
                           (now(), ",".join(steps), json.dumps([os.fspath(s) for s in sources])[:4000],
                            scheduler or "local", None if scheduler else workers, project.relative(report_path),
                            author))
        run_id = int(cur.lastrowid)
    report = BatchReport(run_id=run_id, report_path=report_path)
    last_write = [time.monotonic()]

    def flush(force: bool = False) -> None:
        if force or time.monotonic() - last_write[0] > REPORT_EVERY_S:
            _write_report(report_path, report.rows)
            last_write[0] = time.monotonic()

    try:
        jobs = _plan(project, expanded, steps, report, author, retry_failed, checkpoint, device, reference,
                     transform)
        _record_rejects(project, run_id, report)
        pending = sum(len(j.todo) for j in jobs)
        echo(f"batch run #{run_id}: {len(jobs)} map(s), steps {', '.join(steps)}: {pending} step(s) to run, "
             f"{report.count('already done')} already done")
        if pending:
            client, cluster = _client(scheduler, workers, processes, dashboard_address, memory_limit)
            try:
                report.dashboard = _dashboard(client)
                n = len(client.scheduler_info(n_workers=-1).get("workers", {})) if scheduler else workers
                echo(f"dask: {'scheduler ' + scheduler if scheduler else 'local cluster'}, {n} worker(s); "
                     f"dashboard: {report.dashboard or 'not available (install bokeh)'}")
                _execute(project, client, jobs, steps, report, run_id, flush, progress)
            finally:
                with contextlib.redirect_stderr(io.StringIO()):
                    client.close()
                    if cluster is not None:
                        cluster.close()
    finally:
        _write_report(report_path, report.rows)
        with contextlib.suppress(sqlite3.Error), project.transaction() as conn:
            conn.execute("UPDATE batch_runs SET finished_at = ?, n_maps = ?, n_done = ?, n_failed = ? WHERE fid = ?",
                         (now(), len({r.map for r in report.rows}), report.count("done"), report.count("failed"),
                          run_id))
    return report


def _record_rejects(project, run_id: int, report: BatchReport) -> None:
    """Keep in the store, with their reason, the sources that could not be registered as maps."""
    from jadis.project.workspace import now

    rejected = [r for r in report.rows if r.step == "register" and r.status == "failed"]
    if rejected:
        with project.transaction() as conn:
            conn.executemany("INSERT INTO batch_rejects (run_id, source, reason, created_at) VALUES (?,?,?,?)",
                             [(run_id, r.map, (r.message or "")[:2000], now()) for r in rejected])


def rejected_sources(project) -> list[dict]:
    """The sources the latest batch run could not register as maps: ``source``, ``reason``, ``created_at``."""
    with project.connection() as conn:
        return [dict(r) for r in conn.execute(
            "SELECT source, reason, created_at FROM batch_rejects "
            "WHERE run_id = (SELECT MAX(fid) FROM batch_runs) ORDER BY fid")]


def _plan(project, expanded: list[Source], steps: tuple[str, ...], report: BatchReport, author: str,
          retry_failed: bool, checkpoint, device: str, reference, transform: str) -> list[_MapJob]:
    """Register the sources' maps; list what each still needs (failures to register are reported)."""
    jobs: dict[int, _MapJob] = {}
    cache = project.inside("cache", "remote")
    for source in expanded:
        try:
            items = [source] if source.path is not None else iiif_sources(source)
        except (JadisError, OSError) as exc:
            report.rows.append(Row(source.label, "register", "failed", None, _one_line(exc)))
            continue
        for item in items:
            try:
                src = item if item.path is not None else _resolve_remote(item, cache)
                record, _new = _register(project, src, author)
                if record.id in jobs:
                    continue
                jobs[record.id] = _MapJob(record, [], {
                    "scan": str(record.path), "year": record.year, "out_dir": str(_map_dir(project, record.id)),
                    "checkpoint": None if checkpoint is None else str(checkpoint), "device": device,
                    "reference": None if reference is None else str(reference), "transform": transform,
                    "image_service": src.image_service})
            except (JadisError, OSError) as exc:
                report.rows.append(Row(item.label, "register", "failed", None, _one_line(exc)))
    with project.connection() as conn:
        for job in jobs.values():
            for step in steps:
                latest = conn.execute("SELECT status FROM batch_steps_current WHERE map_id = ? AND step = ?",
                                      (job.record.id, step)).fetchone()
                if _step_done_in_store(conn, job.record.id, step):
                    report.rows.append(Row(job.record.name, step, "already done", map_id=job.record.id))
                elif latest is not None and latest["status"] == "failed" and not retry_failed:
                    report.rows.append(Row(job.record.name, step, "skipped", None, "failed before (not retried)",
                                           job.record.id))
                    break
                else:
                    job.todo.append(step)
    return list(jobs.values())


def _map_dir(project, map_id: int) -> Path:
    return project.inside("runs", f"map{map_id}", "batch")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 500 else text[:497] + "…"


def _prepare(project, job: _MapJob, step: str) -> None:
    """Fill in what ``step`` needs from the store when the previous step did not run in this batch."""
    from jadis.project.georefs import load_georef
    from jadis.project.tiles import has_tiles, write_class_raster

    if step in ("georef", "names") and not job.job.get("classes"):
        with project.connection() as conn:
            segmented = has_tiles(conn, job.record.id)
        if segmented:  # the current segmentation, corrections included
            job.job["classes"] = str(write_class_raster(project, job.record.id,
                                                        Path(job.job["out_dir"]) / "classes_current.tif"))
    if step in ("warp", "names") and job.job.get("georef") is None:
        current = load_georef(project, job.record.id)
        if current is None and step == "warp":
            raise JadisError("the map has no georeference to warp with (run the georef step first)")
        if current is not None:   # names: read with the streets around each line
            job.job["georef"] = current.georef


def _store(project, job: _MapJob, step: str, result: dict, run_id: int) -> str:
    """Write one step's result into the project (driver only); return the report message."""
    from jadis.project.workspace import clean_author

    map_id = job.record.id
    output = dict(result.get("output") or {})
    for key in list(output):
        if isinstance(output[key], str) and os.path.isabs(output[key]):
            output[key] = project.relative(Path(output[key]))
    message = ""
    if step == "segment":
        from jadis.project.tiles import import_class_raster

        seg_run = import_class_raster(project, map_id, result["classes"], source="model", detail=f"batch run #{run_id}",
                                      author=clean_author(None))
        job.job["classes"] = result["classes"]
        output["seg_run"] = seg_run
        message = f"segmentation run #{seg_run}"
    elif step == "georef":
        from jadis.project import georefs

        with project.connection() as conn:
            base = georefs.current_version(conn, map_id)
        version = georefs.save_georef(project, map_id, result["georef"], base_version=base, source="auto")
        job.job["georef"] = result["georef"]
        output["version"] = version
        message = (f"georeference v{version} ({output.get('transform')}, confidence {output.get('confidence')}, "
                   f"cv {output.get('cv_error_m')} m)")
    elif step == "names":
        from jadis.project.names import _read_layers, _seg_mark, save_name_run

        with project.connection() as conn:
            mark = _seg_mark(conn, map_id)
        layers = _read_layers(Path(result["names_path"]))
        name_run = save_name_run(project, map_id, layers, detail=f"min_score={result['min_score']:g}; batch run "
                                 f"#{run_id}", seg_mark=mark)
        output["name_run"] = name_run.id if hasattr(name_run, "id") else None
        message = f"name reading #{output['name_run']}"
    elif step == "warp":
        message = f"warped to {output.get('cog')}"
    with project.transaction() as conn:
        _record_step(conn, run_id, map_id, step, "done", message, output, result.get("seconds"), result.get("worker"))
    return message


def _execute(project, client, jobs: list[_MapJob], steps: tuple[str, ...], report: BatchReport, run_id: int,
             flush: Callable[[bool], None], progress: bool) -> None:
    from distributed import as_completed

    from jadis.progress import make_progress

    totals = {s: sum(1 for j in jobs if s in j.todo) for s in steps}
    bars = make_progress() if progress else None
    with bars if bars is not None else contextlib.nullcontext():
        tasks = {s: bars.add_task(s, total=totals[s]) for s in steps if totals[s]} if bars is not None else {}
        futures: dict = {}
        ac = as_completed()

        def submit(job: _MapJob) -> None:
            while job.todo:
                step = job.todo[0]
                try:
                    _prepare(project, job, step)
                except (JadisError, OSError, sqlite3.Error) as exc:
                    finish_failed(job, step, exc, None, None)
                    return
                payload = {k: v for k, v in job.job.items()}
                # later steps first, so maps finish one by one instead of every map waiting at the last step
                future = client.submit(run_step_safe, step, payload, key=f"{step}-map{job.record.id}-run{run_id}",
                                       priority=STEPS.index(step), pure=False)
                futures[future] = (job, step, time.perf_counter())
                ac.add(future)
                return

        def finish_failed(job: _MapJob, step: str, exc: BaseException | str, seconds: float | None,
                          worker: str | None) -> None:
            message = exc if isinstance(exc, str) else _one_line(exc)
            with project.transaction() as conn:
                _record_step(conn, run_id, job.record.id, step, "failed", message, None, seconds, worker)
            report.rows.append(Row(job.record.name, step, "failed", seconds, message, job.record.id))
            job.failed = True
            for later in job.todo[1:]:
                report.rows.append(Row(job.record.name, later, "skipped", None, f"{step} failed", job.record.id))
                if bars is not None and later in tasks:
                    bars.advance(tasks[later])
            if bars is not None and step in tasks:
                bars.advance(tasks[step])
            job.todo.clear()

        for job in jobs:
            submit(job)
        for future in ac:
            job, step, t0 = futures.pop(future)
            if future.status == "error":
                exc = future.exception()
                finish_failed(job, step, exc, time.perf_counter() - t0, None)
            elif (result := future.result()).get("error"):
                finish_failed(job, step, result["error"], result.get("seconds"), result.get("worker"))
            else:
                try:
                    message = _store(project, job, step, result, run_id)
                except (JadisError, OSError, sqlite3.Error, ValueError) as exc:
                    finish_failed(job, step, exc, result.get("seconds"), result.get("worker"))
                else:
                    report.rows.append(Row(job.record.name, step, "done", result.get("seconds"), message,
                                           job.record.id))
                    job.todo.pop(0)
                    if bars is not None and step in tasks:
                        bars.advance(tasks[step])
                    submit(job)
            future.release()
            flush(False)


def _write_report(path: Path, rows: Sequence[Row]) -> None:
    from jadis.io.atomic import atomic_write_text

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["map", "map_id", "step", "status", "seconds", "message"])
    for r in rows:
        writer.writerow([r.map, "" if r.map_id is None else r.map_id, r.step, r.status,
                         "" if r.seconds is None else f"{r.seconds:.2f}", r.message])
    atomic_write_text(path, buf.getvalue())
