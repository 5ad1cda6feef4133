"""A real Sentinel topology for tests: one master, one replica and three sentinels, started from
the machine's `redis-server` (`redis-server --sentinel` for the sentinels) on free ports, each
with its own directory, no persistence, and a log kept for a failure message.

    topology = SentinelTopology().start()   # waits until every sentinel sees the others
    topology.url                            # redis+sentinel://…,…,…/mymaster
    topology.master_port()                  # where the sentinels say the master is now
    topology.kill(port); topology.restart(port, replica_of=master)
    topology.pause(port); topology.resume(port)   # SIGSTOP / SIGCONT: a server that lags
    topology.stop()                         # kills everything, removes the directory
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import redis

from tests.support import processes
from tests.support.redis_servers import free_port

__all__ = ["SERVICE", "SentinelTopology"]

SERVICE = "mymaster"
_READY_SECONDS = 20


class SentinelTopology:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="qs-test-sentinel-"))
        ports: set[int] = set()
        while len(ports) < 5:
            ports.add(free_port())
        chosen = sorted(ports)
        self.data_ports, self.sentinel_ports = chosen[:2], chosen[2:]
        self.processes: dict[int, subprocess.Popen[bytes]] = {}
        self._logs: list[BinaryIO] = []
        server = shutil.which("redis-server")
        if server is None:
            raise RuntimeError("redis-server must be on PATH to start a Sentinel topology")
        self._server = server

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)
        return f"redis+sentinel://{hosts}/{SERVICE}"

    def start(self) -> SentinelTopology:
        first, second = self.data_ports
        self._spawn_data(first)
        self._spawn_data(second, replica_of=first)
        self._wait(second, lambda c: _info(c, "replication")["master_link_status"] == "up")
        for port in self.sentinel_ports:
            self._spawn_sentinel(port, first, second)
        for port in self.sentinel_ports:
            self._wait(port, _sees_everyone, timeout=_READY_SECONDS)
        self.wait_for_replica(second)
        return self

    def _log(self, port: int) -> BinaryIO:
        log = (self.dir / f"{port}.log").open("ab")
        self._logs.append(log)
        return log

    def _spawn_data(self, port: int, replica_of: int | None = None) -> None:
        args = [
            *(self._server, "--port", str(port), "--bind", "127.0.0.1"),
            # Its environment (the test session's mark) stays readable: no title over it.
            *("--set-proc-title", "no"),
            *("--dir", str(self.dir), "--dbfilename", f"dump-{port}.rdb"),
            *("--save", "", "--appendonly", "no"),
            # A replica syncs at once, not after the 5 s a diskless sync waits for others.
            *("--repl-diskless-sync-delay", "0"),
        ]
        if replica_of is not None:
            args += ["--replicaof", "127.0.0.1", str(replica_of)]
        self.processes[port] = processes.start(
            args, stdout=self._log(port), stderr=subprocess.STDOUT
        )
        self._wait(port, lambda c: bool(c.ping()))

    def _spawn_sentinel(self, port: int, master: int, replica: int) -> None:
        # Each sentinel is told its peers and the replica up front (the lines a sentinel writes
        # into its own file once it has found them), so the topology is whole at once instead
        # of after a few rounds of hello messages.
        peers = "".join(
            f"sentinel known-sentinel {SERVICE} 127.0.0.1 {other} {_sentinel_id(other)}\n"
            for other in self.sentinel_ports
            if other != port
        )
        config = self.dir / f"sentinel-{port}.conf"  # sentinels rewrite their file: one each
        config.write_text(
            f"port {port}\nbind 127.0.0.1\ndir {self.dir}\nset-proc-title no\n"
            "sentinel resolve-hostnames no\n"
            f"sentinel myid {_sentinel_id(port)}\n"
            f"sentinel monitor {SERVICE} 127.0.0.1 {master} 2\n"
            f"sentinel down-after-milliseconds {SERVICE} 500\n"
            f"sentinel failover-timeout {SERVICE} 5000\n"
            f"sentinel known-replica {SERVICE} 127.0.0.1 {replica}\n{peers}"
        )
        self.processes[port] = processes.start(
            [self._server, str(config), "--sentinel"],
            stdout=self._log(port),
            stderr=subprocess.STDOUT,
        )

    def client(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, socket_timeout=2, decode_responses=True)

    def master_port(self) -> int:
        """The master's port as the first sentinel that answers names it."""
        for port in self.sentinel_ports:
            with self.client(port) as sentinel:
                try:
                    address = sentinel.sentinel_get_master_addr_by_name(SERVICE)
                except redis.ConnectionError:
                    continue
                return int(address[1])
        raise RuntimeError("no sentinel answers")

    def replica_port(self) -> int:
        master = self.master_port()
        return next(port for port in self.data_ports if port != master)

    def failover(self) -> None:
        """SENTINEL FAILOVER: the sentinels promote the replica and demote the master."""
        with self.client(self.sentinel_ports[0]) as sentinel:
            sentinel.execute_command("SENTINEL", "FAILOVER", SERVICE)

    def wait_for_master(self, port: int, timeout: float = _READY_SECONDS) -> None:
        """Until every sentinel names `port` as the master and that server says it is one."""
        for each in self.sentinel_ports:
            self._wait(each, lambda c: int(c.sentinel_get_master_addr_by_name(SERVICE)[1]) == port)
        self._wait(port, lambda c: c.execute_command("ROLE")[0] == "master", timeout=timeout)

    def wait_for_replica(self, port: int) -> None:
        """Until `port` replicates from the master, in sync: its link is up, and it has
        acknowledged a write made on the master after that. A link can report "up" for about
        a second before the stream flows (while the sentinels first reconfigure the replica),
        and a replica promoted then has none of the master's data."""
        self._wait(port, lambda c: _info(c, "replication").get("master_link_status") == "up")
        master = self.master_port()
        self._wait(master, lambda c: bool(c.set("qs-test:sync", "1")) and c.wait(1, 200) >= 1)
        with self.client(master) as client:
            client.delete("qs-test:sync")

    def kill(self, port: int) -> None:
        processes.stop(self.processes.pop(port), grace=0)

    def pause(self, port: int) -> None:
        """Freeze a server (SIGSTOP): it neither answers nor replicates until resumed."""
        self.processes[port].send_signal(signal.SIGSTOP)

    def resume(self, port: int) -> None:
        self.processes[port].send_signal(signal.SIGCONT)

    def restart(self, port: int, replica_of: int) -> None:
        """Start a killed data server again, empty, as a replica of `replica_of`: what its
        configuration says once the sentinels rewrote it in a failover. (One started as a
        master is turned into a replica by the sentinels too, but only after about 8 s.)"""
        self._spawn_data(port, replica_of=replica_of)

    def _wait(
        self, port: int, ready: Callable[[redis.Redis], bool], timeout: float = _READY_SECONDS
    ) -> None:
        deadline = time.monotonic() + timeout
        with self.client(port) as client:
            while time.monotonic() < deadline:
                try:
                    if ready(client):
                        return
                except (redis.ConnectionError, redis.ResponseError, KeyError, IndexError):
                    pass
                time.sleep(0.05)  # polling processes that are starting or switching roles
        logs = "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-1500:]}"
            for path in sorted(self.dir.glob("*.log"))
        )
        raise RuntimeError(f"127.0.0.1:{port} did not become ready; logs:\n{logs}")

    def stop(self) -> None:
        for process in self.processes.values():
            processes.stop(process, grace=0)
        self.processes.clear()
        for log in self._logs:
            log.close()
        self._logs.clear()
        shutil.rmtree(self.dir, ignore_errors=True)


def _sentinel_id(port: int) -> str:
    return f"{port:040x}"  # a sentinel's id: 40 hex digits, unique per port


def _info(client: redis.Redis, section: str) -> dict[str, Any]:
    return dict(client.info(section))


def _sees_everyone(sentinel: redis.Redis) -> bool:
    state: dict[str, Any] = sentinel.sentinel_master(SERVICE)
    return int(state["num-other-sentinels"]) == 2 and int(state["num-slaves"]) == 1
