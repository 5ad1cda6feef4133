"""Reservation ids. An id names its hold and the subjects holding it, so a hold can be
released by id alone (`release_reservation(id)`) without an index key on another slot:

    r1.<16 hex hold id>.<base64url of "scope:identifier" lines>
    rr.<16 hex>.<base64url of the subjects>      a reservation on a run

A reservation on a run keeps its subjects in its hold id too (the hold id is then
"<16 hex>.<base64url>", the id without "rr."), so that ending a run can find, from the holds
of the run alone, every subject each of them holds on (the user's, the tool's, the runs
below it) and release them all (engine/run_control.py).
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Sequence

from quota_sidecar.domain.errors import InvalidInput
from quota_sidecar.domain.models import QuotaScope, Subject

__all__ = ["decode_reservation", "encode_reservation", "hold_subjects", "new_hold_id"]

_PREFIX = "r1"
_RUN_PREFIX = "rr"
_FIELD = "reservation_id"


def new_hold_id(subjects: Sequence[Subject] = ()) -> str:
    """A fresh hold id; with a run among `subjects`, one that names them (see above)."""
    token = secrets.token_hex(8)
    if any(s.scope is QuotaScope.RUN for s in subjects):
        return f"{token}.{_names(subjects)}"
    return token


def _names(subjects: Sequence[Subject]) -> str:
    names = "\n".join(str(s) for s in subjects).encode()
    return base64.urlsafe_b64encode(names).decode().rstrip("=")


def encode_reservation(hold_id: str, subjects: Sequence[Subject]) -> str:
    if "." in hold_id:  # a run's: the hold id names the subjects already
        return f"{_RUN_PREFIX}.{hold_id}"
    return f"{_PREFIX}.{hold_id}.{_names(subjects)}"


def decode_reservation(reservation_id: str) -> tuple[str, list[Subject]]:
    """(hold id, subjects), or InvalidInput naming reservation_id."""
    parts = reservation_id.split(".")
    if len(parts) != 3 or parts[0] not in (_PREFIX, _RUN_PREFIX) or len(parts[1]) != 16:
        raise InvalidInput(_FIELD, "is not a reservation id this server issued")
    try:
        int(parts[1], 16)
        subjects = _decode_names(parts[2])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput(_FIELD, "is not a reservation id this server issued") from None
    if not subjects:
        raise InvalidInput(_FIELD, "names no subjects")
    hold_id = parts[1] if parts[0] == _PREFIX else f"{parts[1]}.{parts[2]}"
    return hold_id, subjects


def hold_subjects(hold_id: str) -> list[Subject] | None:
    """The subjects a run's hold id names; None for a hold id that names none (or is not
    one this server wrote)."""
    token, _, encoded = hold_id.partition(".")
    if not encoded or len(token) != 16:
        return None
    try:
        return _decode_names(encoded) or None
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None


def _decode_names(encoded: str) -> list[Subject]:
    padded = encoded + "=" * (-len(encoded) % 4)
    names = base64.urlsafe_b64decode(padded.encode()).decode()
    return [Subject.parse(name, _FIELD) for name in names.split("\n")]
