"""The model as a subject: a call that names a provider and a model is also checked and charged
against the quota of `model:<provider>/<model>`, when one is configured, in the same atomic
script as its other subjects. A caller opts out per call with `skip_model_subject`.
"""

from __future__ import annotations

from collections.abc import Sequence

from quota_sidecar.engine.configs import ConfigRepository
from quota_sidecar.engine.validation import MAX_SUBJECTS, check_label
from quota_sidecar.errors import InvalidInput
from quota_sidecar.models import QuotaScope, Subject

__all__ = ["model_name", "with_model_subject"]


def model_name(provider: str, model: str) -> str:
    """ "provider/model" for the breakdown and the model subject; "" without a model."""
    check_label(model, "model")
    if not model:
        return ""
    if not provider:
        raise InvalidInput("provider", "is required with a model (the model is the provider's)")
    return f"{provider}/{model}"


async def with_model_subject(
    configs: ConfigRepository,
    subjects: Sequence[Subject],
    name: str,
    *,
    timeout: float | None = None,
) -> list[Subject]:
    """`subjects`, plus the model's subject when it has a quota and is not named already."""
    targets = list(subjects)
    if not name:
        return targets
    subject = Subject(QuotaScope.MODEL, name)
    if subject in targets:
        return targets
    (cached,) = await configs.get_many([subject], timeout=timeout)
    if cached.config is None:
        return targets
    if len(targets) >= MAX_SUBJECTS:
        raise InvalidInput(
            "subjects", f"at most {MAX_SUBJECTS - 1} subjects when {subject} has a quota"
        )
    return [*targets, subject]
