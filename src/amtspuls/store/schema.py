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
            searches BIGINT NOT NULL,
            downloads BIGINT NOT NULL,
            not_found BIGINT NOT NULL,
            bounces BIGINT NOT NULL,
            duration_s DOUBLE NOT NULL,
            page_actions BIGINT NOT NULL
        );
        -- Per day and dimension (entry page, referrer, device, download, 404, hour …):
        -- what the reports read, so that they stay fast on months of raw events.
        -- Visitor ids change daily, so visitors over several days are a sum of days.
        CREATE TABLE daily_dims (
            site_id INTEGER NOT NULL,
            day DATE NOT NULL,
            dim VARCHAR NOT NULL,
            key VARCHAR NOT NULL,
            key2 VARCHAR NOT NULL,
            visits BIGINT NOT NULL,
            visitors BIGINT NOT NULL,
            hits BIGINT NOT NULL,
            bounces BIGINT NOT NULL,
            internal_hits BIGINT NOT NULL,
            pageviews BIGINT NOT NULL,
            searches BIGINT NOT NULL
        );
        """,
    ),
    (
        2,
        "early warning: detector state, alerts and their deliveries",
        """
        -- One row per site: the streaming detector's baseline state (numpy arrays,
        -- compressed) and the minute up to which events have been scored.
        CREATE TABLE warning_state (
            site_id INTEGER PRIMARY KEY,
            last_minute BIGINT NOT NULL,
            version INTEGER NOT NULL,
            state BLOB NOT NULL,
            updated TIMESTAMP NOT NULL DEFAULT current_timestamp
        );
        CREATE SEQUENCE alert_ids START 1;
        CREATE TABLE alerts (
            id BIGINT PRIMARY KEY,
            site_id INTEGER NOT NULL,
            uid VARCHAR NOT NULL,
            signal VARCHAR NOT NULL,
            service_id VARCHAR NOT NULL,
            key VARCHAR NOT NULL,
            direction VARCHAR NOT NULL,
            start_ts TIMESTAMP NOT NULL,
            end_ts TIMESTAMP NOT NULL,
            detected_ts TIMESTAMP NOT NULL,
            observed DOUBLE NOT NULL,
            expected DOUBLE NOT NULL,
            score DOUBLE NOT NULL,
            severity VARCHAR NOT NULL,
            status VARCHAR NOT NULL,
            evidence JSON,
            updated TIMESTAMP NOT NULL DEFAULT current_timestamp,
            UNIQUE (site_id, uid)
        );
        -- One row per alert and channel target: an outbox retried with backoff, so that
        -- a receiver that is down does not lose the alert.
        CREATE TABLE alert_deliveries (
            alert_id BIGINT NOT NULL,
            channel VARCHAR NOT NULL,
            target VARCHAR NOT NULL,
            state VARCHAR NOT NULL,
            attempts INTEGER NOT NULL,
            next_attempt TIMESTAMP,
            last_error VARCHAR,
            delivered_ts TIMESTAMP,
            created TIMESTAMP NOT NULL DEFAULT current_timestamp,
            PRIMARY KEY (alert_id, channel, target)
        );
        """,
    ),
    (
        3,
        "service requests (Open311), triage suggestions, reviews, audit log, models, API keys",
        """
        CREATE TABLE service_requests (
            site_id INTEGER NOT NULL,
            service_request_id VARCHAR NOT NULL,
            token VARCHAR NOT NULL,
            service_code VARCHAR,             -- as given by the citizen (may be null)
            service_id VARCHAR NOT NULL,      -- effective: confirmed, given or suggested
            external_category VARCHAR,        -- a foreign label from an import (Konstanz …)
            description VARCHAR,              -- scrubbed: the only text used for analytics
            description_raw VARCHAR,          -- raw text: review API only, until retention
            contact JSON,                     -- e-mail, names, phone of a POST: until retention
            attributes JSON,
            lat DOUBLE,
            long DOUBLE,
            address_string VARCHAR,
            zipcode VARCHAR,
            media_url VARCHAR,
            status VARCHAR NOT NULL DEFAULT 'open',
            status_notes VARCHAR,
            agency_responsible VARCHAR,
            requested_datetime TIMESTAMP NOT NULL,
            updated_datetime TIMESTAMP,
            expected_datetime TIMESTAMP,
            closed_datetime TIMESTAMP,
            source VARCHAR NOT NULL,
            raw_deleted BOOLEAN NOT NULL DEFAULT false,
            created TIMESTAMP NOT NULL DEFAULT current_timestamp,
            PRIMARY KEY (site_id, service_request_id)
        );
        CREATE TABLE request_triage (
            site_id INTEGER NOT NULL,
            service_request_id VARCHAR NOT NULL,
            model_version VARCHAR NOT NULL,
            category JSON NOT NULL,
            priority INTEGER NOT NULL,
            priority_reasons JSON NOT NULL,
            duplicate_group VARCHAR,
            duplicates JSON NOT NULL,
            department VARCHAR,
            computed TIMESTAMP NOT NULL DEFAULT current_timestamp,
            PRIMARY KEY (site_id, service_request_id)
        );
        -- Every automatic suggestion with its inputs and model version (EU AI Act:
        -- transparency, human oversight). Inputs hold scrubbed text only.
        CREATE TABLE triage_log (
            site_id INTEGER NOT NULL,
            service_request_id VARCHAR NOT NULL,
            ts TIMESTAMP NOT NULL DEFAULT current_timestamp,
            model_version VARCHAR NOT NULL,
            inputs JSON NOT NULL,
            suggestion JSON NOT NULL
        );
        -- A clerk's confirmation or correction; corrections train the next model.
        CREATE TABLE request_reviews (
            site_id INTEGER NOT NULL,
            service_request_id VARCHAR NOT NULL,
            ts TIMESTAMP NOT NULL DEFAULT current_timestamp,
            reviewer VARCHAR,
            decision VARCHAR NOT NULL,        -- confirm | correct
            service_id VARCHAR,
            priority INTEGER,
            duplicate_of VARCHAR,
            note VARCHAR,
            suggested JSON
        );
        CREATE TABLE triage_models (
            site_id INTEGER NOT NULL,
            version VARCHAR NOT NULL,
            trained TIMESTAMP NOT NULL DEFAULT current_timestamp,
            label_set VARCHAR NOT NULL,
            path VARCHAR NOT NULL,
            card JSON NOT NULL,
            PRIMARY KEY (site_id, version)
        );
        CREATE TABLE open311_api_keys (
            name VARCHAR PRIMARY KEY,
            key_hash VARCHAR NOT NULL UNIQUE,
            prefix VARCHAR NOT NULL,
            role VARCHAR NOT NULL DEFAULT 'open311',  -- open311 | clerk (also reviews)
            created TIMESTAMP NOT NULL DEFAULT current_timestamp,
            revoked TIMESTAMP
        );
        """,
    ),
    (
        4,
        "dashboard access: users, roles per site, sessions, API tokens, audit log",
        """
        CREATE SEQUENCE user_ids START 1;
        CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            name VARCHAR NOT NULL UNIQUE,
            password_hash VARCHAR,            -- argon2id; null: API tokens only
            created TIMESTAMP NOT NULL DEFAULT current_timestamp,
            disabled BOOLEAN NOT NULL DEFAULT false
        );
        -- site_id 0: the role holds for every site.
        CREATE TABLE user_roles (
            user_id INTEGER NOT NULL,
            site_id INTEGER NOT NULL,
            role VARCHAR NOT NULL,            -- admin | analyst | viewer
            PRIMARY KEY (user_id, site_id)
        );
        -- Only a hash of the session cookie is stored.
        CREATE TABLE user_sessions (
            id_hash VARCHAR PRIMARY KEY,
            user_id INTEGER NOT NULL,
            csrf VARCHAR NOT NULL,
            created TIMESTAMP NOT NULL,
            expires TIMESTAMP NOT NULL,
            last_seen TIMESTAMP NOT NULL
        );
        CREATE SEQUENCE api_token_ids START 1;
        CREATE TABLE api_tokens (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL,
            name VARCHAR NOT NULL,
            token_hash VARCHAR NOT NULL UNIQUE,
            prefix VARCHAR NOT NULL,
            created TIMESTAMP NOT NULL DEFAULT current_timestamp,
            last_used TIMESTAMP,
            revoked TIMESTAMP
        );
        -- Logins (failed ones too) and every administrative change. `client` is the
        -- truncated address (/24, /48), as everywhere else.
        CREATE SEQUENCE audit_ids START 1;
        CREATE TABLE audit_log (
            id BIGINT PRIMARY KEY,
            ts TIMESTAMP NOT NULL DEFAULT current_timestamp,
            actor VARCHAR,
            action VARCHAR NOT NULL,
            target VARCHAR,
            site_id INTEGER,
            ok BOOLEAN NOT NULL,
            client VARCHAR,
            detail JSON
        );
        """,
    ),
    (
        5,
        "recommendations (Handlungsempfehlungen) with their lifecycle and proof",
        """
        -- One row per finding identity (site, kind, service, subject): a finding seen again
        -- updates its row. `dismissed_value` remembers the evidence at dismissal, so the
        -- same finding stays hidden unless its evidence grows.
        CREATE TABLE recommendations (
            id VARCHAR PRIMARY KEY,
            site_id INTEGER NOT NULL,
            kind VARCHAR NOT NULL,
            service_id VARCHAR NOT NULL,
            subject VARCHAR NOT NULL,
            department VARCHAR,
            title VARCHAR NOT NULL,
            action VARCHAR NOT NULL,
            title_en VARCHAR,
            action_en VARCHAR,
            evidence JSON NOT NULL,
            impact JSON NOT NULL,
            confidence DOUBLE NOT NULL,
            score DOUBLE NOT NULL,
            metric JSON,                      -- what the proof measures after "done"
            status VARCHAR NOT NULL DEFAULT 'open',  -- open | accepted | done | dismissed
            reason VARCHAR,                   -- why it was dismissed
            active BOOLEAN NOT NULL DEFAULT true,    -- found in the latest run
            created TIMESTAMP NOT NULL,
            updated TIMESTAMP NOT NULL,
            status_changed TIMESTAMP,
            effective DATE,                   -- the day the change went live ("done")
            dismissed_value DOUBLE,
            effect JSON,                      -- before/after proof of a "done" one
            wording JSON                      -- optional generated text, marked as such
        );
        CREATE SEQUENCE recommendation_event_ids START 1;
        CREATE TABLE recommendation_events (
            id BIGINT PRIMARY KEY,
            rec_id VARCHAR NOT NULL,
            ts TIMESTAMP NOT NULL DEFAULT current_timestamp,
            actor VARCHAR,
            old_status VARCHAR,
            new_status VARCHAR NOT NULL,
            note VARCHAR
        );
        """,
    ),
]
