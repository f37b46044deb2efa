"""Every gateway paybridge speaks, in ONE place: a tuple of specs, in the order the checkout page
lists them (national platforms first). Adding a gateway is its package plus one line here."""

from __future__ import annotations

from app.adapters import dvcqg, momo, onepay, paygov, sandbox, vietqr, vnpay, zalopay
from app.adapters.base import GatewayAdapter
from app.adapters.common.spec import GatewaySpec

SPECS: tuple[GatewaySpec, ...] = (
    dvcqg.SPEC,
    paygov.SPEC,
    vietqr.SPEC,
    vnpay.SPEC,
    momo.SPEC,
    zalopay.SPEC,
    onepay.SPEC,
    sandbox.SPEC,
)

_BY_NAME: dict[str, GatewaySpec] = {spec.name: spec for spec in SPECS}
PROVIDERS: tuple[str, ...] = tuple(_BY_NAME)


class UnknownProvider(KeyError):
    pass


def get_spec(name: str) -> GatewaySpec:
    spec = _BY_NAME.get(name)
    if spec is None:
        raise UnknownProvider(name)
    return spec


def get_adapter(name: str) -> GatewayAdapter:
    return get_spec(name).adapter


def display_rank(name: str) -> int:
    """Position on the checkout page (unknown names last)."""
    spec = _BY_NAME.get(name)
    return SPECS.index(spec) if spec is not None else len(SPECS)
