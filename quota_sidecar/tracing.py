"""The tracing hooks every layer may call, and the switch that makes them free when tracing is off.

Tracing is off unless the server installs a tracer (server/tracing.py, from --otlp-endpoint or
OTEL_EXPORTER_OTLP_ENDPOINT). While it is off each hook is one check of a module global and
returns a shared no-op, so the hot path pays nothing for a feature nobody turned on: no span
objects, no context switches, no attribute dictionaries.

The hooks use only the OpenTelemetry API, never the SDK, so the store and the engine stay free
of exporter concerns; and they sit in this small module rather than in server/, since the
store (below the server in the layers) calls `store_span`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

from opentelemetry import trace

from quota_sidecar.domain.models import DenialCode, Subject

__all__ = [
    "annotate_decision",
    "annotate_subjects",
    "current_tracer",
    "install",
    "store_span",
    "uninstall",
]

# The attribute names (the quota.* ones are ours; db.* follow the semantic conventions).
SCOPES = "quota.subject.scopes"
IDENTIFIERS = "quota.subject.identifiers"
DECISION = "quota.decision"
DENIAL_CODE = "quota.denial_code"
STORE_CALL = "quota.store.call"  # the script file, or the operation's name

_NOOP = contextlib.nullcontext()
_tracer: trace.Tracer | None = None
_identifiers = False  # subject identifiers may be personal data: only when asked for


def install(tracer: trace.Tracer, *, identifiers: bool = False) -> None:
    """Turn the hooks on: spans come from `tracer`; `identifiers` adds the subjects' ids."""
    global _tracer, _identifiers
    _tracer, _identifiers = tracer, identifiers


def uninstall() -> None:
    """Turn the hooks off again (the server's stop)."""
    global _tracer, _identifiers
    _tracer, _identifiers = None, False


def current_tracer() -> trace.Tracer | None:
    """The installed tracer, or None while tracing is off."""
    return _tracer


def store_span(name: str, *, script: bool = True) -> contextlib.AbstractContextManager[Any]:
    """A client span around one call to Redis (a Lua script by default, else a command or
    pipeline the engine built), child of the RPC's span. Only inside a traced call: the store
    work of a background task (sweeper, spool replay) starts no trace of its own."""
    tracer = _tracer
    if tracer is None or not trace.get_current_span().is_recording():
        return _NOOP
    if name.startswith("<"):  # "<lambda>": an engine's one-off command
        name = "command"
    attributes: dict[str, str] = {"db.system.name": "redis", STORE_CALL: name}
    if script:
        attributes["db.operation.name"] = "EVALSHA"
    return tracer.start_as_current_span(
        f"EVALSHA {name}" if script else f"redis {name}",
        kind=trace.SpanKind.CLIENT,
        attributes=attributes,
    )


def annotate_subjects(subjects: Iterable[Subject]) -> None:
    """Put the call's subjects on the current (RPC) span: their scopes always, their
    identifiers only when enabled."""
    if _tracer is None:
        return
    span = trace.get_current_span()
    if not span.is_recording():
        return
    listed = list(subjects)
    span.set_attribute(SCOPES, [s.scope.value for s in listed])
    if _identifiers:
        span.set_attribute(IDENTIFIERS, [s.identifier for s in listed])


def annotate_decision(allowed: bool, code: DenialCode | None) -> None:
    """Put a check's decision (allowed/denied) and its denial code on the current span."""
    if _tracer is None:
        return
    span = trace.get_current_span()
    if not span.is_recording():
        return
    span.set_attribute(DECISION, "allowed" if allowed else "denied")
    if code is not None:
        span.set_attribute(DENIAL_CODE, code.value)
