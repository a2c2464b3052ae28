"""The streaming detector: a seasonal baseline per signal, updated incrementally every
hour, and tail-probability scores of sliding-window counts every minute.

Baseline of a count signal s in the hour h (local hour-of-week slot j; public holidays
of the Bundesland count as Sundays, 24 and 31 December as Saturdays):

    E[s, h] = slot[s, j] × level[s] × year[s]

- slot[s, j]: gamma-Poisson posterior mean of the counts seen in slot j (exponentially
  forgetting over `slot_memory_weeks`), shrunk towards the signal's average rate times
  its parent's hour-of-week profile (site traffic), so that a service seen 3 times a day
  borrows the site's rhythm while a busy one keeps its own;
- level[s]: observed / expected over the last days (half-life `level_half_life_hours`),
  which follows slow seasonal change;
- year[s]: with more than a year of history, last year's change from the past week to the
  coming one.

Counts in a window are scored against NB(mean Σ E, shape 1/φ[s]) where φ is the signal's
over-dispersion estimated from its hourly residuals. Rate signals (errors per form start,
searches without results per search …) are scored as numerator counts against
denominator × gamma posterior of the rate. Hours in an open alert do not teach the
baseline (for at most `max_alert_learning_pause_hours`), and other hours teach it
clipped to ±4 standard deviations, so an incident does not become the new normal.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import holidays as holidays_lib
import numpy as np
import pyarrow as pa

from amtspuls.analyze.detect.config import DetectConfig
from amtspuls.analyze.detect.scoring import tail_down, tail_up, zscore
from amtspuls.analyze.signals import FAMILIES, SITE, Registry, VisitCounter, chunk_matrix
from amtspuls.analyze.signals import service_of_key as _service_of_key

STATE_VERSION = 1
HISTORY = 1500  # minutes of per-minute history kept (longest window + rate lag)
SLOTS = 168
YEAR_DAYS = 400
DISPERSION_PRIOR = 0.01
DISPERSION_PRIOR_DAYS = 7.0
DISPERSION_DAYS = 28
Z_SCREEN = 3.0
HOLIDAY_PRIOR = 0.85  # holidays are a little quieter than Sundays …
HOLIDAY_PRIOR_WEIGHT = 200.0  # … until the traffic of a few holiday hours says otherwise
# Slots pooled for the parent profile: the same hour on Mon–Fri, Saturday, Sunday.
_POOL = [np.array([d * 24 + j % 24 for d in ((0, 1, 2, 3, 4) if j // 24 < 5 else (j // 24,))])
         for j in range(168)]
_ANY_DAY = [np.array([d * 24 + j % 24 for d in range(7)]) for j in range(168)]


def minute_of(ts: datetime) -> int:
    """Epoch minute of a naive-UTC or aware timestamp."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return int(ts.timestamp() // 60)


def ts_of(minute: int) -> datetime:
    """Naive UTC timestamp of an epoch minute."""
    return datetime(1970, 1, 1) + timedelta(minutes=int(minute))


def iso(minute: int) -> str:
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(minutes=int(minute))).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


class Calendar:
    """Local hour-of-week slot of each UTC hour; holidays of a Bundesland count as Sundays."""

    def __init__(self, timezone: str, bundesland: str | None) -> None:
        self.zone = ZoneInfo(timezone)
        self.bundesland = bundesland
        try:
            self.holidays = holidays_lib.country_holidays("DE", subdiv=bundesland)
        except NotImplementedError:
            self.holidays = holidays_lib.country_holidays("DE")
        self._slot = lru_cache(maxsize=4096)(self._slot_uncached)

    def local(self, hour: int) -> datetime:
        return datetime.fromtimestamp(hour * 3600, tz=UTC).astimezone(self.zone)

    def day_type(self, d: date) -> int:
        """0–6 Monday…Sunday; holidays 6, 24 and 31 December 5."""
        if d in self.holidays:
            return 6
        if d.month == 12 and d.day in (24, 31):
            return max(5, d.weekday())
        return d.weekday()

    def special(self, d: date) -> bool:
        """Public holidays and 24/31 December: predicted from Sunday's (Saturday's) slots
        times the site's holiday factor, and not learnt into those slots."""
        return d in self.holidays or (d.month == 12 and d.day in (24, 31))

    def bridge(self, d: date) -> bool:
        """A working day between a holiday and the weekend: quieter, not learnt."""
        if d.weekday() >= 5 or d in self.holidays:
            return False
        return ((d - timedelta(days=1)) in self.holidays and d.weekday() == 4) or (
            (d + timedelta(days=1)) in self.holidays and d.weekday() == 0)

    def _slot_uncached(self, hour: int) -> tuple[int, int, bool, bool]:
        loc = self.local(hour)
        d = loc.date()
        special = self.special(d)
        return (self.day_type(d) * 24 + loc.hour, d.toordinal(), special,
                special or self.bridge(d))

    def slot(self, hour: int) -> tuple[int, int]:
        """(slot 0–167, local date ordinal) of the UTC hour `hour` (epoch hours)."""
        j, ordinal, _, _ = self._slot(hour)
        return j, ordinal

    def not_learnt(self, hour: int) -> bool:
        """Holidays, 24/31 December and bridge days do not teach the weekly profile."""
        return self._slot(hour)[3]

    def is_special(self, hour: int) -> bool:
        return self._slot(hour)[2]


