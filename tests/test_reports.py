"""The online-payment KPI report on a fixture with known answers (both databases)."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

import app
from app.container import Container
from app.ids import new_id, new_reference, new_token
from app.models import Agency, Attempt, Payment, PaymentItem, RevenueType
from app.services.reporting.reports import Figures, online_payment_report
from tests.factories import make_client

PROV = "000.00.00.H99"
DEPT = "000.00.31.H99"
DIST = "000.00.41.H99"
COMM = "000.41.01.H99"
OTHER = "000.00.00.H98"
CODE_A, CODE_B = "2771", "2107"


@dataclass
class Bill:
    agency: str
    amount: int
    status: str = "pending"
    channel: str | None = None
    provider: str | None = None
    exempt: bool = False
    refunded: int = 0
    created: datetime = datetime(2026, 5, 10, 3, 0, tzinfo=UTC)
    items: tuple[tuple[str, int], ...] = ()
    duplicate_at: str | None = None


# Known answers below are worked out from exactly these bills.
BILLS = [
    Bill(DEPT, 100_000, "succeeded", "online", "vnpay"),
    Bill(DEPT, 50_000, "succeeded", "online", "momo", duplicate_at="zalopay"),  # paid twice: one bill
    Bill(DEPT, 30_000, "succeeded", "offline"),  # at the counter: paid, not online
    Bill(DEPT, 40_000, "refunded", "online", "vnpay", refunded=40_000),
    Bill(
        DEPT,
        60_000,
        "partially_refunded",
        "online",
        "vnpay",
        refunded=10_000,
        items=((CODE_A, 20_000), (CODE_B, 40_000)),
    ),
    Bill(DEPT, 70_000, "pending"),
    Bill(DEPT, 20_000, "expired"),
    Bill(DEPT, 10_000, "pending", exempt=True),  # exempt: not in the denominator
    # 00:30 on 1 January in Vietnam is still 31 December in UTC: in the 2026 period.
    Bill(DEPT, 10_000, "succeeded", "online", "vnpay", created=datetime(2025, 12, 31, 17, 30, tzinfo=UTC)),
    # 23:59 on 31 December 2025 in Vietnam: outside.
    Bill(DEPT, 999_000, "succeeded", "online", "vnpay", created=datetime(2025, 12, 31, 16, 59, tzinfo=UTC)),
    Bill(COMM, 25_000, "succeeded", "online", "sandbox"),
    Bill(COMM, 15_000, "cancelled"),
    Bill(DIST, 5_000, "succeeded", "offline"),
    Bill(PROV, 80_000, "succeeded", "online", "vnpay"),
    Bill(OTHER, 777_000, "succeeded", "online", "vnpay"),  # another province: never in this client's view
]


async def _agencies(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    for code, level, parent in (
        (PROV, "province", None),
        (DEPT, "department", PROV),
        (DIST, "district", PROV),
        (COMM, "commune", DIST),
        (OTHER, "province", None),
    ):
        body: dict[str, Any] = {"code": code, "name": f"Đơn vị {code}", "level": level}
        if parent:
            body["parent_code"] = parent
        r = await client.post("/admin/v1/agencies", json=body, headers=admin)
        assert r.status_code == 201, r.text


async def insert_bills(container: Container, client_id: str, bills: list[Bill]) -> None:
    """Insert bills, their items and attempts directly, in one transaction."""
    async with container.db.transaction() as session:
        agencies = {a.code: a.id for a in (await session.scalars(select(Agency))).all()}
        types = {
            r.code: r.id
            for r in (
                await session.scalars(
                    select(RevenueType).where(
                        RevenueType.is_current.is_(True), RevenueType.code.in_([CODE_A, CODE_B])
                    )
                )
            ).all()
        }
        for n, b in enumerate(bills):
            pid = new_id("pay")
            paid = b.status in ("succeeded", "partially_refunded", "refunded")
            session.add(
                Payment(
                    id=pid,
                    client_id=client_id,
                    agency_id=agencies[b.agency],
                    dossier_code=f"HS-{n}",
                    bill_key="",
                    payer={"name": "Nguyễn Văn A"},
                    amount=b.amount,
                    status=b.status,
                    provider=b.provider,
                    checkout_token=new_token(),
                    channel=b.channel,
                    exempt=b.exempt,
                    refunded_amount=b.refunded,
                    expires_at=b.created + timedelta(minutes=15),
                    paid_at=b.created + timedelta(minutes=5) if paid else None,
                    created_at=b.created,
                    updated_at=b.created,
                )
            )
            await session.flush()
            for pos, (code, amount) in enumerate(b.items or ((CODE_A, b.amount),)):
                session.add(
                    PaymentItem(
                        payment_id=pid,
                        position=pos,
                        revenue_type_id=types[code],
                        revenue_type_code=code,
                        amount=amount,
                    )
                )
            if b.channel == "online" and b.provider:
                attempt = Attempt(
                    id=new_id("att"),
                    payment_id=pid,
                    provider=b.provider,
                    reference=new_reference(),
                    status="succeeded",
                    amount=b.amount,
                )
                session.add(attempt)
                await session.flush()
                (await session.get(Payment, pid)).succeeded_attempt_id = attempt.id  # type: ignore[union-attr]
            if b.duplicate_at:
                session.add(
                    Attempt(
                        id=new_id("att"),
                        payment_id=pid,
                        provider=b.duplicate_at,
                        reference=new_reference(),
                        status="succeeded",
                        amount=b.amount,
                        duplicate_paid=True,
                    )
                )


@pytest.fixture
async def world(client: httpx.AsyncClient, app: FastAPI, admin_headers: dict[str, str]) -> dict[str, str]:
    await _agencies(client, admin_headers)
    for code, rate in ((PROV, "0.30"), (DEPT, "0.70")):
        r = await client.put(
            f"/admin/v1/agencies/{code}/targets/2026",
            json={"online_payment_rate": rate},
            headers=admin_headers,
        )
        assert r.status_code in (200, 201), r.text
    key, client_id, _ = await make_client(client, admin_headers, agency_codes=[PROV])
    await insert_bills(app.state.container, client_id, BILLS)
    return {"key": key, "client_id": client_id}


def _get(client: httpx.AsyncClient, world: dict[str, str], **params: str) -> Any:
    params = {"from": "2026-01-01", "to": "2026-12-31", **params}
    return client.get(
        "/v1/reports/online-payment", params=params, headers={"Authorization": f"Bearer {world['key']}"}
    )


FIGS = (
    "bills_with_fee",
    "bills_exempt",
    "bills_paid",
    "bills_paid_online",
    "amount_paid",
    "amount_paid_online",
    "amount_refunded",
)


def _figs(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[k] for k in FIGS)


async def test_province_by_agency_known_answers(client: httpx.AsyncClient, world: dict[str, str]) -> None:
    r = await _get(client, world, agency_code=PROV, group_by="agency")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["target_year"] == 2026 and body["agency_code"] == PROV
    rows = {(row["key"], row["scope"]): row for row in body["data"]}
    assert list(rows) == [(PROV, "self"), (DEPT, "subtree"), (DIST, "subtree")]
    dept = rows[(DEPT, "subtree")]
    # 8 fee-bearing (exempt and last year's excluded), 6 paid (offline and refunded count), 5 online.
    assert _figs(dept) == (8, 1, 6, 5, 290_000, 260_000, 50_000)
    assert dept["online_rate"] == 0.625 and dept["target_rate"] == 0.7 and dept["meets_target"] is False
    dist = rows[(DIST, "subtree")]  # rolled up over its commune; inherits the province's 30%
    assert _figs(dist) == (3, 0, 2, 1, 30_000, 25_000, 0)
    assert dist["target_rate"] == 0.3 and dist["meets_target"] is True
    assert _figs(rows[(PROV, "self")]) == (1, 0, 1, 1, 80_000, 80_000, 0)
    total = body["total"]
    assert total["key"] == "TOTAL"
    assert _figs(total) == (12, 1, 9, 7, 400_000, 365_000, 50_000)
    assert total["online_rate"] == round(7 / 12, 4) and total["meets_target"] is True
    assert dept["duplicate_paid"] is None


async def test_without_group_by_and_without_agency(client: httpx.AsyncClient, world: dict[str, str]) -> None:
    body = (await _get(client, world)).json()
    assert [row["key"] for row in body["data"]] == [PROV]  # the client's root, rolled up
    assert _figs(body["data"][0]) == _figs(body["total"]) == (12, 1, 9, 7, 400_000, 365_000, 50_000)
    body = (await _get(client, world, agency_code=DIST, group_by="agency")).json()
    assert [(row["key"], row["scope"]) for row in body["data"]] == [(DIST, "self"), (COMM, "subtree")]
    assert _figs(body["data"][1]) == (2, 0, 1, 1, 25_000, 25_000, 0)
    assert body["total"]["target_rate"] == 0.3


async def test_period_is_vietnam_dates(client: httpx.AsyncClient, world: dict[str, str]) -> None:
    body = (await _get(client, world, agency_code=DEPT, **{"from": "2025-12-31", "to": "2025-12-31"})).json()
    assert _figs(body["total"]) == (1, 0, 1, 1, 999_000, 999_000, 0)
    assert body["target_year"] == 2025 and body["total"]["target_rate"] is None
    body = (await _get(client, world, agency_code=DEPT, **{"from": "2026-01-01", "to": "2026-01-01"})).json()
    assert _figs(body["total"]) == (1, 0, 1, 1, 10_000, 10_000, 0)


async def test_gateway_breakdown(client: httpx.AsyncClient, world: dict[str, str]) -> None:
    body = (await _get(client, world, agency_code=PROV, group_by="gateway")).json()
    rows = {row["key"]: row for row in body["data"]}
    assert sorted(rows) == ["momo", "offline", "sandbox", "vnpay", "zalopay"]
    assert (rows["vnpay"]["bills_paid"], rows["vnpay"]["amount_paid"]) == (5, 290_000)
    assert rows["vnpay"]["amount_refunded"] == 50_000
    assert (rows["offline"]["bills_paid"], rows["offline"]["bills_paid_online"]) == (2, 0)
    assert rows["offline"]["amount_paid"] == 35_000
    # The second payment of bill 2 went through ZaloPay: flagged, not a bill, not amount_paid.
    assert (rows["zalopay"]["bills_paid"], rows["zalopay"]["duplicate_paid"]) == (0, 1)
    assert rows["zalopay"]["duplicate_amount"] == 50_000
    assert rows["momo"]["duplicate_paid"] == 0 and rows["vnpay"]["bills_with_fee"] is None
    assert sum(row["bills_paid"] for row in rows.values()) == body["total"]["bills_paid"] == 9


async def test_revenue_type_breakdown(client: httpx.AsyncClient, world: dict[str, str]) -> None:
    body = (await _get(client, world, agency_code=PROV, group_by="revenue_type")).json()
    rows = {row["key"]: row for row in body["data"]}
    assert set(rows) == {CODE_A, CODE_B}
    assert rows[CODE_A]["name"] == "Lệ phí hộ tịch" or rows[CODE_A]["name"]
    assert _figs(rows[CODE_A])[:6] == (12, 1, 9, 7, 360_000, 325_000)
    assert _figs(rows[CODE_B])[:6] == (1, 0, 1, 1, 40_000, 40_000)
    assert rows[CODE_A]["amount_refunded"] is None
    assert body["total"]["bills_with_fee"] == 12  # a bill with two codes is one bill in the total


async def test_csv(client: httpx.AsyncClient, world: dict[str, str]) -> None:
    r = await _get(client, world, agency_code=PROV, group_by="agency", format="csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith("\ufeff".encode())
    lines = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert [line["key"] for line in lines] == [PROV, DEPT, DIST, "TOTAL"]
    assert lines[1]["bills_with_fee"] == "8" and lines[1]["meets_target"] == "false"
    assert lines[-1]["amount_paid"] == "400000" and lines[-1]["online_rate"] == str(round(7 / 12, 4))


async def test_scope_and_validation(client: httpx.AsyncClient, world: dict[str, str]) -> None:
    r = await _get(client, world, agency_code=OTHER)
    assert r.status_code == 404 and r.json()["code"] == "agency_not_found"
    r = await _get(client, world, **{"from": "2026-02-01", "to": "2026-01-01"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "to"
    r = await _get(client, world, **{"from": "2025-12-01", "to": "2026-01-31"})
    assert r.status_code == 422
    r = await _get(client, world, group_by="district")
    assert r.status_code == 422
    r = await client.get("/v1/reports/online-payment", params={"from": "2026-01-01", "to": "2026-12-31"})
    assert r.status_code == 401


async def test_operator_sees_every_root(app: FastAPI, world: dict[str, str]) -> None:
    report = await online_payment_report(
        app.state.container.db, start=datetime(2026, 1, 1).date(), end=datetime(2026, 12, 31).date()
    )
    assert [row.key for row in report.rows] == [OTHER, PROV]
    assert report.total.figures.amount_paid == 400_000 + 777_000
    assert report.total.target_rate is None  # two roots: no single target


@given(st.integers(1, 500), st.data(), st.integers(0, 10_000))
def test_meets_target_is_exact(with_fee: int, data: st.DataObject, basis_points: int) -> None:
    online = data.draw(st.integers(0, with_fee))
    target = Decimal(basis_points) / 10_000
    figures = Figures(bills_with_fee=with_fee, bills_paid_online=online)
    assert figures.meets(target) is (online * 10_000 >= basis_points * with_fee)
    assert Figures().meets(target) is None and figures.meets(None) is None


# SQL in a module: a statement built or a session used directly (stores hold these; services call stores).
_SQL = re.compile(
    r"(?<![\w.])(select|update|insert|delete|text)\("
    r"|session\.(execute|scalars?|get|add|add_all)\("
)


@pytest.mark.parametrize(
    "module",
    [
        "services/after_payment/receipts.py",
        "services/after_payment/receipt_pdf.py",
        "services/after_payment/reconciliation.py",
        "services/after_payment/reconciliation_files.py",
        "services/reporting/reports.py",
        "services/reporting/dashboard.py",
        "services/reporting/payment_detail.py",
    ],
)
def test_reporting_and_after_payment_services_hold_no_sql(module: str) -> None:
    source = (Path(app.__file__).parent / module).read_text()
    assert not [m.group(0) for m in _SQL.finditer(source)]
    assert "from sqlalchemy import" not in source
