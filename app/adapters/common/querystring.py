"""The query-string family (VNPay, OnePay): a browser redirect to a signed ``k=v&…`` URL, and
an IPN and a browser return that come back as signed query parameters.

The two differ only in what they sign (VNPay: PHP-urlencoded ``vnp_*`` pairs, HMAC-SHA512 hex;
OnePay: raw ``vpc_*``/``user_*`` pairs, HMAC-SHA256 keyed with the hex-decoded secret, upper
case) and in field names; this module holds what they share:

- :func:`split_signed`: the received hash apart from the fields, a repeated key noticed (a
  repeated key never verifies: which copy was signed is ambiguous);
- :func:`checked_amount`: a notice verified, for this merchant, with a whole VND amount;
- :func:`same_hex`: constant-time, case-insensitive comparison of hex digests;
- :class:`RedirectNotifications`: IPN and browser return parsed the same way (``_notification``);
- :func:`absolute_urls`: the endpoint settings, each an absolute http(s) URL;
- :func:`locale`: ``vn`` or ``en``.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from app.adapters.base import Account, InboundRequest, Notification, hundredths_to_vnd

_URL = re.compile(r"https?://[^\s/?#]+\S*")


def split_signed(
    items: Iterable[tuple[str, str]], hash_field: str, *, ignore: Iterable[str] = ()
) -> tuple[dict[str, str], str, bool]:
    """(every field except ``hash_field`` and ``ignore``, the received hash, whether a key repeats)."""
    skip = frozenset(ignore)
    fields: dict[str, str] = {}
    received = ""
    seen: set[str] = set()
    repeated = False
    for key, value in items:
        repeated = repeated or key in seen
        seen.add(key)
        if key == hash_field:
            received = value
        elif key not in skip:
            fields[key] = value
    return fields, received, repeated


def checked_amount(
    verified: bool, ours: bool, fields: dict[str, str], amount_field: str
) -> int | Notification:
    """The amount (VND) of a verified notice for this merchant — or the unverified Notification
    to answer with: a bad hash, another merchant's notice, an amount that is not VND × 100."""
    if not verified or not ours:
        return Notification(verified=False, fields=fields)
    amount = hundredths_to_vnd(fields.get(amount_field, ""))
    if amount is None:
        return Notification(verified=False, message=f"{amount_field} is not a multiple of 100", fields=fields)
    return amount


def same_hex(expected: str, received: str) -> bool:
    """Constant-time comparison of hex digests (case-insensitive, non-ASCII safe)."""
    return hmac.compare_digest(expected.lower().encode("utf-8"), received.lower().encode("utf-8"))


def absolute_urls(
    settings: Mapping[str, Any], defaults: Mapping[str, str], errors: dict[str, str]
) -> dict[str, str]:
    """Each endpoint setting (default when absent) as an absolute http(s) URL; problems → ``errors``."""
    out: dict[str, str] = {}
    for key, default in defaults.items():
        value = settings.get(key, default)
        if not isinstance(value, str) or not _URL.fullmatch(value):
            errors[f"settings.{key}"] = "must be an absolute http(s) URL"
            value = ""
        out[key] = value
    return out


def locale(value: str) -> str:
    """The gateways' page language: ``vn`` for Vietnamese, ``en`` otherwise."""
    return "vn" if value.lower().startswith("vi") else "en"


class RedirectNotifications:
    """IPN and browser return carry the same signed parameters: both parse alike. A gateway
    names its merchant and amount fields and supplies :meth:`_verify` and :meth:`_verified`."""

    merchant_field: ClassVar[str]  # the notice's merchant id (vnp_TmnCode, vpc_Merchant)
    merchant_credential: ClassVar[str]  # the credential it must equal
    amount_field: ClassVar[str]  # VND × 100

    def parse_callback(self, account: Account, request: InboundRequest) -> Notification:
        return self._notification(account, request)

    def parse_return(self, account: Account, request: InboundRequest) -> Notification:
        return self._notification(account, request)

    def _notification(self, account: Account, request: InboundRequest) -> Notification:
        verified, fields = self._verify(request.params(), account.credentials["hash_secret"])
        ours = fields.get(self.merchant_field) == account.credentials[self.merchant_credential]
        amount = checked_amount(verified, ours, fields, self.amount_field)
        if isinstance(amount, Notification):
            return amount
        return self._verified(fields, amount)

    @staticmethod
    def _verify(items: Iterable[tuple[str, str]], secret: str, /) -> tuple[bool, dict[str, str]]:
        """(whether the hash verifies, the received fields): the gateway's ``verify_items``."""
        raise NotImplementedError

    def _verified(self, fields: dict[str, str], amount: int) -> Notification:
        """The notification of a verified notice for this merchant with a whole VND ``amount``."""
        raise NotImplementedError
