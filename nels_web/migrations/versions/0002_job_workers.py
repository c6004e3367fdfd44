"""jobs run on workers: what a job needs, its claims, its worker's signs of life

Revision ID: 0002_job_workers
Revises: 0001_first_release
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_job_workers"
down_revision = "0001_first_release"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # server defaults: the jobs already there get values, and the release before
    # this one, still running while a site upgrades, can go on adding jobs
    with op.batch_alter_table("jobs") as jobs:
        jobs.add_column(sa.Column("params", sa.Text(), nullable=False, server_default="{}"))
        jobs.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        jobs.add_column(sa.Column("worker", sa.String(200), nullable=False, server_default=""))
        jobs.add_column(sa.Column("heartbeat", sa.DateTime(timezone=True), nullable=True))
        jobs.add_column(sa.Column("finished", sa.DateTime(timezone=True), nullable=True))
        jobs.create_index("ix_jobs_state", ["state"])


def downgrade() -> None:
    with op.batch_alter_table("jobs") as jobs:
        jobs.drop_index("ix_jobs_state")
        for column in ("finished", "heartbeat", "worker", "attempts", "params"):
            jobs.drop_column(column)
