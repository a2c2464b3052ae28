"""Sessions: a visitor's events with no gap longer than the timeout form one visit.

A batch is continued from what the store already holds: each visitor's last stored
event (if within the timeout before the batch) is prepended, so a visit split across
two batches or two imports keeps one session id. A new visit's id is a hash of the
visitor id and the visit's first time stamp."""

from __future__ import annotations


def sql_assign_sessions(timeout_minutes: int) -> str:
    """Engine SQL over temp tables `hits` (visitor_id, ts, …) and `prior`
    (visitor_id, last_ts, session_id); replaces `hits` with a `session_id` column.

    All windows share one ordering (visitor, time), so the engine sorts once per level."""
    window = "PARTITION BY visitor_id ORDER BY ts, is_prior DESC, rid"
    return f"""
    CREATE OR REPLACE TEMP TABLE hits AS
    WITH u AS (
        SELECT h.*, NULL::UBIGINT AS prior_session, 0 AS is_prior, row_number() OVER () AS rid
        FROM hits h
        UNION ALL BY NAME
        SELECT visitor_id, last_ts AS ts, session_id AS prior_session, 1 AS is_prior,
               0 AS rid
        FROM prior
    ), g AS (
        SELECT *,
               CASE WHEN lag(ts) OVER w IS NULL
                      OR ts - lag(ts) OVER w > INTERVAL {int(timeout_minutes)} MINUTE
                    THEN 1 ELSE 0 END AS starts,
               first_value(prior_session) OVER w AS visitor_prior
        FROM u
        WINDOW w AS ({window})
    ), n AS (
        SELECT *,
               sum(starts) OVER w AS visit_no,
               max(CASE WHEN starts = 1 THEN ts END) OVER w AS visit_start
        FROM g
        WINDOW w AS ({window} ROWS UNBOUNDED PRECEDING)
    )
    SELECT * EXCLUDE (prior_session, is_prior, rid, starts, visitor_prior, visit_no,
                      visit_start),
           CASE WHEN visit_no = 1 AND visitor_prior IS NOT NULL THEN visitor_prior
                ELSE hash(visitor_id, visit_start) END AS session_id
    FROM n WHERE is_prior = 0
    """
