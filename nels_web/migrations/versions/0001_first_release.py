"""the schema as of the first release (its tables were made with create_all)

Revision ID: 0001_first_release
Revises:
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_first_release"
down_revision = None
branch_labels = None
depends_on = None


def _when() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "seek_links",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("seek_url", sa.String(500), nullable=False),
        sa.Column("seek_project", sa.String(50), nullable=False),
        sa.Column("source", sa.String(1000), nullable=False),
        sa.Column("key", sa.String(1000), nullable=False),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("seek_id", sa.String(50), nullable=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("updated", _when(), nullable=False),
        sa.UniqueConstraint("seek_url", "seek_project", "source", "key"),
    )
    op.create_table(
        "web_users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("nels_id", sa.Integer(), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("nels_token", sa.LargeBinary(), nullable=True),
        sa.Column("created", _when(), nullable=False),
    )
    op.create_table(
        "web_sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("web_users.id"), nullable=False),
        sa.Column("created", _when(), nullable=False),
        sa.Column("last_used", _when(), nullable=False),
        sa.Column("expires", _when(), nullable=False),
    )
    op.create_index("ix_web_sessions_user_id", "web_sessions", ["user_id"])
    op.create_table(
        "sign_in_attempts",
        sa.Column("state_hash", sa.String(64), primary_key=True),
        sa.Column("code_verifier", sa.String(128), nullable=False),
        sa.Column("after", sa.Text(), nullable=False),
        sa.Column("created", _when(), nullable=False),
    )
    op.create_table(
        "seek_accounts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("web_users.id"), nullable=False),
        sa.Column("seek_url", sa.String(500), nullable=False),
        sa.Column("person", sa.String(200), nullable=False),
        sa.Column("token", sa.LargeBinary(), nullable=False),
        sa.Column("created", _when(), nullable=False),
        sa.UniqueConstraint("user_id", "seek_url"),
    )
    op.create_table(
        "pushed_folders",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("web_users.id"), nullable=False),
        sa.Column("folder", sa.String(1000), nullable=False),
        sa.Column("seek_url", sa.String(500), nullable=False),
        sa.Column("seek_project", sa.String(50), nullable=False),
        sa.Column("updated", _when(), nullable=False),
        sa.UniqueConstraint("user_id", "folder", "seek_url"),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("web_users.id"), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("subject", sa.String(1000), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("created", _when(), nullable=False),
    )
    op.create_table(
        "flashed_messages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("box", sa.String(64), nullable=False),
        sa.Column("category", sa.String(50), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created", _when(), nullable=False),
    )
    op.create_index("ix_flashed_messages_box", "flashed_messages", ["box"])


def downgrade() -> None:
    op.drop_index("ix_flashed_messages_box", "flashed_messages")
    op.drop_table("flashed_messages")
    for table in ("jobs", "pushed_folders", "seek_accounts", "sign_in_attempts"):
        op.drop_table(table)
    op.drop_index("ix_web_sessions_user_id", "web_sessions")
    for table in ("web_sessions", "web_users", "seek_links"):
        op.drop_table(table)
