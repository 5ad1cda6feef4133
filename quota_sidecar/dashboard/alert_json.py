"""An alert as the page's script receives it (rendered into the page, then sent live)."""

from __future__ import annotations

from typing import Any

from quota_sidecar.dashboard.present import amount_text, limit_label, subject_text
from quota_sidecar.domain.results import Alert

__all__ = ["alert_json"]


def alert_json(alert: Alert) -> dict[str, Any]:
    amounts = ""
    if alert.limit is not None and alert.limit_value:
        amounts = (
            f"{amount_text(alert.limit, alert.used)} of "
            f"{amount_text(alert.limit, alert.limit_value)} ({limit_label(alert.limit)})"
        )
    return {
        "id": alert.id,
        "kind": alert.kind.value,
        "severity": alert.severity.value,
        "scope": alert.subject.scope.value,
        "identifier": alert.subject.identifier,
        "subject": subject_text(alert.subject),
        "time": alert.time.isoformat(),
        "percent": alert.threshold_percent,
        "amounts": amounts,
        "message": alert.message,
    }
