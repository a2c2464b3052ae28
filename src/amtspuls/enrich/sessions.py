"""Sessions: a visitor's events with no gap longer than the timeout form one visit.

A batch is continued from what the store already holds: each visitor's last stored
event (if within the timeout before the batch) is prepended, so a visit split across
two batches or two imports keeps one session id."""

from __future__ import annotations


def sql_assign_sessions(timeout_minutes: int) -> str:
    """Engine SQL over temp tables `hits` (visitor_id, ts, …) and `prior`
    (visitor_id, last_ts, session_id); produces `hits` with `session_id`."""
    return f"""
    CREATE OR REPLACE TEMP TABLE hits AS
    WITH u AS (
        SELECT h.*, NULL::UBIGINT AS prior_session, 0 AS is_prior, row_number() OVER () AS rid
        FROM hits h
        UNION ALL BY NAME
        SELECT visitor_id, last_ts AS ts, session_id AS prior_session, 1 AS is_prior,
               NULL AS rid
        FROM prior
    ), g AS (
        SELECT *,
               CASE WHEN lag(ts) OVER w IS NULL
                      OR ts - lag(ts) OVER w > INTERVAL {int(timeout_minutes)} MINUTE
                    THEN 1 ELSE 0 END AS starts
        FROM u
        WINDOW w AS (PARTITION BY visitor_id ORDER BY ts, is_prior DESC, rid)
    ), n AS (
        SELECT *, sum(starts) OVER (PARTITION BY visitor_id ORDER BY ts, is_prior DESC, rid
                                    ROWS UNBOUNDED PRECEDING) AS visit_no
        FROM g
    ), s AS (
        SELECT *,
               coalesce(
                   max(prior_session) OVER v,
                   hash(visitor_id, min(ts) OVER v)
               ) AS session_id
        FROM n
        WINDOW v AS (PARTITION BY visitor_id, visit_no)
    )
    SELECT * EXCLUDE (prior_session, is_prior, rid, starts, visit_no)
    FROM s WHERE is_prior = 0
    """
