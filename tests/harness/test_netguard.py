"""The loopback-only rule is enforced in this process. The checks never let a packet out: the guard under test wraps a
recording stand-in for the real connect, and the live guard is only asked about loopback or refused addresses."""
from __future__ import annotations

import socket

import pytest
from helpers.netguard import GUARD, NetworkGuard, is_loopback


@pytest.mark.parametrize("address, allowed", [
    (("127.0.0.1", 80), True), (("127.8.9.10", 1), True), (("localhost", 8000), True), (("::1", 80, 0, 0), True),
    (("::ffff:127.0.0.1", 80, 0, 0), True),
    (("10.0.0.1", 80), False), (("192.0.2.2", 80), False), (("8.8.8.8", 53), False), (("::ffff:8.8.8.8", 53, 0, 0), False),
    (("fd00::2", 80, 0, 0), False), (("example.com", 443), False), (("0.0.0.0", 80), False), (("", 80), False),
])
def test_only_the_loopback_range_passes(address, allowed):
    assert is_loopback(address) is allowed


def test_a_refused_connect_never_reaches_the_real_socket_and_is_recorded():
    calls = []
    guard = NetworkGuard()
    connect, connect_ex, sendto = guard.wrap(lambda s, a: calls.append(("connect", a)),
                                             lambda s, a: calls.append(("connect_ex", a)) or 0,
                                             lambda s, d, *a: calls.append(("sendto", a[-1])) or len(d))
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        with pytest.raises(ConnectionRefusedError, match="127.0.0.1 only"):
            connect(s, ("93.184.216.34", 443))
        with pytest.raises(ConnectionRefusedError):
            connect_ex(s, ("10.1.2.3", 80))
        connect(s, ("127.0.0.1", 9))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        with pytest.raises(ConnectionRefusedError):
            sendto(u, b"x", ("8.8.8.8", 53))
        sendto(u, b"x", 0, ("127.0.0.1", 9))
    assert calls == [("connect", ("127.0.0.1", 9)), ("sendto", ("127.0.0.1", 9))]
    assert guard.take_blocked() == ["connect ('93.184.216.34', 443)", "connect_ex ('10.1.2.3', 80)",
                                    "sendto ('8.8.8.8', 53)"]


def test_the_guard_is_live_for_the_whole_suite():
    assert getattr(socket.socket, "_imgcls_netguard", None) is GUARD
    # 0.0.0.0 is not loopback for the guard, and Linux would connect it to this machine itself, so even a broken
    # guard sends nothing out
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        with pytest.raises(ConnectionRefusedError, match="127.0.0.1 only"):
            s.connect(("0.0.0.0", 9))
    assert GUARD.take_blocked() == ["connect ('0.0.0.0', 9)"]  # taken here, so this test does not fail itself
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        assert s.connect_ex(("127.0.0.1", 9)) != 0  # loopback goes through (nothing listens on the discard port)
