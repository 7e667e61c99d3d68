"""``jadis segment`` and ``jadis demo`` from the command line: outputs, bad inputs, atomicity."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from _segfixtures import map_image, save_tiny_checkpoint
from PIL import Image

from jadis.io.vector import list_layers


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    return save_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt")


def _png(path, h=150, w=200):
    Image.fromarray(map_image(h, w)).save(path)
    return path


def test_segment_writes_raster_and_layers(run_cli, tmp_path, tiny_ckpt):
    src = _png(tmp_path / "sheet.png")
    out = tmp_path / "out"
    code, stdout, stderr = run_cli("segment", str(src), "--out", str(out), "--checkpoint", str(tiny_ckpt),
                                   "--tile", "128", "--overlap", "32")
    assert code == 0, stderr
    assert "sheet_classes.tif" in stdout and "sheet.gpkg" in stdout
    with rasterio.open(out / "sheet_classes.tif") as ds:
        assert (ds.width, ds.height, ds.count, ds.dtypes[0]) == (200, 150, 1, "uint8")
        assert set(np.unique(ds.read(1))) <= {0, 1, 2, 3}
    # the map is read too: names on the streets, text lines, house numbers
    assert set(list_layers(out / "sheet.gpkg")) == {"blocks", "streets", "street_nodes", "labels", "text_lines",
                                                    "house_numbers"}
    assert "names:" in stdout
    code, _, stderr = run_cli("segment", str(src), "--out", str(tmp_path / "plain"), "--checkpoint", str(tiny_ckpt),
                              "--tile", "128", "--overlap", "32", "--no-names")
    assert code == 0, stderr
    assert set(list_layers(tmp_path / "plain" / "sheet.gpkg")) == {"blocks", "streets", "street_nodes", "labels"}


def test_segment_several_formats(run_cli, tmp_path, tiny_ckpt):
    img = map_image(120, 160)
    paths = []
    for ext in ("jpg", "tif"):
        p = tmp_path / f"in_{ext}.{ext}"
        Image.fromarray(img).save(p)
        paths.append(str(p))
    jp2 = tmp_path / "in_jp2.jp2"
    with rasterio.open(jp2, "w", driver="JP2OpenJPEG", width=160, height=120, count=3, dtype="uint8") as ds:
        ds.write(np.moveaxis(img, -1, 0))
    paths.append(str(jp2))
    code, _, stderr = run_cli("segment", *paths, "--out", str(tmp_path / "o"), "--checkpoint", str(tiny_ckpt),
                              "--no-vectors")
    assert code == 0, stderr
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == [
        "in_jp2_classes.tif", "in_jpg_classes.tif", "in_tif_classes.tif"]


def _truncated(path, ext):
    full = path.with_name(f"full.{ext}")
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (300, 400, 3), dtype=np.uint8)).save(full)
    data = full.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    full.unlink()
    return path


BAD_INPUTS = {
    "not-an-image": lambda p: (p.write_text("hello, I am not a map\n" * 40), p)[1],
    "empty": lambda p: (p.write_bytes(b""), p)[1],
    "truncated-jpeg": lambda p: _truncated(p.with_suffix(".jpg"), "jpg"),
    "truncated-png": lambda p: _truncated(p.with_suffix(".png"), "png"),
    "truncated-tiff": lambda p: _truncated(p.with_suffix(".tif"), "tif"),
    "directory": lambda p: (p.mkdir(), p)[1],
    "missing": lambda p: p,
}


@pytest.mark.parametrize("kind", sorted(BAD_INPUTS))
def test_bad_input_exit_2_nothing_written(run_cli, tmp_path, tiny_ckpt, kind):
    src_dir = tmp_path / "in"
    src_dir.mkdir()
    src = BAD_INPUTS[kind](src_dir / "bad.png")
    out = tmp_path / "out"
    code, stdout, stderr = run_cli("segment", str(src), "--out", str(out), "--checkpoint", str(tiny_ckpt))
    assert code == 2, (stdout, stderr)
    assert stderr.startswith("jadis: error: ") and stderr.count("\n") == 1
    assert "Traceback" not in stderr
    assert not out.exists() or not any(out.iterdir())


def test_over_pixel_limit(run_cli, tmp_path, tiny_ckpt):
    src = _png(tmp_path / "big.png")
    out = tmp_path / "out"
    code, _, stderr = run_cli("segment", str(src), "--out", str(out), "--checkpoint", str(tiny_ckpt),
                              "--max-pixels", "10000")
    assert code == 2 and "exceeds the limit" in stderr
    assert not out.exists() or not any(out.iterdir())


def test_bad_input_among_good_ones_writes_nothing(run_cli, tmp_path, tiny_ckpt):
    good = _png(tmp_path / "good.png")
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    out = tmp_path / "out"
    code, _, _ = run_cli("segment", str(good), str(bad), "--out", str(out), "--checkpoint", str(tiny_ckpt))
    assert code == 2
    assert not out.exists() or not any(out.iterdir())


def test_corrupt_data_mid_file_leaves_nothing(run_cli, tmp_path, tiny_ckpt):
    """A TIFF whose header and last row are fine but a middle tile is garbage: the failure happens
    during inference, and neither output may remain."""
    src = tmp_path / "corrupt.tif"
    img = np.random.default_rng(0).integers(0, 255, (512, 512, 3), dtype=np.uint8)
    with rasterio.open(src, "w", driver="GTiff", width=512, height=512, count=3, dtype="uint8", tiled=True,
                       blockxsize=128, blockysize=128, compress="deflate") as ds:
        ds.write(np.moveaxis(img, -1, 0))
    data = bytearray(src.read_bytes())
    offset = len(data) // 3  # inside the compressed tiles of the first rows
    data[offset:offset + 2000] = b"\x00\xff" * 1000
    src.write_bytes(bytes(data))
    from jadis.io.images import check_image

    check_image(src)  # header and last row are intact: the damage is only found while segmenting
    out = tmp_path / "out"
    code, _, stderr = run_cli("segment", str(src), "--out", str(out), "--checkpoint", str(tiny_ckpt),
                              "--tile", "128", "--overlap", "32", "--all-tiles")
    assert code == 2, stderr
    assert not out.exists() or not any(out.iterdir())


def test_missing_checkpoint_exit_2(run_cli, tmp_path):
    src = _png(tmp_path / "a.png")
    code, _, stderr = run_cli("segment", str(src), "--out", str(tmp_path / "o"), "--checkpoint",
                              str(tmp_path / "none.pt"))
    assert code == 2 and "checkpoint not found" in stderr


def test_not_a_checkpoint_exit_2(run_cli, tmp_path):
    src = _png(tmp_path / "a.png")
    fake = tmp_path / "fake.pt"
    fake.write_bytes(b"garbage")
    code, _, stderr = run_cli("segment", str(src), "--out", str(tmp_path / "o"), "--checkpoint", str(fake))
    assert code == 2 and "not a jadis checkpoint" in stderr


def test_demo_runs_on_bundled_sample(run_cli, tmp_path, tiny_ckpt, monkeypatch):
    """The demo pipeline (with a tiny random model standing in for the shipped one)."""
    import shutil

    ckpt_dir = tmp_path / "ckpts"
    ckpt_dir.mkdir()
    shutil.copy(tiny_ckpt, ckpt_dir / "jadis-unet-v1.pt")
    monkeypatch.setenv("JADIS_CHECKPOINTS", str(ckpt_dir))
    # the random model's streets match nothing: the automatic georeferencing would search every
    # scale and rotation for minutes before failing (it is tested on the real segmentation in
    # test_georef_demo.py); here it fails at once and the demo falls back on the measured GCPs
    import jadis.georef.auto as auto

    def no_alignment(*args: object, **kwargs: object) -> None:
        raise auto.AutoGeorefFailed("automatic georeferencing failed: no street match (stubbed)")

    monkeypatch.setattr(auto, "auto_georeference", no_alignment)
    code, stdout, stderr = run_cli("demo", "--out", str(tmp_path / "demo"))
    assert code == 0, stderr
    assert "falling back to the measured GCPs" in stdout
    seg = tmp_path / "demo" / "segmentation"
    assert (seg / "atlas_municipal_1925_crop_classes.tif").is_file()
    assert (seg / "atlas_municipal_1925_crop.gpkg").is_file()
    assert str(seg / "atlas_municipal_1925_crop_classes.tif") in stdout


def test_failing_names_step_keeps_complete_geopackage(run_cli, tmp_path, tiny_ckpt, monkeypatch):
    """The names step rewrites the GeoPackage through a temporary copy: if it fails half-way
    through writing, the GeoPackage of the segmentation stays whole, and the error is one line."""
    import warnings

    import pyogrio

    import jadis.ocr.layers
    from jadis.errors import JadisError
    from jadis.io.vector import write_layers

    def failing_names(gpkg_path, image_path, **kwargs):
        layers = {name: pyogrio.read_dataframe(gpkg_path, layer=name) for name in list_layers(gpkg_path)}
        real_write, written = pyogrio.write_dataframe, []

        def write_then_fail(*args, **kw):  # the first layer goes out, then the OCR "fails"
            if written:
                raise JadisError("the text reader failed")
            written.append(kw.get("layer"))
            return real_write(*args, **kw)

        monkeypatch.setattr(pyogrio, "write_dataframe", write_then_fail)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="'crs' was not provided")  # pixel coordinates
            write_layers(gpkg_path, {**layers, "text_lines": layers["labels"]})

    monkeypatch.setattr(jadis.ocr.layers, "name_layers", failing_names)
    src = _png(tmp_path / "sheet.png")
    out = tmp_path / "out"
    code, stdout, stderr = run_cli("segment", str(src), "--out", str(out), "--checkpoint", str(tiny_ckpt),
                                   "--tile", "128", "--overlap", "32")
    monkeypatch.undo()
    assert code == 2
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if not line.startswith("jadis: warning: ")]
    assert len(errors) == 1 and errors[0].startswith("jadis: error: ")  # one line (warnings aside)
    message = errors[0]
    assert "reading the names failed" in message and "the text reader failed" in message
    assert "--no-names" in message
    assert sorted(p.name for p in out.iterdir()) == ["sheet.gpkg", "sheet_classes.tif"]  # no partial file left
    assert set(list_layers(out / "sheet.gpkg")) == {"blocks", "streets", "street_nodes", "labels"}
    for layer in ("blocks", "streets", "street_nodes", "labels"):
        pyogrio.read_dataframe(out / "sheet.gpkg", layer=layer)  # every layer reads back
