"""redis+sentinel:// URLs: what each part means, and a refusal naming the part that is wrong."""

from __future__ import annotations

import pytest

from quota_sidecar.domain.errors import InvalidInput
from quota_sidecar.store.redis import resolve_redis_url
from quota_sidecar.store.sentinel import SentinelTarget, parse_sentinel_url


def test_hosts_service_and_defaults() -> None:
    target = parse_sentinel_url("redis+sentinel://10.0.0.1:26380,sentinel-b,[::1]:5000/mymaster")
    assert target == SentinelTarget(
        sentinels=(("10.0.0.1", 26380), ("sentinel-b", 26379), ("::1", 5000)),
        service="mymaster",
        db=0,
        replica_acks=1,
        replica_ack_timeout_ms=250,
    )


def test_master_auth_db_and_options() -> None:
    target = parse_sentinel_url(
        "redis+sentinel://app:p%40ss@h1:1,h2:2/cache/3"
        "?sentinel_username=watch&sentinel_password=s%26cret&replica_acks=2"
        "&replica_ack_timeout_ms=50"
    )
    assert (target.username, target.password, target.db) == ("app", "p@ss", 3)
    assert (target.sentinel_username, target.sentinel_password) == ("watch", "s&cret")
    assert (target.replica_acks, target.replica_ack_timeout_ms) == (2, 50)
    assert target.master_options() == {"db": 3, "username": "app", "password": "p@ss"}


def test_a_password_alone() -> None:
    target = parse_sentinel_url("redis+sentinel://:secret@h:1/m")
    assert (target.username, target.password) == (None, "secret")
    assert parse_sentinel_url("redis+sentinel://secret@h:1/m").password == "secret"


def test_confirmation_can_be_turned_off() -> None:
    assert parse_sentinel_url("redis+sentinel://h:1/m?replica_acks=0").replica_acks == 0


def test_the_store_accepts_the_scheme() -> None:
    url = "redis+sentinel://h:1/m"
    assert resolve_redis_url(url) == (url, None)


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("redis+sentinel://h:1", "service_name"),
        ("redis+sentinel://h:1/", "service_name"),
        ("redis+sentinel://h:1/m/0/x", "service_name"),
        ("redis+sentinel://h:1/m/zero", "the db"),
        ("redis+sentinel://h:x/m", "the port"),
        ("redis+sentinel://h:0/m", "the port"),
        ("redis+sentinel://h:70000/m", "above 65535"),
        ("redis+sentinel://h:1,,h:2/m", "no host"),
        ("redis+sentinel://[::1]x/m", "bad sentinel address"),
        ("redis+sentinel://h:1/m?password=x", "unknown option 'password'"),
        ("redis+sentinel://h:1/m?replica_acks=1&replica_acks=2", "more than once"),
        ("redis+sentinel://h:1/m?replica_acks=-1", "replica_acks"),
        ("redis+sentinel://h:1/m?replica_ack_timeout_ms=0", "replica_ack_timeout_ms"),
        ("redis+sentinel://h:1/m?replica_acks", "bad query string"),
    ],
)
def test_a_bad_url_names_its_fault(url: str, complaint: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_sentinel_url(url)
    assert refused.value.field == "redis_url"
    assert complaint in str(refused.value)


def test_tls_over_sentinel_is_refused_not_ignored() -> None:
    with pytest.raises(InvalidInput) as refused:
        resolve_redis_url("rediss+sentinel://h:1/m")
    assert refused.value.field == "redis_url"
