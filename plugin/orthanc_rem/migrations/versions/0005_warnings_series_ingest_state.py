"""extraction warnings, series instance UID, ingest state

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 22:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('extraction_warning',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('processed_object_fk', sa.Integer(), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['processed_object_fk'], ['processed_object.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('extraction_warning', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_extraction_warning_processed_object_fk'), ['processed_object_fk'], unique=False)

    op.create_table('ingest_state',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    with op.batch_alter_table('processed_object', schema=None) as batch_op:
        batch_op.add_column(sa.Column('series_instance_uid', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('processed_object', schema=None) as batch_op:
        batch_op.drop_column('series_instance_uid')
    op.drop_table('ingest_state')
    with op.batch_alter_table('extraction_warning', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_extraction_warning_processed_object_fk'))
    op.drop_table('extraction_warning')
