"""The suite's network rule, enforced: a socket in the test process may connect only to the loopback range.

`install()` wraps `socket.socket.connect`, `connect_ex` and `sendto`. A connect elsewhere raises (so nothing leaves
the machine) and is recorded; conftest fails the test that tried, even if the code under test swallowed the error.
Unix sockets and the loopback range (127.0.0.0/8, ::1, IPv4-mapped loopback, "localhost") pass. Subprocesses are not
covered: the rule for them is the same, held by the servers the tests start on 127.0.0.1.
"""
from __future__ import annotations

import ipaddress
import socket

INET = (socket.AF_INET, socket.AF_INET6)


def is_loopback(address) -> bool:
    """True for an AF_INET/AF_INET6 address tuple whose host is in the loopback range."""
    host = address[0] if isinstance(address, tuple) and address else address
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    if host.lower() == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False  # any other host name: refused without resolving it
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


class NetworkGuard:
    def __init__(self):
        self.blocked: list[str] = []
        self._saved = None

    def check(self, sock, address, what: str) -> None:
        if sock.family in INET and not is_loopback(address):
            self.blocked.append(f"{what} {address!r}")
            raise ConnectionRefusedError(f"tests may reach 127.0.0.1 only: {what} to {address!r} blocked by "
                                         f"tests/netguard.py")

    def wrap(self, connect, connect_ex, sendto):
        guard = self

        def guarded_connect(sock, address):
            guard.check(sock, address, "connect")
            return connect(sock, address)

        def guarded_connect_ex(sock, address):
            guard.check(sock, address, "connect_ex")
            return connect_ex(sock, address)

        def guarded_sendto(sock, data, *args):
            guard.check(sock, args[-1], "sendto")
            return sendto(sock, data, *args)

        return guarded_connect, guarded_connect_ex, guarded_sendto

    def install(self) -> None:
        cls = socket.socket
        self._saved = (cls.connect, cls.connect_ex, cls.sendto)
        cls.connect, cls.connect_ex, cls.sendto = self.wrap(*self._saved)
        cls._imgcls_netguard = self  # type: ignore[attr-defined]

    def take_blocked(self) -> list[str]:
        out, self.blocked = self.blocked, []
        return out


GUARD = NetworkGuard()
