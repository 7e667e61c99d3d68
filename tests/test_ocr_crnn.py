"""The CRNN text recogniser: model, CTC decoding, synthetic crops, shipped checkpoint, training smoke test."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from jadis.ocr import crnn
from jadis.ocr.crnn import CHARSET, CRNN, CrnnRecogniser, encode, greedy_decode


def test_model_shapes_and_size() -> None:
    model = CRNN().eval()
    with torch.inference_mode():
        out = model(torch.zeros(2, 1, crnn.HEIGHT, 160))
    assert out.shape == (2, 40, len(CHARSET) + 1)
    assert torch.allclose(out.exp().sum(-1), torch.ones(2, 40), atol=1e-4)
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params * 2 < 5e6  # fp16 weights under 5 MB


def test_greedy_decode_collapses_repeats_and_blanks() -> None:
    a, b = encode("a")[0], encode("b")[0]
    path = [0, a, a, 0, b, b, 0, b, 0]
    logp = np.full((len(path), len(CHARSET) + 1), np.log(0.01), np.float32)
    for t, k in enumerate(path):
        logp[t, k] = np.log(0.9)
    text, conf = greedy_decode(logp)
    assert text == "abb"
    assert conf == pytest.approx(0.9, abs=1e-4)
    assert greedy_decode(np.log(np.eye(len(CHARSET) + 1)[[0, 0, 0]] + 1e-6)) == ("", 0.0)


def test_charset_covers_french_map_lettering() -> None:
    text = "Rue de l'Université, R. St-Éloi 12bis Œ ç à ô ï ü"
    assert "".join(CHARSET[i - 1] for i in encode(text)) == text


def test_synthetic_crops_are_deterministic() -> None:
    from jadis.ocr.textsynth import TextSampler, render_crop

    sampler = TextSampler(["Rue de Grenelle", "Boulevard Saint-Germain", "rue MALUS"], CHARSET)
    a = [render_crop(sampler.sample(r), r, sampler=sampler) for r in [np.random.default_rng(5)] * 4]
    b = [render_crop(sampler.sample(r), r, sampler=sampler) for r in [np.random.default_rng(5)] * 4]
    for x, y in zip(a, b, strict=True):
        assert x.text == y.text and np.array_equal(x.image, y.image)
        assert x.image.dtype == np.uint8 and x.image.shape[0] == crnn.HEIGHT and x.image.shape[1] <= 512


def _rendered(text: str, size: int = 30) -> np.ndarray:
    """A clean crop of ``text``: dark serif italic on beige paper, about as crop_label cuts it."""
    from PIL import Image, ImageDraw, ImageFont

    from jadis.ocr.textsynth import fonts

    path = next((p for p in fonts()[0] if p.endswith("C059-Italic.otf")), fonts()[0][0])
    font = ImageFont.truetype(path, size)
    width = int(font.getlength(text)) + size
    img = Image.new("RGB", (width, int(size * 1.9)), (233, 220, 186))
    ImageDraw.Draw(img).text((size // 2, int(size * 1.35)), text, font=font, fill=(40, 30, 25), anchor="ls")
    return np.asarray(img)


@pytest.mark.skipif(not crnn.DEFAULT_CHECKPOINT.is_file(), reason="checkpoint not shipped")
def test_shipped_checkpoint_reads_a_clear_word() -> None:
    assert crnn.DEFAULT_CHECKPOINT.stat().st_size < 20e6
    reader = CrnnRecogniser()
    text, conf = reader.recognise(_rendered("Rue de Grenelle"))
    assert text == "Rue de Grenelle"
    assert 0.5 < conf <= 1.0
    (up, up_conf), (down, down_conf) = reader([_rendered("Grenelle"), _rendered("Grenelle")[::-1, ::-1]])
    assert up == "Grenelle" and up_conf > down_conf


def test_training_smoke(tmp_path) -> None:  # pytest fixture
    from jadis.ocr import train_crnn

    out = tmp_path / "run"
    train_crnn.main(["--out", str(out), "--chunks", "1", "--chunk-size", "24", "--val-size", "8",
                     "--batch", "8", "--max-steps", "2"])
    assert (out / "last.pt").is_file()
    log = (out / "log.jsonl").read_text().strip().splitlines()
    assert log and "val_cer" in log[-1]
    model = crnn.load(out / "last.pt")
    text, conf = CrnnRecogniser(model=model).recognise(_rendered("Bac"))
    assert isinstance(text, str) and 0.0 <= conf <= 1.0
