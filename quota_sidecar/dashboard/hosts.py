"""Which Host names the dashboard answers to: the defence against DNS rebinding.

A page on attacker.example can make its own name resolve to 127.0.0.1 (or to the dashboard's
address) after it loaded; the browser then talks to the dashboard as if it were the attacker's
site, Origin and Host both saying attacker.example, so an Origin check alone passes. The name
is the one thing the attacker cannot choose to match, so every request whose Host is not on
this list is refused (421) before anything else:

* the listen address itself, HOST:PORT;
* for a loopback listen (127.0.0.1, ::1, localhost) the loopback names localhost, 127.0.0.1
  and [::1] at the port; for a wildcard listen (0.0.0.0, ::) those too, and any IP address at
  the port (an address typed into the browser cannot be rebound: only names can);
* the names given with --dashboard-host: NAME (any port; for a proxy in front on 443) or
  NAME:PORT.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from quota_sidecar.domain.errors import ConfigError

__all__ = ["HostAllowList", "is_loopback_host", "parse_host"]

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
WILDCARDS = frozenset({"0.0.0.0", "::", "[::]", ""})
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-_[]:")


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name.removeprefix("[").removesuffix("]"))
    except ValueError:
        return None


def is_loopback_host(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost (a name other than localhost is never assumed local)."""
    if host.lower().rstrip(".") == "localhost":
        return True
    address = _ip(host)
    return address is not None and address.is_loopback


def _canonical_name(name: str) -> str:
    name = name.lower().rstrip(".")
    address = _ip(name)
    if isinstance(address, ipaddress.IPv6Address):
        return f"[{address.compressed}]"
    return name


def parse_host(value: str) -> tuple[str, int | None] | None:
    """A Host header (or a --dashboard-host value) as (canonical name, port or None); None
    when it is not one (empty, stray characters, a port that is not 1 to 65535)."""
    text = value.strip().lower()
    if not text or not set(text) <= _NAME_CHARS:
        return None
    if text.startswith("["):  # [v6] or [v6]:port
        name, close, rest = text.partition("]")
        name += close
        if not close or (rest and not rest.startswith(":")):
            return None
        port_text = rest[1:] if rest else None
    elif text.count(":") == 1:
        name, _, port_text = text.partition(":")
    elif ":" in text:  # a bare IPv6 address (only as a configured name)
        name, port_text = text, None
    else:
        name, port_text = text, None
    port: int | None = None
    if port_text is not None:
        if not (port_text.isascii() and port_text.isdigit() and 0 < int(port_text) <= 65535):
            return None
        port = int(port_text)
    name = _canonical_name(name)
    return (name, port) if name and name != "[]" else None


@dataclass(frozen=True, slots=True)
class HostAllowList:
    exact: frozenset[tuple[str, int]]  # (name, port)
    any_port: frozenset[str]  # --dashboard-host NAME
    any_ip_at: int | None = None  # a wildcard listen: any IP address at this port

    @classmethod
    def build(cls, listen_host: str, port: int, names: Iterable[str] = ()) -> HostAllowList:
        host = _canonical_name(listen_host)
        exact = {(host, port)}
        wildcard = listen_host in WILDCARDS
        if wildcard or is_loopback_host(listen_host):
            exact.update((name, port) for name in LOOPBACK_NAMES)
        any_port: set[str] = set()
        for given in names:
            parsed = parse_host(given)
            if parsed is None:
                raise ConfigError("dashboard_host", f"expected NAME or NAME:PORT, got {given!r}")
            name, given_port = parsed
            if given_port is None:
                any_port.add(name)
            else:
                exact.add((name, given_port))
        return cls(frozenset(exact), frozenset(any_port), port if wildcard else None)

    def allows(self, host_header: str | None, default_port: int) -> bool:
        """Whether a request's Host names this dashboard (no port: the scheme's default)."""
        parsed = parse_host(host_header or "")
        if parsed is None:
            return False
        name, port = parsed
        port = default_port if port is None else port
        if name in self.any_port or (name, port) in self.exact:
            return True
        return self.any_ip_at == port and _ip(name) is not None
