"""Process settings from the environment; only entry points build them (with ``load``).

A validation error names the variable and the problem, never the value: pydantic's own
message quotes the input (``input_value='…'``), which printed the end of a secret.

Every variable may also be given as a file: ``NAME_FILE=/path`` reads ``NAME`` from that file
(a Kubernetes Secret volume, a Docker secret), so secrets need not sit in the environment.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import phonenumbers
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from acs import parse_connection_string
from codec import ENV_VAR as PAYLOAD_KEYS_VAR
from codec import PayloadKeys
from contracts.callback_hosts import ENV_VAR as CALLBACK_HOSTS_VAR
from contracts.callback_hosts import CallbackHosts
from contracts.quota import QuotaLimits
from contracts.task_queues import TASK_QUEUE
from contracts.ticket_mapping import (
    JiraInbound,
    MappingError,
    ServiceNowInbound,
    TicketMapping,
    load_mapping,
)
from logconfig import LOG_LEVEL_VAR, parse_log_level

__all__ = ["IngressSettings", "Settings", "SettingsError", "load", "variable"]

FILE_SUFFIX = "_FILE"

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


def variable(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """``name`` from the environment, or read from the file ``name_FILE`` names; else None.

    Both set is an error (which one wins would be a guess); so is a file that cannot be read.
    A trailing newline (as ``kubectl create secret --from-file`` keeps) is not part of it.
    """
    environ = os.environ if environ is None else environ
    direct, path = environ.get(name), environ.get(name + FILE_SUFFIX)
    if path is None:
        return direct
    if direct is not None:
        raise SettingsError(f"set {name} or {name}{FILE_SUFFIX}, not both")
    try:
        return Path(path).read_text().rstrip("\r\n")
    except OSError as error:
        raise SettingsError(
            f"{name}{FILE_SUFFIX}: cannot read {path} ({error.strerror or error})"
        ) from None


class _FileVariables(PydanticBaseSettingsSource):
    """The settings given as ``NAME_FILE`` (see ``variable``)."""

    def get_field_value(
        self,
        field: FieldInfo,  # noqa: ARG002 - the base class's signature
        field_name: str,
    ) -> tuple[Any, str, bool]:
        """Unused: ``__call__`` reads every field at once."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            key = field.alias or name
            env_name = key.upper()
            if env_name + FILE_SUFFIX in os.environ:
                values[key] = variable(env_name)
        return values


