"""Retention: raw events expire after the configured months; daily aggregates stay for
year-on-year reports; visitor-hash salts expire after 48 hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from amtspuls.config import Settings
from amtspuls.privacy.salts import SaltStore
from amtspuls.store import DuckDBStore
from amtspuls.store.requests_store import RequestStore


def cutoff_for(months: int, now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    year, month = now.year, now.month - months
    while month <= 0:
        month += 12
        year -= 1
    day = min(now.day, 28)
    return datetime(year, month, day, tzinfo=UTC).replace(tzinfo=None)


def apply_retention(settings: Settings, store: DuckDBStore, now: datetime | None = None) -> dict:
    cutoff = cutoff_for(settings.retention_months, now)
    deleted = store.delete_events_before(cutoff)
    salts = SaltStore(settings.salt_dir, settings.salt_keep_hours).purge()
    # Service requests: raw texts and contact data expire; scrubbed text and triage stay.
    t = now or datetime.now(UTC)
    t = t.astimezone(UTC).replace(tzinfo=None) if t.tzinfo else t
    raw_cutoff = t - timedelta(days=settings.request_raw_retention_days)
    texts = RequestStore(store).delete_raw_before(raw_cutoff)
    return {**deleted, "cutoff": cutoff.isoformat(), "salts_deleted": salts,
            "request_texts_deleted": texts}
