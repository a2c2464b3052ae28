"""Site-search queries as citizens type them, generated from rules and word lists:
official terms or colloquial words, combined with actions and question templates,
then split/joined compounds, umlauts written out or dropped, keyboard typos."""

from __future__ import annotations

import random
from dataclasses import dataclass

from amtspuls.simulate.city import ServiceInfo
from amtspuls.simulate.config import QueryConfig
from amtspuls.simulate.noise import ASCII_UMLAUTS, DROP_UMLAUTS, has_umlaut, typo

QUESTIONS = (
    "wie beantrage ich {t}", "wo kann ich {t} {a}", "was kostet {t}", "{t} was brauche ich",
    "welche unterlagen für {t}", "wie lange dauert {t}", "wo bekomme ich {t}",
    "brauche ich einen termin für {t}", "wie funktioniert {t}", "{t} wo", "ich brauche {t}",
    "wie {t} {a}", "{t} {a} wie", "wann {t}", "wo ist {t}", "{t} was muss ich beachten",
    "kann man {t} online {a}", "{t}?",
)  # fmt: skip
GENERIC_ACTIONS = ("online", "formular", "antrag", "kosten", "öffnungszeiten", "termin",
                   "unterlagen", "dauer", "gebühren", "pdf", "adresse", "telefon")  # fmt: skip
CITY_SUFFIX = ("musterstadt", "stadt musterstadt", "in musterstadt")

# Compound tails at which people split words ("sperr müll", "personal ausweis").
TAILS = ("ausweis", "pass", "müll", "steuer", "schein", "platz", "amt", "zeugnis", "urkunde",
         "termin", "kalender", "tonne", "geld", "antrag", "anmeldung", "bescheid", "zeiten",
         "erlaubnis", "karte", "stelle", "hof", "parken", "genehmigung", "beitrag", "gebühren",
         "bescheinigung", "zulassung", "kennzeichen", "sperre", "schutz", "wasser", "lärm",
         "fällung", "ablagerung", "wahl", "lokal", "helfer", "plan", "stätte", "beratung")  # fmt: skip

# Things citizens look for that the city site does not offer (intent "none").
MISSING_TOPICS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("schwimmbad", ("öffnungszeiten", "preise", "sauna")), ("hallenbad", ("öffnungszeiten",)),
    ("freibad", ("öffnungszeiten", "eintritt")), ("kfz steuer", ("berechnen", "zahlen")),
    ("jobcenter", ("termin", "adresse", "telefon")), ("rundfunkbeitrag", ("abmelden",)),
    ("gez", ("abmelden", "befreiung")), ("tierheim", ("öffnungszeiten", "hunde")),
    ("kindergeld", ("antrag", "familienkasse")), ("rente", ("beantragen", "beratung")),
    ("elster", ("steuererklärung",)), ("weihnachtsmarkt", ("öffnungszeiten", "2025")),
    ("kirmes", ("termine",)), ("hundewiese", ()), ("stadtplan", ("pdf",)),
    ("wlan", ("kostenlos", "hotspot")), ("parkhaus", ("preise", "innenstadt")),
    ("krankenhaus", ("besuchszeiten",)), ("apotheke notdienst", ()),
    ("finanzamt", ("öffnungszeiten", "telefon")), ("amtsgericht", ("adresse",)),
    ("polizei", ("wache", "anzeige")), ("kino", ("programm",)), ("tafel", ("ausgabe",)),
    ("stadtwerke", ("strom", "störung", "zählerstand")), ("e-scooter", ("parken", "verleih")),
    ("ladesäulen", ("e-auto", "karte")), ("mietspiegel", ("2026",)),
    ("grundbuch", ("auszug",)), ("schornsteinfeger", ("bezirk",)),
    ("kleingarten", ("pachten", "verein")), ("zahnarzt notdienst", ()),
    ("corona test", ()), ("handwerkskammer", ()), ("arbeitsamt", ("termin",)),
    ("kfz versicherung", ()), ("ikea", ("öffnungszeiten",)), ("flohmarkt", ("termine",)),
    ("sauna", ()), ("minigolf", ()), ("eisbahn", ("öffnungszeiten",)),
)  # fmt: skip

