"""All tables. Importing this package registers every model on ``Base.metadata``."""

from app.models.base import Base
from app.models.catalog import Agency, AgencyTarget, Bank, BeneficiaryAccount, RevenueType
from app.models.clients import ApiKey, Client, ClientAgency, ClientView
from app.models.gateways import InboundCallback, ProviderAccount
from app.models.jobs import Job
from app.models.money import Receipt, ReceiptSeries, ReconciliationItem, ReconciliationRun, Refund
from app.models.outbox import WebhookAttemptLog, WebhookDelivery
from app.models.payments import Attempt, Event, IdempotencyRecord, Payment, PaymentItem
from app.models.sessions import OperatorSession

__all__ = [
    "Agency",
    "AgencyTarget",
    "ApiKey",
    "Attempt",
    "Bank",
    "Base",
    "BeneficiaryAccount",
    "Client",
    "ClientAgency",
    "ClientView",
    "Event",
    "IdempotencyRecord",
    "InboundCallback",
    "Job",
    "OperatorSession",
    "Payment",
    "PaymentItem",
    "ProviderAccount",
    "Receipt",
    "ReceiptSeries",
    "ReconciliationItem",
    "ReconciliationRun",
    "Refund",
    "RevenueType",
    "WebhookAttemptLog",
    "WebhookDelivery",
]
