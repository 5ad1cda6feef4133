"""CostTracker: cost accounting. Records actual spend (always, even past a limit), settles and
releases holds, dedupes by idempotency key, and reads usage with the provider and tool
breakdown. Each operation is one script call."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from quota_sidecar.domain.clock import Clock, from_ms
from quota_sidecar.domain.errors import (
    IdempotencyConflict,
    InvalidInput,
    RunNotOpen,
    StoreUnavailable,
)
from quota_sidecar.domain.history import HistoryRetention
from quota_sidecar.domain.models import LimitKind, QuotaScope, Subject
from quota_sidecar.domain.results import BreakdownEntry, LimitStatus, RecordResult, Usage
from quota_sidecar.engine.cluster_records import SlotRecord, record_across_slots
from quota_sidecar.engine.configs import ConfigRepository
from quota_sidecar.engine.dedupe import (
    DEDUPE_WINDOW_MS,
    GENERATED_DEDUPE_WINDOW_MS,
    GENERATED_KEY_PREFIX,
    DedupeTarget,
    dedupe_entry,
)
from quota_sidecar.engine.defaults import tenant_of
from quota_sidecar.engine.history_keys import record_extras
from quota_sidecar.engine.plan import SubjectPlan, plan_subject, plan_subjects
from quota_sidecar.engine.replies import decode_alerts, decode_totals, exact_int, window_length
from quota_sidecar.engine.reservations import decode_reservation
from quota_sidecar.engine.samples import sample_extras
from quota_sidecar.store.keys import ALERTS, idempotency_home, subject_keys
from quota_sidecar.store.redis import Store

_LIFETIME_FIELDS = {LimitKind.REQUESTS_LIFETIME: "r", LimitKind.TOKENS_LIFETIME: "t"}
# The windows lease slices count in (engine/leases/): their open slices show as held.
_REQUEST_WINDOWS = frozenset(
    {LimitKind.REQUESTS_PER_MINUTE, LimitKind.REQUESTS_PER_HOUR, LimitKind.REQUESTS_PER_DAY}
)

__all__ = [
    "DEDUPE_WINDOW_MS",
    "GENERATED_DEDUPE_WINDOW_MS",
    "GENERATED_KEY_PREFIX",
    "CostEntry",
    "CostTracker",
    "breakdown_entries",
    "record_identity",
]

_STALE_RETRIES = 3
_MAX_KEY = 128


def record_identity(subjects: Sequence[Subject]) -> list[Subject]:
    """The subjects that make a record what it is, for its idempotency fingerprint: all but a
    run's ancestors (they follow from the run, the first run named, and a run that has ended
    has none to read), so a retry after its run ended is still the same record."""
    runs = [s for s in subjects if s.scope is QuotaScope.RUN]
    return [s for s in subjects if s.scope is not QuotaScope.RUN] + runs[:1]


@dataclass(frozen=True, slots=True)
class CostEntry:
    """One record as the store applies it: its subjects (the model's and the runs' included),
    its cost in nanos, its labels ("provider/model" as `model`, or ""), and its key."""

    subjects: tuple[Subject, ...]
    cost_nanos: int
    provider: str = ""
    tool_name: str = ""
    model: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    idempotency_key: str = ""
    reservation_id: str | None = None


class CostTracker:
    """Budgets and cost accounting on Redis."""

    def __init__(
        self,
        store: Store,
        configs: ConfigRepository,
        clock: Clock,
        history: HistoryRetention | None = None,
    ) -> None:
        self._store = store
        self._configs = configs
        self._clock = clock
        self._history = history or HistoryRetention()

    async def record(
        self,
        entry: CostEntry,
        *,
        timeout: float | None = None,
        identity: Sequence[Subject] | None = None,
        sample: bool = False,
    ) -> RecordResult:
        """`identity`: the subjects the idempotency fingerprint is taken over when they are not
        the entry's (a spooled record replayed without the runs that ended meanwhile stays the
        record it was). `sample`: a record that counts also keeps its cost in the first
        subject's sample for history estimates (engine/samples.py), in the same script call."""
        reply, plans = await self._record(
            entry, release=False, timeout=timeout, identity=identity, sample=sample
        )
        return RecordResult(
            recorded=reply[0] == "ok",
            duplicate=reply[0] == "duplicate",
            totals=decode_totals(reply[2], plans),
            alerts=decode_alerts(reply[3]),
            hold_settled=exact_int(reply[1]) > 0,
        )

    async def _record(
        self,
        record: CostEntry,
        *,
        release: bool,
        timeout: float | None = None,
        identity: Sequence[Subject] | None = None,
        sample: bool = False,
    ) -> tuple[list[Any], list[SubjectPlan]]:
        prepared = _prepare(record, release=release, identity=identity, sample=sample)
        targets = prepared.targets
        for _ in range(_STALE_RETRIES):
            reply, plans = await self._attempt(record, prepared, release=release, timeout=timeout)
            status = reply[0]
            if status == "closed":
                raise RunNotOpen("run_id", "the run is not open (a check opens a run)")
            if status == "conflict":
                raise IdempotencyConflict(
                    "idempotency_key", "was already used for a different payload"
                )
            if status != "stale":
                return reply, plans
            stale = [targets[int(i) - 1] for i in reply[1]]
            await self._configs.refresh(stale, tenant=tenant_of(targets))
        raise StoreUnavailable("quota configuration kept changing during the record")

    async def _attempt(
        self, record: CostEntry, prepared: _Prepared, *, release: bool, timeout: float | None
    ) -> tuple[list[Any], list[SubjectPlan]]:
        """One record.lua call (or one per slot group on a cluster) on fresh plans."""
        subjects, targets, dedupe = record.subjects, prepared.targets, prepared.dedupe
        now = self._clock.now_ms()
        cached = await self._configs.get_many(targets, timeout=timeout)
        plans = plan_subjects(targets, cached, now)
        keys = [k for p in plans for k in p.keys] + [dedupe.legacy, dedupe.index]
        shared = not self._store.is_cluster
        if shared:
            keys.append(ALERTS)
        args: list[Any] = [
            now, record.cost_nanos, record.input_tokens, record.output_tokens, prepared.entry
        ]  # fmt: skip
        args += [
            dedupe.window_ms,
            prepared.hold_id,
            int(release),
            record.provider,
            record.tool_name,
            record.model,
            len(plans),
        ]
        args += [int(shared), prepared.others, *(a for p in plans for a in p.args)]
        samples = prepared.samples
        if self._store.is_cluster:  # subjects may span slots: see engine/cluster.py
            slot_record = SlotRecord(
                now, args[:11], record.idempotency_key, len(subjects), self._history, samples
            )
            reply = await record_across_slots(self._store, self._configs, plans, slot_record)
            return reply, plans
        # The history rollups and top-spender sets, in the same script call.
        more_keys, more_args = record_extras(plans, len(subjects), self._history, top=True)
        # Then the cost sample (its list the last key), in the same script call too.
        keys += more_keys + samples[0]
        args += more_args + samples[1]
        # A record must survive a failover once acknowledged; a release need not (a
        # lost one leaves a hold its lease ends).
        reply = await self._store.run(
            "record.lua", keys, args, timeout=timeout, replicated=not release
        )
        return reply, plans

    async def release(self, reservation_id: str) -> bool:
        """Return a hold; False when it had already been settled, released or expired."""
        _, subjects = decode_reservation(reservation_id)
        reply, _ = await self._record(
            CostEntry(tuple(subjects), 0, reservation_id=reservation_id), release=True
        )
        return exact_int(reply[1]) > 0

    async def usage(self, subject: Subject, *, tenant: str = "") -> Usage:
        for _ in range(_STALE_RETRIES):
            now = self._clock.now_ms()
            (cached,) = await self._configs.get_many([subject], tenant=tenant)
            plan = plan_subject(subject, cached, now)
            keys = [*plan.keys, subject_keys(subject).lease_registry]
            reply = await self._store.run("usage.lua", keys, [now, *plan.args])
            if reply[0] != "stale":
                break
            await self._configs.refresh([subject], tenant=tenant)
        else:
            raise StoreUnavailable("quota configuration kept changing during the read")
        r = _UsageReply.decode(reply)
        day, month, week, life, leased, rings = r.day, r.month, r.week, r.life, r.leased, r.rings
        statuses = [
            _limit_status(subject, kind, value, r, plan) for kind, value in r.limits.items()
        ]
        return Usage(
            subject=subject,
            cost_today_nanos=exact_int(day.get("c", 0)),
            cost_this_month_nanos=exact_int(month.get("c", 0)),
            held_nanos=r.held,
            requests_today=max(0, exact_int(day.get("r", 0)) - leased),
            tokens_today=exact_int(day.get("ti", 0)) + exact_int(day.get("to", 0)),
            requests_last_minute=max(0, rings[LimitKind.REQUESTS_PER_MINUTE][0] - leased),
            requests_last_hour=max(0, rings[LimitKind.REQUESTS_PER_HOUR][0] - leased),
            requests_last_day=max(0, rings[LimitKind.REQUESTS_PER_DAY][0] - leased),
            tokens_last_minute=rings[LimitKind.TOKENS_PER_MINUTE][0],
            tokens_last_day=rings[LimitKind.TOKENS_PER_DAY][0],
            limits=tuple(statuses),
            day_resets_at=plan.day.end,
            month_resets_at=plan.month.end,
            by_provider_today=breakdown_entries(day, "p"),
            by_tool_today=breakdown_entries(day, "t"),
            by_provider_month=breakdown_entries(month, "p"),
            by_tool_month=breakdown_entries(month, "t"),
            by_model_today=breakdown_entries(day, "m"),
            by_model_month=breakdown_entries(month, "m"),
            config=cached.config,
            cost_this_week_nanos=exact_int(week.get("c", 0)),
            week_resets_at=plan.week.end,
            cost_lifetime_nanos=exact_int(life.get("c", 0)),
            quota_source=cached.source,
            quota_default=str(cached.default) if cached.default is not None else "",
        )


