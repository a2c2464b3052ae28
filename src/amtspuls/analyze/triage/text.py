"""German text for triage: personal data removed, then normalised for the models.

`scrub_request_text` is what every stored, analysed or logged request text passes
through: `privacy.pii.scrub` (e-mail, phone, IBAN, tax ids, IPs) plus heuristics for
what a citizen writes about themselves in a report — their name ("Mein Name ist …",
a greeting's signature, "Frau/Herr …"), their own address ("Ich wohne …") and number
plates. The raw text stays only in the access-controlled request record.

`normalise` folds the spellings that mean the same word: case, umlauts and ß written
as ae/oe/ue/ss ("Straßenlaterne" = "Strassenlaterne" = "STRASSENLATERNE"), other
diacritics, digits. `words` gives stemmed word tokens (Snowball German).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from amtspuls.privacy.pii import scrub

NAME = "<NAME>"
ADDRESS = "<ADRESSE>"
PLATE = "<KENNZEICHEN>"

_UPPER = "A-ZÄÖÜ"
_NAME_WORD = rf"[{_UPPER}][a-zäöüßéèáàçğşıńłóøA-ZÄÖÜ'’-]+"
_SIGNOFF = (
    r"(?:mit\s+)?[a-zäöü]{3,14}\s+gr(?:ü|ue|u)(?:ß|ss|s)(?:en|e)?|"
    r"danke\s+und\s+gr(?:ü|ue|u)(?:ß|ss|s)|gr(?:ü|ue|u)(?:ß|ss|s)(?:e)?|mfg|lg|vg|"
    r"viele\s+gr(?:ü|ue|u)(?:ß|ss|s)e|hochachtungsvoll|danke\s+und\s+lg"
)
# A signature: the words after a sign-off up to the end of the text (at most four words,
# no digits, no sentence inside), e.g. "Mit freundlichen Grüßen\nKlaus Müller".
_SIGNATURE = re.compile(
    rf"(?im)(^|[\s,.!])((?:{_SIGNOFF})[,.!]?)([ \t]*\n[ \t]*)"
    r"((?:(?:dr|prof)\.?\s+)?[^\W\d_][\w'’.-]*(?:[ \t]+[^\W\d_][\w'’.-]*){0,3})[ \t.!]*\Z"
)
# A signature in running text: a sign-off and one or two capitalised words.
_SIGNATURE_CAP = re.compile(
    rf"(?m)(^|[\s,.!])((?i:{_SIGNOFF})[,.!]?)([ \t]*\n?[ \t]*)"
    rf"((?:(?:Dr|Prof)\.?\s+)?{_NAME_WORD}(?:[ \t]+{_NAME_WORD})?)"
)
_INTRO_NAME = re.compile(
    rf"(?i)\b(mein\s+name\s+ist|ich\s+hei(?:ß|ss)e|hier\s+schreibt|name:)(\s+)"
    rf"((?:(?:dr|prof)\.?\s+)?[^\W\d_][\w'’-]*(?:\s+(?-i:{_NAME_WORD}))?)"
)
_TITLE_NAME = re.compile(
    rf"\b(Frau|Herrn?|Fr\.|Hr\.|Familie|Fam\.)(\s+)((?:Dr\.\s+|Prof\.\s+)?"
    rf"{_NAME_WORD}(?:\s+{_NAME_WORD})?)"
)
# Words that follow "Frau"/"Herr" without being a name.
_NOT_NAMES = frozenset((
    "bürgermeister", "buergermeister", "oberbürgermeister", "oberbuergermeister", "stadtrat",
    "stadträtin", "nachbar", "nachbarin", "kollege", "kollegin", "polizist", "polizistin",
    "mitarbeiter", "mitarbeiterin", "vorsitzende", "vorsitzender",
))
_OWN_ADDRESS = re.compile(
    r"(?i)\b(ich\s+wohne(?:\s+selbst)?|wir\s+wohnen(?:\s+selbst)?|meine\s+(?:adresse|anschrift)"
    r"(?:\s+(?:ist|lautet))?:?|wohnhaft(?:\s+in)?)(\s+)([^.\n]{3,60}?\d+\s?[a-zA-Z]?)(?=[\s.,;!]|$)"
)
_PLATE = re.compile(
    r"(?<![\w-])[A-ZÄÖÜ]{1,3}[- ][A-Z]{1,2}[ -]?[1-9][0-9]{0,3}[EH]?(?![\w-])"
)


def scrub_request_text(text: str | None) -> str | None:
    """The text without personal data (placeholders instead)."""
    if not text:
        return text
    out = scrub(text) or ""
    out = _INTRO_NAME.sub(lambda m: f"{m.group(1)}{m.group(2)}{NAME}", out)
    out = _TITLE_NAME.sub(_title_name, out)
    out = _SIGNATURE.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3)}{NAME}", out)
    out = _SIGNATURE_CAP.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3)}{NAME}", out)
    out = _OWN_ADDRESS.sub(lambda m: f"{m.group(1)}{m.group(2)}{ADDRESS}", out)
    out = _PLATE.sub(PLATE, out)
    return out


def _title_name(m: re.Match) -> str:
    first = m.group(3).split()[0].lower().rstrip(".")
    if first in _NOT_NAMES:
        return m.group(0)
    return f"{m.group(1)}{m.group(2)}{NAME}"


# ---------------------------------------------------------------------------- normalise

_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "ẞ": "ss"})
_PLACEHOLDER = re.compile(r"<[A-Z]+>")
_URL = re.compile(r"https?://\S+|www\.\S+")
_DIGITS = re.compile(r"\d+")
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"[a-z]{2,}")


def normalise(text: str | None) -> str:
    """Lower case, umlauts and ß folded to ae/oe/ue/ss, other accents dropped, digit runs
    as one "0", placeholders and links removed, white space collapsed."""
    if not text:
        return ""
    t = unicodedata.normalize("NFC", text)
    t = _PLACEHOLDER.sub(" ", t)
    t = _URL.sub(" ", t)
    t = t.lower().translate(_FOLD)
    t = unicodedata.normalize("NFKD", t)
    t = "".join(c for c in t if not unicodedata.combining(c))
    t = _DIGITS.sub("0", t)
    return _SPACE.sub(" ", t).strip()


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("german")


def words(normalised: str) -> list[str]:
    """Stemmed word tokens of a normalised text."""
    return _stemmer().stemWords(_WORD.findall(normalised))


# Street names and house numbers: two reports from one street share them whatever the
# problem, so duplicate detection compares the texts without them.
_PLACE_WORDS = re.compile(
    r"\b(?:(?:am|im|an der|auf dem|in der|zum|zur)\s+)?[a-z-]*(?:strasse|str\b|weg|gasse|allee|"
    r"ring|platz|pfad|damm|ufer|steig|chaussee|markt|anger|kamp|hagen|knapp|hang|bach|sand|kreuz)"
    r"[a-z]*\b\.?|\b(?:nr|hausnummer|hoehe|ecke|einmuendung|kreuzung|gegenueber)\b\.?|\b0[a-z]?\b"
)


def without_places(normalised: str) -> str:
    """A normalised text without street names, house numbers and location words."""
    return _SPACE.sub(" ", _PLACE_WORDS.sub(" ", normalised)).strip()
