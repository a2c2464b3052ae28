"""A day of human visits: who comes with which intent, from where, and how each
visit moves through the site (navigation, site search, forms, downloads), as arrays.

Every visit is one client (IP + UA); gaps inside a visit stay below 30 minutes. Log
lines and tracker events are appended to `Rows`; outcomes go to the truth."""

from __future__ import annotations

from datetime import date

import numpy as np

from amtspuls.simulate.clients import HTTP2, HTTP11
from amtspuls.simulate.forms import fill_forms
from amtspuls.simulate.incidents import incident_visits
from amtspuls.simulate.population import DESKTOP, MOBILE, make_ips
from amtspuls.simulate.rows import (
    EV_DOWNLOAD,
    EV_ENGAGEMENT,
    EV_NOT_FOUND,
    EV_OUTLINK,
    EV_PAGEVIEW,
    EV_RAGE,
    EV_SEARCH,
    Rows,
)
from amtspuls.simulate.sources import (
    BROWSE,
    EVENTS_I,
    INTENT_SOURCES,
    MISSING,
    NEWS_I,
    S_CAMPAIGN,
    S_DIRECT,
    S_REFERRAL,
    S_SEARCH,
    S_SOCIAL,
    SERVICE,
    SOURCE_KEYS,
    Sources,
    choice,
)
from amtspuls.simulate.truth import O_FOUND, O_GAVE_UP, SUBMIT_FIELD
from amtspuls.simulate.urls import NEWS, PAGE
from amtspuls.simulate.world import World

DWELL = {
    "home": 14,
    "hub": 16,
    "service": 65,
    "search": 11,
    "news": 55,
    "page": 35,
    "notfound": 8,
    "confirm": 18,
    "event": 40,
}


