"""Secrets: none in any log line of a full flow; unreadable at rest without the key; the key rotates."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.config import Settings
from app.logging import JsonFormatter
from app.models import Client, ProviderAccount
from app.security import Vault
from app.services.callbacks.resolver import resolve_due
from app.services.notifications import webhooks
from app.services.operations.secret_rotation import rotate_secrets
from tests.factories import World, create, ensure_agencies, make_account, make_client
from tests.support import Clock, RoutingTransport
from tests.test_gateways_e2e import CREDENTIALS

PAYER_ID = "079203009876"
PORTAL = "https://portal.example.gov.vn"


def _secrets_of(credentials: dict[str, Any]) -> list[str]:
    """Every credential value that is a secret (identifiers such as tmn_code are not)."""
    secret_fields = {"hash_secret", "secret_key", "key1", "key2", "secret", "access_key", "password"}
    return [str(v) for k, v in credentials.items() if k in secret_fields]


async def test_no_secret_or_payer_id_in_any_log_line_of_a_full_flow(
    client: httpx.AsyncClient,
    app: FastAPI,
    admin_headers: dict[str, str],
    outbound: RoutingTransport,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="paybridge")
    outbound.handle(PORTAL, lambda r: httpx.Response(500 if len(outbound.requests) % 3 == 0 else 204))
    await ensure_agencies(client, admin_headers)
    secrets: list[str] = [admin_headers["Authorization"].split()[1]]
    for provider, credentials in CREDENTIALS.items():
        await make_account(client, admin_headers, provider, credentials=credentials)
        secrets += _secrets_of(credentials)
    key, client_id, webhook_secret = await make_client(client, admin_headers, webhook_url=PORTAL + "/hooks")
    secrets += [key, webhook_secret, webhook_secret.removeprefix("whsec_")]
    world = World(key, client_id, webhook_secret, "")

    paid: list[dict[str, Any]] = []
    for provider in CREDENTIALS:
        payer = {"name": "Trần Thị B", "id_number": PAYER_ID, "phone": "0912345678", "email": "b@example.vn"}
        r = await create(client, world, provider=provider, payer=payer)
        assert r.status_code == 201, r.text
        payment = r.json()
        await client.get(payment["checkout_url"])
        await client.post(payment["checkout_url"], data={"outcome": "success"})
        paid.append(payment)
    # Refunds through a gateway API and manual ones; tampered callbacks; wrong keys; rotations.
    statuses = [
        (await client.get(f"/v1/payments/{p['id']}", headers=world.headers)).json()["status"] for p in paid
    ]
    assert statuses == ["succeeded"] * len(CREDENTIALS)
    refunds = []
    for payment in paid:
        r = await client.post(
            f"/v1/payments/{payment['id']}/refunds",
            json={"amount": 10000, "reason": "Thu thừa"},
            headers={**world.headers, "Idempotency-Key": f"rf-{payment['id']}"},
        )
        refunds.append(r.status_code)
    assert refunds.count(201) == len(CREDENTIALS), refunds
    await client.post(f"/v1/callbacks/momo/{paid[0]['id']}", content=b'{"signature": "x"}')
    await client.get("/v1/payments", headers={"Authorization": f"Bearer {key[:-2]}xx"})
    await client.get("/admin/v1/clients", headers={"Authorization": f"Bearer {key}"})
    r = await client.post(f"/admin/v1/clients/{client_id}/keys", json={}, headers=admin_headers)
    secrets.append(r.json()["api_key"])
    r = await client.post(f"/admin/v1/clients/{client_id}/webhook-secret", json={}, headers=admin_headers)
    secrets.append(r.json()["webhook_secret"])
    for _ in range(4):
        await webhooks.dispatch_due(app.state.container)
        clock.advance(minutes=10)
        await resolve_due(app.state.container)
    assert any(r.url.host == "portal.example.gov.vn" for r in outbound.requests)

    formatter = JsonFormatter()
    lines = [formatter.format(record) for record in caplog.records]
    raw = [f"{record.getMessage()} {record.__dict__}" for record in caplog.records]
    assert len(lines) > 50  # the flow was logged
    secrets += [PAYER_ID]
    for secret in secrets:
        assert len(secret) >= 8
        leaked = [line for line in lines if secret in line]
        assert not leaked, f"{secret[:4]}… in {leaked[:2]}"
        leaked = [line for line in raw if secret in line]
        assert not leaked, f"{secret[:4]}… in a log record: {leaked[:2]}"


def test_redaction_masks_credentials_in_free_text() -> None:
    record = logging.LogRecord(
        "paybridge.test",
        logging.ERROR,
        __file__,
        1,
        "failed: Bearer pbk_abc123 hash_secret=S3CRET secret_key: 'K9' whsec_QUJD key1=xyz id_number=0790",
        None,
        None,
    )
    line = JsonFormatter().format(record)
    for secret in ("pbk_abc123", "S3CRET", "K9'", "whsec_QUJD", "xyz", "0790"):
        assert secret not in line, line


async def test_credentials_unreadable_without_the_key_and_rotatable(
    client: httpx.AsyncClient, app: FastAPI, admin_headers: dict[str, str], settings: Settings
) -> None:
    await ensure_agencies(client, admin_headers)
    account = await make_account(client, admin_headers, "vnpay", credentials=CREDENTIALS["vnpay"])
    _, client_id, webhook_secret = await make_client(client, admin_headers, webhook_url=PORTAL + "/hooks")
    await client.post(
        f"/admin/v1/clients/{client_id}/webhook-secret", json={"grace_seconds": 3600}, headers=admin_headers
    )
    db = app.state.container.db
    async with db.session() as session:
        row = await session.get(ProviderAccount, account["id"])
        stored = row.credentials_enc
        client_row = await session.get(Client, client_id)
        stored_hook = (client_row.webhook_secret_enc, client_row.previous_webhook_secret_enc)
    # Neither the plaintext nor anything derived from it is in the row; the API never returns it.
    assert CREDENTIALS["vnpay"]["hash_secret"] not in stored and "hash_secret" not in stored
    assert webhook_secret not in str(stored_hook)
    listed = await client.get("/admin/v1/provider-accounts", headers=admin_headers)
    assert CREDENTIALS["vnpay"]["hash_secret"] not in listed.text

    old_key = settings.secret_key.get_secret_value()
    new_key = "rotated-secret-key-for-the-hardening-suite-0123456789"
    wrong = Vault(Settings(secret_key="someone-elses-key-0123456789abcdefghij").fernet_keys())
    with pytest.raises(ValueError, match="wrong PAYBRIDGE_SECRET_KEY"):
        wrong.decrypt_json(stored)

    # New key first, old key still accepted: rotate, then the old key alone opens nothing.
    both = Vault(Settings(secret_key=new_key, old_secret_keys=[old_key]).fernet_keys())
    report = await rotate_secrets(db, both)
    assert (report.provider_accounts, report.client_secrets) == (1, 1)
    only_new = Vault(Settings(secret_key=new_key).fernet_keys())
    only_old = Vault(Settings(secret_key=old_key).fernet_keys())
    async with db.session() as session:
        row = await session.get(ProviderAccount, account["id"])
        client_row = await session.get(Client, client_id)
        assert only_new.decrypt_json(row.credentials_enc) == CREDENTIALS["vnpay"]
        assert only_new.decrypt(client_row.webhook_secret_enc).startswith("whsec_")
        assert only_new.decrypt(client_row.previous_webhook_secret_enc) == webhook_secret
        for token in (row.credentials_enc, client_row.webhook_secret_enc):
            with pytest.raises(ValueError):
                only_old.decrypt(token)
    # Rerunning is harmless; a key that opens nothing stops the run and names the row.
    assert (await rotate_secrets(db, only_new)).provider_accounts == 1
    with pytest.raises(ValueError, match=account["id"]):
        await rotate_secrets(db, only_old)
    async with db.session() as session:
        row = await session.get(ProviderAccount, account["id"])
    assert only_new.decrypt_json(row.credentials_enc) == CREDENTIALS["vnpay"]


def test_rotate_secrets_command_is_wired(monkeypatch: pytest.MonkeyPatch) -> None:
    import app.__main__ as cli

    called: list[Settings] = []

    async def fake(settings: Settings) -> Any:
        called.append(settings)
        from app.services.operations.secret_rotation import RotationReport

        return RotationReport(0, 0)

    monkeypatch.setattr("app.services.operations.secret_rotation.rotate_from_settings", fake)
    assert cli.main(["rotate-secrets"]) == 0
    assert len(called) == 1
