"""Generated wording for the top recommendations, stored with them (marked generated)."""

from __future__ import annotations

from typing import Any

from amtspuls.config import Settings
from amtspuls.errors import UserError
from amtspuls.recommend.llm import apply_wording, llm_config
from amtspuls.store import DuckDBStore
from amtspuls.store import recommendations as rq

TOP = 10


def add_wording(store: DuckDBStore, settings: Settings, recs: list[dict[str, Any]]
                ) -> list[dict[str, Any]]:
    """Word the first `TOP` recommendations; a failure leaves the deterministic text only."""
    cfg = llm_config(settings)
    if cfg is None:
        raise UserError("no language model configured (set llm_base_url in amtspuls.toml "
                        "or AMTSPULS_LLM_BASE_URL)")
    todo = [r for r in recs[:TOP] if not r.get("wording")]
    apply_wording(todo, cfg, settings.k_anonymity, limit=TOP)
    for r in todo:
        if r.get("wording"):
            rq.save_wording(store, r["id"], r["wording"])
    return recs
