"""Secrets at rest and in comparison: Fernet encryption with key rotation, API-key hashing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

API_KEY_PREFIX = "pbk_"


class Vault:
    """Encrypts with the current key; decrypts with the current or any older key."""

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise ValueError("at least one key is required")
        self._fernet = MultiFernet([Fernet(k) for k in keys])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("cannot decrypt: wrong PAYBRIDGE_SECRET_KEY") from exc

    def encrypt_json(self, value: dict[str, Any]) -> str:
        return self.encrypt(orjson.dumps(value).decode())

    def decrypt_json(self, token: str) -> dict[str, Any]:
        data = orjson.loads(self.decrypt(token))
        if not isinstance(data, dict):
            raise ValueError("encrypted value is not an object")
        return data

    def rotate(self, token: str) -> str:
        """Re-encrypt a token under the current key (after PAYBRIDGE_SECRET_KEY changed)."""
        return self._fernet.rotate(token.encode()).decode()


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_webhook_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def constant_time_equals(a: str | bytes, b: str | bytes) -> bool:
    a_bytes = a.encode() if isinstance(a, str) else a
    b_bytes = b.encode() if isinstance(b, str) else b
    return hmac.compare_digest(a_bytes, b_bytes)
