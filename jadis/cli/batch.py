"""``jadis batch``: many maps through segment -> georef -> names -> warp on a Dask cluster."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("batch")
@click.argument("sources", nargs=-1, required=True)
@click.option("--project", "project_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Project folder the maps are registered in and the results stored (created if missing).")
@click.option("--steps", default="segment,georef,names,warp", show_default=True,
              help="Steps to run, comma-separated (always in the order segment, georef, names, warp).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes of the local Dask cluster (one map step at a time each).")
@click.option("--scheduler", metavar="ADDRESS",
              help="Use an existing Dask cluster (e.g. tcp://host:8786) instead of a local one; its workers "
                   "must see the project folder and the scans at the same paths.")
@click.option("--dashboard-address", default="127.0.0.1:8787", show_default=True,
              help="Where the local cluster serves the Dask dashboard (:0 for any free port).")
@click.option("--memory-limit", default=None, metavar="SIZE",
              help="Memory limit per local worker, e.g. 4GB (default: the machine's memory / workers).")
@click.option("--checkpoint", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Segmentation checkpoint [default: checkpoints/jadis-unet-v1.pt].")
@click.option("--device", default="cpu", show_default=True, help="Segmentation device on the workers (cpu, cuda).")
@click.option("-r", "--reference", type=click.Path(path_type=Path), default=None,
              help="Modern street network for the georef step (default: the shipped OSM roads of Paris).")
@click.option("--transform", default="auto", show_default=True, help="Transform of automatic georeferences.")
@click.option("--retry-failed/--skip-failed", default=True, show_default=True,
              help="Try again the steps that failed in an earlier run.")
@click.option("--in-process", is_flag=True, hidden=True, help="Local workers as threads of this process (tests).")
@click.option("--year", type=click.IntRange(1500, 2100),
              help="Year the maps represent, for those whose source gives none (a CSV's year column wins): "
                   "the names step then reads them against the street names of that time (±10 years).")
@click.option("--author", help="Who runs it (default: $JADIS_AUTHOR or the login name).")
def batch(sources: tuple[str, ...], project_dir: Path, steps: str, workers: int, scheduler: str | None,
          dashboard_address: str, memory_limit: str | None, checkpoint: Path | None, device: str,
          reference: Path | None, transform: str, retry_failed: bool, in_process: bool, year: int | None,
          author: str | None) -> None:
    """Process many maps: register them in a project and run their steps as Dask tasks.

    SOURCES are scan files, folders of scans (searched recursively), CSV lists with a `path`
    (or `url`) column and optional `year` and `title` columns, IIIF Image service URLs, or IIIF
    Presentation manifests (one map per canvas) and collections, as URLs or local .json files; the
    georeferences of IIIF maps target their image services. Each map goes through the chosen
    steps in order; the steps of different maps run in parallel on the workers (a local cluster
    by default, or the cluster at --scheduler). Only this process writes to the project: each
    result is stored as soon as it arrives, so the app shows maps as they finish.

    Resumable: run the same command again after an interruption (even `kill -9`) and only the
    steps not done yet run. A step that fails (unreadable scan, no trustworthy alignment) records
    its reason in the project and the batch goes on; `jadis project status` shows every map's
    steps. A report is written to PROJECT/runs/batch-<time>.csv. Exit status: 0 when every step
    ran, 1 when some failed (listed above the summary), 2 for bad arguments or sources (nothing is
    created). See docs/batch.md.

    \b
    Example:
      jadis batch scans/ --project paris1836 --steps segment,georef --workers 2
      jadis batch jacoubet/ --project jacoubet --year 1836
      jadis batch corpus.csv --project jadis_corpus --scheduler tcp://10.0.0.5:8786
    """
    from jadis.project.batch import expand_sources, parse_steps, run_batch
    from jadis.project.workspace import GPKG_NAME, init_project, open_project

    chosen = parse_steps(steps)  # a bad --steps or source fails before anything is created
    expanded = expand_sources(sources)
    if year is not None:
        from dataclasses import replace

        expanded = [src if src.year is not None else replace(src, year=year) for src in expanded]
    if (project_dir / GPKG_NAME).exists():
        proj = open_project(project_dir)
    else:
        proj = init_project(project_dir)
        click.echo(f"created project '{proj.name}' in {proj.root}")
    report = run_batch(proj, sources, steps=chosen, workers=workers, scheduler=scheduler,
                       processes=not in_process, dashboard_address=dashboard_address, memory_limit=memory_limit,
                       checkpoint=checkpoint, device=device, reference=reference, transform=transform,
                       retry_failed=retry_failed, author=author, echo=click.echo, expanded=expanded)
    for row in report.rows:
        if row.status == "failed":
            click.echo(f"failed: {row.map} {row.step}: {row.message}", err=True)
    click.echo(f"batch run #{report.run_id}: {report.count('done')} step(s) done, {report.count('failed')} failed, "
               f"{report.count('skipped')} skipped, {report.count('already done')} already done; "
               f"report {report.report_path}")
    if report.count("failed"):
        raise SystemExit(1)  # some maps failed (their reasons are in the report and the project)
