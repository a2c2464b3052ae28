"""Site-search queries as citizens type them, generated from rules and word lists:
official terms or colloquial words, combined with actions and question templates,
then split/joined compounds, umlauts written out or dropped, keyboard typos."""

from __future__ import annotations

import random
from dataclasses import dataclass

from amtspuls.simulate.city import ServiceInfo
from amtspuls.simulate.config import QueryConfig
from amtspuls.simulate.data import load
from amtspuls.simulate.noise import ASCII_UMLAUTS, DROP_UMLAUTS, has_umlaut, typo


def _words() -> dict:
    return load("words.toml")["queries"]


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
        w = _words()
        self.questions: list[str] = w["questions"]
        self.generic_actions: list[str] = w["generic_actions"]
        self.city_suffix: list[str] = w["city_suffix"]
        self.tails: list[str] = w["tails"]
        self.missing: list[tuple[str, list[str]]] = [(t, m) for t, m in w["missing"]]
        self.missing_english: list[str] = w["missing_english"]

    def for_service(self, s: ServiceInfo, rnd: random.Random) -> Query:
        c = self.cfg
        if s.english and rnd.random() < c.english_rate * 2.5:
            text = rnd.choice(s.english)
            if rnd.random() < 0.2:
                text += " " + self.city_suffix[0]
            return self._finish(text, rnd, english=True, colloquial=False, question=False)
        colloquial = bool(s.colloquial) and rnd.random() < c.colloquial_rate
        if colloquial:
            base = rnd.choice(s.colloquial)
        else:
            r = rnd.random()
            base = s.name.lower() if r < 0.12 else rnd.choice(s.terms)
        action = rnd.choice(s.actions) if rnd.random() < 0.8 else rnd.choice(self.generic_actions)
        question = rnd.random() < c.question_rate
        if question:
            tmpl = rnd.choice(self.questions)
            text = tmpl.format(t=base, a=action if action not in base else "beantragen")
        elif rnd.random() < c.modifier_rate and action not in base:
            text = f"{base} {action}" if rnd.random() < 0.72 else f"{action} {base}"
        else:
            text = base
        if rnd.random() < c.city_name_rate:
            text += " " + rnd.choice(self.city_suffix)
        return self._finish(text, rnd, english=False, colloquial=colloquial, question=question)

    def for_missing(self, rnd: random.Random) -> Query:
        if rnd.random() < self.cfg.english_rate * 2:
            return self._finish(rnd.choice(self.missing_english), rnd, True, False, False)
        topic, mods = rnd.choice(self.missing)
        text = topic
        if mods and rnd.random() < 0.5:
            text = f"{topic} {rnd.choice(mods)}"
        if rnd.random() < self.cfg.city_name_rate * 2:
            text += " musterstadt"
        question = rnd.random() < self.cfg.question_rate
        if question:
            text = rnd.choice(("wo ist {t}", "{t} wo", "wann {t}", "{t}?")).format(t=text)
        return self._finish(text, rnd, english=False, colloquial=True, question=question)

    def _finish(
        self, text: str, rnd: random.Random, english: bool, colloquial: bool, question: bool
    ) -> Query:
        c = self.cfg
        words = text.split()
        r = rnd.random()
        if r < c.compound_split_rate:
            words = [self._split(w, rnd) for w in words]
        elif r < c.compound_split_rate + c.compound_join_rate and len(words) >= 2:
            k = rnd.randrange(len(words) - 1)
            words[k : k + 2] = [words[k] + words[k + 1]]
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

    def _split(self, word: str, rnd: random.Random) -> str:
        for tail in self.tails:
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
