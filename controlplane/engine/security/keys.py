"""API key secrets: made from the OS's randomness, shown once, kept only as a salted scrypt
digest, compared in constant time.

A key reads `ork_<key id>_<secret>`: the id finds its row without trying every digest, the
secret is 256 random bits.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

PREFIX = "ork"
# scrypt at n=2^14, r=8 costs ~16 MiB and tens of milliseconds: dear for a guesser, and paid
# once per key by the server, which remembers keys it verified.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32, "maxmem": 64 * 2**20}
_TOKEN = re.compile(r"^ork_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class NewKey:
    key_id: str
    token: str  # what the client sends
    salt: bytes
    digest: bytes


def digest_of(secret: str, salt: bytes) -> bytes:
    return hashlib.scrypt(secret.encode(), salt=salt, **_SCRYPT)


def new_key() -> NewKey:
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_bytes(16)
    return NewKey(key_id, f"{PREFIX}_{key_id}_{secret}", salt, digest_of(secret, salt))


def split_token(token: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed key, else None."""
    match = _TOKEN.match(token)
    return (match.group(1), match.group(2)) if match else None


def matches(secret: str, salt: bytes, digest: bytes) -> bool:
    return hmac.compare_digest(digest_of(secret, salt), digest)
