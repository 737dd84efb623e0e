"""A local HTTP server that replays platform responses, for collector tests.

Platforms cannot be reached from here: each collector test starts one of these on
127.0.0.1 and describes, per scenario, what the platform answers. A route is a function
of the request that returns a `Reply` (or a list of replies, served in turn, the last one
repeating), so a test can script "429 with Retry-After, then the page", an expired
token, an HTML error page, or a connection dropped in the middle of a body. Every request
is kept in `server.requests` so tests can assert what the collector asked.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    drop_after: int | None = None   # close the connection after this many body bytes

    @classmethod
    def json(cls, obj: Any, status: int = 200, headers: dict[str, str] | None = None,
             drop_after: int | None = None) -> Reply:
        return cls(status, json.dumps(obj, ensure_ascii=False).encode(),
                   {"Content-Type": "application/json; charset=utf-8", **(headers or {})},
                   drop_after)

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body, ensure_ascii=False).encode()


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def args(self, name: str) -> list[str]:
        return self.query.get(name, [])


Route = Callable[[Request], "Reply | list[Reply]"]


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up (a timeout test, a transport giving up) is no server error."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class ReplayServer:
    """`with ReplayServer() as s: s.route("GET", "/api/v1/x", fn); s.url` ..."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Route | list[Reply]] = {}
        self.requests: list[Request] = []
        self._served: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self._httpd = _QuietServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def route(self, method: str, path: str, reply: Route | Reply | list[Reply]) -> None:
        """Answer `method path` (exact path, any query) with a function or fixed replies."""
        self.routes[(method.upper(), path)] = [reply] if isinstance(reply, Reply) else reply
        self._served.pop((method.upper(), path), None)

    def calls(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    def __enter__(self) -> ReplayServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _answer(self, req: Request) -> Reply:
        with self._lock:
            self.requests.append(req)
            key = (req.method, req.path)
            handler = self.routes.get(key)
            if handler is None:
                return Reply.json({"error": f"no replay route for {req.method} {req.path}"},
                                  404)
            if callable(handler):
                result = handler(req)
                if isinstance(result, list):  # a function may script a sequence too
                    n = self._served.get(key, 0)
                    self._served[key] = n + 1
                    return result[min(n, len(result) - 1)]
                return result
            n = self._served.get(key, 0)
            self._served[key] = n + 1
            return handler[min(n, len(handler) - 1)]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # One write per response, sent at once: unbuffered small writes meeting the
            # client's delayed ACK cost ~40 ms a request (Nagle).
            wbufsize = -1
            disable_nagle_algorithm = True

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                req = Request(self.command, parts.path, parse_qs(parts.query),
                              {k.lower(): v for k, v in self.headers.items()}, body)
                reply = server._answer(req)
                data = reply.encoded()
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                if reply.drop_after is not None:
                    self.send_header("Connection", "close")
                self.end_headers()
                if reply.drop_after is not None:
                    self.wfile.write(data[:reply.drop_after])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = do_PUT = _serve

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        return Handler
