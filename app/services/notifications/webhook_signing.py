"""Standard Webhooks signing: the ``webhook-*`` headers of one try."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

from app import __version__
from app.security import Vault

USER_AGENT = f"paybridge-webhooks/{__version__}"


def signature_header(msg_id: str, timestamp: datetime, body: bytes, secrets: Sequence[str | Webhook]) -> str:
    """``v1,<base64>`` per secret, space-separated (both secrets sign during a rotation's grace)."""
    if not secrets:
        raise ValueError("at least one secret is required")
    text = body.decode()
    signers = [s if isinstance(s, Webhook) else Webhook(s) for s in secrets]
    return " ".join(signer.sign(msg_id=msg_id, timestamp=timestamp, data=text) for signer in signers)


def signed_headers(
    msg_id: str, now: datetime, body: bytes, secrets: Sequence[str | Webhook]
) -> dict[str, str]:
    """The Standard Webhooks headers of one try (timestamp in whole unix seconds)."""
    timestamp = now.astimezone(UTC).replace(microsecond=0)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature_header(msg_id, timestamp, body, secrets),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


def secrets_of(
    vault: Vault, now: datetime, current: str, previous: str | None, expires: datetime | None
) -> tuple[str, ...]:
    """The current secret, then the previous one while its grace period lasts (decrypted)."""
    secrets = [vault.decrypt(current)]
    if previous and expires is not None and expires > now:
        secrets.append(vault.decrypt(previous))
    return tuple(secrets)
