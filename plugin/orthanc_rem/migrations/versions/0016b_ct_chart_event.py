"""narrow per-event rows for the CT acquisition charts (issue 9: a chart under 1 s at 5M events)

``ct_chart_event`` copies per CT irradiation event what the charts group and filter on (study's
modality, date and system; protocol; localiser or not; DLP, CTDIvol); see
``orthanc_rem.model.chart_rows``. The application writes it with each study
(``orthanc_rem.chart_events``); this migration fills it from the events already stored, in one
INSERT ... SELECT (the statement the application runs per study, for every study).

Revision ID: 0016b
Revises: 0016
Create Date: 2026-12-02 06:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0016b'
down_revision = '0016'
branch_labels = None
depends_on = None

_FILL = (
    "INSERT INTO ct_chart_event (event_fk, study_fk, modality, study_date, equipment_id,"
    " acquisition_protocol, localiser, dlp_mgycm, mean_ctdivol_mgy)"
    " SELECT e.id, s.id, s.modality, s.study_date, s.equipment_id, e.acquisition_protocol,"
    " COALESCE(e.ct_acquisition_type_meaning = 'Constant Angle Acquisition', false), e.dlp_mgycm, e.mean_ctdivol_mgy"
    " FROM ct_irradiation_event e"
    " JOIN ct_radiation_dose d ON d.id = e.ct_radiation_dose_fk"
    " JOIN study s ON s.id = d.study_fk"
)


def upgrade() -> None:
    op.create_table(
        'ct_chart_event',
        sa.Column('event_fk', sa.Integer(), nullable=False),
        sa.Column('study_fk', sa.Integer(), nullable=False),
        sa.Column('modality', sa.String(length=8), nullable=False),
        sa.Column('study_date', sa.Date(), nullable=True),
        sa.Column('equipment_id', sa.Integer(), nullable=True),
        sa.Column('acquisition_protocol', sa.Text(), nullable=True),
        sa.Column('localiser', sa.Boolean(), nullable=False),
        sa.Column('dlp_mgycm', sa.Float(), nullable=True),
        sa.Column('mean_ctdivol_mgy', sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(['event_fk'], ['ct_irradiation_event.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['study_fk'], ['study.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('event_fk'),
    )
    op.execute(_FILL)
    op.create_index('ix_ct_chart_event_study_fk', 'ct_chart_event', ['study_fk'])


def downgrade() -> None:
    op.drop_index('ix_ct_chart_event_study_fk', table_name='ct_chart_event')
    op.drop_table('ct_chart_event')
