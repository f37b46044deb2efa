"""payment core: status CHECK constraints and database-side defaults

Every status column keeps to its enum (``app.domain.states``) in the database too, and every
column with a default has it in the database, so that no insert (ORM, Core or hand-written) can
miss a column.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column, SQL default)
DEFAULTS: list[tuple[str, str, str]] = [
    ('agencies', 'created_at', 'now()'),
    ('agencies', 'updated_at', 'now()'),
    ('clients', 'allowed_hosts', "'[]'::jsonb"),
    ('clients', 'enabled', 'true'),
    ('clients', 'created_at', 'now()'),
    ('clients', 'updated_at', 'now()'),
    ('inbound_callbacks', 'query_string', "''"),
    ('inbound_callbacks', 'headers', "'{}'::jsonb"),
    ('inbound_callbacks', 'body', "''::bytea"),
    ('inbound_callbacks', 'received_at', 'now()'),
    ('inbound_callbacks', 'needs_review', 'false'),
    ('revenue_types', 'is_current', 'true'),
    ('revenue_types', 'created_at', 'now()'),
    ('agency_targets', 'updated_at', 'now()'),
    ('api_keys', 'created_at', 'now()'),
    ('beneficiary_accounts', 'created_at', 'now()'),
    ('idempotency_records', 'state', "'in_progress'"),
    ('idempotency_records', 'created_at', 'now()'),
    ('payments', 'currency', "'VND'"),
    ('payments', 'status', "'pending'"),
    ('payments', 'metadata', "'{}'::jsonb"),
    ('payments', 'exempt', 'false'),
    ('payments', 'refunded_amount', '0'),
    ('payments', 'created_at', 'now()'),
    ('payments', 'updated_at', 'now()'),
    ('provider_accounts', 'settings', "'{}'::jsonb"),
    ('provider_accounts', 'enabled', 'true'),
    ('provider_accounts', 'created_at', 'now()'),
    ('provider_accounts', 'updated_at', 'now()'),
    ('receipt_series', 'next_number', '1'),
    ('receipt_series', 'created_at', 'now()'),
    ('attempts', 'status', "'pending'"),
    ('attempts', 'wire', "'{}'::jsonb"),
    ('attempts', 'duplicate_paid', 'false'),
    ('attempts', 'late', 'false'),
    ('attempts', 'check_count', '0'),
    ('attempts', 'created_at', 'now()'),
    ('attempts', 'updated_at', 'now()'),
    ('events', 'created_at', 'now()'),
    ('receipts', 'issued_at', 'now()'),
    ('reconciliation_runs', 'row_count', '0'),
    ('reconciliation_runs', 'counts', "'{}'::jsonb"),
    ('reconciliation_runs', 'created_at', 'now()'),
    ('reconciliation_items', 'raw', "'{}'::jsonb"),
    ('refunds', 'origin', "'client'"),
    ('refunds', 'method', "'gateway'"),
    ('refunds', 'full', 'false'),
    ('refunds', 'status', "'pending'"),
    ('refunds', 'wire', "'{}'::jsonb"),
    ('refunds', 'check_count', '0'),
    ('refunds', 'created_at', 'now()'),
    ('refunds', 'updated_at', 'now()'),
    ('webhook_deliveries', 'status', "'pending'"),
    ('webhook_deliveries', 'attempts', '0'),
    ('webhook_deliveries', 'next_attempt_at', 'now()'),
    ('webhook_deliveries', 'created_at', 'now()'),
    ('webhook_attempt_logs', 'attempted_at', 'now()'),
]
# (table, constraint, condition)
CHECKS: list[tuple[str, str, str]] = [
    ('idempotency_records', 'ck_idempotency_records_state', "state IN ('in_progress', 'completed')"),
    ('payments', 'ck_payments_status', "status IN ('pending', 'succeeded', 'partially_refunded', 'refunded', 'expired', 'cancelled')"),
    ('payments', 'ck_payments_channel', "channel IN ('online', 'offline')"),
    ('attempts', 'ck_attempts_status', "status IN ('pending', 'unknown', 'succeeded', 'failed', 'expired', 'cancelled')"),
    ('events', 'ck_events_type', "type IN ('payment.succeeded', 'payment.expired', 'payment.cancelled', 'payment.refunded', 'payment.duplicate_paid', 'refund.succeeded', 'refund.failed')"),
    ('refunds', 'ck_refunds_origin', "origin IN ('client', 'duplicate_paid')"),
    ('refunds', 'ck_refunds_status', "status IN ('pending', 'unknown', 'succeeded', 'failed')"),
    ('refunds', 'ck_refunds_method', "method IN ('gateway', 'manual')"),
    ('webhook_deliveries', 'ck_webhook_deliveries_status', "status IN ('pending', 'delivered', 'dead')"),
]


def upgrade() -> None:
    for table, column, default in DEFAULTS:
        op.alter_column(table, column, server_default=sa.text(default))
    for table, name, condition in CHECKS:
        op.create_check_constraint(op.f(name), table, condition)


def downgrade() -> None:
    for table, name, _condition in reversed(CHECKS):
        op.drop_constraint(op.f(name), table, type_="check")
    for table, column, _default in reversed(DEFAULTS):
        op.alter_column(table, column, server_default=None)
