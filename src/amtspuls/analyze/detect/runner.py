"""Running the detector over stored events: a historical range (`amtspuls detect`), or
incrementally as events arrive (`amtspuls watch`, and `serve`): each round reads only the
events after the last scored minute; the baseline state is persisted in the store."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pyarrow as pa

from amtspuls.analyze.detect.config import DetectConfig, WarningConfig
from amtspuls.analyze.detect.detector import HISTORY, Detector, minute_of, ts_of
from amtspuls.analyze.reports import local_range, utc_window
from amtspuls.analyze.signals import SITE, VisitCounter
from amtspuls.model import Site
from amtspuls.store import DuckDBStore
from amtspuls.store import signals as sq

log = logging.getLogger("amtspuls.detect")

DAY = 1440
PRIME_HISTORY_DAYS = 28
MIN_PRIOR_HISTORY_DAYS = 7
LIVE_LAG_MINUTES = 1
LIVE_WITHIN_MINUTES = 360
OUTPUT_KEYS = ("signal", "service_id", "start", "end", "observed", "expected", "score",
               "severity", "direction", "evidence")


Facts = Callable[[datetime, datetime], tuple[pa.Table, pa.Table]]


def replay(store: DuckDBStore, site: Site, det: Detector, lo: int, hi: int,
           chunk_minutes: int = DAY, facts: Facts | None = None
           ) -> list[tuple[str, dict[str, Any]]]:
    """Score minutes [lo, hi) reading the events in chunks (a day at a time by default;
    the result does not depend on the chunk size). `facts` replaces the store query
    (for tests and benchmarks that replay the same data many times)."""
    if det.next_minute is None:
        det.next_minute = lo
    events: list[tuple[str, dict[str, Any]]] = []
    a = lo
    while a < hi:
        b = min(hi, (a // chunk_minutes + 1) * chunk_minutes)
        if facts is None:
            pages, counts = sq.minute_facts(store, site.id, ts_of(a), ts_of(b),
                                            det.cfg.news_groups)
        else:
            pages, counts = facts(ts_of(a), ts_of(b))
        for kind, alert in det.process(pages, counts, a, b):
            if kind == "raised" and facts is None:
                _add_paths(store, site, alert, det.cfg.news_groups)
            events.append((kind, alert))
        a = b
    return events


def _add_paths(store: DuckDBStore, site: Site, alert: dict[str, Any],
               news_groups: tuple[str, ...]) -> None:
    """Evidence of a visits alert: the most viewed paths of its key in its window (for
    entries from social networks or campaign links: which article or page is shared)."""
    if alert["signal"] not in ("visits", "traffic", "social_entries", "campaign_entries") \
            or alert["direction"] != "up":
        return
    ev = alert["evidence"]
    hi = datetime.fromisoformat(ev["window_end"].replace("Z", "+00:00")).replace(tzinfo=None)
    lo = ts_of(minute_of(hi) - int(ev["window_minutes"]))
    if alert["key"] == SITE:
        return
    ev["top_paths"] = sq.top_paths(store, site.id, alert["key"], lo, hi,
                                   news_groups=news_groups)


def reset_stream(det: Detector) -> None:
    """Forget where the stream was (minute history, visits, open alerts, level, age) but
    keep what was learnt about the hour-of-week profile, dispersion and rates."""
    n = det.A.shape[0]
    det.next_minute = None
    det.cur_hour = None
    det.cur_date = None
    det.c_n = np.zeros((n, HISTORY + 1))
    det.c_m = np.zeros((n, HISTORY + 1))
    det.visits = VisitCounter(det.visits.timeout)
    det.active.clear()
    det.closed.clear()
    det.Oc[:] = 0.0
    det.Ec[:] = 0.0
    det.day_tot[:] = 0.0
    # The range's first warm-up hours raise nothing: their baseline was learnt from the
    # days that follow them.
    det.hours[:] = 0.0
    det.day_obs[:] = 0.0
    det.day_exp[:] = 0.0
    det.day_paused[:] = False
    det.Y[:] = 0.0
    det.days_seen = 0


def _floor_hour(minute: int) -> int:
    return minute - minute % 60


def run_detect(store: DuckDBStore, site: Site, date_from: date | None = None,
               date_to: date | None = None, cfg: DetectConfig | None = None,
               session_timeout: int = 30, facts: Facts | None = None) -> list[dict[str, Any]]:
    """Alerts of a historical range (local dates), scored minute by minute as the stream
    would have scored them. The baseline is learnt on up to 28 days before the range;
    with less than 7 days there, it is first learnt on the range's first `prime_days`
    (robustly: hours far off the baseline teach it only clipped), then the range is
    scored from its start."""
    cfg = cfg or DetectConfig()
    first, last = sq.event_bounds(store, site.id)
    if first is None:
        return []
    d_from, d_to = local_range(site, date_from, date_to, store)
    lo_ts, hi_ts = utc_window(site, d_from, d_to)
    lo = minute_of(lo_ts)
    hi = min(minute_of(hi_ts), minute_of(last) + 1)
    if hi <= lo:
        return []
    det = Detector(cfg, site.timezone, cfg.bundesland, session_timeout)
    hist_lo = _floor_hour(max(minute_of(first), lo - PRIME_HISTORY_DAYS * DAY))
    det.emit = False
    if lo - hist_lo >= MIN_PRIOR_HISTORY_DAYS * DAY:
        replay(store, site, det, hist_lo, lo, facts=facts)
    else:
        replay(store, site, det, lo, min(hi, lo + cfg.prime_days * DAY), facts=facts)
        reset_stream(det)
    det.emit = True
    events = replay(store, site, det, lo, hi, facts=facts)
    final: dict[str, dict[str, Any]] = {}
    for _kind, alert in events:
        final[alert["uid"]] = alert
    for alert in det.open_alerts():
        final[alert["uid"]] = alert
    return sorted((public_alert(a) for a in final.values()),
                  key=lambda a: (a["evidence"]["detected_at"], a["signal"], a["service_id"]))


def public_alert(alert: dict[str, Any]) -> dict[str, Any]:
    """Exactly the documented keys; the signal key and status go into the evidence."""
    out = {k: alert[k] for k in OUTPUT_KEYS}
    ev = dict(alert["evidence"])
    ev["key"] = alert["key"]
    ev["status"] = alert["status"]
    out["evidence"] = ev
    return out


class Stream:
    """Incremental scoring of one site: every round reads only the events after the
    last scored minute. The state lives in the store (`warning_state`)."""

    def __init__(self, store: DuckDBStore, site: Site, wcfg: WarningConfig,
                 session_timeout: int = 30) -> None:
        self.store = store
        self.site = site
        self.wcfg = wcfg
        self.session_timeout = session_timeout
        self.det: Detector | None = None
        self._saved_at = 0.0
        self.last_round: dict[str, Any] = {}

    def _load(self) -> Detector | None:
        row = sq.load_state(self.store, self.site.id)
        if row is None:
            return None
        try:
            det = Detector.from_bytes(row[1], self.wcfg.detect)
        except (ValueError, KeyError, OSError):
            log.warning("site %s: detector state unreadable; learning anew", self.site.domain)
            return None
        if det.next_minute is None:
            det.next_minute = row[0]
        return det

    def save(self) -> None:
        if self.det is not None and self.det.next_minute is not None:
            sq.save_state(self.store, self.site.id, self.det.next_minute, self.det.to_bytes(),
                          1)
            self._saved_at = time.monotonic()

    def horizon(self, now: datetime | None = None) -> int | None:
        """The minute up to which data can be scored: the wall clock (less a minute for
        late events) while events are arriving, else the last event's minute (historical
        data: silence after an import is not an outage)."""
        _, last = sq.event_bounds(self.store, self.site.id)
        if last is None:
            return None
        now_m = minute_of(now or datetime.now(UTC)) - LIVE_LAG_MINUTES
        last_m = minute_of(last) + 1
        if now_m - last_m <= LIVE_WITHIN_MINUTES:
            return max(now_m, last_m)
        return last_m

    def tick(self, now: datetime | None = None) -> list[tuple[str, dict[str, Any]]]:
        """One round: score the minutes that became complete since the last round."""
        began = time.process_time()
        if self.det is None:
            self.det = self._load()
        hi = self.horizon(now)
        if hi is None:
            return []
        events: list[tuple[str, dict[str, Any]]] = []
        if self.det is None:
            first, _ = sq.event_bounds(self.store, self.site.id)
            det = Detector(self.wcfg.detect, self.site.timezone, self.wcfg.detect.bundesland,
                           self.session_timeout)
            start = _floor_hour(max(minute_of(first), hi - PRIME_HISTORY_DAYS * DAY))
            det.emit = False
            replay(self.store, self.site, det, start, hi)
            det.emit = True
            self.det = det
            self.save()
        elif hi > (self.det.next_minute or hi):
            events = replay(self.store, self.site, self.det, self.det.next_minute, hi)
            if events or time.monotonic() - self._saved_at >= self.wcfg.persist_minutes * 60:
                self.save()
        self.last_round = {"scored_until": ts_of(self.det.next_minute or hi),
                           "cpu_seconds": round(time.process_time() - began, 4),
                           "signals": self.det.reg.n_signals}
        return events
