"""Export jobs: what was asked (type, modality, filters, patient data), by whom, and how it went.

A row is created when a user (or the command line) starts an export; the worker that runs it
updates the progress (studies done of total) after every batch and reads ``abort_requested``
there, so an abort takes effect within one batch. The file lives under the data folder
(``file_name`` is relative to its ``exports`` folder) and goes with the row.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from orthanc_rem.model.common import Base
from orthanc_rem.model.job import AbortableJob


class ExportJob(AbortableJob, Base):
    __tablename__ = "export_job"
    STATUS_DOC = "queued, running, finished, failed, aborted"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner: Mapped[str | None] = mapped_column(
        Text, nullable=True, info={"doc": "user name of who started it; None before login existed or from the CLI"}
    )
    export_format: Mapped[str] = mapped_column(String(16), info={"doc": "csv, xlsx or nhsbsp"})
    modality: Mapped[str] = mapped_column(String(8))
    with_names: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    with_ids: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: CSV: start with a UTF-8 byte order mark (``orthanc-rem export --bom``), for Excel.
    byte_order_mark: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, info={"doc": "the study list's query string, as given"})
    studies_done: Mapped[int] = mapped_column(Integer, default=0)
    studies_total: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rows_written: Mapped[int | None] = mapped_column(Integer, nullable=True)
    file_name: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
