"""``jadis app``: start the Streamlit review app on a project."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("folder", required=False, default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--init", "create", is_flag=True, help="Create the project first if FOLDER is not one yet.")
@click.option("--port", default=8501, show_default=True, help="TCP port to listen on.")
@click.option("--address", default="127.0.0.1", show_default=True,
              help="Interface to listen on (keep 127.0.0.1 behind a reverse proxy; 0.0.0.0 = everywhere).")
@click.option("--reference", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Modern reference for control points: a georeferenced raster (e.g. an OSM road raster) "
                   "or a street network file (GeoPackage, GeoJSON, shapefile). Default: the shipped "
                   "OSM road raster of Paris.")
@click.option("--password-file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Ask for the password in this file (first line) before showing anything. "
                   "Or set JADIS_APP_PASSWORD.")
@click.option("--max-upload-mb", default=2048, show_default=True, help="Largest accepted upload, in MB.")
@click.option("--import-dir", "import_dirs", multiple=True, type=click.Path(file_okay=False, exists=True,
                                                                             path_type=Path),
              help="Folder whose scans may be registered by path from the app (repeatable; the project "
                   "folder always is).")
@click.option("--base-url-path", default="", help="Serve under this path (e.g. jadis for https://host/jadis/) "
                                                  "behind a reverse proxy.")
@click.option("--author-header", help="HTTP header holding the user name set by a reverse proxy login "
                                      "(e.g. X-Remote-User); corrections are then signed with it.")
def app(folder: Path, create: bool, port: int, address: str, reference: Path | None, password_file: Path | None,
        max_upload_mb: int, import_dirs: tuple[Path, ...], base_url_path: str, author_header: str | None) -> None:
    """Open the review web app on the project FOLDER (default: the current folder).

    Librarians register scans, review and correct the segmentation tile by tile, place control
    points against a modern reference, geocode address lists and export everything for QGIS.
    It listens on 127.0.0.1 only unless told otherwise; see docs/app.md for a password and for
    putting it behind an institution's login (reverse proxy).

    \b
    Example:
      jadis app paris1836 --init --port 8502
      jadis app paris1836 --reference my_streets_l93.gpkg
    """
    import os
    import subprocess
    import sys

    from jadis.errors import JadisError
    from jadis.paths import ROOT
    from jadis.project.workspace import GPKG_NAME, init_project, open_project

    if create and not (folder / GPKG_NAME).exists():
        init_project(folder)
    proj = open_project(folder)
    script = ROOT / "apps" / "jadis_app.py"
    if not script.exists():
        raise JadisError(f"{script}: the app is missing from this installation (install jadis from its source tree)")
    if max_upload_mb <= 0:
        raise JadisError("--max-upload-mb must be positive")
    env = dict(os.environ)
    env["JADIS_PROJECT"] = str(proj.root)
    env["JADIS_MAX_UPLOAD_MB"] = str(max_upload_mb)
    env.setdefault("HF_HUB_OFFLINE", "1")
    if reference is not None:
        env["JADIS_REFERENCE"] = str(reference.resolve())
    if password_file is not None:
        env["JADIS_APP_PASSWORD_FILE"] = str(password_file.resolve())
    if import_dirs:
        env["JADIS_APP_IMPORT_DIRS"] = os.pathsep.join(str(d.resolve()) for d in import_dirs)
    if author_header:
        env["JADIS_APP_AUTHOR_HEADER"] = author_header
    cmd = [sys.executable, "-m", "streamlit", "run", str(script),
           "--server.port", str(port), "--server.address", address, "--server.headless", "true",
           "--browser.gatherUsageStats", "false", "--server.maxUploadSize", str(max_upload_mb),
           "--client.showErrorDetails", "none", "--client.toolbarMode", "viewer",
           "--server.fileWatcherType", "none", "--server.runOnSave", "false",
           "--server.enableXsrfProtection", "true", "--global.developmentMode", "false",
           "--server.baseUrlPath", base_url_path.strip("/")]
    url = f"http://{address}:{port}/{base_url_path.strip('/')}".rstrip("/")
    click.echo(f"jadis app: project '{proj.name}' ({proj.root}) on {url}  (Ctrl-C to stop)")
    sys.stdout.flush()
    os.chdir(proj.root)
    if os.name == "posix":
        os.execve(sys.executable, cmd, env)  # become the server: signals reach it directly, no orphan
    raise SystemExit(subprocess.call(cmd, env=env))
