"""Stored service requests (Open311), their triage, reviews, audit log, models and API keys.

All SQL on these tables lives here; callers pass the `DuckDBStore`. Times are naive UTC.
The raw text (`description_raw`) and contact data are read only by `get_request(...,
raw=True)` (the review API) and are cleared by `delete_raw_before` (retention)."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

if TYPE_CHECKING:
    from amtspuls.store.duckdb_store import DuckDBStore

REQUEST_COLUMNS = (
    "site_id", "service_request_id", "token", "service_code", "service_id",
    "external_category", "description", "description_raw", "contact", "attributes", "lat",
    "long", "address_string", "zipcode", "media_url", "status", "status_notes",
    "agency_responsible", "requested_datetime", "updated_datetime", "expected_datetime",
    "closed_datetime", "source",
)  # fmt: skip
_TYPES = {
    "site_id": pa.int32(), "lat": pa.float64(), "long": pa.float64(),
    "requested_datetime": pa.timestamp("us"), "updated_datetime": pa.timestamp("us"),
    "expected_datetime": pa.timestamp("us"), "closed_datetime": pa.timestamp("us"),
}
PUBLIC_COLUMNS = tuple(c for c in REQUEST_COLUMNS if c not in ("description_raw", "contact"))


def _json(v: Any) -> str | None:
    return None if v is None else json.dumps(v, ensure_ascii=False)


class RequestStore:
    def __init__(self, store: DuckDBStore) -> None:
        self.s = store

    # ---------------------------------------------------------------------- requests
    def existing_ids(self, site_id: int, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        rows = self.s.query(
            "SELECT service_request_id FROM service_requests WHERE site_id = $site "
            "AND service_request_id IN (SELECT unnest($ids))", {"site": site_id, "ids": list(ids)})
        return {r["service_request_id"] for r in rows}

    def insert_requests(self, records: Sequence[dict[str, Any]]) -> int:
        """Insert new requests (dicts with REQUEST_COLUMNS keys) in one transaction."""
        if not records:
            return 0
        cols: dict[str, list] = {c: [] for c in REQUEST_COLUMNS}
        for r in records:
            for c in REQUEST_COLUMNS:
                v = r.get(c)
                if c in ("contact", "attributes"):
                    v = _json(v) if v else None
                cols[c].append(v)
        table = pa.table({c: pa.array(cols[c], type=_TYPES.get(c, pa.string()))
                          for c in REQUEST_COLUMNS})
        with self.s._lock:
            con = self.s.con
            con.execute("BEGIN")
            try:
                con.register("new_requests", table)
                con.execute(
                    f"INSERT INTO service_requests ({', '.join(REQUEST_COLUMNS)}) "
                    f"SELECT {', '.join(REQUEST_COLUMNS)} FROM new_requests")
                con.unregister("new_requests")
                con.execute("COMMIT")
            except Exception:
                con.execute("ROLLBACK")
                raise
        return len(records)

    def next_request_id(self, site_id: int, year: int) -> str:
        prefix = f"{year}-"
        rows = self.s.query(
            "SELECT max(TRY_CAST(substr(service_request_id, $k) AS BIGINT)) AS n "
            "FROM service_requests WHERE site_id = $site AND source = 'open311' "
            "AND starts_with(service_request_id, $prefix)",
            {"k": len(prefix) + 1, "site": site_id, "prefix": prefix})
        n = int(rows[0]["n"] or 0) + 1
        while True:
            rid = f"{prefix}{n:06d}"
            if not self.existing_ids(site_id, [rid]):
                return rid
            n += 1

    def _select(self, raw: bool) -> str:
        cols = REQUEST_COLUMNS if raw else PUBLIC_COLUMNS
        return ", ".join(f"r.{c}" for c in cols)

    def get_request(self, site_id: int, request_id: str, raw: bool = False) -> dict | None:
        rows = self.s.query(
            f"SELECT {self._select(raw)}, r.raw_deleted FROM service_requests r "
            "WHERE r.site_id = $site AND r.service_request_id = $id",
            {"site": site_id, "id": request_id})
        return _decode(rows[0]) if rows else None

    def by_token(self, site_id: int, token: str) -> dict | None:
        rows = self.s.query(
            "SELECT service_request_id, token FROM service_requests "
            "WHERE site_id = $site AND token = $token", {"site": site_id, "token": token})
        return rows[0] if rows else None

    def list_requests(
        self,
        site_id: int,
        *,
        ids: Sequence[str] | None = None,
        service_codes: Sequence[str] | None = None,
        statuses: Sequence[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = None,
        newest_first: bool = True,
    ) -> list[dict]:
        where = ["r.site_id = $site"]
        params: dict[str, Any] = {"site": site_id}
        if ids:
            where.append("r.service_request_id IN (SELECT unnest($ids))")
            params["ids"] = list(ids)
        if service_codes:
            where.append("r.service_id IN (SELECT unnest($codes))")
            params["codes"] = list(service_codes)
        if statuses:
            where.append("r.status IN (SELECT unnest($statuses))")
            params["statuses"] = list(statuses)
        if start is not None:
            where.append("r.requested_datetime >= $start")
            params["start"] = start
        if end is not None:
            where.append("r.requested_datetime <= $end")
            params["end"] = end
        order = "DESC" if newest_first else "ASC"
        sql = (f"SELECT {self._select(False)} FROM service_requests r WHERE {' AND '.join(where)} "
               f"ORDER BY r.requested_datetime {order}, r.service_request_id {order}")
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [_decode(r) for r in self.s.query(sql, params)]

    def analysis_rows(self, site_id: int, since: datetime | None = None,
                      ids: Sequence[str] | None = None,
                      bbox: tuple[float, float, float, float] | None = None) -> list[dict]:
        """What triage and training read: scrubbed text, codes, place, time, status,
        the latest review (if any)."""
        params: dict[str, Any] = {"site": site_id}
        cond = ""
        if since is not None:
            cond = " AND r.requested_datetime >= $since"
            params["since"] = since
        if ids is not None:
            cond += " AND r.service_request_id IN (SELECT unnest($ids))"
            params["ids"] = list(ids)
        if bbox is not None:
            cond += (" AND r.lat BETWEEN $lat0 AND $lat1 AND r.long BETWEEN $lon0 AND $lon1")
            params.update(dict(zip(("lat0", "lat1", "lon0", "lon1"), bbox, strict=True)))
        return self.s.query(
            f"""
            SELECT r.service_request_id, r.service_code, r.service_id, r.external_category,
                   r.description, r.lat, r.long, r.address_string, r.requested_datetime,
                   r.status, r.closed_datetime, r.source,
                   v.decision AS review_decision, v.service_id AS review_service_id,
                   v.priority AS review_priority
            FROM service_requests r
            LEFT JOIN (
                SELECT service_request_id, arg_max(decision, ts) AS decision,
                       arg_max(service_id, ts) AS service_id, arg_max(priority, ts) AS priority
                FROM request_reviews WHERE site_id = $site GROUP BY service_request_id
            ) v USING (service_request_id)
            WHERE r.site_id = $site{cond}
            ORDER BY r.requested_datetime, r.service_request_id
            """, params)

    def set_service(self, site_id: int, updates: Iterable[tuple[str, str, str | None]]) -> None:
        """(request id, service id, department) for requests whose effective service
        changed (suggested, or confirmed by a clerk)."""
        rows = list(updates)
        if not rows:
            return
        table = pa.table({"rid": [r[0] for r in rows], "sid": [r[1] for r in rows],
                          "dept": pa.array([r[2] for r in rows], type=pa.string())})
        with self.s._lock:
            con = self.s.con
            con.register("service_updates", table)
            try:
                con.execute(
                    "UPDATE service_requests SET service_id = u.sid, agency_responsible = u.dept "
                    "FROM service_updates u WHERE site_id = ? AND service_request_id = u.rid "
                    "AND (service_id IS DISTINCT FROM u.sid "
                    "OR agency_responsible IS DISTINCT FROM u.dept)", [site_id])
            finally:
                con.unregister("service_updates")

    def set_status(self, site_id: int, request_id: str, status: str, note: str | None,
                   now: datetime) -> None:
        with self.s._lock:
            self.s.con.execute(
                "UPDATE service_requests SET status = ?, status_notes = coalesce(?, status_notes), "
                "updated_datetime = ?, closed_datetime = CASE WHEN ? = 'closed' THEN ? END "
                "WHERE site_id = ? AND service_request_id = ?",
                [status, note, now, status, now, site_id, request_id])

    # ------------------------------------------------------------------------ triage
    def save_triage(self, site_id: int, results: Sequence[dict[str, Any]],
                    log_inputs: Sequence[dict[str, Any]] | None = None) -> None:
        """Store the latest suggestion per request and append each to the audit log."""
        if not results:
            return
        tri = pa.table({
            "site_id": pa.array([site_id] * len(results), type=pa.int32()),
            "service_request_id": [r["service_request_id"] for r in results],
            "model_version": [r["model_version"] for r in results],
            "category": [_json(r["category"]) for r in results],
            "priority": pa.array([int(r["priority"]) for r in results], type=pa.int32()),
            "priority_reasons": [_json(r["priority_reasons"]) for r in results],
            "duplicate_group": pa.array([r.get("duplicate_group") for r in results],
                                        type=pa.string()),
            "duplicates": [_json(r.get("duplicates", [])) for r in results],
            "department": pa.array([r.get("department") for r in results], type=pa.string()),
        })
        log = None
        if log_inputs is not None:
            keys = ("category", "priority", "priority_reasons", "duplicate_group", "duplicates",
                    "department")
            log = pa.table({
                "site_id": pa.array([site_id] * len(results), type=pa.int32()),
                "service_request_id": [r["service_request_id"] for r in results],
                "model_version": [r["model_version"] for r in results],
                "inputs": [_json(i) for i in log_inputs],
                "suggestion": [_json({k: r.get(k) for k in keys}) for r in results],
            })
        with self.s._lock:
            con = self.s.con
            con.execute("BEGIN")
            try:
                con.register("new_triage", tri)
                con.execute(
                    "INSERT OR REPLACE INTO request_triage (site_id, service_request_id, "
                    "model_version, category, priority, priority_reasons, duplicate_group, "
                    "duplicates, department, computed) SELECT *, current_timestamp "
                    "FROM new_triage")
                con.unregister("new_triage")
                if log is not None:
                    con.register("new_log", log)
                    con.execute(
                        "INSERT INTO triage_log (site_id, service_request_id, model_version, "
                        "inputs, suggestion) SELECT * FROM new_log")
                    con.unregister("new_log")
                con.execute("COMMIT")
            except Exception:
                con.execute("ROLLBACK")
                raise

    def triage_of(self, site_id: int, ids: Sequence[str] | None = None) -> dict[str, dict]:
        params: dict[str, Any] = {"site": site_id}
        cond = ""
        if ids is not None:
            cond = " AND service_request_id IN (SELECT unnest($ids))"
            params["ids"] = list(ids)
        rows = self.s.query(
            "SELECT service_request_id, model_version, category, priority, priority_reasons, "
            f"duplicate_group, duplicates, department FROM request_triage WHERE site_id = $site"
            f"{cond}", params)
        out = {}
        for r in rows:
            for k in ("category", "priority_reasons", "duplicates"):
                r[k] = json.loads(r[k]) if isinstance(r[k], str) else r[k]
            out[r["service_request_id"]] = r
        return out

    def group_sizes(self, site_id: int, groups: Sequence[str]) -> dict[str, int]:
        """How many stored requests each incident has."""
        if not groups:
            return {}
        rows = self.s.query(
            "SELECT duplicate_group, count(*) AS n FROM request_triage WHERE site_id = $site "
            "AND duplicate_group IN (SELECT unnest($g)) GROUP BY 1",
            {"site": site_id, "g": list(groups)})
        return {r["duplicate_group"]: int(r["n"]) for r in rows}

    def log_entries(self, site_id: int, request_id: str | None = None, limit: int = 100
                    ) -> list[dict]:
        params: dict[str, Any] = {"site": site_id, "limit": limit}
        cond = ""
        if request_id:
            cond = " AND service_request_id = $id"
            params["id"] = request_id
        rows = self.s.query(
            "SELECT service_request_id, ts, model_version, inputs, suggestion FROM triage_log "
            f"WHERE site_id = $site{cond} ORDER BY ts DESC LIMIT $limit", params)
        for r in rows:
            r["inputs"] = json.loads(r["inputs"])
            r["suggestion"] = json.loads(r["suggestion"])
        return rows

    # ----------------------------------------------------------------------- reviews
    def add_review(self, site_id: int, request_id: str, decision: str, *,
                   service_id: str | None, priority: int | None, duplicate_of: str | None,
                   reviewer: str | None, note: str | None, suggested: dict | None) -> None:
        with self.s._lock:
            self.s.con.execute(
                "INSERT INTO request_reviews (site_id, service_request_id, reviewer, decision, "
                "service_id, priority, duplicate_of, note, suggested) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [site_id, request_id, reviewer, decision, service_id, priority, duplicate_of,
                 note, _json(suggested)])

    def review_stats(self, site_id: int) -> dict[str, Any]:
        rows = self.s.query(
            """
            SELECT count(*) AS reviews,
                   count(*) FILTER (WHERE decision = 'confirm') AS confirmed,
                   count(*) FILTER (WHERE decision = 'correct') AS corrected
            FROM request_reviews WHERE site_id = $site
            """, {"site": site_id})
        return {k: int(v or 0) for k, v in rows[0].items()}

    # ------------------------------------------------------------------------ models
    def add_model(self, site_id: int, version: str, label_set: str, path: str,
                  card: dict[str, Any]) -> None:
        with self.s._lock:
            self.s.con.execute(
                "INSERT OR REPLACE INTO triage_models (site_id, version, label_set, path, card) "
                "VALUES (?, ?, ?, ?, ?)", [site_id, version, label_set, path, _json(card)])

    def latest_model(self, site_id: int, label_set: str = "service") -> dict | None:
        rows = self.s.query(
            "SELECT version, trained, label_set, path, card FROM triage_models "
            "WHERE site_id = $site AND label_set = $ls ORDER BY trained DESC, version DESC "
            "LIMIT 1", {"site": site_id, "ls": label_set})
        if not rows:
            return None
        r = rows[0]
        r["card"] = json.loads(r["card"])
        return r

    # ---------------------------------------------------------------------- api keys
    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode("utf-8")).hexdigest()

    def add_api_key(self, name: str, role: str = "open311") -> str:
        """Create a key and return it (shown once; only its hash is stored)."""
        key = "ap_" + secrets.token_urlsafe(24)
        with self.s._lock:
            exists = self.s.con.execute(
                "SELECT 1 FROM open311_api_keys WHERE name = ?", [name]).fetchall()
            if exists:
                self.s.con.execute(
                    "UPDATE open311_api_keys SET key_hash = ?, prefix = ?, role = ?, "
                    "created = current_timestamp, revoked = NULL WHERE name = ?",
                    [self.hash_key(key), key[:7], role, name])
            else:
                self.s.con.execute(
                    "INSERT INTO open311_api_keys (name, key_hash, prefix, role) "
                    "VALUES (?, ?, ?, ?)", [name, self.hash_key(key), key[:7], role])
        return key

    def check_api_key(self, key: str | None) -> dict | None:
        """The key's name and role, or None when unknown or revoked."""
        if not key:
            return None
        rows = self.s.query(
            "SELECT name, role FROM open311_api_keys WHERE key_hash = $h AND revoked IS NULL",
            {"h": self.hash_key(key)})
        return rows[0] if rows else None

    def list_api_keys(self) -> list[dict]:
        return self.s.query(
            "SELECT name, prefix, role, created, revoked FROM open311_api_keys ORDER BY name")

    def revoke_api_key(self, name: str) -> bool:
        with self.s._lock:
            n = self.s.con.execute(
                "UPDATE open311_api_keys SET revoked = current_timestamp "
                "WHERE name = ? AND revoked IS NULL RETURNING name", [name]).fetchall()
        return bool(n)

    # --------------------------------------------------------------------- retention
    def delete_raw_before(self, cutoff: datetime) -> int:
        """Clear raw texts and contact data of requests reported before `cutoff`."""
        with self.s._lock:
            rows = self.s.con.execute(
                "UPDATE service_requests SET description_raw = NULL, contact = NULL, "
                "raw_deleted = true WHERE requested_datetime < ? AND NOT raw_deleted "
                "RETURNING service_request_id", [cutoff]).fetchall()
        return len(rows)


def _decode(row: dict) -> dict:
    for k in ("contact", "attributes"):
        if k in row and isinstance(row[k], str):
            row[k] = json.loads(row[k])
    return row
