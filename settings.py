"""Process settings from the environment; only entry points build them."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.task_queues import TASK_QUEUE

__all__ = ["IngressSettings", "Settings"]


class Settings(BaseSettings):
    """numberflow's configuration.

    ACS is reached with either ``ACS_CONNECTION_STRING`` (HMAC access key) or ``ACS_ENDPOINT``
    (Microsoft Entra ID through ``DefaultAzureCredential``). Temporal is configured the
    standard way (``TEMPORAL_ADDRESS``, ``TEMPORAL_NAMESPACE``, ``TEMPORAL_API_KEY``,
    ``TEMPORAL_TLS_*``, ``TEMPORAL_PROFILE``), read by temporalio's envconfig.
    """

    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    acs_connection_string: SecretStr | None = None
    acs_endpoint: str | None = None
    task_queue: str = Field(TASK_QUEUE, alias="NUMBERFLOW_TASK_QUEUE")
    callback_secret: SecretStr | None = Field(None, alias="NUMBERFLOW_CALLBACK_SECRET")
    """Signs ticket callbacks; without it, callbacks are not sent (the status says so)."""
    log_level: str = Field("INFO", alias="NUMBERFLOW_LOG_LEVEL")
    log_json: bool | None = Field(None, alias="NUMBERFLOW_LOG_JSON")
    """JSON logs; by default JSON unless stderr is a terminal."""

    @model_validator(mode="after")
    def _one_acs_credential(self) -> Settings:
        if (self.acs_connection_string is None) == (self.acs_endpoint is None):
            raise ValueError("set exactly one of ACS_CONNECTION_STRING or ACS_ENDPOINT")
        return self


class IngressSettings(BaseSettings):
    """The ingress's configuration: the webhook secrets (comma-separated, newest first)."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    webhook_secrets: SecretStr = Field(alias="NUMBERFLOW_WEBHOOK_SECRETS")
    task_queue: str = Field(TASK_QUEUE, alias="NUMBERFLOW_TASK_QUEUE")

    def secrets(self) -> list[str]:
        """Every accepted secret (several during a rotation)."""
        return [s.strip() for s in self.webhook_secrets.get_secret_value().split(",") if s.strip()]
