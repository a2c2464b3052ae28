"""User-agent classification: device class, browser family + major version, OS family, bot.

Browser, OS and device families come from ua-parser 1.x (uap-core rules shipped in
``ua-parser-builtins``, resolved by ``ua-parser-rs``) and are returned unchanged, so they
can be compared with uap-core's own test files and with other tools using the same
rules ("Chrome Mobile", "Mobile Safari", "Samsung Internet", …; "Other" when unknown).
Only the *major* version is kept.

The device class (``desktop``, ``mobile``, ``tablet``, ``bot``, ``other``) is derived
here, because ua-parser reports a device *model* but not its form factor:

1. bots (see :mod:`amtspuls.enrich.bots`) are ``bot``;
2. TVs, set-top boxes, consoles, VR headsets, watches and cars are ``other``;
3. iPad / iPhone / iPod, Kindle readers, ua-parser's ``Generic Tablet`` / ``Generic Smartphone`` /
   ``Generic Feature Phone`` and the ``Tablet`` token decide directly;
4. Android browsers: ``Mobile`` in the user agent means a phone, its absence a tablet
   (Google's documented convention; Chrome on tablets omits "Mobile"); Android apps'
   own HTTP clients (no ``Mozilla/`` prefix, e.g. Dalvik) count as ``mobile``;
5. mobile operating systems (iOS, Windows Phone, KaiOS, Symbian, …) are ``mobile``;
   desktop ones (Windows, Mac OS X, Linux distributions, Chrome OS, BSDs) ``desktop``;
6. a remaining ``Mobi`` token, or a device brand named by ua-parser (its device rules
   are for phones and tablets; mostly feature phones reach this step), means
   ``mobile``; anything else is ``other``.

Known limit: iPadOS 13+ Safari sends a Mac desktop user agent by default, so those
iPads are counted as desktop (no server-side signal tells them apart).

A missing user agent (empty or "-") is treated as a bot: browsers always send one,
scripts often do not. ``None`` instead means the *input* has no user-agent field (Common
Log Format, aggregated imports): that is unknown, not a bot (device "other").

Privacy: the full user agent is never stored or returned; results hold only families
and the major version. The in-memory LRU cache is keyed on the user-agent string and
lives only as long as the process.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from ua_parser import Domain

from amtspuls.enrich.bots import (
    MAX_UA_CHARS,
    bot_verdict,
    is_missing_user_agent,
    matches_bot_patterns,
    ua_resolver,
)

__all__ = [
    "CACHE_SIZE",
    "DEVICE_CLASSES",
    "MISSING",
    "UNKNOWN",
    "UAInfo",
    "cache_clear",
    "classify_user_agent",
    "classify_user_agents",
    "device_class",
]

DEVICE_CLASSES = ("desktop", "mobile", "tablet", "bot", "other")

#: Distinct user agents remembered between calls.
CACHE_SIZE = 65_536
#: Longest browser / OS family kept.
MAX_FAMILY_CHARS = 64

OTHER = "Other"

# ua-parser OS families by form factor.
_MOBILE_OS = frozenset(
    {
        "iOS",
        "Windows Phone",
        "Windows Mobile",
        "Windows CE",
        "BlackBerry OS",
        "Symbian OS",
        "Symbian^3",
        "Symbian^3 Anna",
        "Symbian^3 Belle",
        "Nokia Series 40",
        "Nokia Series 30 Plus",
        "Bada",
        "Brew MP",
        "BREW",
        "KaiOS",
        "Firefox OS",
        "MeeGo",
        "Maemo",
        "Sailfish",
        "HarmonyOS",
        "Ubuntu Touch",
        "VRE",
    }
)
_TABLET_OS = frozenset({"BlackBerry Tablet OS", "WeTab", "Kindle"})
_DESKTOP_OS = frozenset(
    {
        "Windows",
        "Mac OS X",
        "Mac OS",
        "Linux",
        "Ubuntu",
        "Kubuntu",
        "Xubuntu",
        "Lubuntu",
        "Debian",
        "Fedora",
        "Red Hat",
        "CentOS",
        "SUSE",
        "openSUSE",
        "Mandriva",
        "Mageia",
        "Gentoo",
        "Slackware",
        "Arch Linux",
        "Linux Mint",
        "Chrome OS",
        "ChromeOS",
        "FreeBSD",
        "OpenBSD",
        "NetBSD",
        "BSD",
        "DragonFly BSD",
        "Solaris",
        "SerenityOS",
        "Haiku",
        "BeOS",
        "OS/2",
    }
)
# ua-parser OS / device families of TVs, consoles, set-top boxes, watches, speakers.
_OTHER_OS = frozenset(
    {
        "Roku",
        "GoogleTV",
        "tvOS",
        "ATV OS X",
        "WatchOS",
        "Web0S",
        "WebTV",
        "FireHbbTV",
        "Chromecast Linux",
        "Chromecast Android",
        "Chromecast Fuchsia",
        "Chromecast SmartSpeaker",
        "Sony",
        "Samsung",
        "LG",
        "Panasonic",
        "Philips",
    }
)
_OTHER_DEVICE_PREFIXES = (
    "HbbTV",
    "Roku",
    "AppleTV",
    "Apple TV",
    "Apple Watch",
    "HomePod",
    "PlayStation",
    "Nintendo",
    "Xbox",
    "Quest",
    "Oculus",
    "Tesla",
    "Smart TV",
    "Chromecast",
    "Inettv",
    "NetCast",
)
_TABLET_DEVICES = frozenset({"iPad", "Generic Tablet"})
_MOBILE_DEVICES = frozenset({"iPhone", "iPod", "Generic Smartphone", "Generic Feature Phone"})

# Smart TVs, streaming sticks and consoles that run Android or Linux.
_TV_OR_CONSOLE = re.compile(
    r"SMART-TV|SmartTV|Smart TV|Android TV|AndroidTV|GoogleTV|Google TV|\bCrKey\b|HbbTV|"
    r"BRAVIA|NetCast|Web0S|webOS\.TV|Tizen.*TV|\bAFT[A-Z]|\bTV\b|PlayStation|Nintendo|Xbox|"
    r"OculusBrowser|Quest \d|\bVR\b|QtCarBrowser"
)
_TABLET_TOKEN = re.compile(r"\bTablet\b|\biPad\b|\bPlayBook\b")
_MOBILE_TOKEN = re.compile(r"Mobi|iPhone|iPod")


@dataclass(frozen=True, slots=True)
class UAInfo:
    """What amtspuls keeps of a user agent (never the string itself)."""

    device: str  # one of DEVICE_CLASSES
    browser: str  # ua-parser family, "Other" if unknown
    browser_version: str  # major version only, "" if unknown
    os: str  # ua-parser family, "Other" if unknown
    is_bot: bool


#: The client sent no user agent ("" or "-"): a script.
MISSING = UAInfo(device="bot", browser=OTHER, browser_version="", os=OTHER, is_bot=True)
#: The input has no user-agent field at all (None), e.g. Common Log Format: unknown.
UNKNOWN = UAInfo(device="other", browser=OTHER, browser_version="", os=OTHER, is_bot=False)


def device_class(
    ua: str, device_family: str, device_brand: str | None, os_family: str, is_bot: bool
) -> str:
    """The device class of one user agent, given ua-parser's families (see module doc)."""
    if is_bot:
        return "bot"
    if (
        os_family in _OTHER_OS
        or device_family.startswith(_OTHER_DEVICE_PREFIXES)
        or _TV_OR_CONSOLE.search(ua) is not None
    ):
        return "other"
    if device_family in _TABLET_DEVICES or os_family in _TABLET_OS:
        return "tablet"
    if device_family in _MOBILE_DEVICES:
        return "mobile"
    if os_family == "Android":
        if _TABLET_TOKEN.search(ua):
            return "tablet"
        if not ua.startswith("Mozilla/"):
            return "mobile"  # an app's own HTTP client (Dalvik, …): phones dominate
        return "mobile" if "Mobile" in ua else "tablet"
    if os_family == "iOS":
        return "tablet" if _TABLET_TOKEN.search(ua) else "mobile"
    if os_family in _MOBILE_OS:
        return "mobile"
    if os_family in _DESKTOP_OS or device_family == "Mac":
        return "desktop"
    if _TABLET_TOKEN.search(ua):
        return "tablet"
    if _MOBILE_TOKEN.search(ua):
        return "mobile"
    if device_brand and device_brand != "Generic":
        # uap-core names a brand almost only for phones and tablets (TVs and consoles
        # were handled above); without an OS match these are mostly feature phones.
        return "mobile"
    return "other"