@dataclass(frozen=True, slots=True)
class _Prepared:
    """What a record's attempts share: its subjects and the reservation's others (`others` of
    them, last), the hold it settles, its dedupe entry and target, and its cost sample."""

    targets: list[Subject]
    others: int
    hold_id: str
    entry: bytes
    dedupe: DedupeTarget
    samples: tuple[list[str], list[Any]]


def _prepare(
    record: CostEntry, *, release: bool, identity: Sequence[Subject] | None, sample: bool
) -> _Prepared:
    subjects, tool_name, model = record.subjects, record.tool_name, record.model
    idempotency_key, reservation_id = record.idempotency_key, record.reservation_id
    hold_id, others = "", []
    if reservation_id:
        hold_id, reserved = decode_reservation(reservation_id)
        # Settling a reservation settles all of it: its subjects that the record does not
        # name have their holds released (nothing charged), in the same script call.
        others = [s for s in reserved if s not in subjects]
    if len(idempotency_key) > _MAX_KEY:
        raise InvalidInput("idempotency_key", f"is longer than {_MAX_KEY} characters")
    parts = [str(record.cost_nanos), record.provider, tool_name]
    parts += [str(record.input_tokens), str(record.output_tokens)]
    parts += [model] if model else []  # records without a model keep their fingerprints
    # The subjects in any order are the same record: sorted in the fingerprint, and the
    # dedupe key on the slot of the least subject, with the rest of the record.
    names = sorted(str(s) for s in record_identity(identity or subjects))
    payload = "\x1f".join([*names, *parts, reservation_id or ""])
    entry = dedupe_entry(idempotency_key, payload)
    dedupe = DedupeTarget.on(idempotency_home(identity or subjects), idempotency_key)
    samples: tuple[list[str], list[Any]] = ([], []) if release or not sample else sample_extras(
        subjects[0], tool_name=tool_name, model=model
    )  # fmt: skip
    return _Prepared([*subjects, *others], len(others), hold_id, entry, dedupe, samples)


