"""Query-retrieve: remote nodes, queries with their progress and QR log, results, retrieved
objects and saved (scheduled) queries (manual: "DICOM Query Retrieve Service").

A node is the source of truth for the Orthanc modality of the same name (``remqr-<name>``):
Orthanc keeps modalities added over REST in memory only, so the worker declares it again before
each use. Query rows are kept (not deleted after a retrieve as OpenREM did) so that the QR log
stays readable from the page; options and results are JSON documents of ``orthanc_rem.qr``.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from orthanc_rem.model.common import Base
from orthanc_rem.model.job import BackgroundJob


class QrNode(Base):
    """A remote query-retrieve SCP (PACS or modality): manual "Add new QR Node"."""

    __tablename__ = "qr_node"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    aet: Mapped[str] = mapped_column(String(16), info={"doc": "AE title of the remote node"})
    calling_aet: Mapped[str | None] = mapped_column(
        String(16), nullable=True, info={"doc": "our AE title towards this node; Orthanc's own when empty"}
    )
    host: Mapped[str] = mapped_column(Text, info={"doc": "host name or IP address"})
    port: Mapped[int] = mapped_column(Integer)
    use_modality_tag: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false(), info={"doc": "Impax 6.6: Modality key at study level"}
    )
    echo_ok: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    echo_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    echo_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)


class QrQuery(BackgroundJob, Base):
    """One query (and its retrieve): options, status, stage shown live, counts and the QR log."""

    __tablename__ = "qr_query"
    STATUS_DOC = "queued, querying, queried, retrieving, retrieved, failed"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    node_fk: Mapped[int | None] = mapped_column(
        ForeignKey("qr_node.id", ondelete="SET NULL"), nullable=True, index=True
    )
    node_name: Mapped[str] = mapped_column(String(64), info={"doc": "kept when the node is removed"})
    options: Mapped[str] = mapped_column(Text, info={"doc": "JSON of qr.options.QueryOptions"})
    retrieve: Mapped[bool] = mapped_column(Boolean, default=False, info={"doc": "retrieve once queried"})
    stage: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str | None] = mapped_column(Text, nullable=True, info={"doc": "why it failed"})
    counts: Mapped[str | None] = mapped_column(Text, nullable=True, info={"doc": "JSON: studies per type"})
    study_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    object_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    moved_series: Mapped[int] = mapped_column(Integer, default=0)
    total_series: Mapped[int] = mapped_column(Integer, default=0)
    schedule_fk: Mapped[int | None] = mapped_column(
        ForeignKey("qr_schedule.id", ondelete="SET NULL"), nullable=True, index=True
    )
    created_by: Mapped[str | None] = mapped_column(Text, nullable=True)

    log_lines: Mapped[list[QrLogLine]] = relationship(
        back_populates="query", cascade="all, delete-orphan", order_by="QrLogLine.id"
    )
    results: Mapped[list[QrResult]] = relationship(
        back_populates="query", cascade="all, delete-orphan", order_by="QrResult.id"
    )


class QrLogLine(Base):
    """One step of a query or retrieve (the manual's openrem_qr.log, per query)."""

    __tablename__ = "qr_log_line"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    query_fk: Mapped[int] = mapped_column(ForeignKey("qr_query.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    line: Mapped[str] = mapped_column(Text)

    query: Mapped[QrQuery] = relationship(back_populates="log_lines")


class QrResult(Base):
    """A study left after the filtering logic: what a retrieve asks the node for."""

    __tablename__ = "qr_result"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    query_fk: Mapped[int] = mapped_column(ForeignKey("qr_query.id", ondelete="CASCADE"), index=True)
    study_instance_uid: Mapped[str] = mapped_column(String(64))
    modality_type: Mapped[str | None] = mapped_column(String(8), nullable=True)
    study_description: Mapped[str | None] = mapped_column(Text, nullable=True)
    study_date: Mapped[str | None] = mapped_column(String(8), nullable=True)
    series: Mapped[str] = mapped_column(
        Text, info={"doc": "JSON list: series UID, modality, image_level_move, SOP Instance UIDs"}
    )
    object_count: Mapped[int] = mapped_column(Integer, default=0)
    retrieved: Mapped[bool] = mapped_column(Boolean, default=False)

    query: Mapped[QrQuery] = relationship(back_populates="results")


class QrRetrievedObject(Base):
    """An object a retrieve asked for; ``orthanc_id`` once Orthanc holds it (None: not received).
    ``orthanc-rem qr --wait`` waits until each received one has an outcome."""

    __tablename__ = "qr_retrieved_object"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    query_fk: Mapped[int] = mapped_column(ForeignKey("qr_query.id", ondelete="CASCADE"), index=True)
    study_instance_uid: Mapped[str] = mapped_column(String(64))
    series_instance_uid: Mapped[str] = mapped_column(String(64))
    sop_instance_uid: Mapped[str] = mapped_column(String(64))
    orthanc_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class QrSchedule(Base):
    """A saved query run by the worker every ``every_minutes`` over the last ``look_back_minutes``
    (replaces the manual's cron and Task Scheduler scripts: "DX of the date one hour ago")."""

    __tablename__ = "qr_schedule"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    node_fk: Mapped[int] = mapped_column(ForeignKey("qr_node.id", ondelete="CASCADE"), index=True)
    options: Mapped[str] = mapped_column(Text, info={"doc": "JSON of QueryOptions without dates"})
    every_minutes: Mapped[int] = mapped_column(Integer)
    look_back_minutes: Mapped[int] = mapped_column(Integer)
    retrieve: Mapped[bool] = mapped_column(Boolean, default=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_run_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
