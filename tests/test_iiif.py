"""IIIF Image API input: a static (level-0) tile set generated here, served on 127.0.0.1; no internet."""

from __future__ import annotations

import io
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from _iiiffixtures import TILE, make_tileset, source_image
from _iiiffixtures import iiif_server as serve
from PIL import Image
from rasterio.errors import NotGeoreferencedWarning

from jadis.errors import JadisError
from jadis.io.iiif import fetch_image, read_info, region_urls, resolve_scan, resolve_scan_service

W, H = 600, 450


@pytest.fixture()
def iiif_server(tmp_path):
    """(served folder, base URL, state) of a local IIIF fixture server."""
    with serve(tmp_path / "www") as (url, state):
        yield tmp_path / "www", url, state


def _service(iiif_server, version: int, fmt: str, name: str = "sheet"):
    root, url, state = iiif_server
    img = source_image(W, H)
    base = f"{url}/v{version}/{name}"
    tiles = make_tileset(root / f"v{version}" / name, base, img, version, fmt)
    return base, img, tiles, state


def _read(path: Path) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        ds = rasterio.open(path)
    with ds:
        return np.moveaxis(ds.read(), 0, -1)


def test_info_v2_and_v3(iiif_server, tmp_path):
    base3, *_ = _service(iiif_server, 3, "png")
    base2, *_ = _service(iiif_server, 2, "jpg")
    s3 = read_info(base3 + "/info.json", cache_dir=tmp_path / "c")
    s2 = read_info(base2 + "/", cache_dir=tmp_path / "c")
    assert (s3.version, s3.type, s3.id, s3.width, s3.height, s3.level) == (3, "ImageService3", base3, W, H, 0)
    assert (s2.version, s2.type, s2.id, s2.level) == (2, "ImageService2", base2, 0)
    assert s3.tiles == ((TILE, TILE, (1, 2, 4)),) and s3.formats[0] == "png" and s2.formats[0] == "jpg"
    assert s3.annotation_source() == {"id": base3, "type": "ImageService3", "height": H, "width": W}


def test_v3_png_tiles_assemble_pixel_exact(iiif_server, tmp_path):
    base, img, _, state = _service(iiif_server, 3, "png")
    out = fetch_image(base, cache_dir=tmp_path / "c")
    assert out.is_file() and str(out).startswith(str(tmp_path / "c"))
    np.testing.assert_array_equal(_read(out), img)
    # every request was a listed tile (level 0: nothing else exists on the server)
    assert len(state["requests"]) == 1 + math.ceil(W / TILE) * math.ceil(H / TILE)


def test_v2_jpeg_tiles_assemble_within_jpeg_tolerance(iiif_server, tmp_path):
    base, img, tiles, _ = _service(iiif_server, 2, "jpg")
    got = _read(fetch_image(base + "/info.json", cache_dir=tmp_path / "c"))
    assert got.shape == img.shape
    assert np.abs(got.astype(int) - img).mean() < 12  # noisy pixels, 4:2:0 chroma
    mosaic = np.zeros_like(img)
    for (f, x, y), tile in tiles.items():
        if f == 1:
            mosaic[y: y + tile.shape[0], x: x + tile.shape[1]] = tile
    np.testing.assert_array_equal(got, mosaic)  # exactly the decoded tiles, each in its place


@pytest.mark.parametrize("version", [2, 3])
def test_reduced_scale_uses_the_tile_pyramid(iiif_server, tmp_path, version):
    base, img, tiles, _ = _service(iiif_server, version, "png" if version == 3 else "jpg")
    out = fetch_image(base, scale=0.3, cache_dir=tmp_path / "c")  # factor 2 (>= 0.3 of full size)
    got = _read(out)
    assert got.shape[:2] == (math.ceil(H / 2), math.ceil(W / 2))
    np.testing.assert_array_equal(got[:TILE, :TILE], tiles[(2, 0, 0)])
    # a whole-image tile at factor 4: region "full"
    _, reqs = region_urls(read_info(base, cache_dir=tmp_path / "c"), 4)
    assert len(reqs) == 1 and "/full/" in reqs[0][0]


