"""Settings: one pydantic-settings class, read from the environment (prefix ``PAYBRIDGE_``)."""

from __future__ import annotations

import base64
from enum import StrEnum
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

    model_config = SettingsConfigDict(env_prefix="PAYBRIDGE_", env_file=None, extra="ignore")

    env: Environment = Environment.development
    database_url: str = "sqlite+aiosqlite:///./paybridge.db"
    admin_token: SecretStr = SecretStr("")
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
    def _async_driver(cls, value: str) -> str:
        # Accept the plain URLs operators paste and pick the async driver for them.
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            value = "postgresql+asyncpg://" + value.split("://", 1)[1]
        elif value.startswith("sqlite:///"):
            value = "sqlite+aiosqlite:///" + value.removeprefix("sqlite:///")
        return value

    @model_validator(mode="after")
    def _production_is_safe(self) -> Self:
        if self.env is not Environment.production:
            return self
        problems: list[str] = []
        key = self.secret_key.get_secret_value()
        if key == DEV_SECRET_KEY or len(key) < 32:
            problems.append("PAYBRIDGE_SECRET_KEY must be set to a random value of at least 32 characters")
        token = self.admin_token.get_secret_value()
        if token and len(token) < 24:
            problems.append(
                "PAYBRIDGE_ADMIN_TOKEN must be empty (operator API off) or at least 24 characters"
            )
        if self.sandbox:
            problems.append("PAYBRIDGE_SANDBOX must be false in production")
        if not self.public_base_url.startswith("https://"):
            problems.append("PAYBRIDGE_PUBLIC_BASE_URL must be https in production")
        if problems:
            raise ValueError("unsafe production settings: " + "; ".join(problems))
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

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
