"""`jadis gazetteer fetch`: catalogue, resumable checked downloads, converters, geocoding on present-day data.

A local HTTP server (127.0.0.1) serves small files in each source's real format (tests/data/fetch);
no test touches the internet.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import http.server
import io
import json
import re
import socket
import threading
import zipfile
from pathlib import Path

import pytest

from jadis.errors import JadisError

DATA = Path(__file__).parent / "data" / "fetch"
ROOT = Path(__file__).resolve().parents[1]
BAN_PATH = "/data/ban/adresses/latest/csv/adresses-75.csv.gz"
VDP_CURRENT = "/api/explore/v2.1/catalog/datasets/denominations-emprises-voies-actuelles/exports/csv"
VDP_OBSOLETE = "/api/explore/v2.1/catalog/datasets/denominations-des-voies-caduques/exports/csv"
OVERPASS = "/api/interpreter"
DV_RECORD = "/api/datasets/:persistentId/"
DV_FILE = "/api/access/datafile/4242"


class FixtureServer:
    """Routes path -> (body, mode); modes: ok, truncate (always), truncate_once, error500, no_range."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[bytes, str]] = {}
        self.log: list[tuple[str, str | None]] = []
        self.served: dict[str, int] = {}
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                path = self.path.split("?", 1)[0]
                rng = self.headers.get("Range")
                server.log.append((path, rng))
                if path not in server.routes:
                    self.send_error(404)
                    return
                body, mode = server.routes[path]
                count = server.served.get(path, 0)
                server.served[path] = count + 1
                if mode == "error500":
                    self.send_error(500, "Internal Server Error")
                    return
                start = 0
                m = re.fullmatch(r"bytes=(\d+)-", rng or "")
                if m and mode != "no_range":
                    start = int(m.group(1))
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                chunk = body[start:]
                if mode == "truncate" or (mode == "truncate_once" and count == 0):
                    chunk = chunk[: len(chunk) // 2]
                self.wfile.write(chunk)
                self.wfile.flush()
                if len(chunk) < len(body) - start:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _ban_gz() -> bytes:
    return gzip.compress((DATA / "ban_adresses_75_sample.csv").read_bytes(), mtime=0)


def _jacoubet_zip() -> bytes:
    """A zipped Shapefile in GeoHistoricalData's layout (``nom_entier``), cut from the bundled gazetteer."""
    import tempfile

    import pyogrio

    frame = pyogrio.read_dataframe(ROOT / "gazetteers" / "jacoubet_1836_fsa.gpkg", max_features=40)
    frame = frame.rename(columns={"name": "nom_entier"})[["nom_entier", "geometry"]]
    buf = io.BytesIO()
    with tempfile.TemporaryDirectory() as tmp:
        pyogrio.write_dataframe(frame, Path(tmp) / "1836_jacoubet.shp", driver="ESRI Shapefile")
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for part in sorted(Path(tmp).iterdir()):
                zf.write(part, part.name)
    return buf.getvalue()


def _dataverse_record(body: bytes, licence: dict | None = None, md5: str | None = None) -> bytes:
    files = [
        {"label": "1836_jacoubet.zip", "dataFile": {"id": 4242, "filename": "1836_jacoubet.zip", "filesize": len(body),
                                                   "contentType": "application/zip",
                                                   "md5": md5 or hashlib.md5(body).hexdigest(),
                                                   "checksum": {"type": "MD5", "value": md5 or hashlib.md5(body).hexdigest()}}},
        {"label": "1791_verniquet.zip", "dataFile": {"id": 4243, "filename": "1791_verniquet.zip", "filesize": 10}},
        {"label": "README.txt", "dataFile": {"id": 4244, "filename": "README.txt", "filesize": 10}},
    ]
    version = {"versionState": "RELEASED", "files": files}
    if licence is not None:
        version["license"] = licence
    return json.dumps({"status": "OK", "data": {"id": 1, "latestVersion": version}}).encode()


@pytest.fixture(scope="module")
def server():
    srv = FixtureServer()
    yield srv
    srv.close()


@pytest.fixture()
def env(server, tmp_path, monkeypatch):
    """A clean JADIS_HOME and the catalogue pointed at the fixture server, serving every source."""
    monkeypatch.setenv("JADIS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("JADIS_FETCH_BASE_URL", server.url)
    server.log.clear()
    server.served.clear()
    jac = _jacoubet_zip()
    server.routes = {
        BAN_PATH: (_ban_gz(), "ok"),
        VDP_CURRENT: ((DATA / "denominations-emprises-voies-actuelles_sample.csv").read_bytes(), "ok"),
        VDP_OBSOLETE: ((DATA / "denominations-des-voies-caduques_sample.csv").read_bytes(), "ok"),
        OVERPASS: ((DATA / "overpass_paris_streets_sample.json").read_bytes(), "ok"),
        DV_RECORD: (_dataverse_record(jac, {"name": "CC0 1.0",
                                            "uri": "http://creativecommons.org/publicdomain/zero/1.0"}), "ok"),
        DV_FILE: (jac, "ok"),
    }
    return tmp_path / "home"


def _manifest(home: Path) -> dict:
    path = home / "gazetteers" / "manifest.json"
    return {g["name"]: g for g in json.loads(path.read_text(encoding="utf-8"))["gazetteers"]} if path.exists() else {}


def _leftovers(home: Path) -> list[str]:
    """Files that are neither complete downloads, resumable .part files, nor gazetteers."""
    return [p.name for p in home.rglob("*") if p.is_file() and ".part" in p.name and not p.name.endswith(".part")]


def _one_line_error(code: int, err: str, pattern: str) -> None:
    assert code == 2, err
    lines = [ln for ln in err.strip().splitlines() if ln.startswith("jadis: error")]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert re.search(pattern, lines[0]), lines[0]


# --------------------------------------------------------------------------------------------- catalogue


def test_list_shows_every_source_and_licence(env, run_cli):
    code, out, _ = run_cli("gazetteer", "fetch", "--list")
    assert code == 0
    for name in ("ban-paris", "paris-voies", "osm-paris", "ghd-verniquet-1791", "ghd-jacoubet-1836"):
        assert name in out
    assert "Licence Ouverte" in out and "ODbL" in out


def test_catalogue_urls_are_the_documented_ones():
    from jadis.geocode.sources import CATALOGUE, dataverse_metadata_url

    urls = {s.name: [r.url for r in s.resources] for s in CATALOGUE}
    assert urls["ban-paris"] == ["https://adresse.data.gouv.fr/data/ban/adresses/latest/csv/adresses-75.csv.gz"]
    assert all(u.startswith("https://opendata.paris.fr/api/explore/v2.1/catalog/datasets/") for u in urls["paris-voies"])
    assert urls["osm-paris"][0].startswith("https://overpass-api.de/api/interpreter?data=")
    assert dataverse_metadata_url("doi:10.7910/DVN/CCESX4") == \
        "https://dataverse.harvard.edu/api/datasets/:persistentId/?persistentId=doi:10.7910/DVN/CCESX4"
    for s in CATALOGUE:
        assert s.licence and s.attribution and s.doc_url.startswith("https://")


def test_unknown_source_and_missing_name(env, run_cli):
    code, _, err = run_cli("gazetteer", "fetch", "nowhere", "--yes")
    _one_line_error(code, err, r"unknown source 'nowhere'")
    code, _, err = run_cli("gazetteer", "fetch")
    _one_line_error(code, err, r"name a source")


# --------------------------------------------------------------------------------------------- each source


def test_fetch_ban_records_source_date_checksum_licence(env, server, run_cli):
    code, out, err = run_cli("gazetteer", "fetch", "ban-paris", "--yes")
    assert code == 0, err
    assert "Licence Ouverte" in out and "attribution: Base Adresse Nationale" in out  # shown before download
    assert "added ban_paris: 115 features, address_points" in out
    entry = _manifest(env)["ban_paris"]
    assert entry["url"] == server.url + BAN_PATH
    assert entry["era"] == "modern" and re.fullmatch(r"\d{4}-\d{2}-\d{2}", entry["retrieved"])
    assert hashlib.sha256(_ban_gz()).hexdigest() in entry["checksum"]
    assert entry["licence"].startswith("Licence Ouverte") and entry["attribution"]
    assert (env / "downloads" / "ban-paris" / "adresses-75.csv.gz").is_file()
    # a second fetch reuses the cached copy (no request)
    n = len(server.log)
    code, _, err = run_cli("gazetteer", "fetch", "ban-paris", "--yes")
    assert code == 0 and len(server.log) == n and "using the copy downloaded" in err


def test_fetch_needs_consent_without_a_terminal(env, server, run_cli):
    code, out, err = run_cli("gazetteer", "fetch", "ban-paris")
    _one_line_error(code, err, r"--yes")
    assert "Licence Ouverte" in out  # the terms were shown
    assert not server.log  # and nothing downloaded


def test_historical_name_followed_to_modern_data(env, run_cli):
    from jadis.geocode.gazetteer import load_gazetteers
    from jadis.geocode.geocoder import Geocoder

    assert run_cli("gazetteer", "fetch", "ban-paris", "--yes")[0] == 0
    code, out, err = run_cli("gazetteer", "fetch", "paris-voies", "--yes")
    assert code == 0, err
    assert "ODbL" in out and "share-alike" in out
    man = _manifest(env)
    assert man["paris_voies"]["kind"] == "street_points" and man["paris_voies_names"]["kind"] == "names"
    geocoder = Geocoder(load_gazetteers(["ban_paris", "paris_voies", "paris_voies_names"]))
    # "rue Sainte-Marguerite" is the former name of rue Trousseau (Ville de Paris 'Historique')
    old = geocoder.geocode("12 rue Sainte-Marguerite", 1840)
    assert old.match_type == "modern_address", old.explanation
    assert old.matched_name == "Rue Trousseau" and "renamed" in old.explanation
    assert "present-day data" in old.explanation
    now = geocoder.geocode("12 rue Trousseau", None)
    assert now.match_type == "modern_address" and (now.x, now.y) == (old.x, old.y)
    assert old.uncertainty_m > now.uncertainty_m + 50  # 180 years of possible renumbering
    lebobe = geocoder.geocode("rue Lebobe", 1780)
    assert lebobe.match_type in ("modern_street", "modern_address") and "Biscornet" in lebobe.matched_name
    # numbers before 1805 ran through sections: a present-day number is not used for them
    early = geocoder.geocode("12 rue Trousseau", 1790)
    assert early.match_type == "modern_street"
    # with the bundled historical gazetteers, those of the address's time come first
    code, out, err = run_cli("geocode", "12 rue Sainte-Marguerite", "--year", "1840")
    assert code == 0, err
    assert re.search(r"match_type\s+(address_point|interpolated)", out) and "ban_paris" not in out
    code, out, err = run_cli("geocode", "3 rue Gérard", "--year", "1900", "--gazetteer", "ban_paris")
    assert code == 0, err
    assert re.search(r"match_type\s+modern_address", out) and "present-day data" in out


def test_fetch_osm_streets_fallback_network(env, run_cli):
    from jadis.geocode.gazetteer import load_gazetteers
    from jadis.geocode.geocoder import Geocoder

    code, out, err = run_cli("gazetteer", "fetch", "osm-paris", "--yes")
    assert code == 0, err
    assert "© OpenStreetMap contributors" in out
    assert "added osm_paris_streets: 5 features, street_network" in out
    res = Geocoder(load_gazetteers(["osm_paris_streets"])).geocode("rue des Taillandiers", 1850)
    assert res.match_type == "modern_street" and res.gazetteer == "osm_paris_streets"


def test_fetch_dataverse_network_shows_declared_licence(env, server, run_cli):
    from jadis.geocode.gazetteer import load_gazetteers
    from jadis.geocode.geocoder import Geocoder

    code, out, err = run_cli("gazetteer", "fetch", "ghd-jacoubet-1836", "--yes")
    assert code == 0, err
    assert "licence: CC0 1.0 <http://creativecommons.org/publicdomain/zero/1.0>" in out
    assert "terms: CC0: no conditions" in out
    assert DV_FILE in out  # only the matching file is downloaded
    assert [p for p, _ in server.log] == [DV_RECORD, DV_FILE]
    entry = _manifest(env)["ghd_jacoubet_1836"]
    assert entry["licence"] == "CC0 1.0" and entry["years"] == [1825, 1845] and entry.get("era") != "modern"
    gaz = load_gazetteers(["ghd_jacoubet_1836"])
    name = gaz[0].frame["name"].iloc[0]
    res = Geocoder(gaz).geocode(name, 1836)
    assert res.match_type == "street" and res.gazetteer == "ghd_jacoubet_1836"


def test_declared_cc_by_sa_terms_are_stated(env, server, run_cli):
    body = server.routes[DV_FILE][0]
    server.routes[DV_RECORD] = (_dataverse_record(body, {"name": "CC BY-SA 4.0"}), "ok")
    code, out, err = run_cli("gazetteer", "fetch", "ghd-jacoubet-1836", "--yes")
    assert code == 0, err
    assert "licence: CC BY-SA 4.0" in out and "share-alike" in out
    assert _manifest(env)["ghd_jacoubet_1836"]["licence"] == "CC BY-SA 4.0"


def test_dataverse_without_licence_says_so(env, server, run_cli):
    body = server.routes[DV_FILE][0]
    server.routes[DV_RECORD] = (_dataverse_record(body, None), "ok")
    code, out, err = run_cli("gazetteer", "fetch", "ghd-jacoubet-1836", "--yes")
    assert code == 0, err
    assert "no licence declared by the record" in out


# --------------------------------------------------------------------------------------------- refusals


def test_truncated_download_refused_then_resumed(env, server, run_cli):
    from jadis.geocode.fetch import fetch

    server.routes[BAN_PATH] = (server.routes[BAN_PATH][0], "truncate_once")
    with pytest.raises(JadisError, match=r"truncated; run the same command again to resume"):
        fetch("ban-paris", retries=0, progress=False)
    dest = env / "downloads" / "ban-paris" / "adresses-75.csv.gz"
    assert not dest.exists() and dest.with_name(dest.name + ".part").exists()
    assert "ban_paris" not in _manifest(env) and not (env / "gazetteers" / "ban_paris.gpkg").exists()
    infos = fetch("ban-paris", retries=0, progress=False)
    assert infos[0].features == 115
    assert server.log[-1][1] is not None and server.log[-1][1].startswith("bytes=")  # asked for the rest only
    assert hashlib.sha256(dest.read_bytes()).hexdigest() == hashlib.sha256(server.routes[BAN_PATH][0]).hexdigest()
    assert not _leftovers(env)


def test_dropped_transfer_resumes_by_itself(env, server, tmp_path):
    from jadis.io.download import download

    body = server.routes[BAN_PATH][0]
    server.routes[BAN_PATH] = (body, "truncate_once")
    got = download(server.url + BAN_PATH, tmp_path / "x" / "a.csv.gz", retries=2, progress=False)
    assert got.resumed and got.path.read_bytes() == body


def test_server_ignoring_range_restarts(env, server, tmp_path):
    from jadis.io.download import download, part_path

    body = server.routes[BAN_PATH][0]
    server.routes[BAN_PATH] = (body, "no_range")
    dest = tmp_path / "a.csv.gz"
    part_path(dest).write_bytes(b"garbage that is not the start of the file")
    assert download(server.url + BAN_PATH, dest, progress=False).path.read_bytes() == body


def test_always_truncated_is_refused(env, server, run_cli):
    server.routes[BAN_PATH] = (server.routes[BAN_PATH][0], "truncate")
    code, _, err = run_cli("gazetteer", "fetch", "ban-paris", "--yes")
    _one_line_error(code, err, r"truncated")
    assert not (env / "downloads" / "ban-paris" / "adresses-75.csv.gz").exists()
    assert "ban_paris" not in _manifest(env)


def test_wrong_checksum_refused(env, server, run_cli, monkeypatch):
    from jadis.geocode import sources

    ban = sources.get_source("ban-paris")
    pinned = dataclasses.replace(ban, resources=(dataclasses.replace(ban.resources[0], sha256="0" * 64),))
    monkeypatch.setattr(sources, "CATALOGUE", (pinned, *[s for s in sources.CATALOGUE if s.name != "ban-paris"]))
    code, _, err = run_cli("gazetteer", "fetch", "ban-paris", "--yes")
    _one_line_error(code, err, r"wrong checksum \(sha256")
    folder = env / "downloads" / "ban-paris"
    assert not list(folder.glob("*")) and "ban_paris" not in _manifest(env)
    # the right pin is accepted
    good = dataclasses.replace(ban, resources=(dataclasses.replace(
        ban.resources[0], sha256=hashlib.sha256(server.routes[BAN_PATH][0]).hexdigest()),))
    monkeypatch.setattr(sources, "CATALOGUE", (good,))
    assert run_cli("gazetteer", "fetch", "ban-paris", "--yes")[0] == 0


def test_wrong_md5_from_dataverse_refused(env, server, run_cli):
    body = server.routes[DV_FILE][0]
    server.routes[DV_RECORD] = (_dataverse_record(body, {"name": "CC0 1.0"}, md5="0" * 32), "ok")
    code, _, err = run_cli("gazetteer", "fetch", "ghd-jacoubet-1836", "--yes")
    _one_line_error(code, err, r"wrong checksum \(md5")
    assert "ghd_jacoubet_1836" not in _manifest(env)


def test_corrupted_gzip_refused(env, server, run_cli):
    body = bytearray(server.routes[BAN_PATH][0])
    body[len(body) // 2] ^= 0xFF
    server.routes[BAN_PATH] = (bytes(body), "ok")
    code, _, err = run_cli("gazetteer", "fetch", "ban-paris", "--yes")
    _one_line_error(code, err, r"corrupted")
    assert not list((env / "downloads" / "ban-paris").glob("*"))


def test_server_error_is_one_line(env, server, run_cli):
    server.routes[VDP_CURRENT] = (b"", "error500")
    code, _, err = run_cli("gazetteer", "fetch", "paris-voies", "--yes")
    _one_line_error(code, err, r"server error HTTP 500")
    assert "paris_voies" not in _manifest(env)


def test_offline_is_one_line(env, run_cli, monkeypatch):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("JADIS_FETCH_BASE_URL", f"http://127.0.0.1:{port}")
    code, _, err = run_cli("gazetteer", "fetch", "ban-paris", "--yes")
    _one_line_error(code, err, r"cannot reach 127\.0\.0\.1:\d+ .*offline")


def test_wrong_format_is_one_line(env, server, run_cli):
    server.routes[BAN_PATH] = (gzip.compress(b"a;b;c\n1;2;3\n"), "ok")
    code, _, err = run_cli("gazetteer", "fetch", "ban-paris", "--yes")
    _one_line_error(code, err, r"not a BAN CSV")
    assert not (env / "gazetteers" / "ban_paris.gpkg").exists()
    assert not (env / "downloads" / "ban-paris" / "adresses-75.csv.gz").exists()  # not kept for reuse
    server.routes[OVERPASS] = (json.dumps({"elements": [], "remark": "runtime error: Query timed out"}).encode(), "ok")
    code, _, err = run_cli("gazetteer", "fetch", "osm-paris", "--yes")
    _one_line_error(code, err, r"did not finish the query")
    server.routes[OVERPASS] = (b'{"elements": [{"type": "way"', "ok")  # cut JSON without a Content-Length check
    code, _, err = run_cli("gazetteer", "fetch", "osm-paris", "--yes")
    _one_line_error(code, err, r"corrupted")


def test_url_option(env, server, run_cli, monkeypatch):
    monkeypatch.delenv("JADIS_FETCH_BASE_URL")
    code, _, err = run_cli("gazetteer", "fetch", "ban-paris", "--yes", "--url", server.url + BAN_PATH)
    assert code == 0, err
    code, _, err = run_cli("gazetteer", "fetch", "paris-voies", "--yes", "--url", server.url + VDP_CURRENT)
    _one_line_error(code, err, r"--base-url")
    code, _, err = run_cli("gazetteer", "fetch", "paris-voies", "--yes", "--base-url", server.url)
    assert code == 0, err


# --------------------------------------------------------------------------------------------- former names


def test_former_names_from_historique_texts():
    from jadis.geocode.former_names import former_names

    assert former_names("Précédemment, petite rue de la Planchette ; antérieurement rue Lebobe.") == \
        ["petite rue de la Planchette", "rue Lebobe"]
    assert former_names("Dénommée successivement passage Mazas, passage Tocanier, rue Claude Tillier en 1892.",
                        "rue Claude Tillier") == ["passage Mazas", "passage Tocanier"]
    assert former_names("Précédemment voie AD/12.") == []
    assert former_names("L'ouverture de la rue de Lyon a supprimé la rue Treilhard.") == []
    assert former_names(None) == []