MISSING_ENGLISH = ("swimming pool", "tax office", "hospital", "train station", "free wifi")


@dataclass
class Query:
    text: str
    typo: bool
    colloquial: bool
    english: bool
    question: bool


class QueryGenerator:
    def __init__(self, cfg: QueryConfig) -> None:
        self.cfg = cfg

    def for_service(self, s: ServiceInfo, rnd: random.Random) -> Query:
        c = self.cfg
        if s.english and rnd.random() < c.english_rate * 2.5:
            text = rnd.choice(s.english)
            if rnd.random() < 0.2:
                text += " " + rnd.choice(CITY_SUFFIX[:1])
            return self._finish(text, rnd, english=True, colloquial=False, question=False)
        colloquial = bool(s.colloquial) and rnd.random() < c.colloquial_rate
        if colloquial:
            base = rnd.choice(s.colloquial)
        else:
            r = rnd.random()
            base = s.name.lower() if r < 0.12 else rnd.choice(s.terms)
        action = rnd.choice(s.actions) if rnd.random() < 0.8 else rnd.choice(GENERIC_ACTIONS)
        question = rnd.random() < c.question_rate
        if question:
            tmpl = rnd.choice(QUESTIONS)
            text = tmpl.format(t=base, a=action if action not in base else "beantragen")
        elif rnd.random() < c.modifier_rate and action not in base:
            text = f"{base} {action}" if rnd.random() < 0.72 else f"{action} {base}"
        else:
            text = base
        if rnd.random() < c.city_name_rate:
            text += " " + rnd.choice(CITY_SUFFIX)
        return self._finish(text, rnd, english=False, colloquial=colloquial, question=question)

    def for_missing(self, rnd: random.Random) -> Query:
        if rnd.random() < self.cfg.english_rate * 2:
            return self._finish(rnd.choice(MISSING_ENGLISH), rnd, True, False, False)
        topic, mods = rnd.choice(MISSING_TOPICS)
        text = topic
        if mods and rnd.random() < 0.5:
            text = f"{topic} {rnd.choice(mods)}"
        if rnd.random() < self.cfg.city_name_rate * 2:
            text += " musterstadt"
        question = rnd.random() < self.cfg.question_rate
        if question:
            text = rnd.choice(("wo ist {t}", "{t} wo", "wann {t}", "{t}?")).format(t=text)
        return self._finish(text, rnd, english=False, colloquial=True, question=question)

    def _finish(self, text: str, rnd: random.Random, english: bool, colloquial: bool,
                question: bool) -> Query:
        c = self.cfg
        words = text.split()
        r = rnd.random()
        if r < c.compound_split_rate:
            words = [self._split(w, rnd) for w in words]
        elif r < c.compound_split_rate + c.compound_join_rate and len(words) >= 2:
            k = rnd.randrange(len(words) - 1)
            words[k:k + 2] = [words[k] + words[k + 1]]
        text = " ".join(words)
        if has_umlaut(text):
            r = rnd.random()
            if r < c.umlaut_ascii_rate:
                text = text.translate(ASCII_UMLAUTS)
            elif r < c.umlaut_ascii_rate + c.umlaut_drop_rate:
                text = text.translate(DROP_UMLAUTS)
        typoed = False
        if rnd.random() < c.typo_rate:
            n = 2 if rnd.random() < c.double_typo_rate else 1
            for _ in range(n):
                new = self._typo(text, rnd)
                typoed = typoed or new != text
                text = new
        if rnd.random() < c.capitalised_rate:
            text = text[:1].upper() + text[1:]
        return Query(text, typoed, colloquial, english, question)

    @staticmethod
    def _split(word: str, rnd: random.Random) -> str:
        for tail in TAILS:
            if word.endswith(tail) and len(word) - len(tail) >= 3:
                return word[: -len(tail)] + " " + tail
        return word

    @staticmethod
    def _typo(text: str, rnd: random.Random) -> str:
        words = text.split(" ")
        cands = [k for k, w in enumerate(words) if len(w) >= 4]
        if not cands:
            return text
        # Longer words are more likely to be mistyped.
        weights = [len(words[k]) for k in cands]
        k = rnd.choices(cands, weights)[0]
        words[k] = typo(words[k], rnd)
        return " ".join(words)
