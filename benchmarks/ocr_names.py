"""Reading the map: street names found on real sheets against a truth set transcribed by eye.

For each sheet: ``jadis segment`` (cached under ``--cache``), then :func:`jadis.ocr.mapread.read_map_text`
(phrases -> recogniser -> names -> correction), then the named text lines are compared with the
truth's street-name labels (``data/truth/``, ``benchmarks/truth/``; format: benchmarks/truth/SPEC.md):

* **recall**: share of truth street labels matched one-to-one by a named line with the same name
  (type + core after normalisation: case, accents, hyphens, particles and abbreviations aside)
  whose centre lies within ``--radius`` px (100) of the label's box;
* **precision**: share of named lines whose name is that of a truth street label within the radius;
* house numbers: share of truth numbers read (same number within 30 px), and precision;
* seconds for the reading (after segmentation), and per stage.

Run: ``.venv/bin/python -m benchmarks.ocr_names [--sheet am1925_dev] [--split left|right]``
(needs ../shared/data; the images are not in the repository).

``--georeferenced``: each sheet as a georeferenced map would be read: its true georeference (the
printed grid's crossings for Jacoubet, the strip's Allmaps sheet GCPs for the Atlas municipal, as in
:mod:`benchmarks.georef_atlas`, shifted by ``--shift-m`` to mimic an automatic one) and the
whole-city gazetteers registered under a temporary JADIS_HOME (:func:`benchmarks.georef_atlas.name_home`,
what ``jadis gazetteer fetch`` gives a user); the map-wide prior and, unless ``--no-local``, the
streets around each line (:mod:`jadis.ocr.place`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from jadis.ocr.evaluate import load_truth, score

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
YEARS = {"am1925_dev": 1925, "jacoubet_22": 1836, "jacoubet_13": 1836}
SHEETS = {
    "am1925_dev": (SHARED / "segmentation/atlas_municipal_1925_dev/BHdV_PL_ATL20Ardt_1926_0004-VAL-left6000-INPUT_color_border.png",
                   [ROOT / "data/truth/am1925_dev_left.csv", ROOT / "data/truth/am1925_dev_right.csv"]),
    "jacoubet_22": (SHARED / "scans/jacoubet_1836_lowres/Atlas_de_Jacoubet_-_22._Tuileries_et_leurs_environs_-_BHVP.jpg",
                    [ROOT / "benchmarks/truth/jacoubet_1836_sheet22.csv"]),
    "jacoubet_13": (SHARED / "scans/jacoubet_1836_lowres/Atlas_de_Jacoubet_-_13._Collège_Bourbon_et_ses_environs_-_BHVP.jpg",
                    [ROOT / "benchmarks/truth/jacoubet_1836_sheet13.csv"]),
}


def segment(image: Path, cache: Path) -> Path:
    """The cached segmentation GeoPackage of ``image``."""
    stem = image.stem if len(image.stem) < 40 else image.stem[:40]
    out = cache / stem
    gpkg = out / f"{image.stem}.gpkg"
    if not gpkg.exists():
        out.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(ROOT / ".venv/bin/jadis"), "segment", str(image), "--out", str(out), "--no-names"],
                       check=True)
    return gpkg


def true_to_world(name: str, cache: Path, shift_m: float = 0.0):  # noqa: ANN201 - pixel -> EPSG:2154
    """The sheet's true georeference, pixel -> Lambert-93 (shifted ``shift_m`` metres north-east)."""
    import pickle

    from benchmarks.georef_atlas import SHEET_AM, STRIP_OFFSET
    from jadis.georef.crs import parse_crs
    from jadis.georef.georeference import Georeference

    l93 = parse_crs("EPSG:2154")
    if name == "am1925_dev":
        sheet = Georeference.load(SHARED / "georef" / "allmaps_annotations" / "output" / "bhdv_atlas_municipal_1925"
                                  / f"{SHEET_AM}.json")
        georef = Georeference(sheet.gcps, "polynomial1", image_size=sheet.image_size).validate()
        offset = np.array(STRIP_OFFSET)
    else:
        from benchmarks.jacoubet_truth import measured_crossings, sheets
        from jadis.io.images import check_image

        number = name.split("_")[1]
        img, hd_file = next((i, h) for s, i, h in sheets(SHARED) if s == number)
        stored = cache / f"{name}.truth_gcps.pkl"
        if not stored.exists():
            stored.write_bytes(pickle.dumps(measured_crossings(img, hd_file)))
        info = check_image(img)
        georef = Georeference(pickle.loads(stored.read_bytes()), "polynomial2",
                              image_size=(info.width, info.height)).validate()
        offset = np.zeros(2)
    shift = np.array([shift_m, shift_m]) / np.sqrt(2.0)

    def to_world(px: np.ndarray) -> np.ndarray:
        return georef.pixel_to_crs(np.asarray(px, float).reshape(-1, 2) + offset, l93) + shift

    return to_world


