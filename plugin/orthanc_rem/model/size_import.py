"""Patient size imports from CSV files (manual, "Patient size import from csv").

One :class:`SizeImportJob` per uploaded file: what the columns mean, how far the background job
got (the page's progress bar), whether an abort was asked for, and the job's log, kept to be
downloaded until someone deletes it. The CSV itself is kept in the database (not in a folder) so
that a worker in another container reads it too, and it is dropped as soon as the job ends, as the
manual says the source file is. It has a table of its own (:class:`SizeImportFile`): the job's row
is updated at every progress step and read by every poll of the page, and SQLite rewrites a row
whole, file included (a 200,000-row file took 132 s instead of 6 s when it was in the row).
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from orthanc_rem.model.common import Base
from orthanc_rem.model.job import AbortableJob


class SizeImportJob(AbortableJob, Base):
    __tablename__ = "size_import_job"
    STATUS_DOC = "columns (awaiting the column mapping), queued, running, finished, aborted, failed"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    filename: Mapped[str] = mapped_column(Text)
    identifier_column: Mapped[str | None] = mapped_column(Text, nullable=True)
    identifier_type: Mapped[str | None] = mapped_column(
        String(32), nullable=True, info={"doc": "accession_number or study_instance_uid"}
    )
    height_column: Mapped[str | None] = mapped_column(Text, nullable=True)
    weight_column: Mapped[str | None] = mapped_column(Text, nullable=True)
    height_unit: Mapped[str] = mapped_column(String(4), default="cm", info={"doc": "cm or m, as in the file"})
    rows_total: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    log: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text, nullable=True, info={"doc": "why it failed, as on the page"})
    file: Mapped[SizeImportFile | None] = relationship(cascade="all, delete-orphan", passive_deletes=True)

    @property
    def csv_content(self) -> bytes | None:
        """The uploaded file, read only when asked for (the list of jobs never loads it)."""
        return self.file.content if self.file is not None else None

    @csv_content.setter
    def csv_content(self, content: bytes | None) -> None:
        self.file = SizeImportFile(content=content) if content is not None else None


class SizeImportFile(Base):
    """The uploaded file of a job that has not ended yet."""

    __tablename__ = "size_import_file"

    job_fk: Mapped[int] = mapped_column(ForeignKey("size_import_job.id", ondelete="CASCADE"), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
