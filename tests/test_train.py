"""Training: a smoke run on tiny generated data, resume, the partial-label loss, sources, configs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml

from jadis.classes import MapClass
from jadis.errors import JadisError
from jadis.segment.model import load_checkpoint
from jadis.segment.synth import SynthConfig, generate_dataset
from jadis.segment.train import (
    IGNORE,
    ArraySource,
    FolderSource,
    RealValidation,
    TrainConfig,
    augment,
    load_config,
    loss_fn,
    thin_streets,
    train,
)

TINY_ARCH = {"decoder_channels": [16, 16, 16, 8, 8], "extra": {"input_scale": 0.5}}


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    generate_dataset(out, 3, SynthConfig(size=96), seed=3)
    return out


def _real_like_pair() -> tuple[np.ndarray, np.ndarray]:
    """A small 'real' map: two blocks and a street, with an annotation that has no text."""
    img = np.full((128, 192, 3), 230, np.uint8)
    mask = np.full((128, 192), MapClass.STREET, np.uint8)
    for x0, x1 in ((8, 80), (112, 184)):
        mask[8:120, x0:x1] = MapClass.BLOCK
        img[8:120, x0] = img[8:120, x1 - 1] = img[8, x0:x1] = img[119, x0:x1] = 40
    return img, mask


def _cfg(synth_dir, **kw) -> TrainConfig:
    base = dict(seed=0, arch=TINY_ARCH, imagenet=False, epochs=1, steps_per_epoch=2, batch_size=2, crop=64,
                real=False, synth_dir=str(synth_dir), synth_val_dir=str(synth_dir), synth_val_n=2, threads=1,
                warmup_steps=1)
    base.update(kw)
    return TrainConfig(**base)


def test_smoke_training_and_resume(tmp_path, synth_dir):
    img, mask = _real_like_pair()
    real = ArraySource([(img, mask)], partial=True, name="real")
    val = RealValidation(image=img, classes=mask, valid=np.ones(mask.shape, bool), content=np.ones(mask.shape, bool))
    sources = [(real, 0.5), (FolderSource(synth_dir), 0.5)]
    out = tmp_path / "run"
    lines: list[str] = []
    best = train(_cfg(synth_dir), out, sources=sources, real_val=val, log=lines.append)
    assert best["epoch"] == 1 and np.isfinite(best["train_loss"])
    for key in ("real_block_pq", "real_street_iou", "real_block_iou", "synth_text_iou", "synth_street_iou"):
        assert key in best
    assert "epoch 1" in lines[0] and "real PQ" in lines[0]
    model, arch, meta = load_checkpoint(out / "best.pt")
    assert arch.extra["input_scale"] == 0.5 and meta["epoch"] == 1
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 4, 64, 64)
    assert (out / "metrics.csv").read_text().startswith("epoch,")

    with pytest.raises(JadisError):  # an existing run is never overwritten silently
        train(_cfg(synth_dir), out, sources=sources, real_val=val, log=lines.append)
    train(_cfg(synth_dir, epochs=2), out, resume=True, sources=sources, real_val=val, log=lines.append)
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]
    with pytest.raises(JadisError):
        train(_cfg(synth_dir), tmp_path / "fresh", resume=True, sources=sources, log=lines.append)


def test_partial_loss_ignores_the_text_logit_on_unannotated_real_pixels():
    target = torch.full((1, 4, 4), MapClass.STREET, dtype=torch.long)
    logits = torch.zeros(1, 4, 4, 4)
    logits[:, MapClass.STREET] = 2.0
    weights = torch.ones(4)
    base = loss_fn(logits, target, torch.tensor([True]), weights)
    logits[:, MapClass.TEXT] = 8.0  # the network says "text" where the annotation says "street"
    exact = loss_fn(logits, target, torch.tensor([False]), weights)
    partial = loss_fn(logits, target, torch.tensor([True]), weights)
    assert torch.isclose(partial, base)  # no reward and no penalty for text on real pixels
    assert exact > 5 > 1 > partial
    logits[:, MapClass.TEXT] = 0.0
    logits[:, MapClass.BLOCK] = 8.0  # but the street / block choice is taught
    assert loss_fn(logits, target, torch.tensor([True]), weights) > 5
    target[0, 0, 0] = IGNORE
    assert torch.isfinite(loss_fn(logits, target, torch.tensor([False]), weights, boundary_weight=3.0))


def test_thin_streets_are_the_narrow_streets_only():
    target = torch.full((1, 40, 40), MapClass.BLOCK, dtype=torch.long)
    target[0, :, 5:9] = MapClass.STREET  # a 4 px lane
    target[0, :, 20:36] = MapClass.STREET  # a 16 px street
    thin = thin_streets(target, 11)[0]
    assert thin[:, 5:9].all()
    assert not thin[:, 20:36].any() and not thin[:, :5].any()
    assert not thin_streets(target, 3)[0].any()  # nothing is narrower than 3 px


def test_thin_street_weight_raises_the_cost_of_closing_a_lane():
    target = torch.full((1, 32, 32), MapClass.BLOCK, dtype=torch.long)
    target[0, :, 10:13] = MapClass.STREET
    logits = torch.zeros(1, 4, 32, 32)
    logits[:, MapClass.BLOCK] = 3.0  # the lane is closed: predicted block everywhere
    weights = torch.ones(4)
    plain = loss_fn(logits, target, torch.tensor([True]), weights)
    heavy = loss_fn(logits, target, torch.tensor([True]), weights, thin_street_weight=5.0)
    assert heavy > 2 * plain


def test_array_source_never_touches_forbidden_pixels():
    img, mask = _real_like_pair()
    forbidden = np.zeros(mask.shape, bool)
    forbidden[:, 120:] = True
    img = img.copy()
    img[:, 120:] = 7  # a marker: these pixels must never appear in a crop
    src = ArraySource([(img, mask)], forbidden=[forbidden])
    rng = np.random.default_rng(0)
    for _ in range(50):
        crop, m = src.sample(rng, 64)
        assert (crop != 7).all() and crop.shape == (64, 64, 3) and m.shape == (64, 64)
    allowed = np.zeros(mask.shape, bool)
    allowed[:, :100] = True
    src = ArraySource([(img, mask)], allowed=[allowed], forbidden=[forbidden], min_allowed=0.3)
    crop, m = src.sample(rng, 96)
    assert (m == IGNORE).any() or allowed.all()
    with pytest.raises(JadisError):
        ArraySource([(img, mask)], forbidden=[np.ones(mask.shape, bool)]).sample(rng, 64)


def test_augment_keeps_image_and_mask_aligned():
    rng = np.random.default_rng(1)
    img = np.zeros((80, 80, 3), np.uint8)
    mask = np.zeros((80, 80), np.uint8)
    img[10:30, 50:70] = 255
    mask[10:30, 50:70] = 2
    for _ in range(10):
        a, m = augment(rng, img, mask, 64, strong=False)
        assert a.shape == (64, 64, 3) and m.shape == (64, 64)
        assert ((a[..., 0] > 128) == (m == 2)).mean() > 0.97


def test_config_loading(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"epochs": 3, "arch": TINY_ARCH, "zoom": [0.8, 1.2], "real": False}))
    cfg = load_config(path, seed=7, epochs=None)
    assert cfg.epochs == 3 and cfg.seed == 7 and cfg.zoom == (0.8, 1.2)
    assert cfg.model_arch.decoder_channels == (16, 16, 16, 8, 8)
    path.write_text("epochs: 3\nlearning_rate: 1\n")
    with pytest.raises(JadisError, match="unknown config keys"):
        load_config(path)
    path.write_text("epochs: [1\n")
    with pytest.raises(JadisError, match="YAML"):
        load_config(path)
    path.write_text("crop: 100\n")
    with pytest.raises(JadisError, match="multiple of 32"):
        load_config(path)
    path.write_text("batch_size: 1\n")
    with pytest.raises(JadisError, match="batch_size"):
        load_config(path)
    path.write_text("thin_street_width: 10\n")
    with pytest.raises(JadisError, match="thin_street_width"):
        load_config(path)
    path.write_text("arch: {layers: 3}\n")
    with pytest.raises(JadisError, match="arch"):
        load_config(path)
    with pytest.raises(JadisError):
        load_config(tmp_path / "missing.yaml")


def test_train_command(run_cli, tmp_path, synth_dir):
    cfg = tmp_path / "smoke.yaml"
    cfg.write_text(yaml.safe_dump({"arch": TINY_ARCH, "imagenet": False, "epochs": 1, "steps_per_epoch": 1,
                                   "batch_size": 2, "crop": 64, "real": False, "synth_dir": str(synth_dir),
                                   "threads": 1}))
    code, out, err = run_cli("train", "--config", str(cfg), "--out", str(tmp_path / "run"))
    assert code == 0, err
    assert "epoch 1" in out and (tmp_path / "run" / "best.pt").is_file()
    code, _, err = run_cli("train", "--config", str(tmp_path / "nope.yaml"))
    assert code == 2 and "not found" in err
    bad = tmp_path / "nodata.yaml"
    bad.write_text("real: false\n")
    code, _, err = run_cli("train", "--config", str(bad), "--out", str(tmp_path / "run2"))
    assert code == 2 and "no training data" in err
