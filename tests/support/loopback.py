"""A real HTTP server on loopback standing in for the Entra authority, Microsoft Graph or a
webhook receiver: it records every request exactly as received and answers from a script.

Token delivery (the sinks and the renewal job) and Entra's job health and provisioning log (the
Entra watch, alerts, CLI and page) all script it; a route names a path without its query
string, and the query is read from the recorded request (Graph's ``$filter`` and
``@odata.nextLink`` pages)."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}

    def query(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}


@dataclass
class Reply:
    status: int = 204
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Answer = Reply | Callable[[Recorded], Reply]


class Loopback:
    """Answers ``(method, path)`` from a queue of replies per route (the last one repeats); a
    reply may be a function of the request, to play a part such as Entra's credential check."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.arrived: queue.Queue[Recorded] = queue.Queue()
        self._routes: dict[tuple[str, str], list[Answer]] = {}
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                recorded = Recorded(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                )
                answer = owner._next(self.command, self.path)
                reply = answer(recorded) if callable(answer) else answer
                with owner._lock:
                    owner.requests.append(recorded)
                owner.arrived.put(recorded)
                payload = b"" if reply.body is None else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if payload:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = _handle

            def log_message(self, *_args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def route(self, method: str, path: str, *replies: Answer) -> None:
        with self._lock:
            self._routes[(method, path)] = list(replies)

    def _next(self, method: str, path: str) -> Answer:
        with self._lock:
            replies = self._routes.get((method, path)) or self._routes.get(
                (method, urlsplit(path).path)
            )
            if not replies:
                return Reply(404, {"error": {"code": "NotRouted", "message": path}})
            return replies.pop(0) if len(replies) > 1 else replies[0]

    def calls(self) -> list[tuple[str, str]]:
        with self._lock:
            return [(r.method, r.path) for r in self.requests]

    @contextmanager
    def running(self) -> Iterator[Loopback]:
        thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
            thread.join(timeout=10)
