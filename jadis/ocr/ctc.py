"""PP-OCR text-line recognisers (ONNX, CTC) run with onnxruntime, decoded within an alphabet.

PaddleOCR's recognition models output, for each of a few dozen horizontal steps of the line, a
probability for every character of their dictionary (18 000 for the multilingual PP-OCRv6 model
that ships in the ``rapidocr`` wheel: Chinese, Japanese, Latin scripts). Map labels of Paris are
French: :class:`CtcRecogniser` keeps only the classes of an alphabet (:data:`FRENCH`) before the
greedy CTC decoding, so a smudged ``P`` can no longer come out as ``宁`` and accents stay French.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

#: Letters of French (with its accents and ligatures), digits and the punctuation of map labels.
FRENCH = ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
          "àâäçéèêëîïôöùûüÿœæÀÂÄÇÉÈÊËÎÏÔÖÙÛÜŸŒÆ"
          " .,'’-()&/:;")
#: Model input: 3 × 48 × (width ≥ 320), values in [-1, 1], BGR (as PaddleOCR reads images).
#: PaddleOCR pads every line to 320 wide; most map labels are short (a house number is ~80 px at
#: height 48), and padding them to 160 only reads the same (500 real labels: 51.6 % exact against
#: 50.6 %) in 60 % of the time (benchmarks/RESULTS.md, "Reading the map").
INPUT_HEIGHT, MIN_WIDTH = 48, 160
#: Crops are widened by this factor before reading (1 = PaddleOCR's own aspect): the recogniser then
#: has more steps per letter, which map lettering (narrow italics, crops padded to the box's height)
#: needs — measured on whole sheets, more names read on the Atlas municipal sheet (see RESULTS).
STRETCH = 1.25
#: The CTC blank is class 0, the space the last class (PaddleOCR's ``use_space_char``).
BLANK = 0


def rapidocr_model() -> Path:
    """The PP-OCRv6 small multilingual recognition model that ships in the ``rapidocr`` wheel."""
    import rapidocr

    path = Path(rapidocr.__file__).parent / "models" / "PP-OCRv6_rec_small.onnx"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not in the installed rapidocr wheel (rapidocr 3.x ships it)")
    return path


def model_classes(session: object, dict_path: str | Path | None = None) -> list[str]:
    """The model's classes: blank, the dictionary's characters (ONNX metadata or ``dict_path``), space."""
    if dict_path is not None:
        chars = Path(dict_path).read_text(encoding="utf-8").splitlines()
    else:
        meta = session.get_modelmeta().custom_metadata_map  # type: ignore[attr-defined]
        if "character" not in meta:
            raise ValueError("the model carries no character list: give its dictionary file")
        chars = meta["character"].splitlines()
    return ["<blank>", *chars, " "]


def allowed_mask(classes: Sequence[str], alphabet: str | None) -> np.ndarray:
    """Boolean mask of the classes kept when decoding: the blank and every class in ``alphabet``
    (all of them when ``alphabet`` is None)."""
    if alphabet is None:
        return np.ones(len(classes), bool)
    keep = set(alphabet)
    mask = np.array([c in keep for c in classes])
    mask[BLANK] = True
    return mask


def preprocess(crops_bgr: Sequence[np.ndarray], stretch: float = 1.0) -> np.ndarray:
    """PaddleOCR's ``resize_norm_img`` on a batch: height 48, aspect kept (times ``stretch``
    horizontally), right-padded with 0."""
    import cv2

    ratios = [stretch * c.shape[1] / max(c.shape[0], 1) for c in crops_bgr]
    width = max(MIN_WIDTH, *(math.ceil(INPUT_HEIGHT * r) for r in ratios))
    batch = np.zeros((len(crops_bgr), 3, INPUT_HEIGHT, width), np.float32)
    for i, (crop, ratio) in enumerate(zip(crops_bgr, ratios, strict=True)):
        w = max(1, min(width, math.ceil(INPUT_HEIGHT * ratio)))
        resized = cv2.resize(crop, (w, INPUT_HEIGHT)).astype(np.float32)
        batch[i, :, :, :w] = (resized.transpose(2, 0, 1) / 255.0 - 0.5) / 0.5
    return batch


def greedy_decode(probs: np.ndarray, classes: Sequence[str], mask: np.ndarray) -> tuple[str, float]:
    """Best path through ``probs`` (steps × classes) among the allowed classes: merge repeats, drop
    blanks. The score is the mean probability of the kept characters (PaddleOCR's)."""
    allowed = np.flatnonzero(mask)
    best = allowed[probs[:, allowed].argmax(axis=1)]
    keep = best != BLANK
    keep[1:] &= best[1:] != best[:-1]
    if not keep.any():
        return "", 0.0
    text = "".join(classes[i] for i in best[keep]).replace("’", "'")
    score = float(probs[np.nonzero(keep)[0], best[keep]].mean())
    return " ".join(text.split()), score


class CtcRecogniser:
    """One PP-OCR recognition model (ONNX) with decoding restricted to ``alphabet``.

    ``model``: the ONNX file (default: the one in the ``rapidocr`` wheel); ``dict_path``: its
    dictionary when the model does not carry it; ``alphabet``: characters it may output
    (default :data:`FRENCH`; None for the whole dictionary).
    """

    def __init__(self, model: str | Path | None = None, dict_path: str | Path | None = None,
                 alphabet: str | None = FRENCH, threads: int = 1, stretch: float = STRETCH) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        path = Path(model) if model is not None else rapidocr_model()
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.classes = model_classes(self.session, dict_path)
        width = self.session.get_outputs()[0].shape[-1]
        if isinstance(width, int) and width != len(self.classes):
            raise ValueError(f"{path.name}: {width} output classes but {len(self.classes)} in its dictionary")
        self.mask = allowed_mask(self.classes, alphabet)
        self.stretch = stretch
        from jadis.ocr.spotting import group_matrix

        groups = group_matrix(self.classes, self.mask)
        # only the classes that add to a group (the French ones and the blank: ~110 of ~18,700):
        # the grouping then costs a hundredth of the full product, for the same sums
        self.group_rows = np.flatnonzero(groups.any(axis=1))
        self.groups = np.ascontiguousarray(groups[self.group_rows])

    def probabilities(self, crops_rgb: Sequence[np.ndarray], stretch: float | None = None) -> np.ndarray:
        """(batch, steps, classes) softmax output for RGB uint8 crops (widened by ``stretch``,
        default the recogniser's own)."""
        batch = preprocess([np.ascontiguousarray(c[..., ::-1]) for c in crops_rgb],
                           self.stretch if stretch is None else stretch)
        return self.session.run(None, {self.input_name: batch})[0]

    def __call__(self, crops_rgb: Sequence[np.ndarray]) -> list[tuple[str, float]]:
        """(text, score) for each crop, read as it is (left to right)."""
        if not crops_rgb:
            return []
        return [greedy_decode(p, self.classes, self.mask) for p in self.probabilities(crops_rgb)]

    def read_with_frames(self, crops_rgb: Sequence[np.ndarray],
                         stretch: float | None = None) -> list[tuple[str, float, np.ndarray]]:
        """(text, score, steps) for each crop: ``steps`` are the log-probabilities of the letter
        groups at each step (:func:`jadis.ocr.spotting.grouped_log_probs`), for name spotting."""
        from jadis.ocr.spotting import grouped_log_probs

        if not crops_rgb:
            return []
        out = []
        for p in self.probabilities(crops_rgb, stretch):
            text, score = greedy_decode(p, self.classes, self.mask)
            out.append((text, score, grouped_log_probs(p[:, self.group_rows], self.groups)))
        return out
