"""The national-platform family (DVCQG, PayGov): JSON over POST through a provincial LGSP,
SHA-256 checksums (plain hashes, not HMACs) over fields in a documented order, endpoints that
each province is issued (no public defaults), optional LGSP access tokens.

What the two share lives here: the checksum (with each platform's separator and the secret's
place), its constant-time check, the LGSP headers, the account settings check and the
:class:`NationalAccounts` part of the adapters (limits, account check, simulator endpoints).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

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


class NationalAccounts:
    """What a national-platform adapter declares alike: a call to the platform makes the checkout
    (from 1,000 VND, no upper limit of ours), and an account is its credentials, the endpoints
    the province issued (``endpoints``: each setting and its path on our simulator; no public
    defaults exist) and the optional LGSP tokens."""

    credential_fields: ClassVar[tuple[str, ...]]
    endpoints: ClassVar[Mapping[str, str]]  # setting → path under the simulator's mount
    token_settings: ClassVar[tuple[str, ...]]
    min_amount: ClassVar[int] = 1_000
    local_checkout: ClassVar[bool] = False  # a call to the gateway
    max_amount: ClassVar[int | None] = None

    def validate_account(
        self, credentials: Mapping[str, Any], settings: Mapping[str, Any]
    ) -> tuple[dict[str, str], dict[str, Any]]:
        return validate_national_account(
            credentials,
            settings,
            credential_fields=self.credential_fields,
            url_settings=tuple(self.endpoints),
            token_settings=self.token_settings,
        )

    def default_settings(self, simulator_base_url: str | None) -> dict[str, Any]:
        if simulator_base_url is None:
            return {}
        base = simulator_base_url.rstrip("/")  # already this provider's mount, …/sandbox/<name>
        return {name: f"{base}{path}" for name, path in self.endpoints.items()}
