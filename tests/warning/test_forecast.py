"""Forecasts: on a synthetic series with a weekly rhythm, holidays and a slow trend the
model beats the weekly seasonal-naive forecast and its intervals cover about what they
promise; on a real store the staffing view adds services up per department."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest
from warning_helpers import insert_events

from amtspuls.analyze.forecast import (
    HolidayCalendar,
    ModelConfig,
    backtest_series,
    default_origins,
    forecast_series,
    forecast_site,
)
from amtspuls.config import Settings
from amtspuls.errors import UserError
from amtspuls.store import open_store

WEEK = np.array([1.2, 1.1, 1.1, 1.05, 0.95, 0.55, 0.5])


def series(days: int, level: float, seed: int, start: date = date(2025, 3, 3)):
    cal = HolidayCalendar("NW")
    rng = np.random.default_rng(seed)
    periods = [start + timedelta(days=i) for i in range(days)]
    mu = np.array([level * (1 + 0.0005 * i) * (0.5 if cal.is_holiday(d) else WEEK[d.weekday()])
                   for i, d in enumerate(periods)])
    y = rng.negative_binomial(50, 50 / (50 + mu)).astype(float)
    return y, periods, cal


@pytest.mark.parametrize("level", [25.0, 120.0])
def test_beats_seasonal_naive_with_calibrated_intervals(level):
    mases, snaive, cov80, cov95 = [], [], [], []
    for seed in range(4):
        y, periods, cal = series(120, level, seed)
        origins = default_origins(len(y), 28, 7, 63)
        res = backtest_series(y, periods, cal, ModelConfig(), 28, origins)
        mases.append(res["mase"])
        snaive.append(res["mase_seasonal_naive"])
        cov80.append(res["coverage_80"])
        cov95.append(res["coverage_95"])
    assert np.mean(mases) < 0.85 * np.mean(snaive)
    assert np.mean(mases) < 0.9
    assert 0.72 <= np.mean(cov80) <= 0.92
    assert np.mean(cov95) >= 0.88


def test_holidays_are_forecast_low():
    y, periods, cal = series(140, 80.0, 1, start=date(2025, 3, 3))
    # Forecast across Whit Monday and Corpus Christi (NW) 2025: 9 and 19 June.
    cut = periods.index(date(2025, 6, 1))
    fc = forecast_series(y[:cut], periods[:cut], 28, cal)
    by_day = {row["date"]: row for row in fc}
    monday = by_day["2025-06-16"]["mean"]
    assert by_day["2025-06-09"]["mean"] < 0.7 * monday
    assert by_day["2025-06-19"]["mean"] < 0.7 * by_day["2025-06-12"]["mean"]
    row = by_day["2025-06-16"]
    assert row["lo95"] <= row["lo80"] <= row["mean"] <= row["hi80"] <= row["hi95"]


def test_weekly_frequency():
    rng = np.random.default_rng(2)
    start = date(2020, 1, 6)
    periods = [start + timedelta(weeks=i) for i in range(150)]
    doy = np.array([d.timetuple().tm_yday for d in periods])
    mu = 10 * (1 + 0.4 * np.sin(2 * np.pi * doy / 365.25))
    y = rng.poisson(mu).astype(float)
    cfg = ModelConfig(freq="W", half_life=52)
    res = backtest_series(y, periods, HolidayCalendar("BW"), cfg, 4,
                          default_origins(len(y), 4, 52, 104))
    assert res["mase"] < 1.0


def _demand_rows(days: int) -> list[dict]:
    rng = np.random.default_rng(7)
    rows = []
    sid = 1
    start = date(2026, 1, 5)
    for i in range(days):
        d = start + timedelta(days=i)
        for svc, per in (("personalausweis", 40), ("reisepass", 20), ("sperrmuell", 30)):
            for _ in range(rng.poisson(per * WEEK[d.weekday()])):
                from datetime import datetime
                ts = datetime(d.year, d.month, d.day, 10, int(rng.integers(0, 60)))
                rows.append({"ts": ts, "type": "pageview", "session_id": sid,
                             "path": f"/leistungen/{svc}", "service_id": svc})
                if rng.random() < 0.4:
                    rows.append({"ts": ts, "type": "form_submit", "session_id": sid,
                                 "path": f"/online/{svc}", "service_id": svc, "form": svc})
                sid += 1
    return rows


def test_forecast_site_and_staffing(tmp_path):
    store = open_store(Settings(data_dir=tmp_path))
    site = store.ensure_site("www.teststadt.de")
    insert_events(store, site.id, _demand_rows(42))
    store.con.execute("INSERT INTO dirty_days SELECT DISTINCT ?, CAST(ts AS DATE) FROM events",
                      [site.id])
    out = forecast_site(store, site, horizon=14, bundesland="NW")
    assert {s["service_id"] for s in out["services"]} == {"personalausweis", "reisepass",
                                                          "sperrmuell"}
    svc = next(s for s in out["services"] if s["service_id"] == "personalausweis")
    assert len(svc["visits"]) == 14 and svc["department"] == "Bürgerbüro"
    week = [r for r in out["staffing"] if r["department"] == "Bürgerbüro"]
    assert week and all(r["visits"]["mean"] > 0 for r in week)
    # Bürgerbüro = personalausweis + reisepass: the staffing view adds both up.
    first = week[0]
    days = {r["date"] for r in svc["visits"] if first["start"] <= r["date"]}
    days = sorted(days)[: first["days"]]
    pa = sum(r["mean"] for r in svc["visits"] if r["date"] in days)
    rp = next(s for s in out["services"] if s["service_id"] == "reisepass")
    rp_sum = sum(r["mean"] for r in rp["visits"] if r["date"] in days)
    assert first["visits"]["mean"] == pytest.approx(pa + rp_sum, rel=0.01)
    with pytest.raises(UserError):
        forecast_site(store, site, horizon=0)
    store.close()
