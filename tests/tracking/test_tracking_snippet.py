"""The tracker script as shipped and the `amtspuls site snippet` command."""

from __future__ import annotations

import gzip
import json
import re
from html.parser import HTMLParser

from tracking_helpers import cli

from amtspuls.collect.snippet import tracker_bytes, tracker_source

# Storage and fingerprinting interfaces the tracker must not touch.
FORBIDDEN = ["document.cookie", "localStorage", "sessionStorage", "indexedDB", "caches.",
             "canvas", "getContext", "WebGL", "AudioContext", "getBattery", "hardwareConcurrency",
             "deviceMemory", "plugins", "mimeTypes", "screen.", "devicePixelRatio", "fonts",
             "getClientRects", "mediaDevices", "getUserMedia", "geolocation", "RTCPeerConnection",
             "navigator.languages", "userAgentData"]


def test_tracker_at_most_2_kb_gzipped():
    served, packed = tracker_bytes()
    assert len(packed) <= 2048, len(packed)
    assert gzip.decompress(packed) == served
    # the file in the package is within the limit too, comments and all
    assert len(gzip.compress(tracker_source().encode(), 9)) <= 2048


def test_tracker_uses_no_storage_or_fingerprinting_api():
    code = tracker_bytes()[0].decode()
    for name in FORBIDDEN:
        assert name not in code, name
    assert "sendBeacon" in code and "keepalive" in code
    assert "credentials: 'omit'" in code
    # no third-party host: the only address is derived from the script's own src
    assert not re.search(r"https?://", code)


def test_served_code_is_the_source_without_comments():
    code = tracker_bytes()[0].decode()
    source_code = [ln.strip() for ln in tracker_source().splitlines()
                   if ln.strip() and not ln.strip().startswith(("//", "/*", "*"))]
    assert code.splitlines() == [ln for ln in source_code if not ln.startswith("Attributes:")]


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_snippet_command(tmp_path):
    data = tmp_path / "data"
    run = cli(data, "site", "snippet", "WWW.Musterstadt.de", "--url",
              "https://statistik.musterstadt.de/", "--respect-dnt")
    assert run.returncode == 0, run.stderr
    parser = _Tags()
    parser.feed(run.stdout)
    ((tag, attrs),) = parser.tags
    assert tag == "script"
    assert attrs == {"defer": None, "src": "https://statistik.musterstadt.de/js/amtspuls.js",
                     "data-site": "www.musterstadt.de", "data-respect-dnt": None}
    as_json = cli(data, "site", "snippet", "www.musterstadt.de", "--json")
    doc = json.loads(as_json.stdout)
    assert doc["id"] == 1 and doc["domain"] == "www.musterstadt.de"
    assert doc["snippet"].startswith('<script defer src="http://127.0.0.1:8000/js/amtspuls.js"')
    listed = cli(data, "site", "list", "--json")
    assert [s["domain"] for s in json.loads(listed.stdout)] == ["www.musterstadt.de"]


def test_snippet_bad_input_exits_2(tmp_path):
    data = tmp_path / "data"
    for args in (["x.de", "--url", "javascript:alert(1)"], ["x.de", "--url", 'http://a"b'],
                 ["bad domain"]):
        run = cli(data, "site", "snippet", *args)
        assert run.returncode == 2 and len(run.stderr.splitlines()) == 1, run.stderr
        assert "Traceback" not in run.stderr
    assert json.loads(cli(data, "site", "list", "--json").stdout) == []
