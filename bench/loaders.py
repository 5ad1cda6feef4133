"""Load generators for unary gRPC calls: h2load (compiled, preferred) or Python processes.

h2load sends one pre-framed gRPC message (the 5-byte length prefix plus the serialized request)
as the POST body of every request, with the headers gRPC needs, and logs each request's latency
to a file we read for percentiles. Without h2load, several spawned Python processes each run a
grpc.aio channel that sends the same bytes (no per-call serialization), so the loader spends as
little as Python allows. Either way the loader's CPU seconds are measured and reported.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import resource
import shutil
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.procs import CpuMeter

__all__ = ["LoadResult", "grpc_frame", "h2load_path", "percentile", "run_load"]

_PROCESSES = 2  # Python loader processes (one per core of the reference machine)


@dataclass
class LoadResult:
    """One measured load run."""

    loader: str
    in_flight: int
    requests: int
    errors: int
    seconds: float
    qps: float
    mean_ms: float
    p50_ms: float
    p99_ms: float
    p999_ms: float
    loader_cpu_s: float
    server_cpu_s: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def grpc_frame(message: bytes) -> bytes:
    """A gRPC length-prefixed message: not compressed, 4-byte big-endian length, the bytes."""
    return b"\x00" + len(message).to_bytes(4, "big") + message


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list (0.0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(0, min(len(sorted_values) - 1, round(fraction * len(sorted_values) + 0.5) - 1))
    return sorted_values[rank]


def h2load_path() -> str | None:
    if os.environ.get("BENCH_LOADER") == "python":
        return None
    return shutil.which("h2load")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _summary(
    loader: str,
    *,
    in_flight: int,
    latencies_s: list[float],
    errors: int,
    seconds: float,
    cpu: float,
) -> LoadResult:
    latencies_s.sort()
    ms = 1000.0
    return LoadResult(
        loader=loader,
        in_flight=in_flight,
        requests=len(latencies_s),
        errors=errors,
        seconds=seconds,
        qps=len(latencies_s) / seconds if seconds else 0.0,
        mean_ms=sum(latencies_s) / len(latencies_s) * ms if latencies_s else 0.0,
        p50_ms=percentile(latencies_s, 0.50) * ms,
        p99_ms=percentile(latencies_s, 0.99) * ms,
        p999_ms=percentile(latencies_s, 0.999) * ms,
        loader_cpu_s=cpu,
        server_cpu_s=0.0,
    )


def _h2load(
    binary: str, target: str, method: str, frame: bytes, *, in_flight: int, seconds: float
) -> LoadResult:
    # A sidecar's client is one process with a few channels: at most 4 connections, the rest
    # multiplexed as concurrent streams on them.
    connections = min(in_flight, 4)
    streams = max(1, in_flight // connections)
    with tempfile.TemporaryDirectory(prefix="qs-bench-") as tmp:
        body = Path(tmp, "body")
        body.write_bytes(frame)
        log = Path(tmp, "log")
        argv = [
            binary, "-c", str(connections), "-m", str(streams), "-t", "1",
            "-D", f"{int(seconds * 1000)}ms", "--data", str(body), "--log-file", str(log),
            "-H", "content-type: application/grpc", "-H", "te: trailers",
            f"http://{target}{method}",
        ]  # fmt: skip
        cpu_before = _children_cpu()
        started = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - started
        cpu = _children_cpu() - cpu_before
        if done.returncode != 0:
            raise RuntimeError(f"h2load failed ({done.returncode}): {done.stderr or done.stdout}")
        latencies: list[float] = []
        errors = 0
        for line in log.read_text().splitlines():
            parts = line.split("\t")
            if len(parts) < 3:
                continue
            if parts[1] != "200":
                errors += 1
                continue
            latencies.append(int(parts[2]) / 1e6)
    finished = re.search(r"finished in ([\d.]+)(m?s)", done.stdout)
    measured = seconds
    if finished:
        measured = float(finished.group(1)) / (1000.0 if finished.group(2) == "ms" else 1.0)
    measured = min(measured, elapsed)
    return _summary(
        "h2load",
        in_flight=in_flight,
        latencies_s=latencies,
        errors=errors,
        seconds=measured,
        cpu=cpu,
    )


def _python_worker(
    target: str, method: str, message: bytes, tasks: int, *, seconds: float, queue: Any
) -> None:
    """One loader process: `tasks` coroutines calling back to back for `seconds`."""
    import asyncio

    import grpc

    async def run() -> tuple[list[float], int]:
        latencies: list[float] = []
        errors = 0
        async with grpc.aio.insecure_channel(target) as channel:
            call = channel.unary_unary(method)  # bytes in, bytes out: no serialization cost
            await call(message)
            deadline = time.perf_counter() + seconds

            async def loop() -> None:
                nonlocal errors
                clock = time.perf_counter
                while clock() < deadline:
                    start = clock()
                    try:
                        await call(message)
                    except grpc.aio.AioRpcError:
                        errors += 1
                        continue
                    latencies.append(clock() - start)

            await asyncio.gather(*(loop() for _ in range(tasks)))
        return latencies, errors

    try:
        import uvloop

        result = uvloop.run(run())
    except ImportError:
        result = asyncio.run(run())
    queue.put(result)


def _python(
    target: str, method: str, message: bytes, *, in_flight: int, seconds: float
) -> LoadResult:
    context = multiprocessing.get_context("spawn")  # grpc must not be forked
    queue = context.Queue()
    processes = min(_PROCESSES, in_flight)
    base, extra = divmod(in_flight, processes)
    shares = [base + (1 if i < extra else 0) for i in range(processes)]
    workers = [
        context.Process(
            target=_python_worker,
            args=(target, method, message, n),
            kwargs={"seconds": seconds, "queue": queue},
        )
        for n in shares
    ]
    cpu_before = _children_cpu()
    for w in workers:
        w.start()
    results = [queue.get(timeout=seconds + 60) for _ in workers]
    for w in workers:
        w.join()
    cpu = _children_cpu() - cpu_before
    latencies = [lat for lats, _ in results for lat in lats]
    errors = sum(e for _, e in results)
    return _summary(
        "python",
        in_flight=in_flight,
        latencies_s=latencies,
        errors=errors,
        seconds=seconds,
        cpu=cpu,
    )


def run_load(
    target: str,
    method: str,
    message: bytes,
    *,
    in_flight: int,
    seconds: float,
    server_pids: list[int],
) -> LoadResult:
    """Drive `method` with `in_flight` concurrent calls for `seconds`; measure both sides' CPU."""
    server = CpuMeter(server_pids).start()
    binary = h2load_path()
    if binary:
        result = _h2load(
            binary, target, method, grpc_frame(message), in_flight=in_flight, seconds=seconds
        )
    else:
        result = _python(target, method, message, in_flight=in_flight, seconds=seconds)
    result.server_cpu_s = server.stop()
    return result
