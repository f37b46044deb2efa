"""The national-platform family (DVCQG, PayGov): JSON over POST through a provincial LGSP,
SHA-256 checksums (plain hashes, not HMACs) over fields in a documented order, endpoints that
each province is issued (no public defaults), optional LGSP access tokens.

What the two share lives here: the checksum (with each platform's separator and the secret's
place), its constant-time check, the LGSP headers and the account settings check.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import httpx

from app.adapters.base import CredentialsError, require_fields
from app.adapters.common.wire import text_value

# settings → the LGSP header it fills
LGSP_TOKENS = {"access_token": "Authorization", "lgsp_access_token": "lgspaccesstoken"}


def sha256_checksum(
    message: Mapping[str, Any], fields: Sequence[str], secret: str, *, separator: str, secret_first: bool
) -> str:
    """Lowercase hex SHA-256 of the fields' wire text joined by ``separator``, the secret first
    (PayGov: no separator) or last (DVCQG: ``|``)."""
    values = [text_value(message.get(name)) for name in fields]
    parts = [secret, *values] if secret_first else [*values, secret]
    return hashlib.sha256(separator.join(parts).encode("utf-8")).hexdigest()


def checksum_matches(given: Any, expected: str) -> bool:
    """A received checksum against ours, in constant time (case-insensitive hex)."""
    if not isinstance(given, str) or not given.isascii():
        return False
    return hmac.compare_digest(given.lower(), expected)


def lgsp_headers(settings: Mapping[str, Any]) -> dict[str, str]:
    """``Authorization: Bearer …`` and ``lgspaccesstoken`` for the tokens the account holds."""
    headers: dict[str, str] = {}
    for name, header in LGSP_TOKENS.items():
        token = settings.get(name)
        if token:
            headers[header] = f"Bearer {token}" if header == "Authorization" else str(token)
    return headers


def validate_national_account(
    credentials: Mapping[str, Any],
    settings: Mapping[str, Any],
    *,
    credential_fields: Sequence[str],
    url_settings: Iterable[str],
    token_settings: Iterable[str],
) -> tuple[dict[str, str], dict[str, Any]]:
    """Required credentials, required endpoint URLs, optional token strings; every problem at once."""
    errors: dict[str, str] = {}
    creds = require_fields(credentials, credential_fields, errors=errors)
    out: dict[str, Any] = dict(settings)
    for name in url_settings:
        out[name] = _required_url(settings, name, errors)
    for name in token_settings:
        token = settings.get(name)
        if token is not None and not isinstance(token, str):
            errors[f"settings.{name}"] = "must be a string"
        out[name] = token.strip() if isinstance(token, str) and token.strip() else None
    if errors:
        raise CredentialsError(errors)
    return creds, out


def _required_url(settings: Mapping[str, Any], name: str, errors: dict[str, str]) -> str:
    value = settings.get(name)
    if not isinstance(value, str) or not value.strip():
        errors[f"settings.{name}"] = "required"
        return ""
    url = httpx.URL(value.strip())
    if url.scheme not in ("http", "https") or not url.host:
        errors[f"settings.{name}"] = "must be an http(s) URL"
    return str(url)


def http_url(value: Any) -> str | None:
    """``value`` when it is an absolute http(s) URL (a payment page or a receipt), else None."""
    if not isinstance(value, str):
        return None
    try:
        scheme = httpx.URL(value).scheme
    except httpx.InvalidURL:
        return None
    return value if scheme in ("http", "https") else None
