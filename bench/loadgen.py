"""Load generator for the live tracking endpoints (a separate process, loopback only).

Keeps `--concurrency` HTTP/1.1 keep-alive connections busy for `--duration` seconds
(closed loop: each connection sends its next request when the answer is in) and prints
one JSON summary: requests, events, answers by status, errors, events/s, latency
percentiles. Paths come from `--pages` distinct pages (a municipal site's size); with
`--unique` each event gets a unique marker path (`/last/<run>/<n>`) instead, and with
`--acks FILE` the markers of acknowledged (2xx) events are written there, so a crash test
can check that each of them was stored exactly once. Connection errors (a killed server)
are counted and the connection is retried until the time is up.

    python bench/loadgen.py --url http://127.0.0.1:8000 --site www.musterstadt.de \\
        --mode collect --duration 60 --concurrency 32
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import time
from urllib.parse import quote, urlsplit

UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
]
PAGES = ["/rathaus/buergerservice", "/leistungen/personalausweis", "/leistungen/wohngeld",
         "/abfall/sperrmuell", "/kita/anmeldung", "/standesamt/geburt", "/aktuelles"]


def letters(n: int) -> str:
    """A number in letters: markers survive the scrubbing of digit runs in paths."""
    out = ""
    while True:
        n, r = divmod(n, 26)
        out = chr(97 + r) + out
        if n == 0:
            return out


class Stats:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.status: dict[int, int] = {}
        self.errors: dict[str, int] = {}
        self.events = 0
        self.acked: list[str] = []


class Generator:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        base = urlsplit(args.url)
        self.host = base.hostname or "127.0.0.1"
        self.port = base.port or 80
        if self.host not in ("127.0.0.1", "localhost", "::1"):
            raise SystemExit("loadgen: loopback targets only")
        self.stats = Stats()
        self.seq = 0
        self.deadline = 0.0
        self.run = letters(int(time.time() * 1000) % (26 ** 6))

    def _next(self) -> tuple[bytes, list[str]]:
        """One request (bytes) and the markers of its events."""
        a = self.args
        n = a.batch if a.mode in ("bulk", "matomo-bulk") else 1
        markers, events = [], []
        for _ in range(n):
            self.seq += 1
            if a.unique:
                marker = f"/last/{self.run}/{letters(self.seq)}"
            else:
                marker = f"{PAGES[self.seq % len(PAGES)]}/{letters(self.seq % a.pages)}"
            markers.append(marker)
            events.append((marker, PAGES[self.seq % len(PAGES)], UAS[self.seq % len(UAS)]))
        mode = a.mode
        if mode == "mixed":
            mode = ("collect", "matomo", "plausible")[self.seq % 3]
        url0 = f"https://{a.site}{events[0][0]}"
        ua = events[0][2]
        if mode == "collect":
            body = json.dumps({"site": a.site, "type": "pageview", "url": url0,
                               "title": "Musterstadt", "referrer": "https://www.google.de/"})
            return self._post("/api/collect", body, ua), markers
        if mode == "bulk":
            body = json.dumps({"site": a.site, "events": [
                {"type": "pageview", "url": f"https://{a.site}{m}", "title": "Musterstadt"}
                for m, _, _ in events]})
            return self._post("/api/collect", body, ua), markers
        if mode == "plausible":
            body = json.dumps({"name": "pageview", "url": url0, "domain": a.site, "referrer": None})
            return self._post("/api/event", body, ua), markers
        if mode == "matomo":
            q = (f"idsite={a.idsite}&rec=1&send_image=0&action_name=Musterstadt"
                 f"&url={quote(url0, '')}&_id=0123456789abcdef&res=1920x1080&h=9&m=30&s=0")
            return (f"GET /matomo.php?{q} HTTP/1.1\r\nHost: {self.host}\r\nUser-Agent: {ua}\r\n"
                    f"\r\n").encode(), markers
        if mode == "matomo-bulk":
            body = json.dumps({"requests": [
                f"?idsite={a.idsite}&rec=1&url={quote(f'https://{a.site}{m}', '')}"
                for m, _, _ in events]})
            return self._post("/matomo.php", body, ua), markers
        raise SystemExit(f"unknown mode {mode}")

    def _post(self, path: str, body: str, ua: str) -> bytes:
        data = body.encode()
        return (f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nUser-Agent: {ua}\r\n"
                f"Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {len(data)}\r\n"
                f"\r\n").encode() + data

    def stop(self) -> None:
        self.deadline = 0.0

    async def worker(self) -> None:
        stats = self.stats
        reader = writer = None
        while time.monotonic() < self.deadline:
            if writer is None:
                try:
                    reader, writer = await asyncio.open_connection(self.host, self.port)
                except OSError as exc:
                    stats.errors[type(exc).__name__] = stats.errors.get(type(exc).__name__, 0) + 1
                    await asyncio.sleep(0.05)
                    continue
            request, markers = self._next()
            started = time.perf_counter()
            try:
                writer.write(request)
                status_line = await reader.readline()
                if not status_line:
                    raise ConnectionResetError("closed")
                status = int(status_line.split(b" ", 2)[1])
                length = 0
                while True:
                    line = await reader.readline()
                    if line in (b"\r\n", b""):
                        break
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                if length:
                    await reader.readexactly(length)
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
                stats.errors[type(exc).__name__] = stats.errors.get(type(exc).__name__, 0) + 1
                writer.close()
                reader = writer = None
                await asyncio.sleep(0.02)
                continue
            stats.latencies.append(time.perf_counter() - started)
            stats.status[status] = stats.status.get(status, 0) + 1
            if 200 <= status < 300:
                stats.events += len(markers)
                stats.acked.extend(markers)
        if writer is not None:
            writer.close()

    async def main(self) -> dict:
        a = self.args
        started = time.monotonic()
        self.deadline = started + a.duration
        # SIGTERM ends the run early (each connection finishes the request it is in)
        with contextlib.suppress(NotImplementedError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, self.stop)
        await asyncio.gather(*(self.worker() for _ in range(a.concurrency)))
        elapsed = time.monotonic() - started
        lat = sorted(self.stats.latencies)

        def pct(p: float) -> float | None:
            return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 2) if lat else None

        requests = sum(self.stats.status.values())
        ok = sum(n for s, n in self.stats.status.items() if 200 <= s < 300)
        return {
            "mode": a.mode, "batch": a.batch if a.mode in ("bulk", "matomo-bulk") else 1,
            "concurrency": a.concurrency, "seconds": round(elapsed, 2),
            "requests": requests, "ok": ok, "events": self.stats.events,
            "requests_per_s": round(requests / elapsed, 1),
            "events_per_s": round(self.stats.events / elapsed, 1),
            "status": {str(k): v for k, v in sorted(self.stats.status.items())},
            "errors": self.stats.errors,
            "latency_ms": {"p50": pct(0.50), "p90": pct(0.90), "p99": pct(0.99),
                           "max": round(lat[-1] * 1000, 2) if lat else None},
        }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True, help="amtspuls server, e.g. http://127.0.0.1:8000")
    p.add_argument("--site", required=True)
    p.add_argument("--idsite", default="1")
    p.add_argument("--mode", default="collect",
                   choices=["collect", "bulk", "matomo", "matomo-bulk", "plausible", "mixed"])
    p.add_argument("--batch", type=int, default=100, help="events per bulk request")
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--pages", type=int, default=2000, help="distinct pages")
    p.add_argument("--unique", action="store_true", help="a unique path per event")
    p.add_argument("--acks", help="write the markers of acknowledged events to this file")
    args = p.parse_args(argv)
    try:
        import uvloop  # type: ignore[import-not-found]

        uvloop.install()
    except ImportError:
        pass
    gen = Generator(args)
    summary = asyncio.run(gen.main())
    if args.acks:
        with open(args.acks, "w") as fh:
            fh.write("\n".join(gen.stats.acked) + ("\n" if gen.stats.acked else ""))
    json.dump(summary, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
