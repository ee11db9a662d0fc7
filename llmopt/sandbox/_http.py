"""HTTP/1.1 plumbing on the standard library: keep-alive, chunked streaming, clean stop.

One thread per connection (``ThreadingHTTPServer``); every connection is tracked so
:meth:`SandboxHTTPServer.close_connections` can end idle keep-alive connections when the
server stops. Request bodies over the route's limit get 413 without being read.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from llmopt.sandbox import _errors as msg
from llmopt.sandbox._errors import ApiError, api_for_path, new_id
from llmopt.sandbox._routing import Request, Response

logger = logging.getLogger("llmopt.sandbox")

Dispatch = Callable[[Request], Response]
BodyLimit = Callable[[str, str], int]

_REASONS = {529: "Overloaded"}
_IDLE_SECONDS = 120


class _BodyTooLarge(Exception):
    pass


class SandboxHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that hands each request to ``dispatch``."""

    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], dispatch: Dispatch, body_limit: BodyLimit) -> None:
        self.dispatch = dispatch
        self.body_limit = body_limit
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._serve_connection,
            args=(request, client_address),
            name=f"sandbox-connection-{client_address[1]}",
            daemon=True,
        )
        with self._connections_lock:
            self._connections[request] = thread
        thread.start()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            with self._connections_lock:
                self._connections.pop(request, None)
            self.shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("sandbox connection from %s failed", client_address, exc_info=True)

    def close_connections(self, timeout: float = 5.0) -> None:
        """End every open connection and wait for its thread."""
        with self._connections_lock:
            connections = list(self._connections.items())
        for sock, _ in connections:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for _, thread in connections:
            thread.join(timeout)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "llmopt-sandbox"
    sys_version = ""
    timeout = _IDLE_SECONDS
    disable_nagle_algorithm = True
    server: SandboxHTTPServer

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("sandbox %s - " + format, self.address_string(), *args)

    def _handle(self) -> None:
        path, _, query = self.path.partition("?")
        request_id = new_id("req_")
        try:
            body = self._read_body(self.server.body_limit(self.command, path))
        except _BodyTooLarge:
            error = ApiError("request_too_large", msg.REQUEST_TOO_LARGE)
            response = Response.error(error, request_id, api_for_path(path))
            response.close = True
            self._send(response)
            return
        request = Request(
            method=self.command,
            path=path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            request_id=request_id,
            query=parse_qs(query),
        )
        self._send(self.server.dispatch(request))

    def _read_body(self, limit: int) -> bytes:
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            return self._read_chunked(limit)
        length = int(self.headers.get("content-length") or 0)
        if length > limit:
            raise _BodyTooLarge
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self, limit: int) -> bytes:
        parts: list[bytes] = []
        size = 0
        while True:
            line = self.rfile.readline(65537)
            chunk_size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if chunk_size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            size += chunk_size
            if size > limit:
                raise _BodyTooLarge
            parts.append(self.rfile.read(chunk_size))
            self.rfile.readline(65537)

    def _send(self, response: Response) -> None:
        self.send_response(response.status, _REASONS.get(response.status))
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.close:
            self.send_header("connection", "close")
            self.close_connection = True
        if response.stream is None:
            self.send_header("content-length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)
            return
        try:
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            for chunk in response.stream:
                if chunk:
                    self.wfile.write(b"%X\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            close = getattr(response.stream, "close", None)
            if close is not None:  # a stream holding a file or a generator: let it go
                close()
