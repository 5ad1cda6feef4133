"""Checks and records on Redis Cluster, where one call's subjects may live on several slots.

Each subject's keys share one hash tag (`qs:{scope:identifier}:…`), so a subject lives on one
slot, but different subjects usually do not, and a cluster refuses a script whose keys span
slots (CROSSSLOT). So the subjects are grouped by slot, one script call per group, groups
taken in ascending slot order.

Checks: admit group by group, compensate on a later denial. Each group's check.lua call is
atomic and conditional: it consumes only if every subject of the group is under all its limits,
counting everything already consumed. Therefore:
  * No limit is ever exceeded: a limit is only charged inside the atomic script that checks it,
    and a refund gives back only what the same check charged.
  * A denial leaves no net consumption. When group k denies, groups 1..k-1 have consumed; each
    runs refund.lua, which subtracts exactly what check.lua added at the same `now`: a request
    (and the estimated tokens) in the windows it charged, the day's request counter, and the
    hold. Group k consumed nothing; later groups were never asked. The same
    holds when a later group answers "stale" (the caller re-plans and retries) or fails (the
    error is raised after the refunds; as on a single Redis, a call that timed out may have
    consumed on its own slot). Refunds run to the end even if the caller is cancelled.
  * The visible effect: between a group's consume and its refund (a round trip or two), a
    concurrent check may see the extra usage and be denied: a false denial, never an
    overspend. One global order keeps two checks from taking each other's last unit in
    opposite order and both being denied.
  * A refund that cannot reach Redis (the node died in that instant) is logged; the charge
    stays: an over-count, never an overspend (windows forget it; the day counter keeps it).
  * A denied result names the first denying group in slot order (a single Redis names the most
    binding denial of all subjects); its `limits` show the subjects evaluated, after refund.
    Its retry_after is, as on a single Redis, the latest over every denying limit: the groups
    after the denying one are evaluated dry (check.lua's 'dry': nothing consumed or alerted).
    Threshold alerts a compensated group raised stay raised: the usage was real for a moment.

Records: see engine/cluster_records.py.

Alerts: scripts on a cluster cannot reach `qs:alerts` (another slot), so they append to the
subject's own stream and return the entries; `publish_alerts` XADDs them to `qs:alerts` (for
StreamAlerts and webhooks), whose new ids replace the subject stream's in what a record
returns. An alert whose script reply was lost (a timeout) stays in the subject's stream only.

On a cluster every check and record comes here; with all subjects on one slot it is still one
script call (plus the XADD of any alert raised).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from redis.crc import key_slot

from quota_sidecar.domain.errors import Overloaded, StoreUnavailable
from quota_sidecar.domain.models import LimitKind
from quota_sidecar.engine.plan import SubjectPlan
from quota_sidecar.engine.replies import exact_int
from quota_sidecar.store.alert_codec import ALERTS_STREAM, RETENTION_MS
from quota_sidecar.store.alert_streams import SharedEntry, append_shared
from quota_sidecar.store.redis import Store

__all__ = [
    "MAX_IN_FLIGHT",
    "STALE_RETRIES",
    "TOTALS_WIDTH",
    "SlotGroup",
    "admitted_to",
    "check_across_slots",
    "ordered",
    "publish_alerts",
    "reindex",
    "slot_groups",
]

log = logging.getLogger(__name__)
STALE_RETRIES = 3
_PUBLISH_TIMEOUT = 2.0  # seconds; alerts are off the hot path
_STATUS_WIDTH, _WARNING_WIDTH, TOTALS_WIDTH = 6, 5, 5
_HELD_BUDGETS = (
    LimitKind.COST_DAILY,
    LimitKind.COST_MONTHLY,
    LimitKind.COST_WEEKLY,
    LimitKind.COST_LIFETIME,
)
_background: set[asyncio.Task[None]] = set()  # refunds that outlive a cancelled caller
MAX_IN_FLIGHT = 64  # below the client's 100 connections per node: room for other calls
_gates: weakref.WeakKeyDictionary[Store, _Gate] = weakref.WeakKeyDictionary()


@dataclass(slots=True)
class SlotGroup:
    """The subjects of one call that live on one cluster slot, with their positions (0-based)
    in the caller's list of plans."""

    slot: int
    positions: list[int]
    plans: list[SubjectPlan]

    @property
    def keys(self) -> list[str]:
        return [k for p in self.plans for k in p.keys]

    @property
    def args(self) -> list[str | int]:
        return [a for p in self.plans for a in p.args]

    def global_index(self, local: Any) -> int:
        """The caller's 1-based subject index of a script's 1-based index."""
        return self.positions[exact_int(local) - 1] + 1


