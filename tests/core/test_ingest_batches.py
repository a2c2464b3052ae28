"""One ingestor, several batches: lookups kept between batches (URLs, referrers) must
serve new values of a later batch as well as the ones seen before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb

from amtspuls.collect.events import event_row, rows_to_hits
from amtspuls.config import load_settings
from amtspuls.ingest import Ingestor
from amtspuls.store import open_store

UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/130.0.0.0 Safari/537.36")


def _event(i: int, path: str, referrer: str) -> dict:
    ts = datetime(2026, 3, 2, 9, 0, tzinfo=UTC) + timedelta(minutes=i)
    return event_row({"ts": ts.isoformat(), "ip": f"198.51.{i}.7", "ua": UA, "type": "pageview",
                      "url": f"https://www.example-stadt.de{path}", "referrer": referrer})


def test_later_batches_get_their_own_urls_and_referrers(tmp_path):
    settings = load_settings(tmp_path / "data")
    store = open_store(settings)
    site = store.ensure_site("www.example-stadt.de")
    ingestor = Ingestor(settings, store, site, source="events")
    batches = [
        [("/a", "https://www.google.de/"), ("/b", "")],
        [("/a", "https://www.google.de/"), ("/c", "https://www.bing.com/"), ("/d", "")],
        [("/e", "https://www.example-stadt.de/a")],
    ]
    i = 0
    for batch in batches:
        rows = []
        for path, ref in batch:
            rows.append(_event(i, path, ref))
            i += 1
        ingestor.process(rows_to_hits(rows))
    ingestor.close()
    store.close()
    con = duckdb.connect(str(settings.db_path), read_only=True)
    got = con.execute(
        "SELECT path, referrer_class, referrer_host FROM events ORDER BY ts").fetchall()
    assert got == [
        ("/a", "search", "www.google.de"),
        ("/b", "direct", None),
        ("/a", "search", "www.google.de"),
        ("/c", "search", "www.bing.com"),
        ("/d", "direct", None),
        ("/e", "internal", "www.example-stadt.de"),
    ]
