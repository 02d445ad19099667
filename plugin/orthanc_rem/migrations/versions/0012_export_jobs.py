"""export jobs: background exports with progress, abort and their file

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 01:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('export_job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner', sa.Text(), nullable=True),
    sa.Column('export_format', sa.String(length=16), nullable=False),
    sa.Column('modality', sa.String(length=8), nullable=False),
    sa.Column('with_names', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('with_ids', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('filters', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('abort_requested', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('studies_done', sa.Integer(), nullable=False),
    sa.Column('studies_total', sa.Integer(), nullable=True),
    sa.Column('rows_written', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('file_name', sa.Text(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('export_job', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_export_job_status'), ['status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('export_job', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_export_job_status'))
    op.drop_table('export_job')
