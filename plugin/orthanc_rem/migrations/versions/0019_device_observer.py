"""device observer (TID 1004) of projection dose reports

Five nullable text columns on projection_xray_radiation_dose; rows stored before this revision keep
them empty until their report is processed again (``orthanc-rem reprocess``).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 06:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = '0018'
branch_labels = None
depends_on = None

COLUMNS = (
    "device_observer_uid",
    "device_observer_name",
    "device_observer_manufacturer",
    "device_observer_model_name",
    "device_observer_serial_number",
)


def upgrade() -> None:
    with op.batch_alter_table("projection_xray_radiation_dose", schema=None) as batch_op:
        for name in COLUMNS:
            batch_op.add_column(sa.Column(name, sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("projection_xray_radiation_dose", schema=None) as batch_op:
        for name in reversed(COLUMNS):
            batch_op.drop_column(name)
