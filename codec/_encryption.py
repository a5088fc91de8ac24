"""AES-256-GCM payload encryption: what makes a history unreadable without the key.

The whole ``Payload`` (its metadata too, which names the Python type) is serialised and
encrypted with a fresh 96-bit nonce; the result carries only the encoding marker and the key
id. Payloads without the marker (histories from before encryption was turned on) pass
through untouched, so old histories still replay.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from ._keys import ENV_VAR, PayloadKeys

__all__ = ["ENCODING", "EncryptionCodec", "KEY_ID_METADATA", "PayloadDecryptionError"]

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
_NONCE_BYTES = 12


class PayloadDecryptionError(Exception):
    """A payload names a key that is not configured, or does not authenticate with it."""


class EncryptionCodec(PayloadCodec):
    """Encrypt with the current key; decrypt with the key each payload names."""

    def __init__(self, keys: PayloadKeys) -> None:
        key_id, key = keys.current
        self._key_id = key_id.encode()
        self._cipher = AESGCM(key)
        self._ciphers = {known: AESGCM(k) for known, k in keys.entries}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Encrypt every payload."""
        return [self._encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Decrypt the encrypted payloads; pass the others through."""
        return [self._decrypt(p) for p in payloads]

    def _encrypt(self, payload: Payload) -> Payload:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._cipher.encrypt(nonce, payload.SerializeToString(), self._key_id)
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID_METADATA: self._key_id}, data=nonce + sealed
        )

    def _decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        key_id = payload.metadata.get(KEY_ID_METADATA, b"").decode()
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise PayloadDecryptionError(
                f"a payload is encrypted with key {key_id!r}, which is not in {ENV_VAR}"
            )
        nonce, sealed = payload.data[:_NONCE_BYTES], payload.data[_NONCE_BYTES:]
        try:
            plain = cipher.decrypt(nonce, sealed, key_id.encode())
        except InvalidTag:
            raise PayloadDecryptionError(
                f"a payload does not authenticate with key {key_id!r}"
            ) from None
        decoded = Payload()
        decoded.ParseFromString(plain)
        return decoded