class _Common(BaseSettings):
    """What the worker and the ingress both read."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,  # noqa: ARG003 - no .env files are read
        file_secret_settings: PydanticBaseSettingsSource,  # noqa: ARG003 - NAME_FILE instead
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The environment, then ``NAME_FILE`` files (both for one name is refused)."""
        return (init_settings, env_settings, _FileVariables(settings_cls))

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
    max_concurrent_activities: int = Field(
        100, alias="NUMBERFLOW_MAX_CONCURRENT_ACTIVITIES", ge=1, le=10_000
    )
    """Activities one worker runs at once (most wait on ACS: cheap, but each holds a slot)."""
    max_concurrent_workflow_tasks: int = Field(
        100, alias="NUMBERFLOW_MAX_CONCURRENT_WORKFLOW_TASKS", ge=2, le=10_000
    )
    """Workflow tasks one worker runs at once (CPU-bound; the SDK needs at least 2)."""
    max_cached_workflows: int = Field(1000, alias="NUMBERFLOW_MAX_CACHED_WORKFLOWS", ge=0)
    """Sagas kept in memory between tasks; more saves replays, each costs memory."""
    graceful_shutdown_seconds: float = Field(
        30.0, alias="NUMBERFLOW_GRACEFUL_SHUTDOWN_SECONDS", ge=0, le=3600
    )
    """On SIGTERM, how long running activities may finish before they are cancelled; keep the
    pod's ``terminationGracePeriodSeconds`` above it."""
    stage_count_seconds: float = Field(
        30.0, alias="NUMBERFLOW_STAGE_COUNT_SECONDS", gt=0.1, le=3600
    )
    """How often the sagas waiting for a person are counted for the metrics endpoint."""
    quota_searches: int | None = Field(None, alias="NUMBERFLOW_QUOTA_SEARCHES", ge=0)
    """Searches and browses the Azure tenant may make per window (a new tenant: 5); unset: no
    limit is kept (the keeper still learns from a refusal). Same on every worker."""
    quota_purchases: int | None = Field(None, alias="NUMBERFLOW_QUOTA_PURCHASES", ge=0)
    """Purchases the tenant may make per window (a new tenant: 1); unset: no limit kept."""
    quota_window: timedelta = Field(
        timedelta(days=7), alias="NUMBERFLOW_QUOTA_WINDOW", gt=timedelta(0)
    )
    """The limits' rolling window (seconds or ISO 8601, e.g. ``P7D``): a week, per Microsoft."""

    service_desk_release_countries: str = Field(
        "", alias="NUMBERFLOW_SERVICE_DESK_RELEASE_COUNTRIES"
    )
    """Comma-separated ISO 3166 codes (e.g. ``FR,DE``) of the countries where only Microsoft's
    service desk releases numbers: there no release calls the API; it parks for an operator,
    who asks the service desk and confirms (``numberflow confirm-released``)."""

    @field_validator("service_desk_release_countries")
    @classmethod
    def _valid_countries(cls, value: str) -> str:
        for code in _country_list(value):
            if code not in phonenumbers.SUPPORTED_REGIONS:
                raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 country code such as FR")
        return value

    def service_desk_countries(self) -> frozenset[str]:
        """The parsed list of service-desk countries."""
        return frozenset(_country_list(self.service_desk_release_countries))

    def quota_limits(self) -> QuotaLimits:
        """The tenant's limits as configured (an operator's ``quota grant`` overrides them)."""
        return QuotaLimits(
            searches=self.quota_searches, purchases=self.quota_purchases, window=self.quota_window
        )

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

    jira_webhook_secrets: SecretStr | None = Field(None, alias="NUMBERFLOW_JIRA_WEBHOOK_SECRETS")
    """Secrets of Jira's webhooks (``X-Hub-Signature``); set: ``POST /v1/tickets/jira`` is served
    (and ``NUMBERFLOW_TICKET_MAPPING`` must have a ``[jira]`` section)."""
    ticket_mapping: Path | None = Field(None, alias="NUMBERFLOW_TICKET_MAPPING")
    """The TOML file mapping tickets to numberflow's events (``deploy/tickets/``)."""
    ticket_max_age_seconds: float = Field(600.0, alias="NUMBERFLOW_TICKET_MAX_AGE_SECONDS", gt=0)
    """A ticket system's event older than this (by its ``timestamp``) is refused as a replay."""

    servicenow_basic_users: SecretStr | None = Field(
        None, alias="NUMBERFLOW_SERVICENOW_BASIC_USERS"
    )
    """``user:password`` pairs (comma-separated) ServiceNow's REST message may authenticate as."""
    servicenow_tokens: SecretStr | None = Field(None, alias="NUMBERFLOW_SERVICENOW_TOKENS")
    """Bearer tokens (API keys) it may use instead; either set: ``/v1/tickets/servicenow``."""
    servicenow_hmac_keys: SecretStr | None = Field(None, alias="NUMBERFLOW_SERVICENOW_HMAC_KEYS")
    """When set, the Business Rule must also sign the body (base64 HMAC-SHA256)."""

    def secrets(self) -> list[str]:
        """Every accepted webhook secret."""
        return _split(self.webhook_secrets)

    def servicenow(self) -> ServiceNowInbound | None:
        """The ServiceNow endpoint's configuration, or ``None`` when nobody may call it.

        Raises ``MappingError`` when the mapping file is missing, wrong, or has no ServiceNow
        part.
        """
        users = _split(self.servicenow_basic_users)
        tokens = _split(self.servicenow_tokens)
        if not users and not tokens:
            return None
        mapping = self._mapping("NUMBERFLOW_SERVICENOW_BASIC_USERS or _TOKENS").servicenow
        if mapping is None:
            raise MappingError(f"{self.ticket_mapping}: no [servicenow] section")
        return ServiceNowInbound(
            users, tokens, _split(self.servicenow_hmac_keys), mapping, self.ticket_max_age_seconds
        )

    def _mapping(self, because: str) -> TicketMapping:
        if self.ticket_mapping is None:
            raise MappingError(
                f"{because} is set: NUMBERFLOW_TICKET_MAPPING must name the mapping file "
                "(see deploy/tickets/)"
            )
        return load_mapping(self.ticket_mapping)

    def jira(self) -> JiraInbound | None:
        """The Jira endpoint's configuration, or ``None`` when no Jira secret is set.

        Raises ``MappingError`` when the mapping file is missing, wrong, or has no Jira part.
        """
        secrets = _split(self.jira_webhook_secrets)
        if not secrets:
            return None
        mapping = self._mapping("NUMBERFLOW_JIRA_WEBHOOK_SECRETS").jira
        if mapping is None:
            raise MappingError(f"{self.ticket_mapping}: no [jira] section")
        return JiraInbound(secrets, mapping, self.ticket_max_age_seconds)

    def tokens(self) -> list[str]:
        """Every accepted status token."""
        return _split(self.status_tokens)


def _split(value: SecretStr | None) -> list[str]:
    if value is None:
        return []
    return [part.strip() for part in value.get_secret_value().split(",") if part.strip()]


def _country_list(value: str) -> list[str]:
    return [code.strip().upper() for code in value.split(",") if code.strip()]
