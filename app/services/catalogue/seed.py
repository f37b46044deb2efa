"""Seed data: the reference catalogues (banks, revenue-type codes) and the demo set-up."""

from __future__ import annotations

import csv
from datetime import date
from importlib import resources
from typing import Any

import orjson
from sqlalchemy import func, select

from app.config import Settings
from app.db import Database
from app.models import Bank, RevenueType
from app.text import fold


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files("app.data").joinpath(name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


async def load_reference_catalogues(db: Database) -> dict[str, int]:
    """Insert banks and revenue-type codes that are not there yet; never touches existing rows."""
    added = {"banks": 0, "revenue_types": 0}
    async with db.transaction() as session:
        known_bins = set((await session.scalars(select(Bank.bin))).all())
        for row in _rows("banks.csv"):
            if row["bin"] in known_bins:
                continue
            session.add(
                Bank(
                    bin=row["bin"],
                    sbv_code=row["sbv_code"] or None,
                    short_name=row["short_name"],
                    name=row["name"],
                )
            )
            added["banks"] += 1
        known_codes = set((await session.scalars(select(RevenueType.code).distinct())).all())
        for row in _rows("revenue_types.csv"):
            if row["code"] in known_codes:
                continue
            session.add(
                RevenueType(
                    code=row["code"],
                    version=1,
                    group_code=row["group_code"] or None,
                    name=row["name"],
                    search_text=fold(f"{row['code']} {row['name']}"),
                    kind=row["kind"],
                    chapter=row.get("chapter") or None,
                    valid_from=date.fromisoformat(row["valid_from"]),
                    valid_to=date.fromisoformat(row["valid_to"]) if row.get("valid_to") else None,
                    is_current=True,
                )
            )
            added["revenue_types"] += 1
    return added


async def seed_catalogues(settings: Settings) -> dict[str, int]:
    db = Database(settings.database_url)
    try:
        return await load_reference_catalogues(db)
    finally:
        await db.dispose()


async def count_rows(db: Database, model: Any) -> int:
    async with db.session() as session:
        return int((await session.scalar(select(func.count()).select_from(model))) or 0)


DEMO_PROVINCE = ("000.00.00.H56", "UBND tỉnh Demo", "province")
DEMO_AGENCY = ("000.00.31.H56", "Sở Tư pháp tỉnh Demo", "department")
DEMO_CLIENT = "Cổng dịch vụ công tỉnh Demo"


async def seed_demo(settings: Settings) -> dict[str, str]:
    """A demo province and department, a client with a fresh API key, a sandbox gateway account,
    a beneficiary account and one pending payment to open. Safe to run again: existing rows are
    reused and a new key is issued for the demo client."""
    from app.bootstrap import close_container, make_container
    from app.models import Agency, Client
    from app.schemas.payments import PaymentCreate
    from app.services.access.auth import Principal
    from app.services.access.clients import create_client, rotate_key
    from app.services.catalogue.agencies import create_agency
    from app.services.catalogue.beneficiaries import put_beneficiary
    from app.services.catalogue.gateway_accounts import create_account, list_accounts
    from app.services.payments.lifecycle import create_payment

    container = make_container(settings)
    db = container.db
    try:
        async with db.session() as session:
            existing = set((await session.scalars(select(Agency.code))).all())
        for code, name, level in (DEMO_PROVINCE, DEMO_AGENCY):
            if code not in existing:
                parent = DEMO_PROVINCE[0] if code != DEMO_PROVINCE[0] else None
                await create_agency(db, code, name, level, parent)
        await put_beneficiary(
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
        if not [a for a in await list_accounts(container, DEMO_PROVINCE[0]) if a.provider == "sandbox"]:
            await create_account(
                container, agency_code=DEMO_PROVINCE[0], provider="sandbox", credentials={}, settings=None
            )
        async with db.session() as session:
            client_id = await session.scalar(select(Client.id).where(Client.name == DEMO_CLIENT))
        if client_id is None:
            created = await create_client(container, name=DEMO_CLIENT, agency_codes=[DEMO_PROVINCE[0]])
            client_id, api_key = created.view.client.id, created.api_key
        else:
            api_key = (await rotate_key(container, client_id, grace_seconds=7 * 24 * 3600)).api_key
        principal = Principal(client_id=client_id, name=DEMO_CLIENT, agency_paths=(f"/{DEMO_PROVINCE[0]}/",))
        stamp = container.clock().strftime("%y%m%d%H%M%S")
        body = PaymentCreate.model_validate(
            {
                "agency_code": DEMO_AGENCY[0],
                "dossier_code": f"{DEMO_AGENCY[0]}-{stamp}",
                "description": "Lệ phí hộ tịch (demo)",
                "payer": {"name": "Nguyễn Văn A", "id_number": "001099000001"},
                "items": [
                    {"revenue_type_code": "2771", "amount": 50000, "description": "Cấp bản sao trích lục"}
                ],
                "return_url": f"{settings.public_base_url}/docs",
            }
        )
        stored = await create_payment(
            container, principal, body, idempotency_key=f"seed-demo-{stamp}", client_ip="127.0.0.1"
        )
        payment = orjson.loads(stored.body)
        if stored.status != 201:
            raise RuntimeError(f"demo payment not created: {payment}")
        return {
            "agency_code": DEMO_AGENCY[0],
            "client_id": client_id,
            "api_key": api_key,
            "payment_id": payment["id"],
            "checkout_path": payment["checkout_url"].removeprefix(settings.public_base_url),
        }
    finally:
        await close_container(container)
