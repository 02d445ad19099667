"""background jobs: the worker running each job and its heartbeat

Exports and patient size imports record their worker's host and process as query-retrieve
queries already did, and all three the last time their worker was seen (``job_liveness``).
A size import gets the ``error`` exports have, so that its page says why it failed.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02 06:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

WORKER_TABLES = ('export_job', 'size_import_job')


def upgrade() -> None:
    for table in WORKER_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('worker_host', sa.String(length=255), nullable=True))
            batch_op.add_column(sa.Column('worker_pid', sa.Integer(), nullable=True))
            batch_op.add_column(sa.Column('heartbeat_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('qr_query', schema=None) as batch_op:
        batch_op.add_column(sa.Column('heartbeat_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('size_import_job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('error', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('size_import_job', schema=None) as batch_op:
        batch_op.drop_column('error')
    with op.batch_alter_table('qr_query', schema=None) as batch_op:
        batch_op.drop_column('heartbeat_at')
    for table in reversed(WORKER_TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('heartbeat_at')
            batch_op.drop_column('worker_pid')
            batch_op.drop_column('worker_host')
