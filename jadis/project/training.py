"""Validated tiles become training data: fine-tune the U-Net on what librarians accepted.

Every tile accepted at its current version (:func:`jadis.project.tiles.validated_tiles`) gives one
(image, mask) pair: the scan's pixels under the tile and the tile's class ids at that version.
Training itself is :func:`jadis.segment.train.train`, fed with an
:class:`~jadis.segment.train.ArraySource` of these pairs and started from a checkpoint.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from jadis.errors import JadisError
from jadis.project.tiles import grid_for, read_tile, validated_tiles
from jadis.project.workspace import Project

#: Fine-tuning defaults when no config file is given (a short, gentle run from the shipped model).
FINETUNE_DEFAULTS: dict[str, Any] = {
    "epochs": 5, "steps_per_epoch": 60, "lr": 3e-4, "min_lr": 2e-5, "warmup_steps": 10, "imagenet": False,
    "real": False, "synth_dir": None, "synth_val_dir": None, "crop": 512,
}


def validated_pairs(project: Project, map_ids: list[int] | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """(image (H, W, 3) uint8, classes (H, W) uint8) for every accepted tile of the project."""
    from rasterio.windows import Window

    from jadis.io.images import open_image, read_window, to_rgb
    from jadis.project.maps import get_map

    pairs = []
    by_map: dict[int, list] = {}
    for tile in validated_tiles(project, map_ids):
        by_map.setdefault(tile.map_id, []).append(tile)
    with project.connection() as conn:
        for map_id, items in by_map.items():
            record = get_map(project, map_id)
            grid = grid_for(project, record)
            with open_image(record.path) as ds:
                for t in items:
                    x0, y0, x1, y1 = t.bounds
                    image = to_rgb(read_window(ds, Window(x0, y0, x1 - x0, y1 - y0), path=record.path))
                    mask = read_tile(conn, project, grid, map_id, t.key, t.version)
                    pairs.append((image, np.ascontiguousarray(mask)))
    return pairs


def finetune(project: Project, out: str | os.PathLike[str], *, config: str | os.PathLike[str] | None = None,
             checkpoint: str | os.PathLike[str] | None = None, epochs: int | None = None, seed: int | None = None,
             device: str | None = None, threads: int | None = None, resume: bool = False,
             log=print) -> dict:  # any callable taking a string
    """Fine-tune a checkpoint on the project's validated tiles; return the best epoch's metrics.

    Without ``config``, :data:`FINETUNE_DEFAULTS` apply. ``checkpoint`` (default: the config's
    ``init_checkpoint``, else the shipped model) is the starting point. The run folder gets
    ``best.pt`` / ``last.pt`` as any ``jadis train`` run.
    """
    from jadis.segment.train import ArraySource, TrainConfig, load_config, train

    pairs = validated_pairs(project)
    if not pairs:
        raise JadisError(f"project '{project.name}' has no accepted tiles yet: accept tiles on the "
                         "Segmentation review page (or `jadis project` API) first")
    if config is not None:
        cfg = load_config(config, seed=seed, epochs=epochs, threads=threads)
    else:
        cfg = TrainConfig(**FINETUNE_DEFAULTS)
        if seed is not None:
            cfg.seed = seed
        if epochs is not None:
            cfg.epochs = epochs
        if threads is not None:
            cfg.threads = threads
    if device:
        cfg.device = device
    start = checkpoint or cfg.init_checkpoint
    if start is None:
        from jadis.segment.predictor import default_checkpoint

        start = default_checkpoint()
    if not Path(start).is_file():
        raise JadisError(f"{start}: checkpoint to fine-tune not found (pass --checkpoint FILE)")
    cfg.init_checkpoint = str(start)
    cfg.real = False  # the project's tiles are the data; nothing else is mixed in
    source = ArraySource(pairs, name=f"project:{project.name}")
    log(f"fine-tuning {Path(start).name} on {len(pairs)} accepted tile(s) of project '{project.name}'")
    return train(cfg, out, resume=resume, sources=[(source, 1.0)], log=log)
