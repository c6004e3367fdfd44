"""new deliveries noticed: NeLS's refresh token kept, who watches, what was seen

Revision ID: 0003_delivery_watch
Revises: 0002_job_workers
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_delivery_watch"
down_revision = "0002_job_workers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("web_users") as users:
        users.add_column(sa.Column("nels_refresh", sa.LargeBinary(), nullable=True))
    op.create_table(
        "delivery_watches",
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("web_users.id"), primary_key=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("looked", sa.DateTime(timezone=True), nullable=True),
        sa.Column("looking", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stopped", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stopped_why", sa.Text(), nullable=False),
    )
    op.create_table(
        "seen_deliveries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("web_users.id"), nullable=False),
        sa.Column("folder", sa.String(1000), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("sizes", sa.Text(), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("lanes", sa.Integer(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("told", sa.DateTime(timezone=True), nullable=True),
        sa.Column("mail", sa.String(10), nullable=False),
        sa.Column("dismissed", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("user_id", "folder"),
    )


def downgrade() -> None:
    op.drop_table("seen_deliveries")
    op.drop_table("delivery_watches")
    with op.batch_alter_table("web_users") as users:
        users.drop_column("nels_refresh")
