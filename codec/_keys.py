"""The payload keys of ``NUMBERFLOW_PAYLOAD_KEYS``: ``id:base64key`` entries, newest first.

Several keys exist during a rotation: payloads are encrypted with the first and decrypted
with whichever key id they name, so old histories stay readable until they are gone.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import dataclass, field

__all__ = ["ENV_VAR", "PayloadKeys", "new_key_entry"]

ENV_VAR = "NUMBERFLOW_PAYLOAD_KEYS"
KEY_BYTES = 32
"""AES-256."""
_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def new_key_entry(key_id: str) -> str:
    """A fresh ``id:base64key`` entry (``numberflow dev --encrypt``, tests, key rotation)."""
    return f"{key_id}:{base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()}"


@dataclass(frozen=True)
class PayloadKeys:
    """Key ids and keys; the first encrypts. Its repr never shows a key."""

    entries: tuple[tuple[str, bytes], ...] = field(repr=False)

    @classmethod
    def parse(cls, text: str | None) -> PayloadKeys | None:
        """Parse the setting; None when it is unset or blank. Errors never quote a key."""
        if not text or not text.strip():
            return None
        entries: list[tuple[str, bytes]] = []
        for position, part in enumerate(p.strip() for p in text.split(",") if p.strip()):
            key_id, colon, encoded = part.partition(":")
            if not colon or not _KEY_ID.fullmatch(key_id):
                raise ValueError(f"entry {position + 1} is not id:base64key")
            try:
                key = base64.b64decode(encoded, validate=True)
            except binascii.Error:
                raise ValueError(f"key {key_id!r} is not base64") from None
            if len(key) != KEY_BYTES:
                raise ValueError(f"key {key_id!r} must be {KEY_BYTES} bytes (AES-256)")
            if any(key_id == known for known, _ in entries):
                raise ValueError(f"key id {key_id!r} appears twice")
            entries.append((key_id, key))
        return cls(tuple(entries))

    @property
    def current(self) -> tuple[str, bytes]:
        """The key new payloads are encrypted with."""
        return self.entries[0]

    def get(self, key_id: str) -> bytes | None:
        """The key with this id, if it is configured."""
        return next((key for known, key in self.entries if known == key_id), None)
