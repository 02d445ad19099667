"""server-side login sessions and shared failed-login counts

Issue 7: a stolen session cookie stayed valid until it expired, and each process counted failed
logins on its own. Two new tables; nothing existing changes. Sessions opened before this
migration (signed cookies without a token) end: their users log in again once.

Revision ID: 0017
Revises: 0016b
Create Date: 2026-12-02 06:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016b'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'dose_browser_session',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('user_fk', sa.Integer(), nullable=False),
        sa.Column('created', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_fk'], ['dose_browser_user.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash'),
    )
    op.create_index(op.f('ix_dose_browser_session_user_fk'), 'dose_browser_session', ['user_fk'], unique=False)
    op.create_table(
        'failed_login',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name_key', sa.String(length=150), nullable=False),
        sa.Column('at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_failed_login_name_key'), 'failed_login', ['name_key'], unique=False)
    op.create_index(op.f('ix_failed_login_at'), 'failed_login', ['at'], unique=False)


def downgrade() -> None:
    op.drop_table('failed_login')
    op.drop_table('dose_browser_session')
