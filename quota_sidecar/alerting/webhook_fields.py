"""The keys of the quota file's `webhooks:` entries, as data: webhook.py accepts exactly these
(`SECTION.names`) and docs/reference/quota-file.md lists them (scripts/gen_reference.py)."""

from __future__ import annotations

from quota_sidecar.domain.file_schema import FileField, FileSection

__all__ = ["WEBHOOK_FILTERS_SECTION", "WEBHOOK_SECTION"]

WEBHOOK_SECTION = FileSection(
    "webhooks[]",
    "One webhook: each alert is POSTed once per webhook across every replica (at least once), "
    "signed with HMAC-SHA256 in `X-Quota-Sidecar-Signature`. Give `secret` or `secret_env`.",
    (
        FileField("url", "`http://` or `https://` URL", "where alerts are POSTed", required=True),
        FileField("name", "1-64 of letters, digits, `_`, `.`, `-`",
                  "the delivery's identity across replicas", default="from the URL"),
        FileField("secret", "text", "the signing secret"),
        FileField("secret_env", "environment variable name", "the variable holding the secret"),
        FileField("filters", "mapping", "which alerts go to this webhook",
                  default="every alert", section="webhooks[].filters"),
        FileField("timeout", "seconds", "the longest one POST may take", default="`5`"),
        FileField("max_attempts", "whole number 1-100", "POSTs per round", default="`5`"),
        FileField("backoff", "seconds", "the first wait between POSTs of a round, then doubling",
                  default="`0.5`"),
        FileField("retry_after", "seconds", "when any replica retries an alert that failed "
                  "its round", default="`60`"),
    ),
)  # fmt: skip

WEBHOOK_FILTERS_SECTION = FileSection(
    "webhooks[].filters",
    "Every filter given must match; an absent one matches every alert.",
    (
        FileField("kinds", "list of alert kinds", "for example `[THRESHOLD_WARNING, EXHAUSTED]`"),
        FileField("min_severity", "`INFO`, `WARNING` or `CRITICAL`", "the least severity"),
        FileField("scopes", "list of scopes", "only alerts of subjects in these scopes"),
        FileField("identifiers", "list of identifiers", "only alerts of these identifiers"),
    ),
)
