"""Undo checks whose outcome is unknown, so a lost reply never leaves a counted request or an
orphan hold.

A check's reply can be lost after the script was sent: the store became unreachable while the
call was in flight, the connection broke, or the caller's timeout passed. The script may still
run (a stopped Redis runs what it had received once it resumes). The caller is told "nothing
held" (a decision without the store, or DeadlineExceeded), so the check must not count:
every check carries an id, an admitted one leaves that id in its first subject's check marks,
and refund.lua, given the id, gives back exactly what the check consumed if it ran, or leaves a
mark that makes the check consume nothing if it runs later (see check.lua).

Undos wait here, in order, and are sent as soon as the store is reachable; refund.lua is
idempotent per id, so an undo whose own reply is lost is simply sent again. An undo that cannot
be sent before the process ends is lost with it: the hold then expires with its lease, and the
request stays counted in its windows (an over-count, never an overspend).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from quota_sidecar.domain.errors import DeadlineExceeded, Overloaded, StoreUnavailable
from quota_sidecar.domain.models import LimitKind
from quota_sidecar.engine.plan import SubjectPlan
from quota_sidecar.store.keys import subject_keys
from quota_sidecar.store.redis import Store

__all__ = ["CheckUndoer", "new_check_id"]

log = logging.getLogger(__name__)
_MAX_PENDING = 100_000
_UNDO_TIMEOUT = 2.0  # seconds for one undo call; it is retried after a failure
_RETRY_PAUSE = 0.05  # seconds between attempts while the store is reachable but refusing


def new_check_id() -> str:
    # 64 random bits, as uuid4().hex[:16] gave, without a getrandom() system call per check:
    # the id only has to be unique (it is no secret), and `random` is reseeded in a forked
    # worker, so no two processes share a sequence.
    return f"{random.getrandbits(64):016x}"


@dataclass(frozen=True, slots=True)
class _Undo:
    keys: list[str]
    args: list[Any]


class CheckUndoer:
    """A queue of checks to undo, drained by one background task."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._pending: deque[_Undo] = deque()
        self._task: asyncio.Task[None] | None = None
        self._reachable = asyncio.Event()
        store.on_state_change(self._state_changed)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def undo(
        self,
        plans: Sequence[SubjectPlan],
        *,
        now: int,
        tokens: int,
        hold_id: str,
        check_id: str,
        requests: int = 1,
    ) -> None:
        """Queue the undo of check `check_id`, planned as `plans` at `now`."""
        charged = [",".join(_rate_limits(plan)) for plan in plans]
        keys = [k for p in plans for k in p.keys] + [
            subject_keys(plans[0].subject).check_mark(check_id)
        ]
        args: list[Any] = [now, tokens, int(bool(hold_id)), hold_id, requests, len(plans)]
        args += charged
        args.append(check_id)
        if len(self._pending) >= _MAX_PENDING:
            dropped = self._pending.popleft()
            log.error("too many checks to undo; one stays counted: %s", dropped.keys[0])
        self._pending.append(_Undo(keys, args))
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain(), name="check-undo")

    def _state_changed(self, reachable: bool) -> None:
        if reachable:
            self._reachable.set()
        else:
            self._reachable.clear()

    async def _drain(self) -> None:
        while self._pending:
            if not self._store.reachable:
                self._reachable.clear()
                await self._reachable.wait()
            item = self._pending[0]
            try:
                await self._store.run("refund.lua", item.keys, item.args, timeout=_UNDO_TIMEOUT)
            except (StoreUnavailable, DeadlineExceeded, Overloaded) as exc:
                log.debug("undo of a check deferred: %s", exc)
                await asyncio.sleep(_RETRY_PAUSE)
                continue
            except Exception:  # a script error would repeat forever: log it and go on
                log.exception("undo of a check failed; its request stays counted")
            self._pending.popleft()

    async def close(self, timeout: float = 2.0) -> None:
        """Give the queue `timeout` seconds to drain, then stop."""
        task = self._task
        if task is None or task.done():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), timeout)
        if not task.done():
            log.error("%d checks could not be undone before the stop", len(self._pending))
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def _rate_limits(plan: SubjectPlan) -> list[str]:
    """What check.lua counted for this subject: every rate window its quota has, and the
    lifetime counts of a subject that ends (a run) or caps them."""
    config = plan.cached.config
    if config is None:
        return []
    names = [kind.value for kind in config.limits() if kind.window is not None]
    if plan.cached.expires_at_ms is not None or any(k in _LIFETIME for k in config.limits()):
        names += [k.value for k in _LIFETIME]
    return names


_LIFETIME = (LimitKind.REQUESTS_LIFETIME, LimitKind.TOKENS_LIFETIME)