def slot_groups(plans: Sequence[SubjectPlan]) -> list[SlotGroup]:
    """The plans grouped by slot, groups in ascending slot order (the one global order)."""
    groups: dict[int, SlotGroup] = {}
    for position, plan in enumerate(plans):
        slot = key_slot(plan.keys[0].encode())
        group = groups.setdefault(slot, SlotGroup(slot, [], []))
        group.positions.append(position)
        group.plans.append(plan)
    return [groups[slot] for slot in sorted(groups)]


# --- checks ------------------------------------------------------------------------------


async def check_across_slots(
    store: Store, plans: Sequence[SubjectPlan], *, head: Sequence[Any]
) -> list[Any]:
    """check.lua per slot group, compensating admitted groups on a later denial. `head` is
    check.lua's ARGV before N (now, estimated cost, estimated tokens, reserve, hold id, lease,
    check id, requests).
    Returns a reply in check.lua's format with the caller's subject indexes."""
    async with admitted_to(store):
        return await _check(store, plans, head)


async def _check(store: Store, plans: Sequence[SubjectPlan], head: Sequence[Any]) -> list[Any]:
    now, cost, tokens = int(head[0]), int(head[1]), int(head[2])
    reserve, hold_id, requests = str(head[3]) == "1", str(head[4]), int(head[7])
    admitted: list[tuple[SlotGroup, list[Any]]] = []
    alerts: list[list[str]] = []
    refund = _Refund(
        store, now=now, tokens=tokens, reserve=reserve, hold_id=hold_id, requests=requests
    )
    try:
        groups = slot_groups(plans)
        for position, group in enumerate(groups):
            args = [*head, len(group.plans), 0, *group.args]
            reply = await store.run("check.lua", group.keys, args)
            if reply[0] == "stale":
                await refund.all(_taken(admitted))
                return ["stale", [group.global_index(i) for i in reply[1]]]
            alerts += reply[10]
            if reply[0] == "deny":
                consumed = _taken(admitted)
                await refund.all(consumed)
                denied = _denial(
                    group, reply, consumed, cost=cost, tokens=tokens, reserve=reserve,
                    requests=requests,
                )  # fmt: skip
                denied[4] = await _latest_retry(store, groups[position + 1 :], head, reply[4])
                return denied
            admitted.append((group, reply))
    except BaseException:
        await refund.all(_taken(admitted))  # a failed or cancelled call gives back all it took
        raise
    finally:
        await publish_alerts(store, alerts)  # after the refunds: they come first
    return _admission(admitted, hold_id if reserve else "")


async def _latest_retry(
    store: Store, later: Sequence[SlotGroup], head: Sequence[Any], retry_ms: Any
) -> int:
    """retry_after is when the same check could pass: the latest over every denying limit of
    every subject, as on a single Redis. The groups after the denying one were not asked, so
    each is evaluated dry (nothing consumed, held or alerted). -1 (never) wins over any wait;
    a group that cannot answer (stale, failed) adds nothing: the wait is then a lower bound."""
    latest = exact_int(retry_ms)
    for group in later:
        if latest == -1:
            break
        args = [*head, len(group.plans), 0, *group.args, "dry"]
        try:
            reply = await store.run("check.lua", group.keys, args)
        except StoreUnavailable:
            break
        if reply[0] == "deny":
            wait = exact_int(reply[4])
            latest = -1 if wait == -1 else max(latest, wait)
    return latest


