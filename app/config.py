"""Settings: one pydantic-settings class, read from the environment (prefix ``PAYBRIDGE_``)."""

from __future__ import annotations

import base64
from enum import StrEnum
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET_KEY = "dev-only-secret-key-change-me-0123456789abcdef"


class Environment(StrEnum):
    development = "development"
    production = "production"


class Settings(BaseSettings):
    """Everything paybridge reads from its environment.

    In production a missing or weak secret stops the start with a message naming the setting.
    """

    # Errors never echo the input: it holds the database URL (a password) and the secrets.
    model_config = SettingsConfigDict(
        env_prefix="PAYBRIDGE_", env_file=None, extra="ignore", hide_input_in_errors=True
    )

    env: Environment = Environment.development
    # The operator's PostgreSQL (postgresql://user:password@host:5432/db). Empty: the command line
    # starts the embedded PostgreSQL under `data_dir` (development only; production requires it).
    database_url: str = ""
    # Local state of a development checkout: the embedded PostgreSQL's data (`pgdata`), the demo
    # API key and the operator token of `make run` (`demo.env`). Relative to the working directory.
    data_dir: Path = Path(".paybridge")
    admin_token: SecretStr = SecretStr("")
    # Bearer token for GET /metrics. Required in production (without it /metrics answers 503
    # metrics_disabled); in development /metrics is open unless this is set.
    metrics_token: SecretStr = SecretStr("")
    secret_key: SecretStr = SecretStr(DEV_SECRET_KEY)
    # Older keys still able to decrypt stored credentials while they are re-encrypted (rotation).
    old_secret_keys: list[SecretStr] = Field(default_factory=list)
    public_base_url: str = "http://127.0.0.1:8000"
    sandbox: bool = False
    run_workers: bool = True
    log_level: str = "INFO"
    # json: one JSON object per line (production, log shippers); text: readable lines for a terminal.
    log_format: Literal["json", "text"] = "json"
    db_pool_size: int = 10
    # Requests bodies above this size are refused with 413 (callbacks and API alike).
    max_body_bytes: int = 256 * 1024
    # Operator uploads (reconciliation files) may be this large.
    max_upload_bytes: int = 10 * 1024 * 1024
    # How long a gateway call may take before the attempt is marked `unknown`.
    gateway_timeout_seconds: float = 15.0
    idempotency_ttl_hours: int = 48
    # Webhook URLs naming or resolving to private, loopback, link-local or reserved addresses:
    # None = allowed in development only; set true (a portal on an internal network) or false.
    allow_private_webhooks: bool | None = None

    @field_validator("public_base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        value = value.rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an absolute http(s) URL")
        return value

    @field_validator("database_url")
    @classmethod
    def _postgresql_only(cls, value: str) -> str:
        """PostgreSQL is the only engine: accept the plain URLs operators paste and pick the
        async driver for them; refuse anything else, naming only the scheme (never the URL,
        which may hold a password)."""
        value = value.strip()
        if not value:
            return value
        scheme, sep, rest = value.partition("://")
        if not sep:
            raise ValueError("PAYBRIDGE_DATABASE_URL must be a URL such as postgresql://user@host:5432/db")
        if scheme in ("postgresql", "postgres", "postgresql+asyncpg"):
            return "postgresql+asyncpg://" + rest
        raise ValueError(
            f"paybridge runs on PostgreSQL only: PAYBRIDGE_DATABASE_URL must start with postgresql:// "
            f"(got {scheme}://); leave it unset in development to use the embedded PostgreSQL"
        )

    @model_validator(mode="after")
    def _production_is_safe(self) -> Self:
        if self.env is not Environment.production:
            return self
        problems: list[str] = []
        if not self.database_url:
            problems.append(
                "PAYBRIDGE_DATABASE_URL must point at your PostgreSQL server "
                "(the embedded PostgreSQL is for development only)"
            )
        key = self.secret_key.get_secret_value()
        if key == DEV_SECRET_KEY or len(key) < 32:
            problems.append("PAYBRIDGE_SECRET_KEY must be set to a random value of at least 32 characters")
        token = self.admin_token.get_secret_value()
        if token and len(token) < 24:
            problems.append(
                "PAYBRIDGE_ADMIN_TOKEN must be empty (operator API off) or at least 24 characters"
            )
        metrics_token = self.metrics_token.get_secret_value()
        if metrics_token and len(metrics_token) < 24:
            problems.append("PAYBRIDGE_METRICS_TOKEN must be empty (/metrics off) or at least 24 characters")
        if self.sandbox:
            problems.append("PAYBRIDGE_SANDBOX must be false in production")
        if not self.public_base_url.startswith("https://"):
            problems.append("PAYBRIDGE_PUBLIC_BASE_URL must be https in production")
        if problems:
            raise ValueError("unsafe production settings: " + "; ".join(problems))
        return self

    @property
    def is_development(self) -> bool:
        return self.env is Environment.development

    @property
    def private_webhooks_allowed(self) -> bool:
        if self.allow_private_webhooks is None:
            return self.is_development
        return self.allow_private_webhooks

    def fernet_keys(self) -> list[bytes]:
        """Fernet keys derived from the secret key (first) and any old keys (rotation)."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        keys = []
        for secret in [self.secret_key, *self.old_secret_keys]:
            raw = HKDF(
                algorithm=hashes.SHA256(), length=32, salt=b"paybridge", info=b"credentials-v1"
            ).derive(secret.get_secret_value().encode())
            keys.append(base64.urlsafe_b64encode(raw))
        return keys
