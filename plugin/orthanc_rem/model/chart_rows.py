"""What the CT acquisition charts read: one narrow row per CT irradiation event.

Issue 9's target is a chart in under a second over a million CT studies (five million events) on
PostgreSQL. Read from the dose tree, a DLP-per-protocol chart joins every event to its dose report,
its study and its system and reads the wide event rows (tens of columns): 19 s for all studies,
4.3 s even for the mean alone. :class:`CtChartEvent` holds per event only what those charts group,
filter and average on (the study's modality, date and system; the protocol; whether it is a
localiser; DLP and CTDIvol), so that a chart is one parallel scan of one narrow table.

Written with the study (``orthanc_rem.chart_events``, called where ``study_totals`` is refreshed:
import, replacement, reprocessing, user-defined modality); removed with the study or the event
(``ON DELETE CASCADE``). The system is kept as its equipment id, not its display name, so that
renaming a system (display names) changes nothing here.

The two value indexes (migration 0021) hold each (protocol, system)'s DLP and CTDIvol in order,
with the columns the charts filter on included, so that a median is read from an index-only
range instead of a second scan of the table (``charts.indexed_medians``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from orthanc_rem.model.common import Base, measured

#: What the value indexes include besides their keys: the columns a modality-and-dates chart tests.
FILTERED = ("localiser", "modality", "study_date")


class CtChartEvent(Base):
    """A CT irradiation event as the charts see it (copied from the event and its study)."""

    __tablename__ = "ct_chart_event"

    event_fk: Mapped[int] = mapped_column(ForeignKey("ct_irradiation_event.id", ondelete="CASCADE"), primary_key=True)
    study_fk: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"), index=True)
    modality: Mapped[str] = mapped_column(String(8))
    study_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    equipment_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    acquisition_protocol: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: CT Acquisition Type "Constant Angle Acquisition" (localiser), left out of most CT charts.
    localiser: Mapped[bool] = mapped_column(Boolean)
    dlp_mgycm: Mapped[float | None] = measured("mGy.cm")
    mean_ctdivol_mgy: Mapped[float | None] = measured("mGy")

    __table_args__ = tuple(
        Index(f"ix_ct_chart_event_{name}_order", "acquisition_protocol", "equipment_id", column,
              postgresql_include=FILTERED)
        for name, column in (("dlp", "dlp_mgycm"), ("ctdivol", "mean_ctdivol_mgy"))
    )  # fmt: skip
