"""Small units of the dashboard and access code (no server)."""

from __future__ import annotations

from amtspuls.config import Settings
from amtspuls.serve.auth import (
    LoginLimiter,
    hash_password,
    is_loopback_host,
    secure_cookies,
    verify_password,
)
from amtspuls.serve.dashboard.charts import MapPoint, bar_chart, line_chart, point_map
from amtspuls.serve.dashboard.i18n import translator
from amtspuls.serve.dashboard.model import Col, Table, fmt_number, to_csv
from amtspuls.serve.routes_auth import safe_next


def test_passwords_are_argon2id():
    h = hash_password("ein-langes-passwort")
    assert h.startswith("$argon2id$")
    assert verify_password(h, "ein-langes-passwort")
    assert not verify_password(h, "falsch-falsch")
    assert not verify_password(None, "ein-langes-passwort")


def test_cookie_secure_auto():
    s = Settings()
    assert not secure_cookies(s, "http", {"host": "127.0.0.1:8000"})
    assert not secure_cookies(s, "http", {"host": "localhost:8000"})
    assert not secure_cookies(s, "http", {"host": "[::1]:8000"})
    assert secure_cookies(s, "http", {"host": "analyse.musterstadt.de"})
    assert secure_cookies(s, "https", {"host": "127.0.0.1"})
    assert secure_cookies(s, "http", {"host": "127.0.0.1", "x-forwarded-proto": "https"})
    s.cookie_secure = "true"
    assert secure_cookies(s, "http", {"host": "127.0.0.1"})
    assert is_loopback_host("127.1.2.3") and not is_loopback_host("127.example.org")


def test_safe_next_refuses_other_hosts():
    for bad in ("//evil.example", "https://evil.example", "/\\evil.example", "", None,
                "/x\r\nSet-Cookie: a=b"):
        assert safe_next(bad) == "/dashboard/"
    assert safe_next("/dashboard/suche?site=a") == "/dashboard/suche?site=a"


def test_login_limiter_names_and_networks():
    lim = LoginLimiter(3, window=60)
    keys = ["name:anna", "net:10.0.0.0"]
    for _ in range(3):
        assert lim.retry_after(keys) == 0
        lim.failed(keys)
    assert lim.retry_after(keys) > 0
    # another name from the same network still may try (network limit is 5×)
    assert lim.retry_after(["name:bert", "net:10.0.0.0"]) == 0


def test_charts_escape_labels():
    payload = '<script>alert(1)</script>'
    for chart in (bar_chart(payload, [(payload, 3.0)]),
                  line_chart(payload, [payload, "b"], []),
                  point_map(payload, [MapPoint(51.2, 7.1, payload, "g"),
                                      MapPoint(51.3, 7.2, "x", "g")])):
        assert "<script>" not in str(chart.svg)
        assert "&lt;script&gt;" in str(chart.svg)
        assert 'role="img"' in str(chart.svg)


def test_table_guard_and_csv():
    t = Table("t", "T", [Col("query", "Q"), Col("visitors", "V", "int")],
              [{"query": "a", "visitors": 9}, {"query": "=1+1", "visitors": 5},
               {"query": "selten", "visitors": 2}, {"query": "rest", "visitors": None}])
    t.guard(5)
    assert [r["query"] for r in t.rows] == ["a", "=1+1", "rest"]
    text = to_csv(t)
    assert text.startswith("\ufeffQ,V\r\n") and "'=1+1,5" in text


def test_formatting_and_catalogue():
    assert fmt_number(1234567, "int", "de") == "1.234.567"
    assert fmt_number(1234567, "int", "en") == "1,234,567"
    assert fmt_number(0.1234, "pct", "de") == "12,3 %"
    assert fmt_number(None, "int", "de") == "–"
    assert translator("en")("Übersicht") == "Overview"
    assert translator("de")("Übersicht") == "Übersicht"
    assert translator("en")("nicht im Katalog") == "nicht im Katalog"
