"""study lists at scale: order indexes, study totals, per-system study counts kept by triggers

Measured on PostgreSQL with a million CT studies (issue 7), a list page sorted every study of the
modality (no index matched its order), the total was another full scan and the home page ran two
GROUP BYs over every study. This adds:

* indexes matching the lists' default order and the home page's "latest study" per system;
* ``study_totals`` (total DLP, DAP, dose at the RP per study) so that the lists filter and sort by
  them; it is filled by the application (``orthanc_rem.study_totals.fill_missing`` runs after every
  upgrade), which computes them with the same code as the pages, not here;
* ``system_study_count``, kept by triggers on ``study`` whatever code adds, deletes or re-labels a
  study, filled here from the studies already stored (SQLite: row triggers; PostgreSQL: statement
  triggers over transition tables, see below).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 02:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

_COUNT_KEY = "modality, equipment_id"

# PostgreSQL: statement-level triggers over the statement's transition tables, so that a COPY or a
# multi-row UPDATE/DELETE changes each count once. Row-level triggers updating one counter row
# thousands of times in one transaction grow that row's version chain (MVCC): a 100,000-study
# load took 162 s instead of 8 s for 20,000.
_GROUPED = "SELECT modality, COALESCE(equipment_id, 0) AS equipment_id, COUNT(*) AS n FROM {rows} GROUP BY 1, 2"
_PG_ADD = (
    "INSERT INTO system_study_count (modality, equipment_id, studies) SELECT modality, equipment_id, n FROM ({rows}) g"
    " ON CONFLICT (modality, equipment_id) DO UPDATE SET studies = system_study_count.studies + EXCLUDED.studies;"
)
_PG_REMOVE = (
    "UPDATE system_study_count c SET studies = c.studies - g.n FROM ({rows}) g"
    " WHERE c.modality = g.modality AND c.equipment_id = g.equipment_id;"
)
_MOVED = (
    "(SELECT {side}.* FROM old_studies o JOIN new_studies n ON n.id = o.id"
    " WHERE o.modality IS DISTINCT FROM n.modality OR o.equipment_id IS DISTINCT FROM n.equipment_id) moved"
)
_POSTGRESQL_TRIGGERS = (
    f"""
    CREATE FUNCTION rem_count_studies() RETURNS trigger AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            {_PG_ADD.format(rows=_GROUPED.format(rows="new_studies"))}
        ELSIF TG_OP = 'DELETE' THEN
            {_PG_REMOVE.format(rows=_GROUPED.format(rows="old_studies"))}
        ELSE
            {_PG_REMOVE.format(rows=_GROUPED.format(rows=_MOVED.format(side="o")))}
            {_PG_ADD.format(rows=_GROUPED.format(rows=_MOVED.format(side="n")))}
        END IF;
        RETURN NULL;
    END $$ LANGUAGE plpgsql
    """,
    "CREATE TRIGGER rem_count_studies_insert AFTER INSERT ON study REFERENCING NEW TABLE AS new_studies"
    " FOR EACH STATEMENT EXECUTE FUNCTION rem_count_studies()",
    "CREATE TRIGGER rem_count_studies_delete AFTER DELETE ON study REFERENCING OLD TABLE AS old_studies"
    " FOR EACH STATEMENT EXECUTE FUNCTION rem_count_studies()",
    "CREATE TRIGGER rem_count_studies_update AFTER UPDATE ON study"
    " REFERENCING OLD TABLE AS old_studies NEW TABLE AS new_studies"
    " FOR EACH STATEMENT EXECUTE FUNCTION rem_count_studies()",
)

_ADD = (
    "INSERT INTO system_study_count (modality, equipment_id, studies)"
    " VALUES (NEW.modality, COALESCE(NEW.equipment_id, 0), 1)"
    " ON CONFLICT (modality, equipment_id) DO UPDATE SET studies = studies + 1;"
)
_REMOVE = (
    "UPDATE system_study_count SET studies = studies - 1"
    " WHERE modality = OLD.modality AND equipment_id = COALESCE(OLD.equipment_id, 0);"
)
_SQLITE_TRIGGERS = (
    f"CREATE TRIGGER rem_count_studies_insert AFTER INSERT ON study BEGIN {_ADD} END",
    f"CREATE TRIGGER rem_count_studies_delete AFTER DELETE ON study BEGIN {_REMOVE} END",
    "CREATE TRIGGER rem_count_studies_update AFTER UPDATE OF modality, equipment_id ON study"
    " WHEN OLD.modality IS NOT NEW.modality OR OLD.equipment_id IS NOT NEW.equipment_id"
    f" BEGIN {_REMOVE} {_ADD} END",
)


#: Newest (largest) first with NULLs last. PostgreSQL must be told; SQLite (which refuses these
#: words in an index) scans an ascending index backwards and has NULLs last that way.
_DOWN = "DESC NULLS LAST"


def upgrade() -> None:
    op.create_table(
        'study_totals',
        sa.Column('study_fk', sa.Integer(), nullable=False),
        sa.Column('total_dlp_mgycm', sa.Float(), nullable=True),
        sa.Column('total_dap_gym2', sa.Float(), nullable=True),
        sa.Column('total_dose_rp_gy', sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(['study_fk'], ['study.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('study_fk'),
    )
    op.create_index('ix_study_totals_dlp_up', 'study_totals', ['total_dlp_mgycm', 'study_fk'])
    op.create_index(
        'ix_study_totals_dlp_down',
        'study_totals',
        ['total_dlp_mgycm', 'study_fk'],
        postgresql_ops={'total_dlp_mgycm': _DOWN, 'study_fk': 'DESC'},
    )
    op.create_index('ix_study_totals_dap_up', 'study_totals', ['total_dap_gym2', 'study_fk'])
    op.create_index(
        'ix_study_totals_dap_down',
        'study_totals',
        ['total_dap_gym2', 'study_fk'],
        postgresql_ops={'total_dap_gym2': _DOWN, 'study_fk': 'DESC'},
    )
    op.create_table(
        'system_study_count',
        sa.Column('modality', sa.String(length=8), nullable=False),
        sa.Column('equipment_id', sa.Integer(), nullable=False),
        sa.Column('studies', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('modality', 'equipment_id'),
    )
    op.create_index(
        'ix_study_modality_newest',
        'study',
        ['modality', 'study_date', 'study_time', 'id'],
        postgresql_ops={'study_date': _DOWN, 'study_time': _DOWN, 'id': 'DESC'},
    )
    op.create_index(
        'ix_study_system_newest',
        'study',
        ['modality', 'equipment_id', 'study_date', 'study_time'],
        postgresql_ops={'study_date': _DOWN, 'study_time': _DOWN},
    )
    op.execute(
        f"INSERT INTO system_study_count ({_COUNT_KEY}, studies)"
        " SELECT modality, COALESCE(equipment_id, 0), COUNT(*) FROM study GROUP BY modality, COALESCE(equipment_id, 0)"
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in _POSTGRESQL_TRIGGERS if postgresql else _SQLITE_TRIGGERS:
        op.execute(statement)
    if postgresql and _trigram_extension():
        for name, table, column in _TRIGRAM_INDEXES:
            op.execute(f"CREATE INDEX {name} ON {table} USING gin (lower({column}) gin_trgm_ops)")


#: (index, table, column) of the trigram indexes for "contains" searches (PostgreSQL with pg_trgm).
_TRIGRAM_INDEXES = (
    ("ix_study_description_trigram", "study", "study_description"),
    ("ix_ct_irradiation_event_protocol_trigram", "ct_irradiation_event", "acquisition_protocol"),
    ("ix_projection_irradiation_event_protocol_trigram", "projection_irradiation_event", "acquisition_protocol"),
)


def _trigram_extension() -> bool:
    """Create pg_trgm if we may (a trusted extension: the database's owner may since PostgreSQL
    13); without it the searches work the same, reading more rows."""
    connection = op.get_bind()
    savepoint = connection.begin_nested()
    try:
        connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except sa.exc.DBAPIError:
        savepoint.rollback()
        return False
    savepoint.commit()
    return True


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        for name, _table, _column in _TRIGRAM_INDEXES:
            op.execute(f"DROP INDEX IF EXISTS {name}")
    for name in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER rem_count_studies_{name}" + (" ON study" if postgresql else ""))
    if postgresql:
        op.execute("DROP FUNCTION rem_count_studies()")
    op.drop_index('ix_study_system_newest', table_name='study')
    op.drop_index('ix_study_modality_newest', table_name='study')
    op.drop_table('system_study_count')
    op.drop_table('study_totals')
