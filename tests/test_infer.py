"""Tiled, windowed inference: tiling, blending, bands, margins, files, georeferencing."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rasterio
from _segfixtures import local_predictor, map_image, save_tiny_checkpoint
from rasterio.control import GroundControlPoint
from rasterio.transform import from_origin

from jadis.errors import JadisError
from jadis.pipelines.scan import segment_image
from jadis.segment.infer import predict_array, predict_file
from jadis.segment.predictor import load_predictor, predictor_from_model
from jadis.segment.tiling import TileGrid, blend_weights_1d, tile_starts


def test_tile_starts_cover_and_stay_inside():
    for length in (1, 63, 64, 100, 257, 1000):
        starts = tile_starts(length, min(64, length), 48)
        tile = min(64, length)
        assert starts[0] == 0 and starts[-1] + tile == max(length, tile)
        covered = np.zeros(length, bool)
        for s in starts:
            covered[s:s + tile] = True
        assert covered.all()


def test_blend_weights_positive_and_symmetric():
    w = blend_weights_1d(64, 16)
    assert (w > 0).all() and w.max() == 1.0
    assert np.allclose(w, w[::-1])
    assert (np.diff(w[:16]) > 0).all()


def test_grid_rejects_bad_overlap():
    with pytest.raises(ValueError):
        TileGrid.build(100, 100, 64, 64)


def test_tiled_equals_whole_image_local_model():
    """With a model whose receptive field is smaller than the overlap, tiling changes nothing."""
    image = map_image(300, 420)
    p = local_predictor()
    whole = predict_array(image, p, tile=512, overlap=0)
    assert len(np.unique(whole)) == 4  # the fixture exercises every class
    tiled = predict_array(image, p, tile=128, overlap=32, batch_size=3)
    assert (tiled == whole).mean() > 0.999


def test_tiled_close_to_whole_image_unet():
    """The real architecture (random weights): blending keeps tiles close to whole-image inference."""
    import torch

    from jadis.segment.model import ModelArch, build_model

    torch.manual_seed(0)
    arch = ModelArch(decoder_channels=(32, 16, 16, 8, 8))
    p = predictor_from_model(build_model(arch), arch, precision="fp32", channels_last=False)
    image = map_image(256, 320, seed=3)
    whole = predict_array(image, p, tile=512, overlap=0)
    tiled = predict_array(image, p, tile=192, overlap=64)
    assert (tiled == whole).mean() > 0.85


def test_column_bands_do_not_change_the_result():
    image = map_image(200, 700, seed=1)
    p = local_predictor()
    one = predict_array(image, p, tile=128, overlap=32, band_width=4096, clean=False)
    many = predict_array(image, p, tile=128, overlap=32, band_width=192, clean=False)
    assert np.array_equal(one, many)
    # Speck cleaning leaves regions cut by a band edge alone (only sheets wider than 16 384 px
    # have several bands): everything else is the same.
    one = predict_array(image, p, tile=128, overlap=32, band_width=4096)
    many = predict_array(image, p, tile=128, overlap=32, band_width=192)
    assert (one == many).mean() > 0.995


def test_input_scale_is_applied():
    p = local_predictor()
    p.arch.extra["input_scale"] = 0.5
    image = map_image(200, 260, seed=2)
    out = predict_array(image, p, tile=128, overlap=32)
    assert out.shape == image.shape[:2]
    full = predict_array(image, local_predictor(), tile=128, overlap=32)
    assert (out == full).mean() > 0.8  # same classes, coarser


def test_image_smaller_than_a_tile_and_odd_sizes():
    p = local_predictor()
    for h, w in [(1, 1), (7, 300), (33, 65)]:
        out = predict_array(map_image(max(h, 40), max(w, 40))[:h, :w], p, tile=64, overlap=16)
        assert out.shape == (h, w)


def _write_tif(path, image, **profile):
    h, w = image.shape[:2]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(path, "w", driver="GTiff", width=w, height=h, count=3, dtype="uint8", **profile) as ds:
            ds.write(np.moveaxis(image, -1, 0))
            return ds.profile


def test_predict_file_copies_crs_and_transform(tmp_path):
    image = map_image(200, 300)
    src = tmp_path / "geo.tif"
    transform = from_origin(650000, 6862000, 0.5, 0.5)
    _write_tif(src, image, crs="EPSG:2154", transform=transform)
    dst = tmp_path / "out.tif"
    predict_file(src, dst, local_predictor(), tile=128, overlap=32, progress=False)
    with rasterio.open(dst) as ds:
        assert ds.crs.to_epsg() == 2154
        assert ds.transform.almost_equals(transform)
        assert (ds.width, ds.height, ds.count, ds.dtypes[0]) == (300, 200, 1, "uint8")
        assert ds.profile["tiled"] and ds.compression is not None
        assert np.array_equal(ds.read(1), predict_array(image, local_predictor(), tile=128, overlap=32))


def test_predict_file_copies_gcps(tmp_path):
    image = map_image(120, 160)
    src = tmp_path / "gcps.tif"
    gcps = [GroundControlPoint(row=0, col=0, x=2.33, y=48.86), GroundControlPoint(row=119, col=0, x=2.33, y=48.85),
            GroundControlPoint(row=0, col=159, x=2.34, y=48.86)]
    _write_tif(src, image, gcps=gcps, crs="EPSG:4326")
    dst = tmp_path / "out.tif"
    predict_file(src, dst, local_predictor(), tile=128, overlap=32, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(dst) as ds:
            out_gcps, crs = ds.gcps
    assert len(out_gcps) == 3 and crs.to_epsg() == 4326
    assert out_gcps[1].row == 119 and out_gcps[1].y == pytest.approx(48.85)


def test_blank_margins_are_skipped(tmp_path):
    paper = np.full((700, 900, 3), (233, 220, 186), np.uint8)
    paper[250:450, 300:600] = map_image(200, 300)
    src = tmp_path / "margins.png"
    from PIL import Image

    Image.fromarray(paper).save(src)
    p = local_predictor()
    stats = predict_file(src, tmp_path / "a.tif", p, tile=128, overlap=32, progress=False)
    assert stats.tiles_skipped > 0 and stats.tiles_run + stats.tiles_skipped == stats.tiles
    full = predict_file(src, tmp_path / "b.tif", p, tile=128, overlap=32, progress=False, skip_margins=False)
    assert full.tiles_skipped == 0
    with rasterio.open(tmp_path / "a.tif") as a, rasterio.open(tmp_path / "b.tif") as b:
        assert np.array_equal(a.read(1)[250:450, 300:600], b.read(1)[250:450, 300:600])
        assert (a.read(1)[:100] == 0).all()


def test_segment_image_writes_both_outputs(tmp_path):
    ckpt = save_tiny_checkpoint(tmp_path / "tiny.pt")
    src = tmp_path / "sheet.png"
    from PIL import Image

    Image.fromarray(map_image(160, 200)).save(src)
    result = segment_image(src, tmp_path / "out", checkpoint=ckpt, tile=128, overlap=32, progress=False)
    assert result.classes_path.name == "sheet_classes.tif" and result.classes_path.is_file()
    assert result.gpkg_path is not None and result.gpkg_path.name == "sheet.gpkg"
    from jadis.io.vector import list_layers

    assert set(list_layers(result.gpkg_path)) == {"blocks", "streets", "street_nodes", "labels"}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["sheet.gpkg", "sheet_classes.tif"]


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(JadisError, match="checkpoint not found"):
        load_predictor(tmp_path / "nope.pt")


def test_mirror_view_by_default_single_view_for_the_naive_baseline(tmp_path):
    """`jadis segment` (and everything that loads the model) averages the tile and its mirror by
    default; the naive baseline of the speed benchmark stays one view."""
    from jadis.segment.predictor import DEFAULT_TTA

    ckpt = save_tiny_checkpoint(tmp_path / "tiny.pt")
    assert DEFAULT_TTA == 2
    assert load_predictor(ckpt).tta == 2 and load_predictor(ckpt, naive=True).tta == 1
    assert load_predictor(ckpt, tta=1).tta == 1
    with pytest.raises(JadisError):
        load_predictor(ckpt, tta=3)


def test_bad_device_and_precision():
    from jadis.segment.predictor import resolve_device, resolve_precision

    with pytest.raises(JadisError):
        resolve_device("tpu9")
    with pytest.raises(JadisError):
        resolve_precision("fp8", resolve_device("cpu"))


def test_batchnorm_folding_keeps_outputs():
    import torch

    from jadis.segment.model import ModelArch, build_model
    from jadis.segment.predictor import fold_batchnorm, folded_copy

    torch.manual_seed(0)
    arch = ModelArch(decoder_channels=(32, 16, 16, 8, 8))
    model = build_model(arch).eval()
    with torch.no_grad():  # non-trivial running statistics
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    folded = folded_copy(model)
    assert folded is not model
    assert not any(type(m).__name__ in ("BatchNorm2d", "BatchNormAct2d") for m in folded.modules())
    x = torch.randn(1, 3, 128, 160)
    with torch.inference_mode():
        assert torch.allclose(model(x), folded(x), atol=1e-3, rtol=1e-3)
    assert fold_batchnorm(torch.nn.Sequential(torch.nn.Linear(2, 2))) == 0


def test_segment_georeferenced_sheet_gives_world_layers(tmp_path):
    import geopandas as gpd

    ckpt = save_tiny_checkpoint(tmp_path / "tiny.pt")
    src = tmp_path / "geo.tif"
    _write_tif(src, map_image(160, 200), crs="EPSG:2154", transform=from_origin(650000, 6862000, 0.5, 0.5))
    result = segment_image(src, tmp_path / "out", checkpoint=ckpt, tile=128, overlap=32, progress=False)
    assert result.georeferenced
    with rasterio.open(result.classes_path) as ds:
        assert ds.crs.to_epsg() == 2154
    for layer in ("blocks", "streets", "street_nodes", "labels"):
        gdf = gpd.read_file(result.gpkg_path, layer=layer)
        assert gdf.crs is not None and gdf.crs.to_epsg() == 2154
        if len(gdf):
            minx, miny, maxx, maxy = gdf.total_bounds
            assert 649999 <= minx <= maxx <= 650101 and 6861919 <= miny <= maxy <= 6862001


def test_fused_bf16_matches_fp32():
    """The conv+activation fused bf16 model (CPU) agrees with the fp32 model."""
    import torch

    from jadis.segment import fuse
    from jadis.segment.model import ModelArch, build_model
    from jadis.segment.predictor import cpu_supports_bf16

    if not (fuse.available() and cpu_supports_bf16()):
        pytest.skip("no oneDNN bf16 on this CPU")
    torch.manual_seed(0)
    arch = ModelArch(decoder_channels=(32, 16, 16, 8, 8), extra={"input_scale": 0.5})
    model = build_model(arch, imagenet=True)
    fast = predictor_from_model(model, arch, precision="bf16")
    slow = predictor_from_model(build_model(arch, imagenet=False).eval(), arch, precision="fp32", channels_last=False)
    slow.model.load_state_dict(model.state_dict())
    assert fast.fused
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fast.model.modules())
    tiles = np.stack([map_image(256, 256, seed=s) for s in range(2)])
    a, b = fast.logits(tiles), slow.logits(tiles)
    assert a.shape == b.shape == (2, 4, 256, 256)
    assert (a.argmax(1) == b.argmax(1)).mean() > 0.97
    assert np.abs(a - b).max() < 0.1 * np.abs(b).max()


def test_fuse_falls_back_when_unavailable(monkeypatch):
    from jadis.segment import fuse
    from jadis.segment.model import ModelArch, build_model

    monkeypatch.setattr(fuse, "available", lambda: False)
    arch = ModelArch(decoder_channels=(32, 16, 16, 8, 8))
    p = predictor_from_model(build_model(arch), arch, precision="bf16")
    assert not p.fused and p.precision == "bf16"
    assert p.logits(np.stack([map_image(64, 64)])).shape == (1, 4, 64, 64)


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "LA", "uint16"])
def test_input_modes(tmp_path, mode):
    """Grey, palette, RGBA, grey+alpha and 16-bit inputs are read as RGB."""
    from PIL import Image

    rgb = map_image(120, 160)
    if mode == "uint16":
        src = tmp_path / "in.tif"
        grey = np.asarray(Image.fromarray(rgb).convert("L")).astype(np.uint16) * 257
        with rasterio.open(src, "w", driver="GTiff", width=160, height=120, count=1, dtype="uint16") as ds:
            ds.write(grey[None])
        expected = np.asarray(Image.fromarray(rgb).convert("L"))
    else:
        src = tmp_path / "in.png"
        Image.fromarray(rgb).convert(mode).save(src)
        expected = np.asarray(Image.open(src).convert("RGB"))
    p = local_predictor()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        predict_file(src, tmp_path / "out.tif", p, tile=128, overlap=32, progress=False)
        with rasterio.open(tmp_path / "out.tif") as ds:
            out = ds.read(1)
    assert (out == predict_array(expected, p, tile=128, overlap=32)).mean() > 0.999


def test_half_downscale_equals_torch_antialias():
    import torch
    import torch.nn.functional as F

    from jadis.segment.predictor import half_downscale

    tiles = np.random.default_rng(0).integers(0, 256, (2, 128, 192, 3), dtype=np.uint8)
    ref = F.interpolate(torch.from_numpy(tiles).permute(0, 3, 1, 2).float(), size=(64, 96), mode="bilinear",
                        align_corners=False, antialias=True).permute(0, 2, 3, 1).numpy()
    assert np.abs(half_downscale(tiles) - ref).max() < 1e-3


def test_test_time_augmentation_is_flip_invariant():
    """With all 8 dihedral views, predicting a flipped tile gives the flipped prediction."""
    import torch

    from jadis.segment.model import ModelArch, build_model

    torch.manual_seed(0)
    arch = ModelArch(decoder_channels=(32, 16, 16, 8, 8))
    p = predictor_from_model(build_model(arch), arch, precision="fp32", channels_last=False)
    p.tta = 8
    tile = map_image(96, 96, seed=4)[None]
    a = p.logits(tile)
    b = p.logits(tile[:, :, ::-1].copy())
    assert np.allclose(a[..., ::-1], b, atol=1e-4)
    p.tta = 1
    assert not np.allclose(p.logits(tile)[..., ::-1], p.logits(tile[:, :, ::-1].copy()), atol=1e-4)


def test_odd_sized_tiles_keep_the_exact_input_scale():
    """A tile whose size is not a multiple of 64 is mirrored-padded (not stretched) for input_scale 0.5."""
    p = local_predictor()
    p.arch.extra["input_scale"] = 0.5
    tile = map_image(100, 150, seed=5)[None]
    padded = np.pad(tile, ((0, 0), (0, 28), (0, 42), (0, 0)), mode="reflect")
    assert np.allclose(p.logits(tile), p.logits(padded)[:, :, :100, :150], atol=1e-5)
