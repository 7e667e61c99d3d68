"""Former street names read from the Ville de Paris "Historique" texts.

The Ville de Paris nomenclature tells a street's past names in prose: "Précédemment, petite rue de
la Planchette ; antérieurement rue Lebobe." or "Dénommée successivement passage Mazas, passage
Tocanier, rue Claude Tillier en 1892." :func:`former_names` takes the street names that follow
such a cue ("précédemment", "anciennement", "appelée", "dénommée successivement"…) in the same
sentence. Streets merely mentioned ("entre la rue X et la rue Y", "a supprimé la rue Z") are not
taken: they follow no cue. Names that are codes ("voie AD/12") are dropped.
"""

from __future__ import annotations

import re

#: Street types that open a name in the texts (longest first where one begins another).
_TYPES = ("petite rue", "grande rue", "cul-de-sac", "rue", "ruelle", "place", "passage", "impasse", "quai",
          "boulevard", "avenue", "cour", "chemin", "allée", "cité", "galerie", "carrefour", "marché", "pont",
          "port", "barrière", "chaussée", "sentier", "square", "villa", "route", "rond-point", "porte", "hameau")
_CUES = re.compile(r"\b(?:précédemment|antérieurement|anciennement|autrefois|successivement|appel[ée]e?s?|"
                   r"s'appelait|nomm[ée]e?|dénomm[ée]e?|porta|portait|dite?)\b", re.IGNORECASE)
_CONNECTORS = {"de", "du", "des", "la", "le", "les", "aux", "au", "à", "en", "sur", "sous", "lès", "d", "l"}
_TOKEN = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿŒœ0-9]+(?:['’-][A-Za-zÀ-ÖØ-öø-ÿŒœ0-9]+)*['’]?|[,;.()]")
_TYPE_WORDS = {t.split()[-1] for t in _TYPES} | {"cul"}


def _sentences(text: str) -> list[str]:
    """Split on full stops that end a sentence (not "déc. min." nor "N°8.")."""
    return [s for s in re.split(r"(?<=[a-zà-ÿ)\d])\.\s+(?=[A-ZÀ-Ö])", text) if s.strip()]


def _capital(token: str) -> bool:
    core = re.sub(r"^[dlDL]['’]", "", token)
    if re.fullmatch(r"[IVXL]+(?:e|ème|er)", core):  # a century ("au XVIIe"), not a name
        return False
    return bool(core) and (core[0].isupper() or core[0].isdigit())


def _names_in(clause: str) -> list[str]:
    """Street names (type + name) in a clause, with a type carried over to elliptic list items
    ("rue du Pavillon du Roi, du Parc Royal")."""
    tokens = _TOKEN.findall(clause)
    out: list[str] = []
    i, last_type = 0, None
    while i < len(tokens):
        low = tokens[i].lower()
        two = f"{low} {tokens[i + 1].lower()}" if i + 1 < len(tokens) else ""
        if two in _TYPES:
            stype, j = two, i + 2
        elif low in _TYPES:
            stype, j = low, i + 1
        elif last_type and tokens[i - 1:i] in ([","], ["ou"]) and (low in _CONNECTORS or low.startswith(("d'", "l'"))):
            stype, j = last_type, i  # an elliptic item: ", du Parc Royal"
        else:
            i += 1
            continue
        words: list[str] = []
        while j < len(tokens):
            tok = tokens[j]
            bare = tok.lower().rstrip("'’")
            name_word = _capital(tok) and not re.search(r"\d", tok)
            if not (name_word or bare in _CONNECTORS):
                break
            words.append(tok)
            j += 1
        while words and not _capital(words[-1]):
            words.pop()
        if words and any(_capital(w) for w in words) and not (j < len(tokens) and "/" in tokens[j]):
            name = re.sub(r"(['’])\s+", r"\1", f"{stype} {' '.join(words)}")
            out.append(name)
            last_type = stype
        i = max(j, i + 1)
    return out


def former_names(text: str | None, current: str = "") -> list[str]:
    """The former names a "Historique" text gives for its street (``current`` left out), in order."""
    if not isinstance(text, str) or not text.strip():
        return []
    found: list[str] = []
    for sentence in _sentences(text):
        cue = _CUES.search(sentence)
        if cue is None:
            continue
        rest = sentence[cue.start():]
        # what follows "entre", "à partir de", "a supprimé" names other streets, not this one's past
        rest = re.split(r"\b(?:entre|à partir d[eu]|a supprimé|a absorbé|réunissait|comprise?s?)\b", rest)[0]
        for name in _names_in(rest):
            if name.lower() != current.lower() and name not in found:
                found.append(name)
    return found