class Day:
    """All human visits of one local day."""

    def __init__(self, world: World, k: int, day: date, src: Sources) -> None:
        self.w = world
        self.k = k
        self.day = day
        self.src = src
        self.rng = world.rng(1, k)
        self.rnd = world.rnd(1, k)
        self.params = world.day_params(k, day)
        self.rows = Rows()
        fix = world.cfg.fix_date
        self.period = 1 if fix is not None and day >= fix else 0
        c = world.city
        self.kinds = c.urls.kind_array()
        self.max_dwell = world.cfg.traffic.max_dwell_s * 1000
        self.broken_refs = world.problems.broken_by_referrer
        self.submit_field = c.field_id(SUBMIT_FIELD)

    # ------------------------------------------------------------ population

    def populate(self) -> None:
        w, cfg, rng = self.w, self.w.cfg, self.rng
        t = cfg.traffic
        clock, cal = w.clock, w.cal
        mean = (
            t.visits_per_day
            * cal.day_factor(self.day)
            * float(np.exp(rng.normal(0.0, t.day_noise)))
        )
        n = int(rng.poisson(mean))
        start = cal.sample_times(rng, self.day, n)
        shares = (t.service_share, t.news_share, t.events_share, t.browse_share, t.missing_share)
        intent = choice(rng, shares, n).astype(np.int8)
        svc = np.where(intent == SERVICE, choice(rng, self.params.service_p, n), -1)
        target = np.zeros(n, dtype=np.int64)  # fixed landing page (viral news)
        inc = np.full(n, -1, dtype=np.int32)
        t0, t1 = int(clock.day_start[self.k]), int(clock.day_start[self.k + 1])
        parts = [(start, intent, svc, target, inc)]
        for ki, times in incident_visits(w.incidents, rng, t0, t1):
            incident = w.incidents[ki]
            m = len(times)
            if incident.kind == "viral_news":
                parts.append(
                    (
                        times,
                        np.full(m, NEWS_I, np.int8),
                        np.full(m, -1),
                        np.full(m, incident.news_url),
                        np.full(m, ki, np.int32),
                    )
                )
            else:
                ss = np.array([s for s, _ in incident.services])
                sp = np.array([p for _, p in incident.services])
                parts.append(
                    (
                        times,
                        np.full(m, SERVICE, np.int8),
                        ss[choice(rng, sp, m)],
                        np.zeros(m, np.int64),
                        np.full(m, ki, np.int32),
                    )
                )
        start = np.concatenate([p[0] for p in parts])
        order = np.argsort(start, kind="stable")
        self.n = n = len(start)
        self.start = start[order]
        self.intent = np.concatenate([p[1] for p in parts])[order]
        self.svc = np.concatenate([p[2] for p in parts])[order].astype(np.int64)
        self.target = np.concatenate([p[3] for p in parts])[order]
        self.incident = np.concatenate([p[4] for p in parts])[order]
        hours = clock.local_hour(self.start)
        self.device, ua = w.population.draw(rng, self.day, hours, cal.weekend_like(self.day))
        # Sources.
        src = np.empty(n, dtype=np.int8)
        svc_p = np.array([t.source_shares[k] for k in SOURCE_KEYS])
        is_svc = self.intent == SERVICE
        src[is_svc] = choice(rng, svc_p, int(is_svc.sum()))
        for it, p in INTENT_SOURCES.items():
            m = self.intent == it
            src[m] = choice(rng, p, int(m.sum()))
        for ki, incident in enumerate(w.incidents):
            m = self.incident == ki
            if not m.any():
                continue
            mix = {
                "storm": (0.6, 0.3, 0.0, 0.1, 0.0),
                "heat": (0.5, 0.2, 0.1, 0.2, 0.0),
                "campaign": (0.42, 0.2, 0.03, 0.0, 0.35),
                "viral_news": (0.05, 0.25, 0.1, 0.6, 0.0),
            }[incident.kind]
            src[m] = choice(rng, mix, int(m.sum()))
        self.source = src
        ext = np.zeros(n, dtype=np.int64)
        s = self.src
        for code, ids, p in (
            (S_SEARCH, s.engine_ids, s.engine_p),
            (S_SOCIAL, s.social_ids, s.social_p),
            (S_REFERRAL, s.referral_ids, s.referral_p),
        ):
            m = src == code
            ext[m] = ids[choice(rng, p, int(m.sum()))]
        self.ext = ext
        # Assets: cached, loaded, or revalidated.
        u = rng.random(n)
        self.asset_mode = np.where(
            u < t.cached_assets_share,
            0,
            np.where(u < t.cached_assets_share + t.revalidate_assets_share, 2, 1),
        ).astype(np.int8)
        # Clients.
        ips = make_ips(rng, n, t.ipv6_share)
        proto = np.where(rng.random(n) < 0.07, HTTP11, HTTP2).astype(np.int8)
        tracked = rng.random(n) >= t.tracker_blocked_share
        base = w.clients.add(ips, ua, proto, tracked, bot=False)
        self.base = base
        self.client = base + np.arange(n, dtype=np.int64)
        # State.
        self.t = self.start.copy()
        self.cur = np.zeros(n, dtype=np.int64)
        self.page_t0 = self.start.copy()
        self.page_dwell = np.zeros(n, dtype=np.int64)
        self.nsearch = np.zeros(n, dtype=np.int64)
        self.found = np.zeros(n, dtype=bool)
        self.outcome = np.full(n, -1, dtype=np.int8)
        self.fail_field = np.full(n, -1, dtype=np.int64)
        self.mobile = self.device == MOBILE
        self._left = np.zeros(0, dtype=np.int64)

    def kind_of(self, url: np.ndarray) -> np.ndarray:
        if len(url) and int(url.max()) >= len(self.kinds):
            self.kinds = self.w.city.urls.kind_array()
        return self.kinds[url]

    # --------------------------------------------------------------- viewing

    def dwell(self, idx: np.ndarray, kind: str) -> np.ndarray:
        med = DWELL[kind] * 1000.0
        d = self.rng.lognormal(np.log(med), 0.85, len(idx))
        d = np.where(self.mobile[idx], d * 0.85, d)
        return np.clip(d, 1200, self.max_dwell).astype(np.int64)

    def view(
        self,
        idx: np.ndarray,
        url,
        kind: str = "page",
        etype: int = EV_PAGEVIEW,
        ref=None,
        status: int = 200,
        redirect_from=None,
        query=None,
        results=None,
        dwell=None,
        engage: bool = True,
        broken: bool = True,
    ) -> None:
        n = len(idx)
        if n == 0:
            return
        rng, rows = self.rng, self.rows
        url = np.broadcast_to(np.asarray(url, dtype=np.int64), (n,)).copy()
        ref = (
            self.cur[idx].copy()
            if ref is None
            else np.broadcast_to(np.asarray(ref, dtype=np.int64), (n,)).copy()
        )
        t0 = self.t[idx].copy()
        client = self.client[idx]
        if redirect_from is not None:
            m = redirect_from > 0
            if m.any():
                temp = np.fromiter(self.w.city.temporary, dtype=np.int64)
                code = np.where(np.isin(redirect_from[m], temp), 302, 301)
                rows.add_log(t0[m], client[m], redirect_from[m], code, ref[m])
                t0 = t0 + np.where(m, rng.integers(40, 200, n), 0)
        rows.add_log(t0, client, url, status, ref)
        need = self.asset_mode[idx] > 0
        if need.any():
            self._assets(idx[need], t0[need], url[need])
        img = self.w.image_of[np.minimum(url, len(self.w.image_of) - 1)] * (
            url < len(self.w.image_of)
        )
        m = img > 0
        if m.any():
            rows.add_log(
                t0[m] + rng.integers(150, 900, int(m.sum())), client[m], img[m], 200, url[m]
            )
        d = self.dwell(idx, kind) if dwell is None else np.asarray(dwell, dtype=np.int64)
        render = np.minimum(rng.integers(250, 1800, n) + self.mobile[idx] * 350, d // 2)
        rows.add_event(
            t0 + render,
            client,
            etype,
            url,
            ref,
            query=-1 if query is None else query,
            results=-1 if results is None else results,
        )
        if engage:
            active = (d * rng.uniform(0.4, 0.97, n)).astype(np.int64)
            rows.add_event(t0 + d, client, EV_ENGAGEMENT, url, eng=active)
        self.page_t0[idx] = t0
        self.page_dwell[idx] = d
        self.t[idx] = t0 + d + rng.integers(80, 700, n)
        self.cur[idx] = url
        if broken and etype != EV_NOT_FOUND and self.broken_refs:
            self._broken_clicks(idx, url)

    def _assets(self, idx: np.ndarray, t0: np.ndarray, page: np.ndarray) -> None:
        """First page of a visit: the browser loads (or revalidates) the static assets."""
        c, rng, rows = self.w.city, self.rng, self.rows
        n = len(idx)
        client = self.client[idx]
        reval = self.asset_mode[idx] == 2
        load = ~reval
        css, js, tracker, logo, font, favicon = c.assets_base
        at = t0 + rng.integers(20, 120, n)
        rows.add_log(at, client, css, np.where(reval, 304, 200), page)
        rows.add_log(at + rng.integers(5, 60, n), client, js, np.where(reval, 304, 200), page)
        rows.add_log(at + rng.integers(10, 90, n), client, tracker, np.where(reval, 304, 200), page)
        lm = load
        if lm.any():
            k = int(lm.sum())
            tl, cl, pl = at[lm], client[lm], page[lm]
            rows.add_log(tl + rng.integers(60, 250, k), cl, logo, 200, pl)
            rows.add_log(tl + rng.integers(120, 400, k), cl, font, 200, css)
            rows.add_log(tl + rng.integers(300, 1500, k), cl, favicon, 200, pl)
            dev = self.device[idx][lm]
            home = pl == c.home
            hero = np.where(dev == DESKTOP, c.asset_hero_desktop, c.asset_hero_mobile)
            if home.any():
                rows.add_log(
                    tl[home] + rng.integers(100, 600, int(home.sum())),
                    cl[home],
                    hero[home],
                    200,
                    pl[home],
                )
            other = ~home
            if other.any():
                rows.add_log(
                    tl[other] + rng.integers(80, 500, int(other.sum())),
                    cl[other],
                    c.asset_icons,
                    200,
                    pl[other],
                )
            desk = dev == DESKTOP
            if desk.any():
                rows.add_log(
                    tl[desk] + rng.integers(5, 80, int(desk.sum())),
                    cl[desk],
                    c.asset_print,
                    200,
                    pl[desk],
                )
            touch = (dev == MOBILE) & (rng.random(k) < 0.35)
            if touch.any():
                rows.add_log(
                    tl[touch] + rng.integers(400, 2000, int(touch.sum())),
                    cl[touch],
                    c.asset_touch,
                    200,
                    pl[touch],
                )
        self.asset_mode[idx] = 0

    def _broken_clicks(self, idx: np.ndarray, url: np.ndarray) -> None:
        refs = self.broken_refs
        cand = np.isin(url, np.fromiter(refs.keys(), dtype=np.int64))
        if not cand.any():
            return
        p = self.w.cfg.journey.broken_link_click
        sel = cand & (self.rng.random(len(idx)) < p)
        if not sel.any():
            return
        ci = idx[sel]
        links = self.w.problems.broken
        targets = np.array(
            [links[self.rnd.choice(refs[int(u)])].url for u in url[sel]], dtype=np.int64
        )
        back = self.cur[ci].copy()
        self.view(ci, targets, kind="notfound", etype=EV_NOT_FOUND, status=404, broken=False)
        rage = self.rng.random(len(ci)) < 0.12
        if rage.any():
            self.rows.add_event(
                self.page_t0[ci[rage]] + 2500, self.client[ci[rage]], EV_RAGE, targets[rage]
            )
        self.cur[ci] = back
        for u in targets.tolist():
            k = next(i for i, b in enumerate(links) if b.url == u)
            self.w.truth.broken_hits[k] += 1

    # -------------------------------------------------------------- journeys

    def run(self) -> None:
        self.landing()
        is_svc = self.intent == SERVICE
        lost = np.flatnonzero(is_svc & ~self.found)
        self.on_service(np.flatnonzero(is_svc & self.found))
        self.seek(lost)
        self.missing(np.flatnonzero(self.intent == MISSING))
        self.browse_more()
        self.pair_return_visits()
        out = np.where(
            self.intent == SERVICE,
            np.where(self.outcome >= 0, self.outcome, np.where(self.found, O_FOUND, O_GAVE_UP)),
            np.where(self.intent == MISSING, O_GAVE_UP, -1),
        )
        tracked = self.w.clients.tracked[self.client]
        self.w.truth.add_visits(
            self.day,
            self.period,
            self.intent,
            self.svc,
            out.astype(np.int8),
            self.fail_field,
            self.nsearch,
            tracked,
        )

    def landing(self) -> None:
        c, rng, p = self.w.city, self.rng, self.params
        n = self.n
        svc = np.maximum(self.svc, 0)
        src = self.source
        u = rng.random(n)
        is_svc = self.intent == SERVICE
        deep_p = np.select(
            [src == S_SEARCH, src == S_REFERRAL, src == S_CAMPAIGN, src == S_DIRECT],
            [p.seo[svc], 0.65, 1.0, 0.22],
            0.3,
        )
        deep = is_svc & (u < deep_p)
        page = np.array([s.page for s in c.services], dtype=np.int64)
        landing = np.full(n, c.home, dtype=np.int64)
        landing[deep] = page[svc[deep]]
        # Non-deep landings from search engines: home, a hub, A–Z or a news item.
        hubs = np.array(c.hub_pages + c.dept_pages, dtype=np.int64)
        news_ids, news_p = self._news_weights()
        shallow = ~deep & (src == S_SEARCH)
        r = rng.random(n)
        m = shallow & (r >= 0.55) & (r < 0.75)
        landing[m] = hubs[rng.integers(0, len(hubs), int(m.sum()))]
        m = shallow & (r >= 0.75) & (r < 0.85)
        landing[m] = c.az
        m = (shallow & (r >= 0.85)) | (~deep & (src == S_SOCIAL))
        if len(news_ids):
            landing[m] = news_ids[choice(rng, news_p, int(m.sum()))]
        # News, events, browsing.
        m = self.intent == NEWS_I
        direct_news = m & (src == S_DIRECT) & (rng.random(n) < 0.6) & (self.target == 0)
        if len(news_ids):
            landing[m] = news_ids[choice(rng, news_p, int(m.sum()))]
        landing[direct_news] = c.home
        viral = self.target > 0
        landing[viral] = self.target[viral]
        m = self.intent == EVENTS_I
        ev = np.array(c.events, dtype=np.int64)
        landing[m] = np.where(
            rng.random(int(m.sum())) < 0.5,
            c.events_index,
            ev[rng.integers(0, len(ev), int(m.sum()))],
        )
        m = (self.intent == BROWSE) & (rng.random(n) < 0.45)
        gp = np.array(c.general_pages, dtype=np.int64)
        landing[m] = gp[choice(rng, c.general_weights, int(m.sum()))]
        # Old URLs (301) and campaign short URLs / QR codes.
        redirect = np.zeros(n, dtype=np.int64)
        old = np.zeros(c.n, dtype=np.int64)
        short = np.zeros(c.n, dtype=np.int64)
        for s, u_ in c.old_urls.items():
            old[s] = u_
        for s, u_ in c.short_urls.items():
            short[s] = u_
        m = (
            deep
            & ((src == S_SEARCH) | (src == S_REFERRAL))
            & (rng.random(n) < self.w.cfg.traffic.old_url_share)
        )
        redirect[m] = old[svc[m]]
        camp = deep & (src == S_CAMPAIGN)
        qr = camp & (rng.random(n) < 0.45)
        redirect[camp & ~qr] = short[svc[camp & ~qr]]
        # People who type the short address of the appointment booking.
        termin = c.by_id.get("buergerbuero_termin", -1)
        typed = deep & (src == S_DIRECT) & (svc == termin) & (rng.random(n) < 0.3)
        redirect[typed] = short[svc[typed]]
        for i in np.flatnonzero(qr).tolist():
            s = c.services[svc[i]]
            landing[i] = c.urls.add(
                f"/leistungen/{s.slug}?utm_source=brief&utm_medium=qr&utm_campaign={s.slug}",
                PAGE,
                c.urls.titles[s.page],
                c.urls.sizes[s.page],
            )
        idx = np.arange(n)
        home_old = (landing == c.home) & (self.source == S_REFERRAL) & (rng.random(n) < 0.15)
        redirect[home_old] = c.urls.index["/index.php"]
        kind = np.where(landing == c.home, 0, 1)
        # One call per page kind so that dwell times fit the page.
        for kval, kname in ((0, "home"), (1, "page")):
            sel = idx[kind == kval]
            if kval == 1:
                for sub, kn in (
                    (sel[deep[sel]], "service"),
                    (sel[np.isin(self.kind_of(landing[sel]), (NEWS,)) & ~deep[sel]], "news"),
                    (sel[~deep[sel] & ~np.isin(self.kind_of(landing[sel]), (NEWS,))], "hub"),
                ):
                    self.view(sub, landing[sub], kn, ref=self.ext[sub], redirect_from=redirect[sub])
            else:
                self.view(sel, landing[sel], kname, ref=self.ext[sel], redirect_from=redirect[sel])
        self.found = deep.copy()
        # Direct news readers click from home to the article.
        if direct_news.any() and len(news_ids):
            sel = np.flatnonzero(direct_news)
            self.view(sel, news_ids[choice(rng, news_p, len(sel))], "news")

    def _news_weights(self) -> tuple[np.ndarray, np.ndarray]:
        ids, ps = [], []
        for item in self.w.city.news:
            if item.viral or item.published > self.day:
                continue
            age = (self.day - item.published).days
            ids.append(item.url)
            ps.append(item.popularity * (np.exp(-age / 6.0) + 0.03))
        return np.array(ids, dtype=np.int64), np.array(ps)

    def seek(self, idx: np.ndarray) -> None:
        """Visitors not on their service page navigate or search until found or given up."""
        j, c, rng = self.w.cfg.journey, self.w.city, self.rng
        if not len(idx):
            return
        mode = np.where(rng.random(len(idx)) < j.search_first, 1, 0)  # 1 search, 0 navigate
        pages = np.array([s.page for s in c.services], dtype=np.int64)
        all_hubs = np.array(c.hub_pages + c.dept_pages + [c.az], dtype=np.int64)
        active = idx
        for attempt in range(j.max_attempts):
            if not len(active):
                break
            nxt_search, nxt_nav = [], []
            nav = active[mode == 0]
            if len(nav):
                s = self.svc[nav]
                ok = rng.random(len(nav)) < self.params.nav[s]
                good_hub = np.array(
                    [self.rnd.choice(c.services[x].hubs) for x in s.tolist()], dtype=np.int64
                )
                wrong = all_hubs[rng.integers(0, len(all_hubs), len(nav))]
                # Failed navigators sometimes reach the right hub and still miss the link.
                hub = np.where(ok | (rng.random(len(nav)) < 0.3), good_hub, wrong)
                self.view(nav, hub, "hub")
                ok_i = nav[ok]
                self.view(ok_i, pages[self.svc[ok_i]], "service")
                self.found[ok_i] = True
                bad = nav[~ok]
                more = bad[rng.random(len(bad)) < 0.4]
                if len(more):
                    self.view(more, all_hubs[rng.integers(0, len(all_hubs), len(more))], "hub")
                r = rng.random(len(bad))
                nxt_search.append(bad[r < j.search_after_nav_fail])
            srch = active[mode == 1]
            if len(srch):
                hit, res, top = self.searches(srch, self.svc[srch])
                click = hit & (rng.random(len(srch)) < j.click_result)
                ok_i = srch[click]
                self.view(ok_i, pages[self.svc[ok_i]], "service")
                self.found[ok_i] = True
                bad = ~click
                wrong = bad & (res > 0) & (top > 0) & (rng.random(len(srch)) < 0.35)
                wi = srch[wrong]
                self.view(wi, top[wrong], "page")
                # The "wrong" top result may be the right page after all.
                lucky = wrong & (top == pages[self.svc[srch]])
                self.found[srch[lucky]] = True
                bad &= ~lucky
                bad_i = srch[bad]
                r = rng.random(len(bad_i))
                cont = r < j.retry_search ** (attempt + 1) + 0.1
                nxt_search.append(bad_i[cont & (r < j.retry_search ** (attempt + 1))])
                nxt_nav.append(bad_i[cont & (r >= j.retry_search ** (attempt + 1))])
            ns = np.concatenate(nxt_search) if nxt_search else np.zeros(0, np.int64)
            nn = np.concatenate(nxt_nav) if nxt_nav else np.zeros(0, np.int64)
            active = np.concatenate([ns, nn])
            mode = np.concatenate([np.ones(len(ns), np.int64), np.zeros(len(nn), np.int64)])
            order = np.argsort(active, kind="stable")
            active, mode = active[order], mode[order]
        self.on_service(idx[self.found[idx]])

    def searches(self, idx: np.ndarray, svc: np.ndarray) -> tuple[np.ndarray, ...]:
        """One site search per visit: query text, results page, tracker search event."""
        w, rnd = self.w, self.rnd
        services = w.city.services
        urls = w.city.urls
        seen = w.query_cache
        add_query = w.truth.add_query
        hit_l, res_l, top_l, url_l, qid_l = [], [], [], [], []
        for s in svc.tolist():
            q = w.qgen.for_service(services[s], rnd) if s >= 0 else w.qgen.for_missing(rnd)
            known = seen.get(q.text)
            if known is None:
                r = w.search.lookup(q.text)
                size = 12_400 + 640 * min(r.count, 10)
                known = seen[q.text] = (r, urls.search(q.text, size), w.queries.add(q.text))
            r, u, qi = known
            hit_l.append(s >= 0 and s in r.services)
            res_l.append(r.count)
            top_l.append(r.top_url)
            url_l.append(u)
            qid_l.append(qi)
            add_query(q.text, services[s].id if s >= 0 else "none", r.count, q.typo)
        hit = np.array(hit_l, dtype=bool)
        res = np.array(res_l, dtype=np.int64)
        top = np.array(top_l, dtype=np.int64)
        url = np.array(url_l, dtype=np.int64)
        qid = np.array(qid_l, dtype=np.int64)
        self.nsearch[idx] += 1
        self.view(idx, url, "search", etype=EV_SEARCH, query=qid, results=res)
        return hit, res, top

    def on_service(self, idx: np.ndarray) -> None:
        """On the service page: online form, PDF download or an external portal."""
        if not len(idx):
            return
        c, j, rng = self.w.city, self.w.cfg.journey, self.rng
        s = self.svc[idx]
        form_share = np.array([x.form_share for x in c.services])[s]
        wants = rng.random(len(idx)) < form_share
        self.form(idx[wants])
        rest = idx[~wants]
        rs = self.svc[rest]
        pdf = np.array([x.pdf_url for x in c.services], dtype=np.int64)[rs]
        dl = (pdf > 0) & (rng.random(len(rest)) < j.pdf_share)
        self.download(rest[dl], pdf[dl])
        nout = np.array([len(x.outlink_urls) for x in c.services])[rs]
        ol = ~dl & (nout > 0) & (rng.random(len(rest)) < j.outlink_share)
        oi = rest[ol]
        if len(oi):
            targets = np.array(
                [self.rnd.choice(c.services[x].outlink_urls) for x in self.svc[oi].tolist()],
                dtype=np.int64,
            )
            t = self.page_t0[oi] + (self.page_dwell[oi] * rng.uniform(0.4, 0.95, len(oi))).astype(
                np.int64
            )
            self.rows.add_event(t, self.client[oi], EV_OUTLINK, self.cur[oi], target=targets)
            self.t[oi] = np.maximum(self.t[oi], t + 1000)
            self.outcome[oi] = O_FOUND
            self.leave(oi)

    def download(self, idx: np.ndarray, pdf: np.ndarray) -> None:
        if not len(idx):
            return
        rng, rows = self.rng, self.rows
        n = len(idx)
        t = self.page_t0[idx] + (self.page_dwell[idx] * rng.uniform(0.3, 0.95, n)).astype(np.int64)
        page = self.cur[idx]
        rows.add_event(t, self.client[idx], EV_DOWNLOAD, page, target=pdf)
        rows.add_log(t + rng.integers(20, 120, n), self.client[idx], pdf, 200, page)
        ranged = rng.random(n) < 0.25
        if ranged.any():
            rows.add_log(
                t[ranged] + rng.integers(300, 900, int(ranged.sum())),
                self.client[idx[ranged]],
                pdf[ranged],
                206,
                page[ranged],
            )
        self.outcome[idx] = O_FOUND

    def form(self, idx: np.ndarray) -> None:
        fill_forms(self, idx)

    def missing(self, idx: np.ndarray) -> None:
        """Looking for something the site does not have: a few searches, then give up."""
        rng = self.rng
        active = idx
        for _ in range(3):
            if not len(active):
                break
            _, res, top = self.searches(active, np.full(len(active), -1))
            peek = (res > 0) & (top > 0) & (rng.random(len(active)) < 0.4)
            self.view(active[peek], top[peek], "page")
            active = active[rng.random(len(active)) < 0.45]

    def leave(self, idx: np.ndarray) -> None:
        """Visitors who followed an external link do not browse further."""
        self._left = np.union1d(self._left, idx)

    def browse_more(self) -> None:
        """Some visitors look at a few more pages (news, events, other services, home)."""
        c, rng, t = self.w.city, self.rng, self.w.cfg.traffic
        left = self._left
        p_more = t.extra_pages_mean / (1.0 + t.extra_pages_mean)
        boost = np.where(self.intent == BROWSE, 0.3, 0.0)
        active = np.flatnonzero(rng.random(self.n) < p_more + boost)
        active = np.setdiff1d(active, left)
        news_ids, news_p = self._news_weights()
        gp = np.array(c.general_pages, dtype=np.int64)
        ev = np.array(c.events, dtype=np.int64)
        pages = np.array([s.page for s in c.services], dtype=np.int64)
        svc_p = self.params.service_p
        for _ in range(6):
            if not len(active):
                break
            n = len(active)
            r = rng.random(n)
            dest = np.where(r < 0.15, c.home, 0)
            m = (r >= 0.15) & (r < 0.45)
            if len(news_ids):
                dest[m] = news_ids[choice(rng, news_p, int(m.sum()))]
            else:
                dest[m] = c.news_index
            m = (r >= 0.45) & (r < 0.7)
            dest[m] = gp[choice(rng, c.general_weights, int(m.sum()))]
            m = (r >= 0.7) & (r < 0.8)
            dest[m] = ev[rng.integers(0, len(ev), int(m.sum()))]
            m = r >= 0.8
            dest[m] = pages[choice(rng, svc_p, int(m.sum()))]
            kind = np.where(self.kind_of(dest) == NEWS, 1, 0)
            for kv, kn in ((0, "page"), (1, "news")):
                sel = kind == kv
                self.view(active[sel], dest[sel], kn)
            active = active[rng.random(n) < p_more]

    def pair_return_visits(self) -> None:
        """A few visitors come back later the same day: same client, new session (> 45 min)."""
        share = self.w.cfg.traffic.return_visit_share
        rng = self.rng
        n = self.n
        if n < 10 or share <= 0:
            return
        end = self.t
        cand = np.flatnonzero(rng.random(n) < share)
        used = np.zeros(n, dtype=bool)
        gap = 45 * 60_000
        order = np.argsort(end, kind="stable")
        ends_sorted = end[order]
        for j in cand.tolist():
            if used[j]:
                continue
            k = int(np.searchsorted(ends_sorted, self.start[j] - gap))
            if k <= 0:
                continue
            for _ in range(4):
                i = int(order[rng.integers(0, k)])
                if i != j and not used[i] and self.device[i] == self.device[j]:
                    self.client[j] = self.client[i]
                    used[i] = used[j] = True
                    break
        # Rows were written with the original client ids; remap them.
        self._remap = (self.base, self.client)


def simulate_day(world: World, k: int, day: date, src: Sources) -> Rows:
    d = Day(world, k, day, src)
    d.populate()
    d.run()
    rows = d.rows
    base, remap = getattr(d, "_remap", (0, None))
    if remap is not None:
        for arrs in (rows.log["client"], rows.ev["client"]):
            for a in arrs:
                a[:] = remap[a - base]
    return rows
