"""``jadis batch``: sources, Dask execution, the store as the only writer's, resumability, reports."""

from __future__ import annotations

import csv
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio
from _segfixtures import map_image, save_tiny_checkpoint
from PIL import Image

from jadis.errors import JadisError

pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    return save_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt")


def _scans(folder: Path, n: int, h: int = 120, w: int = 160) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"sheet{i + 1}.png"
        Image.fromarray(map_image(h, w, seed=i)).save(path)
        paths.append(path)
    return paths


def _project(path: Path):
    from jadis.project.workspace import init_project

    return init_project(path)


def _rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _db(project) -> sqlite3.Connection:
    conn = sqlite3.connect(project.gpkg_path)
    conn.row_factory = sqlite3.Row
    return conn


def test_expand_sources(tmp_path):
    from jadis.project.batch import expand_sources, parse_steps

    scans = _scans(tmp_path / "scans", 2)
    (tmp_path / "scans" / "notes.txt").write_text("not a scan")
    listed = tmp_path / "list.csv"
    listed.write_text("path,year,title\nscans/sheet1.png,1836,Feuille 1\n\nhttps://example.org/iiif/x/full/max/0/default.jpg,,\n")
    sources = expand_sources([str(tmp_path / "scans"), str(scans[0]), str(listed)])
    assert [s.path.name for s in sources[:3]] == ["sheet1.png", "sheet2.png", "sheet1.png"]
    assert sources[3].year == 1836 and sources[3].title == "Feuille 1" and sources[3].path == scans[0]
    assert sources[4].url.startswith("https://") and sources[4].path is None
    assert parse_steps("warp, segment") == ("segment", "warp")
    with pytest.raises(JadisError, match="unknown step"):
        parse_steps("segment,ocr")
    with pytest.raises(JadisError, match="no such file"):
        expand_sources([str(tmp_path / "missing.png")])
    bad = tmp_path / "bad.csv"
    bad.write_text("file,year\na.png,1900\n")
    with pytest.raises(JadisError, match="'path' or 'url' column"):
        expand_sources([str(bad)])
    bad.write_text("path,year\nscans/sheet1.png,eighteen\n")
    with pytest.raises(JadisError, match="bad.csv:2: year"):
        expand_sources([str(bad)])
    from jadis.project.batch import iiif_sources

    manifest = tmp_path / "manifest.json"
    manifest.write_text('{"@context": "http://iiif.io/api/presentation/3/context.json", "type": "Manifest"}')
    (source,) = expand_sources([str(manifest)])
    with pytest.raises(JadisError, match="no canvas with an IIIF Image service"):
        iiif_sources(source)
    (tmp_path / "empty").mkdir()
    with pytest.raises(JadisError, match="no scans"):
        expand_sources([str(tmp_path / "empty")])


