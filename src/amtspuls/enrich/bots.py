"""Bot detection for user agents.

A user agent is a bot when any of these holds:

* it is empty or "-" (a request that sends no user agent is almost always a script);
* ua-parser classifies its device family as ``"Spider"`` (uap-core's crawler rules);
* it matches a pattern of the declared rule tables in ``amtspuls/data/enrich/``:
  ``crawler-user-agents.json`` (monperrus/crawler-user-agents, MIT) and
  ``bot-patterns-extra.txt`` (HTTP libraries, command-line tools, headless browsers,
  uptime monitors, generic self-descriptions).

The ~1,520 patterns are compiled into two regular expressions (:func:`compile_patterns`):
plain-text patterns and alternatives (the vast majority, including simple ones such as
``[Cc]urebot`` or ``Ahrefs(Bot|SiteAudit)`` after expansion) become a character trie, so
the engine follows one branch per input position instead of trying ~1,500 patterns; the
few real regexes are appended as alternatives. Patterns are case-sensitive, as published;
lines of the extra file written as ``(?i:...)`` form the second expression, searched in
the lower-cased user agent. The tests check that the compiled form matches exactly what
the individual patterns match.

The pipeline calls :func:`is_bot` once per *distinct* user agent of a batch; results are
kept in a bounded in-memory LRU cache (keyed on the string, never written anywhere).
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

from ua_parser import BasicResolver, Domain, Resolver, load_builtins, load_lazy_builtins

__all__ = [
    "CACHE_SIZE",
    "CompiledRules",
    "MAX_UA_CHARS",
    "bot_verdict",
    "compile_patterns",
    "crawler_patterns",
    "extra_patterns",
    "is_bot",
    "is_missing_user_agent",
    "matches_bot_patterns",
    "matching_patterns",
    "ua_resolver",
]

CRAWLER_FILE = "crawler-user-agents.json"
EXTRA_FILE = "bot-patterns-extra.txt"

#: Distinct user agents remembered between calls.
CACHE_SIZE = 65_536
#: Only this many leading characters of a user agent are examined; real ones are far
#: shorter, and a cap bounds the regex work an attacker can cause with huge headers.
MAX_UA_CHARS = 1_024

_SPIDER = "Spider"
_META = frozenset(".^$*+?{}[]()|")
_BACKREF = re.compile(r"\\[1-9]|\(\?P=")
_MAX_EXPANSION = 64


def _data_text(name: str) -> str:
    return (files("amtspuls.data") / "enrich" / name).read_text(encoding="utf-8")


def crawler_patterns() -> list[str]:
    """The ``pattern`` of every entry of crawler-user-agents.json, in file order."""
    entries = json.loads(_data_text(CRAWLER_FILE))
    return [entry["pattern"] for entry in entries]


def extra_patterns(text: str | None = None) -> list[str]:
    """Patterns of bot-patterns-extra.txt (or of ``text`` in the same format)."""
    if text is None:
        text = _data_text(EXTRA_FILE)
    patterns = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("(?") and re.match(r"\(\?[aiLmsux]+\)", line):
            raise ValueError(f"{EXTRA_FILE}:{number}: global flags are not allowed: {line!r}")
        try:
            re.compile(line)
        except re.error as exc:
            raise ValueError(f"{EXTRA_FILE}:{number}: invalid pattern {line!r}: {exc}") from exc
        patterns.append(line)
    return patterns


def _as_literal(pattern: str) -> str | None:
    """The literal text a pattern matches, or None if it uses regex syntax.

    Escaped punctuation (``\\/``, ``\\.``, ``\\-``, ``\\ ``) counts as literal; an
    escaped letter or digit (``\\d``, ``\\s``, ``\\1``) does not.
    """
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            if i + 1 >= len(pattern):
                return None
            following = pattern[i + 1]
            if following.isalnum() or following == "_":
                return None
            out.append(following)
            i += 2
            continue
        if char in _META:
            return None
        out.append(char)
        i += 1
    return "".join(out) or None


def _expand(pattern: str) -> list[str] | None:
    """All literal strings a simple pattern matches, or None if it is not that simple.

    Handles plain text, escaped punctuation, small character sets such as ``[wW]`` and
    groups of plain-text options such as ``(Bot|SiteAudit)``; at most
    ``_MAX_EXPANSION`` strings. This lets patterns like ``[Cc]urebot`` join the trie.
    """
    pieces: list[list[str]] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            following = pattern[i + 1 : i + 2]
            if not following or following.isalnum() or following == "_":
                return None
            pieces.append([following])
            i += 2
        elif char == "[":
            end = pattern.find("]", i + 2)
            members = pattern[i + 1 : end]
            if end < 0 or members.startswith("^") or any(c in members for c in "-\\[]"):
                return None
            pieces.append(list(dict.fromkeys(members)))
            i = end + 1
        elif char == "(":
            end = pattern.find(")", i + 1)
            body = pattern[i + 1 : end]
            if end < 0:
                return None
            if body.startswith("?:"):
                body = body[2:]
            options = []
            for option in body.split("|"):
                literal = _as_literal(option) if option else ""
                if literal is None:
                    return None
                options.append(literal)
            pieces.append(options)
            i = end + 1
        elif char in _META:
            return None
        else:
            pieces.append([char])
            i += 1
    if not pieces or math.prod(len(options) for options in pieces) > _MAX_EXPANSION:
        return None
    words = ["".join(combination) for combination in itertools.product(*pieces)]
    return None if "" in words else words


def _top_level(pattern: str) -> tuple[list[str], int]:
    """Split ``pattern`` at its top-level ``|``.

    Also returns the index of the parenthesis closing the group opened at index 0
    (-1 if the pattern does not start with a group).
    """
    parts: list[str] = []
    depth = 0
    in_class = False
    first_close = -1
    start = 0
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if in_class:
            if char == "]":
                in_class = False
        elif char == "[":
            in_class = True
            # "]" directly after "[" or "[^" is a literal member of the class
            if pattern[i + 1 : i + 2] == "^":
                i += 1
            if pattern[i + 1 : i + 2] == "]":
                i += 1
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0 and first_close < 0 and pattern.startswith("("):
                first_close = i
        elif char == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
        i += 1
    parts.append(pattern[start:])
    return parts, first_close


def _trie_regex(words: Iterable[str]) -> str:
    """A regex source matching any of ``words``, factored as a character trie.

    A word that is a prefix of another makes the longer one redundant (any match
    suffices), so terminal nodes are emitted without their children.
    """
    root: dict[str, dict] = {}
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def emit(node: dict[str, dict]) -> str:
        if "" in node:
            return ""
        branches = [re.escape(char) + emit(child) for char, child in sorted(node.items())]
        if len(branches) == 1:
            return branches[0]
        return "(?:" + "|".join(branches) + ")"

    return emit(root)


class _Bucket:
    """Alternatives to be compiled into one regex."""

    def __init__(self) -> None:
        self.anywhere: list[str] = []  # literals found anywhere
        self.at_start: list[str] = []  # literals anchored with "^"
        self.regexes: list[str] = []  # everything else

    def add(self, alternative: str, lower: bool) -> None:
        anchored = alternative.startswith("^")
        words = _expand(alternative[1:] if anchored else alternative)
        if words is None:
            self.regexes.append(f"(?i:{alternative})" if lower else f"(?:{alternative})")
            return
        if lower:
            words = [word.lower() for word in words]
        (self.at_start if anchored else self.anywhere).extend(words)

    def compile(self) -> re.Pattern[str] | None:
        sources = []
        if self.anywhere:
            sources.append(_trie_regex(self.anywhere))
        if self.at_start:
            sources.append("^" + _trie_regex(self.at_start))
        sources += self.regexes
        return re.compile("|".join(sources)) if sources else None


@dataclass(frozen=True)
class CompiledRules:
    """Bot patterns compiled for speed.

    ``case_sensitive`` regexes are searched in the user agent, ``case_insensitive``
    ones in its lower-cased form (patterns written as ``(?i:...)``).
    """

    case_sensitive: tuple[re.Pattern[str], ...]
    case_insensitive: tuple[re.Pattern[str], ...]
    pattern_count: int

    @property
    def regex_count(self) -> int:
        return len(self.case_sensitive) + len(self.case_insensitive)

    def search(self, ua: str) -> bool:
        for rule in self.case_sensitive:
            if rule.search(ua) is not None:
                return True
        if self.case_insensitive:
            lowered = ua.lower()
            for rule in self.case_insensitive:
                if rule.search(lowered) is not None:
                    return True
        return False


def compile_patterns(patterns: Sequence[str]) -> CompiledRules:
    """Compile ``patterns`` into as few regexes as possible (normally two).

    Every pattern is first compiled on its own, so a broken one is reported by name.
    Top-level alternatives that are plain text (optionally anchored with ``^``) go into
    character tries; other alternatives are appended as they are. Patterns written as
    ``(?i:...)`` go into a second regex that is searched in the lower-cased user agent.
    Patterns with backreferences cannot share group numbers and stay separate.
    """
    sensitive, insensitive = _Bucket(), _Bucket()
    separate: list[re.Pattern[str]] = []
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"invalid bot pattern {pattern!r}: {exc}") from exc
        if _BACKREF.search(pattern):
            separate.append(re.compile(pattern))
            continue
        alternatives, first_close = _top_level(pattern)
        if (
            len(alternatives) == 1
            and pattern.startswith("(?i:")
            and first_close == len(pattern) - 1
        ):
            for alternative in _top_level(pattern[4:-1])[0]:
                insensitive.add(alternative, lower=True)
        else:
            for alternative in alternatives:
                sensitive.add(alternative, lower=False)
    compiled_sensitive = [rule for rule in [sensitive.compile()] if rule is not None]
    compiled_insensitive = [rule for rule in [insensitive.compile()] if rule is not None]
    return CompiledRules(
        case_sensitive=tuple(compiled_sensitive + separate),
        case_insensitive=tuple(compiled_insensitive),
        pattern_count=len(patterns),
    )


@lru_cache(maxsize=1)
def _rules() -> CompiledRules:
    return compile_patterns(crawler_patterns() + extra_patterns())


@lru_cache(maxsize=1)
def ua_resolver() -> Resolver:
    """The process-wide ua-parser resolver (uncached; callers cache their own results).

    Uses the ua-parser-rs fast resolver when installed, else pure-Python regexes.
    """
    try:
        from ua_parser.regex import Resolver as FastResolver  # needs ua-parser-rs
    except ImportError:  # pragma: no cover - ua-parser-rs is installed with ua-parser[regex]
        return BasicResolver(load_builtins())
    return FastResolver(load_lazy_builtins())


def is_missing_user_agent(ua: str) -> bool:
    """True for an absent user agent: empty, whitespace or the log placeholder "-"."""
    stripped = ua.strip()
    return not stripped or stripped == "-" or stripped == '"-"'


def matches_bot_patterns(ua: str) -> bool:
    """True if ``ua`` matches any declared bot pattern (crawler list + extra file)."""
    return _rules().search(ua[:MAX_UA_CHARS])


def matching_patterns(ua: str) -> list[str]:
    """Every declared pattern that matches ``ua`` (slow; for diagnostics and tests)."""
    sample = ua[:MAX_UA_CHARS]
    return [
        pattern
        for pattern in crawler_patterns() + extra_patterns()
        if re.search(pattern, sample) is not None
    ]


def bot_verdict(ua: str, device_family: str | None) -> bool:
    """Combine the signals for one user agent whose ua-parser device family is known."""
    return is_missing_user_agent(ua) or device_family == _SPIDER or matches_bot_patterns(ua)


@lru_cache(maxsize=CACHE_SIZE)
def _is_bot_one(ua: str) -> bool:
    """``ua`` is already cut to MAX_UA_CHARS."""
    if is_missing_user_agent(ua) or matches_bot_patterns(ua):
        return True
    device = ua_resolver()(ua, Domain.DEVICE).device
    return device is not None and device.family == _SPIDER


def is_bot(uas: Sequence[str | None]) -> list[bool]:
    """For each user agent, whether it is a bot, crawler, script or monitor.

    Returns a list parallel to ``uas``. Empty and "-" count as bots (the client sent no
    user agent); ``None`` (the input format has no user-agent field) does not.
    Same verdict as ``UAInfo.is_bot`` of :func:`amtspuls.enrich.useragent.classify_user_agents`,
    which already includes it.
    """
    # keyed on the examined prefix, so the cache's memory stays bounded
    return [ua is not None and _is_bot_one(ua[:MAX_UA_CHARS]) for ua in uas]
