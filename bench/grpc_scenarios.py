"""Scenarios a, b and e, and the `serve --workers N` scaling: load over gRPC from h2load.

a. CheckQuota on the sidecar (user + tool, minute/hour/day windows, daily + monthly budgets).
b. The same bytes against the no-op grpc.aio server: the framework ceiling.
e. RecordUsage and GetUsage throughput on the sidecar.

Runs are interleaved (sidecar, no-op, sidecar, ...) so drift on the machine hits both sides
alike. Every run also reads Redis INFO commandstats: one script call (EVALSHA) per request shows
that each answer came from Redis (a fallback decided without the store makes no script call).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import grpc

from bench.common import (
    BENCH_TOOL,
    BENCH_USER,
    Settings,
    command_calls,
    command_delta,
    configure_bench_quotas,
    median_of,
)
from bench.loaders import LoadResult, run_load
from bench.procs import ServerProcess, free_port, python_module
from quota_sidecar.v1 import quota_pb2, types_pb2

__all__ = [
    "CHECK",
    "GET_USAGE",
    "RECORD",
    "RPCS",
    "check_request",
    "record_request",
    "run_grpc_scenarios",
    "sidecar_process",
]

SERVICE = "/quota_sidecar.v1.QuotaService/"
CHECK = SERVICE + "CheckQuota"
RECORD = SERVICE + "RecordUsage"
GET_USAGE = SERVICE + "GetUsage"


def _subjects() -> list[types_pb2.Subject]:
    return [
        types_pb2.Subject(scope=types_pb2.SCOPE_USER, identifier=BENCH_USER),
        types_pb2.Subject(scope=types_pb2.SCOPE_TOOL, identifier=BENCH_TOOL),
    ]


def check_request() -> bytes:
    return quota_pb2.CheckQuotaRequest(
        subjects=_subjects(), estimated_cost_nanos=1000, tool_name=BENCH_TOOL, provider="openai"
    ).SerializeToString()


def record_request() -> bytes:
    return quota_pb2.RecordUsageRequest(
        subjects=_subjects(),
        cost_nanos=1000,
        provider="openai",
        tool_name=BENCH_TOOL,
        input_tokens=100,
        output_tokens=50,
    ).SerializeToString()


def get_usage_request() -> bytes:
    return quota_pb2.GetUsageRequest(subject=_subjects()[0]).SerializeToString()


def sidecar_process(settings: Settings, name: str = "sidecar", workers: int = 1) -> ServerProcess:
    # --workers shares one fixed port (SO_REUSEPORT) between processes, so it cannot take 0.
    port = free_port() if workers > 1 else 0
    argv = python_module("quota_sidecar", "serve", "--listen", f"127.0.0.1:{port}")
    if workers > 1:
        argv += ["--workers", str(workers)]
    return ServerProcess(name, argv, env={"QUOTA_SIDECAR_REDIS_URL": settings.redis_url})


def verify(target: str, method: str, message: bytes) -> dict[str, Any]:
    """One call with a real client: the bytes h2load will send must succeed, and allow.

    Retried a few times: right after a heavy run the first call may still hit the sidecar's
    50 ms store timeout (UNAVAILABLE), which is a finding of the run, not a broken request."""
    for attempt in range(5):
        try:
            with grpc.insecure_channel(target) as channel:
                raw = channel.unary_unary(method)(message, timeout=5)
            break
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.UNAVAILABLE or attempt == 4:
                raise
    if method == CHECK:
        response = quota_pb2.CheckQuotaResponse.FromString(raw)
        if not response.allowed or response.decided_without_store:
            raise RuntimeError(f"the bench check is not a plain allowed check: {response}")
        return {"allowed": response.allowed, "limits_reported": len(response.limits)}
    return {"bytes": len(raw)}


def _measured(
    settings: Settings, server: ServerProcess, method: str, message: bytes, in_flight: int
) -> dict[str, Any]:
    client = settings.redis()
    before = command_calls(client)
    result: LoadResult = run_load(
        server.target,
        method,
        message,
        in_flight=in_flight,
        seconds=settings.seconds,
        server_pids=[server.pid],
    )
    delta = command_delta(before, command_calls(client))
    client.close()
    row = result.as_dict()
    scripts = sum(v for k, v in delta.items() if k in ("evalsha", "eval", "fcall"))
    row["script_calls_per_request"] = scripts / max(1, result.requests)
    return row


def _median_row(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    keys = ("qps", "mean_ms", "p50_ms", "p99_ms", "p999_ms", "loader_cpu_s", "server_cpu_s",
            "script_calls_per_request")  # fmt: skip
    out: dict[str, Any] = {k: median_of([r[k] for r in rows]) for k in keys}
    out["in_flight"] = rows[0]["in_flight"]
    out["loader"] = rows[0]["loader"]
    out["errors"] = sum(r["errors"] for r in rows)
    out["requests"] = sum(r["requests"] for r in rows)
    out["runs_qps"] = [round(r["qps"], 1) for r in rows]
    return out


def _warm(settings: Settings, server: ServerProcess, method: str, message: bytes, n: int) -> None:
    run_load(
        server.target,
        method,
        message,
        in_flight=n,
        seconds=settings.warmup_seconds,
        server_pids=[server.pid],
    )


RPCS = {
    "CheckQuota": (CHECK, check_request),
    "RecordUsage": (RECORD, record_request),
    "GetUsage": (GET_USAGE, get_usage_request),
}
SERVERS = ("sidecar", "floor", "noop")


def _measure_rpc(
    settings: Settings, servers: dict[str, ServerProcess], label: str
) -> dict[str, Any]:
    """One RPC on every server at every level, interleaved: each repeat walks the levels and,
    per level, the servers in an order rotated by one each repeat, so neither drift on the
    machine nor going first favours one side. Medians of the repeats are reported."""
    method, build = RPCS[label]
    message = build()
    verified = {name: verify(server.target, method, message) for name, server in servers.items()}
    for server in servers.values():
        _warm(settings, server, method, message, 64)
    raw: dict[str, dict[int, list[dict[str, Any]]]] = {
        name: {n: [] for n in settings.levels} for name in servers
    }
    names = list(servers)
    for repeat in range(settings.repeats):
        order = names[repeat % len(names) :] + names[: repeat % len(names)]
        for n in settings.levels:
            for name in order:
                server = servers[name]
                _warm(settings, server, method, message, n)
                row = _measured(settings, server, method, message, n)
                raw[name][n].append(row)
                print(
                    f"  {label} {name} in_flight={n} run {repeat + 1}: {row['qps']:.0f} qps "
                    f"mean {row['mean_ms']:.2f} ms p99 {row['p99_ms']:.2f} ms",
                    flush=True,
                )
    out: dict[str, Any] = {"verify": verified}
    for name in servers:
        out[name] = [_median_row(raw[name][n]) for n in settings.levels]
    for reference in ("floor", "noop"):
        pairs = zip(out["sidecar"], out[reference], strict=True)
        out[f"over_{reference}"] = {str(a["in_flight"]): a["qps"] / b["qps"] for a, b in pairs}
    pairs = zip(out["sidecar"], out["floor"], strict=True)
    out["mean_ms_over_floor"] = {str(a["in_flight"]): a["mean_ms"] - b["mean_ms"] for a, b in pairs}
    return out


def run_grpc_scenarios(settings: Settings) -> dict[str, Any]:
    """a, b and e: each RPC on the sidecar, the one-PING floor and the no-op server, side by
    side at every level; then the workers scaling of CheckQuota."""
    asyncio.run(configure_bench_quotas(settings.redis_url))
    servers = {
        "sidecar": sidecar_process(settings),
        "floor": ServerProcess(
            "floor", python_module("bench.noop_server", "--redis-url", settings.redis_url)
        ),
        "noop": ServerProcess("noop", python_module("bench.noop_server")),
    }
    out: dict[str, Any] = {"rpcs": {}}
    try:
        for server in servers.values():
            server.start()
        for label in settings.rpcs:
            try:
                out["rpcs"][label] = _measure_rpc(settings, servers, label)
            except (grpc.RpcError, RuntimeError) as exc:
                out["rpcs"][label] = {"error": f"{type(exc).__name__}: {exc}".splitlines()[0]}
    finally:
        for server in servers.values():
            server.stop()
    check = out["rpcs"].get("CheckQuota", {})
    if "sidecar" in check:  # the keys the report and the plot have always read
        for name in SERVERS:
            out[name] = check[name]
        out["sidecar_over_noop"] = check["over_noop"]
        out["sidecar_over_floor"] = check["over_floor"]
        if settings.workers_scaling:
            try:
                out["workers"] = _workers_scaling(settings, out["sidecar"])
            except (grpc.RpcError, RuntimeError) as exc:
                out["workers"] = {"error": f"{type(exc).__name__}: {exc}".splitlines()[0]}
    return out


def _workers_scaling(settings: Settings, single: list[dict[str, Any]]) -> dict[str, Any]:
    """CheckQuota at 64 in flight on `serve --workers 2` (SO_REUSEPORT) against one process."""
    one = next((r for r in single if r["in_flight"] == 64), single[-1])
    result: dict[str, Any] = {"1": one}
    check = check_request()
    try:
        server = sidecar_process(settings, "sidecar-2-workers", workers=2).start(listeners=2)
    except RuntimeError as exc:
        result["error"] = str(exc).splitlines()[0]
        return result
    try:
        verify(server.target, CHECK, check)
        _warm(settings, server, CHECK, check, 64)
        rows = [_measured(settings, server, CHECK, check, 64) for _ in range(settings.repeats)]
        result["2"] = _median_row(rows)
        result["speedup"] = result["2"]["qps"] / one["qps"]
        print(f"  workers=2: {result['2']['qps']:.0f} qps", flush=True)
    finally:
        server.stop()
    return result
