"""runs keep the record as written, and the document versions they used

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27

A run's result is the record's JSON text exactly as `--json` prints it (a JSON column would not
keep its key order on PostgreSQL), and `inputs` lists the stored versions of the deals and
profiles it read.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("result")
        batch.add_column(sa.Column("record", sa.Text(), nullable=True))
        batch.add_column(sa.Column("inputs", JSON, nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("inputs")
        batch.drop_column("record")
        batch.add_column(sa.Column("result", JSON, nullable=True))
