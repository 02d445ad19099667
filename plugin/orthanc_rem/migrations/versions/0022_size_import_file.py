"""patient size imports: the uploaded file in a table of its own

The job's row is updated at every progress step (and read by every poll of the sizes page);
SQLite rewrites a row whole, so with the file in it each step rewrote the file: a 200,000-row
file took 132 s where 20,000 rows took 3 s. Files of jobs that have not ended move over.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02 11:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'size_import_file',
        sa.Column('job_fk', sa.Integer(), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(['job_fk'], ['size_import_job.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('job_fk'),
    )
    op.execute(
        'INSERT INTO size_import_file (job_fk, content) '
        'SELECT id, csv_content FROM size_import_job WHERE csv_content IS NOT NULL'
    )
    with op.batch_alter_table('size_import_job', schema=None) as batch_op:
        batch_op.drop_column('csv_content')


def downgrade() -> None:
    with op.batch_alter_table('size_import_job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('csv_content', sa.LargeBinary(), nullable=True))
    op.execute(
        'UPDATE size_import_job SET csv_content = '
        '(SELECT content FROM size_import_file WHERE size_import_file.job_fk = size_import_job.id)'
    )
    op.drop_table('size_import_file')
