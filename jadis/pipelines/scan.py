"""The scan pipeline: one map sheet -> its class raster (:mod:`jadis.segment`) and its vector layers
(:mod:`jadis.vectorize`), written together or not at all.

Inference and vectorization overlap: the vectorizer takes each row of windows as soon as the
segmenter has made it final (:class:`jadis.vectorize.layers.StreamVectorizer`).
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from jadis.segment.infer import (
    DEFAULT_BAND_WIDTH,
    DEFAULT_BATCH,
    DEFAULT_OVERLAP,
    DEFAULT_TILE,
    PredictStats,
    predict_file,
)
from jadis.segment.predictor import Predictor, load_predictor


@dataclass
class SegmentResult:
    """Outputs and statistics of :func:`segment_image`."""

    image: Path
    classes_path: Path
    gpkg_path: Path | None
    width: int
    height: int
    georeferenced: bool
    predict: PredictStats
    counts: dict[str, int] = field(default_factory=dict)  #: features per layer
    seconds_vectorize: float = 0.0
    seconds: float = 0.0

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6

    @property
    def megapixels_per_second(self) -> float:
        return self.megapixels / self.seconds if self.seconds > 0 else float("nan")


def output_paths(image: str | os.PathLike[str], out_dir: str | os.PathLike[str]) -> tuple[Path, Path]:
    """``(DIR/<stem>_classes.tif, DIR/<stem>.gpkg)`` for an input image."""
    stem = Path(image).stem
    out_dir = Path(out_dir)
    return out_dir / f"{stem}_classes.tif", out_dir / f"{stem}.gpkg"


def segment_image(path: str | os.PathLike[str], out_dir: str | os.PathLike[str], *,
                  checkpoint: str | os.PathLike[str] | None = None, tile: int = DEFAULT_TILE,
                  overlap: int = DEFAULT_OVERLAP, device: str = "cpu", max_pixels: int | None = None,
                  precision: str = "auto", batch_size: int = DEFAULT_BATCH, skip_margins: bool = True,
                  vectorize: bool = True, predictor: Predictor | None = None,
                  progress: bool = True, clean: bool = True, info=None) -> SegmentResult:
    """Segment one map sheet: write ``<stem>_classes.tif`` and ``<stem>.gpkg`` into ``out_dir``.

    The class raster holds the ids of :class:`~jadis.classes.MapClass`; the GeoPackage the
    layers ``blocks``, ``streets``, ``street_nodes`` and ``labels`` (see :mod:`jadis.vectorize`), in
    pixel coordinates, or in the input's CRS when it is georeferenced. Both files appear together
    or not at all. Pass a loaded ``predictor`` to reuse a model over many sheets, and the
    :class:`~jadis.io.images.ImageInfo` of a :func:`~jadis.io.images.check_image` you just did as
    ``info`` to skip checking the file again.
    """
    from jadis.io.atomic import atomic_paths
    from jadis.io.images import check_image

    started = time.perf_counter()
    if info is None or Path(info.path) != Path(path):
        info = check_image(path, max_pixels)
    predictor = predictor or load_predictor(checkpoint, device=device, precision=precision)
    classes_path, gpkg_path = output_paths(path, out_dir)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    seconds_vectorize = 0.0
    # Vectorize while inference runs (a worker thread takes each row of windows as soon as it is
    # final), except for sheets processed in several column bands: those are vectorized afterwards.
    streamer = None
    if vectorize and info.width <= DEFAULT_BAND_WIDTH:
        from jadis.vectorize.layers import StreamVectorizer

        streamer = StreamVectorizer(info.width, info.height)
    try:  # both files are written to temporary names and renamed together at the end
        with atomic_paths(classes_path, *([gpkg_path] if vectorize else [])) as tmps:
            stats = predict_file(path, tmps[0], predictor, tile=tile, overlap=overlap, batch_size=batch_size,
                                 skip_margins=skip_margins, max_pixels=max_pixels, progress=progress, check=False,
                                 clean=clean, on_rows=streamer.add_rows if streamer else None)
            if vectorize:
                counts, seconds_vectorize = _write_vectors(tmps[0], tmps[1], streamer, progress)
    finally:
        if streamer is not None:
            streamer.close()
    return SegmentResult(image=Path(path), classes_path=classes_path, gpkg_path=gpkg_path if vectorize else None,
                         width=info.width, height=info.height, georeferenced=info.georeferenced, predict=stats,
                         counts=counts, seconds_vectorize=seconds_vectorize,
                         seconds=time.perf_counter() - started)


def _write_vectors(classes_path: Path, gpkg_path: Path, streamer, progress: bool) -> tuple[dict[str, int], float]:
    """Finish (or run) the vectorization of a class raster and write the GeoPackage (the caller's
    temporary file); return the feature counts and the seconds spent after inference."""
    import rasterio

    from jadis.io.vector import write_layers
    from jadis.vectorize.layers import vectorize_class_raster

    t0 = time.perf_counter()
    if streamer is None:
        layers = vectorize_class_raster(classes_path, progress=progress)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            with rasterio.open(classes_path) as ds:
                georef = ds.crs is not None and not ds.transform.is_identity
                transform, crs = (ds.transform, ds.crs) if georef else (None, None)
        layers = streamer.finish(transform, crs)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="'crs' was not provided")  # pixel coordinates
        write_layers(gpkg_path, layers)
    return {name: len(gdf) for name, gdf in layers.items()}, time.perf_counter() - t0
