"""Fetch an image URL safely (for predict inputs and the service): http(s) only, never loopback/private/link-local/
reserved addresses unless explicitly allowed (the host is resolved once, checked, and the connection is pinned to the
checked address, so DNS rebinding cannot redirect it), no redirects, a size limit and a time limit.

``IMGCLS_ONNX_ALLOW_PRIVATE_URLS=1`` (or ``allow_private=True``) allows private and loopback addresses, for images
on your own network."""
from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from urllib.parse import urlsplit

from .errors import FetchError

ENV_ALLOW_PRIVATE = "IMGCLS_ONNX_ALLOW_PRIVATE_URLS"


def private_urls_allowed() -> bool:
    import os

    return os.environ.get(ENV_ALLOW_PRIVATE) == "1"


def _public_address(host: str, port: int, allow_private: bool = False) -> str:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as e:
        raise FetchError(f"cannot resolve {host!r}: {e.strerror}") from e
    addresses = [info[4][0] for info in infos]
    for a in addresses if not allow_private else ():
        ip = ipaddress.ip_address(a.split("%")[0])
        if (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
                or ip.is_unspecified or getattr(ip, "is_site_local", False)):
            raise FetchError(f"refusing to fetch {host!r}: it resolves to a non-public address ({ip}); set "
                             f"{ENV_ALLOW_PRIVATE}=1 to allow addresses on your own network")
    if not addresses:
        raise FetchError(f"{host!r} has no address")
    return addresses[0]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host, ip, **kw):
        super().__init__(host, **kw)
        self._ip = ip

    def connect(self):
        self.sock = socket.create_connection((self._ip, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host, ip, **kw):
        super().__init__(host, context=ssl.create_default_context(), **kw)
        self._ip = ip

    def connect(self):
        sock = socket.create_connection((self._ip, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def fetch_url(url: str, max_bytes: int, timeout_s: float, allow_private: bool = False) -> bytes:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError("only http(s) URLs with a host are fetched")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    ip = _public_address(parts.hostname, port, allow_private)
    cls = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    conn = cls(parts.hostname, ip, port=port, timeout=timeout_s)
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
        data = resp.read(max_bytes + 1)
    except (OSError, http.client.HTTPException) as e:
        raise FetchError(f"cannot fetch {url}: {e} (offline, or the host is down?)") from e
    finally:
        conn.close()
    if len(data) > max_bytes:
        raise FetchError(f"{url} is larger than {max_bytes} bytes")
    return data
