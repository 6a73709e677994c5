"""``fetch_url``: the HTTP GET for image URLs under a ``net.NetPolicy``: the host checked and the connection pinned to
the checked address, certificates checked against certifi's roots, no redirects, a size cap. Imported where an image
URL is fetched (runtime/images.py at the first URL; the server), not at start-up: http.client, ssl and certifi cost
24 ms that a run over local files never needs. The rules themselves live in ``net``."""
from __future__ import annotations

import http.client
import socket
import ssl
from urllib.parse import urlsplit

import certifi

from .errors import FetchError
from .net import NetPolicy, checked_address, host_port


def tls_context() -> ssl.SSLContext:
    """The TLS context for https image fetches: certificates checked against certifi's CA bundle (requests, a runtime
    dependency, brings certifi; model downloads go through requests and use it too). python.org's macOS builds have
    no system CA store until "Install Certificates.command" is run, so ``ssl.create_default_context()`` alone would
    refuse every https host there."""
    return ssl.create_default_context(cafile=certifi.where())


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host, ip, connect_timeout, **kw):
        super().__init__(host, **kw)
        self._ip, self._connect_timeout = ip, connect_timeout

    def connect(self):
        self.sock = socket.create_connection((self._ip, self.port), self._connect_timeout)
        self.sock.settimeout(self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host, ip, connect_timeout, **kw):
        super().__init__(host, context=tls_context(), **kw)
        self._ip, self._connect_timeout = ip, connect_timeout

    def connect(self):
        sock = socket.create_connection((self._ip, self.port), self._connect_timeout)
        sock.settimeout(self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def fetch_url(url: str, policy: NetPolicy, *, max_bytes: int) -> bytes:
    """GET a small resource (an image) into memory under ``policy``, at most ``max_bytes`` (the caller's limit)."""
    if policy.max_redirects:
        raise ValueError("fetch_url follows no redirects: use a policy with max_redirects=0")
    cap = max_bytes
    parts = urlsplit(url)
    host, port = host_port(url)
    ip = checked_address(host, port, policy.trust_first_hop or policy.private_allowed())
    cls = _PinnedHTTPSConnection if parts.scheme.lower() == "https" else _PinnedHTTPConnection
    conn = cls(host, ip, policy.connect_timeout_s, port=port, timeout=policy.read_timeout_s)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        conn.request("GET", path, headers={"User-Agent": "imgcls-onnx", "Accept": "image/*"})
        resp = conn.getresponse()
        if 300 <= resp.status < 400:
            raise FetchError(f"{url} answered a redirect ({resp.status}); redirects are not followed")
        if resp.status != 200:
            raise FetchError(f"{url} answered HTTP {resp.status}")
        data = resp.read(cap + 1)
    except (OSError, http.client.HTTPException) as e:
        raise FetchError(f"cannot fetch {url}: {e} (offline, or the host is down?)") from e
    finally:
        conn.close()
    if len(data) > cap:
        raise FetchError(f"{url} is larger than {cap} bytes")
    return data
