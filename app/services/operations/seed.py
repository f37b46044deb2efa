"""Seed data: the reference catalogues (banks, revenue-type codes) and the demo set-up."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import date, timedelta
from importlib import resources
from typing import Any

import orjson

from app.adapters.registry import get_adapter
from app.bootstrap import close_container, make_container
from app.config import Settings
from app.db import Database
from app.schemas.payments import PaymentCreate
from app.security import hash_api_key
from app.services.access.auth import Principal
from app.services.access.clients import create_client, rotate_key
from app.services.catalogue.agencies import create_agency
from app.services.catalogue.beneficiaries import put_beneficiary
from app.services.catalogue.gateway_accounts import create_account, list_accounts, simulator_base
from app.services.payments.lifecycle import create_payment
from app.services.payments.views import load_payment_resource
from app.stores import clients as clients_store
from app.stores import seed as store
from app.text import fold


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files("app.data").joinpath(name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


async def load_reference_catalogues(db: Database) -> dict[str, int]:
    """Insert banks and revenue-type codes that are not there yet; never touches existing rows."""
    async with db.transaction() as session:
        known_bins = await store.bank_bins(session)
        banks = [
            {
                "bin": row["bin"],
                "sbv_code": row["sbv_code"] or None,
                "short_name": row["short_name"],
                "name": row["name"],
            }
            for row in _rows("banks.csv")
            if row["bin"] not in known_bins
        ]
        store.add_banks(session, banks)
        known_codes = await store.revenue_type_codes(session)
        revenue_types = [
            {
                "code": row["code"],
                "version": 1,
                "group_code": row["group_code"] or None,
                "name": row["name"],
                "search_text": fold(f"{row['code']} {row['name']}"),
                "kind": row["kind"],
                "chapter": row.get("chapter") or None,
                "valid_from": date.fromisoformat(row["valid_from"]),
                "valid_to": date.fromisoformat(row["valid_to"]) if row.get("valid_to") else None,
                "is_current": True,
            }
            for row in _rows("revenue_types.csv")
            if row["code"] not in known_codes
        ]
        store.add_revenue_types(session, revenue_types)
    return {"banks": len(banks), "revenue_types": len(revenue_types)}


@dataclass(frozen=True)
class CatalogueStatus:
    """What ``migrate`` reports: the catalogue's size, and what this run added to it."""

    banks: int
    revenue_types: int
    added_banks: int
    added_revenue_types: int

    def describe(self) -> str:
        text = f"catalogue up to date: {self.banks} banks, {self.revenue_types} revenue types"
        if self.added_banks or self.added_revenue_types:
            text += f" ({self.added_banks} banks and {self.added_revenue_types} revenue types added now)"
        return text


async def seed_catalogues(settings: Settings) -> CatalogueStatus:
    db = Database(settings.database_url)
    try:
        added = await load_reference_catalogues(db)
        async with db.session() as session:
            banks, codes = await store.catalogue_size(session)
        return CatalogueStatus(banks, codes, added["banks"], added["revenue_types"])
    finally:
        await db.dispose()


async def count_rows(db: Database, model: Any) -> int:
    async with db.session() as session:
        return await store.count(session, model)


DEMO_PROVINCE = ("000.00.00.H56", "UBND tỉnh Demo", "province")
DEMO_AGENCY = ("000.00.31.H56", "Sở Tư pháp tỉnh Demo", "department")
DEMO_CLIENT = "Cổng dịch vụ công tỉnh Demo"
DEMO_DOSSIER_PREFIX = f"{DEMO_AGENCY[0]}-DEMO-"
# A demo payment is shown again while it is pending, untouched and this far from expiring.
DEMO_PAYMENT_MIN_LIFE = timedelta(minutes=30)


@dataclass
class DemoSetup:
    """The demo's pieces and, for each, what this run did: "created", "already present" or "updated"."""

    agency_code: str
    client_id: str
    api_key: str
    payment_id: str
    checkout_url: str
    steps: list[tuple[str, str]] = field(default_factory=list)


