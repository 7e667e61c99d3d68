"""A small CRNN + CTC text-line recogniser for the lettering of Paris atlases (trained on synthetic crops).

Input: an upright crop of one word or line (:func:`jadis.ocr.reader.crop_label`), converted to grey,
resized to :data:`HEIGHT` rows and standardised. A 6-layer CNN brings the height to 1 and the width to a
quarter, a 2-layer bidirectional LSTM reads the columns, and a linear layer gives per-column
probabilities over :data:`CHARSET` + the CTC blank (index 0). Greedy decoding; the confidence is the
geometric mean of the characters' probabilities. Trained by :mod:`jadis.ocr.train_crnn`.

``CrnnRecogniser(path).recognise(crop) -> (text, confidence)`` reads one crop; the object itself is a
:data:`jadis.ocr.reader.Recogniser` (a batch of crops -> readings), so
``LabelReader(recogniser=CrnnRecogniser())`` reads labels both ways up with it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

#: Characters the model writes (index + 1 in the output; 0 is the CTC blank).
CHARSET = (" !&'(),-./0123456789:?"
           "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
           "ÀÂÄÇÈÉÊËÎÏÔÖÙÛÜŸŒÆàâäçèéêëîïôöùûüÿœæ")
#: Model input height (px); widths are free (multiples of 4 after padding), at most MAX_WIDTH.
HEIGHT = 32
MAX_WIDTH = 512
#: The checkpoint shipped with jadis.
DEFAULT_CHECKPOINT = Path(__file__).resolve().parents[2] / "checkpoints" / "jadis-ocr-crnn-v1.pt"
FORMAT = "jadis-ocr-crnn/1"


def encode(text: str) -> list[int]:
    """Label indices of ``text`` (characters outside the charset are dropped)."""
    index = {c: i + 1 for i, c in enumerate(CHARSET)}
    return [index[c] for c in text if c in index]


def _block(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class CRNN(nn.Module):
    """CNN (height 32 -> 1, width /4) + BiLSTM + linear CTC head."""

    def __init__(self, n_classes: int = len(CHARSET) + 1, channels: tuple[int, ...] = (32, 64, 96, 96, 128),
                 hidden: int = 128, layers: int = 2) -> None:
        super().__init__()
        c1, c2, c3, c4, c5 = channels
        self.config = {"channels": list(channels), "hidden": hidden, "layers": layers, "n_classes": n_classes}
        self.cnn = nn.Sequential(
            *_block(1, c1), nn.MaxPool2d(2),                       # 16 x W/2
            *_block(c1, c2), nn.MaxPool2d(2),                      # 8 x W/4
            *_block(c2, c3), *_block(c3, c4), nn.MaxPool2d((2, 1)),  # 4 x W/4
            *_block(c4, c5), nn.MaxPool2d((2, 1)),                 # 2 x W/4
        )
        self.proj = nn.Linear(2 * c5, 2 * hidden)
        self.rnn = nn.LSTM(2 * hidden, hidden, num_layers=layers, bidirectional=True, batch_first=True)
        self.head = nn.Linear(2 * hidden, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, 32, W) -> log-probabilities (B, W/4, n_classes)."""
        f = self.cnn(x)                                  # B, C, 2, T
        b, c, h, t = f.shape
        f = f.permute(0, 3, 1, 2).reshape(b, t, c * h)
        f = torch.relu(self.proj(f))
        f, _ = self.rnn(f)
        return self.head(f).log_softmax(-1)


def preprocess(crop: np.ndarray, height: int = HEIGHT, max_width: int = MAX_WIDTH) -> np.ndarray:
    """An RGB (H, W, 3) or grey (H, W) uint8 crop -> float32 (height, W') standardised grey levels."""
    import cv2

    img = np.asarray(crop)
    if img.ndim == 3:
        img = cv2.cvtColor(np.ascontiguousarray(img[..., :3]), cv2.COLOR_RGB2GRAY)
    h, w = img.shape
    new_w = int(min(max_width, max(8, round(w * height / max(1, h)))))
    interp = cv2.INTER_AREA if h > height else cv2.INTER_CUBIC
    img = cv2.resize(img, (new_w, height), interpolation=interp).astype(np.float32)
    return standardise(img)


def standardise(img: np.ndarray) -> np.ndarray:
    """Per-crop standardisation (contrast and paper colour do not matter); dark ink stays negative."""
    m, s = float(img.mean()), float(img.std())
    return (img - m) / max(s, 8.0)


def greedy_decode(logp: np.ndarray) -> tuple[str, float]:
    """Best path of (T, n_classes) log-probabilities: collapse repeats, drop blanks.

    Confidence: the geometric mean of each character's probability (the max over its frames).
    """
    best = logp.argmax(-1)
    chars, probs = [], []
    prev = 0
    for t, k in enumerate(best):
        k = int(k)
        if k != 0 and k != prev:
            chars.append(CHARSET[k - 1])
            probs.append(float(logp[t, k]))
        elif k != 0 and k == prev:
            probs[-1] = max(probs[-1], float(logp[t, k]))
        prev = k
    if not chars:
        return "", 0.0
    return "".join(chars).strip(), float(np.exp(np.mean(probs)))


def save(model: CRNN, path: str | os.PathLike[str], meta: dict | None = None) -> None:
    """Weights in fp16 + architecture + metadata."""
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    torch.save({"format": FORMAT, "config": model.config, "charset": CHARSET, "height": HEIGHT,
                "state_dict": state, "meta": meta or {}}, path)


def load(path: str | os.PathLike[str] = DEFAULT_CHECKPOINT) -> CRNN:
    """A model (eval mode, float32) from a checkpoint written by :func:`save` (or a training checkpoint)."""
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    if "model" in ckpt and "state_dict" not in ckpt:  # a training checkpoint of train_crnn
        ckpt = {"config": ckpt["config"], "state_dict": ckpt["model"], "charset": ckpt.get("charset", CHARSET)}
    if ckpt.get("charset", CHARSET) != CHARSET:
        raise ValueError(f"{path}: checkpoint charset differs from jadis.ocr.crnn.CHARSET")
    cfg = ckpt["config"]
    model = CRNN(cfg["n_classes"], tuple(cfg["channels"]), cfg["hidden"], cfg["layers"])
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in ckpt["state_dict"].items()})
    return model.eval()


class CrnnRecogniser:
    """Reads upright label crops with a :class:`CRNN` (CPU, ``threads`` intra-op threads)."""

    def __init__(self, path: str | os.PathLike[str] | None = None, threads: int | None = 1,
                 model: CRNN | None = None) -> None:
        if threads:
            torch.set_num_threads(threads)
        self.model = model.eval() if model is not None else load(path or DEFAULT_CHECKPOINT)

    @torch.inference_mode()
    def recognise(self, crop: np.ndarray) -> tuple[str, float]:
        """Text and confidence (0–1) of an upright RGB uint8 crop."""
        if crop is None or crop.size == 0 or min(crop.shape[:2]) < 2:
            return "", 0.0
        x = torch.from_numpy(preprocess(crop))[None, None]
        pad = (-x.shape[-1]) % 4
        if pad:
            x = torch.nn.functional.pad(x, (0, pad), value=float(x.median()))
        logp = self.model(x)[0].numpy()
        return greedy_decode(logp)

    _recognise = recognise

    def __call__(self, crops: Sequence[np.ndarray]) -> list[tuple[str, float]]:
        """A batch of crops, as a :data:`jadis.ocr.reader.Recogniser`
        (``LabelReader(recogniser=CrnnRecogniser())``)."""
        return [self.recognise(c) for c in crops]
