"""The rule library: each module contributes `RULES`, functions Context → [Finding]."""

from __future__ import annotations

from amtspuls.recommend.rules import content, demand, forms, requests, search

RULES = (*search.RULES, *forms.RULES, *content.RULES, *demand.RULES, *requests.RULES)
