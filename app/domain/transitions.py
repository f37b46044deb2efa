"""Every state change of payments, attempts and refunds, declared once.

A :class:`Transition` names the states it may move from, the columns it sets (a constant, or a
:class:`Param` the caller supplies when it applies the transition) and the event it emits. The
statements that apply them are built from these declarations and the models
(``app.stores.transitions``; the IPN group commit in ``app.services.callbacks.fast`` renders its
CTEs from them too), so a from-state, a column or a value is never restated anywhere else.

A new transition goes here, as one more declaration; a service applies it with
``stores.transitions.apply`` (compare-and-set: ``UPDATE … WHERE id = :id AND status IN (:from)``,
whoever loses a race changes nothing).

Payment: ``pending → succeeded → (partially_refunded | refunded)``, ``pending → expired``,
``pending → cancelled``; a verified late success moves ``expired | cancelled → succeeded`` (money
moved: the fact wins, flagged ``late``). Attempt: ``pending | unknown → succeeded | failed | expired
| cancelled``; a verified success is accepted from any non-succeeded state. Refund: ``pending |
unknown → succeeded | failed``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from app.domain.states import (
    ATTEMPT_OPEN,
    PAID,
    REFUND_OPEN,
    AttemptStatus,
    Channel,
    EventType,
    PaymentStatus,
    RefundMethod,
    RefundState,
)

Entity = Literal["payment", "attempt", "refund"]


@dataclass(frozen=True)
class Param:
    """A value the caller supplies when applying the transition. ``keep_if_none``: a None leaves
    the column as it is (``COALESCE(:param, column)``)."""

    name: str
    keep_if_none: bool = False


NOW = Param("now")


@dataclass(frozen=True)
class Transition:
    name: str
    entity: Entity
    from_states: tuple[str, ...]
    sets: Mapping[str, Any]
    event: EventType | None = None
    params: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        names = frozenset(v.name for v in self.sets.values() if isinstance(v, Param))
        object.__setattr__(self, "params", names)

    @property
    def to_state(self) -> str | Param | None:
        """The status it sets (None: the status stays; a Param: the caller names it)."""
        value: str | Param | None = self.sets.get("status")
        return value

    def values(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The columns to set, with the parameters filled in (exactly the declared ones)."""
        missing, extra = self.params - params.keys(), params.keys() - self.params
        if missing or extra:
            raise TypeError(f"{self.name}: missing {sorted(missing)}, unexpected {sorted(extra)}")
        out: dict[str, Any] = {}
        for column, value in self.sets.items():
            if isinstance(value, Param):
                given = params[value.name]
                if given is None and value.keep_if_none:
                    continue
                out[column] = given
            else:
                out[column] = value
        return out


def _t(
    name: str, entity: Entity, from_states: tuple[str, ...], event: EventType | None = None, **sets: Any
) -> Transition:
    return Transition(name, entity, tuple(from_states), sets, event)


# --- Payments ------------------------------------------------------------------------------
_PAID_ONLINE = {
    "status": PaymentStatus.succeeded,
    "succeeded_attempt_id": Param("attempt_id"),
    "channel": Channel.online,
    "paid_at": Param("paid_at"),
    "updated_at": NOW,
}
PAY_ONLINE = _t(
    "payment.pay_online", "payment", (PaymentStatus.pending,), EventType.payment_succeeded, **_PAID_ONLINE
)
# Paid after expiry or cancellation: money moved, the fact wins (the attempt is flagged late).
PAY_LATE = _t(
    "payment.pay_late",
    "payment",
    (PaymentStatus.expired, PaymentStatus.cancelled),
    EventType.payment_succeeded,
    **_PAID_ONLINE,
)
PAY_OFFLINE = _t(
    "payment.pay_offline",
    "payment",
    (PaymentStatus.pending,),
    EventType.payment_succeeded,
    status=PaymentStatus.succeeded,
    channel=Channel.offline,
    offline=Param("offline"),
    paid_at=Param("paid_at"),
    updated_at=NOW,
)
CANCEL = _t(
    "payment.cancel",
    "payment",
    (PaymentStatus.pending,),
    EventType.payment_cancelled,
    status=PaymentStatus.cancelled,
    updated_at=NOW,
)
EXPIRE = _t(
    "payment.expire",
    "payment",
    (PaymentStatus.pending,),
    EventType.payment_expired,
    status=PaymentStatus.expired,
    updated_at=NOW,
)
SWITCH_GATEWAY = _t(
    "payment.switch_gateway", "payment", (PaymentStatus.pending,), provider=Param("provider"), updated_at=NOW
)
# ``refunded_amount`` is the new total (an expression on the column is fine).
REFUND_PART = _t(
    "payment.refund_part",
    "payment",
    PAID,
    status=PaymentStatus.partially_refunded,
    refunded_amount=Param("refunded_amount"),
    updated_at=NOW,
)
REFUND_ALL = _t(
    "payment.refund_all",
    "payment",
    PAID,
    EventType.payment_refunded,
    status=PaymentStatus.refunded,
    refunded_amount=Param("refunded_amount"),
    updated_at=NOW,
)

