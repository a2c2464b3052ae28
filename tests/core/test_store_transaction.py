"""`DuckDBStore.transaction`: several writes commit together or not at all, nested uses
join the outer one, and a log import's own reads see what it has not committed yet
while other connections do not."""

from __future__ import annotations

import threading
from datetime import datetime

import pyarrow as pa
import pytest

from amtspuls.config import Settings
from amtspuls.model import EVENT_SCHEMA
from amtspuls.store import DuckDBStore


def _events(site_id: int, visitor: int, ts: datetime, session: int) -> pa.Table:
    row = {name: None for name in EVENT_SCHEMA.names}
    row.update(site_id=site_id, ts=ts, type="pageview", visitor_id=visitor,
               session_id=session, path="/", source="log")
    return pa.Table.from_pylist([row], schema=EVENT_SCHEMA)


@pytest.fixture
def store(tmp_path):
    s = DuckDBStore(Settings(data_dir=tmp_path))
    yield s
    s.close()


def _count(store: DuckDBStore) -> int:
    cur = store.cursor()
    try:
        return cur.execute("SELECT count(*) FROM events").fetchall()[0][0]
    finally:
        cur.close()


def test_batches_in_one_transaction_commit_together(store):
    site = store.ensure_site("www.musterstadt.de")
    with store.transaction():
        store.write_batch(site, _events(site.id, 1, datetime(2026, 3, 2, 10), 11), None, [])
        with store.transaction():  # nested: joins, does not commit on its own
            store.write_batch(site, _events(site.id, 2, datetime(2026, 3, 2, 11), 12),
                              None, [])
        # another connection sees nothing yet; this one's own reads see both
        assert _count(store) == 0
        prior = store.prior_visits(site.id, pa.table({"visitor_id": pa.array([1, 2, 3],
                                                                             pa.uint64())}),
                                   datetime(2026, 3, 2), datetime(2026, 3, 3))
        assert sorted(prior["visitor_id"].to_pylist()) == [1, 2]
    assert _count(store) == 2


def test_an_error_rolls_back_every_batch_of_the_transaction(store):
    site = store.ensure_site("www.musterstadt.de")
    store.write_batch(site, _events(site.id, 1, datetime(2026, 3, 2, 10), 11), None, [])
    with pytest.raises(RuntimeError, match="disk full"), store.transaction():
        store.write_batch(site, _events(site.id, 2, datetime(2026, 3, 2, 11), 12), None, [])
        store.write_batch(site, _events(site.id, 3, datetime(2026, 3, 2, 12), 13), None, [])
        raise RuntimeError("disk full")
    assert _count(store) == 1
    # the store is usable afterwards: no transaction left open
    store.write_batch(site, _events(site.id, 4, datetime(2026, 3, 2, 13), 14), None, [])
    assert _count(store) == 2


def test_other_threads_wait_for_the_transaction(store):
    """A write from another thread (the live ingest) does not slip into an open import
    transaction, where a rollback would take it along."""
    site = store.ensure_site("www.musterstadt.de")
    started, finished = threading.Event(), threading.Event()

    def other() -> None:
        started.set()
        store.write_batch(site, _events(site.id, 9, datetime(2026, 3, 2, 9), 19), None, [])
        finished.set()

    with pytest.raises(RuntimeError), store.transaction():
        store.write_batch(site, _events(site.id, 1, datetime(2026, 3, 2, 10), 11), None, [])
        thread = threading.Thread(target=other)
        thread.start()
        started.wait(5)
        assert not finished.wait(0.3)  # blocked on the store's lock
        raise RuntimeError("import failed")
    thread.join(5)
    assert finished.is_set()
    assert _count(store) == 1  # the other thread's event, not the rolled-back one
