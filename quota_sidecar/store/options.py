"""How a `Store` (store/redis.py) queues, probes, confirms and batches its calls."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_MAX_QUEUE", "DEFAULT_TIMEOUT", "StoreOptions"]

DEFAULT_MAX_QUEUE = 10_000  # calls waiting for a turn, past which Overloaded
# Seconds a probe may go unanswered (and the interval between probes). Generous enough that a
# loaded machine's scheduling hiccup is not an outage; a dead Redis is noticed in about twice it.
DEFAULT_TIMEOUT = 0.25


@dataclass(frozen=True, slots=True)
class StoreOptions:
    """The store's settings (see store/redis.py's module docstring for what each bounds)."""

    timeout: float = DEFAULT_TIMEOUT  # the probe's
    max_queue: int = DEFAULT_MAX_QUEUE
    # Replicas that must confirm a record before it counts as recorded (0: none); see
    # store/replication.py.
    replica_acks: int = 0
    replica_ack_timeout_ms: int = 0
    coalesce: bool = True  # share a round trip between the calls of one loop turn
