"""What the study lists and the home page read instead of walking every study's dose tree.

* :class:`StudyTotals`: a study's total DLP, DAP and dose at the reference point, one row per
  study, written with the study (``orthanc_rem.study_totals``). The lists filter and sort by them
  (the manual's "Min/Max study DLP", "Total DLP" ordering); computing them per request from the
  events would read every event of every study.
* :class:`SystemStudyCount`: studies per modality and system, kept by database triggers on the
  ``study`` table (migration 0010), so that every path that adds, deletes or re-labels a study
  (import, reprocess, user-defined modality, deletion from the pages) keeps the home page's
  counts right without a GROUP BY over every study on each view.

The indexes that give the lists their order (modality, newest first) are declared here too, on
the ``study`` table, so that a list page reads its rows in index order instead of sorting them.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from orthanc_rem.model.common import Base, Study, measured
from orthanc_rem.model.ct import CtIrradiationEvent
from orthanc_rem.model.projection import ProjectionIrradiationEvent


class StudyTotals(Base):
    """A study's totals as the lists show them (``orthanc_rem.study_document``'s rules)."""

    __tablename__ = "study_totals"

    study_fk: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"), primary_key=True)
    total_dlp_mgycm: Mapped[float | None] = measured("mGy.cm")
    total_dap_gym2: Mapped[float | None] = measured("Gy.m2")
    total_dose_rp_gy: Mapped[float | None] = measured("Gy")

    __table_args__ = (
        # One index per direction: both directions put studies without a total last. Migration 0010
        # writes "DESC NULLS LAST" on PostgreSQL only: SQLite refuses it in an index and reads an
        # ascending index backwards instead (NULLs last that way).
        Index("ix_study_totals_dlp_up", "total_dlp_mgycm", "study_fk"),
        Index("ix_study_totals_dlp_down", total_dlp_mgycm.desc().nulls_last(), study_fk.desc()),
        Index("ix_study_totals_dap_up", "total_dap_gym2", "study_fk"),
        Index("ix_study_totals_dap_down", total_dap_gym2.desc().nulls_last(), study_fk.desc()),
    )


class SystemStudyCount(Base):
    """How many studies of one modality a system (equipment row; 0 for none) holds."""

    __tablename__ = "system_study_count"

    modality: Mapped[str] = mapped_column(String(8), primary_key=True)
    equipment_id: Mapped[int] = mapped_column(Integer, primary_key=True, info={"doc": "0 for no equipment"})
    studies: Mapped[int] = mapped_column(Integer, default=0)


#: The lists' default order (newest first) within one modality.
Index(
    "ix_study_modality_newest",
    Study.modality,
    Study.study_date.desc().nulls_last(),
    Study.study_time.desc().nulls_last(),
    Study.id.desc(),
)
#: The home page's "latest study" of one system: one index probe per system.
Index(
    "ix_study_system_newest",
    Study.modality,
    Study.equipment_id,
    Study.study_date.desc().nulls_last(),
    Study.study_time.desc().nulls_last(),
)

#: PostgreSQL only, where the pg_trgm extension can be created (migration 0010 skips them
#: otherwise): trigram indexes for the lists' "contains" searches on the lower-cased text, so that
#: a rare study description or protocol is found without reading every row. A frequent one is
#: found by walking the date index; the statistics these indexes bring tell the planner which.
Index(
    "ix_study_description_trigram",
    func.lower(Study.study_description).label("description"),
    postgresql_using="gin",
    postgresql_ops={"description": "gin_trgm_ops"},
)
Index(
    "ix_ct_irradiation_event_protocol_trigram",
    func.lower(CtIrradiationEvent.acquisition_protocol).label("protocol"),
    postgresql_using="gin",
    postgresql_ops={"protocol": "gin_trgm_ops"},
)
Index(
    "ix_projection_irradiation_event_protocol_trigram",
    func.lower(ProjectionIrradiationEvent.acquisition_protocol).label("protocol"),
    postgresql_using="gin",
    postgresql_ops={"protocol": "gin_trgm_ops"},
)