def _taken(admitted: list[tuple[SlotGroup, list[Any]]]) -> list[tuple[SlotGroup, list[Any]]]:
    """Empty the list and return its contents, so no path refunds a group twice."""
    taken = list(admitted)
    admitted.clear()
    return taken


class _Refund:
    """Runs refund.lua for admitted groups, with the check's `now`, tokens and hold."""

    def __init__(
        self, store: Store, *, now: int, tokens: int, reserve: bool, hold_id: str, requests: int
    ):
        self._store = store
        self._head: list[Any] = [now, tokens, int(reserve), hold_id, requests]

    async def all(self, admitted: Sequence[tuple[SlotGroup, list[Any]]]) -> None:
        """Refund every group, to the end even if the caller is cancelled meanwhile."""
        if admitted:
            task = asyncio.ensure_future(self._each(admitted))
            _background.add(task)
            task.add_done_callback(_background.discard)
            await asyncio.shield(task)

    async def _each(self, admitted: Sequence[tuple[SlotGroup, list[Any]]]) -> None:
        # One after another: an operation holds at most one connection per node (see
        # admitted_to); refunds are rare, so the extra round trips cost little.
        for group, reply in admitted:
            await self._one(group, reply)

    async def _one(self, group: SlotGroup, reply: list[Any]) -> None:
        charged: list[list[str]] = [[] for _ in group.plans]
        for row in _rows(reply[8], _STATUS_WIDTH):
            if LimitKind(row[1]).consumed_by_check:
                charged[exact_int(row[0]) - 1].append(str(row[1]))
        args = [*self._head, len(group.plans), *(",".join(names) for names in charged)]
        try:
            await self._store.run("refund.lua", group.keys, args, timeout=_PUBLISH_TIMEOUT)
        except StoreUnavailable as exc:  # StoreTimeout included
            log.error(
                "could not refund a compensated check on slot %d (subjects %s): %s; the "
                "consumption stays (an over-count, never an overspend)",
                group.slot,
                ", ".join(str(p.subject) for p in group.plans),
                exc,
            )


def _admission(admitted: Sequence[tuple[SlotGroup, list[Any]]], hold_id: str) -> list[Any]:
    """Every group admitted: all statuses and warnings, and the first shadow denial if any."""
    statuses: list[Any] = []
    warnings: list[Any] = []
    chosen: tuple[SlotGroup, list[Any]] | None = None
    for group, reply in admitted:
        statuses += reindex(group, reply[8], _STATUS_WIDTH)
        warnings += reindex(group, reply[9], _WARNING_WIDTH)
        if chosen is None and reply[1]:
            chosen = (group, reply)
    statuses, warnings = ordered(statuses, _STATUS_WIDTH), ordered(warnings, _WARNING_WIDTH)
    if chosen is None:
        return ["ok", "", 0, "", 0, 0, 0, hold_id, statuses, warnings, []]
    group, reply = chosen
    index = group.global_index(reply[2])
    return ["ok", reply[1], index, *reply[3:6], 1, hold_id, statuses, warnings, []]


def _denial(
    denying: SlotGroup,
    reply: list[Any],
    admitted: Sequence[tuple[SlotGroup, list[Any]]],
    *,
    cost: int,
    tokens: int,
    reserve: bool,
    requests: int,
) -> list[Any]:
    """The denying group's verdict; the admitted groups' statuses as they are after refund."""
    statuses: list[Any] = []
    for group, admitted_reply in admitted:
        for row in _rows(reindex(group, admitted_reply[8], _STATUS_WIDTH), _STATUS_WIDTH):
            statuses += _refunded_status(
                list(row), cost=cost, tokens=tokens, reserve=reserve, requests=requests
            )
    statuses = ordered(statuses + reindex(denying, reply[8], _STATUS_WIDTH), _STATUS_WIDTH)
    warnings = reindex(denying, reply[9], _WARNING_WIDTH)
    index = denying.global_index(reply[2])
    return ["deny", reply[1], index, *reply[3:6], 0, "", statuses, warnings, []]


