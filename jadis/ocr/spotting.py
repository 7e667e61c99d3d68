"""How well a known name explains what the recogniser saw: CTC word spotting in its output.

The recogniser's greedy reading throws away what it hesitated over: "Vareau" was perhaps 40 %
"Vaneau" at the third letter, "Ptrrones" 30 % "Perronet". Comparing strings cannot know that;
the recogniser's per-step probabilities can. For a candidate name, :func:`spot` finds the best CTC
path that spells it somewhere in the steps of a reading (free before and after it: the street type,
a particle, a house number may be printed around it) and returns what that path costs against the
recogniser's own best path over the same steps, in nats (0: the recogniser's first choice; -2.3 per
letter it thought ten times less likely).

Written here rather than taken from a library: CTC libraries (torch's ``ctc_loss``, ``ctcdecode``)
score a whole line against a whole transcription and sum over paths; spotting a name inside a
reading with a word boundary around it needs the free prefix and suffix of this Viterbi pass, and
it runs on the 38 letter groups below, not on the model's 18 000 classes.

The steps are kept as log-probabilities of letter *groups*: case and accents merged ("e", "E",
"é", "É" are one group: map lettering mixes capitals and small capitals, and the recogniser's accents
are unreliable), one group per digit, one for separators (space, hyphen, apostrophe, full stop), and
the CTC blank.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import numpy as np

LETTERS = "abcdefghijklmnopqrstuvwxyz"
DIGITS = "0123456789"
SEPARATORS = " .,'’-()&/:;"
#: Group 0 is the CTC blank; then letters, digits, the separator group.
GROUPS = ("<blank>", *LETTERS, *DIGITS, "<sep>")
BLANK_GROUP = 0
SEP_GROUP = len(GROUPS) - 1
#: Virtual groups used inside targets: a word break (a separator or nothing printed: spaces are
#: often dropped) and a word boundary at the ends of the name (a separator, else a letter-to-letter
#: step at :data:`MISSING_BOUNDARY` nats).
WORD_BREAK = len(GROUPS)
BOUNDARY = len(GROUPS) + 1
#: Cost of a name boundary where the recogniser saw no separator ("Ruede|Grenelle").
MISSING_BOUNDARY = -2.0
_NEG = -1e9


def group_of(char: str) -> int | None:
    """The letter group of one character (None for characters outside every group)."""
    if char in SEPARATORS:
        return SEP_GROUP
    low = char.lower()
    if low in ("œ", "æ"):
        low = low[0].replace("œ", "o").replace("æ", "a")
    base = unicodedata.normalize("NFKD", low)[:1]
    if base in LETTERS:
        return 1 + LETTERS.index(base)
    if base in DIGITS:
        return 1 + len(LETTERS) + DIGITS.index(base)
    return None


def group_matrix(classes: Sequence[str], mask: np.ndarray) -> np.ndarray:
    """(classes, groups) 0/1 matrix: which group each allowed class of a model adds to."""
    out = np.zeros((len(classes), len(GROUPS)), np.float32)
    out[0, BLANK_GROUP] = 1.0
    for k, char in enumerate(classes):
        if k == 0 or not mask[k]:
            continue
        g = group_of(char)
        if g is not None:
            out[k, g] = 1.0
    return out


def grouped_log_probs(probs: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """(steps, groups) log-probabilities of the groups, renormalised over the allowed classes."""
    p = probs @ groups
    p /= np.maximum(p.sum(axis=1, keepdims=True), 1e-12)
    return np.log(np.maximum(p, 1e-9)).astype(np.float16)


def join_frames(frames: Sequence[np.ndarray]) -> np.ndarray:
    """The steps of several pieces read one after another, a separator step between them."""
    sep = np.full((1, len(GROUPS)), -20.0, np.float16)
    sep[0, SEP_GROUP] = 0.0
    parts: list[np.ndarray] = []
    for k, f in enumerate(frames):
        if k:
            parts.append(sep)
        parts.append(f)
    return np.concatenate(parts) if parts else np.zeros((0, len(GROUPS)), np.float16)


def target(text: str) -> list[int]:
    """The groups of a name to spot: letters and digits, a :data:`WORD_BREAK` between words,
    a :data:`BOUNDARY` at both ends."""
    out = [BOUNDARY]
    for char in text:
        g = group_of(char)
        if g is None:
            continue
        if g == SEP_GROUP:
            if out[-1] not in (BOUNDARY, WORD_BREAK):
                out.append(WORD_BREAK)
        else:
            out.append(g)
    if out[-1] == WORD_BREAK:
        out.pop()
    out.append(BOUNDARY)
    return out


def _costs(frames: np.ndarray) -> np.ndarray:
    """Per step, each group's log-probability minus the best one's (<= 0), plus the two virtual
    groups' columns."""
    f = frames.astype(np.float32)
    c = f - f.max(axis=1, keepdims=True)
    brk = np.maximum(c[:, SEP_GROUP], c[:, BLANK_GROUP])
    edge = np.maximum(c[:, SEP_GROUP], MISSING_BOUNDARY + c[:, BLANK_GROUP])
    return np.concatenate([c, brk[:, None], edge[:, None]], axis=1)


