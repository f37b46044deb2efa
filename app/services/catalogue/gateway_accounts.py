"""Gateway (provider) accounts: create with validated, encrypted credentials; resolve the nearest
account up the agency tree; present an account to its adapter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.base import Account, CredentialsError, GatewayAdapter
from app.adapters.registry import PROVIDERS, UnknownProvider, get_adapter
from app.container import Container
from app.errors import NotFound, ProblemError, ValidationFailed
from app.ids import new_id
from app.models import ProviderAccount
from app.security import constant_time_equals
from app.stores import accounts, agencies


class ProviderUnavailable(ProblemError):
    status, code, title = 422, "provider_unavailable", "Provider unavailable"


def callback_url(container: Container, provider: str, account_id: str) -> str:
    return f"{container.settings.public_base_url}/v1/callbacks/{provider}/{account_id}"


def return_url(container: Container, provider: str, account_id: str) -> str:
    return f"{container.settings.public_base_url}/v1/returns/{provider}/{account_id}"


def simulator_base(container: Container, provider: str) -> str | None:
    if not container.settings.sandbox:
        return None
    return f"{container.settings.public_base_url}/sandbox/{provider}"


def adapter_for(provider: str) -> GatewayAdapter:
    try:
        return get_adapter(provider)
    except (UnknownProvider, ImportError) as exc:
        raise ValidationFailed(
            f"Unknown provider {provider!r}.",
            errors=[{"field": "provider", "message": f"must be one of {', '.join(PROVIDERS)}"}],
        ) from exc


def present(container: Container, row: ProviderAccount) -> Account:
    return Account(
        id=row.id,
        credentials={k: str(v) for k, v in container.vault.decrypt_json(row.credentials_enc).items()},
        settings=dict(row.settings or {}),
        callback_url=callback_url(container, row.provider, row.id),
        return_url=return_url(container, row.provider, row.id),
    )


@dataclass(frozen=True)
class AccountView:
    id: str
    provider: str
    agency_code: str
    callback_url: str
    return_url: str
    settings: dict[str, Any]
    enabled: bool


async def create_account(
    container: Container,
    *,
    agency_code: str,
    provider: str,
    credentials: dict[str, Any],
    settings: dict[str, Any] | None,
) -> AccountView:
    adapter = adapter_for(provider)
    merged_settings = {**adapter.default_settings(simulator_base(container, provider)), **(settings or {})}
    try:
        clean_credentials, clean_settings = adapter.validate_account(credentials, merged_settings)
    except CredentialsError as exc:
        raise ValidationFailed(
            f"Invalid {provider} account: {exc}",
            errors=[{"field": field, "message": message} for field, message in exc.errors.items()],
        ) from exc
    async with container.db.transaction() as session:
        agency = await agencies.by_code(session, agency_code)
        if agency is None:
            raise ValidationFailed(
                "Unknown agency.", errors=[{"field": "agency_code", "message": "no agency with this code"}]
            )
        row = accounts.add_gateway_account(
            session,
            {
                "id": new_id("pa"),
                "agency_id": agency.id,
                "provider": provider,
                "credentials_enc": container.vault.encrypt_json(clean_credentials),
                "settings": clean_settings,
                "enabled": True,
            },
        )
    return _view(container, row, agency_code)


def _view(container: Container, row: ProviderAccount, agency_code: str) -> AccountView:
    return AccountView(
        id=row.id,
        provider=row.provider,
        agency_code=agency_code,
        callback_url=callback_url(container, row.provider, row.id),
        return_url=return_url(container, row.provider, row.id),
        settings=dict(row.settings or {}),
        enabled=row.enabled,
    )


async def list_accounts(container: Container, agency_code: str | None = None) -> list[AccountView]:
    async with container.db.session() as session:
        rows = await accounts.gateway_accounts(session, agency_code)
    return [_view(container, row, code) for row, code in rows]


async def nearest_accounts(session: AsyncSession, agency_path: str) -> dict[str, ProviderAccount]:
    """For each provider, the enabled account attached nearest the agency (itself, then up)."""
    codes = list(reversed(agencies.path_codes(agency_path)))  # nearest first
    depth = {code: i for i, code in enumerate(codes)}
    rows = await accounts.enabled_gateway_accounts_at(session, codes)
    best: dict[str, tuple[int, ProviderAccount]] = {}
    for row, code in rows:
        d = depth[code]
        if row.provider not in best or d < best[row.provider][0]:
            best[row.provider] = (d, row)
    return {provider: row for provider, (_, row) in best.items()}


async def resolve_account(session: AsyncSession, agency_path: str, provider: str) -> ProviderAccount:
    account = (await nearest_accounts(session, agency_path)).get(provider)
    if account is None:
        raise ProviderUnavailable(
            f"No {provider} account is configured for this agency or any agency above it.",
            errors=[{"field": "provider", "message": "no usable account for this agency"}],
        )
    return account


async def get_account(session: AsyncSession, provider: str, account_id: str) -> ProviderAccount:
    row = await accounts.gateway_account(session, account_id)
    if row is None or row.provider != provider:
        raise NotFound("No such gateway account.")
    return row


async def find_account_by_credential(
    container: Container, provider: str, field: str, value: str
) -> Account | None:
    """The account of ``provider`` whose credential ``field`` equals ``value`` (simulators use
    this as the real gateway uses its merchant registry). Compares in constant time."""
    if not value:
        return None
    async with container.db.session() as session:
        rows = await accounts.gateway_accounts_of(session, provider)
    for row in rows:
        account = present(container, row)
        if constant_time_equals(str(account.credentials.get(field, "")), value):
            return account
    return None
