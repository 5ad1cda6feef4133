"""A streamed call that pays for what it used: a hold that grows in chunks as tokens arrive.

    spec = StreamSpec(user_id="u1", tool_name="chat", provider="openai", model="gpt-4o",
                      input_tokens=812, chunk_tokens=256)
    async with client.stream(spec) as s:          # or GuardedStream(engine, spec)
        async for chunk in provider_stream:
            await s.add(chunk.output_tokens)      # StreamStopped: stop reading the stream
            yield chunk

On entry the call is checked with a hold of its input tokens plus one chunk of output tokens
(priced by the sidecar for the provider and model; without a model, `token_cost` dollars per
output token). `add(n)` asks for room for n more tokens BEFORE they are used: when the hold
does not cover them, it is extended (ExtendReservation) to the next whole chunk, atomically on
every subject the hold holds on; when that is denied, add raises StreamStopped (a
QuotaExceeded with the code, reason and retry_after) and the n tokens are not counted: the
caller must stop. On exit, also on an exception or a cancellation, the call is settled to the
tokens counted (or to the provider's own final usage, `report(...)`): what was used is
charged and the rest of the hold released, marked cut_short unless the block ended normally.
The settle survives the cancellation of the task that streams: it runs to its end in its own
task, under one idempotency key.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from types import TracebackType

from quota_sidecar.client.guard import QuotaApi, guard_subjects, raise_if_denied
from quota_sidecar.domain.errors import InvalidInput, QuotaExceeded
from quota_sidecar.domain.money import Money, to_nanos
from quota_sidecar.domain.results import CheckResult, RecordResult

__all__ = ["GuardedStream", "StreamSpec", "StreamStopped"]

log = logging.getLogger(__name__)
_settling: set[asyncio.Task[RecordResult]] = set()  # settles that outlive a cancelled stream


class StreamStopped(QuotaExceeded):
    """The stream's hold could not grow: stop the stream (it is settled on exit)."""


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """What one guarded stream is: who calls what, and how its hold grows."""

    user_id: str
    tool_name: str
    provider: str = ""
    model: str = ""
    input_tokens: int = 0  # the prompt's tokens, known before the stream starts
    chunk_tokens: int = 256  # output tokens the hold grows by at a time
    token_cost: Money | None = None  # without a model: dollars per output token
    run_id: str = ""
    parent_run_id: str = ""
    lease: timedelta | None = None  # each extension renews the lease to this (server default)


class GuardedStream:
    """An async context manager around one streamed call; see the module docstring."""

    def __init__(self, api: QuotaApi, spec: StreamSpec) -> None:
        if spec.chunk_tokens <= 0:
            raise InvalidInput("chunk_tokens", "must be more than 0")
        if not (spec.provider and spec.model) and spec.token_cost is None:
            raise InvalidInput("token_cost", "is needed without a provider and a model")
        self._api = api
        self.spec = spec
        self._token_nanos = (
            to_nanos(spec.token_cost, "token_cost") if spec.token_cost is not None else None
        )
        self.subjects = guard_subjects(spec.user_id, spec.tool_name, spec.provider)
        self.check: CheckResult | None = None
        self.covered = 0  # output tokens the hold covers
        self.used = 0  # output tokens counted so far
        self.stopped: StreamStopped | None = None
        self.recorded: RecordResult | None = None
        self._reported: tuple[int, int] | None = None
        self._idempotency_key = f"stream-{uuid.uuid4().hex}"

    @property
    def reservation_id(self) -> str:
        if self.check is None or self.check.reservation_id is None:
            raise RuntimeError("only inside `async with`")
        return self.check.reservation_id

    def _cost(self, output_tokens: int) -> int | None:
        """Nanos for `output_tokens` when priced here (token_cost); None: the sidecar prices."""
        return None if self._token_nanos is None else self._token_nanos * output_tokens

    async def __aenter__(self) -> GuardedStream:
        spec = self.spec
        cost = self._cost(spec.chunk_tokens)
        result = await self._api.check_quota(
            subjects=self.subjects,
            # Priced here (token_cost) or by the sidecar (the model's price of the tokens).
            estimated_cost=_dollars(cost) if cost is not None else 0,
            tool_name=spec.tool_name,
            provider=spec.provider,
            model=spec.model,
            skip_model_subject=cost is not None,
            reserve=True,
            estimated_input_tokens=spec.input_tokens if cost is None else 0,
            estimated_output_tokens=spec.chunk_tokens if cost is None else 0,
            run_id=spec.run_id,
            parent_run_id=spec.parent_run_id,
        )
        self.check = raise_if_denied(result)
        self.covered = spec.chunk_tokens
        return self

    async def add(self, tokens: int) -> None:
        """Room for `tokens` more output tokens, before they are used; StreamStopped when the
        hold cannot grow to cover them (they are then not counted)."""
        if self.stopped is not None:
            raise self.stopped
        if tokens < 0:
            raise InvalidInput("tokens", "must be 0 or more")
        need = self.used + tokens
        if need > self.covered:
            chunk = self.spec.chunk_tokens
            cover = self.covered + chunk * -(-(need - self.covered) // chunk)
            extension = await self._api.extend_reservation(
                self.reservation_id,
                hold_cost_nanos=self._cost(cover),
                input_tokens=self.spec.input_tokens if self._token_nanos is None else 0,
                output_tokens=cover if self._token_nanos is None else 0,
                provider=self.spec.provider if self._token_nanos is None else "",
                model=self.spec.model if self._token_nanos is None else "",
                reservation_lease=self.spec.lease,
            )
            if not extension.extended:
                code = extension.code.value if extension.code is not None else "DENIED"
                self.stopped = StreamStopped(code, extension.reason, extension.retry_after)
                raise self.stopped
            self.covered = cover
        self.used = need

    def report(self, *, input_tokens: int, output_tokens: int) -> None:
        """The provider's own final usage: the settle charges it instead of the tokens added."""
        self._reported = (input_tokens, output_tokens)

    async def _settle(self, cut_short: bool) -> RecordResult:
        spec = self.spec
        input_tokens, output_tokens = self._reported or (spec.input_tokens, self.used)
        cost = self._cost(output_tokens)
        return await self._api.record_usage(
            subjects=self.subjects,
            cost=None if cost is None else _dollars(cost),
            provider=spec.provider,
            tool_name=spec.tool_name,
            model=spec.model,
            skip_model_subject=cost is not None,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            idempotency_key=self._idempotency_key,
            reservation_id=self.reservation_id,
            run_id=spec.run_id,
            parent_run_id=spec.parent_run_id,
            cut_short=cut_short,
        )

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.check is None or self.recorded is not None:
            return
        cut_short = exc is not None or self.stopped is not None
        # Its own task, so a cancellation of this one (now or while settling) never loses it.
        task = asyncio.ensure_future(self._settle(cut_short))
        _settling.add(task)
        task.add_done_callback(_settling.discard)
        self.recorded = await asyncio.shield(task)


def _dollars(nanos: int) -> Decimal:
    return Decimal(nanos).scaleb(-9)