@dataclass(frozen=True, slots=True)
class _UsageReply:
    """usage.lua's reply: the day/month/week/lifetime hashes, the held nanos, the windows'
    (used, reset ms), the limits, the open holds (count, first lease end) and the leased."""

    day: dict[str, str]
    month: dict[str, str]
    week: dict[str, str]
    life: dict[str, str]
    held: int
    rings: dict[LimitKind, tuple[int, int]]
    limits: dict[LimitKind, int]
    slots: Sequence[Any]
    leased: int

    @classmethod
    def decode(cls, reply: Sequence[Any]) -> _UsageReply:
        _, day_flat, month_flat, held, rings_flat, limits_flat, slots, week_flat, life_flat = reply[
            :9
        ]
        rings = {
            LimitKind(rings_flat[i]): (exact_int(rings_flat[i + 1]), exact_int(rings_flat[i + 2]))
            for i in range(0, len(rings_flat), 3)
        }
        limits = {
            LimitKind(limits_flat[i]): exact_int(limits_flat[i + 1])
            for i in range(0, len(limits_flat), 2)
        }
        return cls(
            day=_pairs(day_flat),
            month=_pairs(month_flat),
            week=_pairs(week_flat),
            life=_pairs(life_flat),
            held=exact_int(held),
            rings=rings,
            limits=limits,
            slots=slots,
            # Open lease slices: counted, shown as held (not used).
            leased=exact_int(reply[9]),
        )