def _refunded_status(
    row: list[Any], *, cost: int, tokens: int, reserve: bool, requests: int
) -> list[Any]:
    """A status row of an admitted group, less what the refund gave back."""
    index, name, limit, used, held, reset_ms = row
    kind = LimitKind(name)
    if kind.consumed_by_check:
        charged = requests if name.startswith("requests_") else tokens
        used = max(0, exact_int(used) - charged)
        if used == 0 and kind.window is not None:
            reset_ms = 0  # the window held only this check's charge
    elif reserve and kind in _HELD_BUDGETS:
        held = max(0, exact_int(held) - cost)
    elif reserve and kind is LimitKind.MAX_CONCURRENT:
        used = max(0, exact_int(used) - 1)  # the refund released this check's hold (its slot)
    return [index, name, limit, used, held, reset_ms]


# --- alerts and helpers ------------------------------------------------------------------


@contextlib.asynccontextmanager
async def admitted_to(store: Store) -> AsyncIterator[None]:
    """Bound the cluster operations in flight per store. redis-py's async cluster client keeps
    at most 100 connections per node and fails at once (MaxConnectionsError) beyond them,
    where the single-Redis pool waits; so a burst queues here instead. Overload is not outage:
    the wait is not timed (a saturated sidecar must not look like a slow Redis); past the
    store's max_queue waiting operations, Overloaded. A whole operation holds one permit, so it
    is never held up between consuming and refunding, and holds at most one connection per
    node at a time."""
    gate = _gates.get(store)
    if gate is None:
        gate = _gates[store] = _Gate(MAX_IN_FLIGHT)
    if gate.locked() and gate.waiting >= store.max_queue:
        raise Overloaded(f"{gate.waiting} cluster operations are already waiting")
    gate.waiting += 1
    try:
        await gate.acquire()
    finally:
        gate.waiting -= 1
    try:
        yield
    finally:
        gate.release()


class _Gate(asyncio.Semaphore):
    """A semaphore that counts its waiters."""

    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.waiting = 0


async def publish_alerts(store: Store, entries: Sequence[Sequence[str]]) -> list[list[str]]:
    """XADD alerts that scripts appended to subjects' own streams to the shared stream, and
    return them with the shared stream's ids. A failure is logged, not raised: the operation
    itself has happened, and the alert stays readable in the subject's stream."""
    if not entries:
        return []

    shared = []
    for entry in entries:
        fields = dict(zip(entry[1::2], entry[2::2], strict=True))
        shared.append(SharedEntry(fields, exact_int(fields["t"]) - RETENTION_MS))
    try:
        ids = await append_shared(store, shared, _PUBLISH_TIMEOUT)
    except StoreUnavailable as exc:
        log.error("could not publish %d alert(s) to %s: %s", len(entries), ALERTS_STREAM, exc)
        return [list(entry) for entry in entries]
    return [[str(new_id), *entry[1:]] for new_id, entry in zip(ids, entries, strict=True)]


def _rows(flat: Sequence[Any], width: int) -> list[Sequence[Any]]:
    return [flat[i : i + width] for i in range(0, len(flat), width)]


def ordered(flat: Sequence[Any], width: int) -> list[Any]:
    """Rows in the caller's subject order (stable), as a single Redis returns them."""
    rows = sorted(_rows(flat, width), key=lambda row: exact_int(row[0]))
    return [v for row in rows for v in row]


def reindex(group: SlotGroup, flat: Sequence[Any], width: int) -> list[Any]:
    """A flat reply list whose rows start with a subject index, with the caller's indexes."""
    out: list[Any] = []
    for row in _rows(flat, width):
        out += [group.global_index(row[0]), *row[1:]]
    return out