def test_segment_batch_stores_results_and_rerun_skips(tmp_path, tiny_ckpt):
    from jadis.project.batch import run_batch, step_states
    from jadis.project.maps import add_map

    proj = _project(tmp_path / "proj")
    scans = _scans(tmp_path / "scans", 3)
    bad = tmp_path / "scans" / "broken.png"  # unreadable: cannot even be registered
    Image.fromarray(map_image(120, 160, seed=9)).save(bad)
    bad.write_bytes(bad.read_bytes()[:200])
    add_map(proj, scans[2])  # registered, then damaged: fails on the worker
    scans[2].write_bytes(scans[2].read_bytes()[:300])
    report = run_batch(proj, [str(tmp_path / "scans")], steps=["segment"], workers=2, processes=False,
                       dashboard_address=":0", checkpoint=tiny_ckpt)
    by_map = {r.map: r for r in report.rows}
    assert by_map["sheet1"].status == by_map["sheet2"].status == "done"
    assert (by_map["broken.png"].step, by_map["broken.png"].status) == ("register", "failed")
    assert by_map["sheet3"].status == "failed" and "sheet3.png" in by_map["sheet3"].message
    # the report CSV, and the store: tiles, the step states (failure with its reason)
    rows = _rows(report.report_path)
    assert report.report_path.parent == proj.root / "runs" and report.report_path.name.startswith("batch-")
    assert {(r["map"], r["step"], r["status"]) for r in rows} >= {("sheet1", "segment", "done"),
                                                                ("sheet3", "segment", "failed")}
    assert all(float(r["seconds"]) >= 0 for r in rows if r["status"] == "done")
    states = step_states(proj)
    with _db(proj) as conn:
        ids = {r["name"]: r["fid"] for r in conn.execute("SELECT fid, name FROM maps")}
        statuses = {r["name"]: r["status"] for r in conn.execute("SELECT name, status FROM maps")}
        n_runs = conn.execute("SELECT COUNT(*) FROM seg_runs").fetchone()[0]
        run = conn.execute("SELECT * FROM batch_runs").fetchone()
    assert statuses["sheet1"] == "segmented" and statuses["sheet3"] == "registered" and "broken" not in statuses
    assert states[ids["sheet2"]]["segment"]["status"] == "done"
    assert states[ids["sheet3"]]["segment"]["status"] == "failed" and states[ids["sheet3"]]["segment"]["message"]
    assert n_runs == 2 and run["n_done"] == 2 and run["n_failed"] == 2 and run["finished_at"]
    # the scan that could not be registered has its reason in the project too, and status shows it
    from jadis.project.batch import rejected_sources

    rejects = rejected_sources(proj)
    assert [r["source"] for r in rejects] == ["broken.png"] and rejects[0]["reason"]
    from click.testing import CliRunner

    from jadis.cli.main import cli

    shown = CliRunner().invoke(cli, ["project", "status", str(proj.root)])
    assert shown.exit_code == 0 and "not registered by the last batch run: broken.png" in shown.output
    assert (proj.root / "runs" / f"map{ids['sheet1']}" / "batch" / "sheet1_classes.tif").is_file()

    # rerun: finished steps are not redone; the failed one is tried again (and fails again)
    again = run_batch(proj, [str(tmp_path / "scans")], steps=["segment"], workers=1, processes=False,
                      dashboard_address=":0", checkpoint=tiny_ckpt)
    assert sorted(r.status for r in again.rows) == ["already done"] * 2 + ["failed"] * 2
    assert again.report_path != report.report_path
    with _db(proj) as conn:
        assert conn.execute("SELECT COUNT(*) FROM seg_runs").fetchone()[0] == 2
        assert conn.execute("SELECT COUNT(*) FROM maps").fetchone()[0] == 3  # nothing registered twice
    skipped = run_batch(proj, [str(tmp_path / "scans")], steps=["segment"], workers=1, processes=False,
                        dashboard_address=":0", checkpoint=tiny_ckpt, retry_failed=False)
    assert sorted(r.status for r in skipped.rows) == ["already done"] * 2 + ["failed", "skipped"]


def test_georef_failure_is_recorded_and_later_steps_skipped(tmp_path, tiny_ckpt):
    """A map with no streets cannot be aligned: its reason is stored, names and warp are skipped."""
    from jadis.project.batch import run_batch, step_states
    from jadis.project.maps import add_map
    from jadis.project.tiles import import_class_raster

    proj = _project(tmp_path / "proj")
    (scan,) = _scans(tmp_path / "scans", 1)
    record = add_map(proj, scan)
    blank = tmp_path / "blank_classes.tif"
    with rasterio.open(blank, "w", driver="GTiff", width=160, height=120, count=1, dtype="uint8") as ds:
        ds.write(np.zeros((120, 160), np.uint8), 1)
    import_class_raster(proj, record.id, blank)
    report = run_batch(proj, [str(scan)], steps="segment,georef,names,warp", workers=1, processes=False,
                       dashboard_address=":0", checkpoint=tiny_ckpt)
    assert [(r.step, r.status) for r in report.rows] == [("segment", "already done"), ("georef", "failed"),
                                                         ("names", "skipped"), ("warp", "skipped")]
    assert "no street pixels" in report.rows[1].message
    state = step_states(proj)[record.id]
    assert state["georef"]["status"] == "failed" and "no street pixels" in state["georef"]["message"]
    assert state["segment"]["status"] == "done" and "names" not in state


