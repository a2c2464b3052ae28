"""Optional wording of recommendations by a language model (OpenAI-compatible chat endpoint).

Off unless `llm_base_url` is set (amtspuls.toml or AMTSPULS_LLM_BASE_URL), e.g.
`http://127.0.0.1:11434/v1` for a local Ollama; `llm_model` names the model, `llm_api_key`
(better AMTSPULS_LLM_API_KEY) is sent as a bearer token, `llm_timeout_seconds` bounds the
wait. The endpoint is the only network peer: no proxy from the environment, no redirects.

Privacy: the request carries only aggregated figures of one recommendation (kind, service,
department, deterministic title and action, evidence metric/value/baseline/period, impact).
Example texts go out only when at least k visitors stand behind them, and only after the
project's PII scrubber; ids, status and timestamps never leave.

Trust: the answer is shown next to the deterministic title/action and the evidence, never
instead of them (`rec["wording"]`). It is dropped when it is not the expected JSON, too
long, holds a link or markup, or any number that is not among the figures sent. Any failure
logs one warning line and leaves the recommendation as it was; nothing here raises.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import math
import re
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from amtspuls.config import Settings
from amtspuls.privacy.pii import scrub

log = logging.getLogger("amtspuls.recommend.llm")

TITLE_MAX = 90
ACTION_MAX = 600
# Bounds on what is sent and read, so one odd recommendation or answer stays small.
_TEXT_MAX = 1000
_EXAMPLES_MAX = 10
_EXAMPLE_TEXT_MAX = 200
_RESPONSE_MAX_BYTES = 256 * 1024
_CACHE_MAX = 512

SYSTEM_PROMPT = (
    "Du formulierst Handlungsempfehlungen für die Web-Redaktion einer Kommunalverwaltung. "
    "Du erhältst eine Empfehlung als JSON mit aggregierten Kennzahlen: Nachweise "
    "(Kennzahl, Wert, Vergleichswert, Zeitraum, Beispiele mit Anzahl) und erwartete Wirkung. "
    f"Schreibe daraus einen kurzen, konkreten Titel (höchstens {TITLE_MAX} Zeichen) und "
    f"einen Handlungstext (höchstens {ACTION_MAX} Zeichen): was die Redaktion tun soll und "
    "warum. Verwende ausschließlich die angegebenen Kennzahlen und Fakten; erfinde keine "
    "Zahlen, Namen, Fristen oder Links. Kein HTML, kein Markdown. Antworte nur mit einem "
    'JSON-Objekt der Form {"title": "...", "action": "..."}.'
)


@dataclass(frozen=True)
class LLMConfig:
    base_url: str
    model: str
    api_key: str = field(default="", repr=False)
    timeout_seconds: float = 20.0
    max_tokens: int = 400


def llm_config(settings: Settings) -> LLMConfig | None:
    """The endpoint configuration, or None when wording is off (no base URL)."""
    base = settings.llm_base_url.strip().rstrip("/")
    if not base:
        return None
    if not base.lower().startswith(("http://", "https://")):
        log.warning("LLM wording off: llm_base_url must start with http:// or https://")
        return None
    timeout = float(settings.llm_timeout_seconds)
    return LLMConfig(base_url=base, model=settings.llm_model.strip(),
                     api_key=settings.llm_api_key.strip(),
                     timeout_seconds=timeout if timeout > 0 else 20.0)


# --- what is sent ---------------------------------------------------------------------


def _figure(value: Any) -> int | float | None:
    """A number as sent: finite, floats to one decimal (what a text would quote)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float):
        return round(value, 1) if math.isfinite(value) else None
    return value


def _label(value: Any) -> str | None:
    return value[:_TEXT_MAX] if isinstance(value, str) and value.strip() else None


def _examples(items: Any, k: int) -> list[dict]:
    out: list[dict] = []
    for ex in items if isinstance(items, list) else []:
        if not isinstance(ex, dict):
            continue
        raw, text = ex.get("count"), ex.get("text")
        count = _figure(raw)
        # k-anonymity: fewer than k visitors behind an example keeps it at home (compared
        # before rounding, so 4.96 stays below 5).
        if count is None or raw < k or not isinstance(text, str):
            continue
        # Scrub before clipping: clipping first could cut an address out of a pattern's reach.
        clean = (scrub(text) or "").strip()[:_EXAMPLE_TEXT_MAX]
        if clean:
            out.append({"text": clean, "count": count})
        if len(out) >= _EXAMPLES_MAX:
            break
    return out


