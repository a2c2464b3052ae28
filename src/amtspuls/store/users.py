"""Dashboard access in the store: users, their roles per site, login sessions, API tokens
and the audit log (tables of migration 4).

Only hashes of secrets are stored: argon2id for passwords (computed by `serve.auth`),
SHA-256 for session cookies and API tokens (random 256-bit values, so a fast hash is
enough). A role row with `site_id` 0 holds for every site."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from amtspuls.store.duckdb_store import DuckDBStore

ROLES = ("viewer", "analyst", "admin")  # ascending rights
ALL_SITES = 0


@dataclass
class User:
    id: int
    name: str
    disabled: bool = False
    has_password: bool = False
    roles: dict[int, str] = field(default_factory=dict)  # site id (0: all) → role

    def role_for(self, site_id: int | None) -> str | None:
        """The user's strongest role for a site (a role for all sites counts too)."""
        found = [r for s, r in self.roles.items() if s in (ALL_SITES, site_id)]
        return max(found, key=ROLES.index) if found else None

    def global_role(self) -> str | None:
        return self.roles.get(ALL_SITES)


def _write(store: DuckDBStore, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list:
    return store.write(sql, params)


def _next(store: DuckDBStore, sequence: str) -> int:
    return int(_write(store, f"SELECT nextval('{sequence}')")[0][0])


# -- users -------------------------------------------------------------------------------

def _roles(store: DuckDBStore, user_ids: list[int]) -> dict[int, dict[int, str]]:
    out: dict[int, dict[int, str]] = {u: {} for u in user_ids}
    if not user_ids:
        return out
    for r in store.query("SELECT user_id, site_id, role FROM user_roles "
                         "WHERE list_contains($ids, user_id)", {"ids": user_ids}):
        out[int(r["user_id"])][int(r["site_id"])] = r["role"]
    return out


def _users(store: DuckDBStore, where: str, params: dict[str, Any]) -> list[User]:
    rows = store.query(
        f"SELECT id, name, disabled, password_hash IS NOT NULL AS has_password FROM users "
        f"WHERE {where} ORDER BY name", params)
    roles = _roles(store, [int(r["id"]) for r in rows])
    return [User(int(r["id"]), r["name"], bool(r["disabled"]), bool(r["has_password"]),
                 roles[int(r["id"])]) for r in rows]


def get_user(store: DuckDBStore, name: str) -> User | None:
    found = _users(store, "name = $name", {"name": name})
    return found[0] if found else None


def user_by_id(store: DuckDBStore, user_id: int) -> User | None:
    found = _users(store, "id = $id", {"id": user_id})
    return found[0] if found else None


def list_users(store: DuckDBStore) -> list[User]:
    return _users(store, "TRUE", {})


def password_hash(store: DuckDBStore, name: str) -> tuple[User, str | None] | None:
    """The user and their stored password hash (for the login check)."""
    user = get_user(store, name)
    if user is None:
        return None
    rows = store.query("SELECT password_hash FROM users WHERE id = $id", {"id": user.id})
    return user, rows[0]["password_hash"]


def create_user(store: DuckDBStore, name: str, hashed: str | None) -> User:
    user_id = _next(store, "user_ids")
    _write(store, "INSERT INTO users (id, name, password_hash) VALUES (?, ?, ?)",
           [user_id, name, hashed])
    user = user_by_id(store, user_id)
    assert user is not None
    return user


def set_password(store: DuckDBStore, user_id: int, hashed: str | None) -> None:
    _write(store, "UPDATE users SET password_hash = ? WHERE id = ?", [hashed, user_id])


def set_disabled(store: DuckDBStore, user_id: int, disabled: bool) -> None:
    _write(store, "UPDATE users SET disabled = ? WHERE id = ?", [disabled, user_id])
    if disabled:
        delete_sessions_of(store, user_id)


def delete_user(store: DuckDBStore, user_id: int) -> None:
    for table, col in (("user_sessions", "user_id"), ("api_tokens", "user_id"),
                       ("user_roles", "user_id"), ("users", "id")):
        _write(store, f"DELETE FROM {table} WHERE {col} = ?", [user_id])


def set_role(store: DuckDBStore, user_id: int, site_id: int, role: str | None) -> None:
    """Give a user a role for a site (0: every site); None removes it."""
    _write(store, "DELETE FROM user_roles WHERE user_id = ? AND site_id = ?", [user_id, site_id])
    if role is not None:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        _write(store, "INSERT INTO user_roles VALUES (?, ?, ?)", [user_id, site_id, role])


# -- sessions ----------------------------------------------------------------------------

@dataclass
class LoginSession:
    id_hash: str
    user_id: int
    csrf: str
    expires: datetime
    last_seen: datetime


def create_session(store: DuckDBStore, id_hash: str, user_id: int, csrf: str, now: datetime,
                   expires: datetime) -> None:
    _write(store, "INSERT INTO user_sessions VALUES (?, ?, ?, ?, ?, ?)",
           [id_hash, user_id, csrf, now, expires, now])


def get_session(store: DuckDBStore, id_hash: str) -> LoginSession | None:
    rows = store.query("SELECT id_hash, user_id, csrf, expires, last_seen FROM user_sessions "
                       "WHERE id_hash = $h", {"h": id_hash})
    if not rows:
        return None
    r = rows[0]
    return LoginSession(r["id_hash"], int(r["user_id"]), r["csrf"], r["expires"], r["last_seen"])


def touch_session(store: DuckDBStore, id_hash: str, now: datetime) -> None:
    _write(store, "UPDATE user_sessions SET last_seen = ? WHERE id_hash = ?", [now, id_hash])


def delete_session(store: DuckDBStore, id_hash: str) -> None:
    _write(store, "DELETE FROM user_sessions WHERE id_hash = ?", [id_hash])


def delete_sessions_of(store: DuckDBStore, user_id: int) -> None:
    _write(store, "DELETE FROM user_sessions WHERE user_id = ?", [user_id])


def purge_sessions(store: DuckDBStore, now: datetime, idle_before: datetime) -> None:
    _write(store, "DELETE FROM user_sessions WHERE expires < ? OR last_seen < ?",
           [now, idle_before])


# -- API tokens --------------------------------------------------------------------------

def create_token(store: DuckDBStore, user_id: int, name: str, token_hash: str,
                 prefix: str) -> int:
    token_id = _next(store, "api_token_ids")
    _write(store, "INSERT INTO api_tokens (id, user_id, name, token_hash, prefix) "
                  "VALUES (?, ?, ?, ?, ?)", [token_id, user_id, name, token_hash, prefix])
    return token_id


def token_owner(store: DuckDBStore, token_hash: str) -> tuple[int, int, datetime | None] | None:
    """(token id, user id, last used) of a token that is not revoked."""
    rows = store.query("SELECT id, user_id, last_used FROM api_tokens "
                       "WHERE token_hash = $h AND revoked IS NULL", {"h": token_hash})
    if not rows:
        return None
    return int(rows[0]["id"]), int(rows[0]["user_id"]), rows[0]["last_used"]


def touch_token(store: DuckDBStore, token_id: int, now: datetime) -> None:
    _write(store, "UPDATE api_tokens SET last_used = ? WHERE id = ?", [now, token_id])


def list_tokens(store: DuckDBStore, user_id: int | None = None) -> list[dict[str, Any]]:
    where = "TRUE" if user_id is None else "t.user_id = $u"
    return store.query(
        f"""
        SELECT t.id, u.name AS user, t.name, t.prefix, t.created, t.last_used, t.revoked
        FROM api_tokens t JOIN users u ON u.id = t.user_id
        WHERE {where} ORDER BY t.revoked IS NOT NULL, t.created DESC, t.id DESC
        """, {} if user_id is None else {"u": user_id})


def revoke_token(store: DuckDBStore, token_id: int, now: datetime) -> bool:
    rows = store.query("SELECT id FROM api_tokens WHERE id = $i AND revoked IS NULL",
                       {"i": token_id})
    if not rows:
        return False
    _write(store, "UPDATE api_tokens SET revoked = ? WHERE id = ?", [now, token_id])
    return True


# -- audit log ---------------------------------------------------------------------------

def audit(store: DuckDBStore, action: str, ok: bool = True, actor: str | None = None,
          target: str | None = None, site_id: int | None = None, client: str | None = None,
          detail: dict[str, Any] | None = None) -> None:
    audit_id = _next(store, "audit_ids")
    _write(store, "INSERT INTO audit_log (id, actor, action, target, site_id, ok, client, detail) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
           [audit_id, actor, action, target, site_id, ok, client,
            json.dumps(detail, ensure_ascii=False) if detail else None])


def list_audit(store: DuckDBStore, limit: int = 200) -> list[dict[str, Any]]:
    rows = store.query(
        f"SELECT id, ts, actor, action, target, site_id, ok, client, detail FROM audit_log "
        f"ORDER BY id DESC LIMIT {int(limit)}")
    for r in rows:
        r["detail"] = json.loads(r["detail"]) if r["detail"] else {}
    return rows
