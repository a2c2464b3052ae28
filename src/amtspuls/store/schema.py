"""Versioned schema migrations. Append only: a released migration is never edited."""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "sites, events, sessions, imports, daily aggregates",
        """
        CREATE TABLE sites (
            id INTEGER PRIMARY KEY,
            domain VARCHAR NOT NULL UNIQUE,
            timezone VARCHAR NOT NULL DEFAULT 'Europe/Berlin',
            settings JSON,
            created TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
        CREATE TABLE events (
            site_id INTEGER NOT NULL,
            ts TIMESTAMP NOT NULL,
            type VARCHAR NOT NULL,
            visitor_id UBIGINT NOT NULL,
            session_id UBIGINT NOT NULL,
            path VARCHAR,
            query VARCHAR,
            title VARCHAR,
            referrer_class VARCHAR,
            referrer_host VARCHAR,
            referrer_path VARCHAR,
            campaign VARCHAR,
            search_query VARCHAR,
            search_results INTEGER,
            search_category VARCHAR,
            target VARCHAR,
            form VARCHAR,
            field VARCHAR,
            event_category VARCHAR,
            event_action VARCHAR,
            event_name VARCHAR,
            event_value DOUBLE,
            engagement_ms BIGINT,
            status INTEGER,
            bytes BIGINT,
            device VARCHAR,
            browser VARCHAR,
            browser_version VARCHAR,
            os VARCHAR,
            service_id VARCHAR,
            source VARCHAR
        );
        CREATE TABLE sessions (
            session_id UBIGINT NOT NULL,
            site_id INTEGER NOT NULL,
            visitor_id UBIGINT NOT NULL,
            start_ts TIMESTAMP NOT NULL,
            end_ts TIMESTAMP NOT NULL,
            duration_s DOUBLE NOT NULL,
            pageviews INTEGER NOT NULL,
            page_actions INTEGER NOT NULL,
            events INTEGER NOT NULL,
            searches INTEGER NOT NULL,
            entry_path VARCHAR,
            exit_path VARCHAR,
            referrer_class VARCHAR,
            referrer_host VARCHAR,
            campaign VARCHAR,
            device VARCHAR,
            browser VARCHAR,
            os VARCHAR,
            engagement_ms BIGINT,
            is_bounce BOOLEAN NOT NULL
        );
        -- Resumable imports: one row per file content (fingerprint), lines done so far.
        CREATE TABLE imports (
            fingerprint VARCHAR PRIMARY KEY,
            site_id INTEGER NOT NULL,
            path VARCHAR NOT NULL,
            format VARCHAR NOT NULL,
            lines_done BIGINT NOT NULL,
            counts JSON,
            started TIMESTAMP NOT NULL DEFAULT current_timestamp,
            updated TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
        -- Lines that were counted but not stored (bots, static, …), per site, day and reason,
        -- so that bot shares stay reportable without keeping the lines.
        CREATE TABLE ingest_counts (
            site_id INTEGER NOT NULL,
            day DATE NOT NULL,
            source VARCHAR NOT NULL,
            reason VARCHAR NOT NULL,
            n BIGINT NOT NULL
        );
        -- Kept after raw events expire (retention), for year-on-year reports.
        CREATE TABLE daily_pages (
            site_id INTEGER NOT NULL,
            day DATE NOT NULL,
            path VARCHAR NOT NULL,
            service_id VARCHAR,
            pageviews BIGINT NOT NULL,
            visitors BIGINT NOT NULL
        );
        CREATE TABLE daily_services (
            site_id INTEGER NOT NULL,
            day DATE NOT NULL,
            service_id VARCHAR NOT NULL,
            visits BIGINT NOT NULL,
            pageviews BIGINT NOT NULL,
            searches BIGINT NOT NULL,
            downloads BIGINT NOT NULL,
            form_starts BIGINT NOT NULL,
            form_submits BIGINT NOT NULL,
            form_errors BIGINT NOT NULL
        );
        -- Days whose daily aggregates must be recomputed (written with each batch).
        CREATE TABLE dirty_days (
            site_id INTEGER NOT NULL,
            day DATE NOT NULL
        );
        CREATE TABLE daily_site (
            site_id INTEGER NOT NULL,
            day DATE NOT NULL,
            visitors BIGINT NOT NULL,
            visits BIGINT NOT NULL,
            pageviews BIGINT NOT NULL,
            bounces BIGINT NOT NULL,
            duration_s DOUBLE NOT NULL
        );
        """,
    ),
]
