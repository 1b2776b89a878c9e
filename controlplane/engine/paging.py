"""Opaque page tokens: base64 JSON bound to the list call's filter, so a token cannot be
replayed against a different query."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from models.errors import invalid

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


def page_size(requested: int) -> int:
    if requested < 0:
        raise invalid("page_size", "must not be negative")
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def _fingerprint(query: Any) -> str:
    return hashlib.sha256(json.dumps(query, sort_keys=True).encode()).hexdigest()[:16]


def encode(position: Any, query: Any) -> str:
    payload = json.dumps({"p": position, "q": _fingerprint(query)}).encode()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode(token: str, query: Any) -> Any:
    """Returns the position stored in `token`, or None for an empty token."""
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        position, fingerprint = data["p"], data["q"]
    except (ValueError, binascii.Error, KeyError, TypeError) as exc:
        raise invalid("page_token", "is not a token this server issued") from exc
    if fingerprint != _fingerprint(query):
        raise invalid("page_token", "was issued for a different query")
    return position
