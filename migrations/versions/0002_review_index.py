"""inbound callbacks: a partial index for the rows needing review

The full index on the boolean ``needs_review`` took an entry for every callback (and a new one
whenever a verdict was written); the operator's list only ever reads the rows needing review,
newest first.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_callbacks", schema=None) as batch_op:
        batch_op.drop_index("ix_inbound_callbacks_needs_review")
        batch_op.create_index(
            "ix_inbound_callbacks_review",
            ["id"],
            unique=False,
            postgresql_where=sa.text("needs_review"),
            sqlite_where=sa.text("needs_review"),
        )


def downgrade() -> None:
    with op.batch_alter_table("inbound_callbacks", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_inbound_callbacks_review",
            postgresql_where=sa.text("needs_review"),
            sqlite_where=sa.text("needs_review"),
        )
        batch_op.create_index("ix_inbound_callbacks_needs_review", ["needs_review"], unique=False)
