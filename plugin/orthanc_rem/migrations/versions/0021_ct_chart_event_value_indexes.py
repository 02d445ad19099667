"""ct_chart_event: DLP and CTDIvol in order per protocol and system, for the charts' medians

Each index holds (acquisition_protocol, equipment_id, value) with the columns the charts filter
on included (localiser, modality, study date): the median of a group is then read from a short
index-only range (``orthanc_rem.charts.indexed_medians``) instead of a second scan of the table.
PostgreSQL only has INCLUDE; SQLite gets the three key columns.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02 11:00:00
"""

from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

INDEXES = {'ix_ct_chart_event_dlp_order': 'dlp_mgycm', 'ix_ct_chart_event_ctdivol_order': 'mean_ctdivol_mgy'}
INCLUDED = ['localiser', 'modality', 'study_date']


def upgrade() -> None:
    for name, value in INDEXES.items():
        op.create_index(name, 'ct_chart_event', ['acquisition_protocol', 'equipment_id', value],
                        postgresql_include=INCLUDED)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name='ct_chart_event')
