"""Scope defaults: one quota for every identifier of a scope that has none of its own.

A default is stored as a quota whose identifier is "*" (`user:*`, every user) or "*@<tenant>"
(`user:*@acme`, every user named in a call together with `tenant:acme`), through the same
put/delete as any quota (so GetQuota, ListQuotas, the audit log and the quota file treat it
alike). What the scripts read is a copy in a defaults hash: `qs:dflt` on a single Redis; on
Redis Cluster one copy per slot (`qs:{<slot tag>}:dflt`), written to all 16384 slots before the
admin call returns (store/scope_defaults.py). A copy holds the default's version and JSON, so an
identifier under a default costs nothing per identifier until it is used.

Resolution for a subject without a document of its own, in order: its tenant's default, then
its scope's. The plan carries the versions of the defaults it looked at ("<own>|user:*@acme=0|
user:*=7"), and the script compares them on the subject's own slot in one HMGET (_lib.lua's
`stale()`): a default created, changed or removed binds every identifier on the next call, on
every replica, and nothing is copied per identifier.

The tenant of a call: the identifier of its one `tenant:` subject (as for run templates, see
engine/runs.py). A caller cannot choose a generous tenant without being counted under it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from quota_sidecar.domain.models import (
    DEFAULT_ALL,
    DEFAULT_SCOPES,
    DEFAULT_TENANT_MARK,
    QuotaConfig,
    QuotaScope,
    Subject,
    check_default,
    is_default,
)
from quota_sidecar.store.config_codec import config_from_json
from quota_sidecar.store.keys import default_field
from quota_sidecar.store.scope_defaults import StoredDefault

__all__ = [
    "DEFAULT_SCOPES",
    "DefaultLookup",
    "check_default",
    "default_lookup",
    "has_tenant_default",
    "is_default",
    "resolve_default",
    "tenant_of",
]


def tenant_of(subjects: Sequence[Subject]) -> str:
    """The tenant a call names: its one `tenant:` subject ("" for none, or for several)."""
    tenants = {s.identifier for s in subjects if s.scope is QuotaScope.TENANT}
    return next(iter(tenants)) if len(tenants) == 1 else ""


@dataclass(frozen=True, slots=True)
class DefaultLookup:
    """The defaults that can decide a subject's quota, most specific first."""

    names: tuple[Subject, ...]


def has_tenant_default(subject: Subject) -> bool:
    """Whether a tenant's default can decide the subject's quota."""
    return (
        subject.scope in DEFAULT_SCOPES
        and subject.scope is not QuotaScope.TENANT
        and not is_default(subject)
    )


def default_lookup(subject: Subject, tenant: str) -> DefaultLookup | None:
    """What a subject without its own quota looks up (None: its scope has no defaults)."""
    if subject.scope not in DEFAULT_SCOPES or is_default(subject):
        return None
    names = [Subject(subject.scope, DEFAULT_ALL)]
    if tenant and has_tenant_default(subject):
        names.insert(0, Subject(subject.scope, DEFAULT_TENANT_MARK + tenant))
    return DefaultLookup(tuple(names))


@dataclass(frozen=True, slots=True)
class ResolvedDefault:
    """The default a subject follows (config None: none applies) and the version text the
    script verifies: "|<field>=<version>" for every default looked at."""

    config: QuotaConfig | None
    name: Subject | None
    versions: str


def resolve_default(
    subject: Subject, lookup: DefaultLookup, stored: Sequence[StoredDefault]
) -> ResolvedDefault:
    """The first default with a document, from the copies of `lookup.names` as read; the
    defaults before it are verified too (one created later must take over)."""
    parts = []
    for name, copy in zip(lookup.names, stored, strict=True):
        parts.append(f"|{default_field(name)}={copy.version}")
        if copy.document:
            found = config_from_json(copy.document, int(copy.version), 0)
            config = dataclasses.replace(found, identifier=subject.identifier, updated_at=None)
            return ResolvedDefault(config, name, "".join(parts))
    return ResolvedDefault(None, None, "".join(parts))
