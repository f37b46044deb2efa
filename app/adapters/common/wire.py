"""Typed wire models: each gateway message is a frozen pydantic model named and shaped as on the
wire (field names are the gateway's own), read through one strict parser instead of ``dict.get``
scattered through the adapter.

Leniency is declared once, per field type, exactly as gateways differ in practice:

- :data:`Text`: a string as received; an integer in decimal (JSON gateways send numbers for
  codes); missing, ``null`` or any other JSON type → ``""`` (hashes treat them so too).
- :data:`Integer`: like :data:`Count`, negative values kept (result codes).
- :data:`Count`: an integer sent as a JSON number or a string of ASCII digits; anything else
  (a bool, a float, a negative, ``"1e3"``) → ``None``, which callers treat as "no amount".

Signatures are always verified over the raw message first; the model is read only after.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Self

import orjson
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from app.adapters.base import Account, GatewayTechnicalError

_INTEGER = re.compile(r"-?\d{1,19}")


def text_value(value: Any) -> str:
    """A wire value as a string: strings as-is, integers in decimal, anything else empty."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return ""


def count_value(value: Any) -> int | None:
    """A non-negative integer sent as a number or as ASCII digits; otherwise None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value >= 0 else None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    return None


def integer_value(value: Any) -> int | None:
    """An integer, negative too (ZaloPay's codes), as a number or a string of at most 19 digits."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        return int(value)
    return None


Text = Annotated[str, BeforeValidator(text_value)]
Count = Annotated[int | None, BeforeValidator(count_value)]
Integer = Annotated[int | None, BeforeValidator(integer_value)]


class WireModel(BaseModel):
    """Base of every gateway message model: frozen, unknown fields ignored (gateways add fields)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Self:
        """The message, or :class:`GatewayTechnicalError` naming the model (never a 500)."""
        try:
            return cls.model_validate(dict(data))
        except ValidationError as exc:
            raise GatewayTechnicalError(f"malformed {cls.__name__} ({exc.error_count()} field(s))") from None


def json_object(body: bytes, what: str = "body") -> dict[str, Any]:
    """A JSON object, or :class:`GatewayTechnicalError`."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise GatewayTechnicalError(f"{what} is not JSON") from exc
    if not isinstance(data, dict):
        raise GatewayTechnicalError(f"{what} is not a JSON object")
    return data


def endpoint_url(account: Account, path: str) -> str:
    """``path`` under the account's ``endpoint`` setting (MoMo, ZaloPay)."""
    return f"{str(account.settings['endpoint']).rstrip('/')}{path}"
