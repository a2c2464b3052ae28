"""German text normalisation for search queries and catalogue terms.

One function decides what "the same word" means everywhere (query mapping, topics):
lower case, ß → ss, umlauts folded (ä and ae both become a), hyphens and punctuation
split words, and Snowball German stemming (PyStemmer) so that "verlängern",
"Verlängerung" and "verlaengern" share the key `verlang`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

import Stemmer

_WORD = re.compile(r"[0-9a-zäöüßéèáàóòíìçñ]+")
_VOWELS = set("aeiouy")
_UMLAUTS = str.maketrans({"ä": "a", "ö": "o", "ü": "u", "é": "e", "è": "e", "á": "a", "à": "a",
                          "ó": "o", "ò": "o", "í": "i", "ì": "i", "ç": "c", "ñ": "n"})
_stemmer = Stemmer.Stemmer("german")
# PII placeholders of privacy.pii (`<EMAIL>`, `<PHONE>` …) are not words of the query.
_PLACEHOLDER = re.compile(r"<[a-z_]+>")


@lru_cache(maxsize=500_000)
def fold(word: str) -> str:
    """Spelling-independent form of one lower-case word: umlauts and their ASCII spellings
    (ae, oe, ue after a consonant) become the plain vowel, ß becomes ss."""
    w = word.replace("ß", "ss").translate(_UMLAUTS)
    if "e" not in w or len(w) < 3:
        return w
    out: list[str] = []
    prev = ""
    i = 0
    n = len(w)
    while i < n:
        c = w[i]
        if (c in "aou" and i + 1 < n and w[i + 1] == "e" and prev and prev not in _VOWELS
                and not (c == "u" and prev == "q")):
            out.append(c)
            prev = c
            i += 2
            continue
        out.append(c)
        prev = c
        i += 1
    return "".join(out)


def words(text: str) -> list[str]:
    """Lower-case words of a text (hyphens, slashes and punctuation separate words)."""
    text = _PLACEHOLDER.sub(" ", (text or "").lower())
    return _WORD.findall(text)


@lru_cache(maxsize=200_000)
def key(word: str) -> str:
    """Matching key of one lower-case word: stemmed, then folded."""
    w = word.replace("ß", "ss")
    return fold(_stemmer.stemWord(w))


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """Folded function words (German and English) from data/catalog/stopwords.txt."""
    text = resources.files("amtspuls.data").joinpath("catalog/stopwords.txt").read_text("utf-8")
    out: set[str] = set()
    for line in text.splitlines():
        line = line.strip().lower()
        if line and not line.startswith("#"):
            out.add(fold(line))
    return frozenset(out)


def is_noise(folded: str) -> bool:
    """A token that carries no topic: a function word, a lone letter, or a bare number."""
    return folded in stopwords() or len(folded) < 2 or folded.isdigit()


def content_words(text: str) -> list[tuple[str, str, str]]:
    """(word, folded word, key) of every content word of a text, in order."""
    out = []
    for w in words(text):
        f = fold(w)
        if is_noise(f):
            continue
        out.append((w, f, key(w)))
    return out


def content_tokens(text: str) -> list[tuple[str, str]]:
    """(folded word, key) of every content word of a text, in order."""
    return [(f, k) for _, f, k in content_words(text)]


def normalise(text: str) -> str:
    """Canonical spelling of a whole query (folded words joined by single spaces);
    two queries that differ only in case, umlaut spelling or punctuation are equal."""
    return " ".join(fold(w) for w in words(text))
