"""A real Redis Cluster for tests: three masters started from the machine's redis-server, and
direct clients that read a test's keys on whichever backend it runs (one Redis or a cluster).

Each node runs with its own nodes.conf in a private directory, no persistence, on a free port;
`redis-cli --cluster create` assigns the 16384 slots; `start()` waits until every node reports
`cluster_state:ok`. Tests flush every master before they start.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import redis
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster as AsyncClusterClient
from redis.cluster import RedisCluster as ClusterClient

from tests.support import processes
from tests.support.redis_servers import free_port

__all__ = ["CLUSTER_SCHEME", "MASTERS", "RedisCluster", "async_client", "sync_client"]

CLUSTER_SCHEME = "redis+cluster://"
MASTERS = 3
_READY_SECONDS = 30


def sync_client(url: str, *, decode_responses: bool = True) -> redis.Redis | ClusterClient:
    """A direct client for a test's store URL: a cluster client for redis+cluster://."""
    if url.startswith(CLUSTER_SCHEME):
        plain = "redis://" + url.removeprefix(CLUSTER_SCHEME)
        return ClusterClient.from_url(plain, decode_responses=decode_responses)
    return redis.Redis.from_url(url, decode_responses=decode_responses)


def async_client(url: str, *, decode_responses: bool = True) -> aioredis.Redis | AsyncClusterClient:
    """The asyncio twin of `sync_client`."""
    if url.startswith(CLUSTER_SCHEME):
        plain = "redis://" + url.removeprefix(CLUSTER_SCHEME)
        return AsyncClusterClient.from_url(plain, decode_responses=decode_responses)
    return aioredis.Redis.from_url(url, decode_responses=decode_responses)


class RedisCluster:
    """MASTERS redis-server processes in cluster mode, joined into one cluster."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="qs-test-cluster-"))
        self.ports: list[int] = []
        self.bus_ports: list[int] = []
        self.processes: list[subprocess.Popen[bytes]] = []
        self._logs: list[BinaryIO] = []

    @property
    def url(self) -> str:
        return f"redis+cluster://127.0.0.1:{self.ports[0]}"

    def start(self) -> RedisCluster:
        server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
        if server is None or cli is None:
            raise RuntimeError("redis-server and redis-cli must be on PATH to start a cluster")
        self._server = server
        # Explicit bus ports: the default (port + 10000) may be taken, or above 65535.
        taken: set[int] = set()
        while len(taken) < 2 * MASTERS:
            taken.add(free_port())
        chosen = sorted(taken)
        self.ports, self.bus_ports = chosen[:MASTERS], chosen[MASTERS:]
        for index in range(MASTERS):  # one by one: a failed spawn leaves the others to stop()
            self.processes.append(self._spawn(index))
        for port in self.ports:
            self._wait(port, lambda client: bool(client.ping()), "answer PING")
        create = processes.run(
            [
                *(cli, "--cluster", "create", *(f"127.0.0.1:{p}" for p in self.ports)),
                *("--cluster-replicas", "0", "--cluster-yes"),
            ],
            capture_output=True,
            text=True,
            timeout=_READY_SECONDS,
        )
        if create.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed: {create.stdout}{create.stderr}")
        for port in self.ports:
            self._wait(port, _cluster_ok, "report cluster_state:ok")
        return self

    def _spawn(self, index: int) -> subprocess.Popen[bytes]:
        port, bus_port = self.ports[index], self.bus_ports[index]
        log = (self.dir / f"redis-{port}.log").open("ab")
        self._logs.append(log)
        return processes.start(
            [
                *(self._server, "--port", str(port), "--bind", "127.0.0.1"),
                # Its environment (the test session's mark) stays readable: no title over it.
                *("--set-proc-title", "no"),
                *("--cluster-enabled", "yes", "--cluster-port", str(bus_port)),
                *("--cluster-config-file", str(self.dir / f"nodes-{port}.conf")),
                *("--dir", str(self.dir), "--save", "", "--appendonly", "no"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def kill(self, port: int) -> None:
        """Kill one master (its slots become unreachable; nothing is persisted)."""
        processes.stop(self.processes[self.ports.index(port)], grace=0)

    def revive(self, port: int) -> None:
        """Restart a killed master from its nodes.conf: it takes its slots back, empty."""
        index = self.ports.index(port)
        self.processes[index] = self._spawn(index)
        for each in self.ports:
            self._wait(each, _cluster_ok, "report cluster_state:ok")

    def _wait(self, port: int, ready: Callable[[redis.Redis], bool], what: str) -> None:
        client = redis.Redis(port=port, socket_connect_timeout=0.2, decode_responses=True)
        deadline = time.monotonic() + _READY_SECONDS
        try:
            while time.monotonic() < deadline:
                if self.processes[self.ports.index(port)].poll() is not None:
                    break  # the node exited: its log says why
                try:
                    if ready(client):
                        return
                except redis.ConnectionError:
                    pass
                time.sleep(0.05)  # polling a starting process, not waiting for time to pass
        finally:
            client.close()
        log = (self.dir / f"redis-{port}.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"cluster node 127.0.0.1:{port} did not {what}; its log:\n{log}")

    def port_of(self, slot: int) -> int:
        """The port of the master serving `slot`."""
        client = redis.Redis(port=self.ports[0], decode_responses=True)
        try:
            slots: list[list[Any]] = client.execute_command("CLUSTER", "SLOTS")  # type: ignore[no-untyped-call]
            for start, end, master, *_ in slots:
                if int(start) <= slot <= int(end):
                    return int(master[1])
        finally:
            client.close()
        raise LookupError(f"no master serves slot {slot}")

    def flush(self) -> None:
        for port in self.ports:
            client = redis.Redis(port=port)
            client.flushall()
            client.close()

    def stop(self) -> None:
        for process in self.processes:
            processes.stop(process, grace=0)
        self.processes.clear()
        for log in self._logs:
            log.close()
        self._logs.clear()
        shutil.rmtree(self.dir, ignore_errors=True)


def _cluster_ok(client: redis.Redis) -> bool:
    info = str(client.execute_command("CLUSTER", "INFO"))  # type: ignore[no-untyped-call]
    return "cluster_state:ok" in info
