"""Configuration of the Musterstadt simulator: one dataclass per concern.

Every number here is documented in docs/simulator.md; the defaults are assumptions
calibrated by judgement on published public-sector analytics, not measurements of a
real city. `SimConfig.validate()` raises `ValueError` with one readable line.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

BUNDESLAENDER: tuple[str, ...] = (
    "BB",
    "BE",
    "BW",
    "BY",
    "HB",
    "HE",
    "HH",
    "MV",
    "NI",
    "NW",
    "RP",
    "SH",
    "SL",
    "SN",
    "ST",
    "TH",
)

# State and federal elections 2024–2026 (public knowledge; extend via SimConfig.elections).
KNOWN_ELECTIONS: dict[str, tuple[str, ...]] = {
    "*": ("2024-06-09", "2025-02-23"),  # European Parliament, Bundestag
    "BB": ("2024-09-22",),
    "BE": ("2026-09-20",),
    "BW": ("2024-06-09", "2026-03-08"),
    "BY": ("2026-03-08",),  # Kommunalwahl
    "HE": ("2026-03-15",),  # Kommunalwahl
    "HH": ("2025-03-02",),
    "MV": ("2026-09-20",),
    "NI": ("2026-09-13",),  # Kommunalwahl
    "NW": ("2025-09-14", "2025-09-28"),  # Kommunalwahl and run-off
    "RP": ("2024-06-09", "2026-03-22"),
    "SN": ("2024-09-01",),
    "ST": ("2026-09-06",),
    "TH": ("2024-09-01",),
}


@dataclass
class TrafficConfig:
    """Human visits: volume, rhythm, devices, sources."""

    visits_per_day: int = 8000
    # Mean visits on an ordinary day of a week = visits_per_day; these shape the week (Mon..Sun).
    weekday_factors: tuple[float, ...] = (1.18, 1.12, 1.10, 1.08, 0.98, 0.60, 0.64)
    holiday_factor: float = 0.55  # a public holiday looks like a quiet Sunday
    bridge_day_factor: float = 0.85  # a working day between a holiday and the weekend
    christmas_factor: float = 0.7  # 24 Dec – 1 Jan
    summer_holiday_factor: float = 0.9  # mid-July – mid-August
    day_noise: float = 0.04  # relative day-to-day noise (lognormal sigma)
    # Hour-of-day weights (local time), weekday and weekend.
    hourly_weekday: tuple[float, ...] = (
        0.35,
        0.2,
        0.12,
        0.1,
        0.15,
        0.45,
        1.5,
        3.8,
        6.6,
        7.8,
        8.0,
        7.4,
        6.1,
        6.5,
        6.9,
        6.3,
        5.5,
        5.0,
        4.9,
        5.2,
        5.3,
        4.4,
        2.8,
        1.3,
    )
    hourly_weekend: tuple[float, ...] = (
        1.0,
        0.6,
        0.35,
        0.25,
        0.25,
        0.35,
        0.8,
        1.8,
        3.6,
        5.4,
        6.6,
        6.9,
        6.6,
        6.2,
        6.1,
        6.2,
        6.3,
        6.4,
        6.5,
        6.9,
        7.0,
        5.9,
        3.8,
        2.0,
    )
    # Share of visits whose intent is a catalogue service; the rest read news, look at
    # events, browse or search for something the site does not have.
    service_share: float = 0.64
    news_share: float = 0.14
    events_share: float = 0.06
    browse_share: float = 0.13
    missing_share: float = 0.03
    # Devices (Germany, 2025; statcounter-style shares, rounded) and browsers per device.
    device_shares: dict[str, float] = field(
        default_factory=lambda: {"mobile": 0.58, "desktop": 0.39, "tablet": 0.03}
    )
    browser_shares: dict[str, dict[str, float]] = field(
        default_factory=lambda: {
            "mobile": {
                "safari_ios": 0.37,
                "chrome_android": 0.44,
                "samsung": 0.12,
                "firefox_android": 0.02,
                "chrome_ios": 0.05,
            },
            "desktop": {
                "chrome": 0.47,
                "firefox": 0.17,
                "edge": 0.19,
                "safari_mac": 0.13,
                "opera": 0.04,
            },
            "tablet": {"safari_ipad": 0.62, "chrome_tablet": 0.38},
        }
    )
    # Where visits come from (public-sector dashboards such as analytics.usa.gov show
    # organic search as the largest source, then direct; social is small).
    source_shares: dict[str, float] = field(
        default_factory=lambda: {
            "search": 0.55,
            "direct": 0.30,
            "referral": 0.09,
            "social": 0.04,
            "campaign": 0.02,
        }
    )
    search_engine_shares: dict[str, float] = field(
        default_factory=lambda: {
            "google": 0.885,
            "bing": 0.05,
            "ecosia": 0.02,
            "duckduckgo": 0.015,
            "yahoo": 0.01,
            "startpage": 0.01,
            "qwant": 0.01,
        }
    )
    ipv6_share: float = 0.18
    tracker_blocked_share: float = 0.06  # visits whose browser sends no tracker events
    cached_assets_share: float = 0.2  # visits whose browser has all assets cached
    revalidate_assets_share: float = 0.1  # visits that revalidate assets (304)
    return_visit_share: float = 0.04  # visits by a visitor who already visited that day
    old_url_share: float = 0.12  # search/referral landings via an old URL (301)
    extra_pages_mean: float = 0.4  # mean pages browsed after the task
    max_dwell_s: int = 25 * 60  # no gap inside a visit is longer (sessions: 30 min)


@dataclass
class JourneyConfig:
    """How a visitor with an intent moves through the site."""

    nav_success: float = 0.75  # default probability that menu navigation reaches the service
    problem_nav_success: float = 0.12  # same for services with a findability problem
    search_first: float = 0.25  # share who search rather than navigate when not on the page
    search_after_nav_fail: float = 0.7  # share who search after navigation failed
    retry_search: float = 0.55  # share who reformulate after a failed search
    max_attempts: int = 4
    click_result: float = 0.9  # share who click the right result when it is listed
    pdf_share: float = 0.45  # share of visitors on a page with a PDF who download it
    outlink_share: float = 0.3  # share who follow an external portal link
    form_abandon_no_error: float = 0.08  # leave a form without any error
    abandon_after_error: float = 0.22  # leave after a field error (normal field)
    problem_abandon_after_error: float = 0.5  # leave after an error at a problem field
    rage_click_on_error: float = 0.25
    outage_retry: float = 0.45  # submit again after a failed submission
    broken_link_click: float = 0.12  # share of visitors on a referring page who click the dead link


@dataclass
class QueryConfig:
    """Site-search queries as citizens type them."""

    typo_rate: float = 0.14  # share of queries with at least one keyboard typo
    double_typo_rate: float = 0.2  # of those, share with a second typo
    umlaut_ascii_rate: float = 0.14  # ä → ae …, ß → ss
    umlaut_drop_rate: float = 0.1  # ä → a …
    colloquial_rate: float = 0.35  # query built from a colloquial word
    question_rate: float = 0.06  # "wie beantrage ich …"
    english_rate: float = 0.02
    compound_split_rate: float = 0.06  # "sperr müll"
    compound_join_rate: float = 0.05  # "perso abholen" → "persoabholen"
    capitalised_rate: float = 0.1  # typed with capitals (most type lower case)
    modifier_rate: float = 0.45  # query has an action word ("beantragen", "kosten" …)
    city_name_rate: float = 0.04  # "… musterstadt"
    synonym_coverage: float = 0.25  # share of colloquial words the site search knows
    fuzzy_min_len: int = 6  # site search tolerates one edit in words at least this long


@dataclass
class BotConfig:
    bot_line_share: float = 0.38  # target share of bot lines among all lines of a day
    share_noise: float = 0.025  # day-to-day spread of that share (kept within 0.31–0.44)


@dataclass
class RequestConfig:
    """Open311 service requests."""

    per_day_mean: float = 36.0
    per_day_min: int = 20
    per_day_max: int = 60
    no_code_share: float = 0.1
    duplicate_share: float = 0.16  # share of requests that repeat an earlier report
    near_miss_share: float = 0.08  # share that look alike but are different problems
    pii_share: float = 0.2  # share with a name, phone number, e-mail or plate in the text
    media_share: float = 0.3
    typo_rate: float = 0.35  # share of texts with typos
    ascii_umlaut_share: float = 0.12
    duplicate_radius_m: float = 120.0
    near_miss_distance_m: tuple[float, float] = (800.0, 1400.0)


@dataclass
class IncidentConfig:
    """At least one of each kind per run; more in long runs (per 90 days)."""

    storms_per_90d: float = 1.0
    outages_per_90d: float = 1.5
    campaigns_per_90d: float = 1.0
    virals_per_90d: float = 1.0
    storm_hours: tuple[float, float] = (8.0, 30.0)
    storm_magnitude: tuple[float, float] = (5.0, 10.0)  # peak traffic multiplier
    outage_hours: tuple[float, float] = (3.0, 10.0)
    outage_magnitude: tuple[float, float] = (0.8, 1.0)  # share of submissions failing
    campaign_days: tuple[float, float] = (5.0, 12.0)
    campaign_magnitude: tuple[float, float] = (3.0, 6.0)  # peak daily visit multiplier
    viral_hours: tuple[float, float] = (10.0, 36.0)
    viral_magnitude: tuple[float, float] = (0.12, 0.3)  # extra visits as share of a day


@dataclass
class ProblemConfig:
    """Findability and form problems, broken links, and the fix."""

    findability_problems: int = 3
    form_problems: int = 2
    form_problem_error_rate: tuple[float, float] = (0.25, 0.45)
    broken_links: int = 5
    fix_date: date | None = None  # default: after 60 % of the run
    fix_after_fraction: float = 0.6
    fix: bool = True


@dataclass
class SimConfig:
    start: date = date(2026, 1, 1)
    days: int = 90
    seed: int = 7
    bundesland: str = "NW"
    timezone: str = "Europe/Berlin"
    host: str = "www.musterstadt.de"
    elections: tuple[date, ...] | None = None  # None: known elections of the Bundesland
    gzip_level: int = 1  # fastest; level 6 saves ~25 % bytes for ~2x the compression CPU
    traffic: TrafficConfig = field(default_factory=TrafficConfig)
    journey: JourneyConfig = field(default_factory=JourneyConfig)
    queries: QueryConfig = field(default_factory=QueryConfig)
    bots: BotConfig = field(default_factory=BotConfig)
    requests: RequestConfig = field(default_factory=RequestConfig)
    incidents: IncidentConfig = field(default_factory=IncidentConfig)
    problems: ProblemConfig = field(default_factory=ProblemConfig)

    @property
    def end(self) -> date:
        """The last simulated day (inclusive)."""
        return self.start + timedelta(days=self.days - 1)

    @property
    def fix_date(self) -> date | None:
        p = self.problems
        if not p.fix:
            return None
        if p.fix_date is not None:
            return p.fix_date
        return self.start + timedelta(days=max(1, int(self.days * p.fix_after_fraction)))

    def election_dates(self) -> tuple[date, ...]:
        if self.elections is not None:
            return tuple(sorted(self.elections))
        found = KNOWN_ELECTIONS["*"] + KNOWN_ELECTIONS.get(self.bundesland, ())
        return tuple(sorted({date.fromisoformat(d) for d in found}))

    def validate(self) -> None:
        if not isinstance(self.days, int) or self.days < 1:
            raise ValueError(f"--days must be at least 1, got {self.days}")
        if self.days > 3660:
            raise ValueError(f"--days must be at most 3660, got {self.days}")
        if self.traffic.visits_per_day < 1:
            raise ValueError(
                f"--visits-per-day must be at least 1, got {self.traffic.visits_per_day}"
            )
        if self.traffic.visits_per_day > 100_000:
            raise ValueError("--visits-per-day must be at most 100000 (memory is per day)")
        if self.bundesland not in BUNDESLAENDER:
            known = ", ".join(BUNDESLAENDER)
            raise ValueError(f"unknown Bundesland {self.bundesland!r}; expected one of {known}")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {self.timezone!r}") from None
        if not 0 <= self.seed < 2**63:
            raise ValueError(f"--seed must be a non-negative integer, got {self.seed}")
        if not 0.0 < self.bots.bot_line_share < 0.9:
            raise ValueError("bot_line_share must be between 0 and 0.9")
        if not 0 <= self.gzip_level <= 9:
            raise ValueError("gzip_level must be 0..9")
        r = self.requests
        if not 0 < r.per_day_min <= r.per_day_max:
            raise ValueError("requests per_day_min/per_day_max are inconsistent")
        if len(self.traffic.weekday_factors) != 7:
            raise ValueError("weekday_factors needs 7 values")
        if len(self.traffic.hourly_weekday) != 24 or len(self.traffic.hourly_weekend) != 24:
            raise ValueError("hourly profiles need 24 values")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["start"] = self.start.isoformat()
        d["problems"]["fix_date"] = self.fix_date.isoformat() if self.fix_date else None
        d["elections"] = [e.isoformat() for e in self.election_dates()]
        return d
