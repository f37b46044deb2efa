"""Re-encrypt every secret at rest under the current ``PAYBRIDGE_SECRET_KEY``.

Rotation: set the new key as ``PAYBRIDGE_SECRET_KEY`` and the old one in
``PAYBRIDGE_OLD_SECRET_KEYS`` (the app keeps decrypting with either), run
``python -m app rotate-secrets``, then drop the old key. Idempotent and safe to rerun: each row is
re-encrypted in its own short transaction under a row lock, and a value already under the
current key is simply encrypted afresh.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.fernet import InvalidToken

from app.config import Settings
from app.db import Database
from app.security import Vault
from app.stores import clients as clients_store
from app.stores import secrets as secrets_store


@dataclass(frozen=True)
class RotationReport:
    provider_accounts: int
    client_secrets: int


async def rotate_secrets(db: Database, vault: Vault) -> RotationReport:
    """Re-encrypt gateway credentials and webhook secrets (current and previous) under the first key.
    A value no configured key can decrypt stops the run with ``ValueError`` naming the row."""
    accounts = clients = 0
    async with db.session() as session:
        account_ids = await secrets_store.provider_account_ids(session)
        client_ids = await clients_store.all_ids(session)
    for account_id in account_ids:
        async with db.transaction() as session:
            row = await secrets_store.lock_provider_account(session, account_id)
            if row is None:
                continue
            row.credentials_enc = _rotate(vault, row.credentials_enc, f"provider account {account_id}")
            accounts += 1
    for client_id in client_ids:
        async with db.transaction() as session:
            client = await clients_store.get(session, client_id, lock=True)
            if client is None:
                continue
            client.webhook_secret_enc = _rotate(vault, client.webhook_secret_enc, f"client {client_id}")
            if client.previous_webhook_secret_enc:
                client.previous_webhook_secret_enc = _rotate(
                    vault, client.previous_webhook_secret_enc, f"client {client_id} (previous secret)"
                )
            clients += 1
    return RotationReport(accounts, clients)


def _rotate(vault: Vault, token: str, what: str) -> str:
    try:
        return vault.rotate(token)
    except InvalidToken as exc:  # no configured key opens it
        raise ValueError(
            f"cannot decrypt {what} with PAYBRIDGE_SECRET_KEY or PAYBRIDGE_OLD_SECRET_KEYS"
        ) from exc


async def rotate_from_settings(settings: Settings) -> RotationReport:
    """The command: open the database named by ``settings`` and rotate."""
    db = Database(settings.database_url)
    try:
        return await rotate_secrets(db, Vault(settings.fernet_keys()))
    finally:
        await db.dispose()
