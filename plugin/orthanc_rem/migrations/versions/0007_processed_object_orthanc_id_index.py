"""index on processed_object.orthanc_id

Reconciliation compares every instance Orthanc holds with the outcomes we stored, a page of
Orthanc IDs at a time; without this index each page is a scan of every processed object.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 22:30:00
"""

from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('processed_object', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_processed_object_orthanc_id'), ['orthanc_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('processed_object', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_processed_object_orthanc_id'))
