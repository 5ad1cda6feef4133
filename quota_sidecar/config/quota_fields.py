"""The keys of the quota file's top level and of its `quotas:` entries, as data: quota_file.py
accepts exactly these (`SECTION.names`) and docs/reference/quota-file.md lists them
(scripts/gen_reference.py). Add a key here, with what it means, or the parser refuses it."""

from __future__ import annotations

from quota_sidecar.domain.file_schema import FileField, FileSection

__all__ = ["COST_QUOTA_SECTION", "QUOTA_SECTION", "RATE_LIMITS_SECTION", "TOP_SECTION"]

_FAILURE_MODE = "`open` or `closed`"
_COUNT = "whole number"

TOP_SECTION = FileSection(
    "(top level)",
    "The file is one mapping; every key is optional, and an empty file configures nothing.",
    (
        FileField("quotas", "list", "the quotas, one entry per subject", section="quotas[]"),
        FileField("webhooks", "list", "where alerts are POSTed", section="webhooks[]"),
        FileField(
            "prices", "list", "exact price overrides of the bundled price list", section="prices[]"
        ),
        FileField(
            "unpriced",
            "`require_cost`, `deny` or `allow_zero`",
            "what a budget without its own `cost_quota.unpriced` does with a call whose "
            "model has no price and that gave no cost",
            default="`require_cost`",
        ),
        FileField("runs", "mapping", "the limits of agent runs", section="runs"),
        FileField(
            "gateways",
            "mapping",
            "how a gateway's rate limit descriptors map to subjects",
            section="gateways",
        ),
    ),
)

QUOTA_SECTION = FileSection(
    "quotas[]",
    "One quota: the limits of one subject (`scope:identifier`). A subject appears once.",
    (
        FileField(
            "scope",
            "`user`, `tool`, `provider`, `model`, `tenant`, `global` or `run`",
            "what the quota applies to",
            required=True,
        ),
        FileField(
            "identifier",
            "text",
            "who or what, within the scope: no whitespace, at most "
            "128 characters; `provider/model` for a model; `*` makes the quota the scope's "
            "default (user, tool, provider, model, tenant): every identifier without a quota "
            "of its own gets these limits",
            required=True,
        ),
        FileField(
            "tenant",
            "tenant identifier",
            'with identifier `"*"`: the default of the identifiers named in a call together '
            "with `tenant:<tenant>` (the subject `<scope>:*@<tenant>`); not for scope tenant",
        ),
        FileField("description", "text", "a note for people", default='`""`'),
        FileField(
            "rate_limits",
            "mapping",
            "request, token and concurrency limits",
            section="quotas[].rate_limits",
        ),
        FileField(
            "cost_quota",
            "mapping",
            "budgets in dollars and their periods",
            section="quotas[].cost_quota",
        ),
        FileField(
            "alert_thresholds",
            "list of whole percents 1-99",
            "the percents of a budget or daily limit that raise a warning",
            default="`[80, 90, 95]`",
        ),
        FileField(
            "shadow_mode", "`true` or `false`", "evaluate and report, never deny", default="`false`"
        ),
        FileField(
            "lease",
            "`off` or `auto`",
            "`auto`: a replica that checks the subject often admits from exact local leases "
            "(slices of its request windows; docs/semantics.md, Leases)",
            default="`off`",
        ),
    ),
)

RATE_LIMITS_SECTION = FileSection(
    "quotas[].rate_limits",
    "Each limit is optional: absent (or null) is no limit, 0 allows nothing. Windows slide.",
    (
        FileField("requests_per_minute", _COUNT, "admitted checks in any minute"),
        FileField("requests_per_hour", _COUNT, "admitted checks in any hour"),
        FileField("requests_per_day", _COUNT, "admitted checks in any 24 hours"),
        FileField("tokens_per_minute", _COUNT, "estimated tokens of admitted checks in any minute"),
        FileField("tokens_per_day", _COUNT, "estimated tokens of admitted checks in any 24 hours"),
        FileField("max_concurrent", _COUNT, "holds (reservations) open at once"),
        FileField("requests_lifetime", _COUNT, "admitted checks ever; never resets"),
        FileField("tokens_lifetime", _COUNT, "estimated tokens ever; never resets"),
        FileField(
            "failure_mode",
            _FAILURE_MODE,
            "while Redis is unreachable: allow (`open`) or deny (`closed`)",
            default="`open`",
        ),
    ),
)

COST_QUOTA_SECTION = FileSection(
    "quotas[].cost_quota",
    "Dollars are read exactly from the YAML text (never through a float); each budget is "
    "optional (absent: no budget).",
    (
        FileField("daily_limit", "dollars", "spend per quota day"),
        FileField("monthly_limit", "dollars", "spend per quota month"),
        FileField("weekly_limit", "dollars", "spend per quota week"),
        FileField("lifetime_limit", "dollars", "spend ever (prepaid credit); never resets"),
        FileField("per_request_limit", "dollars", "the largest estimate one check may carry"),
        FileField(
            "reset_hour",
            "whole number 0-23",
            "the local hour the quota day, week and month start",
            default="`0`",
        ),
        FileField("time_zone", "IANA time zone", "the zone of `reset_hour`", default="`UTC`"),
        FileField(
            "week_start",
            "`monday` ... `sunday`",
            "the first day of the quota week",
            default="`monday`",
        ),
        FileField(
            "failure_mode",
            _FAILURE_MODE,
            "while Redis is unreachable: allow (`open`) or deny (`closed`)",
            default="`closed`",
        ),
        FileField(
            "unpriced",
            "`require_cost`, `deny` or `allow_zero`",
            "this budget's policy for a call whose model has no price",
            default="the top-level `unpriced`",
        ),
    ),
)
