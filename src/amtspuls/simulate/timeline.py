"""Time: local days and their UTC bounds (DST-correct), holidays, daily volume
factors, hour-of-day sampling, and seasonal demand per service."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays
import numpy as np

from amtspuls.simulate.config import SimConfig

MS_HOUR = 3_600_000
MS_DAY = 86_400_000


class Clock:
    """Local days of the run in UTC milliseconds, and the zone's UTC offset at any instant."""

    def __init__(self, start: date, days: int, tz: str) -> None:
        self.zone = ZoneInfo(tz)
        self.start = start
        self.days = days
        extra = 3  # visits and events may run past the last local midnight
        self.dates = [start + timedelta(days=i) for i in range(days + extra)]
        self.day_start = np.array(
            [self._utc_ms(d) for d in self.dates]
            + [self._utc_ms(start + timedelta(days=days + extra))],
            dtype=np.int64,
        )
        # Offset changes inside the window (hour resolution is exact for Europe/Berlin).
        t0, t1 = int(self.day_start[0]), int(self.day_start[-1])
        trans_t, trans_off = [t0], [self._offset_min(t0)]
        for t in range(t0 + MS_HOUR, t1 + 1, MS_HOUR):
            off = self._offset_min(t)
            if off != trans_off[-1]:
                trans_t.append(t)
                trans_off.append(off)
        self.trans_t = np.array(trans_t, dtype=np.int64)
        self.trans_off = np.array(trans_off, dtype=np.int64)

    def _utc_ms(self, d: date) -> int:
        local = datetime(d.year, d.month, d.day, tzinfo=self.zone)
        return int(local.astimezone(UTC).timestamp() * 1000)

    def _offset_min(self, t_ms: int) -> int:
        dt = datetime.fromtimestamp(t_ms / 1000, tz=UTC).astimezone(self.zone)
        off = dt.utcoffset()
        return int(off.total_seconds() // 60) if off is not None else 0

    def offset_min(self, t_ms: np.ndarray) -> np.ndarray:
        i = np.searchsorted(self.trans_t, t_ms, side="right") - 1
        return self.trans_off[np.maximum(i, 0)]

    def local_hour(self, t_ms: np.ndarray) -> np.ndarray:
        local = t_ms + self.offset_min(t_ms) * 60_000
        return (local // MS_HOUR) % 24

    def day_index(self, t_ms: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.day_start, t_ms, side="right") - 1

    def iso(self, t_ms: int) -> str:
        """ISO 8601 in UTC with Z (truth file)."""
        return datetime.fromtimestamp(t_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def iso_local(self, t_ms: int) -> str:
        dt = datetime.fromtimestamp(t_ms / 1000, tz=UTC).astimezone(self.zone)
        return dt.isoformat(timespec="seconds")


class Calendar:
    def __init__(self, cfg: SimConfig, clock: Clock) -> None:
        self.cfg = cfg
        self.clock = clock
        years = range(cfg.start.year - 1, cfg.end.year + 2)
        self.holidays = holidays.country_holidays("DE", subdiv=cfg.bundesland, years=years)
        t = cfg.traffic
        self.hourly = {
            False: np.asarray(t.hourly_weekday, dtype=np.float64),
            True: np.asarray(t.hourly_weekend, dtype=np.float64),
        }

    def is_holiday(self, d: date) -> bool:
        return d in self.holidays

    def weekend_like(self, d: date) -> bool:
        return d.weekday() >= 5 or self.is_holiday(d)

    def is_bridge(self, d: date) -> bool:
        if d.weekday() >= 5 or self.is_holiday(d):
            return False
        prev_, next_ = d - timedelta(days=1), d + timedelta(days=1)
        return (self.is_holiday(prev_) and next_.weekday() == 5) or (
            self.is_holiday(next_) and prev_.weekday() == 6
        )

    def day_factor(self, d: date) -> float:
        """Expected visits on day d relative to visits_per_day (before noise and incidents)."""
        t = self.cfg.traffic
        mean_week = sum(t.weekday_factors) / 7.0
        f = t.weekday_factors[d.weekday()] / mean_week
        if self.is_holiday(d):
            f = min(f, t.holiday_factor)
        elif self.is_bridge(d):
            f *= t.bridge_day_factor
        if (d.month == 12 and d.day >= 24) or (d.month == 1 and d.day == 1):
            f *= t.christmas_factor
        doy = d.timetuple().tm_yday
        if 196 <= doy <= 228:
            f *= t.summer_holiday_factor
        return f

    def hour_weights(self, d: date) -> np.ndarray:
        """Weights per elapsed hour of the local day (23, 24 or 25 hours with DST)."""
        c = self.clock
        i = c.dates.index(d)
        t0, t1 = int(c.day_start[i]), int(c.day_start[i + 1])
        hours = c.local_hour(np.arange(t0, t1, MS_HOUR, dtype=np.int64))
        return self.hourly[self.weekend_like(d)][hours]

    def sample_times(self, rng: np.random.Generator, d: date, n: int) -> np.ndarray:
        """n visit start instants (UTC ms) on local day d, following the hourly profile."""
        c = self.clock
        i = c.dates.index(d)
        w = self.hour_weights(d)
        h = np.searchsorted(np.cumsum(w / w.sum()), rng.random(n))
        h = np.minimum(h, len(w) - 1)
        frac = rng.random(n)
        ms = (h + frac) * MS_HOUR
        return (c.day_start[i] + ms).astype(np.int64)


def season_matrix(cfg: SimConfig, services, dates: list[date]) -> np.ndarray:
    """Multiplier of each service's demand per day: 1 + sum of seasonal bumps, plus elections."""
    out = np.ones((len(dates), len(services)), dtype=np.float64)
    doy = np.array([d.timetuple().tm_yday for d in dates], dtype=np.float64)
    for s in services:
        for peak, width, amp in s.season:
            dist = np.abs(doy - peak)
            dist = np.minimum(dist, 365.0 - dist)
            out[:, s.idx] += amp * np.exp(-0.5 * (dist / width) ** 2)
    by_id = {s.id: s.idx for s in services}
    elections = cfg.election_dates()
    for k, d in enumerate(dates):
        for e in elections:
            before = (e - d).days
            if "briefwahl" in by_id and 2 <= before <= 45:
                out[k, by_id["briefwahl"]] += 45.0 * np.exp(-0.5 * ((before - 14) / 8.0) ** 2)
            if "wahllokal" in by_id and -1 <= before <= 10:
                out[k, by_id["wahllokal"]] += 60.0 * np.exp(-0.5 * (before / 2.0) ** 2)
            if "wahlhelfer" in by_id and 14 <= before <= 70:
                out[k, by_id["wahlhelfer"]] += 10.0 * np.exp(-0.5 * ((before - 40) / 14.0) ** 2)
    return out
