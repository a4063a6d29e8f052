"""IAM: paths, groups, roles, managed policies, attachments, inline policies, tags, login
profiles, STS sessions, the audit log, public repositories.

Existing identity policies stored on ``principals.policies`` move to the new tables: the
administrator's ``Allow * on *`` becomes an attachment of ``AdministratorAccess``, any other
document an inline policy.

Revision ID: 0006
Revises: 0003
"""

import json
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0003"
branch_labels = ("iam",)
depends_on = None

_ADMIN_DOCUMENT = {"Version": "2012-10-17",
                   "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
_ADMIN_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("principals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("path", sa.String(length=512), nullable=False,
                                      server_default="/"))
    with op.batch_alter_table("repositories", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))

    op.create_table(
        "iam_groups",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("path", sa.String(length=512), nullable=False),
        sa.Column("arn", sa.String(length=1024), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        sa.UniqueConstraint("arn"),
    )
    op.create_table(
        "iam_group_members",
        sa.Column("group_id", sa.String(length=32), nullable=False),
        sa.Column("principal_id", sa.String(length=32), nullable=False),
        sa.Column("added_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["iam_groups.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["principal_id"], ["principals.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("group_id", "principal_id"),
    )
    op.create_index("ix_iam_group_members_principal", "iam_group_members", ["principal_id"])
    op.create_table(
        "iam_roles",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=512), nullable=False),
        sa.Column("arn", sa.String(length=1024), nullable=False),
        sa.Column("trust_policy", sa.Text(), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=True),
        sa.Column("max_session_duration", sa.Integer(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("last_used_at", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        sa.UniqueConstraint("arn"),
    )
    op.create_table(
        "iam_policies",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("path", sa.String(length=512), nullable=False),
        sa.Column("arn", sa.String(length=1024), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=True),
        sa.Column("default_version", sa.String(length=16), nullable=False),
        sa.Column("next_version", sa.Integer(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        sa.UniqueConstraint("arn"),
    )
    op.create_table(
        "iam_policy_versions",
        sa.Column("policy_id", sa.String(length=32), nullable=False),
        sa.Column("version_id", sa.String(length=16), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(["policy_id"], ["iam_policies.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("policy_id", "version_id"),
    )
    attachments = op.create_table(
        "iam_attachments",
        sa.Column("entity_kind", sa.String(length=8), nullable=False),
        sa.Column("entity_id", sa.String(length=32), nullable=False),
        sa.Column("policy_arn", sa.String(length=1024), nullable=False),
        sa.Column("attached_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("entity_kind", "entity_id", "policy_arn"),
    )
    op.create_index("ix_iam_attachments_policy", "iam_attachments", ["policy_arn"])
    inline = op.create_table(
        "iam_inline_policies",
        sa.Column("entity_kind", sa.String(length=8), nullable=False),
        sa.Column("entity_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("entity_kind", "entity_id", "name"),
    )
    op.create_table(
        "iam_tags",
        sa.Column("entity_kind", sa.String(length=8), nullable=False),
        sa.Column("entity_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("value", sa.String(length=256), nullable=False),
        sa.PrimaryKeyConstraint("entity_kind", "entity_id", "key"),
    )
    op.create_table(
        "iam_login_profiles",
        sa.Column("principal_id", sa.String(length=32), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("password_reset_required", sa.Boolean(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", _utc(), nullable=True),
        sa.Column("last_used_at", _utc(), nullable=True),
        sa.ForeignKeyConstraint(["principal_id"], ["principals.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("principal_id"),
    )
    op.create_table(
        "sts_sessions",
        sa.Column("access_key_id", sa.String(length=32), nullable=False),
        sa.Column("secret_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("role_id", sa.String(length=32), nullable=False),
        sa.Column("session_name", sa.String(length=64), nullable=False),
        sa.Column("source_arn", sa.String(length=1024), nullable=False),
        sa.Column("session_policy", sa.Text(), nullable=True),
        sa.Column("policy_arns", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("source_identity", sa.String(length=64), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("expires_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(["role_id"], ["iam_roles.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("access_key_id"),
        sa.UniqueConstraint("token_sha256"),
    )
    op.create_index("ix_sts_sessions_expires", "sts_sessions", ["expires_at"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False,
                  autoincrement=True),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("event_source", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=128), nullable=False),
        sa.Column("decision", sa.String(length=8), nullable=False),
        sa.Column("principal_arn", sa.String(length=1024), nullable=True),
        sa.Column("access_key_id", sa.String(length=32), nullable=True),
        sa.Column("source_ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=512), nullable=True),
        sa.Column("resource", sa.String(length=2048), nullable=True),
        sa.Column("error_code", sa.String(length=128), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_principal", "audit_log", ["principal_arn", "at"])
    _move_principal_policies(attachments, inline)


def _move_principal_policies(attachments: sa.Table, inline: sa.Table) -> None:
    """``principals.policies`` held unnamed identity policies; give them IAM's shapes."""
    principals = sa.table("principals", sa.column("id", sa.String), sa.column("policies", sa.JSON))
    bind = op.get_bind()
    now = datetime.now(timezone.utc)
    for row in bind.execute(sa.select(principals.c.id, principals.c.policies)).fetchall():
        documents = row.policies if isinstance(row.policies, list) else []
        if isinstance(row.policies, str):  # some drivers hand JSON back as text
            documents = json.loads(row.policies) or []
        if not documents:
            continue
        for number, document in enumerate(documents, start=1):
            if document == _ADMIN_DOCUMENT:
                bind.execute(attachments.insert().values(
                    entity_kind="user", entity_id=row.id, policy_arn=_ADMIN_ARN, attached_at=now))
            else:
                bind.execute(inline.insert().values(
                    entity_kind="user", entity_id=row.id, name=f"Policy{number}",
                    document=json.dumps(document), updated_at=now))
        bind.execute(principals.update().where(principals.c.id == row.id).values(policies=[]))


def downgrade() -> None:
    op.drop_index("ix_audit_log_principal", table_name="audit_log")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index("ix_sts_sessions_expires", table_name="sts_sessions")
    op.drop_table("sts_sessions")
    op.drop_table("iam_login_profiles")
    op.drop_table("iam_tags")
    op.drop_table("iam_inline_policies")
    op.drop_index("ix_iam_attachments_policy", table_name="iam_attachments")
    op.drop_table("iam_attachments")
    op.drop_table("iam_policy_versions")
    op.drop_table("iam_policies")
    op.drop_table("iam_roles")
    op.drop_index("ix_iam_group_members_principal", table_name="iam_group_members")
    op.drop_table("iam_group_members")
    op.drop_table("iam_groups")
    with op.batch_alter_table("repositories", schema=None) as batch_op:
        batch_op.drop_column("public")
    with op.batch_alter_table("principals", schema=None) as batch_op:
        batch_op.drop_column("path")