async def seed_demo(settings: Settings, *, api_key: str | None = None) -> DemoSetup:
    """A demo province and department, a client, a sandbox gateway account, a beneficiary
    account and one pending payment to open. Safe to run again: every piece already there is
    kept ("already present"); ``api_key`` (the key a previous run printed) is kept while it is
    still a live key of the demo client, else one is issued. The sandbox account's stored URLs
    are brought to ``settings.public_base_url`` (a run on another port updates them)."""
    container = make_container(settings)
    db = container.db
    steps: list[tuple[str, str]] = []
    try:
        async with db.session() as session:
            existing = await store.agency_codes(session)
        for code, name, level in (DEMO_PROVINCE, DEMO_AGENCY):
            if code in existing:
                steps.append((f"agency {code}", "already present"))
                continue
            parent = DEMO_PROVINCE[0] if code != DEMO_PROVINCE[0] else None
            await create_agency(db, code, name, level, parent)
            steps.append((f"agency {code}", "created"))
        _account, created = await put_beneficiary(
            db,
            DEMO_PROVINCE[0],
            {
                "account_number": "3511",
                "account_name": "Kho bac Nha nuoc tinh Demo",
                "bank_bin": "970405",
                "treasury_code": "1911",
                "revenue_type_code": None,
            },
        )
        steps.append(("beneficiary account", "created" if created else "already present"))

        # The sandbox account stores its simulator's URLs: follow the public base URL.
        wanted = get_adapter("sandbox").default_settings(simulator_base(container, "sandbox"))
        sandbox = [a for a in await list_accounts(container, DEMO_PROVINCE[0]) if a.provider == "sandbox"]
        if not sandbox:
            await create_account(
                container, agency_code=DEMO_PROVINCE[0], provider="sandbox", credentials={}, settings=None
            )
            steps.append(("sandbox gateway account", "created"))
        elif all({**a.settings, **wanted} == a.settings for a in sandbox):
            steps.append(("sandbox gateway account", "already present"))
        else:
            async with db.transaction() as session:
                for account in sandbox:
                    await store.set_account_settings(session, account.id, {**account.settings, **wanted})
            steps.append(("sandbox gateway account", f"updated to {settings.public_base_url}"))

        now = container.clock()
        async with db.session() as session:
            client_id = await clients_store.id_by_name(session, DEMO_CLIENT)
            live_key = None
            if client_id is not None and api_key:
                live_key = await clients_store.live_key_id(session, client_id, hash_api_key(api_key), now)
        if client_id is None:
            made = await create_client(container, name=DEMO_CLIENT, agency_codes=[DEMO_PROVINCE[0]])
            client_id, api_key = made.view.client.id, made.api_key
            steps.append(("client and API key", "created"))
        elif live_key is not None and api_key:
            steps.append(("client and API key", "already present"))
        else:  # the key printed before is lost: issue another (the old ones keep a week's grace)
            api_key = (await rotate_key(container, client_id, grace_seconds=7 * 24 * 3600)).api_key
            steps.append(("client", "already present"))
            steps.append(("API key", "created (the previous one was not kept)"))

        async with db.session() as session:
            payment_id = await store.untouched_payment(
                session, client_id, DEMO_DOSSIER_PREFIX, now + DEMO_PAYMENT_MIN_LIFE
            )
            if payment_id is not None:
                resource = await load_payment_resource(session, payment_id, settings.public_base_url)
                steps.append(("demo payment", "already present"))
        if payment_id is None:
            principal = Principal(
                client_id=client_id, name=DEMO_CLIENT, agency_paths=(f"/{DEMO_PROVINCE[0]}/",)
            )
            stamp = now.strftime("%y%m%d%H%M%S")
            body = PaymentCreate.model_validate(
                {
                    "agency_code": DEMO_AGENCY[0],
                    "dossier_code": f"{DEMO_DOSSIER_PREFIX}{stamp}",
                    "description": "Lệ phí hộ tịch (demo)",
                    "payer": {"name": "Nguyễn Văn A", "id_number": "001099000001"},
                    "items": [
                        {"revenue_type_code": "2771", "amount": 50000, "description": "Cấp bản sao trích lục"}
                    ],
                }
            )
            stored = await create_payment(
                container, principal, body, idempotency_key=f"seed-demo-{stamp}", client_ip="127.0.0.1"
            )
            resource = orjson.loads(stored.body)
            if stored.status != 201:
                raise RuntimeError(f"demo payment not created: {resource}")
            steps.append(("demo payment", "created"))
        return DemoSetup(
            agency_code=DEMO_AGENCY[0],
            client_id=client_id,
            api_key=api_key or "",
            payment_id=resource["id"],
            checkout_url=resource["checkout_url"],
            steps=steps,
        )
    finally:
        await close_container(container)
