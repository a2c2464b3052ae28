"""A loopback stand-in for an OpenAI-compatible chat-completions endpoint.

Real HTTP on 127.0.0.1 (port 0) in a thread. It records every request and answers as set:
`content` (the assistant text), `delay` (seconds before answering), `status` (an HTTP
error instead of an answer).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


class OpenAIStandin:
    def __init__(self, content: str = '{"title": "T", "action": "A"}') -> None:
        self.content = content
        self.delay = 0.0
        self.status = 200
        self.requests: list[Recorded] = []
        self._wake = threading.Event()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                standin.requests.append(Recorded(
                    "POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                if self.path != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": "not found"}})
                if standin.delay:
                    standin._wake.wait(standin.delay)
                if standin.status != 200:
                    return self._send(standin.status, {"error": {"message": "boom"}})
                try:
                    model = json.loads(body).get("model", "")
                except ValueError:
                    return self._send(400, {"error": {"message": "bad json"}})
                self._send(200, {
                    "id": "chatcmpl-standin", "object": "chat.completion",
                    "created": int(time.time()), "model": model,
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant",
                                             "content": standin.content}}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5,
                              "total_tokens": 15}})

            def _send(self, status: int, doc: dict) -> None:
                data = json.dumps(doc).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up (timeout tests)
                    pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> OpenAIStandin:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._wake.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
