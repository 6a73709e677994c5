"""The network policy: one place for what imgcls-onnx may fetch, used by image URLs (``predict``, the Python API),
the service's URL inputs and model downloads (``--model URL``, official archives).

A policy is a frozen ``NetPolicy`` (timeouts, redirects, private addresses, a size cap); the presets name the uses:

* ``IMAGE_FETCH``: image inputs, in the CLI, the API and the service alike. No redirects; loopback, private,
  link-local and reserved addresses refused unless ``$IMGCLS_ONNX_ALLOW_PRIVATE_URLS=1`` (read at each fetch); the
  host is resolved once, checked, and the connection pinned to the checked address (no DNS rebinding).
* ``MODEL_DOWNLOAD``: bundle and official archives. The URL itself was chosen by whoever runs the command (a flag, a
  config file, ``$IMGCLS_ONNX_MODEL_SOURCE``): any address, an intranet mirror included. Redirects are followed
  (archive hosts answer with a redirect to their CDN), at most ``max_redirects``, each hop checked: http(s) only,
  and a hop from a public host to a non-public address is refused unless the variable allows private addresses.

``is_url`` is the one test for "an http(s) URL" in the package. The HTTP client that fetches images under these
rules is ``runtime/fetch.py`` (``fetch_url``), imported where an image URL is fetched, not at start-up.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import os
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from .errors import FetchError

ENV_ALLOW_PRIVATE = "IMGCLS_ONNX_ALLOW_PRIVATE_URLS"
URL_SCHEMES = ("http://", "https://")


def is_url(text: object) -> bool:
    """An http(s) URL (the scheme in any case, as RFC 3986 reads it)."""
    return isinstance(text, str) and text[:8].lower().startswith(URL_SCHEMES)


def private_urls_allowed() -> bool:
    return os.environ.get(ENV_ALLOW_PRIVATE) == "1"


@dataclass(frozen=True)
class NetPolicy:
    """What one kind of request may do. ``allow_private=None``: ``$IMGCLS_ONNX_ALLOW_PRIVATE_URLS`` decides, read at
    each use. ``trust_first_hop``: the URL as given may point anywhere (the operator typed it); only the hops it
    redirects to are held to the private-address rule."""

    connect_timeout_s: float
    read_timeout_s: float
    max_bytes: int | None  # None: the caller's own limit, always passed (images: ImageLimits.max_bytes)
    max_redirects: int = 0
    allow_private: bool | None = None
    trust_first_hop: bool = False

    def __post_init__(self):
        if self.connect_timeout_s <= 0 or self.read_timeout_s <= 0:
            raise ValueError("timeouts must be positive")
        if (self.max_bytes is not None and self.max_bytes <= 0) or self.max_redirects < 0:
            raise ValueError("max_bytes must be positive and max_redirects not negative")

    @property
    def timeout(self) -> tuple[float, float]:
        """(connect, read) seconds, as requests takes them."""
        return (self.connect_timeout_s, self.read_timeout_s)

    def private_allowed(self) -> bool:
        return private_urls_allowed() if self.allow_private is None else self.allow_private

    def replace(self, **changes) -> "NetPolicy":
        return dataclasses.replace(self, **changes)

    def with_timeout(self, seconds: float) -> "NetPolicy":
        return self.replace(connect_timeout_s=seconds, read_timeout_s=seconds)


#: image inputs (CLI, API, service): 15 s, no redirects, private addresses only with $IMGCLS_ONNX_ALLOW_PRIVATE_URLS;
#: the size cap is the caller's image limit (ImageLimits.max_bytes), passed to fetch_url
IMAGE_FETCH = NetPolicy(connect_timeout_s=15.0, read_timeout_s=15.0, max_bytes=None)
#: bundle and official archives: 10 s to connect, 60 s between reads, up to 4 GiB (PaddleX's largest classification
#: archive is ~1.2 GB), redirects followed and checked
MODEL_DOWNLOAD = NetPolicy(connect_timeout_s=10.0, read_timeout_s=60.0, max_bytes=4 << 30, max_redirects=10,
                           trust_first_hop=True)


def _non_public(ip: "ipaddress.IPv4Address | ipaddress.IPv6Address") -> bool:
    return bool(ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
                or ip.is_unspecified or getattr(ip, "is_site_local", False))


def checked_address(host: str, port: int, allow_private: bool = False) -> str:
    """``host``'s first address, after checking that none of its addresses is non-public (unless allowed)."""
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as e:
        raise FetchError(f"cannot resolve {host!r}: {e.strerror}") from e
    addresses = [info[4][0] for info in infos]
    for a in addresses if not allow_private else ():
        ip = ipaddress.ip_address(a.split("%")[0])
        if _non_public(ip):
            raise FetchError(f"refusing to fetch {host!r}: it resolves to a non-public address ({ip}); set "
                             f"{ENV_ALLOW_PRIVATE}=1 to allow addresses on your own network")
    if not addresses:
        raise FetchError(f"{host!r} has no address")
    return addresses[0]


def host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise FetchError("only http(s) URLs with a host are fetched")
    return parts.hostname, parts.port or (443 if parts.scheme.lower() == "https" else 80)


def _is_public_host(host: str, port: int) -> bool:
    try:
        checked_address(host, port)
    except FetchError:
        return False
    return True


def check_redirect(origin: str, target: str, policy: NetPolicy) -> None:
    """A redirect hop from ``origin`` (the URL as given) to ``target``: http(s) only; a non-public address only when
    the policy allows private addresses, or the given URL was itself on a non-public address (an intranet mirror)."""
    host, port = host_port(target)
    if policy.private_allowed():
        return
    if policy.trust_first_hop and not _is_public_host(*host_port(origin)):
        return
    checked_address(host, port)


__all__ = ["ENV_ALLOW_PRIVATE", "FetchError", "IMAGE_FETCH", "MODEL_DOWNLOAD", "NetPolicy", "check_redirect",
           "checked_address", "host_port", "is_url", "private_urls_allowed"]
