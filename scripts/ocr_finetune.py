"""Fine-tune the PP-OCRv6 small recogniser of the ``rapidocr`` wheel on real Atlas municipal 1925 crops.

Maintainer tool, not part of jadis: it needs ``.venv/bin/pip install onnx onnx2torch`` (not jadis
dependencies). Three steps:

* ``convert``: narrow the CTC head of ``jadis.ocr.ctc.rapidocr_model()`` to the French alphabet (blank,
  the characters of ``jadis.ocr.ctc.FRENCH`` in its dictionary, space: the head's weights sliced in the
  ONNX graph, the kept characters written in its ``character`` metadata) -> ``/tmp/ft/base_fr.onnx``,
  and check the PyTorch conversion (onnx2torch, after rewriting the ``auto_pad=SAME_UPPER`` nodes as
  explicit pads) against onnxruntime, and the narrowed model's readings against the full model's.
* ``train``: CTC fine-tuning of the last backbone stage, the neck and the head (earlier layers frozen,
  BatchNorm in eval mode; AdamW, batch 16: half real crops of the Atlas municipal 1925 dev sheet
  (CC BY 4.0) with box jitter and photometric augmentation, half synthetic lettering from
  :mod:`jadis.ocr.textsynth`). The trained tensors are written back into the narrowed ONNX graph
  under their own initializer names, so ``CtcRecogniser(model=PATH)`` loads the result unchanged.
* ``evaluate``: base (as shipped) against tuned models on the compact left-half Atlas labels and the
  Jacoubet 1836 sheets 13 and 22 (regression check only: never used for training), exact match
  (case/accent-insensitive), loose match and CER per set and kind; ``--timing`` also measures ms per crop.

Commands run (2026-12-07, 2-core CPU, no GPU)::

    .venv/bin/pip install onnx onnx2torch
    nice -n 10 .venv/bin/python scripts/ocr_finetune.py convert
    nice -n 10 .venv/bin/python scripts/ocr_finetune.py train --train-region right --minutes 25 \\
        --out /tmp/ft/fold_right.onnx
    nice -n 10 .venv/bin/python scripts/ocr_finetune.py evaluate --models /tmp/ft/fold_right.onnx \\
        --csv /tmp/ft/eval_fold.csv
    nice -n 10 .venv/bin/python scripts/ocr_finetune.py evaluate --sets atlas_left_lines \\
        --models /tmp/ft/fold_right.onnx --csv /tmp/ft/eval_fold_lines.csv
    nice -n 10 .venv/bin/python scripts/ocr_finetune.py train --train-region all --minutes 25 \\
        --out checkpoints/jadis-ocr-ppocr-am1925-v1.onnx --ckpt /tmp/ft/final_all.ckpt.pt
    # (stopped at step ~150: 2 torch threads crawled (8 s/step) beside another job; resumed from the
    #  step-100 checkpoint on one thread, which was killed after step 325; resumed from step 300:)
    nice -n 10 .venv/bin/python scripts/ocr_finetune.py --threads 1 train --train-region all --minutes 20 \\
        --resume --out checkpoints/jadis-ocr-ppocr-am1925-v1.onnx --ckpt /tmp/ft/final_all.ckpt.pt
    nice -n 10 .venv/bin/python scripts/ocr_finetune.py --threads 1 train --train-region all --minutes 14 \\
        --resume --out checkpoints/jadis-ocr-ppocr-am1925-v1.onnx --ckpt /tmp/ft/final_all.ckpt.pt
    nice -n 10 .venv/bin/python scripts/ocr_finetune.py evaluate \\
        --sets atlas_left,atlas_left_lines,atlas_right,jacoubet \\
        --models /tmp/ft/fold_right.onnx,checkpoints/jadis-ocr-ppocr-am1925-v1.onnx --timing \\
        --csv /tmp/ft/eval_final.csv
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SCRATCH = Path("/tmp/ft")
BASE_FR = SCRATCH / "base_fr.onnx"
TRUTH = {"left": ROOT / "data/truth/am1925_dev_left.csv", "right": ROOT / "data/truth/am1925_dev_right.csv"}
#: Notes of truth rows that are not one line of text whose box is usable for training.
SKIP_NOTES = ("stacked", "two lines", "cut", "unsure", "illegible")
#: The sheet's left half is cx < this (pixels).
HALF_X = 3000


# ---------------------------------------------------------------------------------------------- model


def head_names(model: object) -> tuple[str, str, int]:
    """(weight, bias, node index) of the final linear layer (MatMul + Add before the Softmax)."""
    nodes = list(model.graph.node)  # type: ignore[attr-defined]
    inits = {i.name for i in model.graph.initializer}  # type: ignore[attr-defined]
    k = max(i for i, n in enumerate(nodes) if n.op_type == "MatMul" and n.input[1] in inits)
    out = nodes[k].output[0]
    add = next(n for n in nodes[k:] if n.op_type == "Add" and out in n.input)
    bias = next(i for i in add.input if i in inits)
    return nodes[k].input[1], bias, k


def narrow(src: Path, dst: Path) -> list[str]:
    """Write ``src`` with its CTC head cut to blank + French characters + space; returns the kept classes."""
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    from jadis.ocr.ctc import FRENCH, model_classes

    classes = model_classes(ort.InferenceSession(str(src), providers=["CPUExecutionProvider"]))
    allowed = set(FRENCH) - {" "}
    keep = [0] + [i for i in range(1, len(classes) - 1) if classes[i] in allowed] + [len(classes) - 1]
    model = onnx.load(str(src))
    w_name, b_name, _ = head_names(model)
    for init in model.graph.initializer:
        if init.name in (w_name, b_name):
            arr = numpy_helper.to_array(init)
            arr = arr[..., keep] if arr.ndim == 2 else arr[keep]
            init.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(arr), init.name))
    out = model.graph.output[0].type.tensor_type.shape.dim[-1]
    out.ClearField("dim_param")
    out.dim_value = len(keep)
    # shapes inferred for the full head would contradict the new one
    stale = [v for v in model.graph.value_info
             if v.type.tensor_type.shape.dim and v.type.tensor_type.shape.dim[-1].dim_value == len(classes)]
    for v in stale:
        model.graph.value_info.remove(v)
    kept = [classes[i] for i in keep]
    meta = {p.key: p for p in model.metadata_props}
    if "character" in meta:
        meta["character"].value = "\n".join(kept[1:-1])
    else:
        onnx.helper.set_model_props(model, {"character": "\n".join(kept[1:-1])})
    dst.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(dst))
    return kept


def explicit_pads(model: object) -> None:
    """Rewrite ``auto_pad=SAME_UPPER`` (stride 1 only, as in PP-OCRv6) as explicit ``pads`` in place:
    a total of kernel - 1 per axis, the extra pixel at the end (SAME_UPPER), whatever the input size."""
    import onnx

    for node in model.graph.node:  # type: ignore[attr-defined]
        auto = [a for a in node.attribute if a.name == "auto_pad"]
        if not auto or auto[0].s in (b"NOTSET", b"VALID"):
            continue
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        kernel, strides = list(attrs["kernel_shape"]), list(attrs.get("strides", [1] * len(attrs["kernel_shape"])))
        dil = list(attrs.get("dilations", [1] * len(kernel)))
        if any(s != 1 for s in strides) or auto[0].s != b"SAME_UPPER":
            raise NotImplementedError(f"{node.name}: auto_pad {auto[0].s!r} with strides {strides}")
        total = [d * (k - 1) for k, d in zip(kernel, dil, strict=True)]
        node.attribute.remove(auto[0])
        node.attribute.append(onnx.helper.make_attribute("pads", [t // 2 for t in total] + [t - t // 2 for t in total]))


def last_stage_start(model: object) -> int:
    """Index of the first node of the backbone's last stage: its downsampling (the last strided Conv)."""
    import onnx

    nodes = list(model.graph.node)  # type: ignore[attr-defined]
    strided = [i for i, n in enumerate(nodes) if n.op_type == "Conv" and any(
        s != 1 for a in n.attribute if a.name == "strides" for s in onnx.helper.get_attribute_value(a))]
    return strided[-1]


