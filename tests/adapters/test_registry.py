"""The registry is complete: every gateway package is registered, and every registered gateway has
every part (adapter, simulator, reconciliation mapping, names, example credentials, e2e row)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi.routing import APIRoute

import tests.test_gateways_e2e as e2e
from app.adapters.base import Account, CredentialsError, GatewayAdapter
from app.adapters.common.reconciliation import ColumnMapping
from app.adapters.common.simulation import SimulatorContext
from app.adapters.common.spec import GatewaySpec
from app.adapters.registry import PROVIDERS, SPECS, display_rank, get_adapter, get_spec
from app.services.after_payment.receipt_pdf import payment_method
from app.services.after_payment.reconciliation_files import mapping_for
from app.services.payments.providers import describe

ADAPTERS_DIR = Path(__file__).resolve().parents[2] / "app" / "adapters"


async def _no_account(provider: str, field: str, value: str) -> Account | None:
    return None


def _context() -> SimulatorContext:
    return SimulatorContext(
        http=lambda: httpx.AsyncClient(),
        find_account=_no_account,
        clock=lambda: datetime(2026, 11, 21, tzinfo=UTC),
        base_url="http://paybridge.test/sandbox",
    )


def problems(spec: GatewaySpec) -> list[str]:
    """Every part a registered gateway lacks (empty when complete)."""
    found: list[str] = []
    name = spec.name
    if not isinstance(spec.adapter, GatewayAdapter):
        found.append("adapter does not satisfy GatewayAdapter")
    if not (ADAPTERS_DIR / name / "adapter.py").is_file():
        found.append(f"no package app/adapters/{name}/ with adapter.py")
    for part in ("simulator.py", "wire.py"):
        if not (ADAPTERS_DIR / name / part).is_file():
            found.append(f"no app/adapters/{name}/{part}")
    routes = [r for r in spec.simulator(_context()).routes if isinstance(r, APIRoute)]
    if not routes:
        found.append("simulator serves no route")
    mapping = spec.reconciliation
    if not mapping.amount or not (mapping.reference or mapping.transaction_id):
        found.append("reconciliation mapping lacks an amount or a reference/transaction column")
    if not spec.display_name.strip() or not spec.receipt_name.strip():
        found.append("display or receipt name is empty")
    try:
        spec.adapter.validate_account(
            spec.example_credentials, spec.adapter.default_settings(f"http://paybridge.test/sandbox/{name}")
        )
    except CredentialsError as exc:
        found.append(f"example credentials do not validate: {exc}")
    tested = e2e.QR_FLOW_TESTS.get(name, ())
    if name not in e2e.PAGE_FLOW and not (tested and all(callable(getattr(e2e, t, None)) for t in tested)):
        found.append("no row in tests/test_gateways_e2e.py")
    return found


@pytest.mark.parametrize("name", PROVIDERS)
def test_every_registered_gateway_has_every_part(name: str) -> None:
    assert problems(get_spec(name)) == []


def test_a_gateway_missing_a_part_is_reported() -> None:
    spec = get_spec("vnpay")
    broken = dataclasses.replace(
        spec,
        display_name=" ",
        reconciliation=ColumnMapping("vnp_Amount"),
        example_credentials={"tmn_code": "short"},
    )
    found = problems(broken)
    assert any("name is empty" in p for p in found)
    assert any("reconciliation mapping" in p for p in found)
    assert any("example credentials" in p for p in found)


def test_every_gateway_package_is_registered_once() -> None:
    packages = sorted(p.parent.name for p in ADAPTERS_DIR.glob("*/adapter.py"))
    assert sorted(PROVIDERS) == packages
    assert len(set(PROVIDERS)) == len(SPECS)


def test_the_rest_of_paybridge_reads_the_spec() -> None:
    for rank, spec in enumerate(SPECS):
        assert get_adapter(spec.name) is spec.adapter
        assert display_rank(spec.name) == rank
        assert describe(spec.name)["display_name"] == spec.display_name
        assert spec.receipt_name in payment_method({"channel": "online", "provider": spec.name})
        assert mapping_for(spec.name) == spec.reconciliation
    assert SPECS[0].name == "dvcqg"  # national platforms first on the checkout page
    assert display_rank("nope") == len(SPECS)
