"""skin dose map cache per study, geometry assigned to a system

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 02:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('skin_dose_map',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_fk', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('peak_skin_dose_gy', sa.Float(), nullable=True),
    sa.Column('phantom', sa.Text(), nullable=True),
    sa.Column('patient_height_m', sa.Float(), nullable=True),
    sa.Column('height_assumed', sa.Boolean(), nullable=False),
    sa.Column('patient_mass_kg', sa.Float(), nullable=True),
    sa.Column('mass_assumed', sa.Boolean(), nullable=False),
    sa.Column('orientation', sa.Text(), nullable=True),
    sa.Column('orientation_assumed', sa.Boolean(), nullable=False),
    sa.Column('device_geometry', sa.Text(), nullable=True),
    sa.Column('grid_rows', sa.Integer(), nullable=True),
    sa.Column('grid_columns', sa.Integer(), nullable=True),
    sa.Column('grid_mgy_float32', sa.LargeBinary(), nullable=True),
    sa.Column('cell_length_cm', sa.Float(), nullable=True),
    sa.Column('cell_angle_rad', sa.Float(), nullable=True),
    sa.Column('column_arc_cm', sa.JSON(), nullable=True),
    sa.Column('assumptions', sa.JSON(), nullable=True),
    sa.Column('inputs_used', sa.JSON(), nullable=True),
    sa.Column('events_modelled', sa.Integer(), nullable=True),
    sa.Column('engine_name', sa.Text(), nullable=True),
    sa.Column('engine_version', sa.Text(), nullable=True),
    sa.Column('inputs_hash', sa.String(length=64), nullable=True),
    sa.Column('computed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['study_fk'], ['study.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('study_fk')
    )
    op.create_table('skin_dose_device',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('equipment_fk', sa.Integer(), nullable=False),
    sa.Column('geometry', sa.String(length=32), nullable=False),
    sa.Column('assigned_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['equipment_fk'], ['equipment.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('equipment_fk')
    )


def downgrade() -> None:
    op.drop_table('skin_dose_device')
    op.drop_table('skin_dose_map')
