"""Parse ``endpoint=...;accesskey=...`` connection strings."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["ConnectionString", "parse_connection_string"]


class ConnectionString(NamedTuple):
    """An endpoint URL (scheme kept, no trailing slash) and its base64 access key."""

    endpoint: str
    access_key: str


def parse_connection_string(connection_string: str) -> ConnectionString:
    """Split a connection string into endpoint and access key.

    Keys are case-insensitive and values are split on the first ``=`` only, because base64 keys
    end in ``=`` padding. Unlike the official SDK, an ``http://`` endpoint stays ``http://``, so
    the local emulator can be reached; an endpoint without a scheme gets ``https://``.

    Raises:
        ValueError: a part is missing or malformed.
    """
    parts: dict[str, str] = {}
    for segment in connection_string.split(";"):
        if not segment.strip():
            continue
        key, sep, value = segment.partition("=")
        if not sep:
            raise ValueError(f"connection string segment {key.strip()!r} has no '='")
        parts[key.strip().lower()] = value.strip()
    endpoint = parts.get("endpoint")
    access_key = parts.get("accesskey")
    if not endpoint or not access_key:
        raise ValueError("connection string needs both 'endpoint=' and 'accesskey='")
    if "://" not in endpoint:
        endpoint = "https://" + endpoint
    return ConnectionString(endpoint=endpoint.rstrip("/"), access_key=access_key)
