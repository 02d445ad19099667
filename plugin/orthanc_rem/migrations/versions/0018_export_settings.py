"""export date format setting; mammography Exposure Control Mode Description; export jobs keep
the CSV byte order mark option

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 06:15:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("import_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("export_date_format", sa.String(length=32), server_default="dd/mm/yyyy", nullable=False)
        )
    with op.batch_alter_table("xray_source", schema=None) as batch_op:
        batch_op.add_column(sa.Column("exposure_control_mode_description", sa.Text(), nullable=True))
    with op.batch_alter_table("export_job", schema=None) as batch_op:
        batch_op.add_column(sa.Column("byte_order_mark", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("export_job", schema=None) as batch_op:
        batch_op.drop_column("byte_order_mark")
    with op.batch_alter_table("xray_source", schema=None) as batch_op:
        batch_op.drop_column("exposure_control_mode_description")
    with op.batch_alter_table("import_settings", schema=None) as batch_op:
        batch_op.drop_column("export_date_format")