def run_sheet(name: str, cache: Path, radius: float, split: str | None, verbose: bool, min_score: float | None = None,
              dump: list | None = None, reuse_pieces: bool = False, detect: bool = True,
              recogniser: str = "french", second_opinion: str | None = None, georeferenced: bool = False,
              local: bool = True, local_radius: float | None = None, shift_m: float = 0.0) -> dict:
    import pyogrio

    from jadis.geocode.vocabulary import vocabulary
    from jadis.io.images import open_image
    from jadis.ocr.correct import NameCorrector
    from jadis.ocr.layers import image_reader_for
    from jadis.ocr.mapread import names_from_pieces, read_map_text

    image, truth_paths = SHEETS[name]
    truth = load_truth(truth_paths)
    gpkg = segment(image, cache)
    labels = pyogrio.read_dataframe(gpkg, layer="labels")
    streets = pyogrio.read_dataframe(gpkg, layer="streets")
    with open_image(image) as ds:
        width, height = ds.width, ds.height

        image_reader = image_reader_for(ds, image)
        corrector = NameCorrector(vocabulary(year=YEARS[name]))
        t0, c0 = time.perf_counter(), time.process_time()
        extra: dict = {} if min_score is None else {"min_score": min_score}
        if georeferenced:
            import shapely

            from jadis.geocode.vocabulary import place_prior
            from jadis.ocr.place import LOCAL_RADIUS_M, local_names

            to_world = true_to_world(name, cache, shift_m)
            corners = to_world(np.array([[0, 0], [width, 0], [width, height], [0, height]], float))
            footprint = shapely.Polygon(corners)
            extra["prior"] = place_prior(footprint, YEARS[name])
            if local:
                extra["local"] = local_names(to_world, footprint, YEARS[name],
                                             LOCAL_RADIUS_M if local_radius is None else local_radius)
        variant = "" if recogniser == "french" and second_opinion is None else \
            f".{Path(recogniser).stem}.{Path(second_opinion).stem if second_opinion else 'none'}"
        cached = cache / f"{name}{'' if detect else '.nodetect'}{variant}.pieces.pkl"
        if reuse_pieces and cached.exists():  # iterate on grouping/correction without re-reading
            import pickle

            text = names_from_pieces(pickle.loads(cached.read_bytes()), streets, corrector, **extra)
        else:
            from jadis.ocr.mapread import ocr_threads
            from jadis.ocr.reader import LabelReader

            reader = LabelReader(threads=ocr_threads(), recogniser=recogniser, second_opinion=second_opinion)
            if georeferenced:
                raise SystemExit("--georeferenced needs --reuse-pieces (cached pieces)")
            text = read_map_text(image_reader, labels, streets, reader, corrector=corrector, progress=False,
                                 size=(width, height) if detect else None, **extra)
            import pickle

            cached.write_bytes(pickle.dumps(text.pieces))
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    region = None
    if split == "left":
        region = (0, 3000)
    elif split == "right":
        region = (3000, 1e9)
    result = {"sheet": name, "megapixels": round(width * height / 1e6, 1), "seconds": round(seconds, 1),
              "cpu_seconds": round(cpu, 1), "load_average": round(os.getloadavg()[0], 1),
              "labels": len(labels), "pieces": len(text.pieces),
              **score(truth, text.lines, text.numbers, radius, region, dump)}
    if dump is not None:
        for row in dump:
            row.setdefault("sheet", name)
    if verbose:
        for ln in text.lines:
            if ln.name or len(ln.text) > 3:
                c = ln.centre
                print(f"  ({c[0]:5.0f},{c[1]:5.0f}) {ln.text!r:40} -> {ln.name!r} {ln.score:.2f} {ln.correction.how}")
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sheet", action="append", choices=sorted(SHEETS), help="sheets (default: all)")
    ap.add_argument("--split", choices=["left", "right"], help="score only one half of the Atlas dev sheet")
    ap.add_argument("--radius", type=float, default=100.0)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/jadis-bench-ocr"))
    ap.add_argument("--verbose", "-v", action="store_true")
    ap.add_argument("--min-score", type=float, default=None, help="override the name confidence threshold")
    ap.add_argument("--no-detect", action="store_true", help="only the segmenter's label boxes (no text detector)")
    ap.add_argument("--reuse-pieces", action="store_true",
                    help="reuse the pieces read by the last run (tuning names and correction only)")
    ap.add_argument("--dump", type=Path, help="write every named line with its features and correctness (CSV)")
    ap.add_argument("--recogniser", default="french",
                    help="recogniser: a name of jadis.ocr.reader.RECOGNISERS or a PP-OCR .onnx file (default french)")
    ap.add_argument("--second-opinion", help="a second recogniser whose readings the second look adds (name or .onnx)")
    ap.add_argument("--georeferenced", action="store_true",
                    help="read each sheet with its true georeference and the whole-city gazetteers (local prior)")
    ap.add_argument("--no-local", action="store_true", help="with --georeferenced: the map-wide prior only")
    ap.add_argument("--local-radius", type=float, help="metres around a line where its street may lie")
    ap.add_argument("--local-min", type=float, help="similarity a reading needs among the local streets")
    ap.add_argument("--local-margin", type=float, help="margin over the next local street")
    ap.add_argument("--shift-m", type=float, default=0.0, help="shift the true georeference this many metres")
    args = ap.parse_args(argv)
    if not SHARED.exists():
        print("needs ../shared/data", file=sys.stderr)
        return 2
    if args.georeferenced:
        from benchmarks.georef_atlas import name_home

        name_home(SHARED, args.cache)
        import jadis.ocr.names as names_module

        if args.local_min is not None:
            names_module.LOCAL_MIN_SIMILARITY = args.local_min
        if args.local_margin is not None:
            names_module.LOCAL_MARGIN = args.local_margin
    dump: list | None = [] if args.dump else None
    results = [run_sheet(s, args.cache, args.radius, args.split, args.verbose, args.min_score, dump, args.reuse_pieces,
                         not args.no_detect, args.recogniser, args.second_opinion, args.georeferenced,
                         not args.no_local, args.local_radius, args.shift_m)
               for s in (args.sheet or sorted(SHEETS))]
    if args.dump:
        import pandas as pd

        pd.DataFrame(dump).to_csv(args.dump, index=False)
    for r in results:
        print(json.dumps(r, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
