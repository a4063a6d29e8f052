"""image scanning: advisories, image inventories (SBOMs), scans, registry scanning configuration

Revision ID: 0004
Revises: 0003
Branch: scanning (written by hand; another feature branches from 0003 too)
"""

from alembic import op
import sqlalchemy as sa


revision = "0004"
down_revision = "0003"
branch_labels = ("scanning",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vulndb_sources",
        sa.Column("source", sa.String(length=1024), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("source"),
    )
    op.create_table(
        "vuln_advisories",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("source", sa.String(length=1024), nullable=False),
        sa.Column("modified", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn", sa.DateTime(timezone=True), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("details", sa.Text(), nullable=True),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("cvss", sa.JSON(), nullable=False),
        sa.Column("reference_urls", sa.JSON(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "vuln_affected",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("advisory_id", sa.String(length=255), nullable=False),
        sa.Column("ecosystem", sa.String(length=128), nullable=False),
        sa.Column("package", sa.String(length=512), nullable=False),
        sa.Column("ranges", sa.JSON(), nullable=False),
        sa.Column("versions", sa.JSON(), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(["advisory_id"], ["vuln_advisories.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("vuln_affected", schema=None) as batch_op:
        batch_op.create_index("ix_vuln_affected_package", ["ecosystem", "package"], unique=False)
        batch_op.create_index("ix_vuln_affected_advisory", ["advisory_id"], unique=False)
    op.create_table(
        "image_inventories",
        sa.Column("digest", sa.String(length=160), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("format", sa.Integer(), nullable=False),
        sa.Column("inventory", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("digest"),
    )
    op.create_table(
        "image_scans",
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=160), nullable=False),
        sa.Column("scan_id", sa.String(length=36), nullable=False),
        sa.Column("scan_type", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("manual_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("severity_counts", sa.JSON(), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["repository_id"], ["repositories.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("repository_id", "digest"),
    )
    op.create_table(
        "registry_scanning",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scan_type", sa.String(length=16), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("registry_scanning")
    op.drop_table("image_scans")
    op.drop_table("image_inventories")
    with op.batch_alter_table("vuln_affected", schema=None) as batch_op:
        batch_op.drop_index("ix_vuln_affected_advisory")
        batch_op.drop_index("ix_vuln_affected_package")
    op.drop_table("vuln_affected")
    op.drop_table("vuln_advisories")
    op.drop_table("vulndb_sources")
