"""``jadis batch`` on IIIF Presentation manifests and collections (API 2 and 3), served with the
scans' Image services by the local fixture server (tests/_iiiffixtures.py); no internet."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from _iiiffixtures import iiif_server, make_collection, make_manifest, make_tileset, source_image

from jadis.errors import JadisError

W, H = 160, 120


@pytest.fixture()
def served(tmp_path, monkeypatch):
    """Image services v2/a, v2/b, v3/a, v3/b; manifests m2.json, m3.json; collections c3.json (v3:
    m3 and a nested v2 collection c2.json with m2) and deep.json (nested one level more)."""
    monkeypatch.setenv("JADIS_HOME", str(tmp_path / "home"))
    www = tmp_path / "www"
    with iiif_server(www) as (url, state):
        for version in (2, 3):
            for seed, name in enumerate("ab"):
                make_tileset(www / f"v{version}" / name, f"{url}/v{version}/{name}",
                             source_image(W, H, seed=seed + 10 * version), version, "png" if version == 3 else "jpg")
        make_manifest(www / "m2.json", f"{url}/m2.json", [f"{url}/v2/a", f"{url}/v2/b"], version=2,
                      label="Atlas 1836", canvas_labels=["Feuille 1", None], size=(W, H))
        make_manifest(www / "m3.json", f"{url}/m3.json", [f"{url}/v3/a", f"{url}/v3/b"], version=3,
                      label="Plan 1790", canvas_labels=["Sheet A", "Sheet B"], size=(W, H))
        make_collection(www / "c2.json", f"{url}/c2.json", manifests=[f"{url}/m2.json"], version=2)
        make_collection(www / "c3.json", f"{url}/c3.json", manifests=[f"{url}/m3.json"],
                        collections=[f"{url}/c2.json"], version=3)
        make_collection(www / "deep.json", f"{url}/deep.json", collections=[f"{url}/c3.json"], version=3)
        yield url, state


def _expand(url: str, **kw):
    from jadis.project.batch import expand_sources, iiif_sources

    (source,) = expand_sources([url])
    return iiif_sources(source, **kw)


def test_manifests_give_one_map_per_canvas(served):
    url, _ = served
    v2 = _expand(f"{url}/m2.json")
    assert [(s.url, s.title) for s in v2] == [(f"{url}/v2/a", "Feuille 1"), (f"{url}/v2/b", "Atlas 1836 (2)")]
    v3 = _expand(f"{url}/m3.json")
    assert [(s.url, s.title) for s in v3] == [(f"{url}/v3/a", "Sheet A"), (f"{url}/v3/b", "Sheet B")]
    assert all(s.path is None for s in v2 + v3)


def test_collections_recurse_with_a_depth_limit(served, tmp_path):
    url, _ = served
    found = _expand(f"{url}/c3.json")
    assert [s.url for s in found] == [f"{url}/v3/a", f"{url}/v3/b", f"{url}/v2/a", f"{url}/v2/b"]
    assert [s.url for s in _expand(f"{url}/deep.json")] == [s.url for s in found]
    with pytest.raises(JadisError, match="nested too deep"):
        _expand(f"{url}/deep.json", max_depth=2)
    # a local manifest file; an Image service URL stays itself
    local = tmp_path / "m3.json"
    local.write_text((tmp_path / "www" / "m3.json").read_text())
    from jadis.project.batch import expand_sources, iiif_sources

    assert [s.title for s in iiif_sources(expand_sources([str(local)])[0])] == ["Sheet A", "Sheet B"]
    (service,) = _expand(f"{url}/v3/a")
    assert service.url == f"{url}/v3/a"


def test_georef_step_targets_the_service(served, tmp_path, monkeypatch):
    """The georef step of a map from IIIF writes an annotation whose target is its Image service."""
    url, _ = served
    import numpy as np

    import jadis.georef.auto as auto_mod
    from jadis.georef.gcps import GcpSet
    from jadis.georef.georeference import Georeference
    from jadis.project.batch import _resolve_remote, run_step

    (first, _) = _expand(f"{url}/m3.json")
    local = _resolve_remote(first, tmp_path / "cache")
    assert local.path.is_file() and local.image_service.id == f"{url}/v3/a" and local.title == "Sheet A"

    def fake(map_input, reference, options, progress=True, scan=None, **_):
        px = np.array([[10.0, 10], [150, 10], [150, 110], [10, 110]])
        g = Georeference(GcpSet(px, px * [1, -1] + [1000, 5000], "EPSG:2154"), "affine", image_size=(W, H),
                         image=str(map_input))
        return auto_mod.AutoResult(georef=g, confidence=0.9, cv_error_m=2.0, transform_cv_m={"affine": 2.0},
                                   n_matches=20, n_consistent=12, search_score=5.0, search_margin=0.5,
                                   scale=1.0, rotation=0.0, input_kind="scan", seconds=1.0)

    monkeypatch.setattr(auto_mod, "auto_georeference", fake)
    result = run_step("georef", {"scan": str(local.path), "out_dir": str(tmp_path / "out"),
                                 "image_service": local.image_service})
    assert result["georef"].image_service.id == f"{url}/v3/a"
    anno = json.loads(Path(result["output"]["annotation"]).read_text())
    assert anno["target"]["source"] == {"id": f"{url}/v3/a", "type": "ImageService3", "height": H, "width": W}


def test_batch_cli_on_a_manifest(run_cli, served, tmp_path):
    pytest.importorskip("distributed")
    from _segfixtures import save_tiny_checkpoint

    url, _ = served
    ckpt = save_tiny_checkpoint(tmp_path / "tiny.pt")
    proj = tmp_path / "proj"
    code, out, err = run_cli("batch", f"{url}/m2.json", "--project", str(proj), "--steps", "segment",
                             "--checkpoint", str(ckpt), "--dashboard-address", ":0", "--in-process")
    assert code == 0, err
    assert "2 step(s) done, 0 failed" in out
    with sqlite3.connect(proj / "project.gpkg") as conn:
        names = sorted(r[0] for r in conn.execute("SELECT name FROM maps"))
    assert names == ["Atlas_1836_2", "Feuille_1"]  # the canvas labels, as map names
