"""Columns every background job shares: exports, patient size imports, query-retrieve queries.

Each table keeps its own progress columns (studies, rows, series: what its page shows), but how a
job is followed is one pattern: a status, when it was created and when it ended, and which worker
runs it with the last time that worker was seen (``orthanc_rem.job_liveness``). A worker killed
mid-job (SIGKILL, the out-of-memory killer, a container stopped) ends nothing itself; its job is
then recognised by the heartbeat that stopped, on any host, and marked failed with the reason.
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from sqlalchemy import Boolean, DateTime, Integer, String, false
from sqlalchemy.orm import Mapped, declared_attr, mapped_column


class BackgroundJob:
    """Mixin of the job tables (declarative: each table gets its own copy of the columns)."""

    #: The statuses, for the column's documentation.
    STATUS_DOC: ClassVar[str]

    @declared_attr
    def status(cls) -> Mapped[str]:
        return mapped_column(String(16), index=True, info={"doc": cls.STATUS_DOC})

    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    worker_host: Mapped[str | None] = mapped_column(
        String(255), nullable=True, info={"doc": "host name of the worker running it"}
    )
    worker_pid: Mapped[int | None] = mapped_column(
        Integer, nullable=True, info={"doc": "process id of the worker running it, on worker_host"}
    )
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime, nullable=True, info={"doc": "last time its worker was seen alive (UTC)"}
    )


class AbortableJob(BackgroundJob):
    """A job the user may stop between two of its steps, and which says when it started."""

    abort_requested: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
