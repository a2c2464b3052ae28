"""k-anonymity for anything shown to people: a row that describes fewer than k distinct
visitors is not shown on its own; its counts are folded into one remainder row."""

from __future__ import annotations

from typing import Any

REMAINDER_LABEL = "(weitere, je < k Besucher)"


def fold_rows(rows: list[dict[str, Any]], k: int, label_key: str,
              count_keys: tuple[str, ...], visitors_key: str = "visitors") -> list[dict[str, Any]]:
    """Keep rows with at least k visitors; sum the others into one remainder row.

    The remainder itself is shown only if it covers at least k visitors in total (its
    visitor count is an upper bound: the same visitor may appear in several rows)."""
    if k <= 1:
        return rows
    kept = [r for r in rows if (r.get(visitors_key) or 0) >= k]
    hidden = [r for r in rows if (r.get(visitors_key) or 0) < k]
    if hidden:
        total_visitors = sum(r.get(visitors_key) or 0 for r in hidden)
        if total_visitors >= k:
            rest: dict[str, Any] = {key: None for key in rows[0]}
            rest[label_key] = REMAINDER_LABEL
            for key in count_keys:
                rest[key] = sum(r.get(key) or 0 for r in hidden)
            rest[visitors_key] = None
            rest["folded_rows"] = len(hidden)
            kept.append(rest)
    return kept


def suppress_small(value: int, k: int) -> int | None:
    """A single count below k that describes individuals is shown as None."""
    return value if value >= k or value == 0 else None
