"""Bidi control characters (U+202A–U+202E, U+2066–U+2069, U+200E/U+200F, U+061C) in names are
neutralised wherever paybridge renders them for people: the hosted checkout page, the operator
dashboard, and the e-receipt as HTML and PDF. A right-to-left override can no longer make
"Sở Tư pháp \u202eexe.FDP" read as something else; the stored data (and the JSON API) keep what was sent."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.text import BIDI_CONTROLS, display_tree, display_value, without_bidi_controls
from tests.conftest import ADMIN_TOKEN
from tests.factories import PROVINCE, World, create, make_account, make_client
from tests.test_refunds import paid

AGENCY = "000.00.31.H57"
RLO_AGENCY = "Sở Tư pháp \u202eexe.FDP\u202c tỉnh"
RLO_PAYER = "Nguyễn \u2067Văn\u2069 A\u200f\u061c\u200e"
_BIDI = re.compile(f"[{BIDI_CONTROLS}]")


def test_every_bidi_control_is_removed_and_nothing_else() -> None:
    text = "".join(f"a{ch}" for ch in BIDI_CONTROLS) + " Lệ phí hộ tịch 😀 عربي"
    assert without_bidi_controls(text) == "a" * len(BIDI_CONTROLS) + " Lệ phí hộ tịch 😀 عربي"
    assert display_value(12) == 12 and display_value(None) is None
    assert display_tree({"a": ["x\u202ey", {"b": "\u2066c"}], "n": 1}) == {"a": ["xy", {"b": "c"}], "n": 1}


@pytest.fixture
async def world(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> World:
    for code, name, level, parent in (
        (PROVINCE, "UBND tỉnh Thử", "province", None),
        (AGENCY, RLO_AGENCY, "department", PROVINCE),
    ):
        body: dict[str, Any] = {"code": code, "name": name, "level": level}
        if parent:
            body["parent_code"] = parent
        r = await client.post("/admin/v1/agencies", json=body, headers=admin_headers)
        assert r.status_code == 201, r.text
    account = await make_account(client, admin_headers, "sandbox")
    key, client_id, secret = await make_client(client, admin_headers, name="Cổng \u202eLIAMG")
    return World(api_key=key, client_id=client_id, webhook_secret=secret, sandbox_account_id=account["id"])


def _shown(text: str) -> None:
    assert _BIDI.search(text) is None, repr(_BIDI.search(text))


async def test_checkout_page_shows_names_without_bidi_controls(
    client: httpx.AsyncClient, world: World
) -> None:
    r = await create(
        client, world, agency_code=AGENCY, payer={"name": RLO_PAYER, "id_number": "001099000001"}
    )
    assert r.status_code == 201, r.text
    assert r.json()["payer"]["name"] == RLO_PAYER  # the API returns what was stored
    page = await client.get(r.json()["checkout_url"])
    assert page.status_code == 200
    _shown(page.text)
    assert "Sở Tư pháp exe.FDP tỉnh" in page.text


async def test_dashboard_shows_names_without_bidi_controls(client: httpx.AsyncClient, world: World) -> None:
    r = await create(
        client, world, agency_code=AGENCY, payer={"name": RLO_PAYER, "id_number": "001099000001"}
    )
    assert r.status_code == 201, r.text
    form = await client.get("/admin/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    await client.post("/admin/login", data={"token": ADMIN_TOKEN, "csrf": csrf.group(1)})
    page = await client.get("/admin/payments")
    assert page.status_code == 200
    assert "exe.FDP" in page.text  # the agency is listed
    _shown(page.text)


async def test_receipts_show_names_without_bidi_controls(
    client: httpx.AsyncClient, world: World, tmp_path: Path
) -> None:
    payment = await paid(
        client, world, agency_code=AGENCY, payer={"name": RLO_PAYER, "id_number": "001099000001"}
    )
    url = f"/v1/payments/{payment['id']}/receipt"
    html = await client.get(url, headers={**world.headers, "Accept": "text/html"})
    assert html.status_code == 200, html.text
    assert "EXE.FDP" in html.text and "Nguyễn Văn A" in html.text
    _shown(html.text)

    pdf = await client.get(url, headers={**world.headers, "Accept": "application/pdf"})
    assert pdf.status_code == 200
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    path = tmp_path / "receipt.pdf"
    path.write_bytes(pdf.content)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True, text=True).stdout
    assert "Nguyễn Văn A" in text
    _shown(text)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, check=True, text=True).stdout
    _shown(info)  # the document's author (the agency) too