def spot(frames: np.ndarray, targets: Sequence[Sequence[int]]) -> np.ndarray:
    """For each target (:func:`target`), the cost in nats (<= 0) of the best CTC path that spells it
    somewhere in ``frames`` (steps, groups), against the recogniser's best path on the same steps.

    The target's two :data:`BOUNDARY` groups may also fall before the first step or after the last
    (the reading starts or ends with the name). -inf where a target does not fit in the steps.
    """
    n = len(targets)
    out = np.full(n, -np.inf)
    steps = len(frames)
    if n == 0 or steps == 0:
        return out
    costs = _costs(frames)
    # extended CTC states: blank between labels; the boundaries are labels that may be skipped
    # at the start (entering at the first letter on step 0) and the end (leaving after the last
    # letter on the last step)
    ext_len = max(2 * len(t) + 1 for t in targets)
    ext = np.full((n, ext_len), BLANK_GROUP, np.int64)
    valid = np.zeros((n, ext_len), bool)
    skip = np.zeros((n, ext_len), bool)
    last = np.zeros(n, np.int64)
    for i, t in enumerate(targets):
        e = [BLANK_GROUP]
        for g in t:
            e += [g, BLANK_GROUP]
        m = len(e)
        ext[i, :m] = e
        valid[i, :m] = True
        last[i] = m - 1
        for s in range(2, m):
            skip[i, s] = e[s] != BLANK_GROUP and e[s] != e[s - 2]
    rows = np.arange(n)
    # entry: the free prefix leads into the opening boundary (state 1) on any step, or straight
    # into the first letter (state 3) / the blank before it (state 2) on step 0
    alpha = np.full((n, ext_len), _NEG, np.float32)
    best = np.full(n, _NEG, np.float32)
    for step in range(steps):
        emit = costs[step][ext]
        prev = alpha
        cand = prev.copy()
        cand[:, 1:] = np.maximum(cand[:, 1:], prev[:, :-1])
        two = np.full_like(prev, _NEG)
        two[:, 2:] = prev[:, :-2]
        cand = np.where(skip, np.maximum(cand, two), cand)
        cand[:, 0] = np.maximum(cand[:, 0], 0.0)
        cand[:, 1] = np.maximum(cand[:, 1], 0.0)
        if step == 0:
            cand[:, 2] = np.maximum(cand[:, 2], 0.0)
            cand[:, 3] = np.maximum(cand[:, 3], 0.0)
        alpha = np.where(valid, cand + emit, _NEG)
        # exit: after the closing boundary (or its blank) on any step, or after the last letter
        # (or the blank after it) on the last step
        done = np.maximum(alpha[rows, last], alpha[rows, last - 1])
        if step == steps - 1:
            done = np.maximum(done, np.maximum(alpha[rows, last - 2], alpha[rows, last - 3]))
        best = np.maximum(best, done)
    out = best.astype(float)
    out[out <= _NEG / 2] = -np.inf
    return out


def spelling(name: str) -> str:
    """What a map prints of a name after its street type and leading particles:
    "Rue de l'Université" -> "Université", "Rue du Pré aux Clercs" -> "Pré aux Clercs"."""
    from jadis.geocode.normalize import STREET_TYPES, TYPE_ABBREVIATIONS

    words = name.replace("’", "'").split()
    k = 0
    if words and (words[0].lower().rstrip(".") in STREET_TYPES or words[0].lower().rstrip(".") in TYPE_ABBREVIATIONS):
        k = 1
    rest = " ".join(words[k:])
    while True:
        low = rest.lower()
        for p in ("de la ", "de l'", "d'", "l'", "de ", "du ", "des ", "la ", "le ", "les ", "aux ", "au "):
            if low.startswith(p) and len(rest) > len(p) + 2:
                rest = rest[len(p):]
                break
        else:
            break
    return rest.strip()


def variants(spelled: str) -> list[str]:
    """Ways a map abbreviates a name: "Saint-Germain" -> also "St Germain"."""
    out = [spelled]
    low = spelled.lower()
    for full, short in (("sainte", "ste"), ("saints", "sts"), ("saint", "st")):
        if full in low:
            alt = re.sub(rf"\b{full}\b", lambda m, s=short: s.capitalize() if m.group(0)[0].isupper() else s,
                         spelled, flags=re.IGNORECASE)
            if alt != spelled and alt not in out:
                out.append(alt)
    return out
