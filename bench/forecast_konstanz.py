"""Forecast backtest on real data: weekly counts of the Konstanz citizen reports
("Mängelmelder", Stadt Konstanz, Offene Daten Konstanz, CC BY 4.0) per main category,
2020-01 to 2022-10. Rolling origins every week from week 104 on, horizon 4 weeks; the
model of `amtspuls.analyze.forecast` (weekly frequency, yearly Fourier terms once two
years are known, Baden-Württemberg holidays per week) against the seasonal-naive
forecast (the same week a year before) and the naive one (last week). MASE is scaled by
the in-sample mean absolute error of the 52-week seasonal-naive forecast. Prints JSON.

    .venv/bin/python bench/forecast_konstanz.py [CSV]
"""

from __future__ import annotations

import csv
import json
import sys
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np

from amtspuls.analyze.forecast import HolidayCalendar, ModelConfig, fit_series, predict

DEFAULT = (Path(__file__).resolve().parents[2] / "shared" / "data" / "realworld"
           / "konstanz-maengelmelder" / "maengelmelder_konstanz_2020-2022.csv")
HORIZON = 4
FIRST_ORIGIN = 104
SEASON = 52


def weekly_counts(path: Path) -> tuple[list[date], dict[str, np.ndarray]]:
    counts: Counter = Counter()
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            when = (row.get("Gemeldet-am") or "").strip()
            cat = (row.get("Kategorie") or "").split(">")[0].strip()
            if not when or not cat:
                continue
            d = datetime.strptime(when[:10], "%Y-%m-%d").date()
            counts[(d - timedelta(days=d.weekday()), cat)] += 1
    weeks = sorted({w for w, _ in counts})
    # Only whole weeks: the last one may be cut by the export date.
    all_weeks = [weeks[0] + timedelta(weeks=i)
                 for i in range((weeks[-1] - weeks[0]).days // 7)]
    cats = sorted({c for _, c in counts})
    return all_weeks, {c: np.array([counts[(w, c)] for w in all_weeks], dtype=float)
                       for c in cats}


def backtest(y: np.ndarray, weeks: list[date], cal: HolidayCalendar, cfg: ModelConfig
             ) -> dict:
    e_model, e_snaive, e_naive, cov80, cov95, scales = [], [], [], [], [], []
    for o in range(FIRST_ORIGIN, len(y) - 1):
        train = y[:o]
        scale = float(np.mean(np.abs(train[SEASON:] - train[:-SEASON])))
        h = min(HORIZON, len(y) - o)
        fc = predict(fit_series(train, weeks[:o], cal, cfg), weeks[o:o + h], cfg)
        for i in range(h):
            actual = y[o + i]
            e_model.append(abs(actual - fc[i]["mean"]) / scale)
            e_snaive.append(abs(actual - train[o - SEASON + i]) / scale)
            e_naive.append(abs(actual - train[-1]) / scale)
            cov80.append(fc[i]["lo80"] <= actual <= fc[i]["hi80"])
            cov95.append(fc[i]["lo95"] <= actual <= fc[i]["hi95"])
            scales.append(scale)
    return {
        "mase": round(float(np.mean(e_model)), 4),
        "mase_seasonal_naive": round(float(np.mean(e_snaive)), 4),
        "mase_naive": round(float(np.mean(e_naive)), 4),
        "relative_to_seasonal_naive": round(float(np.sum(e_model) / np.sum(e_snaive)), 4),
        "coverage_80": round(float(np.mean(cov80)), 4),
        "coverage_95": round(float(np.mean(cov95)), 4),
        "forecasts": len(e_model),
        "mean_weekly_reports": round(float(y.mean()), 2),
    }


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    if not path.is_file():
        sys.exit(f"{path}: not found")
    weeks, series = weekly_counts(path)
    cal = HolidayCalendar("BW")
    cfg = ModelConfig(freq="W", half_life=52.0, drift=0.002)
    per = {cat: backtest(y, weeks, cal, cfg) for cat, y in series.items()}
    total = np.sum(list(series.values()), axis=0)
    out = {
        "data": "Stadt Konstanz, Offene Daten Konstanz, CC BY 4.0 (Mängelmelder 2020–2022)",
        "weeks": len(weeks),
        "from": weeks[0].isoformat(),
        "to": (weeks[-1] + timedelta(days=6)).isoformat(),
        "horizon_weeks": HORIZON,
        "first_origin_week": FIRST_ORIGIN,
        "mean_mase": round(float(np.mean([r["mase"] for r in per.values()])), 4),
        "mean_mase_seasonal_naive": round(float(np.mean(
            [r["mase_seasonal_naive"] for r in per.values()])), 4),
        "mean_mase_naive": round(float(np.mean([r["mase_naive"] for r in per.values()])), 4),
        "mean_coverage_80": round(float(np.mean([r["coverage_80"] for r in per.values()])), 4),
        "mean_coverage_95": round(float(np.mean([r["coverage_95"] for r in per.values()])), 4),
        "categories": per,
        "all_reports": backtest(total, weeks, cal, cfg),
    }
    json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