# --- Attempts ------------------------------------------------------------------------------
# A verified success is accepted from any state but succeeded (a late one too: money moved).
ATTEMPT_SUCCEED = _t(
    "attempt.succeed",
    "attempt",
    (*ATTEMPT_OPEN, AttemptStatus.failed, AttemptStatus.expired, AttemptStatus.cancelled),
    status=AttemptStatus.succeeded,
    completed_at=Param("paid_at"),
    updated_at=NOW,
    next_check_at=None,
    failure_code=None,
    failure_message=None,
    provider_transaction_id=Param("provider_transaction_id", keep_if_none=True),
)


def _ended_by_gateway(status: AttemptStatus) -> Transition:
    return _t(
        f"attempt.{status.value}_by_gateway",
        "attempt",
        ATTEMPT_OPEN,
        status=status,
        failure_code=Param("failure_code"),
        failure_message=Param("failure_message"),
        provider_transaction_id=Param("provider_transaction_id"),
        completed_at=NOW,
        updated_at=NOW,
        next_check_at=None,
    )


# The gateway said the attempt ended without payment, by its status.
ATTEMPT_ENDED = {
    s: _ended_by_gateway(s) for s in (AttemptStatus.failed, AttemptStatus.cancelled, AttemptStatus.expired)
}
# A clear "still pending" settles an earlier ambiguity.
ATTEMPT_SETTLE_UNKNOWN = _t(
    "attempt.settle_unknown",
    "attempt",
    (AttemptStatus.unknown,),
    status=AttemptStatus.pending,
    updated_at=NOW,
)
ATTEMPT_FLAG_LATE = _t("attempt.flag_late", "attempt", (AttemptStatus.succeeded,), late=True)
ATTEMPT_FLAG_DUPLICATE = _t(
    "attempt.flag_duplicate", "attempt", (AttemptStatus.succeeded,), duplicate_paid=True
)
# The payment was cancelled, paid at the counter or expired: its pending attempts stop (``unknown``
# ones stay for the resolver: a late success is still accepted).
ATTEMPT_STOP = _t(
    "attempt.stop",
    "attempt",
    (AttemptStatus.pending,),
    status=AttemptStatus.cancelled,
    completed_at=NOW,
    updated_at=NOW,
)
ATTEMPT_EXPIRE = _t(
    "attempt.expire",
    "attempt",
    (AttemptStatus.pending,),
    status=AttemptStatus.expired,
    completed_at=NOW,
    updated_at=NOW,
)
ATTEMPT_CHECKOUT_READY = _t(
    "attempt.checkout_ready",
    "attempt",
    (AttemptStatus.pending,),
    checkout_url=Param("checkout_url"),
    qr_payload=Param("qr_payload"),
    provider_transaction_id=Param("provider_transaction_id"),
    wire=Param("wire"),
    raw_request=Param("raw_request"),
    raw_response=Param("raw_response"),
    updated_at=NOW,
)
ATTEMPT_CHECKOUT_REFUSED = _t(
    "attempt.checkout_refused",
    "attempt",
    (AttemptStatus.pending,),
    status=AttemptStatus.failed,
    failure_code=Param("failure_code"),
    failure_message=Param("failure_message"),
    completed_at=NOW,
    updated_at=NOW,
    next_check_at=None,
)
ATTEMPT_CHECKOUT_UNKNOWN = _t(
    "attempt.checkout_unknown",
    "attempt",
    (AttemptStatus.pending,),
    status=AttemptStatus.unknown,
    failure_code="gateway_unreachable",
    failure_message=Param("failure_message"),
    next_check_at=Param("next_check_at"),
    updated_at=NOW,
)

# --- Refunds -------------------------------------------------------------------------------
_REFUND_SETTLED = {
    "provider_refund_id": Param("provider_refund_id"),
    "wire": Param("wire"),
    "raw_response": Param("raw_response"),
    "failure_code": Param("failure_code"),
    "failure_message": Param("failure_message"),
    "operator_note": Param("operator_note"),
    "confirmed_at": Param("confirmed_at"),
    "next_check_at": None,
    "completed_at": NOW,
    "updated_at": NOW,
}
REFUND_SUCCEED = _t(
    "refund.succeed",
    "refund",
    REFUND_OPEN,
    EventType.refund_succeeded,
    status=RefundState.succeeded,
    **_REFUND_SETTLED,
)
REFUND_FAIL = _t(
    "refund.fail",
    "refund",
    REFUND_OPEN,
    EventType.refund_failed,
    status=RefundState.failed,
    **_REFUND_SETTLED,
)
# The gateway's answer left it open (``pending`` or ``unknown``): ask again later.
REFUND_STILL_OPEN = _t(
    "refund.still_open",
    "refund",
    REFUND_OPEN,
    status=Param("status"),
    provider_refund_id=Param("provider_refund_id"),
    wire=Param("wire"),
    raw_response=Param("raw_response"),
    failure_message=Param("failure_message"),
    check_count=Param("check_count"),
    next_check_at=Param("next_check_at"),
    updated_at=NOW,
)
# The gateway has no refund API after all: an operator pays it back by hand.
REFUND_TO_MANUAL = _t(
    "refund.to_manual",
    "refund",
    REFUND_OPEN,
    method=RefundMethod.manual,
    status=RefundState.pending,
    next_check_at=None,
    updated_at=NOW,
)

ALL: tuple[Transition, ...] = tuple(
    v for v in list(globals().values()) + list(ATTEMPT_ENDED.values()) if isinstance(v, Transition)
)
