"""A file server on 127.0.0.1 that the tests start themselves: counts requests, honours Range, injects faults,
redirects.

Nothing in the test suite downloads from anywhere else.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Fault:
    drop_after: int  # send the full Content-Length, then close after this many body bytes
    times: int = 1


@dataclass
class Served:
    files: dict = field(default_factory=dict)  # path -> bytes
    faults: dict = field(default_factory=dict)  # path -> Fault
    ranges: bool = True
    log: list = field(default_factory=list)  # (method, path, Range header or None)
    redirects: dict = field(default_factory=dict)  # path -> Location (answered with 302)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):  # noqa: N802 - http.server's naming
        served: Served = self.server.served  # type: ignore[attr-defined]
        path = self.path.split("?")[0]
        rng = self.headers.get("Range")
        served.log.append(("GET", path, rng))
        location = served.redirects.get(path)
        if location is not None:
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = served.files.get(path)
        if data is None:
            body = b"not found"
            self.send_response(404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        start = 0
        if rng and served.ranges and rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[len("bytes="):-1])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        if served.ranges:
            self.send_header("Accept-Ranges", "bytes")
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        fault = served.faults.get(path)
        if fault is not None and fault.times > 0:
            fault.times -= 1
            self.wfile.write(body[:fault.drop_after])
            self.wfile.flush()
            self.close_connection = True
            import socket

            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.wfile.write(body)


class LoopbackServer:
    def __init__(self):
        self.served = Served()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.served = self.served  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "LoopbackServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    @property
    def base(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def add(self, path: str, data: bytes) -> str:
        self.served.files[path] = data
        return self.base + path

    def redirect(self, path: str, location: str) -> str:
        """Answer GET ``path`` with a 302 to ``location`` (a URL, or a path on this server)."""
        self.served.redirects[path] = location
        return self.base + path

    def gets(self, path: str) -> list:
        return [entry for entry in self.served.log if entry[1] == path]
