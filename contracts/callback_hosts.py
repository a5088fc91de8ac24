"""Where ticket callbacks may go: the allow-list of ``NUMBERFLOW_CALLBACK_ALLOWED_HOSTS``.

A callback is an outbound POST on a ticket's say-so, so without a rule it is a server-side
request forgery: loopback admin endpoints, the cloud metadata address, the private network.
The rule, read by the ingress (which refuses what it can decide at once) and the worker
(which decides the rest when it connects):

* entries are comma-separated ``[http://|https://]host[:port]``; ``host`` is a name, a
  ``*.``-prefixed wildcard (any subdomain, not the apex) or an IP address (IPv6 in brackets);
* an entry without a scheme allows https only; ``http://`` allows plain http to that entry;
  an entry without a port allows any port;
* whatever the name, the address it resolves to must be public: loopback, link-local,
  private, multicast, reserved and unspecified addresses are refused unless an entry names
  that very address (and port, if it gives one). The worker checks the address it connects
  to, so DNS rebinding does not get around the rule;
* no entries: no callbacks at all.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["ENV_VAR", "NO_CALLBACKS", "CallbackHosts", "CallbackRefused"]

ENV_VAR = "NUMBERFLOW_CALLBACK_ALLOWED_HOSTS"
_DEFAULT_PORTS = {"http": 80, "https": 443}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class CallbackRefused(ValueError):
    """The callback URL, or the address it resolves to, is not allowed; says why in one line."""


def is_public(address: IPAddress) -> bool:
    """Whether an address may be reached without an entry naming it."""
    return address.is_global and not address.is_multicast


def _as_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


@dataclass(frozen=True)
class _Entry:
    scheme: str
    host: str
    """Lower-case name, ``*.suffix`` wildcard, or the text of an IP address."""
    port: int | None

    @classmethod
    def parse(cls, text: str) -> _Entry:
        scheme = "https"
        rest = text
        if "://" in text:
            scheme, _, rest = text.partition("://")
            scheme = scheme.lower()
            if scheme not in _DEFAULT_PORTS:
                raise ValueError(f"{ENV_VAR}: {text!r} has a scheme other than http or https")
        if not rest or "/" in rest or "@" in rest:
            raise ValueError(f"{ENV_VAR}: {text!r} is not [http://|https://]host[:port]")
        parts = urlsplit(f"//{rest}")
        try:
            port = parts.port
        except ValueError:
            raise ValueError(f"{ENV_VAR}: {text!r} has an invalid port") from None
        host = (parts.hostname or "").lower()
        if not host or (host.startswith("*") and not host.startswith("*.")):
            raise ValueError(f"{ENV_VAR}: {text!r} has no valid host")
        address = _as_address(host)
        return cls(scheme, str(address) if address else host, port)

    def allows_host(self, scheme: str, host: str, port: int) -> bool:
        if scheme != self.scheme or (self.port is not None and port != self.port):
            return False
        if self.host.startswith("*."):
            return host.endswith(self.host[1:]) and host != self.host[2:]
        return host == self.host


@dataclass(frozen=True)
class CallbackHosts:
    """The parsed allow-list; ``CallbackHosts.parse(os.environ.get(ENV_VAR))``."""

    entries: tuple[_Entry, ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> CallbackHosts:
        """Parse the comma-separated entries; a malformed entry raises ``ValueError``."""
        return cls.of(part for part in (text or "").split(","))

    @classmethod
    def of(cls, entries: Iterable[str]) -> CallbackHosts:
        """Build from entries given one by one (empty ones are skipped)."""
        return cls(tuple(_Entry.parse(e.strip()) for e in entries if e.strip()))

    def __bool__(self) -> bool:
        return bool(self.entries)

    def check_url(self, url: str) -> tuple[str, str, int]:
        """Refuse what the URL alone decides; return its scheme, host and port.

        A name that passes still has its resolved address checked by ``check_address``.
        """
        if not self.entries:
            raise CallbackRefused(f"callbacks are disabled: {ENV_VAR} is not set")
        parts = urlsplit(url)
        scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
        if scheme not in _DEFAULT_PORTS or not host:
            raise CallbackRefused("only http and https callback URLs with a host are allowed")
        try:
            port = parts.port or _DEFAULT_PORTS[scheme]
        except ValueError:
            raise CallbackRefused("the callback URL has an invalid port") from None
        address = _as_address(host)
        if address is not None:
            host = str(address)
        if not any(entry.allows_host(scheme, host, port) for entry in self.entries):
            raise CallbackRefused(f"{scheme}://{_display(host)}:{port} is not in {ENV_VAR}")
        if address is not None:
            self.check_address(scheme, address, port)
        return scheme, host, port

    def check_address(self, scheme: str, address: IPAddress, port: int) -> None:
        """Refuse a non-public address no entry names (the connect-time half of the rule)."""
        if is_public(address):
            return
        if not any(entry.allows_host(scheme, str(address), port) for entry in self.entries):
            raise CallbackRefused(
                f"{_display(str(address))} is a {_kind(address)} address and no entry of "
                f"{ENV_VAR} names it"
            )


def _display(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _kind(address: IPAddress) -> str:
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_unspecified:
        return "unspecified"
    if address.is_private:
        return "private"
    return "reserved"


NO_CALLBACKS = CallbackHosts()
"""The empty allow-list (the setting unset): every callback URL is refused."""
