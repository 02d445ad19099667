"""per-user chart options (issue 9): general options and per-modality charts, sorting and period

Until now the chart panel kept its choices in the browser (localStorage); the manual keeps them
per user, settable by the user and by an administrator. New tables only; a user without rows has
the manual's defaults.

Revision ID: 0016
Revises: 0014
Create Date: 2026-12-02 06:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'user_chart_options',
        sa.Column('user_fk', sa.Integer(), nullable=False),
        sa.Column('plot_charts', sa.Boolean(), nullable=False),
        sa.Column('average', sa.String(length=8), nullable=False),
        sa.Column('descending', sa.Boolean(), nullable=False),
        sa.Column('series_per_system', sa.Boolean(), nullable=False),
        sa.Column('case_insensitive', sa.Boolean(), nullable=False),
        sa.Column('histogram', sa.Boolean(), nullable=False),
        sa.Column('bins', sa.Integer(), nullable=False),
        sa.Column('normalise', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['user_fk'], ['dose_browser_user.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_fk'),
    )
    op.create_table(
        'user_modality_chart_options',
        sa.Column('user_fk', sa.Integer(), nullable=False),
        sa.Column('modality', sa.String(length=8), nullable=False),
        sa.Column('charts', sa.Text(), nullable=False),
        sa.Column('sort', sa.String(length=16), nullable=False),
        sa.Column('period', sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(['user_fk'], ['dose_browser_user.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_fk', 'modality'),
    )


def downgrade() -> None:
    op.drop_table('user_modality_chart_options')
    op.drop_table('user_chart_options')
