"""Demand forecasts: daily visits and form submissions per service for the next 7–28
days with 80 % and 95 % intervals, a weekly staffing view per department, and a
rolling-origin backtest against the weekly seasonal-naive forecast.

The model is a log-linear count regression fitted with statsmodels (GLM, Poisson family,
quasi-likelihood scale):

    log E[y_t] = level + weekday effect + holiday/bridge/Christmas effects
                 + yearly Fourier terms (with two years of history)

Recent days weigh more (exponential weights, half-life `half_life` days), so the level
follows slow change; days far off the first fit (an incident) are down-weighted in a
second fit. Public holidays of the Bundesland count as Sundays unless the history holds
enough of them to estimate their own effect. Intervals are quantiles of a negative
binomial whose dispersion adds the day-to-day over-dispersion (moment estimate), the
uncertainty of the fitted mean, and a level drift growing with the horizon.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import holidays as holidays_lib
import numpy as np
from scipy import stats

from amtspuls.catalog import NONE, by_id
from amtspuls.errors import UserError
from amtspuls.model import Site
from amtspuls.store import DuckDBStore
from amtspuls.store import signals as sq

LEVELS = (80, 95)
MIN_TRAIN_DAYS = 21
BACKTEST_MIN_VISITS = 20.0


@dataclass
class ModelConfig:
    freq: str = "D"  # D (daily) or W (weekly)
    half_life: float = 21.0  # in periods
    robust_z: float = 3.5  # Pearson residual above which a period is down-weighted
    robust_weight: float = 0.05
    drift: float = 0.0004  # level variance added per period of horizon (log scale)
    yearly_terms: int = 3
    min_years_for_yearly: float = 2.0
    max_dispersion: float = 2.0
    # Local linear trend, damped per period in the forecast (None: no trend).
    trend_damping: float | None = 0.85

    @property
    def season(self) -> int:
        return 7 if self.freq == "D" else 52


class HolidayCalendar:
    def __init__(self, bundesland: str | None) -> None:
        try:
            self.holidays = holidays_lib.country_holidays("DE", subdiv=bundesland)
        except NotImplementedError:
            self.holidays = holidays_lib.country_holidays("DE")

    def is_holiday(self, d: date) -> bool:
        return d in self.holidays

    def is_bridge(self, d: date) -> bool:
        if d.weekday() >= 5 or d in self.holidays:
            return False
        prev_, next_ = d - timedelta(days=1), d + timedelta(days=1)
        return (prev_ in self.holidays and next_.weekday() == 5) or (
            next_ in self.holidays and prev_.weekday() == 6)

    @staticmethod
    def is_christmas(d: date) -> bool:
        return (d.month == 12 and d.day >= 24) or (d.month == 1 and d.day == 1)

    def holidays_in_week(self, monday: date) -> int:
        return sum((monday + timedelta(days=i)) in self.holidays for i in range(5))


def _fourier(periods: Sequence[date], k: int) -> np.ndarray:
    doy = np.array([d.timetuple().tm_yday for d in periods], dtype=np.float64)
    cols = []
    for i in range(1, k + 1):
        cols.append(np.sin(2 * np.pi * i * doy / 365.25))
        cols.append(np.cos(2 * np.pi * i * doy / 365.25))
    return np.column_stack(cols) if cols else np.zeros((len(periods), 0))


class Design:
    """Regressors of a series, decided on its training periods and reused for forecasts."""

    def __init__(self, train: Sequence[date], cal: HolidayCalendar, cfg: ModelConfig) -> None:
        self.cal = cal
        self.cfg = cfg
        self.last = train[-1]
        self.step = 1 if cfg.freq == "D" else 7
        self.yearly = cfg.yearly_terms if len(train) >= cfg.min_years_for_yearly * (
            365 if cfg.freq == "D" else 52) else 0
        if cfg.freq == "D":
            hol = sum(cal.is_holiday(d) and d.weekday() < 6 for d in train)
            self.own_holiday = hol >= 3
            self.bridge = sum(cal.is_bridge(d) for d in train) >= 2
            self.xmas = sum(cal.is_christmas(d) and not cal.is_holiday(d) for d in train) >= 3
        else:
            self.holiday_weeks = sum(cal.holidays_in_week(d) > 0 for d in train) >= 3

    def _trend(self, d: date) -> float:
        """Time in units of 30 periods: negative in the history, damped ahead."""
        k = (d - self.last).days // self.step
        if k <= 0:
            return k / 30.0
        phi = float(self.cfg.trend_damping or 0.0)
        return (phi * (1 - phi ** k) / (1 - phi) if phi < 1 else float(k)) / 30.0

    def matrix(self, periods: Sequence[date]) -> np.ndarray:
        cal = self.cal
        n = len(periods)
        cols = [np.ones(n)]
        if self.cfg.freq == "D":
            dow = np.array([6 if (cal.is_holiday(d) and not self.own_holiday) else d.weekday()
                            for d in periods])
            for k in range(1, 7):
                cols.append((dow == k).astype(np.float64))
            if self.own_holiday:
                cols.append(np.array([float(cal.is_holiday(d)) for d in periods]))
            if self.bridge:
                cols.append(np.array([float(cal.is_bridge(d)) for d in periods]))
            if self.xmas:
                cols.append(np.array([float(cal.is_christmas(d) and not cal.is_holiday(d))
                                      for d in periods]))
        elif self.holiday_weeks:
            cols.append(np.array([float(cal.holidays_in_week(d)) for d in periods]))
        if self.cfg.trend_damping is not None:
            cols.append(np.array([self._trend(d) for d in periods]))
        if self.yearly:
            return np.column_stack([*cols, _fourier(periods, self.yearly)])
        return np.column_stack(cols)


@dataclass
class Fit:
    params: np.ndarray
    cov: np.ndarray
    dispersion: float
    design: Design
    last: date
    n_train: int


def fit_series(y: np.ndarray, periods: Sequence[date], cal: HolidayCalendar,
               cfg: ModelConfig) -> Fit:
    """Fit the count regression to one series (statsmodels GLM)."""
    import statsmodels.api as sm

    y = np.asarray(y, dtype=np.float64)
    design = Design(periods, cal, cfg)
    X = design.matrix(periods)
    n = len(y)
    age = np.arange(n - 1, -1, -1, dtype=np.float64)
    w = 0.5 ** (age / cfg.half_life)
    # Columns that are constant zero in the training data cannot be estimated.
    keep = np.ones(X.shape[1], dtype=bool)
    keep[1:] = np.abs(X[:, 1:]).sum(axis=0) > 0
    Xk = X[:, keep]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = _glm(sm, y, Xk, w)
        mu = res.predict(Xk)
        z = (y - mu) / np.sqrt(np.maximum(mu, 1e-9) * max(1.0, float(res.scale)))
        bad = np.abs(z) > cfg.robust_z
        if bad.any():
            w2 = np.where(bad, w * cfg.robust_weight, w)
            res = _glm(sm, y, Xk, w2)
            mu = res.predict(Xk)
            w = w2
    params = np.zeros(X.shape[1])
    params[keep] = res.params
    cov = np.zeros((X.shape[1], X.shape[1]))
    cov[np.ix_(keep, keep)] = np.asarray(res.cov_params())
    good = w > 0
    num = float(np.sum(w[good] * ((y[good] - mu[good]) ** 2 - mu[good])))
    den = float(np.sum(w[good] * mu[good] ** 2))
    dispersion = float(np.clip(num / den if den > 0 else 0.0, 0.0, cfg.max_dispersion))
    return Fit(params, cov, dispersion, design, periods[-1], n)


def _glm(sm, y: np.ndarray, X: np.ndarray, w: np.ndarray):
    model = sm.GLM(y, X, family=sm.families.Poisson(), var_weights=w)
    try:
        return model.fit(scale="X2")
    except (ValueError, np.linalg.LinAlgError):
        return model.fit(scale="X2", method="lbfgs")


def next_periods(last: date, horizon: int, freq: str) -> list[date]:
    step = 1 if freq == "D" else 7
    return [last + timedelta(days=step * (i + 1)) for i in range(horizon)]


def predict(fit: Fit, periods: Sequence[date], cfg: ModelConfig,
            levels: Sequence[int] = LEVELS) -> list[dict[str, Any]]:
    """Mean and interval bounds for future periods."""
    X = fit.design.matrix(periods)
    eta = X @ fit.params
    var_eta = np.einsum("ij,jk,ik->i", X, fit.cov, X)
    h = np.arange(1, len(periods) + 1, dtype=np.float64)
    mean = np.exp(np.clip(eta, -30, 30))
    # Negative binomial with dispersion = over-dispersion + mean uncertainty + drift.
    alpha = fit.dispersion + np.maximum(var_eta, 0.0) + cfg.drift * h
    shape = 1.0 / np.maximum(alpha, 1e-8)
    p = shape / (shape + mean)
    out = []
    for i, d in enumerate(periods):
        row = {"date": d.isoformat(), "mean": round(float(mean[i]), 2)}
        for lv in levels:
            q = (1 - lv / 100) / 2
            lo = stats.nbinom.ppf(q, shape[i], p[i])
            hi = stats.nbinom.ppf(1 - q, shape[i], p[i])
            row[f"lo{lv}"] = float(lo)
            row[f"hi{lv}"] = float(hi)
        row["var"] = float(mean[i] + alpha[i] * mean[i] ** 2)
        out.append(row)
    return out


def forecast_series(y: np.ndarray, periods: Sequence[date], horizon: int,
                    cal: HolidayCalendar, cfg: ModelConfig | None = None) -> list[dict[str, Any]]:
    cfg = cfg or ModelConfig()
    fit = fit_series(y, periods, cal, cfg)
    return predict(fit, next_periods(periods[-1], horizon, cfg.freq), cfg)


# -- backtest ----------------------------------------------------------------------------

def backtest_series(y: np.ndarray, periods: Sequence[date], cal: HolidayCalendar,
                    cfg: ModelConfig, horizon: int, origins: Sequence[int]) -> dict[str, Any]:
    """Rolling-origin backtest of one series. MASE scales absolute errors by the in-sample
    mean absolute error of the seasonal-naive forecast (Hyndman & Koehler 2006); the
    seasonal-naive forecast itself (the last season repeated) is scored the same way."""
    y = np.asarray(y, dtype=np.float64)
    m = cfg.season
    errs, errs_sn, scaled, scaled_sn = [], [], [], []
    cover = {lv: [] for lv in LEVELS}
    for o in origins:
        if o < max(2 * m, 8) or o >= len(y):
            continue
        train_y, train_p = y[:o], list(periods[:o])
        scale = float(np.mean(np.abs(train_y[m:] - train_y[:-m])))
        if scale <= 0:
            continue
        h = min(horizon, len(y) - o)
        fc = predict(fit_series(train_y, train_p, cal, cfg), list(periods[o:o + h]), cfg)
        for i in range(h):
            actual = y[o + i]
            sn = train_y[o - m + (i % m)]
            e = abs(actual - fc[i]["mean"])
            e_sn = abs(actual - sn)
            errs.append(e)
            errs_sn.append(e_sn)
            scaled.append(e / scale)
            scaled_sn.append(e_sn / scale)
            for lv in LEVELS:
                cover[lv].append(fc[i][f"lo{lv}"] <= actual <= fc[i][f"hi{lv}"])
    if not errs:
        return {}
    return {
        "mase": round(float(np.mean(scaled)), 4),
        "mase_seasonal_naive": round(float(np.mean(scaled_sn)), 4),
        "relative_mae": round(float(np.sum(errs) / max(np.sum(errs_sn), 1e-9)), 4),
        "coverage_80": round(float(np.mean(cover[80])), 4),
        "coverage_95": round(float(np.mean(cover[95])), 4),
        "forecasts": len(errs),
    }


def default_origins(n: int, horizon: int, season: int, min_train: int) -> list[int]:
    """Every `season` periods from the first with enough history, each with a full horizon
    where the data allow (the last ones are shorter)."""
    first = max(min_train, 2 * season)
    return list(range(first, n - 1, season if season < 28 else max(1, horizon)))


# -- stored demand -------------------------------------------------------------------------

def _dense(rows: list[tuple[date, str, int]], keys: set[str] | None = None
           ) -> tuple[list[date], dict[str, np.ndarray]]:
    if not rows:
        return [], {}
    d0 = min(r[0] for r in rows)
    d1 = max(r[0] for r in rows)
    days = [d0 + timedelta(days=i) for i in range((d1 - d0).days + 1)]
    pos = {d: i for i, d in enumerate(days)}
    out: dict[str, np.ndarray] = {}
    for d, k, v in rows:
        if keys is not None and k not in keys:
            continue
        arr = out.setdefault(k, np.zeros(len(days)))
        arr[pos[d]] += v
    return days, out


class Demand:
    """Daily visits and form submissions per service (and requests per category where
    the Open311 table exists) of one site, from the stored daily aggregates."""

    def __init__(self, store: DuckDBStore, site: Site) -> None:
        store.refresh_daily(site)
        rows = sq.daily_service_demand(store, site.id, site.timezone)
        self.days, self.visits = _dense([(d, s, v) for d, s, v, _ in rows])
        _, self.forms = _dense([(d, s, f) for d, s, _, f in rows])
        for k in self.visits:
            self.forms.setdefault(k, np.zeros(len(self.days)))
        req = sq.daily_requests(store, site.id, site.timezone)
        if req and self.days:
            req = [r for r in req if self.days[0] <= r[0] <= self.days[-1]]
            rdays, self.requests = _dense(req)
            if rdays and rdays != self.days:
                aligned = {}
                pos = {d: i for i, d in enumerate(self.days)}
                for k, arr in self.requests.items():
                    a = np.zeros(len(self.days))
                    for i, d in enumerate(rdays):
                        a[pos[d]] = arr[i]
                    aligned[k] = a
                self.requests = aligned
        else:
            self.requests = {}
        # Today is incomplete while data are arriving: leave it out.
        from datetime import datetime
        from zoneinfo import ZoneInfo

        today = datetime.now(ZoneInfo(site.timezone)).date()
        while self.days and (self.days[-1] >= today or self._partial_last_day()):
            self.days.pop()
            for series in (self.visits, self.forms, self.requests):
                for k in series:
                    series[k] = series[k][:-1]

    def _partial_last_day(self) -> bool:
        """A last day with under a third of the visits of the week before is cut off
        (data that ended shortly after midnight), not a quiet day."""
        if len(self.days) < 8 or not self.visits:
            return False
        total = np.sum(list(self.visits.values()), axis=0)
        return bool(total[-1] < total[-8:-1].mean() / 3)


def _service_rows(ids: Sequence[str]) -> list[str]:
    return [s for s in ids if s and s != NONE]


def forecast_site(store: DuckDBStore, site: Site, service: str | None = None,
                  horizon: int = 28, bundesland: str | None = None,
                  cfg: ModelConfig | None = None) -> dict[str, Any]:
    """Forecast per service (one, or all with data) and the weekly staffing view."""
    if not 1 <= horizon <= 90:
        raise UserError("--horizon must be between 1 and 90 days")
    cfg = cfg or ModelConfig()
    cal = HolidayCalendar(bundesland)
    demand = Demand(store, site)
    if len(demand.days) < MIN_TRAIN_DAYS:
        raise UserError(f"{site.domain}: at least {MIN_TRAIN_DAYS} days of data are needed "
                        f"for a forecast ({len(demand.days)} stored)")
    catalog = by_id()
    ids = _service_rows(sorted(demand.visits))
    if service is not None:
        if service not in demand.visits:
            raise UserError(f"no data for service {service!r}")
        ids = [service]
    days = demand.days
    future = next_periods(days[-1], horizon, "D")
    services = []
    staffing: dict[tuple[date, str], dict[str, list[float]]] = {}

    def add(dept: str, kind: str, fc: list[dict[str, Any]]) -> None:
        for row in fc:
            d = date.fromisoformat(row["date"])
            monday = d - timedelta(days=d.weekday())
            cell = staffing.setdefault((monday, dept), {})
            acc = cell.setdefault(kind, [0.0, 0.0])
            acc[0] += row["mean"]
            acc[1] += row["var"]

    for sid in ids:
        svc = catalog.get(sid)
        dept = svc.department if svc else "Sonstige"
        entry: dict[str, Any] = {"service_id": sid, "name": svc.name_de if svc else sid,
                                 "department": dept}
        for kind, series in (("visits", demand.visits), ("forms", demand.forms)):
            y = series.get(sid)
            if y is None or y.sum() == 0:
                continue
            fc = forecast_series(y, days, horizon, cal, cfg)
            add(dept, kind, fc)
            entry[kind] = [{k: v for k, v in r.items() if k != "var"} for r in fc]
        services.append(entry)
    if service is None:
        for cat, y in sorted(demand.requests.items()):
            if y.sum() == 0:
                continue
            svc = catalog.get(cat)
            dept = svc.department if svc else "Sonstige"
            add(dept, "requests", forecast_series(y, days, horizon, cal, cfg))
    weeks = []
    for (monday, dept), kinds in sorted(staffing.items()):
        in_range = [d for d in future if monday <= d < monday + timedelta(days=7)]
        row: dict[str, Any] = {
            "week": f"{monday.isocalendar()[0]}-W{monday.isocalendar()[1]:02d}",
            "start": monday.isoformat(),
            "days": len(in_range),
            "department": dept,
        }
        for kind in ("visits", "forms", "requests"):
            if kind in kinds:
                mean, var = kinds[kind]
                sd = math.sqrt(var)
                row[kind] = {"mean": round(mean, 1), "lo80": round(max(0.0, mean - 1.2816 * sd), 1),
                             "hi80": round(mean + 1.2816 * sd, 1)}
        weeks.append(row)
    return {
        "site": site.domain,
        "history": {"from": days[0].isoformat(), "to": days[-1].isoformat()},
        "horizon_days": horizon,
        "model": "GLM Poisson (quasi), Wochentag, Feiertage, Saisonterme; NB-Intervalle",
        "services": services,
        "staffing": weeks,
    }


def backtest_site(store: DuckDBStore, site: Site, service: str | None = None,
                  horizon: int = 28, bundesland: str | None = None,
                  cfg: ModelConfig | None = None, min_visits: float = BACKTEST_MIN_VISITS
                  ) -> dict[str, Any]:
    """Per service: MASE (model and seasonal naive), interval coverage; and the mean
    over services with at least `min_visits` daily visits."""
    cfg = cfg or ModelConfig()
    cal = HolidayCalendar(bundesland)
    demand = Demand(store, site)
    days = demand.days
    n = len(days)
    if n < 2 * MIN_TRAIN_DAYS:
        raise UserError(f"{site.domain}: a backtest needs at least {2 * MIN_TRAIN_DAYS} days "
                        f"of data ({n} stored)")
    origins = default_origins(n, horizon, 7, max(MIN_TRAIN_DAYS, n - horizon - 7))
    ids = _service_rows(sorted(demand.visits)) if service is None else [service]
    per = []
    for sid in ids:
        y = demand.visits.get(sid)
        if y is None:
            raise UserError(f"no data for service {service!r}")
        mean_visits = float(y[: origins[0]].mean()) if origins else float(y.mean())
        res = backtest_series(y, days, cal, cfg, horizon, origins)
        if not res:
            continue
        per.append({"service_id": sid, "mean_daily_visits": round(mean_visits, 1), **res})
    big = [r for r in per if r["mean_daily_visits"] >= min_visits]

    def mean_of(key: str, rows: list[dict[str, Any]]) -> float | None:
        return round(float(np.mean([r[key] for r in rows])), 4) if rows else None

    return {
        "site": site.domain,
        "history": {"from": days[0].isoformat(), "to": days[-1].isoformat()},
        "horizon_days": horizon,
        "origins": [days[o].isoformat() for o in origins],
        "min_daily_visits": min_visits,
        "services_evaluated": len(big),
        "mean_mase": mean_of("mase", big),
        "mean_mase_seasonal_naive": mean_of("mase_seasonal_naive", big),
        "mean_relative_mae": mean_of("relative_mae", big),
        "coverage_80": mean_of("coverage_80", big),
        "coverage_95": mean_of("coverage_95", big),
        "services": per,
    }
