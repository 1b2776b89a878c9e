"""Turns a call's credentials into its Caller: an API key (verified against its stored digest
once, then remembered until revoked) or a mutual-TLS certificate subject (with the role
bindings granted to it)."""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict

from controlplane.engine.security import keys
from controlplane.store.credentials import CredentialStore
from models.errors import Unauthenticated
from models.security import Caller, CallerKind, RoleBinding

# Verified keys remembered (by a fast digest of the whole token), so scrypt runs once per key.
MAX_REMEMBERED_KEYS = 10_000


class Authenticator:
    def __init__(self, credentials: CredentialStore) -> None:
        self._credentials = credentials
        self._verified: OrderedDict[str, tuple[str, Caller]] = OrderedDict()
        self._subject_bindings: dict[str, tuple[RoleBinding, ...]] | None = None

    async def by_key(self, token: str) -> Caller:
        """The caller an API key names; Unauthenticated for an unknown, revoked or malformed
        key (the message never says which)."""
        fingerprint = hashlib.sha256(token.encode()).hexdigest()
        remembered = self._verified.get(fingerprint)
        if remembered is not None:
            self._verified.move_to_end(fingerprint)
            return remembered[1]
        parts = keys.split_token(token)
        if parts is None:
            raise Unauthenticated("the API key is not valid")
        key_id, secret = parts
        found = await asyncio.to_thread(self._credentials.key_secret, key_id)
        if found is None or found[0].revoke_time is not None:
            raise Unauthenticated("the API key is not valid")
        info, salt, digest = found
        if not await asyncio.to_thread(keys.matches, secret, salt, digest):
            raise Unauthenticated("the API key is not valid")
        caller = Caller(
            identity=f"key:{info.name}",
            kind=CallerKind.API_KEY,
            bindings=(RoleBinding(info.namespace, info.role),),
        )
        self._verified[fingerprint] = (key_id, caller)
        if len(self._verified) > MAX_REMEMBERED_KEYS:
            self._verified.popitem(last=False)
        return caller

    def by_subject(self, subject: str) -> Caller:
        """The caller a verified client certificate names, with the roles granted to it
        (none: it may call nothing but WhoAmI)."""
        if self._subject_bindings is None:
            granted: dict[str, list[RoleBinding]] = {}
            for who, binding in self._credentials.all_bindings():
                granted.setdefault(who, []).append(binding)
            self._subject_bindings = {who: tuple(b) for who, b in granted.items()}
        return Caller(
            identity=subject,
            kind=CallerKind.CERTIFICATE,
            bindings=self._subject_bindings.get(subject, ()),
        )

    def forget_key(self, key_id: str) -> None:
        """A revoked key stops working at once."""
        for fingerprint, (remembered_id, _) in list(self._verified.items()):
            if remembered_id == key_id:
                del self._verified[fingerprint]

    def bindings_changed(self) -> None:
        self._subject_bindings = None
