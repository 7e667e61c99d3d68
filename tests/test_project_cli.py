"""`jadis project …` and `jadis app` on the command line: same store as the app, one-line errors."""

from __future__ import annotations

import pytest

from jadis.project import maps, tiles
from jadis.project.sample import write_sample
from jadis.project.workspace import open_project

pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")


@pytest.fixture()
def sample(tmp_path):
    return write_sample(tmp_path / "src", width=600, height=500)


def test_init_add_status_history(run_cli, tmp_path, sample):
    image, classes = sample
    proj = tmp_path / "p"
    code, out, err = run_cli("project", "init", str(proj), "--name", "Paris 1836")
    assert code == 0, err
    assert "created project 'Paris 1836'" in out
    code, out, err = run_cli("project", "add", str(proj), str(image), "--year", "1836", "--copy",
                             "--classes", str(classes), "--author", "alice")
    assert code == 0, err
    assert "added map #1 'sample_map'" in out and "imported class raster" in out
    project = open_project(proj)
    record = maps.get_map(project, "sample_map")
    assert record.path.parent == proj / "scans" and record.added_by == "alice" and record.year == 1836
    assert len(tiles.tile_states(project, record.id)) == 2
    code, out, err = run_cli("project", "status", str(proj), "--verify")
    assert code == 0, err
    assert "sample_map" in out and "segmented" in out and "1 map(s)" in out
    code, out, _ = run_cli("project", "history", str(proj))
    assert code == 0 and out == ""


@pytest.mark.parametrize("args, message", [
    (("project", "status", "{tmp}/nope"), "no such project folder"),
    (("project", "init", "{tmp}/x", "--crs", "EPSG:0"), "unknown CRS"),
    (("project", "add", "{proj}", "{tmp}/missing.png"), "no such file"),
    (("project", "add", "{proj}", "{tmp}/notes.txt"), "not a readable image"),
    (("project", "history", "{proj}", "--map", "ghost"), "no map 'ghost'"),
    (("app", "{tmp}/nope"), "no such project folder"),
])
def test_bad_input_is_one_line_exit_2(run_cli, tmp_path, args, message):
    proj = tmp_path / "p"
    assert run_cli("project", "init", str(proj))[0] == 0
    (tmp_path / "notes.txt").write_text("hello")
    code, out, err = run_cli(*(a.format(tmp=tmp_path, proj=proj) for a in args))
    assert code == 2, (out, err)
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_add_same_scan_twice_is_refused(run_cli, tmp_path, sample):
    image, _ = sample
    proj = tmp_path / "p"
    run_cli("project", "init", str(proj))
    assert run_cli("project", "add", str(proj), str(image))[0] == 0
    code, _, err = run_cli("project", "add", str(proj), str(image))
    assert code == 2 and "already registered" in err


def test_project_segment_runs_the_segmenter_and_stores_tiles(run_cli, tmp_path, sample):
    pytest.importorskip("segmentation_models_pytorch")
    from jadis.segment.model import ModelArch, build_model, save_checkpoint

    image, _ = sample
    proj = tmp_path / "p"
    run_cli("project", "init", str(proj))
    assert run_cli("project", "add", str(proj), str(image))[0] == 0
    arch = ModelArch(decoder_channels=(16, 16, 16, 8, 8), extra={"input_scale": 0.5})
    checkpoint = save_checkpoint(tmp_path / "tiny.pt", build_model(arch), arch)
    code, out, err = run_cli("project", "segment", str(proj), "--checkpoint", str(checkpoint), "--author", "bot")
    assert code == 0, err
    assert "segmented 'sample_map'" in out
    project = open_project(proj)
    record = maps.get_map(project, "sample_map")
    assert record.status == "segmented"
    states = tiles.tile_states(project, record.id)
    assert len(states) == 2 and {s.version for s in states.values()} == {1}
    ids = tiles.read_classes(project, record.id)
    assert ids.shape == (500, 600) and ids.max() <= 3
    code, out, _ = run_cli("project", "segment", str(proj))
    assert code == 0 and "nothing to segment" in out


def test_project_export_cli(run_cli, tmp_path, sample):
    pytest.importorskip("jadis.vectorize.layers", reason="the vectorizer is not in this checkout yet")
    image, classes = sample
    proj = tmp_path / "p"
    run_cli("project", "init", str(proj), "--name", "Export me")
    run_cli("project", "add", str(proj), str(image), "--classes", str(classes))
    code, out, err = run_cli("project", "export", str(proj), "--out", str(tmp_path / "gis"))
    assert code == 0, err
    assert "Export_me.gpkg" in out and "Export_me.qgz" in out and "sample_map_classes.tif" in out
    assert (tmp_path / "gis" / "Export_me.qgz").exists()
    code, _, err = run_cli("project", "export", str(proj), "--map", "nope")
    assert code == 2 and "no map 'nope'" in err
