"""Reservation ids. An id names its hold and the subjects holding it, so a hold can be
released by id alone (`release_reservation(id)`) without an index key on another slot:

    r1.<16 hex hold id>.<base64url of "scope:identifier" lines>
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Sequence

from quota_sidecar.errors import InvalidInput
from quota_sidecar.models import Subject

__all__ = ["decode_reservation", "encode_reservation", "new_hold_id"]

_PREFIX = "r1"
_FIELD = "reservation_id"


def new_hold_id() -> str:
    return secrets.token_hex(8)


def encode_reservation(hold_id: str, subjects: Sequence[Subject]) -> str:
    names = "\n".join(str(s) for s in subjects).encode()
    return f"{_PREFIX}.{hold_id}.{base64.urlsafe_b64encode(names).decode().rstrip('=')}"


def decode_reservation(reservation_id: str) -> tuple[str, list[Subject]]:
    """(hold id, subjects), or InvalidInput naming reservation_id."""
    parts = reservation_id.split(".")
    if len(parts) != 3 or parts[0] != _PREFIX or len(parts[1]) != 16:
        raise InvalidInput(_FIELD, "is not a reservation id this server issued")
    hold_id, encoded = parts[1], parts[2]
    try:
        int(hold_id, 16)
        padded = encoded + "=" * (-len(encoded) % 4)
        names = base64.urlsafe_b64decode(padded.encode()).decode()
        subjects = [Subject.parse(name, _FIELD) for name in names.split("\n")]
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput(_FIELD, "is not a reservation id this server issued") from None
    if not subjects:
        raise InvalidInput(_FIELD, "names no subjects")
    return hold_id, subjects
