"""Sessions: a visitor's events with no gap longer than the timeout form one visit.

A batch is continued from what the store already holds: each visitor's last stored
event (if within the timeout before the batch) is prepended, so a visit split across
two batches or two imports keeps one session id. A new visit's id is a hash of the
visitor id and the visit's first time stamp."""

from __future__ import annotations


def sql_assign_sessions(timeout_minutes: int, source: str = "hits") -> str:
    """Engine SQL over table `source` (visitor_id, ts, …) and temp table `prior`
    (visitor_id, last_ts, session_id); (re)creates temp table `hits`: the rows of
    `source` with a `session_id` column.

    Sessions are found on a narrow copy (visitor, time, row id) in one ordering of all
    rows, without a partition per visitor: a row starts a visit when the visitor
    changes or the gap to the previous row exceeds the timeout, and every row takes the
    id of the last start at or before it. The visitor's first visit keeps the stored
    session id when the visitor's first row is the stored event. Only the ids are then
    joined back to the wide rows."""
    order = "ORDER BY visitor_id, ts, is_prior DESC, rid"
    return f"""
    CREATE OR REPLACE TEMP TABLE session_ids AS
    WITH u AS (
        SELECT visitor_id, ts, NULL::UBIGINT AS prior_session, 0 AS is_prior, rowid AS rid
        FROM {source}
        UNION ALL
        SELECT visitor_id, last_ts AS ts, session_id AS prior_session, 1 AS is_prior,
               -1 AS rid
        FROM prior
    ), o AS (
        SELECT *,
               lag(visitor_id) OVER w IS DISTINCT FROM visitor_id AS new_visitor,
               lag(ts) OVER w AS prev_ts
        FROM u
        WINDOW w AS ({order})
    ), s AS (
        SELECT *,
               CASE WHEN new_visitor OR ts - prev_ts > INTERVAL {int(timeout_minutes)} MINUTE
                    THEN CASE WHEN new_visitor AND is_prior = 1 AND prior_session IS NOT NULL
                                   THEN prior_session
                              ELSE hash(visitor_id, ts) END
               END AS starts_session
        FROM o
    )
    SELECT rid, session_id FROM (
        SELECT rid, is_prior,
               last_value(starts_session IGNORE NULLS) OVER ({order} ROWS UNBOUNDED PRECEDING)
                   AS session_id
        FROM s
    ) WHERE is_prior = 0;
    CREATE OR REPLACE TEMP TABLE hits AS
    SELECT h.*, s.session_id FROM {source} h JOIN session_ids s ON h.rowid = s.rid;
    DROP TABLE session_ids;
    """
