"""The model as a subject: a call that names a provider and a model is also checked and charged
against the quota of `model:<provider>/<model>`, when one is configured, in the same atomic
script as its other subjects. A caller opts out per call with `skip_model_subject`.

A provider and a model are labels (printable, at most 128 characters each, spaces allowed:
"Azure OpenAI"), but a subject's identifier is stricter (no whitespace, at most 128
characters). When "<provider>/<model>" cannot be an identifier, no quota can exist for it
(PutQuota and the quota file refuse that identifier), so the model subject is skipped: the call
is checked and counted on its own subjects, with the provider and the model in the breakdown,
and nothing is refused on behalf of a subject the caller never named.
"""

from __future__ import annotations

from collections.abc import Sequence

from quota_sidecar.domain.errors import InvalidInput, StoreUnavailable
from quota_sidecar.domain.models import QuotaScope, Subject
from quota_sidecar.domain.validation import MAX_SUBJECTS
from quota_sidecar.engine.configs import ConfigRepository
from quota_sidecar.engine.defaults import tenant_of

__all__ = ["model_subject", "with_model_subject"]


def model_subject(name: str) -> Subject | None:
    """`model:<provider>/<model>`, or None without a model or when the name cannot be an
    identifier (a space, or too long together): such a model can have no quota."""
    if not name:
        return None
    try:
        return Subject(QuotaScope.MODEL, name)
    except InvalidInput:
        return None


async def with_model_subject(
    configs: ConfigRepository,
    subjects: Sequence[Subject],
    name: str,
    *,
    include_if_unknown: bool,
    timeout: float | None = None,
) -> list[Subject]:
    """`subjects`, plus the model's subject when it has a quota and is not named already.

    With the store unreachable and the model's quota not cached, `include_if_unknown` decides:
    a record includes it (it is spooled, and a subject without a quota just counts), a check
    leaves it out (an unknown subject would deny the check by the failure modes)."""
    targets = list(subjects)
    subject = model_subject(name)
    if subject is None or subject in targets:
        return targets
    tenant = tenant_of(subjects)  # a tenant's model default applies to its calls
    try:
        (cached,) = await configs.get_many([subject], timeout=timeout, tenant=tenant)
        known = cached.config is not None
    except StoreUnavailable:
        entry = configs.cached(subject, tenant) or configs.under_known_default(subject, tenant)
        known = entry.config is not None if entry is not None else include_if_unknown
    if not known:
        return targets
    if len(targets) >= MAX_SUBJECTS:
        raise InvalidInput(
            "subjects", f"at most {MAX_SUBJECTS - 1} subjects when {subject} has a quota"
        )
    return [*targets, subject]
