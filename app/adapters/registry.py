"""Provider name → adapter. Adding a gateway is one module plus one line here."""

from __future__ import annotations

import importlib
from functools import cache

from app.adapters.base import GatewayAdapter

# name → "module:attribute" of the adapter instance.
_ADAPTERS: dict[str, str] = {
    "sandbox": "app.adapters.sandbox:adapter",
    "vnpay": "app.adapters.vnpay:adapter",
    "momo": "app.adapters.momo:adapter",
    "zalopay": "app.adapters.zalopay:adapter",
    "onepay": "app.adapters.onepay:adapter",
    "dvcqg": "app.adapters.dvcqg:adapter",
    "paygov": "app.adapters.paygov:adapter",
    "vietqr": "app.adapters.vietqr:adapter",
}

PROVIDERS: tuple[str, ...] = tuple(_ADAPTERS)


class UnknownProvider(KeyError):
    pass


@cache
def get_adapter(name: str) -> GatewayAdapter:
    target = _ADAPTERS.get(name)
    if target is None:
        raise UnknownProvider(name)
    module_name, attr = target.split(":")
    adapter: GatewayAdapter = getattr(importlib.import_module(module_name), attr)
    return adapter
