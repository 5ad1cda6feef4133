"""The data-plane requests QuotaClient sends: the same request objects the in-process engine
takes (quota_sidecar.domain.requests), built from the same keyword arguments, checked by the
same rules (quota_sidecar.domain.validation) before anything is sent, and written as protos by
quota_sidecar.wire.requests.

`cost_nanos` is a plain int64 in the contract: 0 (or no cost given) with a provider, a model and
tokens asks the sidecar to price the tokens, as the in-process engine does; a free model is a
zero price in the quota file's `prices:`. A record without a model and without a cost is
unchanged for old servers and new ones alike: it carries no cost, which both count as $0.
"""

from __future__ import annotations

import dataclasses
import uuid

from quota_sidecar.domain.money import Money
from quota_sidecar.domain.requests import CheckRequest, ExtendRequest, RecordRequest
from quota_sidecar.domain.validation import (
    checked_check,
    checked_extension,
    checked_record,
    money_nanos,
)
from quota_sidecar.v1 import quota_pb2
from quota_sidecar.wire import requests as wire

__all__ = ["check_message", "extension_message", "given_cost", "record_message"]


def given_cost(cost: Money | None, cost_nanos: int | None, field: str) -> int | None:
    """The caller's cost in nanos, or None when the caller gave none (the sidecar prices it)."""
    if cost is None and cost_nanos is None:
        return None
    # The engine's own conversion, so a bad amount names the same field remotely and in process.
    return money_nanos(0 if cost is None else cost, cost_nanos, field)


def check_message(req: CheckRequest) -> quota_pb2.CheckQuotaRequest:
    return wire.check_to_proto(checked_check(req))


def record_message(req: RecordRequest) -> quota_pb2.RecordUsageRequest:
    """With an idempotency key: the same on every retry of this call, so the server counts it
    once."""
    if not req.idempotency_key:
        key = f"qc-{uuid.uuid4().hex}"
        req = dataclasses.replace(req, idempotency_key=key)
    return wire.record_to_proto(checked_record(req))


def extension_message(req: ExtendRequest) -> quota_pb2.ExtendReservationRequest:
    return wire.extension_to_proto(checked_extension(req))
