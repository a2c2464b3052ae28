"""People acting on early-warning alerts: acknowledge one (someone is on it) or close it.

An acknowledged alert stays acknowledged while the detector keeps reporting it (see
`signals.upsert_alert`) and becomes `closed` when the detector reports its end; a later
recurrence of the same signal (reopened by the detector) is `open` again."""

from __future__ import annotations

import logging
from typing import Any

from amtspuls.errors import UserError
from amtspuls.store.duckdb_store import DuckDBStore
from amtspuls.store.signals import get_alert

log = logging.getLogger("amtspuls.alerts")

# action → (new status, statuses it may come from)
ACTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "acknowledge": ("acknowledged", ("open",)),
    "close": ("closed", ("open", "acknowledged")),
}


def set_alert_status(store: DuckDBStore, alert_id: int, action: str, actor: str | None = None,
                     *, site_id: int | None = None) -> dict[str, Any]:
    """Apply `action` (acknowledge | close) to an alert and return the stored alert.

    With `site_id`, an alert of another site counts as unknown (a role for one site must
    not reach another's alerts by id). Repeating an action is a no-op; anything else not
    allowed from the current status is a `UserError`. The caller writes the audit log."""
    if action not in ACTIONS:
        raise UserError(f"unknown alert action {action!r}; known: {', '.join(ACTIONS)}")
    new, allowed = ACTIONS[action]
    alert = get_alert(store, alert_id)
    if alert is None or (site_id is not None and alert["site_id"] != site_id):
        raise UserError(f"no alert {alert_id}")
    old = alert["status"]
    if old == new:
        return alert
    if old not in allowed:
        raise UserError(f"alert {alert_id} is {old!r}: it cannot be {new!r} now")
    with store._lock:
        cur = store.cursor()
        try:
            # compare-and-set: the watch loop may have changed the status meanwhile
            changed = cur.execute(
                "UPDATE alerts SET status = ?, updated = now() WHERE id = ? AND status = ?",
                [new, alert_id, old]).fetchall()
        finally:
            cur.close()
    if not changed or not changed[0][0]:
        raise UserError(f"alert {alert_id} changed meanwhile; please try again")
    log.info("alert %s: %s -> %s by %s", alert_id, old, new, actor or "unknown")
    out = get_alert(store, alert_id)
    assert out is not None
    return out
