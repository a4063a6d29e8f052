"""uploads kept in parts by the blob store (S3 multipart uploads): upload id, parts, tail object

Revision ID: 0007
Revises: 0003
Branch: s3 (written by hand; other features branch from 0003 too)
"""

from alembic import op
import sqlalchemy as sa


revision = "0007"
down_revision = "0003"
branch_labels = ("s3",)
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("uploads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("multipart_id", sa.String(length=1024), nullable=True))
        batch_op.add_column(sa.Column("multipart_parts", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("tail_key", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("uploads", schema=None) as batch_op:
        batch_op.drop_column("tail_key")
        batch_op.drop_column("multipart_parts")
        batch_op.drop_column("multipart_id")
