"""Accepted tiles become training pairs; `jadis train --from-project` fine-tunes on them."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio

from jadis.project import maps, tiles
from jadis.project.sample import write_sample
from jadis.project.training import validated_pairs
from jadis.project.workspace import init_project

pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")


@pytest.fixture()
def project(tmp_path):
    proj = init_project(tmp_path / "proj")
    image, classes = write_sample(tmp_path / "src", 700, 600)
    record = maps.add_map(proj, image)
    tiles.import_class_raster(proj, record.id, classes)
    return proj, record, image, classes


def test_only_accepted_tiles_at_their_version_become_pairs(project):
    proj, record, image, classes = project
    assert validated_pairs(proj) == []
    tiles.review_tiles(proj, record.id, [(0, 0), (1, 1)], "accepted")
    tiles.review_tiles(proj, record.id, [(1, 0)], "rejected")
    pairs = validated_pairs(proj)
    assert [p[1].shape for p in pairs] == [(512, 512), (88, 188)]
    with rasterio.open(image) as ds:
        scan = np.moveaxis(ds.read(), 0, -1)
    with rasterio.open(classes) as ds:
        truth = ds.read(1)
    assert (pairs[0][0] == scan[:512, :512]).all() and (pairs[0][1] == truth[:512, :512]).all()
    assert (pairs[1][0] == scan[512:, 512:]).all() and (pairs[1][1] == truth[512:, 512:]).all()


def test_train_from_project_cli(run_cli, project, tmp_path):
    pytest.importorskip("segmentation_models_pytorch")
    from jadis.segment.model import ModelArch, build_model, save_checkpoint

    proj, record, _, _ = project
    code, _, err = run_cli("train", "--from-project", str(proj.root), "--out", str(tmp_path / "none"))
    assert code == 2 and "no accepted tiles" in err
    tiles.review_tiles(proj, record.id, [(0, 0), (1, 1)], "accepted")
    arch = ModelArch(decoder_channels=(16, 16, 16, 8, 8), extra={"input_scale": 0.5})
    start = save_checkpoint(tmp_path / "tiny.pt", build_model(arch), arch)
    config = tmp_path / "tiny.yaml"
    config.write_text("epochs: 1\nsteps_per_epoch: 1\nbatch_size: 2\ncrop: 128\nreal: false\nimagenet: false\n"
                      "warmup_steps: 1\nthreads: 1\n")
    out = tmp_path / "run"
    code, stdout, err = run_cli("train", "--from-project", str(proj.root), "--config", str(config),
                                "--checkpoint", str(start), "--out", str(out))
    assert code == 0, err
    assert "on 2 accepted tile(s)" in stdout
    assert (out / "best.pt").exists()
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(metrics) == 1 and np.isfinite(metrics[0]["train_loss"])
