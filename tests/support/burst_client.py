"""A load client for the burst tests, run as its own process:

    python -m tests.support.burst_client TARGET MODE COUNT NAME

sends COUNT concurrent calls (all in flight at once) and prints one JSON line of counts.
MODE: `check` (CheckQuota of user:burst), `reserve` (reserving $0.10 of user:holder) or
`record` ($0.001 to user:spender, each under its own idempotency key, retried with that key
after RESOURCE_EXHAUSTED or UNAVAILABLE until it is acknowledged).

    burst(target, mode, clients=4, in_flight=1000)   # that many client processes at once,
                                                     # their counts added up; on any exit
                                                     # (a timeout's too) none is left running
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections import Counter

import grpc

from quota_sidecar.v1 import quota_pb2, quota_pb2_grpc, types_pb2
from tests.support import processes

_RETRYABLE = (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.UNAVAILABLE)


def _user(name: str) -> types_pb2.Subject:
    return types_pb2.Subject(scope=types_pb2.SCOPE_USER, identifier=name)


async def _check(
    stub: quota_pb2_grpc.QuotaServiceStub, counts: Counter[str], reserve: bool
) -> None:
    request = quota_pb2.CheckQuotaRequest(
        subjects=[_user("holder" if reserve else "burst")],
        estimated_cost_nanos=100_000_000 if reserve else 0,
        reserve=reserve,
    )
    try:
        reply = await stub.CheckQuota(request, timeout=120)
    except grpc.aio.AioRpcError as exc:
        counts[exc.code().name] += 1
        return
    counts["allowed" if reply.allowed else "denied"] += 1
    counts["without_store"] += reply.decided_without_store
    counts["reservations"] += bool(reply.reservation_id)


async def _record(stub: quota_pb2_grpc.QuotaServiceStub, counts: Counter[str], key: str) -> None:
    request = quota_pb2.RecordUsageRequest(
        subjects=[_user("spender")], cost_nanos=1_000_000, idempotency_key=key
    )
    for attempt in range(200):
        try:
            reply = await stub.RecordUsage(request, timeout=120)
        except grpc.aio.AioRpcError as exc:
            if exc.code() not in _RETRYABLE:
                counts[exc.code().name] += 1
                return
            counts["retried"] += 1
            await asyncio.sleep(min(0.5, 0.01 * (attempt + 1)))
            continue
        counts["recorded" if reply.recorded else "duplicate" if reply.duplicate else "spooled"] += 1
        return
    counts["gave_up"] += 1


async def main(target: str, mode: str, count: int, name: str) -> None:
    counts: Counter[str] = Counter()
    async with grpc.aio.insecure_channel(target) as channel:
        await channel.channel_ready()
        stub = quota_pb2_grpc.QuotaServiceStub(channel)
        if mode == "record":
            calls = [_record(stub, counts, f"{name}-{i}") for i in range(count)]
        else:
            calls = [_check(stub, counts, mode == "reserve") for _ in range(count)]
        await asyncio.gather(*calls)
    print(json.dumps(counts), flush=True)


def burst(target: str, mode: str, clients: int, in_flight: int) -> Counter[str]:
    """Run `clients` client processes at once; their counts, added up."""
    command = [sys.executable, "-m", "tests.support.burst_client", target, mode, str(in_flight)]
    started: list[subprocess.Popen[str]] = []
    try:
        for k in range(clients):
            started.append(processes.start([*command, f"c{k}"], stdout=subprocess.PIPE, text=True))
        total: Counter[str] = Counter()
        for client in started:
            out, _ = client.communicate(timeout=300)
            assert client.returncode == 0, out
            total.update(json.loads(out))
        return total
    finally:
        for client in started:
            processes.stop(client)
            if client.stdout is not None:
                client.stdout.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]))
