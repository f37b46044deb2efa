"""The hosted checkout page's data: the bill behind an unguessable token, its usable gateways."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.container import Container
from app.errors import NotFound, ValidationFailed
from app.services.payments.lifecycle import add_attempt
from app.services.payments.providers import describe, providers_for_path
from app.services.payments.views import load_payment_resource
from app.stores import payments as store


@dataclass(frozen=True)
class CheckoutView:
    token: str
    payment: dict[str, Any]
    agency_name: str
    providers: list[dict[str, Any]]
    allowed_return_url: str | None


async def load_checkout(container: Container, token: str) -> CheckoutView:
    async with container.db.session() as session:
        row = await store.by_checkout_token(session, token)
        if row is None:
            raise NotFound("No such checkout.")
        resource = await load_payment_resource(session, row.id, container.settings.public_base_url)
    providers = [describe(p) for p in await providers_for_path(container, row.path)]
    providers = [
        p
        for p in providers
        if p["min_amount"] <= resource["amount"]
        and (p["max_amount"] is None or resource["amount"] <= p["max_amount"])
    ]
    return CheckoutView(
        token=token,
        payment=resource,
        agency_name=row.name,
        providers=providers,
        allowed_return_url=resource["return_url"],
    )


async def choose_provider(
    container: Container, token: str, provider: str, *, client_ip: str, locale: str
) -> dict[str, Any]:
    """The citizen picked a gateway: open an attempt there and return the payment resource."""
    view = await load_checkout(container, token)
    if provider not in {p["provider"] for p in view.providers}:
        raise ValidationFailed(
            "This gateway is not available for this payment.",
            errors=[{"field": "provider", "message": "not available"}],
        )
    return await add_attempt(
        container, None, view.payment["id"], provider, client_ip=client_ip, locale=locale
    )
