"""Each dose browser user's chart options, as OpenREM keeps them in its user profile (manual 6.3,
"Chart options"; feature inventory part 1 §8.3): general options in :class:`UserChartOptions`, and
per modality the charts shown, the sorting and the time period in :class:`UserModalityChartOptions`.

A user without a row has the manual's defaults (``orthanc_rem.charts.user_options``); rows are
written when the user (or an admin for them) saves the chart options form, and go with the user.
"""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from orthanc_rem.model.common import Base


class UserChartOptions(Base):
    """The manual's "General chart options" of one user."""

    __tablename__ = "user_chart_options"

    user_fk: Mapped[int] = mapped_column(ForeignKey("dose_browser_user.id", ondelete="CASCADE"), primary_key=True)
    #: "Plot charts?": whether the list pages draw (and so compute) charts at all.
    plot_charts: Mapped[bool] = mapped_column(Boolean)
    average: Mapped[str] = mapped_column(String(8), info={"doc": "mean, median or both"})
    descending: Mapped[bool] = mapped_column(Boolean)
    series_per_system: Mapped[bool] = mapped_column(Boolean)
    case_insensitive: Mapped[bool] = mapped_column(Boolean)
    histogram: Mapped[bool] = mapped_column(Boolean)
    bins: Mapped[int] = mapped_column(Integer)
    normalise: Mapped[bool] = mapped_column(Boolean)


class UserModalityChartOptions(Base):
    """One user's options for one modality's charts: which are shown, sorting, time period."""

    __tablename__ = "user_modality_chart_options"

    user_fk: Mapped[int] = mapped_column(ForeignKey("dose_browser_user.id", ondelete="CASCADE"), primary_key=True)
    modality: Mapped[str] = mapped_column(String(8), primary_key=True)
    #: The chart names shown (``orthanc_rem.charts.catalogue``), space separated; unknown names are ignored.
    charts: Mapped[str] = mapped_column(Text)
    sort: Mapped[str] = mapped_column(String(16), info={"doc": "value, frequency or name"})
    period: Mapped[str] = mapped_column(String(8), info={"doc": "day, week, month or year"})
