"""Priority suggestion, 1 (immediate danger) … 4 (low), with every reason that raised or
lowered it. Rules are data (`data/triage/priority_rules.toml`); this module only
interprets them. A suggestion for a clerk, never a final decision."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from amtspuls.analyze.triage.text import normalise


@dataclass
class WordRule:
    id: str
    text: str
    change: int
    regex: re.Pattern
    requires_any: tuple[str, ...] = ()
    unless_any: tuple[str, ...] = ()
    # Plain words and phrases of the rule, also matched with one typing error (two in
    # long words): "Spperitzen" still is "Spritzen".
    fuzzy: tuple[str, ...] = ()


_PLAIN = re.compile(r"^[a-z]+(?: [a-z]+){0,2}$")
_TOKEN = re.compile(r"[a-z]+")
FUZZY_MIN_LEN = 6


def _allowed(word: str) -> int:
    return 2 if len(word) >= 11 else 1


def fuzzy_candidates(tokens: list[str]) -> list[str]:
    """What phrases are compared with: word starts (5–24 letters) and runs of 2–3 words."""
    out: set[str] = set()
    for tok in tokens:
        for n in range(FUZZY_MIN_LEN - 1, min(len(tok), 24) + 1):
            out.add(tok[:n])
    for n in (2, 3):
        for i in range(len(tokens) - n + 1):
            out.add(" ".join(tokens[i:i + n]))
    return sorted(out)


def fuzzy_hit(cands: list[str], phrases: tuple[str, ...]) -> str | None:
    """The first of `cands` that is one of `phrases` with at most one typing error (two in
    long phrases): "spperitzen" still has "spritze" in it."""
    if not phrases or not cands:
        return None
    from rapidfuzz.distance import Levenshtein
    from rapidfuzz.process import cdist

    dist = cdist(phrases, cands, scorer=Levenshtein.distance, score_cutoff=2, workers=1)
    for k, phrase in enumerate(phrases):
        hits = np.flatnonzero(dist[k] <= _allowed(phrase))
        if len(hits):
            return cands[int(hits[0])]
    return None


class PriorityRules:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.default_base = int(doc.get("default_base", 3))
        self.base = {k: int(v) for k, v in doc.get("base", {}).items()}
        self.rules: list[WordRule] = []
        for r in doc.get("rules", []):
            pats = [p for p in r.get("patterns", []) if p]
            if not pats:
                continue
            rx = re.compile(r"(?<![a-z])(?:" + "|".join(f"(?:{p})" for p in pats) + ")")
            self.rules.append(WordRule(
                id=str(r["id"]), text=str(r.get("text", r["id"])), change=int(r.get("change", -1)),
                regex=rx, requires_any=tuple(r.get("requires_any", ())),
                unless_any=tuple(r.get("unless_any", ())),
                fuzzy=tuple(p for p in pats if _PLAIN.match(p) and len(p) >= FUZZY_MIN_LEN),
            ))
        self.duplicates = doc.get("duplicates", {})
        self.waiting = doc.get("waiting", {})
        self.season = list(doc.get("season", []))

    def suggest(
        self,
        service_id: str,
        text: str,
        *,
        group_size: int = 1,
        requested: datetime | None = None,
        overdue: bool = False,
        normalised: str | None = None,
        suggested: str | None = None,
    ) -> tuple[int, list[dict[str, Any]]]:
        """(priority, reasons) for a request of `service_id` with (scrubbed) `text`.
        `suggested`: the model's likely category; when it is more urgent than the routed
        one, its base counts (a citizen may have picked a milder category)."""
        base = self.base.get(service_id, self.default_base)
        reasons: list[dict[str, Any]] = [
            {"rule": "basis", "change": 0, "priority": base,
             "text": f"Grundpriorität der Kategorie {service_id}"}
        ]
        if suggested and suggested != service_id:
            other = self.base.get(suggested, self.default_base)
            if other < base:
                reasons.append({"rule": "kategorie_vorschlag", "change": other - base,
                                "text": f"Der Text passt eher zu {suggested} (Grundpriorität "
                                        f"{other})"})
                base = other
        t = normalised if normalised is not None else normalise(text)
        fired: set[str] = set()
        pending: list[tuple[WordRule, str]] = []
        cands = fuzzy_candidates(_TOKEN.findall(t))
        for rule in self.rules:
            m = rule.regex.search(t)
            hit = m.group(0) if m else fuzzy_hit(cands, rule.fuzzy)
            if hit:
                pending.append((rule, hit))
                fired.add(rule.id)
        change = 0
        for rule, evidence in pending:
            if rule.requires_any and not fired.intersection(rule.requires_any):
                fired.discard(rule.id)
                continue
            if rule.unless_any and fired.intersection(rule.unless_any):
                fired.discard(rule.id)
                continue
            change += rule.change
            reasons.append({"rule": rule.id, "change": rule.change, "text": rule.text,
                            "evidence": evidence})
        dup = self.duplicates
        if dup and group_size >= int(dup.get("min_reports", 3)):
            c = int(dup.get("change", -1))
            change += c
            reasons.append({"rule": dup.get("id", "mehrfach_gemeldet"), "change": c,
                            "text": dup.get("text", "Mehrfach gemeldet"),
                            "evidence": f"{group_size} Meldungen"})
        if overdue and self.waiting:
            c = int(self.waiting.get("change", -1))
            change += c
            reasons.append({"rule": self.waiting.get("id", "wartezeit"), "change": c,
                            "text": self.waiting.get("text", "Wartet zu lange")})
        if requested is not None:
            for s in self.season:
                if service_id not in s.get("services", ()) or requested.month not in s.get(
                        "months", ()):
                    continue
                need = s.get("requires_any", ())
                if need and not fired.intersection(need):
                    continue
                c = int(s.get("change", -1))
                change += c
                reasons.append({"rule": s.get("id", "saison"), "change": c,
                                "text": s.get("text", "Saison")})
        priority = max(1, min(4, base + change))
        return priority, reasons
