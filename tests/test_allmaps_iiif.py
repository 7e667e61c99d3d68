"""Georeference Annotations that Allmaps accepts: with the scan's IIIF Image service as
``target.source``, validated by Allmaps' own parser (``@allmaps/annotation``, npm, in
tests/interop; run through Node.js like the transform interop tests). The IIIF service is a local
fixture (tests/_iiiffixtures.py); no internet.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from _iiiffixtures import iiif_server, make_tileset, source_image
from _reference_impl import INTEROP_DIR
from PIL import Image

from jadis.georef.formats.allmaps import read_annotation, write_annotation
from jadis.georef.formats.qgis_points import write_points
from jadis.georef.gcps import GcpSet

W, H = 600, 450


def _allmaps_unavailable() -> str | None:
    if shutil.which("node") is None:
        return "node (Node.js) is not installed"
    if not (INTEROP_DIR / "node_modules" / "@allmaps" / "annotation").is_dir():
        return "@allmaps/annotation is not installed (run: cd tests/interop && npm ci)"
    return None


needs_allmaps = pytest.mark.skipif(_allmaps_unavailable() is not None, reason=str(_allmaps_unavailable()))


def allmaps_parse(annotation: dict) -> dict:
    """``parseAnnotation`` of @allmaps/annotation: ``{"ok": True, "maps": [...]}`` or ``{"ok": False, "error"}``."""
    proc = subprocess.run(["node", str(INTEROP_DIR / "allmaps_annotation.mjs")], input=json.dumps(annotation),
                          capture_output=True, text=True, cwd=INTEROP_DIR, check=True, timeout=120)
    return json.loads(proc.stdout)


@pytest.fixture()
def served(tmp_path, monkeypatch):
    """A scan (PNG), its GCPs (.points), and its IIIF services v2 and v3 on a local server."""
    monkeypatch.setenv("JADIS_HOME", str(tmp_path / "home"))
    img = source_image(W, H)
    scan = tmp_path / "scan.png"
    Image.fromarray(img).save(scan)
    gx, gy = np.meshgrid(np.linspace(20.25, W - 20, 4), np.linspace(20, H - 20.5, 3))
    px = np.column_stack([gx.ravel(), gy.ravel()])
    world = np.column_stack([-1000 + 0.34 * px[:, 0] + 1e-5 * px[:, 0] * px[:, 1], 4500 - 0.34 * px[:, 1]])
    pts = write_points(tmp_path / "scan.points", GcpSet(px, world, "VERNIQUET-m"))
    with iiif_server(tmp_path / "www") as (url, state):
        for version in (2, 3):
            make_tileset(tmp_path / "www" / f"v{version}" / "scan", f"{url}/v{version}/scan", img, version,
                         "png" if version == 3 else "jpg")
        yield scan, pts, url, state


def _fit(run_cli, map_arg, pts, out, *extra):
    code, stdout, err = run_cli("georef", "fit", str(map_arg), "--gcps", str(pts), "--crs", "VERNIQUET-m",
                                "-t", "polynomial2", "-o", str(out), "-q", *extra)
    assert code == 0, err
    return json.loads(out.read_text())


@needs_allmaps
@pytest.mark.parametrize("version", [3, 2])
def test_fit_with_image_url_writes_an_allmaps_annotation(run_cli, served, tmp_path, version):
    scan, pts, url, _ = served
    base = f"{url}/v{version}/scan"
    anno = _fit(run_cli, scan, pts, tmp_path / "a.json", "--image-url", base + "/info.json")
    assert anno["target"]["source"] == {"id": base, "type": f"ImageService{version}", "height": H, "width": W}
    assert anno["target"]["type"] == "SpecificResource"
    parsed = allmaps_parse(anno)
    assert parsed["ok"], parsed.get("error")
    (m,) = parsed["maps"]
    assert m["resource"]["id"] == base and m["resource"]["type"] == f"ImageService{version}"
    assert (m["resource"]["width"], m["resource"]["height"]) == (W, H)
    assert m["gcps"] == 12 and m["resourceMask"] == 4
    assert m["transformation"] == {"type": "polynomial", "options": {"order": 2}}
    # read back: same GCPs, the service kept; written again, still valid
    g = read_annotation(tmp_path / "a.json")
    assert g.image_service is not None and g.image_service.type == f"ImageService{version}"
    assert g.image == base and g.image_size == (W, H) and len(g.gcps) == 12
    again = write_annotation(tmp_path / "b.json", g)
    assert allmaps_parse(json.loads(again.read_text()))["ok"]


@needs_allmaps
def test_fit_on_an_iiif_url_fetches_the_scan_and_targets_the_service(run_cli, served, tmp_path):
    _, pts, url, state = served
    base = f"{url}/v3/scan"
    anno = _fit(run_cli, base, pts, tmp_path / "a.json")
    assert anno["target"]["source"]["id"] == base
    assert allmaps_parse(anno)["ok"]
    assert list((tmp_path / "home" / "cache" / "iiif").rglob("*.tif"))  # fetched into $JADIS_HOME
    n = len(state["requests"])
    _fit(run_cli, base, pts, tmp_path / "b.json")
    assert len(state["requests"]) == n  # the cache answered


@needs_allmaps
def test_local_scan_annotation_is_not_an_allmaps_annotation(run_cli, served, tmp_path):
    """Without an IIIF service, target.source is the local path: documented, and Allmaps refuses it."""
    scan, pts, _, _ = served
    anno = _fit(run_cli, scan, pts, tmp_path / "a.json")
    assert anno["target"]["source"] == str(scan)
    assert not allmaps_parse(anno)["ok"]


@needs_allmaps
def test_mask_with_fractions_and_tiny_numbers_stays_valid(served):
    _, pts, url, _ = served
    from jadis.georef.formats import read_gcps
    from jadis.georef.georeference import Georeference
    from jadis.io.iiif import read_info

    service = read_info(f"{url}/v3/scan")
    mask = np.array([[1e-7, 0.5], [599.99999, 3.25], [599.5, 449.0], [0.0, 449.875]])
    g = Georeference(read_gcps(pts, crs="VERNIQUET-m"), "tps", image_size=(W, H), mask=mask, image=service.id,
                     image_service=service)
    from jadis.georef.formats.allmaps import annotation_dict

    parsed = allmaps_parse(annotation_dict(g))
    assert parsed["ok"], parsed.get("error")
    assert parsed["maps"][0]["transformation"] == {"type": "thinPlateSpline"}


def test_image_url_of_another_size_is_refused(run_cli, served, tmp_path):
    scan, pts, url, _ = served
    small = tmp_path / "small.png"
    Image.open(scan).resize((300, 225)).save(small)
    code, _, err = run_cli("georef", "fit", str(small), "--gcps", str(pts), "--crs", "VERNIQUET-m",
                           "-o", str(tmp_path / "a.json"), "--image-url", f"{url}/v3/scan")
    assert code == 2 and "600x450" in err and "300x225" in err
    assert not (tmp_path / "a.json").exists()


def _stub_auto(monkeypatch, pts: Path) -> list[Path]:
    """Replace the automatic search by a stub that fits ``pts``; returns the map paths it was given."""
    import jadis.georef.auto as auto_mod
    from jadis.georef.formats import read_gcps
    from jadis.georef.georeference import Georeference

    seen: list[Path] = []

    def fake(map_input, reference, options, progress=True, scan=None, **_):
        seen.append(Path(map_input))
        g = Georeference(read_gcps(pts, crs="VERNIQUET-m"), "polynomial1", image_size=(W, H), image=str(map_input))
        return auto_mod.AutoResult(georef=g, confidence=0.9, cv_error_m=2.0, transform_cv_m={"polynomial1": 2.0},
                                   n_matches=20, n_consistent=12, search_score=5.0, search_margin=0.5,
                                   scale=0.34, rotation=0.0, input_kind="scan", seconds=1.0)

    monkeypatch.setattr(auto_mod, "auto_georeference", fake)
    return seen


def test_auto_image_url_targets_the_service(run_cli, served, tmp_path, monkeypatch):
    """``georef auto --image-url``: the search is replaced by a stub; what matters is the output."""
    scan, pts, url, _ = served
    _stub_auto(monkeypatch, pts)
    out = tmp_path / "auto.json"
    code, _, err = run_cli("georef", "auto", str(scan), "-r", str(scan), "-o", str(out),
                           "--image-url", f"{url}/v2/scan")
    assert code == 0, err
    anno = json.loads(out.read_text())
    assert anno["target"]["source"]["type"] == "ImageService2" and anno["jadis"]["auto"]["confidence"] == 0.9
    if _allmaps_unavailable() is None:
        assert allmaps_parse(anno)["ok"]
    code, _, err = run_cli("georef", "auto", str(tmp_path / "scan.points"), "-r", str(scan), "-o", str(out),
                           "--image-url", f"{url}/v2/scan")
    assert code == 2


def test_auto_on_an_iiif_url_fetches_the_scan_and_targets_the_service(run_cli, served, tmp_path, monkeypatch):
    """``georef auto URL``: MAP is the service; the stubbed search gets the cached local file."""
    scan, pts, url, _ = served
    seen = _stub_auto(monkeypatch, pts)
    out = tmp_path / "auto.json"
    base = f"{url}/v3/scan"
    code, _, err = run_cli("georef", "auto", base + "/info.json", "-r", str(scan), "-o", str(out))
    assert code == 0, err
    (local,) = seen
    assert local.is_file() and (tmp_path / "home" / "cache" / "iiif") in local.parents
    assert Image.open(local).size == (W, H)
    anno = json.loads(out.read_text())
    assert anno["target"]["source"] == {"id": base, "type": "ImageService3", "height": H, "width": W}
    if _allmaps_unavailable() is None:
        assert allmaps_parse(anno)["ok"]


def test_replace_keeps_the_service(served):
    _, pts, url, _ = served
    from jadis.georef.formats import read_gcps
    from jadis.georef.georeference import Georeference
    from jadis.io.iiif import read_info

    service = read_info(f"{url}/v3/scan")
    g = Georeference(read_gcps(pts, crs="VERNIQUET-m"), image_size=(W, H), image_service=service)
    assert g.with_transform("helmert").image_service is service and replace(g).image_service is service


@needs_allmaps
def test_convert_keeps_the_service(run_cli, served, tmp_path):
    scan, pts, url, _ = served
    _fit(run_cli, scan, pts, tmp_path / "a.json", "--image-url", f"{url}/v3/scan")
    code, _, err = run_cli("georef", "convert", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "-t", "tps")
    assert code == 0, err
    anno = json.loads((tmp_path / "b.json").read_text())
    assert anno["target"]["source"]["id"] == f"{url}/v3/scan" and allmaps_parse(anno)["ok"]
