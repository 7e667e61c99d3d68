"""The map as gazetteer on synthetic labelled maps: how many streets get a name, and how many right.

Maps come from the synthetic period-map generator (real PeGazUs networks, names drawn along the
streets, four atlas styles). The exact class mask stands in for the segmenter (``--predicted``
segments the rendered image with the shipped U-Net instead, when a checkpoint exists), then
:func:`jadis.pipelines.map_gazetteer.read_map` reads, groups, corrects and assigns the names.

Per map: street segments named (share), precision (a named segment carries the name of a drawn
street it runs along — a quarter of the shorter of the two within 6 px; segments can span a crossing
where the name changes), names found right among the distinct names of streets ≥ 100 px long (an
upper bound on what was drawn: the renderer labels only streets with room for it), and OCR time per
label.

Run: ``.venv/bin/python -m benchmarks.geocode_map_gazetteer [-n 12] [--predicted]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

SIZE = 1024
SCALE = 0.3


def make_map(seed: int, style: str, folder: Path, predicted: bool):
    from PIL import Image

    from jadis.georef.gcps import GcpSet
    from jadis.georef.georeference import Georeference
    from jadis.io.vector import write_layers
    from jadis.segment.synth.generate import street_names
    from jadis.segment.synth.layout import make_layout
    from jadis.segment.synth.networks import bundled_network_paths, get_network
    from jadis.segment.synth.render import render
    from jadis.segment.synth.styles import get_style
    from jadis.vectorize.layers import vectorize_array

    rng = np.random.default_rng(seed)
    paths = [str(p) for p in bundled_network_paths()]
    layout = make_layout(rng, get_network(paths[seed % len(paths)]), SIZE, SCALE, p_water=0.0, names=street_names())
    sample = render(rng, layout, get_style(style), names=street_names(), degrade=0.6)
    Image.fromarray(sample.image).save(folder / "map.png")
    if predicted:
        from jadis.pipelines.scan import segment_image

        result = segment_image(folder / "map.png", folder / "seg", progress=False)
        layers_path = result.gpkg_path
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            layers_path = write_layers(folder / "map.gpkg", vectorize_array(sample.mask))
    px = np.array([[0, 0], [SIZE, 0], [0, SIZE], [SIZE, SIZE]], float)
    world = np.column_stack([652_000 + px[:, 0] * SCALE, 6_862_500 - px[:, 1] * SCALE])
    Georeference(GcpSet(px, world, "EPSG:2154"), "affine", image_size=(SIZE, SIZE)).save(folder / "map.json")
    return layers_path, [(s.name, s.line) for s in layout.streets if s.name]


def evaluate(reading, layers_path: Path, truth) -> dict:  # noqa: ANN001
    import pyogrio

    from jadis.geocode.normalize import street_name

    streets = pyogrio.read_dataframe(layers_path, layer="streets")
    named = reading.streets
    correct = 0
    found: set[str] = set()
    for name, sid in zip(named["name"], named["source_id"], strict=True):
        seg = streets.geometry[streets["street_id"] == int(sid.split(":")[1])].iloc[0]
        # the drawn streets this segment runs along (a segment may span a crossing where names change)
        along = {street_name(n).core for n, line in truth if seg.intersection(line.buffer(6)).length >= 0.25 * min(
            seg.length, line.length)}
        if not along:
            mid = seg.interpolate(0.5, normalized=True)
            along = {street_name(min(truth, key=lambda t: t[1].distance(mid))[0]).core}
        true_name = next(iter(along)) if street_name(name).core not in along else street_name(name).core
        if street_name(true_name).core == street_name(name).core:
            correct += 1
            found.add(street_name(true_name).core)
    drawn = {street_name(n).core for n, line in truth if line.length >= 100}
    return {"segments": len(streets), "named": len(named), "correct": correct,
            "names_right": len(found & drawn), "names_drawn": len(drawn)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=12)
    ap.add_argument("--predicted", action="store_true", help="segment the maps with the shipped U-Net")
    args = ap.parse_args(argv)
    from jadis.geocode.vocabulary import vocabulary
    from jadis.ocr.reader import LabelReader
    from jadis.pipelines.map_gazetteer import read_map

    reader = LabelReader()
    names = vocabulary(include_user=False)
    styles = ("municipal", "jacoubet", "verniquet", "tinted")
    rows = []
    for i in range(args.n):
        style = styles[i % len(styles)]
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            layers_path, truth = make_map(100 + i, style, folder, args.predicted)
            t0 = time.perf_counter()
            reading = read_map(layers_path, folder / "map.png", georef_path=folder / "map.json", names=names,
                               reader=reader, progress=False)
            seconds = time.perf_counter() - t0
            row = {"map": i, "style": style, **evaluate(reading, layers_path, truth),
                   "labels_read": reading.labels_read, "s_per_label": seconds / max(reading.labels_read, 1)}
            rows.append(row)
            print(row, flush=True)
    df = pd.DataFrame(rows)
    named, correct = df["named"].sum(), df["correct"].sum()
    print(f"\nmaps: {len(df)} ({'segmented by the U-Net' if args.predicted else 'exact masks'})")
    print(f"street segments named: {named} of {df['segments'].sum()} ({named / df['segments'].sum():.0%})")
    print(f"precision (named segments carrying the right name): {correct / max(named, 1):.1%}")
    print(f"distinct street names found right: {df['names_right'].sum()} of {df['names_drawn'].sum()} streets "
          f"≥ 100 px ({df['names_right'].sum() / max(df['names_drawn'].sum(), 1):.0%})")
    print(f"OCR + naming time: {df['s_per_label'].median() * 1000:.0f} ms per label (median over maps)")
    print(df.groupby("style")[["named", "correct", "names_right", "names_drawn"]].sum().to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
