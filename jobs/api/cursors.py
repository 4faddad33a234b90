"""Opaque page cursors of the API's lists: the last row's sort key, base64url JSON."""

import base64
import binascii
import json
from datetime import datetime

from fastapi import HTTPException


def encode_cursor(parts: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")


def bad_cursor() -> HTTPException:
    return HTTPException(
        422,
        [
            {
                "loc": ["query", "cursor"],
                "type": "value_error",
                "msg": "not a cursor returned by this API",
            }
        ],
    )


def decode_cursor(cursor: str, size: int) -> list:
    try:
        parts = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise bad_cursor() from None
    if isinstance(parts, list) and len(parts) == size and all(isinstance(p, str) for p in parts):
        return parts
    raise bad_cursor()


def job_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    """A GET /v1/jobs cursor: (created_at, id) of the last job of the previous page."""
    if cursor is None:
        return None
    created, job_id = decode_cursor(cursor, 2)
    try:
        return datetime.fromisoformat(created), job_id
    except ValueError:
        raise bad_cursor() from None
