"""Process settings from the environment; only entry points build them (with ``load``).

A validation error names the variable and the problem, never the value: pydantic's own
message quotes the input (``input_value='…'``), which printed the end of a secret.
"""

from __future__ import annotations

import base64
import binascii
from typing import TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from acs import parse_connection_string
from codec import ENV_VAR as PAYLOAD_KEYS_VAR
from codec import PayloadKeys
from contracts.callback_hosts import ENV_VAR as CALLBACK_HOSTS_VAR
from contracts.callback_hosts import CallbackHosts
from contracts.task_queues import TASK_QUEUE
from logconfig import LOG_LEVEL_VAR, parse_log_level

__all__ = ["IngressSettings", "Settings", "SettingsError", "load"]

S = TypeVar("S", bound=BaseSettings)


class SettingsError(Exception):
    """The environment is not a valid configuration; one line per problem, no values."""


def load(kind: type[S]) -> S:
    """Build settings from the environment, or raise ``SettingsError`` without any value."""
    try:
        return kind()
    except ValidationError as error:
        problems = []
        for item in error.errors(include_input=False, include_url=False):
            where = ".".join(str(part) for part in item["loc"])
            message = item["msg"].removeprefix("Value error, ")
            problems.append(f"{where.upper()}: {message}" if where else message)
        raise SettingsError("; ".join(problems)) from None


class _Common(BaseSettings):
    """What the worker and the ingress both read."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    task_queue: str = Field(TASK_QUEUE, alias="NUMBERFLOW_TASK_QUEUE")
    callback_allowed_hosts: str | None = Field(None, alias=CALLBACK_HOSTS_VAR)
    """Where ticket callbacks may go (``contracts.callback_hosts``); unset: no callbacks."""
    payload_keys: SecretStr | None = Field(None, alias=PAYLOAD_KEYS_VAR)
    """Encrypt Temporal payloads (``codec``); unset: payloads are stored as they are."""
    log_level: str = Field("INFO", alias=LOG_LEVEL_VAR)
    log_json: bool | None = Field(None, alias="NUMBERFLOW_LOG_JSON")
    """JSON logs; by default JSON unless stderr is a terminal."""

    @field_validator("log_level")
    @classmethod
    def _valid_level(cls, value: str) -> str:
        return parse_log_level(value)

    @field_validator("callback_allowed_hosts")
    @classmethod
    def _valid_hosts(cls, value: str | None) -> str | None:
        CallbackHosts.parse(value)
        return value

    @field_validator("payload_keys")
    @classmethod
    def _valid_keys(cls, value: SecretStr | None) -> SecretStr | None:
        PayloadKeys.parse(value.get_secret_value() if value else None)
        return value

    def callback_hosts(self) -> CallbackHosts:
        """The parsed callback allow-list."""
        return CallbackHosts.parse(self.callback_allowed_hosts)

    def keys(self) -> PayloadKeys | None:
        """The payload keys, or None when payloads are not encrypted."""
        return PayloadKeys.parse(
            self.payload_keys.get_secret_value() if self.payload_keys else None
        )


class Settings(_Common):
    """The worker's configuration.

    ACS is reached with either ``ACS_CONNECTION_STRING`` (HMAC access key) or ``ACS_ENDPOINT``
    (Microsoft Entra ID through ``DefaultAzureCredential``). Temporal is configured the
    standard way (``TEMPORAL_ADDRESS``, ``TEMPORAL_NAMESPACE``, ``TEMPORAL_API_KEY``,
    ``TEMPORAL_TLS_*``, ``TEMPORAL_PROFILE``), read by temporalio's envconfig.
    """

    acs_connection_string: SecretStr | None = None
    acs_endpoint: str | None = None
    callback_secret: SecretStr | None = Field(None, alias="NUMBERFLOW_CALLBACK_SECRET")
    """Signs ticket callbacks; without it, callbacks are not sent (the status says so)."""
    metrics_address: str | None = Field(
        None, alias="NUMBERFLOW_METRICS_ADDRESS", pattern=r"^[A-Za-z0-9.\-\[\]:]+:\d{1,5}$"
    )
    """``host:port`` of ``/metrics``, ``/healthz`` and ``/readyz``; unset: no endpoint."""
    metrics_prefix: str | None = Field(None, alias="NUMBERFLOW_METRICS_PREFIX")
    """Prefix of the Temporal SDK's metric names (the SDK's default: ``temporal_``)."""
    stage_count_seconds: float = Field(
        30.0, alias="NUMBERFLOW_STAGE_COUNT_SECONDS", gt=0.1, le=3600
    )
    """How often the sagas waiting for a person are counted for the metrics endpoint."""

    @field_validator("acs_connection_string")
    @classmethod
    def _valid_connection_string(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        try:
            _, key = parse_connection_string(value.get_secret_value())
            base64.b64decode(key, validate=True)
        except (ValueError, binascii.Error):
            # The parser's own message may quote a piece of the string: never repeat it.
            raise ValueError(
                "must be endpoint=https://<resource>.communication.azure.com;accesskey=<base64>"
            ) from None
        return value

    @model_validator(mode="after")
    def _one_acs_credential(self) -> Settings:
        if (self.acs_connection_string is None) == (self.acs_endpoint is None):
            raise ValueError("set exactly one of ACS_CONNECTION_STRING or ACS_ENDPOINT")
        return self


class IngressSettings(_Common):
    """The ingress's configuration: webhook secrets and status tokens (comma-separated)."""

    webhook_secrets: SecretStr = Field(alias="NUMBERFLOW_WEBHOOK_SECRETS")
    """Accepted webhook signing secrets, newest first (several during a rotation)."""
    status_tokens: SecretStr | None = Field(None, alias="NUMBERFLOW_STATUS_TOKENS")
    """Bearer tokens for ``GET /provisionings/{id}``; unset: every status request is refused."""
    metrics_address: str | None = Field(
        None, alias="NUMBERFLOW_INGRESS_METRICS_ADDRESS", pattern=r"^[A-Za-z0-9.\-\[\]:]+:\d{1,5}$"
    )
    """``host:port`` of the ingress's ``/metrics`` (its own listener); unset: none."""

    def secrets(self) -> list[str]:
        """Every accepted webhook secret."""
        return _split(self.webhook_secrets)

    def tokens(self) -> list[str]:
        """Every accepted status token."""
        return _split(self.status_tokens)


def _split(value: SecretStr | None) -> list[str]:
    if value is None:
        return []
    return [part.strip() for part in value.get_secret_value().split(",") if part.strip()]
