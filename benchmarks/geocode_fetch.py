"""Whole-city data fetched on demand (issue 13): match rates before and after `jadis gazetteer fetch`.

The district extracts of ../shared/data/modern (BAN addresses and Ville de Paris street names of the
Faubourg-Saint-Antoine and Butte-aux-Cailles zones, in their real formats) are served by a local
HTTP server at the upstream paths and registered through :func:`jadis.geocode.fetch.fetch`, exactly
as `jadis gazetteer fetch ban-paris` / `paris-voies` would from the internet (temporary JADIS_HOME).
Optionally (``--jacoubet``) the whole-city Jacoubet 1836 network of ../shared is served as the
GeoHistoricalData Dataverse record would serve it and fetched as ``ghd-jacoubet-1836``.

Lists: the DAS 2022 directory entries (gold.csv, 1798–1861, tags removed, each at its directory's
year) and the demo list (data/addresses_directories_1820_1861.csv, each at its year). No OSM
centre-line extract exists in ../shared, so ``osm-paris`` is not part of the run.

On paper, what the whole city would give: among the entries still unmatched, those whose street
name (normalised) is a name of a Paris thoroughfare in the bundled Wikidata names, of a street that
still has a current name — the entries the whole-city BAN + Ville de Paris names would reach.

Run: ``.venv/bin/python -m benchmarks.geocode_fetch [--jacoubet]``
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import http.server
import io
import json
import os
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import pandas as pd

from jadis.paths import data_dir, shared_data_dir

PATHS = {
    "ban": "/data/ban/adresses/latest/csv/adresses-75.csv.gz",
    "current": "/api/explore/v2.1/catalog/datasets/denominations-emprises-voies-actuelles/exports/csv",
    "obsolete": "/api/explore/v2.1/catalog/datasets/denominations-des-voies-caduques/exports/csv",
    "record": "/api/datasets/:persistentId/",
    "jacoubet": "/api/access/datafile/1",
}
ZONES = ("faubourg_saint_antoine", "butte_aux_cailles")


def _concat_csv(files: list[Path], bom: bool) -> bytes:
    """Concatenate CSV files sharing one header (kept once)."""
    parts = []
    for i, path in enumerate(files):
        text = path.read_text(encoding="utf-8-sig")
        lines = text.splitlines(keepends=True)
        parts.append(text if i == 0 else "".join(lines[1:]))
    out = "".join(parts).encode("utf-8")
    return (b"\xef\xbb\xbf" + out) if bom else out


def _jacoubet_zip(shared: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(shared / "gazetteers/jacoubet_1836_network/1836_jacoubet.gpkg", "1836_jacoubet.gpkg")
    return buf.getvalue()


def serve(routes: dict[str, bytes]) -> tuple[http.server.ThreadingHTTPServer, str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            body = routes.get(self.path.split("?", 1)[0])
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


def summarise(label: str, out: pd.DataFrame, seconds: float) -> dict:
    types = out["match_type"].value_counts()
    modern = out["match_type"].isin(["modern_address", "modern_street"])
    unc = out.loc[out["match_type"] == "modern_address", "uncertainty_m"]
    return {"list / gazetteers": label, "n": len(out), "matched": f"{(out['match_type'] != 'none').mean():.1%}",
            "address_point": types.get("address_point", 0), "interpolated": types.get("interpolated", 0),
            "street": types.get("street", 0), "modern_address": types.get("modern_address", 0),
            "modern_street": types.get("modern_street", 0), "none": types.get("none", 0),
            "on present-day data": f"{modern.mean():.1%}",
            "modern_address median unc. m": f"{unc.median():.0f}" if len(unc) else "-",
            "addr/s": f"{len(out) / seconds:,.0f}"}


def on_paper(unmatched: list[str]) -> tuple[int, int]:
    """(entries whose street is a known Paris thoroughfare name, of which the street still has a current
    name) among unmatched entries — what the whole-city present-day data + names bridge would reach."""
    from jadis.geocode.gazetteer import load_gazetteer
    from jadis.geocode.normalize import street_name
    from jadis.geocode.parse import parse_address

    wd = load_gazetteer("wikidata_street_names").frame
    current = set(wd.loc[wd["valid_to"].isna(), "entity"])
    by_core: dict[str, set] = {}
    for name, ent in zip(wd["name"].astype(str), wd["entity"], strict=True):
        by_core.setdefault(street_name(name).core, set()).add(ent)
    known = alive = 0
    for text in unmatched:
        street = parse_address(text).street
        ents = by_core.get(street_name(street).core) if street else None
        if ents:
            known += 1
            alive += bool(ents & current)
    return known, alive


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jacoubet", action="store_true", help="also fetch the whole-city Jacoubet 1836 network")
    args = ap.parse_args(argv)
    shared = shared_data_dir()
    if shared is None:
        print("needs ../shared/data", file=sys.stderr)
        return 1
    from benchmarks.geocode_parse import read_gold
    from benchmarks.geocode_real_lists import _year_of
    from jadis.geocode.fetch import fetch
    from jadis.geocode.gazetteer import load_gazetteers
    from jadis.geocode.geocoder import Geocoder

    modern = shared / "modern"
    jac = _jacoubet_zip(shared) if args.jacoubet else b""
    record = {"status": "OK", "data": {"latestVersion": {"license": {"name": "as served by this benchmark"}, "files": [
        {"dataFile": {"id": 1, "filename": "1836_jacoubet.zip", "filesize": len(jac),
                      "md5": hashlib.md5(jac).hexdigest()}}]}}}
    routes = {
        PATHS["ban"]: gzip.compress(_concat_csv([modern / z / "ban_adresses.csv" for z in ZONES], bom=False), mtime=0),
        PATHS["current"]: _concat_csv([modern / z / "denominations-emprises-voies-actuelles.csv" for z in ZONES],
                                      bom=True),
        PATHS["obsolete"]: (modern / "butte_aux_cailles/denominations-des-voies-caduques.csv").read_bytes(),
        PATHS["record"]: json.dumps(record).encode(),
        PATHS["jacoubet"]: jac,
    }
    gold = read_gold(shared / "geocoding/dev/ner_directories_das22/gold.csv")
    das = pd.DataFrame({"entry": [g[1] for g in gold], "year": [_year_of(g[0]) for g in gold]})
    demo = pd.read_csv(data_dir() / "addresses_directories_1820_1861.csv")
    lists = {"DAS 2022 (1798-1861)": das, "demo list (1820-1861)": demo}
    httpd, url = serve(routes)
    rows, extra = [], {}
    try:
        with tempfile.TemporaryDirectory() as home:
            os.environ["JADIS_HOME"] = home
            steps = [("bundled only", [])]
            steps.append(("+ fetched district extracts (ban-paris, paris-voies)", ["ban-paris", "paris-voies"]))
            if args.jacoubet:
                steps.append(("+ ghd-jacoubet-1836 (whole city)", ["ghd-jacoubet-1836"]))
            for label, names in steps:
                for name in names:
                    t0 = time.perf_counter()
                    infos = fetch(name, base_url=url, progress=False)
                    extra[name] = (", ".join(f"{i.name} {i.features:,}" for i in infos), time.perf_counter() - t0)
                geocoder = Geocoder(load_gazetteers())
                for list_name, frame in lists.items():
                    t0 = time.perf_counter()
                    out = geocoder.geocode_table(frame, "entry", year_column="year", progress=False)
                    rows.append(summarise(f"{list_name} — {label}", out, time.perf_counter() - t0))
                    if list_name.startswith("DAS"):
                        unmatched = frame.loc[out["match_type"] == "none", "entry"].tolist()
                        extra[f"paper {label}"] = (len(unmatched), *on_paper(unmatched))
    finally:
        httpd.shutdown()
    table = pd.DataFrame(rows).astype(object)
    try:
        print(table.to_markdown(index=False))
    except ImportError:
        print(table.to_string(index=False))
    for key, value in extra.items():
        print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
