"""Recording a call: price it, find the runs it counts on, apply it once under its idempotency
key, and keep it in the spool when the store could not confirm it (see docs/semantics.md).

Every record carries an idempotency key (a generated one when none is given, returned in the
result), which a retry and the spool reuse, so a record counts exactly once whatever fails.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence

from quota_sidecar.domain.errors import DeadlineExceeded, RunNotOpen, StoreUnavailable
from quota_sidecar.domain.models import QuotaScope, Subject
from quota_sidecar.domain.requests import RecordRequest
from quota_sidecar.domain.results import RecordResult, RunEnd
from quota_sidecar.engine.charges import ChargeAsk, Pricer, charge_call
from quota_sidecar.engine.configs import ConfigRepository
from quota_sidecar.engine.costs import GENERATED_KEY_PREFIX, CostEntry, CostTracker, record_identity
from quota_sidecar.engine.durability.spool import RecordSpool, SpooledRecord
from quota_sidecar.engine.runs import RunRegistry
from quota_sidecar.engine.settings import with_key

__all__ = ["Recorder"]

log = logging.getLogger(__name__)

EndRun = Callable[[str, float | None], Awaitable[RunEnd]]


def _entry_of(entry: SpooledRecord, subjects: Sequence[Subject]) -> CostEntry:
    return CostEntry(
        subjects=tuple(subjects),
        cost_nanos=entry["cost_nanos"],
        provider=entry["provider"],
        tool_name=entry["tool_name"],
        model=str(entry.get("model") or ""),  # absent in spools written before models
        input_tokens=entry["input_tokens"],
        output_tokens=entry["output_tokens"],
        idempotency_key=entry["idempotency_key"],
        reservation_id=entry["reservation_id"],
    )


@dataclasses.dataclass(slots=True)
class Recorder:
    """Records for the engine; `end_run` ends a run once its last record is confirmed."""

    pricer: Pricer
    configs: ConfigRepository
    costs: CostTracker
    runs: RunRegistry
    spool: RecordSpool | None
    end_run: EndRun

    async def record(self, req: RecordRequest) -> RecordResult:
        """A checked record (quota_sidecar.domain.validation.checked_record). With a spool, a
        record the store could not confirm (unreachable, or its timeout passed) is kept on disk
        and answered spooled=True; without one, the error carries the key to retry with."""
        usage = (req.input_tokens, req.output_tokens, req.cache_read_tokens, req.cache_write_tokens)
        # 0 is "no cost given", as in the contract: with a model and tokens, they are priced.
        ask = ChargeAsk(req.provider, req.model, req.cost_nanos or None, usage,
                        req.skip_model_subject, is_check=False)  # fmt: skip
        targets, charge = await charge_call(
            self.pricer, self.configs, list(req.subjects), ask, req.timeout
        )
        targets += await self._record_runs(targets, req)
        key = req.idempotency_key or f"{GENERATED_KEY_PREFIX}{uuid.uuid4().hex}"
        entry: SpooledRecord = {
            "subjects": [str(s) for s in targets],
            "cost_nanos": charge.cost_nanos,
            "provider": req.provider,
            "tool_name": req.tool_name,
            "input_tokens": req.input_tokens,
            "output_tokens": req.output_tokens,
            "idempotency_key": key,
            "reservation_id": req.reservation_id or None,
            "model": ask.name,
        }
        try:
            # A whole call's cost joins the sample of history estimates, in the record's call.
            result = await self.apply(entry, targets, req.timeout, sample=not req.cut_short)
            if req.end_run:  # once the record is confirmed: a spooled one leaves the run open
                await self.end_run(req.run_id, req.timeout)
            return dataclasses.replace(
                result,
                priced_by=charge.priced_by,
                cost_nanos=charge.cost_nanos,
                run_ended=req.end_run,
            )
        except (StoreUnavailable, DeadlineExceeded) as exc:
            if self.spool is None:
                raise with_key(exc, key) from exc
        # Unconfirmed: keep the record on disk under the same key, so it counts exactly once
        # whether or not the store applied it.
        self.spool.append(entry)
        spooled = RecordResult(recorded=False, duplicate=False, spooled=True, idempotency_key=key)
        return dataclasses.replace(
            spooled, priced_by=charge.priced_by, cost_nanos=charge.cost_nanos
        )

    async def _record_runs(self, targets: Sequence[Subject], req: RecordRequest) -> list[Subject]:
        """The runs a record counts on: its open run and every ancestor. A run that is not open
        is named alone: record.lua then answers a retry of a record counted while it was open
        as the duplicate it is (its idempotency key outlives the run), and refuses any other
        record on it (RunNotOpen) before anything is written."""
        if not req.run_id:
            return []
        try:
            return await self.runs.subjects_for(
                targets, req.run_id, req.parent_run_id, timeout=req.timeout, opening=False
            )
        except RunNotOpen:
            return [Subject(QuotaScope.RUN, req.run_id)]

    async def apply(
        self,
        entry: SpooledRecord,
        subjects: Sequence[Subject] | None = None,
        timeout: float | None = None,
        identity: Sequence[Subject] | None = None,
        *,
        sample: bool = False,
    ) -> RecordResult:
        """Apply one record (a spooled one names its subjects as text)."""
        if subjects is None:
            subjects = [Subject.parse(name) for name in entry["subjects"]]
        cost = _entry_of(entry, subjects)
        result = await self.costs.record(cost, timeout=timeout, identity=identity, sample=sample)
        return dataclasses.replace(result, idempotency_key=entry["idempotency_key"])

    async def _replay_record(self, entry: SpooledRecord) -> RecordResult:
        """A spooled record, whose runs may have ended while it waited: it still counts on
        its other subjects and on its runs that are open (usage is never lost), under its key."""
        try:
            return await self.apply(entry)
        except RunNotOpen:
            pass
        subjects = [Subject.parse(name) for name in entry["subjects"]]
        identity = record_identity(subjects)
        kept = [s for s in subjects if s.scope is not QuotaScope.RUN]
        for run in (s for s in subjects if s.scope is QuotaScope.RUN):
            if await self.runs.is_open(run.identifier):
                kept.append(run)
        entry = {**entry, "subjects": [str(s) for s in kept]}
        return await self.apply(entry, kept, identity=identity)

    async def replay_spool(self, on_recorded: Callable[[], None] | None = None) -> int:
        """Record what the spool holds (a no-op without one); StoreUnavailable if the store is
        still away. Returns how many spooled records were recorded; `on_recorded` hears of
        each one as it is, so a pass cut short by another outage is counted too."""
        if self.spool is None or not self.spool.waiting():
            return 0

        async def record(entry: SpooledRecord) -> RecordResult:
            result = await self._replay_record(entry)
            if on_recorded is not None:
                on_recorded()
            return result

        replayed = await self.spool.replay(record)
        log.info("recorded %d spooled records", replayed)
        return replayed