def _payload(rec: dict, k: int) -> dict:
    """The aggregated figures of `rec` that may leave the installation (allow-list)."""
    k = max(int(k), 1)
    out: dict[str, Any] = {}
    for key in ("kind", "service_id", "department"):
        if (value := _label(rec.get(key))) is not None:
            out[key] = value
    for key in ("title", "action"):
        if (value := _label(rec.get(key))) is not None:
            out[key] = (scrub(rec[key]) or "")[:_TEXT_MAX]
    evidence = []
    for item in rec.get("evidence") or []:
        if not isinstance(item, dict):
            continue
        entry: dict[str, Any] = {}
        if (metric := _label(item.get("metric"))) is not None:
            entry["metric"] = metric
        for key in ("value", "baseline"):
            if (num := _figure(item.get(key))) is not None:
                entry[key] = num
        if (period := _label(item.get("period"))) is not None:
            entry["period"] = period[:64]
        if examples := _examples(item.get("examples"), k):
            entry["examples"] = examples
        if entry:
            evidence.append(entry)
    if evidence:
        out["evidence"] = evidence
    impact = rec.get("impact")
    if isinstance(impact, dict):
        figures = {str(key)[:64]: num for key, value in impact.items()
                   if (num := _figure(value)) is not None}
        if figures:
            out["impact"] = figures
    return out


def prompt_messages(rec: dict, k: int) -> list[dict]:
    """The chat messages sent for `rec`: German instructions and the figures as JSON."""
    data = json.dumps(_payload(rec, k), ensure_ascii=False, sort_keys=True)
    return [{"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": f"Empfehlung:\n{data}"}]


# --- what comes back ------------------------------------------------------------------

_FENCE = re.compile(r"^```[A-Za-z]*\s*(.*?)\s*```$", re.DOTALL)
# A number as written in German text, grouped thousands ("1.234") taken as one.
_NUMBER = re.compile(r"\d{1,3}(?:[.\u00a0\u202f]\d{3})+(?!\d)|\d+")


class _Rejected(Exception):
    """The answer is unusable; a retry with the same input would not help."""


class _Unavailable(Exception):
    """The endpoint did not answer properly; later requests in the batch would fail too."""


def _digits(text: str) -> set[str]:
    return {run.lstrip("0") or "0" for run in re.findall(r"\d+", text)}


def _numbers_known(text: str, allowed: set[str]) -> bool:
    for number in _NUMBER.findall(text):
        parts = _digits(number)
        joined = re.sub(r"\D", "", number).lstrip("0") or "0"
        if joined not in allowed and not parts <= allowed:
            return False
    return True


