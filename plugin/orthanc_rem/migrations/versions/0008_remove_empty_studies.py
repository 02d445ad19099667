"""remove the empty studies earlier versions left behind

Up to this version a report that re-used a SOP Instance UID under another Study Instance UID was
recorded as a duplicate but left a study row with no object and no dose data (issue 6: no date, no
events, yet counted in the lists and on the home page). Such a row holds nothing that was read
from a dose object - every stored value hangs off a processed object or a dose tree - so it is
deleted. A study with any processed object or any dose tree is kept, whatever else it lacks.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 23:20:00
"""

from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    empty = (
        "SELECT id FROM study WHERE"
        " NOT EXISTS (SELECT 1 FROM processed_object WHERE processed_object.study_fk = study.id)"
        " AND NOT EXISTS (SELECT 1 FROM ct_radiation_dose WHERE ct_radiation_dose.study_fk = study.id)"
        " AND NOT EXISTS (SELECT 1 FROM projection_xray_radiation_dose"
        " WHERE projection_xray_radiation_dose.study_fk = study.id)"
    )
    # The patient row is the only child an empty study can have.
    op.execute(f"DELETE FROM patient WHERE study_fk IN ({empty})")
    op.execute(f"DELETE FROM study WHERE id IN ({empty})")


def downgrade() -> None:
    pass  # the deleted rows held no dose data; there is nothing to restore
