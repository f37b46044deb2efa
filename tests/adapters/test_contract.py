"""Every registered gateway satisfies the adapter contract; optional capabilities are explicit."""

from __future__ import annotations

import pytest

from app.adapters.base import GatewayAdapter, ReceiptSource
from app.adapters.registry import PROVIDERS, get_adapter


@pytest.mark.parametrize("provider", PROVIDERS)
def test_registered_adapter_satisfies_the_contract(provider: str) -> None:
    adapter = get_adapter(provider)
    assert isinstance(adapter, GatewayAdapter)
    assert adapter.name == provider
    assert adapter.min_amount >= 1


def test_only_gateways_with_their_own_receipt_are_receipt_sources() -> None:
    sources = {p for p in PROVIDERS if isinstance(get_adapter(p), ReceiptSource)}
    assert sources == {"dvcqg", "paygov"}