def _parse_answer(body: bytes, sent: str) -> tuple[str, str]:
    try:
        answer = json.loads(body)
        content = answer["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise _Rejected("answer is not a chat completion") from None
    if not isinstance(content, str):
        raise _Rejected("answer has no text content")
    content = content.strip()
    if fenced := _FENCE.match(content):
        content = fenced.group(1)
    try:
        wording = json.loads(content)
    except ValueError:
        raise _Rejected("content is not JSON") from None
    if not isinstance(wording, dict):
        raise _Rejected("content is not a JSON object")
    title, action = wording.get("title"), wording.get("action")
    if not isinstance(title, str) or not isinstance(action, str):
        raise _Rejected("content lacks title/action strings")
    title, action = title.strip(), action.strip()
    if not title or not action:
        raise _Rejected("empty title or action")
    if len(title) > TITLE_MAX or len(action) > ACTION_MAX:
        raise _Rejected(f"title or action too long ({len(title)}/{len(action)} chars)")
    text = f"{title}\n{action}"
    lowered = text.lower()
    if "<" in text or "http" in lowered or "www." in lowered:
        raise _Rejected("link or markup in text")
    # Guard against invented figures: every number must be one that was sent.
    if not _numbers_known(text, _digits(sent)):
        raise _Rejected("number not among the figures sent")
    return title, action


def _post(cfg: LLMConfig, messages: list[dict]) -> bytes:
    body = json.dumps({"model": cfg.model, "messages": messages, "temperature": 0.2,
                       "max_tokens": cfg.max_tokens,
                       "response_format": {"type": "json_object"}},
                      ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"}
    if cfg.api_key:
        headers["Authorization"] = f"Bearer {cfg.api_key}"
    url = cfg.base_url.rstrip("/") + "/chat/completions"
    if not url.lower().startswith(("http://", "https://")):
        raise _Unavailable("base URL is not http(s)")
    req = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with _OPENER.open(req, timeout=cfg.timeout_seconds) as resp:
            data = resp.read(_RESPONSE_MAX_BYTES + 1)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise _Unavailable(f"HTTP {exc.code}") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise _Unavailable(f"no answer within {cfg.timeout_seconds:g} s") from None
        raise _Unavailable(f"endpoint unreachable ({exc.reason})") from None
    except TimeoutError:
        raise _Unavailable(f"no answer within {cfg.timeout_seconds:g} s") from None
    except (OSError, http.client.HTTPException) as exc:
        raise _Unavailable(f"connection failed ({type(exc).__name__})") from None
    if len(data) > _RESPONSE_MAX_BYTES:
        raise _Rejected("answer too large")
    return data


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect would send the figures to a peer nobody configured.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


# Direct connection to the configured endpoint only: proxies from the environment ignored.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def _generate(rec: dict, cfg: LLMConfig, k: int) -> tuple[dict | None, bool]:
    """(wording or None, whether the endpoint itself failed)."""
    try:
        messages = prompt_messages(rec, k)
        title, action = _parse_answer(_post(cfg, messages), messages[1]["content"])
    except _Unavailable as exc:
        log.warning("LLM wording skipped: %s", exc)
        return None, True
    except _Rejected as exc:
        log.warning("LLM wording rejected: %s", exc)
        return None, False
    except Exception as exc:  # never let wording break a report
        log.warning("LLM wording failed: %s", type(exc).__name__)
        return None, False
    return {"title": title, "action": action, "model": cfg.model, "generated": True}, False


def generate_wording(rec: dict, cfg: LLMConfig, k: int) -> dict | None:
    """Title and action text written by the model for `rec`, or None on any failure."""
    return _generate(rec, cfg, k)[0]


# --- batch with cache -----------------------------------------------------------------

_cache: dict[str, dict | None] = {}
_cache_lock = threading.Lock()
_MISSING = object()


def _cache_key(rec: dict, cfg: LLMConfig, k: int) -> str:
    basis = {"url": cfg.base_url.rstrip("/"), "model": cfg.model,
             "max_tokens": cfg.max_tokens, "messages": prompt_messages(rec, k)}
    return hashlib.sha256(json.dumps(basis, sort_keys=True).encode("utf-8")).hexdigest()


def apply_wording(recs: list[dict], cfg: LLMConfig | None, k: int,
                  limit: int = 10) -> list[dict]:
    """Add `rec["wording"]` to the first `limit` recs (in place; returns `recs`).

    Blocking (up to the timeout per request): call it off the event loop. Answers, and
    rejections of answers, are cached per payload for the process; after the endpoint
    itself fails, the rest of the batch is not tried.
    """
    endpoint_down = False
    for rec in recs[:max(limit, 0)]:
        if not isinstance(rec, dict):
            continue
        rec.pop("wording", None)
        if cfg is None or endpoint_down:
            continue
        try:
            key = _cache_key(rec, cfg, k)
        except Exception as exc:  # an odd rec must not break the batch
            log.warning("LLM wording failed: %s", type(exc).__name__)
            continue
        with _cache_lock:
            cached = _cache.get(key, _MISSING)
        if cached is _MISSING:
            wording, endpoint_down = _generate(rec, cfg, k)
            if endpoint_down:
                continue
            with _cache_lock:
                _cache[key] = wording
                while len(_cache) > _CACHE_MAX:
                    _cache.pop(next(iter(_cache)))
            cached = wording
        if isinstance(cached, dict):
            rec["wording"] = dict(cached)
    return recs
