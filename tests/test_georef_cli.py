"""``jadis georef``: commands end to end on generated data, and one-line errors for bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import rasterio
from PIL import Image

from jadis.georef.formats.qgis_points import write_points
from jadis.georef.gcps import GcpSet

W, H = 500, 400


@pytest.fixture()
def sheet(tmp_path):
    """A scan and its QGIS .points file (VERNIQUET-m, 12 GCPs, one disabled)."""
    rng = np.random.default_rng(5)
    img = tmp_path / "sheet.jpg"
    Image.fromarray(rng.integers(100, 255, (H, W, 3), dtype=np.uint8)).save(img)
    gx, gy = np.meshgrid(np.linspace(20, W - 20, 4), np.linspace(20, H - 20, 3))
    px = np.column_stack([gx.ravel(), gy.ravel()])
    world = np.column_stack([-1000 + 0.34 * px[:, 0] + 1e-5 * px[:, 0] * px[:, 1], 4500 - 0.34 * px[:, 1]])
    world += rng.normal(0, 0.05, world.shape)
    enabled = np.ones(12, bool)
    enabled[5] = False
    pts = write_points(tmp_path / "sheet.points", GcpSet(px, world, "VERNIQUET-m", enabled))
    return img, pts


def test_fit_prints_residuals_and_writes_an_annotation(run_cli, sheet, tmp_path):
    img, pts = sheet
    out = tmp_path / "sheet.json"
    code, stdout, err = run_cli("georef", "fit", str(img), "--gcps", str(pts), "-t", "polynomial2", "-o", str(out))
    assert code == 0, err
    assert "leave-one-out RMSE" in stdout and "RMSE" in stdout and "wrote" in stdout
    data = json.loads(out.read_text())
    assert data["jadis"]["transform"] == "polynomial2" and data["jadis"]["crs"] == "VERNIQUET-m"
    assert data["target"]["selector"]["value"].startswith(f'<svg width="{W}" height="{H}">')
    code, stdout, _ = run_cli("georef", "report", str(out), "-t", "tps")
    assert code == 0 and "tps" in stdout


def test_fit_with_crs_override_and_reprojection(run_cli, sheet, tmp_path):
    img, pts = sheet
    out = tmp_path / "l93.json"
    code, _, err = run_cli("georef", "fit", str(img), "--gcps", str(pts), "--crs", "VERNIQUET-m",
                           "--to-crs", "EPSG:2154", "-o", str(out), "-q")
    assert code == 0, err
    assert json.loads(out.read_text())["jadis"]["crs"] == "EPSG:2154"


def test_warp_apply_deformation_convert(run_cli, sheet, tmp_path):
    img, pts = sheet
    gj = tmp_path / "g.json"
    assert run_cli("georef", "fit", str(img), "--gcps", str(pts), "-o", str(gj), "-q")[0] == 0
    tif = tmp_path / "g.tif"
    code, _, err = run_cli("georef", "warp", str(img), str(gj), "--crs", "EPSG:2154", "-o", str(tif))
    assert code == 0, err
    with rasterio.open(tif) as ds:
        assert ds.crs.to_epsg() == 2154 and ds.count == 4
    csv_in = tmp_path / "p.csv"
    csv_in.write_text("label,x,y\nA,10,10\nB,250,200\n")
    csv_out = tmp_path / "p_world.csv"
    assert run_cli("georef", "apply", str(gj), "--points", str(csv_in), "-o", str(csv_out))[0] == 0
    df = pd.read_csv(csv_out)
    assert list(df.columns) == ["label", "x", "y", "lon", "lat", "X", "Y"]
    inv_out = tmp_path / "p_px.csv"
    assert run_cli("georef", "apply", str(gj), "--points", str(csv_out), "--inverse", "-o", str(inv_out))[0] == 0
    assert np.allclose(pd.read_csv(inv_out)[["x", "y"]].to_numpy(), [[10, 10], [250, 200]], atol=0.05)
    d = tmp_path / "def"
    assert run_cli("georef", "deformation", str(gj), "--map", str(img), "-o", str(d))[0] == 0
    assert (d / "scale.png").is_file() and (d / "distortion_grid.gpkg").is_file()
    for suffix in (".csv", ".vrt", ".json", ".points"):
        dest = tmp_path / f"conv{suffix}"
        code, _, err = run_cli("georef", "convert", str(pts), str(dest), "--image", str(img))
        assert code == 0, err
        assert dest.is_file()


@pytest.mark.parametrize("case", ["unknown_crs", "degenerate", "too_few", "malformed", "size", "missing"])
def test_bad_inputs_are_one_line_errors_and_write_nothing(run_cli, sheet, tmp_path, case):
    img, pts = sheet
    out = tmp_path / "out.json"
    args = ["georef", "fit", str(img), "--gcps", str(pts), "-o", str(out)]
    if case == "unknown_crs":
        args += ["--crs", "EPSG:424242"]
        expect = "unknown CRS"
    elif case == "degenerate":
        line = np.column_stack([np.arange(6) * 50.0, np.arange(6) * 30.0])
        write_points(pts, GcpSet(line, line * [0.3, -0.3] + [652000, 6862000], "EPSG:2154"))
        expect = "on one line"
    elif case == "too_few":
        px = np.random.default_rng(1).uniform(0, 400, (8, 2))
        write_points(pts, GcpSet(px, px * [0.3, -0.3] + [652000, 6862000], "EPSG:2154"))
        args += ["-t", "polynomial3"]
        expect = "at least 10"
    elif case == "malformed":
        pts.write_text("mapX,mapY,sourceX,sourceY\n1,2,three,4\n")
        expect = "not numeric"
    elif case == "size":
        Image.fromarray(np.zeros((40, 50, 3), np.uint8)).save(img)
        expect = "image size mismatch"
    else:
        args[2] = str(tmp_path / "nope.jpg")
        expect = "no such file"
    code, _, err = run_cli(*args)
    assert code == 2
    assert err.strip().startswith("jadis: error:") and expect in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_apply_and_warp_errors(run_cli, sheet, tmp_path):
    img, pts = sheet
    gj = tmp_path / "g.json"
    run_cli("georef", "fit", str(img), "--gcps", str(pts), "-o", str(gj), "-q")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    code, _, err = run_cli("georef", "apply", str(gj), "--points", str(bad), "-o", str(tmp_path / "o.csv"))
    assert code == 2 and "needs pixel columns" in err and not (tmp_path / "o.csv").exists()
    code, _, err = run_cli("georef", "apply", str(gj), "-o", str(tmp_path / "o.csv"))
    assert code == 2 and "exactly one of" in err
    notjson = tmp_path / "n.json"
    notjson.write_text("[1, 2")
    code, _, err = run_cli("georef", "warp", str(img), str(notjson), "-o", str(tmp_path / "o.tif"))
    assert code == 2 and "not valid JSON" in err and not (tmp_path / "o.tif").exists()
    code, _, err = run_cli("georef", "warp", str(img), str(gj), "--crs", "nonsense", "-o", str(tmp_path / "o.tif"))
    assert code == 2 and "unknown CRS" in err


def test_fit_best_transform_picks_the_lowest_leave_one_out(run_cli, sheet, tmp_path):
    img, pts = sheet
    out = tmp_path / "best.json"
    code, stdout, err = run_cli("georef", "fit", str(img), "--gcps", str(pts), "-t", "best", "-o", str(out))
    assert code == 0, err
    assert "<- best" in stdout
    from jadis.georef.fit import compare_transforms
    from jadis.georef.georeference import Georeference

    g = Georeference.load(out)
    loo = {n: r.loo_rmse_m for n, r in compare_transforms(g) if r is not None and np.isfinite(r.loo_rmse_m)}
    assert loo[g.transform] <= min(loo.values()) * 1.01 + 1e-9
