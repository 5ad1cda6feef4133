"""The dashboard's session book (tokens to roles, expiry, the bound on sessions) and how it
shows values (exact dollars, bar fill, times)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from quota_sidecar.dashboard import present, sessions
from quota_sidecar.dashboard.sessions import Role, SessionBook
from quota_sidecar.domain.models import LimitKind


def test_tokens_open_their_role_and_nothing_else_does() -> None:
    book = SessionBook("admin-secret", "viewer-secret")
    assert book.role_for("admin-secret") is Role.ADMIN
    assert book.role_for("viewer-secret") is Role.VIEWER
    for wrong in ("", "admin-secre", "admin-secret ", "ADMIN-SECRET", "viewer"):
        assert book.role_for(wrong) is None
    assert SessionBook(None, None).has_tokens is False
    assert SessionBook(None, None).role_for("") is None


def test_sessions_expire_close_and_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    book = SessionBook("a", None, ttl=60)
    session = book.open(Role.ADMIN)
    assert book.get(session.id) == session and session.csrf != session.id
    assert book.get("not-a-session") is None and book.get(None) is None
    now = sessions.time.monotonic()
    monkeypatch.setattr(sessions.time, "monotonic", lambda: now + 61)
    assert book.get(session.id) is None  # expired

    monkeypatch.setattr(sessions, "MAX_SESSIONS", 3)
    opened = [book.open(Role.VIEWER) for _ in range(5)]
    assert [book.get(s.id) is not None for s in opened] == [False, False, True, True, True]
    book.close(opened[-1].id)
    assert book.get(opened[-1].id) is None


def test_amounts_are_exact_and_bars_are_capped() -> None:
    assert present.amount_text(LimitKind.COST_DAILY, 2_500_000_001) == "$2.500000001"
    assert present.amount_text(LimitKind.REQUESTS_PER_MINUTE, 12345) == "12,345"
    assert present.fill_percent(8, 10) == 80 and present.fill_percent(30, 10) == 100
    assert present.fill_percent(0, 0) == 0 and present.fill_percent(1, 0) == 100
    assert [present.fill_class(u, 100) for u in (79, 80, 99, 100, 150)] == [
        "ok", "warn", "warn", "full", "full",
    ]  # fmt: skip


def test_times_say_when_and_how_far() -> None:
    now = datetime(2026, 12, 1, 22, 30, tzinfo=UTC)
    assert present.when_text(None, now) == "-"
    later = now + timedelta(hours=1, minutes=30)
    assert present.when_text(later, now) == "2026-12-02 00:00 UTC (in 1h 30m)"
    assert present.when_text(now - timedelta(days=2, hours=3), now).endswith("(2d 3h ago)")