class TorchRecogniser:
    """The ONNX recogniser as a PyTorch module (onnx2torch) returning logits, with the tensors of the
    last backbone stage, neck and head trainable and mapped back to their ONNX initializer names."""

    def __init__(self, path: Path, train_from: int | None = None) -> None:
        import onnx
        import torch
        from onnx import numpy_helper
        from onnx2torch import convert

        self.path = path
        model = onnx.load(str(path))
        explicit_pads(model)
        start = last_stage_start(model) if train_from is None else train_from
        self.start = start
        producer = {o: i for i, n in enumerate(model.graph.node) for o in n.output}
        floats = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer
                  if i.data_type == onnx.TensorProto.FLOAT and int(np.prod(i.dims)) > 1}
        gm = convert(model, attach_onnx_mapping=True)
        # logits: drop the final Softmax
        graph = gm.graph
        out = next(n for n in graph.nodes if n.op == "output")
        soft = out.args[0]
        if soft.op == "call_module" and "Softmax" in type(gm.get_submodule(soft.target)).__name__:
            out.args = (soft.args[0],)
            graph.erase_node(soft)
            gm.recompile()
        else:
            raise RuntimeError("the graph does not end with a Softmax")
        for p in gm.parameters():
            p.requires_grad_(False)
        self.trainable: dict[str, torch.nn.Parameter] = {}
        for node in list(gm.graph.nodes):
            if node.op != "call_module":
                continue
            mod = gm.get_submodule(node.target)
            mapping = getattr(mod, "onnx_mapping", None)
            if mapping is None or producer.get(mapping.outputs[0], -1) < start:
                continue
            inputs = list(model.graph.node[producer[mapping.outputs[0]]].input)
            inner = mod[-1] if isinstance(mod, torch.nn.Sequential) else mod
            if isinstance(inner, (torch.nn.Conv2d, torch.nn.Conv1d, torch.nn.Linear)):
                for k, attr in ((1, "weight"), (2, "bias")):
                    if k < len(inputs) and inputs[k] in floats and getattr(inner, attr, None) is not None:
                        self._train(inputs[k], getattr(inner, attr))
                continue
            if isinstance(inner, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                for k, attr in ((1, "weight"), (2, "bias")):
                    self._train(inputs[k], getattr(inner, attr))
                continue
            for name, arg in zip(mapping.inputs, node.args, strict=False):
                if name in floats and hasattr(arg, "op") and arg.op == "get_attr":
                    owner, leaf = arg.target.rsplit(".", 1)
                    holder = gm.get_submodule(owner)
                    tensor = getattr(holder, leaf)
                    if name in self.trainable:      # one initializer used twice: tie the copies
                        param = self.trainable[name]
                    else:
                        param = torch.nn.Parameter(tensor.detach().clone())
                        self.trainable[name] = param
                    delattr(holder, leaf)
                    holder.register_parameter(leaf, param)
        self.module = gm.eval()

    def _train(self, name: str, param: object) -> None:
        import torch

        assert isinstance(param, torch.nn.Parameter), name
        if name in self.trainable and self.trainable[name] is not param:
            raise RuntimeError(f"{name}: used by two modules")
        param.requires_grad_(True)
        self.trainable[name] = param

    def export(self, dst: Path, tensors: dict[str, np.ndarray] | None = None) -> None:
        """The source ONNX graph with the trained tensors written into its initializers."""
        import onnx
        from onnx import numpy_helper

        values = tensors or {k: v.detach().cpu().numpy() for k, v in self.trainable.items()}
        model = onnx.load(str(self.path))
        done = set()
        for init in model.graph.initializer:
            if init.name in values:
                arr = values[init.name].astype(np.float32).reshape(tuple(init.dims))
                init.CopyFrom(numpy_helper.from_array(arr, init.name))
                done.add(init.name)
        if done != set(values):
            raise RuntimeError(f"not written back: {sorted(set(values) - done)[:5]}")
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_suffix(".tmp.onnx")
        onnx.save(model, str(tmp))
        tmp.replace(dst)


# ---------------------------------------------------------------------------------------------- data


@dataclass
class Line:
    """One transcribed label of the Atlas sheet, as an oriented box."""

    label_id: int
    kind: str
    text: str
    centre: np.ndarray
    direction: np.ndarray   #: unit reading direction (image coordinates)
    length: float
    thick: float
    cap: float


def atlas_image() -> np.ndarray:
    """The Atlas municipal 1925 dev scan, RGB."""
    from PIL import Image

    from benchmarks.ocr_recognisers import ATLAS

    Image.MAX_IMAGE_PIXELS = None
    return np.asarray(Image.open(ATLAS).convert("RGB"))


def training_lines(region: str, charset: set[str]) -> tuple[list[Line], list[str]]:
    """Lines of both Atlas truth CSVs in ``region`` (left: cx < 3000, right, all) usable for training,
    and why the others were left out."""
    import pandas as pd

    from benchmarks.ocr_recognisers import label_box

    lines, skipped = [], []
    for csv in TRUTH.values():
        table = pd.read_csv(csv, dtype={"printed": str, "notes": str, "number": str})
        for _, row in table.iterrows():
            notes = str(row["notes"]).lower() if pd.notna(row["notes"]) else ""
            text = " ".join(str(row["printed"]).replace("^", "").replace("’", "'").split()) \
                if pd.notna(row["printed"]) else ""
            cx = float(row["cx"])
            if region == "left" and cx >= HALF_X or region == "right" and cx < HALF_X:
                continue
            why = next((w for w in SKIP_NOTES if w in notes), None)
            if why or not text:
                skipped.append(f"{csv.stem}:{row['label_id']} {text!r}: {why or 'no text'}")
                continue
            if not set(text) <= charset:
                skipped.append(f"{csv.stem}:{row['label_id']} {text!r}: characters {set(text) - charset}")
                continue
            try:
                box = label_box(row)
            except (TypeError, ValueError):
                box = None
            if box is None:
                skipped.append(f"{csv.stem}:{row['label_id']} {text!r}: degenerate box")
                continue
            corners, d, length = box
            thick = float(np.linalg.norm(corners[3] - corners[0]))
            lines.append(Line(int(row["label_id"]), str(row["kind"]), text,
                              np.array([cx, float(row["cy"])]), d, length, thick, float(row["height"])))
    return lines, skipped


def cut_line(image: np.ndarray, line: Line, rng: np.random.Generator | None) -> np.ndarray | None:
    """Upright RGB crop of ``line`` as :func:`jadis.ocr.reader.crop_label` cuts it; with ``rng``, the
    box jittered (centre ±0.15 letter heights across and ±0.1 length along, length ±15 %, thickness
    +0-30 %, rotation ±3°). The box is kept at least as long as it is thick so the crop stays horizontal."""
    from jadis.ocr.lines import label_frame
    from jadis.ocr.reader import crop_label

    c, d, length, thick = line.centre.copy(), line.direction.copy(), line.length, line.thick
    if rng is not None:
        a = math.radians(rng.uniform(-3, 3))
        d = np.array([d[0] * math.cos(a) - d[1] * math.sin(a), d[0] * math.sin(a) + d[1] * math.cos(a)])
        n = np.array([-d[1], d[0]])
        c = c + n * rng.uniform(-0.15, 0.15) * line.cap + d * rng.uniform(-0.1, 0.1) * length
        length *= rng.uniform(0.85, 1.15)
        thick *= rng.uniform(1.0, 1.3)
    n = np.array([-d[1], d[0]])
    length = max(length, 1.05 * thick)
    hl, hh = d * length / 2, n * thick / 2
    corners = np.array([c - hl - hh, c + hl - hh, c + hl + hh, c - hl + hh])
    crop = crop_label(image, corners)
    if crop is None:
        return None
    _, theta, _, _ = label_frame(corners)
    axis = np.array([math.cos(math.radians(theta)), math.sin(math.radians(theta))])
    return np.ascontiguousarray(crop[::-1, ::-1]) if axis @ d < 0 else crop


def photometric(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Scale (down and back up), blur, contrast/brightness, noise and JPEG artefacts on a uint8 crop."""
    import cv2

    img = crop
    h, w = img.shape[:2]
    if rng.random() < 0.4:
        f = rng.uniform(0.45, 0.9)
        small = cv2.resize(img, (max(4, int(w * f)), max(4, int(h * f))), interpolation=cv2.INTER_AREA)
        img = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    if rng.random() < 0.3:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 1.2))
    out = img.astype(np.float32) * rng.uniform(0.7, 1.3) + rng.uniform(-30, 30)
    if rng.random() < 0.3:
        out += rng.normal(0, rng.uniform(2, 8), out.shape)
    img = np.clip(out, 0, 255).astype(np.uint8)
    if rng.random() < 0.4:
        ok, enc = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.uniform(30, 90))])
        if ok:
            img = cv2.imdecode(enc, cv2.IMREAD_UNCHANGED)
    return img


class Synth:
    """Synthetic map lettering (:mod:`jadis.ocr.textsynth`) as RGB crops with their text."""

    def __init__(self, charset: set[str], seed: int) -> None:
        from jadis.geocode.vocabulary import vocabulary
        from jadis.ocr.textsynth import TextSampler

        chars = "".join(sorted(charset))
        self.sampler = TextSampler(vocabulary(include_user=False), chars)
        self.charset = charset
        self.rng = np.random.default_rng(seed)

    def sample(self) -> tuple[np.ndarray, str]:
        from jadis.ocr.textsynth import render_crop

        while True:
            text = " ".join(self.sampler.sample(self.rng).split())
            if text and set(text) <= self.charset:
                crop = render_crop(text, self.rng, 48, 1200, self.sampler)
                return np.repeat(crop.image[..., None], 3, axis=2), text


# ---------------------------------------------------------------------------------------------- train


def train(args: argparse.Namespace) -> None:
    """CTC fine-tuning; see the module docstring."""
    import torch

    from jadis.ocr.ctc import STRETCH, preprocess

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if not BASE_FR.is_file():
        narrow(rapidocr_path(), BASE_FR)
    net = TorchRecogniser(BASE_FR)
    kept = classes_of(BASE_FR)
    index = {}
    for i, ch in enumerate(kept):
        if i > 0 and ch not in index:
            index[ch] = i
    charset = set(index)
    lines, skipped = training_lines(args.train_region, charset)
    print(f"training lines ({args.train_region}): {len(lines)}; left out: {len(skipped)}", flush=True)
    for s in skipped:
        print("  skip", s)
    image = atlas_image()
    synth = Synth(charset, args.seed + 1)
    rng = np.random.default_rng(args.seed)
    params = list(net.trainable.values())
    print(f"trainable tensors: {len(params)} ({sum(p.numel() for p in params):,} values) from ONNX node "
          f"{net.start}", flush=True)
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=1e-4)
    ckpt = args.out.with_suffix(".ckpt.pt") if args.ckpt is None else args.ckpt
    step = 0
    if args.resume and ckpt.is_file():
        state = torch.load(ckpt, weights_only=False)
        with torch.no_grad():
            for k, v in state["tensors"].items():
                net.trainable[k].copy_(torch.from_numpy(v))
        opt.load_state_dict(state["opt"])
        step = state["step"]
        rng = np.random.default_rng(args.seed + step)
        print(f"resumed at step {step}", flush=True)
    ctc = torch.nn.CTCLoss(blank=0, zero_infinity=True)
    n_real = args.batch - int(round(args.batch * args.synth))
    deadline = time.time() + 60 * args.minutes
    t0, losses = time.time(), []

    def save() -> None:
        tensors = {k: v.detach().cpu().numpy().copy() for k, v in net.trainable.items()}
        torch.save({"step": step, "tensors": tensors, "opt": opt.state_dict(), "region": args.train_region},
                   ckpt.with_suffix(".tmp"))
        ckpt.with_suffix(".tmp").replace(ckpt)

    # batches of crops of similar widths (the batch is padded to its widest crop: CPU time)
    aspect = np.array([ratio(cut_line(image, line, None)) for line in lines])
    lines = [lines[i] for i in np.argsort(aspect)]
    window = max(n_real, int(round(len(lines) * args.bucket)))
    pool: list[tuple[np.ndarray, str]] = []
    while time.time() < deadline and (args.steps is None or step < args.steps):
        crops, texts = [], []
        first = int(rng.integers(0, len(lines) - window + 1))
        while len(crops) < n_real:
            line = lines[first + int(rng.integers(window))]
            crop = cut_line(image, line, rng)
            if crop is not None:
                crops.append(photometric(crop, rng))
                texts.append(line.text)
        widest = max(map(ratio, crops)) if crops else math.inf
        while len(pool) < 4 * (args.batch - n_real):
            pool.append(synth.sample())
        fits = [i for i, (c, _) in enumerate(pool) if ratio(c) <= widest]
        rng.shuffle(fits)
        rest = sorted(set(range(len(pool))) - set(fits), key=lambda i: ratio(pool[i][0]))
        chosen = (fits + rest)[:args.batch - n_real]
        for i in chosen:
            crops.append(pool[i][0])
            texts.append(pool[i][1])
        pool = [x for i, x in enumerate(pool) if i not in set(chosen)]
        # very long crops (spread labels) are squeezed to at most MAX_RATIO: the batch's width stays small
        crops = [squeeze(c, args.max_ratio) for c in crops]
        batch = torch.from_numpy(preprocess([np.ascontiguousarray(c[..., ::-1]) for c in crops], STRETCH))
        logits = net.module(batch)                              # (B, T, C)
        logp = logits.log_softmax(-1).transpose(0, 1)           # (T, B, C)
        targets = torch.tensor([index[ch] for t in texts for ch in t], dtype=torch.long)
        target_lengths = torch.tensor([len(t) for t in texts], dtype=torch.long)
        input_lengths = torch.full((len(texts),), logp.shape[0], dtype=torch.long)
        loss = ctc(logp, targets, input_lengths, target_lengths)
        lr = args.lr * min(1.0, (step + 1) / 50)
        for g in opt.param_groups:
            g["lr"] = lr
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        step += 1
        losses.append(float(loss.detach()))
        if step % 25 == 0:
            print(f"step {step} loss {np.mean(losses[-25:]):.3f} {time.time() - t0:.0f}s", flush=True)
        if step % 100 == 0:
            save()
    save()
    net.export(args.out)
    print(f"{step} steps in {time.time() - t0:.0f}s -> {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)",
          flush=True)


def ratio(crop: np.ndarray | None) -> float:
    """Width / height of a crop (0 for none)."""
    return 0.0 if crop is None else crop.shape[1] / max(1, crop.shape[0])


def squeeze(crop: np.ndarray, max_ratio: float) -> np.ndarray:
    """The crop narrowed to at most ``max_ratio`` times its height (unchanged when already narrower)."""
    import cv2

    h, w = crop.shape[:2]
    if w <= max_ratio * h:
        return crop
    return cv2.resize(crop, (int(max_ratio * h), h), interpolation=cv2.INTER_AREA)


def rapidocr_path() -> Path:
    from jadis.ocr.ctc import rapidocr_model

    return rapidocr_model()


def classes_of(path: Path) -> list[str]:
    """Classes of an ONNX recogniser as :func:`jadis.ocr.ctc.model_classes` reads them."""
    import onnxruntime as ort

    from jadis.ocr.ctc import model_classes

    return model_classes(ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]))


# ---------------------------------------------------------------------------------------------- evaluate


def eval_sets(names: list[str]) -> dict[str, list[tuple[object, np.ndarray]]]:
    """set name -> [(benchmark Label, upright crop)] cut as benchmarks/ocr_recognisers.py does."""
    from PIL import Image

    from benchmarks.ocr_recognisers import SHEETS, Label, cut, load_labels, scan_path

    Image.MAX_IMAGE_PIXELS = None
    out: dict[str, list] = {}
    images: dict[Path, np.ndarray] = {}

    def crops_of(sheet: str, keep: object) -> list:
        truth, spec = SHEETS[sheet]
        scan = scan_path(spec)
        if scan is None:
            print(f"{sheet}: no scan, skipped")
            return []
        if scan not in images:
            images[scan] = np.asarray(Image.open(scan).convert("RGB"))
        got = []
        for label in load_labels(sheet, truth):
            if not keep(label):  # type: ignore[operator]
                continue
            c = cut(images[scan], label)
            if c is not None:
                crop, upside_down = c
                got.append((label, np.ascontiguousarray(crop[::-1, ::-1]) if upside_down else crop))
        return got

    for name in names:
        if name in ("atlas_left", "atlas_right"):
            left = name == "atlas_left"
            out[name] = [x for sheet in ("am1925_dev_left", "am1925_dev_right")
                         for x in crops_of(sheet, lambda lb, left=left: (lb.corners[:, 0].mean() < HALF_X) == left)]
        elif name == "atlas_left_lines":
            # every left-half row usable for training (letter-spaced and spread ones too), cut by cut_line
            image = atlas_image()
            lines, _ = training_lines("left", set(classes_of(BASE_FR)[1:]))
            got = []
            for line in lines:
                crop = cut_line(image, line, None)
                if crop is not None:
                    got.append((Label("am1925_dev_left", line.label_id, line.kind, line.text,
                                      np.zeros((4, 2)), line.direction), crop))
            out[name] = got
        elif name == "jacoubet":
            out[name] = [x for sheet in ("jacoubet_sheet13", "jacoubet_sheet22") for x in crops_of(sheet, lambda lb: True)]
        else:
            raise SystemExit(f"unknown set {name}")
    return out


def evaluate(args: argparse.Namespace) -> None:
    """Base against tuned models, per set and kind (see the module docstring)."""
    import pandas as pd
    from rapidfuzz.distance import Levenshtein

    from benchmarks.ocr_recognisers import fold, loose, markdown
    from jadis.ocr.ctc import CtcRecogniser
    from jadis.ocr.reader import LabelReader

    sets = eval_sets(args.sets.split(","))
    models: dict[str, Path | None] = {"base": None}
    for m in filter(None, args.models.split(",")):
        models[Path(m).stem] = Path(m)
    rows = []
    for mname, path in models.items():
        reader = LabelReader(recogniser=CtcRecogniser(model=path, threads=args.threads))
        for sname, items in sets.items():
            crops = [c for _, c in items]
            readings = reader.read_many(crops, [False] * len(crops))
            for (label, _), r in zip(items, readings, strict=True):
                truth, got = fold(label.text, True), fold(r.text, True)
                rows.append({"model": mname, "set": sname, "sheet": label.sheet, "kind": label.kind,
                             "id": label.label_id, "truth": label.text, "read": r.text,
                             "exact_ci": fold(r.text, False) == fold(label.text, False),
                             "loose": loose(r.text) == loose(label.text),
                             "edits": Levenshtein.distance(got, truth), "chars": len(truth)})
    table = pd.DataFrame(rows)
    if args.csv:
        table.to_csv(args.csv, index=False)
    kinds = table.assign(kind=table["kind"].where(table["kind"] != "other", "other"))
    summary = pd.concat([kinds, kinds.assign(kind="all")]).groupby(["set", "kind", "model"], sort=False).agg(
        labels=("exact_ci", "size"), exact_ci=("exact_ci", "mean"), loose=("loose", "mean"),
        edits=("edits", "sum"), chars=("chars", "sum")).reset_index()
    summary["cer"] = (100 * summary["edits"] / summary["chars"]).round(1)
    summary["exact_ci"] = (100 * summary["exact_ci"]).round(1)
    summary["loose"] = (100 * summary["loose"]).round(1)
    summary = summary.drop(columns=["edits", "chars"]).sort_values(["set", "kind", "model"], kind="stable")
    print(markdown(summary))
    if args.timing:
        timing(sets, models, args.threads)


def timing(sets: dict[str, list], models: dict[str, Path | None], threads: int) -> None:
    """Milliseconds per crop, batches of 16 (``LabelReader.read_many``, upright only), best of 3 rounds."""
    from jadis.ocr.ctc import CtcRecogniser
    from jadis.ocr.reader import LabelReader

    crops = [c for items in sets.values() for _, c in items]
    readers = {m: LabelReader(recogniser=CtcRecogniser(model=p, threads=threads)) for m, p in models.items()}
    best = {m: math.inf for m in readers}
    for _ in range(3):
        for m, reader in readers.items():
            start = time.perf_counter()
            reader.read_many(crops, [False] * len(crops))
            best[m] = min(best[m], (time.perf_counter() - start) * 1000 / len(crops))
    for m, ms in best.items():
        print(f"timing {m}: {ms:.1f} ms per crop ({len(crops)} crops, batch 16, {threads} thread)")


# ---------------------------------------------------------------------------------------------- convert


def convert_cmd(args: argparse.Namespace) -> None:
    """Narrow the head, then check the torch conversion and the narrowed readings on real crops."""
    import onnxruntime as ort
    import torch

    from jadis.ocr.ctc import STRETCH, CtcRecogniser, preprocess

    torch.set_num_threads(args.threads)
    kept = narrow(rapidocr_path(), BASE_FR)
    print(f"{BASE_FR}: {len(kept)} classes (blank, {len(kept) - 2} characters, space), "
          f"{BASE_FR.stat().st_size / 1e6:.1f} MB; characters: {''.join(kept[1:-1])}")
    sets = eval_sets(["atlas_left", "atlas_right", "jacoubet"])
    crops = [c for items in sets.values() for _, c in items]
    rng = np.random.default_rng(0)
    sample = [crops[i] for i in rng.choice(len(crops), min(50, len(crops)), replace=False)]
    net = TorchRecogniser(BASE_FR)
    session = ort.InferenceSession(str(BASE_FR), providers=["CPUExecutionProvider"])
    worst = 0.0
    for crop in sample:
        x = preprocess([np.ascontiguousarray(crop[..., ::-1])], STRETCH)
        ref = session.run(None, {session.get_inputs()[0].name: x})[0]
        with torch.no_grad():
            got = net.module(torch.from_numpy(x)).softmax(-1).numpy()
        worst = max(worst, float(np.abs(ref - got).max()))
    print(f"torch vs onnxruntime on {len(sample)} real crops: max |softmax difference| = {worst:.2e}")
    full, small = CtcRecogniser(), CtcRecogniser(model=BASE_FR)
    a = [t for i in range(0, len(crops), 16) for t, _ in full(crops[i:i + 16])]
    b = [t for i in range(0, len(crops), 16) for t, _ in small(crops[i:i + 16])]
    same = sum(x == y for x, y in zip(a, b, strict=True))
    print(f"narrowed vs full model (French mask): {same}/{len(crops)} crops read identically")
    for x, y in zip(a, b, strict=True):
        if x != y:
            print(f"  differs: {x!r} vs {y!r}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="torch / onnxruntime threads")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("convert", help="narrow the head to French and check the conversion")
    t = sub.add_parser("train", help="fine-tune and export ONNX")
    t.add_argument("--train-region", choices=("left", "right", "all"), default="all")
    t.add_argument("--minutes", type=float, default=25.0, help="wall-clock training time")
    t.add_argument("--steps", type=int, default=None, help="stop after this many steps (optional)")
    t.add_argument("--out", type=Path, required=True, help="ONNX file to write")
    t.add_argument("--ckpt", type=Path, default=None, help="checkpoint (default: OUT with .ckpt.pt)")
    t.add_argument("--resume", action="store_true", help="continue from the checkpoint")
    t.add_argument("--lr", type=float, default=2e-4)
    t.add_argument("--batch", type=int, default=16)
    t.add_argument("--synth", type=float, default=0.5, help="share of synthetic crops in a batch")
    t.add_argument("--max-ratio", type=float, default=14.0, help="widest crop, in heights (squeezed beyond)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--bucket", type=float, default=0.15,
                   help="real crops of a batch come from this share of the lines, sorted by width")
    e = sub.add_parser("evaluate", help="base vs tuned models on held-out crops")
    e.add_argument("--models", default="", help="comma-separated ONNX files (the base model is always read)")
    e.add_argument("--sets", default="atlas_left,jacoubet", help="atlas_left (compact, as the benchmark cuts them), atlas_left_lines (all "
                   "left-half rows usable for training, cut as for training), atlas_right, jacoubet")
    e.add_argument("--csv", type=Path, default=None, help="write every reading here")
    e.add_argument("--timing", action="store_true", help="also time ms per crop")
    args = parser.parse_args(argv)
    if args.cmd == "evaluate" and args.threads == 2:
        args.threads = 1
    {"convert": convert_cmd, "train": train, "evaluate": evaluate}[args.cmd](args)


if __name__ == "__main__":
    main()
