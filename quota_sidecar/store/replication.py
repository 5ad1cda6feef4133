"""A script call confirmed by replicas (WAIT), for records on a Sentinel-managed master.

Redis replicates asynchronously: a write the master answered may not have reached a replica
when the master dies, and the replica Sentinel promotes then never had it. A record the sidecar
acknowledged as recorded must survive that, so such a record is sent as EVALSHA followed by
`WAIT acks timeout` on the same connection, in one pipeline (one round trip; WAIT counts the
replicas that hold everything this connection wrote). Fewer confirmations than asked, or too
few replicas connected to the master to give them, make the record unconfirmed: the caller
spools it and replays it later under the same idempotency key, which counts it once whether or
not the unconfirmed write survived the failover.

Why the confirmation covers a replayed duplicate too: record.lua rewrites the key's dedupe
entry (same value, same TTL) when it finds it, so even a record that only dedupes writes
something, and its WAIT then confirms everything the master held up to that point, the
original write included.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError

from quota_sidecar.domain.errors import StoreUnavailable
from quota_sidecar.store.functions import LibraryScript

__all__ = ["run_confirmed"]


async def run_confirmed(
    client: aioredis.Redis,
    script: LibraryScript,
    keys: Sequence[str],
    args: Sequence[Any],
    *,
    acks: int,
    timeout_ms: int,
    replicas_known: int | None,
) -> Any:
    """Run `script` and wait for `acks` replicas to hold its writes. `replicas_known` is how
    many replicas the probe last saw connected to the master (None: not known yet); with fewer
    than `acks` the WAIT could only time out, holding a turn for nothing, so it is not sent and
    the call is unconfirmed at once.

    Raises StoreUnavailable(maybe_applied=True) when the script ran but too few replicas
    confirmed; the script's own errors are raised as the driver raises them."""
    if replicas_known is not None and replicas_known < acks:
        await script(keys=list(keys), args=list(args), client=client)
        raise StoreUnavailable(
            f"{replicas_known} replicas are connected to the master, {acks} must confirm a write",
            maybe_applied=True,
        )
    for _ in range(2):  # a second pass only after NOSCRIPT (a new master without the script)
        pipe = client.pipeline(transaction=False)
        pipe.evalsha(script.sha, len(keys), *keys, *args)
        pipe.execute_command("WAIT", acks, timeout_ms)
        reply, confirmed = await pipe.execute(raise_on_error=False)
        if isinstance(reply, NoScriptError):
            # Nothing ran; the WAIT after it confirmed nothing of ours. Load and send again.
            script.sha = await client.script_load(script.script)
            continue
        if isinstance(reply, Exception):
            raise reply
        if isinstance(confirmed, Exception):
            raise StoreUnavailable(f"WAIT failed: {confirmed}", maybe_applied=True)
        if int(confirmed) < acks:
            raise StoreUnavailable(
                f"{confirmed} of {acks} replicas confirmed the write within {timeout_ms} ms",
                maybe_applied=True,
            )
        return reply
    raise StoreUnavailable("the script was not found on the master after loading it")