def test_cache_is_reused_without_requests(iiif_server, tmp_path):
    base, img, _, state = _service(iiif_server, 3, "png")
    first = fetch_image(base, cache_dir=tmp_path / "c")
    n = len(state["requests"])
    again = fetch_image(base, cache_dir=tmp_path / "c")
    assert again == first and len(state["requests"]) == n
    assert resolve_scan(base, cache_dir=tmp_path / "c") == first and len(state["requests"]) == n


def test_retries_after_a_server_error(iiif_server, tmp_path):
    base, img, _, state = _service(iiif_server, 3, "png")
    tile = "/v3/sheet/256,0,256,256/256,256/0/default.png"
    state["fail"][tile] = 1
    state["fail"]["/v3/sheet/info.json"] = 1
    out = fetch_image(base, cache_dir=tmp_path / "c", backoff=0.001)
    np.testing.assert_array_equal(_read(out), img)
    assert state["requests"].count(tile) == 2 and state["requests"].count("/v3/sheet/info.json") == 2


def test_persistent_server_error_is_a_clean_error(iiif_server, tmp_path):
    base, _, _, state = _service(iiif_server, 3, "png")
    state["fail"]["/v3/sheet/0,0,256,256/256,256/0/default.png"] = 99
    with pytest.raises(JadisError, match=r"HTTP 500.*3 tries"):
        fetch_image(base, cache_dir=tmp_path / "c", retries=2, backoff=0.001)
    assert not list((tmp_path / "c").rglob("*.tif"))


def test_truncated_download_is_refused(iiif_server, tmp_path):
    base, _, _, state = _service(iiif_server, 3, "png")
    state["truncate"].add("/v3/sheet/512,256,88,194/88,194/0/default.png")
    with pytest.raises(JadisError, match="truncated"):
        fetch_image(base, cache_dir=tmp_path / "c", retries=1, backoff=0.001)
    assert not list((tmp_path / "c").rglob("*.tif")) and not list((tmp_path / "c").rglob("*.part*"))


def test_corrupt_tile_is_refused(iiif_server, tmp_path):
    base, _, _, state = _service(iiif_server, 2, "jpg")
    root = iiif_server[0] / "v2" / "sheet"
    tile = root / "256,0,256,256" / "256," / "0" / "default.jpg"
    tile.write_bytes(tile.read_bytes()[:300])  # a cut file, served with a matching Content-Length
    with pytest.raises(JadisError, match="truncated or corrupt"):
        fetch_image(base, cache_dir=tmp_path / "c", retries=1, backoff=0.001)


def test_bad_services(iiif_server, tmp_path):
    root, url, _ = iiif_server
    (root / "notiiif").mkdir()
    (root / "notiiif" / "info.json").write_text(json.dumps({"hello": 1}))
    with pytest.raises(JadisError, match="not an IIIF Image API"):
        read_info(f"{url}/notiiif", cache_dir=tmp_path / "c")
    with pytest.raises(JadisError, match="HTTP 404"):
        read_info(f"{url}/missing", cache_dir=tmp_path / "c", backoff=0.001)
    with pytest.raises(JadisError, match="not an IIIF Image service"):
        read_info(f"{url}/scan.jpg", cache_dir=tmp_path / "c")


def test_resolve_scan_passes_local_paths_through(tmp_path):
    assert resolve_scan_service(tmp_path / "a.jpg") == (tmp_path / "a.jpg", None)


def test_default_cache_is_under_jadis_home(iiif_server, tmp_path, monkeypatch):
    monkeypatch.setenv("JADIS_HOME", str(tmp_path / "home"))
    base, img, _, _ = _service(iiif_server, 3, "png")
    path, service = resolve_scan_service(base)
    assert path.is_relative_to(tmp_path / "home" / "cache" / "iiif") and service.id == base
    buf = io.BytesIO()
    Image.fromarray(_read(path)).save(buf, format="PNG")
    assert buf.tell() > 0
