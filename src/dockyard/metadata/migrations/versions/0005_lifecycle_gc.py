"""lifecycle policies, previews and expiry records; GC marker on blob links; repository quotas

Revision ID: 0005
Revises: 0003
"""

from alembic import op
import sqlalchemy as sa


revision = "0005"
down_revision = "0003"
branch_labels = ("lifecycle",)
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("repository_blobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unreferenced_since", sa.DateTime(timezone=True), nullable=True))

    op.create_table(
        "lifecycle_policies",
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("policy_text", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_evaluated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["repository_id"], ["repositories.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("repository_id"),
    )
    op.create_table(
        "lifecycle_previews",
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("policy_text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("results", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["repository_id"], ["repositories.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("repository_id"),
    )
    op.create_table(
        "lifecycle_expiries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True,
                  nullable=False),
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("repository_name", sa.String(length=256), nullable=False),
        sa.Column("image_digest", sa.String(length=160), nullable=False),
        sa.Column("image_tags", sa.JSON(), nullable=False),
        sa.Column("media_type", sa.String(length=255), nullable=False),
        sa.Column("image_size", sa.BigInteger(), nullable=False),
        sa.Column("pushed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rule_priority", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("unit_digest", sa.String(length=160), nullable=False),
        sa.Column("expired_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("lifecycle_expiries", schema=None) as batch_op:
        batch_op.create_index("ix_lifecycle_expiries_repository",
                              ["repository_name", "expired_at"], unique=False)
    op.create_table(
        "repository_quotas",
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("max_bytes", sa.BigInteger(), nullable=True),
        sa.Column("max_images", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["repository_id"], ["repositories.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("repository_id"),
    )


def downgrade() -> None:
    op.drop_table("repository_quotas")
    with op.batch_alter_table("lifecycle_expiries", schema=None) as batch_op:
        batch_op.drop_index("ix_lifecycle_expiries_repository")
    op.drop_table("lifecycle_expiries")
    op.drop_table("lifecycle_previews")
    op.drop_table("lifecycle_policies")
    with op.batch_alter_table("repository_blobs", schema=None) as batch_op:
        batch_op.drop_column("unreferenced_since")
