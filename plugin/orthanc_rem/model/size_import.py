"""Patient size imports from CSV files (manual, "Patient size import from csv").

One :class:`SizeImportJob` per uploaded file: what the columns mean, how far the background job
got (the page's progress bar), whether an abort was asked for, and the job's log, kept to be
downloaded until someone deletes it. The CSV itself is kept in the row (not in a folder) so that
a worker in another container reads it too, and it is dropped as soon as the job ends, as the
manual says the source file is.
"""

from __future__ import annotations

from sqlalchemy import Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

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
    csv_content: Mapped[bytes | None] = mapped_column(
        LargeBinary, nullable=True, info={"doc": "the uploaded file; dropped when the job ends"}
    )
    log: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text, nullable=True, info={"doc": "why it failed, as on the page"})
