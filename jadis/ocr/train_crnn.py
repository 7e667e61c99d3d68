"""Train the CRNN text recogniser (:mod:`jadis.ocr.crnn`) on a pre-rendered pool of synthetic crops.

    python -m jadis.ocr.train_crnn --out runs/ocr-crnn --hours 1.2 [--resume]

The pool (``<out>/pool/chunk_*.npz``, 5000 crops each, and ``val.npz``) is rendered once by
:func:`render_chunks` (missing chunks are rendered at start; chunks that appear while training runs are
picked up at the next epoch). Each epoch passes over the pool in batches of similar widths with cheap
augmentation (width scale, shifts, contrast, noise, blur). AdamW with a time-based cosine schedule
(``--hours`` of training in all, resumable). ``last.pt`` every ``--ckpt-minutes``; ``best.pt`` by
synthetic validation exact match; ``log.jsonl`` has loss, exact match and CER.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from jadis.ocr.crnn import CHARSET, CRNN, HEIGHT, encode, greedy_decode, standardise

CHUNK = 5000


def render_chunks(pool: Path, n_chunks: int, names: list[str] | None = None, chunk: int = CHUNK,
                  val: int = 1000) -> None:
    """Render the missing pool chunks (seed 1000 + k) and the validation set (seed 7)."""
    from jadis.ocr.textsynth import render_pool

    pool.mkdir(parents=True, exist_ok=True)
    if names is None:
        from jadis.geocode.vocabulary import vocabulary

        names = vocabulary(include_user=False)
    jobs = [("val", 7, val)] + [(f"chunk_{k:02d}", 1000 + k, chunk) for k in range(n_chunks)]
    for name, seed, n in jobs:
        f = pool / f"{name}.npz"
        if f.exists():
            continue
        pix, off, texts = render_pool(n, seed, CHARSET, names, HEIGHT)
        tmp = pool / f"{name}.tmp.npz"
        np.savez(tmp, pixels=pix, offsets=off, texts=np.array(texts))
        tmp.rename(f)


def load_crops(files: list[Path]) -> tuple[list[np.ndarray], list[str]]:
    """Crops (uint8 grey, height HEIGHT) and texts of pool files."""
    images, texts = [], []
    for f in files:
        z = np.load(f)
        pix, off = z["pixels"], z["offsets"]
        images += [pix[:, off[i]:off[i + 1]] for i in range(len(off) - 1)]
        texts += [str(t) for t in z["texts"]]
    return images, texts


def augment(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Cheap augmentation of a uint8 crop -> float32 standardised: width scale, margins, shifts,
    wider vertical margins, gamma, blur, noise."""
    import cv2

    h, w = img.shape
    if rng.random() < 0.5:
        new_w = int(np.clip(w * rng.uniform(0.8, 1.2), 8, 512))
        img = cv2.resize(img, (new_w, h), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.3:  # trim or extend the margins
        a, b = (int(v) for v in rng.integers(-3, 4, 2))
        img = np.pad(img, ((0, 0), (max(0, a), max(0, b))), mode="edge")
        img = img[:, max(0, -a):img.shape[1] - max(0, -b)]
    if rng.random() < 0.4:  # wider margins above and below (smaller text in the frame)
        extra = int(h * rng.uniform(0.1, 0.6))
        top = int(rng.integers(0, extra + 1))
        img = np.pad(img, ((top, extra - top), (0, 0)), mode="edge")
        img = cv2.resize(img, (int(np.clip(img.shape[1] * h / img.shape[0], 8, 512)), h),
                         interpolation=cv2.INTER_AREA)
    if rng.random() < 0.3:  # vertical shift
        s = int(rng.integers(-2, 3))
        img = np.roll(np.pad(img, ((2, 2), (0, 0)), mode="edge"), s, axis=0)[2:-2]
    x = img.astype(np.float32)
    if rng.random() < 0.3:
        x = 255.0 * (x / 255.0) ** rng.uniform(0.6, 1.6)
    if rng.random() < 0.2:
        x = cv2.GaussianBlur(x, (0, 0), rng.uniform(0.4, 1.0))
    if rng.random() < 0.3:
        x = x + rng.normal(0, rng.uniform(2, 10), x.shape).astype(np.float32)
    return standardise(x)


def collate(crops: list[np.ndarray], texts: list[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor,
                                                                 torch.Tensor]:
    """Pad standardised crops to one width (a multiple of 4, with each crop's median):
    images, targets, input lengths, target lengths."""
    width = max(c.shape[1] for c in crops)
    width += (-width) % 4
    x = np.zeros((len(crops), 1, HEIGHT, width), np.float32)
    for i, c in enumerate(crops):
        x[i, 0] = float(np.median(c))
        x[i, 0, :, :c.shape[1]] = c
    targets = [encode(t) for t in texts]
    in_len = torch.tensor([math.ceil(c.shape[1] / 4) for c in crops])
    tg_len = torch.tensor([len(t) for t in targets])
    flat = torch.tensor([k for t in targets for k in t], dtype=torch.long)
    return torch.from_numpy(x), flat, in_len, tg_len


def batches(widths: np.ndarray, batch: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled batches of crops of similar widths."""
    order = rng.permutation(len(widths))
    out = []
    group = batch * 32
    for g in range(0, len(order), group):
        idx = order[g:g + group]
        idx = idx[np.argsort(widths[idx], kind="stable")]
        out += [idx[i:i + batch] for i in range(0, len(idx), batch)]
    rng.shuffle(out)
    return out


def evaluate(model: CRNN, images: list[np.ndarray], texts: list[str], batch: int = 64) -> dict[str, float]:
    """Exact match and character error rate (edit distance / truth length) of greedy readings."""
    from rapidfuzz.distance import Levenshtein

    model.eval()
    order = np.argsort([im.shape[1] for im in images])
    exact, errors, chars = 0, 0, 0
    with torch.inference_mode():
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            crops = [standardise(images[k].astype(np.float32)) for k in idx]
            x, _, in_len, _ = collate(crops, [texts[k] for k in idx])
            logp = model(x).numpy()
            for j, k in enumerate(idx):
                pred, _ = greedy_decode(logp[j, :int(in_len[j])])
                truth = texts[k].strip()
                exact += pred == truth
                errors += Levenshtein.distance(pred, truth)
                chars += max(1, len(truth))
    model.train()
    return {"exact": exact / max(1, len(images)), "cer": errors / max(1, chars)}


def lr_at(frac: float, step: int, base: float, warmup: int = 300) -> float:
    """Linear warm-up, then cosine over the fraction of the time budget spent, down to 5 %."""
    w = min(1.0, (step + 1) / warmup)
    return base * w * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, frac))))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--hours", type=float, default=1.2, help="training time in all (resumes count)")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--pool", type=Path, default=None, help="pool folder (default <out>/pool)")
    ap.add_argument("--chunks", type=int, default=8, help="pool chunks of 5000 crops rendered at start")
    ap.add_argument("--chunk-size", type=int, default=CHUNK)
    ap.add_argument("--val-size", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--ckpt-minutes", type=float, default=5.0)
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (tests)")
    ap.add_argument("--init", type=Path, default=None, help="start from these weights (fine-tuning)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--real", action="append", default=[], metavar="CSV=IMAGE",
                    help="fine-tune also on the compact labels of a truth CSV of IMAGE (repeatable)")
    ap.add_argument("--real-max-id", type=int, default=None, help="only truth rows with label_id below this")
    ap.add_argument("--real-fraction", type=float, default=0.25, help="share of real crops in a batch")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    pool = args.pool or out / "pool"
    render_chunks(pool, args.chunks, chunk=args.chunk_size, val=args.val_size)
    val_images, val_texts = load_crops([pool / "val.npz"])
    real_images, real_texts = real_crops(args.real, args.real_max_id)
    if real_images:
        print(f"{len(real_images)} real crops for fine-tuning", flush=True)
    n_real = int(round(args.batch * args.real_fraction)) if real_images else 0

    model = CRNN()
    if args.init is not None:
        from jadis.ocr.crnn import load

        model.load_state_dict(load(args.init).state_dict())
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    ctc = torch.nn.CTCLoss(blank=0, zero_infinity=True)
    step, epoch, spent, best = 0, 0, 0.0, -1.0
    if args.resume and (out / "last.pt").exists():
        ck = torch.load(out / "last.pt", map_location="cpu", weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step, epoch, spent, best = ck["step"], ck["epoch"], ck["spent"], ck["best"]
        print(f"resumed at step {step}, epoch {epoch}, {spent / 60:.1f} min spent", flush=True)
    budget = args.hours * 3600
    log = (out / "log.jsonl").open("a")

    def checkpoint(tag: str, metrics: dict[str, float] | None = None) -> None:
        nonlocal best
        state = {"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "epoch": epoch,
                 "spent": spent, "best": best, "config": model.config, "charset": CHARSET}
        if metrics is not None and metrics["exact"] > best:
            best = metrics["exact"]
            state["best"] = best
            torch.save(state, out / "best.tmp")
            (out / "best.tmp").rename(out / "best.pt")
        torch.save(state, out / "last.tmp")
        (out / "last.tmp").rename(out / "last.pt")

    t_mark = time.time()
    last_ckpt = time.time()
    losses: list[float] = []
    done = False
    while not done:
        files = sorted(pool.glob("chunk_*.npz"))
        images, texts = load_crops(files)
        keep = [i for i, t in enumerate(texts) if len(encode(t)) and math.ceil(images[i].shape[1] / 4) > len(t)]
        widths = np.array([images[i].shape[1] for i in keep])
        if not keep:
            raise SystemExit(f"no training crops in {pool}")
        rng = np.random.default_rng(args.seed * 1000 + epoch)
        for b in batches(widths, args.batch - n_real, rng):
            idx = [keep[i] for i in b]
            crops = [augment(images[i], rng) for i in idx]
            batch_texts = [texts[i] for i in idx]
            for i in rng.integers(0, len(real_images), n_real) if n_real else []:
                crops.append(augment(real_images[i], rng))
                batch_texts.append(real_texts[i])
            x, flat, in_len, tg_len = collate(crops, batch_texts)
            in_len = torch.minimum(in_len, torch.tensor(x.shape[-1] // 4))
            for g in opt.param_groups:
                g["lr"] = lr_at(spent / budget, step, args.lr)
            logp = model(x).permute(1, 0, 2)
            loss = ctc(logp, flat, in_len, tg_len)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            step += 1
            losses.append(loss.item())
            now = time.time()
            spent += now - t_mark
            t_mark = now
            stop = spent >= budget or (args.max_steps and step >= args.max_steps)
            if now - last_ckpt >= args.ckpt_minutes * 60 or stop:
                m = evaluate(model, val_images, val_texts)
                rec = {"step": step, "epoch": epoch, "minutes": round(spent / 60, 1), "loss": float(np.mean(losses)),
                       "lr": opt.param_groups[0]["lr"], "val_exact": round(m["exact"], 4),
                       "val_cer": round(m["cer"], 4), "pool": len(keep)}
                print(json.dumps(rec), file=log, flush=True)
                print(json.dumps(rec), flush=True)
                losses = []
                checkpoint("ckpt", m)
                last_ckpt = time.time()
                t_mark = time.time()  # evaluation time does not count
            if stop:
                done = True
                break
        else:
            epoch += 1
            m = evaluate(model, val_images, val_texts)
            rec = {"epoch_end": epoch, "step": step, "minutes": round(spent / 60, 1),
                   "val_exact": round(m["exact"], 4), "val_cer": round(m["cer"], 4)}
            print(json.dumps(rec), file=log, flush=True)
            print(json.dumps(rec), flush=True)
            checkpoint("epoch", m)
            t_mark = time.time()
    log.close()



def real_crops(specs: list[str], max_id: int | None = None) -> tuple[list[np.ndarray], list[str]]:
    """Grey crops at the model height (and texts) of the compact labels of ``CSV=IMAGE`` truth files."""
    import cv2
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None
    images, texts = [], []
    for spec in specs:
        csv, image = spec.split("=", 1)
        rgb = np.asarray(Image.open(image).convert("RGB"))
        for label_id, _, text, crop in truth_crops(csv, rgb, pad=0.5):
            if (max_id is not None and label_id >= max_id) or not encode(text):
                continue
            grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
            w = int(min(512, max(8, round(grey.shape[1] * HEIGHT / grey.shape[0]))))
            grey = cv2.resize(grey, (w, HEIGHT), interpolation=cv2.INTER_AREA)
            if math.ceil(w / 4) > len(text):
                images.append(grey)
                texts.append(text)
    return images, texts


#: Truth rows whose notes say the label is not one compact line are not cut into crops.
NOT_COMPACT = ("stacked", "spread", "apart", "two lines", "split", "curved", "cut ", "cut at", "hard to read",
               "unsure reading", "around")


def truth_crops(csv_path: str | Path, image: np.ndarray, snap: bool = True,
                max_em_per_char: float = 2.0, pad: float | None = None) -> list[tuple[int, str, str, np.ndarray]]:
    """Upright crops of the compact labels of a truth CSV (benchmarks/truth/SPEC.md) of ``image`` (RGB):
    (label_id, kind, printed text, crop), cut like :func:`jadis.ocr.reader.crop_label` (margin 0.35 of
    the line height or ``pad``, scaled to 40 px) but turned by the transcribed reading angle.

    Labels longer than ``max_em_per_char`` letter heights per character (words spread along a street)
    are left out. Hand-drawn boxes are often a few pixels off the line of text; with ``snap`` the crop
    moves across the line (by at most 0.6 line height) to the band of darkest ink."""
    import cv2
    import pandas as pd

    from jadis.ocr.reader import PAD, TARGET_HEIGHT
    from jadis.ocr.textsynth import normalise

    rows = pd.read_csv(csv_path)
    out = []
    for r in rows.itertuples():
        notes = str(r.notes) if isinstance(r.notes, str) else ""
        if any(k in notes for k in NOT_COMPACT) or r.x1 <= r.x0 or r.y1 <= r.y0 or not r.height > 0:
            continue
        text = normalise(str(r.printed).replace("^", ""))
        theta = math.radians(float(r.angle))
        c, s = abs(math.cos(theta)), abs(math.sin(theta))
        thick = 1.4 * float(r.height)
        w, h = float(r.x1 - r.x0), float(r.y1 - r.y0)
        length = (w - thick * s) / c if c >= s else (h - thick * c) / s
        length = max(length, thick, w if c > 0.98 else 0.0, h if s > 0.98 else 0.0)
        if c > 0.98:
            thick = max(thick, h)
        elif s > 0.98:
            thick = max(thick, w)
        if length > max_em_per_char * float(r.height) * max(2, len(text)):
            continue
        cx, cy = (r.x0 + r.x1) / 2, (r.y0 + r.y1) / 2
        if snap:
            nx, ny = -math.sin(theta), math.cos(theta)  # across the line, in image coordinates
            rot = cv2.getRotationMatrix2D((cx, cy), float(r.angle), 1.0)
            span = 2.2 * thick
            rot[0, 2] += length / 2 - cx
            rot[1, 2] += span / 2 - cy
            band = cv2.warpAffine(image, rot, (max(1, int(length)), max(1, int(span))),
                                  borderMode=cv2.BORDER_REPLICATE)
            ink = 255.0 - band.mean(axis=(1, 2))
            k = max(1, int(round(thick * 0.7)))
            sums = np.convolve(ink - np.median(ink), np.ones(k), mode="valid")
            shift = (int(np.argmax(sums)) + k / 2) - span / 2
            cx, cy = cx + shift * nx, cy + shift * ny
        margin = (PAD if pad is None else pad) * thick
        out_w, out_h = length + 2 * margin, thick + 2 * margin
        scale = min(4.0, max(1.0, TARGET_HEIGHT / thick))
        rot = cv2.getRotationMatrix2D((cx, cy), float(r.angle), scale)
        rot[0, 2] += out_w * scale / 2 - cx
        rot[1, 2] += out_h * scale / 2 - cy
        crop = cv2.warpAffine(image, rot, (max(1, int(out_w * scale)), max(1, int(out_h * scale))),
                              flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
        out.append((int(r.label_id), str(r.kind), text, crop))
    return out


if __name__ == "__main__":
    main()
