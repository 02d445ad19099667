"""patient size import jobs

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 02:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('size_import_job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('identifier_column', sa.Text(), nullable=True),
    sa.Column('identifier_type', sa.String(length=32), nullable=True),
    sa.Column('height_column', sa.Text(), nullable=True),
    sa.Column('weight_column', sa.Text(), nullable=True),
    sa.Column('height_unit', sa.String(length=4), nullable=False),
    sa.Column('rows_total', sa.Integer(), nullable=True),
    sa.Column('rows_done', sa.Integer(), nullable=False),
    sa.Column('abort_requested', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('csv_content', sa.LargeBinary(), nullable=True),
    sa.Column('log', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('size_import_job', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_size_import_job_status'), ['status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('size_import_job', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_size_import_job_status'))
    op.drop_table('size_import_job')