def _major(version: str | None) -> str:
    """Major version as ua-parser reports it, bounded in length ("" if none)."""
    if not version:
        return ""
    return version[:16]


def classify_user_agent(ua: str) -> UAInfo:
    """Classify one user agent (uncached; prefer :func:`classify_user_agents`)."""
    if is_missing_user_agent(ua):
        return MISSING
    sample = ua[:MAX_UA_CHARS]
    result = ua_resolver()(sample, Domain.ALL)
    agent, os, device = result.user_agent, result.os, result.device
    # some uap-core rules copy an app name out of the user agent: keep families short
    browser = agent.family[:MAX_FAMILY_CHARS] if agent is not None else OTHER
    browser_version = _major(agent.major) if agent is not None else ""
    os_family = os.family[:MAX_FAMILY_CHARS] if os is not None else OTHER
    device_family = device.family if device is not None else OTHER
    device_brand = device.brand if device is not None else None
    bot = bot_verdict(sample, device_family)
    return UAInfo(
        device=device_class(sample, device_family, device_brand, os_family, bot),
        browser=browser,
        browser_version=browser_version,
        os=os_family,
        is_bot=bot,
    )


_classify_cached = lru_cache(maxsize=CACHE_SIZE)(classify_user_agent)


def classify_user_agents(uas: Sequence[str | None]) -> list[UAInfo]:
    """Classify distinct user agents; returns a list parallel to ``uas``.

    ``None`` means the input format has no user-agent field (Common Log Format, some IIS
    configurations) and gives :data:`UNKNOWN` (not a bot); an empty or "-" user agent
    means the client sent none and gives :data:`MISSING` (a bot).
    Results are cached (LRU, :data:`CACHE_SIZE` entries) across calls.
    """
    # keyed on the examined prefix, so the cache's memory stays bounded
    return [UNKNOWN if ua is None else _classify_cached(ua[:MAX_UA_CHARS]) for ua in uas]


def warm_up() -> None:
    """Load the parser and compile the bot patterns now (each is done once per process;
    a log import does it while its first batch is being read)."""
    ua_resolver()
    matches_bot_patterns("")


def cache_clear() -> None:
    """Forget cached results (tests and benchmarks measure cold performance with it)."""
    _classify_cached.cache_clear()