def _limit_status(
    subject: Subject, kind: LimitKind, value: int, r: _UsageReply, plan: SubjectPlan
) -> LimitStatus:
    if kind in _REQUEST_WINDOWS:
        used, reset_ms = r.rings[kind]
        used, item_held = max(0, used - r.leased), min(r.leased, used)
    elif kind.window is not None:
        used, reset_ms = r.rings[kind]
        item_held = 0
    elif kind is LimitKind.COST_PER_REQUEST:
        used, reset_ms, item_held = 0, 0, 0
    elif kind in _LIFETIME_FIELDS:  # never resets; nothing of it is held
        used, reset_ms, item_held = exact_int(r.life.get(_LIFETIME_FIELDS[kind], 0)), 0, 0
    elif kind is LimitKind.MAX_CONCURRENT:
        # The open holds; reset_at is when the first of their leases ends.
        used, reset_ms, item_held = exact_int(r.slots[0]), exact_int(r.slots[1]), 0
    else:
        source, reset_ms = {
            LimitKind.COST_DAILY: (r.day, plan.day.end_ms),
            LimitKind.COST_MONTHLY: (r.month, plan.month.end_ms),
            LimitKind.COST_WEEKLY: (r.week, plan.week.end_ms),
            LimitKind.COST_LIFETIME: (r.life, 0),  # never resets
        }[kind]
        used, item_held = exact_int(source.get("c", 0)), r.held
    return LimitStatus(
        subject=subject,
        limit=kind,
        limit_value=value,
        used=used,
        held=item_held,
        remaining=max(0, value - used - item_held),
        reset_at=from_ms(reset_ms) if reset_ms > 0 else None,
        window=window_length(kind, plan),
    )


def _pairs(flat: Sequence[str]) -> dict[str, str]:
    return dict(zip(flat[0::2], flat[1::2], strict=True))


def breakdown_entries(fields: Mapping[str, str], kind: str) -> tuple[BreakdownEntry, ...]:
    """Entries from "<kind>:<name>" (cost) and "<kind>n:<name>" (calls), costliest first."""
    prefix, count_prefix = f"{kind}:", f"{kind}n:"
    entries = [
        BreakdownEntry(
            name[len(prefix) :],
            exact_int(value),
            exact_int(fields.get(count_prefix + name[len(prefix) :], 0)),
        )
        for name, value in fields.items()
        if name.startswith(prefix)
    ]
    return tuple(sorted(entries, key=lambda e: (-e.cost_nanos, e.name)))
