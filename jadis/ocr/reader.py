"""Reading the text of map labels (offline: the recognition model ships in the ``rapidocr`` wheel).

A label is an oriented rectangle around a word in pixel coordinates of the scan (the segmenter's
``labels`` layer). :func:`crop_label` cuts it out upright (rotated so the text is horizontal,
with a margin); :class:`LabelReader` recognises the crop both ways up and keeps the better
reading, since a label along a street may be written either way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: Margin around a label crop, in label heights.
PAD = 0.35
#: Crops are scaled so that the text is about this many pixels high (the recogniser's input is 48).
TARGET_HEIGHT = 40


@dataclass(frozen=True)
class Reading:
    """What the recogniser read in one crop."""

    text: str
    score: float    #: recogniser confidence, 0–1
    flipped: bool   #: True when the text reads upside down relative to the crop
    #: the recogniser's steps (log-probabilities of letter groups, :mod:`jadis.ocr.spotting`), when it gives them
    frames: np.ndarray | None = field(default=None, compare=False, repr=False)


def crop_label(image: np.ndarray, corners: np.ndarray, pad: float = PAD) -> np.ndarray | None:
    """The label's rectangle cut out of ``image`` (H, W, 3) and rotated so its long side is horizontal.

    ``corners``: (4, 2) pixel coordinates (x right, y down). Returns None for degenerate boxes.
    """
    import cv2

    pts = np.asarray(corners, dtype=np.float32)[:4]
    (cx, cy), (w, h), theta = cv2.minAreaRect(pts)
    if h > w:
        w, h, theta = h, w, theta + 90.0
    if w < 2 or h < 2:
        return None
    margin = pad * h
    out_w, out_h = int(round(w + 2 * margin)), int(round(h + 2 * margin))
    scale = min(4.0, max(1.0, TARGET_HEIGHT / max(h, 1.0)))
    rot = cv2.getRotationMatrix2D((cx, cy), theta, scale)
    rot[0, 2] += (out_w * scale) / 2 - cx
    rot[1, 2] += (out_h * scale) / 2 - cy
    size = (max(1, int(out_w * scale)), max(1, int(out_h * scale)))
    return cv2.warpAffine(image, rot, size, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


#: A recogniser reads a batch of upright RGB crops: (text, confidence 0–1) for each.
Recogniser = Callable[[Sequence[np.ndarray]], list[tuple[str, float]]]
#: Recognisers :class:`LabelReader` can build by name (the comparison is in benchmarks/RESULTS.md):
#: ``french``: the PP-OCRv6 recogniser of the ``rapidocr`` wheel decoded within French letters,
#: digits and punctuation (:mod:`jadis.ocr.ctc`); ``rapidocr``: RapidOCR as it is, whole
#: Chinese + Latin dictionary (the former default); ``crnn``: jadis' own CRNN trained on synthetic
#: period lettering (33.5 % exact on real crops against 54 % for ``french``: not the default).
RECOGNISERS = ("french", "rapidocr", "crnn")
DEFAULT_RECOGNISER = "french"


def make_recogniser(name: str = DEFAULT_RECOGNISER, threads: int = 1) -> Recogniser:
    """One of :data:`RECOGNISERS`, or a PP-OCR recogniser ``.onnx`` file, loaded (CPU, ``threads`` threads)."""
    if name == "french":
        from jadis.ocr.ctc import CtcRecogniser

        return CtcRecogniser(threads=threads)
    if name.endswith(".onnx"):  # another PP-OCR recogniser file (CTC, French decoding): a fine-tuned one
        from jadis.ocr.ctc import CtcRecogniser

        path = Path(name)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such recogniser model")
        return CtcRecogniser(model=path, threads=threads)
    if name == "crnn":  # jadis' own small recogniser (checkpoints/MODEL_CARD.md): fast, less accurate
        from jadis.ocr.crnn import CrnnRecogniser

        return CrnnRecogniser()
    if name == "rapidocr":
        from jadis.ocr.rapid import RapidOcrRecogniser

        return RapidOcrRecogniser(threads=threads)
    raise ValueError(f"unknown recogniser {name!r}: choose one of {', '.join(RECOGNISERS)}")


class LabelReader:
    """Text recognition on label crops (loaded once; CPU, one thread by default).

    ``recogniser``: a name from :data:`RECOGNISERS` or any :data:`Recogniser` callable.
    """

    def __init__(self, threads: int = 1, recogniser: str | Recogniser = DEFAULT_RECOGNISER,
                 second_opinion: str | Recogniser | None = None) -> None:
        self.recognise = make_recogniser(recogniser, threads) if isinstance(recogniser, str) else recogniser
        #: another recogniser whose readings the second look adds (:func:`jadis.ocr.mapread.second_look`)
        self.second_opinion = make_recogniser(second_opinion, threads) if isinstance(second_opinion, str) \
            else second_opinion

    def read_many(self, crops: Sequence[np.ndarray], both_ways: Sequence[bool], batch: int = 16) -> list[Reading]:
        """Read many crops in batches (crops of similar width together: little padding). A crop is
        read both ways up where ``both_ways`` says so, else only as given (``flipped`` False)."""
        jobs = [(k, False) for k in range(len(crops))] + [(k, True) for k, b in enumerate(both_ways) if b]
        jobs.sort(key=lambda j: crops[j[0]].shape[1] / max(crops[j[0]].shape[0], 1))
        with_frames = getattr(self.recognise, "read_with_frames", None)
        results: dict[tuple[int, bool], tuple] = {}
        for start in range(0, len(jobs), batch):
            chunk = jobs[start:start + batch]
            images = [np.ascontiguousarray(crops[k][::-1, ::-1]) if flip else crops[k] for k, flip in chunk]
            for job, res in zip(chunk, with_frames(images) if with_frames else self.recognise(images), strict=True):
                results[job] = res
        out = []
        for k in range(len(crops)):
            up = results[k, False]
            down = results.get((k, True))
            best, flipped = (down, True) if down is not None and down[1] > up[1] else (up, False)
            out.append(Reading(best[0], best[1], flipped, best[2] if len(best) > 2 else None))
        return out

    def read(self, crop: np.ndarray) -> Reading:
        """Read a crop both ways up; the more confident reading wins."""
        (up, up_score), (down, down_score) = self.recognise([crop, np.ascontiguousarray(crop[::-1, ::-1])])
        if down_score > up_score:
            return Reading(down, down_score, True)
        return Reading(up, up_score, False)