class Detector:
    """Scores minutes of one site, in order, keeping all state in numpy arrays."""

    def __init__(self, cfg: DetectConfig, timezone: str = "Europe/Berlin",
                 bundesland: str | None = None, session_timeout: int = 30) -> None:
        self.cfg = cfg
        self.timezone = timezone
        self.cal = Calendar(timezone, bundesland or cfg.bundesland)
        self.reg = Registry()
        self.visits = VisitCounter(session_timeout)
        self.next_minute: int | None = None  # first minute not yet scored
        # alerting: open alerts (and pause learning in them); emit: report them. Priming
        # scores without reporting, so that an incident in the history does not become
        # part of the baseline.
        self.alerting = True
        self.emit = True
        s = 0
        self.A = np.zeros((s, SLOTS))
        self.N = np.zeros((s, SLOTS))
        self.Oc = np.zeros(s)
        self.Ec = np.zeros(s)
        self.U2 = np.zeros((s, DISPERSION_DAYS))
        self.IE = np.zeros((s, DISPERSION_DAYS))
        self.disp_n = np.zeros(s)
        self.ra = np.zeros(s)
        self.rb = np.zeros(s)
        self.hours = np.zeros(s)
        self.day_tot = np.zeros(s)
        self.day_obs = np.zeros(s)
        self.day_exp = np.zeros(s)
        self.day_paused = np.zeros(s, dtype=bool)
        self.Y = np.zeros((s, YEAR_DAYS), dtype=np.float32)
        self.days_seen = 0
        self.hol = np.zeros(2)  # observed, expected-as-Sunday traffic on holidays
        self.cur_date: int | None = None
        self.year_factor = np.ones(s)
        self.c_n = np.zeros((s, HISTORY + 1))
        self.c_m = np.zeros((s, HISTORY + 1))
        # Per-hour accumulators and cached expectations.
        self.cur_hour: int | None = None
        self.acc_num = np.zeros(s)
        self.acc_den = np.zeros(s)
        self.E = np.zeros(s)
        self.Eb = np.zeros(s)
        self.rate = np.zeros(s)
        self.shape = np.ones(s)
        self.slot_ready = np.zeros(s, dtype=bool)
        # Alerts: open ones and the last closed one per (signal, direction).
        self.active: dict[tuple[int, str], dict[str, Any]] = {}
        self.closed: dict[tuple[int, str], dict[str, Any]] = {}
        # Optional: (family, key) -> list of per-minute diagnostics (for tuning and tests).
        self.trace: dict[tuple[str, str], list[tuple]] | None = None
        self._static()

    # -- array housekeeping -------------------------------------------------------------
    def _static(self) -> None:
        reg = self.reg
        n = reg.n_signals
        self.is_rate = np.array([reg.family_of(i).kind == "rate" for i in range(n)], dtype=bool)
        disabled = set(self.cfg.disabled)
        self.up_ok = np.array([reg.family_of(i).up and reg.signals[i][0] not in disabled
                               for i in range(n)], dtype=bool)
        news = set(self.cfg.news_groups)
        # Fewer readers of the news section is the news cycle, not an incident.
        self.dn_ok = np.array([reg.family_of(i).down and reg.signals[i][0] not in disabled
                               and reg.signals[i][1] not in news for i in range(n)], dtype=bool)
        self.parent = np.array([reg.parent(i) for i in range(n)], dtype=np.int64)
        self.num_idx = np.array(reg.num, dtype=np.int64)
        pairs = [(s, d) for s, dens in enumerate(reg.den) for d in dens]
        self.den_sig = np.array([p[0] for p in pairs], dtype=np.int64)
        self.den_met = np.array([p[1] for p in pairs], dtype=np.int64)
        self.r0 = np.array([reg.family_of(i).prior_rate for i in range(n)])
        self.w0 = np.array([reg.family_of(i).prior_weight for i in range(n)])
        self.max_shape = np.array([reg.family_of(i).max_shape for i in range(n)])
        self.raise_at = np.array([self.cfg.thresholds.get(reg.signals[i][0], self.cfg.threshold)
                                  for i in range(n)])
        self._n_static = n

    def _grow(self) -> None:
        """Give signals registered since the last call their (empty) state."""
        n_old = self.A.shape[0]
        n = self.reg.n_signals
        if n == n_old and self._n_static == n:
            return
        extra = n - n_old

        def pad(a: np.ndarray, fill: float = 0.0) -> np.ndarray:
            shape = (extra,) + a.shape[1:]
            return np.concatenate([a, np.full(shape, fill, dtype=a.dtype)])

        self.day_paused = np.concatenate([self.day_paused, np.zeros(extra, dtype=bool)])
        for name in ("A", "N", "Oc", "Ec", "U2", "IE", "disp_n", "ra", "rb", "hours", "day_tot",
                     "Y",
                     "day_obs", "day_exp",
                     "c_n", "c_m", "acc_num", "acc_den", "E", "Eb", "rate"):
            setattr(self, name, pad(getattr(self, name)))
        self.year_factor = pad(self.year_factor, 1.0)
        self.shape = pad(self.shape, 1.0)
        self.slot_ready = np.concatenate([self.slot_ready, np.zeros(extra, dtype=bool)])
        self._static()
        if extra and self.cur_hour is not None:
            self._expect(self.cur_hour, only=np.arange(n_old, n))

    # -- baseline ----------------------------------------------------------------------
    def _expect(self, hour: int, only: np.ndarray | None = None) -> None:
        """Expected count per hour (count signals) and rate/shape (rate signals)."""
        cfg = self.cfg
        j, _ = self.cal.slot(hour)
        A, N = self.A, self.N
        asum = A.sum(axis=1)
        nsum = N.sum(axis=1)
        avg = (asum + 0.05) / (nsum + 1.0)
        # Prior for slot j: the signal's average rate times its parent's profile at the
        # same hour of similar days (Mon–Fri pooled, Saturday, Sunday/holiday), so that
        # a slot seen only a few times borrows from the rhythm of the site.
        par = np.where(self.parent >= 0, self.parent, np.arange(len(self.parent)))
        pooled = _POOL[j]
        pa_j = A[np.ix_(par, pooled)].sum(axis=1)
        pn_j = N[np.ix_(par, pooled)].sum(axis=1)
        # A day type not seen yet (the first Saturday): the same hour on any day.
        any_day = _ANY_DAY[j]
        pa_a = A[np.ix_(par, any_day)].sum(axis=1)
        pn_a = N[np.ix_(par, any_day)].sum(axis=1)
        pa_j = np.where(pn_j > 0, pa_j, pa_a)
        pn_j = np.where(pn_j > 0, pn_j, pn_a)
        p_avg = np.maximum(asum[par], 1e-9) / np.maximum(nsum[par], 1e-9)
        prof = np.where((pn_j > 0) & (asum[par] > 0), (pa_j / np.maximum(pn_j, 1e-9)) /
                        np.maximum(p_avg, 1e-12), 1.0)
        # Alerts only in slots whose day type the signal's parent has seen.
        self.slot_ready = N[np.ix_(par, pooled)].sum(axis=1) >= 0.9
        mu0 = np.maximum(avg * prof, 1e-6)
        alpha = cfg.profile_prior
        slot = (A[:, j] + alpha) / (N[:, j] + alpha / mu0)
        level = (self.Oc + cfg.level_prior) / (self.Ec + cfg.level_prior)
        Eb = slot * self.year_factor
        if self.cal.is_special(hour):
            Eb = Eb * self.holiday_factor()
        E = Eb * level
        phi = np.clip(self._dispersion(), cfg.min_dispersion, cfg.max_dispersion)
        shape_count = 1.0 / phi
        a_post = self.ra + self.r0 * self.w0
        b_post = self.rb + self.w0
        rate = a_post / np.maximum(b_post, 1e-9)
        shape_rate = np.minimum(np.maximum(a_post, 1e-3), self.max_shape)
        sel = slice(None) if only is None else only
        self.Eb[sel] = Eb[sel]
        self.E[sel] = E[sel]
        self.rate[sel] = rate[sel]
        self.shape[sel] = np.where(self.is_rate, shape_rate, shape_count)[sel]

    def _dispersion(self) -> np.ndarray:
        """Day-level over-dispersion φ (variance = mean + φ·mean²) per signal: from the
        median squared relative residual of recent days (χ²₁ median 0.455), less the
        Poisson part, blended with a prior while few days are known."""
        n = np.minimum(self.disp_n, DISPERSION_DAYS).astype(np.int64)
        phi = np.full(len(n), DISPERSION_PRIOR)
        have = np.flatnonzero(n >= 3)
        for k in np.unique(n[have]):
            rows = have[n[have] == k]
            med = np.median(self.U2[rows, :k], axis=1)
            inv = self.IE[rows, :k].mean(axis=1)
            est = np.maximum(med / 0.455 - inv, 0.0)
            phi[rows] = (k * est + DISPERSION_PRIOR_DAYS * DISPERSION_PRIOR) / (
                k + DISPERSION_PRIOR_DAYS)
        return phi

    def holiday_factor(self) -> float:
        """Traffic on holidays relative to the Sunday slots (site-wide, learnt)."""
        return (self.hol[0] + HOLIDAY_PRIOR * HOLIDAY_PRIOR_WEIGHT) / (
            self.hol[1] + HOLIDAY_PRIOR_WEIGHT)

    def _daily_mean(self) -> np.ndarray:
        """Mean count per day of each signal (numerator per day for rates)."""
        lam = 0.5 ** (1.0 / self.cfg.rate_half_life_hours)
        eff_hours = np.maximum((1.0 - lam ** self.hours) / (1.0 - lam), 1.0)
        hourly = np.where(self.is_rate, self.rate * self.rb / eff_hours,
                          self.A.sum(axis=1) / np.maximum(self.N.sum(axis=1), 1e-9))
        return 24.0 * hourly

    def _learn(self, hour: int) -> None:
        """Teach the baseline the hour that just ended."""
        cfg = self.cfg
        j, _ = self.cal.slot(hour)
        o = self.acc_num
        n = self.acc_den
        E = self.E
        # Expectations are trusted (to clip against, to correct the level with) once the
        # signal is a day old and its slot has been seen at least twice.
        warm = (self.hours >= min(cfg.warmup_hours, 24)) & (self.N[:, j] >= 1.5)
        paused = np.zeros(len(o), dtype=bool)
        for (s, _d), al in self.active.items():
            if (hour * 60 - al["detected"]) < cfg.max_alert_learning_pause_hours * 60:
                paused[s] = True
        shape = self.shape
        sd = np.sqrt(E + E * E / np.maximum(shape, 1e-9))
        oc = np.where(warm, np.clip(o, np.maximum(0.0, E - 4 * sd), E + 4 * sd + 2), o)
        cnt = ~self.is_rate & ~paused
        slots = cnt.copy()
        if self.cal.not_learnt(hour):
            slots = np.zeros_like(slots)
        if self.cal.is_special(hour):
            t = self.reg.signal_index.get(("traffic", SITE))
            if t is not None and warm[t] and not paused[t] and self.E[t] > 0:
                factor = self.holiday_factor()
                self.hol[0] += oc[t]
                self.hol[1] += self.E[t] / factor
            cnt = np.zeros_like(cnt)
            self.day_paused[:] = True
        if self.cal.not_learnt(hour):
            cnt = np.zeros_like(cnt)
            self.day_paused[:] = True
        delta = 1.0 - 1.0 / (cfg.slot_memory_weeks)
        self.A[slots, j] = delta * self.A[slots, j] + oc[slots]
        self.N[slots, j] = delta * self.N[slots, j] + 1.0
        lvl = cnt & warm
        lam_c = 0.5 ** (1.0 / cfg.level_half_life_hours)
        self.Oc[lvl] = lam_c * self.Oc[lvl] + oc[lvl]
        self.Ec[lvl] = lam_c * self.Ec[lvl] + self.Eb[lvl]
        self.day_obs[lvl] += oc[lvl]
        self.day_exp[lvl] += E[lvl]
        self.day_paused |= paused | (cnt & ~warm)
        # Rates.
        rt = self.is_rate & ~paused
        mu = n * self.rate
        cap = mu + 4 * np.sqrt(mu * (1 + mu / np.maximum(shape, 1e-9))) + 2
        kc = np.where(self.hours >= min(cfg.warmup_hours, 24), np.minimum(o, cap), o)
        lam_r = 0.5 ** (1.0 / cfg.rate_half_life_hours)
        self.ra[rt] = lam_r * self.ra[rt] + kc[rt]
        self.rb[rt] = lam_r * self.rb[rt] + n[rt]
        self.hours += 1.0
        self.day_tot += np.where(self.is_rate, 0.0, oc)

    def _new_day(self, ordinal: int) -> None:
        """Local midnight: learn the over-dispersion from yesterday's total against its
        expectation (day-level errors are what persists across a window), file
        yesterday's totals, compute this day's yearly factor."""
        if self.cur_date is not None and ordinal != self.cur_date:
            ok = (self.day_exp > 0) & ~self.day_paused & ~self.is_rate
            o, e = self.day_obs[ok], np.maximum(self.day_exp[ok], 1e-9)
            # Squared relative residuals of the last DISPERSION_DAYS days; their median
            # (robust to a few odd days, such as an incident's first) gives the dispersion.
            pos = (self.disp_n[ok] % DISPERSION_DAYS).astype(np.int64)
            rows = np.flatnonzero(ok)
            self.U2[rows, pos] = ((o - e) / e) ** 2
            self.IE[rows, pos] = 1.0 / e
            self.disp_n[ok] += 1
            self.day_obs[:] = 0.0
            self.day_exp[:] = 0.0
            self.day_paused[:] = False
        if self.cur_date is not None and ordinal != self.cur_date:
            pos = self.days_seen % YEAR_DAYS
            self.Y[:, pos] = self.day_tot
            self.days_seen += 1
            self.day_tot[:] = 0.0
        self.cur_date = ordinal
        self.year_factor = np.ones(self.A.shape[0])
        if self.days_seen >= 372:
            # Days are filed in order; index of "k days ago" (k=1: yesterday).
            def ago(k: int) -> int:
                return (self.days_seen - k) % YEAR_DAYS

            coming = sum(self.Y[:, ago(364 - i)] for i in range(7))  # same week last year
            before = sum(self.Y[:, ago(371 - i)] for i in range(7))  # the week before it
            beta = 20.0
            self.year_factor = np.clip((coming + beta) / (before + beta), 0.5, 2.0)

    def _start_hour(self, hour: int) -> None:
        _, ordinal = self.cal.slot(hour)
        if ordinal != self.cur_date:
            self._new_day(ordinal)
        self.cur_hour = hour
        self.acc_num[:] = 0.0
        self.acc_den[:] = 0.0
        self._expect(hour)

    # -- scoring -----------------------------------------------------------------------
    def process(self, pages: pa.Table, counts: pa.Table, lo: int, hi: int
                ) -> list[tuple[str, dict[str, Any]]]:
        """Score minutes [lo, hi) from their facts; returns alert events
        (`raised`, `reopened`, `closed`) with the alert as a dict."""
        if self.next_minute is not None and lo != self.next_minute:
            raise ValueError(f"minutes must be scored in order: expected {self.next_minute}")
        X = chunk_matrix(self.reg, self.visits, pages, counts, lo, hi)
        self._grow()
        events: list[tuple[str, dict[str, Any]]] = []
        m = lo
        while m < hi:
            hour = m // 60
            end = min(hi, (hour + 1) * 60)
            if self.cur_hour != hour:
                self._start_hour(hour)
            events.extend(self._score(X[:, m - lo:end - lo], m))
            if end == (hour + 1) * 60:
                self._learn(hour)
                self.cur_hour = None
            m = end
        self.next_minute = hi
        return events if self.emit else []

    def _signal_rows(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        num = X[self.num_idx]
        den = np.zeros_like(num)
        if len(self.den_sig):
            np.add.at(den, self.den_sig, X[self.den_met])
        return num, den

    def _score(self, X: np.ndarray, m0: int) -> list[tuple[str, dict[str, Any]]]:
        cfg = self.cfg
        w = X.shape[1]
        num, den = self._signal_rows(X)
        mu = np.where(self.is_rate[:, None], den * self.rate[:, None],
                      (self.E / 60.0)[:, None] * np.ones((1, w)))
        self.acc_num += num.sum(axis=1)
        self.acc_den += den.sum(axis=1)
        # Prefix sums of the last HISTORY minutes and this chunk, kept incrementally: a
        # window sum is a difference of two columns.
        cs_n = np.concatenate([self.c_n, self.c_n[:, -1:] + np.cumsum(num, axis=1)], axis=1)
        cs_m = np.concatenate([self.c_m, self.c_m[:, -1:] + np.cumsum(mu, axis=1)], axis=1)
        self.c_n = cs_n[:, -(HISTORY + 1):]
        self.c_m = cs_m[:, -(HISTORY + 1):]
        events: list[tuple[str, dict[str, Any]]] = []
        if not self.alerting and not self.active:
            return events
        S = len(num)
        end_idx = np.arange(HISTORY + 1, HISTORY + w + 1)
        e0 = HISTORY + 1
        n_win = len(cfg.windows)
        bonf = math.log10(n_win)
        best_up = np.zeros((S, w))
        best_dn = np.zeros((S, w))
        win_up = np.zeros((S, w), dtype=np.int64)
        win_dn = np.zeros((S, w), dtype=np.int64)
        shape = np.broadcast_to(self.shape[:, None], (S, w))
        ready = ((self.hours >= cfg.warmup_hours) & self.slot_ready)[:, None]
        up_ok = self.up_ok[:, None] & ready
        dn_ok = self.dn_ok[:, None] & ready
        lag = cfg.rate_lag_minutes
        rate_rows = self.is_rate[:, None]
        min_excess = np.maximum(cfg.min_count - 1,
                                cfg.min_excess_share * self._daily_mean())[:, None]
        top = cs_n[:, e0:e0 + w]
        top_m = cs_m[:, e0:e0 + w]
        for wi, W in enumerate(cfg.windows):
            K = np.rint(top - cs_n[:, e0 - W:e0 - W + w])
            M = np.where(rate_rows, top_m - cs_m[:, e0 - W - lag:e0 - W - lag + w],
                         top_m - cs_m[:, e0 - W:e0 - W + w])
            M = np.maximum(M, 0.0)
            z = zscore(K, M, shape)
            up = (up_ok & (z > Z_SCREEN) & (cfg.min_count <= K)
                  & (cfg.min_ratio_up * M <= K) & (min_excess <= K - M))
            dn = (dn_ok & (z < -Z_SCREEN) & (cfg.min_expected_down <= M)
                  & (cfg.max_ratio_down * M >= K) & (min_excess <= M - K))
            if up.any():
                ii, jj = np.nonzero(up)
                sc = -np.log10(tail_up(K[ii, jj], M[ii, jj], shape[ii, jj])) - bonf
                better = sc > best_up[ii, jj]
                best_up[ii[better], jj[better]] = sc[better]
                win_up[ii[better], jj[better]] = wi
            if dn.any():
                ii, jj = np.nonzero(dn)
                sc = -np.log10(tail_down(K[ii, jj], M[ii, jj], shape[ii, jj])) - bonf
                better = sc > best_dn[ii, jj]
                best_dn[ii[better], jj[better]] = sc[better]
                win_dn[ii[better], jj[better]] = wi
        if self.trace is not None:
            self._trace(m0, best_up, best_dn, num, mu, cs_n, cs_m, end_idx)
        raise_at = self.raise_at
        touched = set(np.flatnonzero((best_up >= cfg.keep_threshold).any(axis=1)).tolist())
        touched |= set(np.flatnonzero((best_dn >= cfg.keep_threshold).any(axis=1)).tolist())
        touched |= {s for s, _ in self.active}
        for s in sorted(touched):
            for d, best, win in (("up", best_up, win_up), ("down", best_dn, win_dn)):
                if (s, d) not in self.active and best[s].max() < raise_at[s]:
                    continue
                for i in range(w):
                    ev = self._step(s, d, m0 + i, float(best[s, i]), int(win[s, i]),
                                    cs_n, cs_m, end_idx[i], num[s, i], mu[s, i],
                                    float(raise_at[s]))
                    if ev is not None:
                        events.append(ev)
        return events

    def _trace(self, m0: int, best_up: np.ndarray, best_dn: np.ndarray, num: np.ndarray,
               mu: np.ndarray, cs_n: np.ndarray, cs_m: np.ndarray, end_idx: np.ndarray) -> None:
        assert self.trace is not None
        for key, rows in self.trace.items():
            s = self.reg.signal_index.get(key)
            if s is None:
                continue
            for i in range(len(end_idx)):
                wins = [self._window(cs_n, cs_m, s, int(end_idx[i]), W) for W in self.cfg.windows]
                rows.append((m0 + i, float(num[s, i]), float(mu[s, i]), float(best_up[s, i]),
                             float(best_dn[s, i]), wins, float(self.shape[s])))

    # -- alert life cycle --------------------------------------------------------------
    def _step(self, s: int, d: str, minute: int, score: float, wi: int, cs_n: np.ndarray,
              cs_m: np.ndarray, end: int, k: float, mu: float, threshold: float
              ) -> tuple[str, dict[str, Any]] | None:
        cfg = self.cfg
        key = (s, d)
        al = self.active.get(key)
        if al is not None:
            al["obs_run"] += k
            al["exp_run"] += mu
            if score >= cfg.keep_threshold:
                al["last"] = minute
                al["observed"] = al["obs_run"]
                al["expected"] = al["exp_run"]
                if score > al["score"]:
                    al["score"] = score
                    self._window_evidence(al, wi, cs_n, cs_m, end, minute)
                return None
            if minute - al["last"] >= cfg.quiet_minutes:
                del self.active[key]
                al["status"] = "closed"
                self.closed[key] = al
                return "closed", self.public(al)
            return None
        if score < threshold or not self.alerting:
            return None
        prev = self.closed.get(key)
        if prev is not None and minute - prev["last"] <= cfg.cooldown_minutes:
            # Same signal again within the cool-down: continue that alert, no new message.
            prev["status"] = "open"
            gap_n = cs_n[s, end] - cs_n[s, max(0, end - (minute - prev["last"]))]
            gap_m = cs_m[s, end] - cs_m[s, max(0, end - (minute - prev["last"]))]
            prev["obs_run"] = prev["observed"] + gap_n
            prev["exp_run"] = prev["expected"] + gap_m
            prev["last"] = minute
            prev["observed"], prev["expected"] = prev["obs_run"], prev["exp_run"]
            prev["score"] = max(prev["score"], score)
            self.active[key] = prev
            del self.closed[key]
            return "reopened", self.public(prev)
        W = cfg.windows[wi]
        family, skey = self.reg.signals[s]
        K, M = self._window(cs_n, cs_m, s, end, W)
        al = {
            "uid": f"{family}|{skey}|{d}|{minute}",
            "s": s,
            "signal": family,
            "key": skey,
            "direction": d,
            "start": minute - W + 1,
            "detected": minute,
            "last": minute,
            "score": score,
            "obs_run": K,
            "exp_run": M,
            "observed": K,
            "expected": M,
            "status": "open",
            "evidence": {},
        }
        self._window_evidence(al, wi, cs_n, cs_m, end, minute)
        self.active[key] = al
        return "raised", self.public(al)

    def _window(self, cs_n: np.ndarray, cs_m: np.ndarray, s: int, end: int, W: int
                ) -> tuple[float, float]:
        lag = self.cfg.rate_lag_minutes if self.is_rate[s] else 0
        return (float(round(cs_n[s, end] - cs_n[s, end - W])),
                float(cs_m[s, end] - cs_m[s, end - W - lag]))

    def _window_evidence(self, al: dict[str, Any], wi: int, cs_n: np.ndarray, cs_m: np.ndarray,
                         end: int, minute: int) -> None:
        s = al["s"]
        W = self.cfg.windows[wi]
        K, M = self._window(cs_n, cs_m, s, end, W)
        al["evidence"].update({
            "window_minutes": W,
            "window_end": iso(minute + 1),
            "window_observed": round(K, 3),
            "window_expected": round(M, 3),
            "p_value": float(10 ** -(al["score"] + math.log10(len(self.cfg.windows)))),
        })

    def public(self, al: dict[str, Any]) -> dict[str, Any]:
        """The alert as reported: {signal, service_id, start, end, observed, expected,
        score, severity, direction, evidence} plus uid/key for storage."""
        fam = FAMILIES[al["signal"]]
        observed = round(float(al["observed"]), 3)
        expected = round(float(al["expected"]), 3)
        ratio = (observed / expected) if expected > 0 else None
        ev = dict(al["evidence"])
        s = al["s"]
        ev.update({
            "detected_at": iso(al["detected"]),
            "label_de": fam.label_de,
            "kind": fam.kind,
            "ratio": round(ratio, 3) if ratio is not None else None,
            "baseline": {
                "dispersion": round(1.0 / float(self.shape[s]), 5) if fam.kind == "count"
                else None,
                "rate": round(float(self.rate[s]), 6) if fam.kind == "rate" else None,
                "hours_of_history": int(self.hours[s]),
            },
        })
        if al["key"].startswith("/"):
            ev["page_group"] = al["key"]
        elif al["key"] != SITE and fam.name == "requests":
            ev["category"] = al["key"]
        ev["message_de"] = message_de(fam.label_de, al["key"], al["direction"],
                                      ev["window_observed"], ev["window_expected"],
                                      ev["window_minutes"])
        critical = (al["score"] >= self.cfg.threshold + 5 or fam.name == "submit_error_rate"
                    or (fam.name == "traffic" and al["direction"] == "down"))
        return {
            "signal": al["signal"],
            "service_id": _service_of_key(al["key"], al["signal"]),
            "start": iso(al["start"]),
            "end": iso(al["last"]),
            "observed": observed,
            "expected": expected,
            "score": round(float(al["score"]), 2),
            "severity": "critical" if critical else "warning",
            "direction": al["direction"],
            "evidence": ev,
            "uid": al["uid"],
            "key": al["key"],
            "status": al["status"],
        }

    def open_alerts(self) -> list[dict[str, Any]]:
        return [self.public(a) for a in self.active.values()]

    # -- persistence -------------------------------------------------------------------
    ARRAYS = ("A", "N", "Oc", "Ec", "U2", "IE", "disp_n", "ra", "rb", "hours", "day_tot", "Y",
              "day_obs", "day_exp", "day_paused", "slot_ready", "hol",
              "year_factor", "c_n", "c_m", "acc_num", "acc_den", "E", "Eb", "rate", "shape")

    def to_bytes(self) -> bytes:
        meta = {
            "version": STATE_VERSION,
            "cfg": asdict(self.cfg),
            "timezone": self.timezone,
            "bundesland": self.cal.bundesland,
            "registry": self.reg.to_json(),
            "next_minute": self.next_minute,
            "cur_hour": self.cur_hour,
            "cur_date": self.cur_date,
            "days_seen": self.days_seen,
            "active": [[s, d, al] for (s, d), al in self.active.items()],
            "closed": [[s, d, al] for (s, d), al in self.closed.items()],
            "session_timeout": self.visits.timeout,
        }
        arrays = {name: getattr(self, name) for name in self.ARRAYS}
        # Prefix sums compress badly; their per-minute steps (small counts) compress well.
        for name in ("c_n", "c_m"):
            c = arrays.pop(name)
            arrays[name + "_0"] = c[:, :1]
            arrays[name + "_d"] = np.diff(c, axis=1).astype(np.float32)
        arrays.update(self.visits.to_arrays())
        buf = io.BytesIO()
        np.savez_compressed(buf, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
                            **arrays)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes, cfg: DetectConfig | None = None) -> Detector:
        with np.load(io.BytesIO(blob)) as z:
            meta = json.loads(bytes(z["meta"]).decode())
            if meta.get("version") != STATE_VERSION:
                raise ValueError("detector state of another version")
            if cfg is None:
                stored = meta["cfg"]
                stored["windows"] = tuple(stored["windows"])
                stored["disabled"] = tuple(stored.get("disabled", ()))
                stored["news_groups"] = tuple(stored.get("news_groups", ()))
                cfg = DetectConfig(**stored)
            det = cls(cfg, meta["timezone"], meta["bundesland"], meta["session_timeout"])
            det.reg = Registry.from_json(meta["registry"])
            for name in ("c_n", "c_m"):
                base, steps = z[name + "_0"], z[name + "_d"].astype(np.float64)
                setattr(det, name, np.concatenate([base, base + np.cumsum(steps, axis=1)],
                                                  axis=1))
            for name in cls.ARRAYS:
                if name in ("c_n", "c_m"):
                    continue
                kind = {"Y": np.float32, "day_paused": bool, "slot_ready": bool}.get(
                    name, np.float64)
                setattr(det, name, z[name].astype(kind))
            det.visits.load_arrays({k: z[k] for k in ("visit_sess", "visit_key",
                                                      "visit_minute")})
        det.next_minute = meta["next_minute"]
        det.cur_hour = meta["cur_hour"]
        det.cur_date = meta["cur_date"]
        det.days_seen = meta["days_seen"]
        det.active = {(s, d): al for s, d, al in meta["active"]}
        det.closed = {(s, d): al for s, d, al in meta["closed"]}
        det._static()
        return det


def _fmt(x: float) -> str:
    if abs(x - round(x)) < 1e-9:
        return f"{int(round(x)):,}".replace(",", ".")
    return f"{x:,.1f}".replace(",", "X").replace(".", ",").replace("X", ".")


def message_de(label: str, key: str, direction: str, observed: float, expected: float,
               minutes: int) -> str:
    """One German sentence for people: what, where, how much."""
    from amtspuls.catalog import by_id

    if key == SITE:
        where = "gesamte Website"
    elif key.startswith("/"):
        where = f"Seitenbereich {key}"
    else:
        svc = by_id().get(key)
        where = svc.name_de if svc else key
    span = f"{minutes} Minuten" if minutes < 120 else f"{minutes // 60} Stunden"
    change = "ungewöhnlich hoch" if direction == "up" else "ungewöhnlich niedrig"
    return (f"{label} ({where}) {change}: {_fmt(observed)} in den letzten {span}, "
            f"erwartet {_fmt(expected)}.")
