"""The pure rules behind the dashboard's network defences: which Host names are served, how
wrong logins are slowed, and the one strict parser of alert cursors."""

from __future__ import annotations

import pytest

from quota_sidecar.dashboard.hosts import HostAllowList, is_loopback_host, parse_host
from quota_sidecar.dashboard.throttle import (
    FORGET_AFTER,
    FREE_FAILURES,
    GLOBAL_BURST,
    MAX_DELAY,
    LoginThrottle,
    client_key,
)
from quota_sidecar.domain.alert_filters import MAX_ID_PART, validate_cursor
from quota_sidecar.domain.errors import ConfigError, InvalidInput


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("LocalHost.:8080", ("localhost", 8080)),
        ("[::1]:80", ("[::1]", 80)),
        ("[0:0::1]", ("[::1]", None)),
        ("::1", ("[::1]", None)),
        ("example.com", ("example.com", None)),
        ("example.com:0", None),
        ("example.com:65536", None),
        ("example.com:\uff18\uff10", None),
        ("exa mple.com", None),
        ("[::1", None),
        ("", None),
    ],
)
def test_host_values_are_parsed_strictly(value: str, parsed: tuple[str, int | None] | None) -> None:
    assert parse_host(value) == parsed


def test_the_allow_list_follows_the_listen_address_and_the_given_names() -> None:
    loopback = HostAllowList.build("127.0.0.1", 8080, ["dash.example", "proxy.example:443"])
    for host in ("127.0.0.1:8080", "localhost:8080", "[::1]:8080", "dash.example",
                 "dash.example:1", "proxy.example:443"):  # fmt: skip
        assert loopback.allows(host, 80), host
    assert loopback.allows("proxy.example", 443)  # no port: the scheme's default
    for host in ("127.0.0.1:8081", "proxy.example", "10.0.0.1:8080", "evil.example:8080", None):
        assert not loopback.allows(host, 80), host
    network = HostAllowList.build("10.0.0.5", 8080)
    assert network.allows("10.0.0.5:8080", 80) and not network.allows("localhost:8080", 80)
    wildcard = HostAllowList.build("0.0.0.0", 8080)
    assert wildcard.allows("localhost:8080", 80) and wildcard.allows("192.0.2.7:8080", 80)
    assert not wildcard.allows("rebind.example:8080", 80)
    with pytest.raises(ConfigError, match="dashboard_host"):
        HostAllowList.build("127.0.0.1", 1, ["a/b"])
    assert is_loopback_host("127.1.2.3") and is_loopback_host("::1")
    assert not is_loopback_host("0.0.0.0") and not is_loopback_host("example.com")


def test_an_address_waits_twice_as_long_per_failure_past_the_free_ones_then_starts_afresh() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(clock)
    for _ in range(FREE_FAILURES):
        assert throttle.retry_after("a") is None
        throttle.failed("a")
    assert throttle.retry_after("a") is None
    waits = []
    for _ in range(12):
        throttle.failed("a")
        waits.append(throttle.retry_after("a"))
        clock.now += 1000 if waits[-1] is None else waits[-1]
    assert waits[:4] == [1, 2, 4, 8] and max(w or 0 for w in waits) == MAX_DELAY
    assert throttle.retry_after("b") is None  # another address is not slowed
    throttle.succeeded("a")
    assert throttle.retry_after("a") is None


def test_failures_are_forgotten_after_a_quiet_while() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(clock)
    for _ in range(FREE_FAILURES + 1):
        throttle.failed("a")
    assert throttle.retry_after("a") == 1
    clock.now += FORGET_AFTER + 1
    assert throttle.retry_after("a") is None


def test_under_global_pressure_only_addresses_that_failed_wait() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(clock)
    for i in range(int(GLOBAL_BURST)):
        throttle.failed(f"10.0.0.{i}")
    assert throttle.retry_after("10.0.0.1") == 2  # the next refill, at 0.5 per second
    assert throttle.retry_after("10.9.9.9") is None  # a clean address is compared at once
    clock.now += 2
    assert throttle.retry_after("10.0.0.1") is None


def test_ipv6_clients_count_per_64_and_mapped_ipv4_as_ipv4() -> None:
    assert client_key("2001:db8::1") == client_key("2001:db8::ffff") == "2001:db8::/64"
    assert client_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert client_key(None) == "unknown"


@pytest.mark.parametrize(
    "cursor",
    ["99999999999999999999", f"{MAX_ID_PART + 1}-0", f"0-{MAX_ID_PART + 1}",
     "\uff11\uff12\uff13", "\u0663", "1-\u0663", "5\n", "-1", "1-", "1-2-3", " 1", "0x10",
     "1_000"],
)  # fmt: skip
def test_a_cursor_is_ascii_digits_within_64_bits(cursor: str) -> None:
    with pytest.raises(InvalidInput, match=r"^Last-Event-ID: "):
        validate_cursor(cursor, "Last-Event-ID")


def test_a_valid_cursor_comes_back_canonical() -> None:
    assert validate_cursor("007-01") == "7-1"
    assert validate_cursor("0") == "0"
    top = f"{MAX_ID_PART}-{MAX_ID_PART}"
    assert validate_cursor(top) == top