def test_cli_with_worker_processes_and_project_status(run_cli, tmp_path, tiny_ckpt):
    _scans(tmp_path / "scans", 2)
    proj = tmp_path / "proj"
    code, out, err = run_cli("batch", str(tmp_path / "scans"), "--project", str(proj), "--steps", "segment",
                             "--workers", "2", "--checkpoint", str(tiny_ckpt), "--dashboard-address", ":0",
                             "--year", "1836")
    assert code == 0, err
    assert "dashboard:" in out and "2 step(s) done, 0 failed" in out
    from jadis.project.maps import list_maps
    from jadis.project.workspace import open_project

    assert [m.year for m in list_maps(open_project(proj))] == [1836, 1836]  # --year for sources without one
    code, out, err = run_cli("project", "status", str(proj))
    assert code == 0, err
    assert out.count("segment ✓") == 2 and "georef ·" in out
    # bad sources and steps: one line, exit status 2, before any work
    code, _, err = run_cli("batch", str(tmp_path / "nope"), "--project", str(proj))
    assert code == 2 and err.startswith("jadis: error:") and "no such file" in err and err.count("\n") == 1
    code, _, err = run_cli("batch", str(tmp_path / "scans"), "--project", str(proj), "--steps", "segment,fly")
    assert code == 2 and "unknown step" in err
    (tmp_path / "list.csv").write_text("title,year\nsheet,1836\n")  # no path/url column
    code, _, err = run_cli("batch", str(tmp_path / "list.csv"), "--project", str(tmp_path / "new"))
    assert code == 2 and err.startswith("jadis: error:") and not (tmp_path / "new").exists()
    # a map that fails: the others go on, the run says so and exits 1
    (tmp_path / "scans" / "broken.png").write_bytes(b"not an image")
    code, out, err = run_cli("batch", str(tmp_path / "scans"), "--project", str(proj), "--steps", "segment",
                             "--in-process", "--checkpoint", str(tiny_ckpt), "--dashboard-address", ":0")
    assert code == 1 and "failed: broken.png register" in err and "2 already done" in out


def test_batch_help_has_example(run_cli):
    code, out, _ = run_cli("batch", "--help")
    assert code == 0 and "Example:" in out and "--scheduler" in out


def test_resume_after_sigkill(tmp_path, tiny_ckpt):
    """Killed with SIGKILL mid-run, then started again: nothing finished is redone, every map ends done."""
    from jadis.project.batch import run_batch, step_states
    from jadis.project.workspace import open_project

    n = 6
    _scans(tmp_path / "scans", n)
    proj_dir = tmp_path / "proj"
    _project(proj_dir)
    env = {**os.environ, "JADIS_BATCH_DELAY_S": "1.5", "JADIS_QUIET": "1", "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "jadis", "batch", str(tmp_path / "scans"), "--project", str(proj_dir),
           "--steps", "segment", "--workers", "1", "--checkpoint", str(tiny_ckpt), "--dashboard-address", ":0"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    done_before = 0
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            with sqlite3.connect(proj_dir / "project.gpkg") as conn:
                done_before = conn.execute("SELECT COUNT(*) FROM batch_steps WHERE status = 'done'").fetchone()[0]
            if done_before >= 2:
                break
            time.sleep(0.1)
        assert proc.poll() is None, "the batch ended before it could be killed"
        assert 2 <= done_before < n
        os.kill(proc.pid, signal.SIGKILL)  # the driver only, as `kill -9 PID` would
        proc.wait(timeout=30)
    finally:
        with __import__("contextlib").suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # its workers too, whatever became of them
    proj = open_project(proj_dir)
    with _db(proj) as conn:
        finished = {r["map_id"] for r in conn.execute("SELECT map_id FROM batch_steps WHERE status = 'done'")}
        runs_before = conn.execute("SELECT COUNT(*) FROM seg_runs").fetchone()[0]
    assert len(finished) >= done_before and runs_before >= len(finished)

    report = run_batch(proj, [str(tmp_path / "scans")], steps=["segment"], workers=1, processes=False,
                       dashboard_address=":0", checkpoint=tiny_ckpt)
    statuses = {r.map_id: r.status for r in report.rows}
    assert all(statuses[m] == "already done" for m in finished)
    assert sorted(statuses.values()).count("done") == n - runs_before
    with _db(proj) as conn:
        assert conn.execute("SELECT COUNT(*) FROM seg_runs").fetchone()[0] == n  # each map segmented once
        assert conn.execute("SELECT COUNT(*) FROM maps").fetchone()[0] == n
        per_map = conn.execute("SELECT map_id, COUNT(*) FROM batch_steps WHERE status = 'done' GROUP BY map_id")
        assert all(count == 1 for _, count in per_map)
    assert all(s["segment"]["status"] == "done" for s in step_states(proj).values())
