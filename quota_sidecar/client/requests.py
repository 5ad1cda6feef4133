"""The data-plane requests QuotaClient sends, built from the same arguments the in-process
QuotaService takes, and checked the same way before anything is sent.

`cost_nanos` is a plain int64 in the contract: 0 (or no cost given) with a provider, a model and
tokens asks the sidecar to price the tokens, as the in-process engine does; a free model is a
zero price in the quota file's `prices:`. A record without a model and without a cost is
unchanged for old servers and new ones alike: it carries no cost, which both count as $0.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta

from quota_sidecar.domain.models import QuotaScope, Subject
from quota_sidecar.domain.money import Money
from quota_sidecar.domain.validation import money_nanos, resolve_subjects
from quota_sidecar.v1 import quota_pb2
from quota_sidecar.wire import replies as convert
from quota_sidecar.wire.runs import RunCheck, check_run_to_proto, record_run_to_proto

__all__ = ["check_request", "record_request"]


def _given_cost(cost: Money | None, cost_nanos: int | None, field: str) -> int | None:
    """The caller's cost in nanos, or None when the caller gave none (the sidecar prices it)."""
    if cost is None and cost_nanos is None:
        return None
    # The engine's own check, so a bad amount names the same field remotely and in process.
    return money_nanos(0 if cost is None else cost, cost_nanos, field)


def check_request(
    scope: QuotaScope | str | None,
    identifier: str | None,
    estimated_cost: Money,
    *,
    subjects: Sequence[Subject] | None,
    estimated_cost_nanos: int | None,
    estimated_tokens: int,
    tool_name: str,
    provider: str,
    reserve: bool,
    request_id: str,
    reservation_lease: timedelta | None,
    model: str,
    estimated_input_tokens: int,
    estimated_output_tokens: int,
    skip_model_subject: bool,
    run: RunCheck,
) -> quota_pb2.CheckQuotaRequest:
    # A check's estimate is a plain field: 0 with estimated tokens means "price the tokens".
    nanos = _given_cost(estimated_cost, estimated_cost_nanos, "estimated_cost") or 0
    targets = resolve_subjects(scope, identifier, subjects)
    request = quota_pb2.CheckQuotaRequest(
        subjects=[convert.subject_to_proto(s) for s in targets],
        estimated_cost_nanos=nanos,
        estimated_tokens=estimated_tokens,
        tool_name=tool_name,
        provider=provider,
        reserve=reserve,
        request_id=request_id,
        reservation_lease=convert.duration_to_proto(reservation_lease),
        model=model,
        estimated_input_tokens=estimated_input_tokens,
        estimated_output_tokens=estimated_output_tokens,
        skip_model_subject=skip_model_subject,
    )
    check_run_to_proto(request, run)
    return request


def record_request(
    scope: QuotaScope | str | None,
    identifier: str | None,
    cost: Money | None,
    provider: str,
    tool_name: str,
    *,
    subjects: Sequence[Subject] | None,
    cost_nanos: int | None,
    input_tokens: int,
    output_tokens: int,
    cache_read_tokens: int,
    cache_write_tokens: int,
    idempotency_key: str,
    reservation_id: str | None,
    model: str,
    skip_model_subject: bool,
    run_id: str = "",
    parent_run_id: str = "",
    end_run: bool = False,
) -> quota_pb2.RecordUsageRequest:
    given = _given_cost(cost, cost_nanos, "cost")
    targets = resolve_subjects(scope, identifier, subjects)
    request = quota_pb2.RecordUsageRequest(
        subjects=[convert.subject_to_proto(s) for s in targets],
        provider=provider,
        tool_name=tool_name,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cache_read_tokens=cache_read_tokens,
        cache_write_tokens=cache_write_tokens,
        # The same key on every retry of this call: the server counts it once.
        idempotency_key=idempotency_key or f"qc-{uuid.uuid4().hex}",
        reservation_id=reservation_id or "",
        model=model,
        skip_model_subject=skip_model_subject,
    )
    record_run_to_proto(request, run_id, parent_run_id, end_run)
    if given is not None:
        request.cost_nanos = given  # present, even when 0: an explicit cost (see the docstring)
    return request
