"""How people mistype German: keyboard-neighbour typos on a QWERTZ layout, dropped,
swapped and doubled letters, umlauts written as ae/oe/ue or without dots."""

from __future__ import annotations

import random

_ROWS = ("1234567890ß", "qwertzuiopü", "asdfghjklöä", "<yxcvbnm,.-")


def _neighbours() -> dict[str, str]:
    out: dict[str, set[str]] = {}
    for r, row in enumerate(_ROWS):
        for c, ch in enumerate(row):
            near = set()
            for dr in (-1, 0, 1):
                rr = r + dr
                if not 0 <= rr < len(_ROWS):
                    continue
                for dc in (-1, 0, 1) if dr == 0 else (0, 1) if dr < 0 else (-1, 0):
                    cc = c + dc
                    if (dr, dc) != (0, 0) and 0 <= cc < len(_ROWS[rr]):
                        near.add(_ROWS[rr][cc])
            out[ch] = {n for n in near if n.isalpha()}
    return {k: "".join(sorted(v)) for k, v in out.items() if v}


NEIGHBOURS = _neighbours()

ASCII_UMLAUTS = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"}
)
DROP_UMLAUTS = str.maketrans({"ä": "a", "ö": "o", "ü": "u", "ß": "s", "Ä": "A", "Ö": "O", "Ü": "U"})


_UMLAUTS = frozenset("äöüßÄÖÜ")


def has_umlaut(s: str) -> bool:
    return not _UMLAUTS.isdisjoint(s)


def typo(word: str, rnd: random.Random) -> str:
    """One typing error in a word (unchanged if the word is too short)."""
    if len(word) < 4:
        return word
    i = rnd.randrange(1, len(word))
    r = rnd.random()
    ch = word[i]
    low = ch.lower()
    if r < 0.34 and low in NEIGHBOURS:  # hit the key next to it
        rep = rnd.choice(NEIGHBOURS[low])
        return word[:i] + (rep.upper() if ch.isupper() else rep) + word[i + 1 :]
    if r < 0.6:  # dropped letter
        return word[:i] + word[i + 1 :]
    if r < 0.8 and i < len(word) - 1 and word[i] != word[i + 1]:  # swapped letters
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if r < 0.92:  # doubled letter
        return word[:i] + ch + word[i:]
    if low in NEIGHBOURS:  # extra neighbour key
        return word[:i] + rnd.choice(NEIGHBOURS[low]) + word[i:]
    return word[:i] + word[i + 1 :]


def typo_in_text(text: str, rnd: random.Random, min_len: int = 4) -> str:
    """A typo in one random word of at least min_len letters."""
    words = text.split(" ")
    cands = [k for k, w in enumerate(words) if len(w) >= min_len and w.isalpha()]
    if not cands:
        return text
    k = rnd.choice(cands)
    words[k] = typo(words[k], rnd)
    return " ".join(words)
