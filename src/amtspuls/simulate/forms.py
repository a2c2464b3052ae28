"""Online forms: first focus, validation errors per field, abandonment, submission
(possibly into an outage), confirmation page."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from amtspuls.simulate.incidents import outage_failure
from amtspuls.simulate.rows import (
    EV_ENGAGEMENT,
    EV_FORM_ERROR,
    EV_FORM_START,
    EV_FORM_SUBMIT,
    EV_RAGE,
    POST,
)
from amtspuls.simulate.truth import O_FAILED, O_FOUND, O_SUBMITTED

if TYPE_CHECKING:
    from amtspuls.simulate.visits import Day

FREE_TEXT = ("beschreibung", "anliegen", "begruendung", "anregung", "gegenstaende", "taetigkeit")


def fill_forms(day: Day, idx: np.ndarray) -> None:
    """Fill in the online form: start, field errors, abandonment, submission."""
    if not len(idx):
        return
    w, c, j, rng, rows = day.w, day.w.city, day.w.cfg.journey, day.rng, day.rows
    n = len(idx)
    s = day.svc[idx]
    nf = c.n_fields[s]
    width = c.error_matrix.shape[1]
    cols = np.arange(width)
    valid = cols[None, :] < nf[:, None]
    fields = c.field_matrix[s]
    err = (rng.random((n, width)) < day.params.errors[s]) & valid
    problem = day.params.problem_field[s]
    ab_p = np.where(problem, j.problem_abandon_after_error, j.abandon_after_error)
    ab = err & (rng.random((n, width)) < ab_p)
    first_ab = np.where(ab.any(axis=1), ab.argmax(axis=1), nf)
    spont = rng.random(n) < j.form_abandon_no_error
    spont_pos = (rng.random(n) * nf).astype(np.int64)
    quit_plain = spont & (spont_pos < first_ab)
    stop = np.where(quit_plain, spont_pos, first_ab)  # field where the visitor leaves
    failed_at = ~quit_plain & (stop < nf)
    free = np.isin(fields, [c.field_index[f] for f in FREE_TEXT if f in c.field_index])
    ft = rng.lognormal(np.log(5500), 0.55, (n, width)) * np.where(free, 4.0, 1.0)
    ft += err * rng.lognormal(np.log(9000), 0.5, (n, width))
    ft = np.where(valid, ft, 0.0)
    touched = cols[None, :] <= np.minimum(stop, nf - 1)[:, None]
    intro = rng.lognormal(np.log(7000), 0.5, n)
    tail = np.where(stop >= nf, rng.uniform(1500, 5000, n), rng.uniform(3000, 25000, n))
    total = intro + (ft * touched).sum(axis=1) + tail
    limit = day.max_dwell - 60_000
    scale = np.minimum(1.0, limit / total)
    ft *= scale[:, None]
    intro *= scale
    tail *= scale
    dwell = (intro + (ft * touched).sum(axis=1) + tail).astype(np.int64)
    forms = np.array([x.form_page for x in c.services], dtype=np.int64)[s]
    day.view(idx, forms, "page", dwell=dwell, engage=False)
    t0 = day.page_t0[idx]
    client = day.client[idx]
    first_field = fields[:, 0]
    rows.add_event(
        t0 + intro.astype(np.int64), client, EV_FORM_START, forms, form=s, field=first_field
    )
    np.add.at(w.truth.form_starts[day.period], s, 1)
    cum = np.cumsum(ft, axis=1)
    shown = err & touched
    ii, jj = np.nonzero(shown)
    if len(ii):
        te = t0[ii] + (intro[ii] + cum[ii, jj]).astype(np.int64)
        rows.add_event(te, client[ii], EV_FORM_ERROR, forms[ii], form=s[ii], field=fields[ii, jj])
        for a, b in zip(s[ii].tolist(), fields[ii, jj].tolist(), strict=True):
            w.truth.form_errors[(a, b, day.period)] += 1
        rage = rng.random(len(ii)) < np.where(
            problem[ii, jj], j.rage_click_on_error, j.rage_click_on_error * 0.2
        )
        if rage.any():
            rows.add_event(
                te[rage] + rng.integers(800, 3000, int(rage.sum())),
                client[ii[rage]],
                EV_RAGE,
                forms[ii[rage]],
            )
    leave = t0 + dwell
    # Abandoned: outcome and the page's engagement at leaving.
    gone = stop < nf
    day.outcome[idx[gone & quit_plain]] = O_FOUND
    fi = idx[failed_at]
    day.outcome[fi] = O_FAILED
    rows_f = np.flatnonzero(failed_at)
    day.fail_field[fi] = fields[rows_f, stop[rows_f]]
    # Submission (possibly into an outage).
    done = ~gone
    di = idx[done]
    ts = leave[done]
    ds = s[done]
    p_fail = outage_failure(w.incidents, ds, ts)
    fail1 = rng.random(len(di)) < p_fail
    dclient = day.client[di]
    dform = forms[done]
    rows.add_log(ts, dclient, dform, np.where(fail1, 503, 302), dform, method=POST)
    rows.add_event(
        ts[fail1] + rng.integers(300, 1500, int(fail1.sum())),
        dclient[fail1],
        EV_FORM_ERROR,
        dform[fail1],
        form=ds[fail1],
    )
    retry = fail1 & (rng.random(len(di)) < j.outage_retry)
    t2 = ts + rng.integers(20_000, 90_000, len(di))
    p2 = outage_failure(w.incidents, ds, t2)
    fail2 = retry & (rng.random(len(di)) < p2)
    rows.add_log(
        t2[retry],
        dclient[retry],
        dform[retry],
        np.where(fail2[retry], 503, 302),
        dform[retry],
        method=POST,
    )
    rows.add_event(
        t2[fail2] + rng.integers(300, 1500, int(fail2.sum())),
        dclient[fail2],
        EV_FORM_ERROR,
        dform[fail2],
        form=ds[fail2],
    )
    rage = fail1 & (rng.random(len(di)) < 0.3)
    rows.add_event(ts[rage] + 2000, dclient[rage], EV_RAGE, dform[rage])
    ok = ~fail1 | (retry & ~fail2)
    t_ok = np.where(fail1, t2, ts)
    failed_sub = ~ok
    for inc in w.incidents:
        if inc.kind == "form_outage":
            inc.failed_submissions += int((failed_sub & (ds == inc.service)).sum())
    day.outcome[di[failed_sub]] = O_FAILED
    day.fail_field[di[failed_sub]] = day.submit_field
    t_end = np.where(failed_sub, np.where(retry, t2, ts) + 4000, t_ok)
    t_leave = leave.copy()
    t_leave[done] = t_end
    active = (t_leave - t0) * rng.uniform(0.6, 0.95, n)
    rows.add_event(t_leave, client, EV_ENGAGEMENT, forms, eng=active.astype(np.int64))
    day.t[idx] = t_leave + rng.integers(150, 500, n)
    oi = di[ok]
    if len(oi):
        rows.add_event(t_ok[ok] + 120, day.client[oi], EV_FORM_SUBMIT, dform[ok], form=ds[ok])
        np.add.at(w.truth.form_submits[day.period], ds[ok], 1)
        confirm = np.array([x.confirm_page for x in c.services], dtype=np.int64)[ds[ok]]
        day.t[oi] = t_ok[ok] + rng.integers(150, 400, len(oi))
        day.view(oi, confirm, "confirm", ref=dform[ok])
        day.outcome[oi] = O_SUBMITTED
