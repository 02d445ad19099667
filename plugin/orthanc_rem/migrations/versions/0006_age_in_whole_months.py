"""ages stored in whole months where the birth date is not stored

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 23:00:00

An age computed from the birth date and stored at full float precision gives the birth date back
from the study date. Rows stored before this revision are floored to whole months (the birth month
itself is gone, so the floor of the stored age is the best that can be done); rows that keep their
birth date are left as they are. The precision given up cannot be restored by a downgrade.
"""

import math

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

_patient = sa.table(
    'patient',
    sa.column('id', sa.Integer()),
    sa.column('birth_date', sa.Date()),
    sa.column('age_years', sa.Float()),
)


def _whole_months(age_years: float) -> float | None:
    """Kept here, not imported, so that this revision means the same whatever the code becomes."""
    if not math.isfinite(age_years):
        return None
    return math.floor(age_years * 12 + 1e-6) / 12


def upgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(_patient.c.id, _patient.c.age_years).where(
            _patient.c.birth_date.is_(None), _patient.c.age_years.is_not(None)
        )
    ).all()
    for patient_id, age_years in rows:
        rounded = _whole_months(age_years)
        if rounded != age_years:
            connection.execute(
                sa.update(_patient).where(_patient.c.id == patient_id).values(age_years=rounded)
            )


def downgrade() -> None:
    pass
