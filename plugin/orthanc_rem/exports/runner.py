"""One export from a selection of studies to a file, streamed in batches, with progress and abort.

The study ids are taken once at the start (a list of integers, the only thing held for the whole
export); each batch then reads its studies in one short read transaction, so an export of any
size neither holds the database's snapshot for minutes nor the result in memory. A study deleted
or replaced (re-imported under a new id) after the start is reported in the file (OpenREM #614)
and the export goes on. The command line and the background job both call :func:`run_export`.
"""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, sessionmaker

from orthanc_rem.exports import ct_csv_postgres, nhsbsp
from orthanc_rem.exports.columns import PatientData
from orthanc_rem.exports.csv_file import CsvExport
from orthanc_rem.exports.ct_layout import CT
from orthanc_rem.exports.fluoro_layout import RF
from orthanc_rem.exports.layout import Layout
from orthanc_rem.exports.projection_layout import DX, MG
from orthanc_rem.exports.study_header import StudyDose, study_headers
from orthanc_rem.exports.values import (
    all_data_columns,
    missing_study_message,
    protocol_sheet_columns,
    study_level_columns,
    study_level_values,
    with_blocks,
)
from orthanc_rem.exports.xlsx_file import DEFAULT_DATE_FORMAT, XlsxExport

LAYOUTS: dict[str, Layout] = {"CT": CT, "DX": DX, "RF": RF, "MG": MG}
#: Batches between two runs of the garbage collector (see ``read_batches``).
COLLECT_EVERY = 50
ZERO_STUDIES = "Export aborted - zero studies in the filter!"


class ExportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    NHSBSP = "nhsbsp"


class NoStudies(ValueError):
    """The filter selects no study: a clear error, no empty file (OpenREM #589)."""


class ExportAborted(Exception):
    """The user aborted the export; the partial file is removed."""


@dataclass(frozen=True)
class ExportRequest:
    modality: str
    format: ExportFormat
    patient: PatientData = field(default_factory=PatientData)
    byte_order_mark: bool = False
    date_format: str = DEFAULT_DATE_FORMAT

    def __post_init__(self) -> None:
        if self.modality not in LAYOUTS:
            raise ValueError(f"modality must be one of {', '.join(LAYOUTS)}, not {self.modality!r}")
        if self.format == ExportFormat.NHSBSP and self.modality != "MG":
            raise ValueError("the NHSBSP export is for mammography (MG) only")

    @property
    def type_label(self) -> str:
        """OpenREM's export type names: "CSV export", "XLSX export", "NHSBSP CSV export"."""
        label = {"csv": "CSV export", "xlsx": "XLSX export", "nhsbsp": "NHSBSP CSV export"}[self.format]
        return f"{label} {self.patient.label}".strip()

    def file_name(self, when: dt.datetime) -> str:
        """OpenREM's names: ``ctexportYYYYMMDD-HHMMSSffffff.xlsx``, ``mg_nhsbsp_….csv``."""
        stamp = f"{when:%Y%m%d-%H%M%S%f}"
        if self.format == ExportFormat.NHSBSP:
            return f"mg_nhsbsp_{stamp}.csv"
        return f"{self.modality.lower()}export{stamp}.{'xlsx' if self.format == ExportFormat.XLSX else 'csv'}"


@dataclass(frozen=True)
class ExportResult:
    studies: int
    rows: int
    missing: int


Progress = Callable[[int, int], None]
T = TypeVar("T")


def _version() -> str:
    try:
        return metadata.version("orthanc-rem")
    except metadata.PackageNotFoundError:
        return "unknown"


def count_studies(sessions: sessionmaker[Session], selection: Select[Any]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(selection.subquery())) or 0)


ReadBatch = Callable[[Session, Sequence[int]], T]


def read_batches(
    sessions: sessionmaker[Session],
    ids: Sequence[int],
    batch_size: int,
    read: ReadBatch[T],
    should_abort: Callable[[], bool] | None = None,
    progress: Progress | None = None,
) -> Iterator[tuple[Sequence[int], T]]:
    """Each batch of ``ids`` with what ``read`` found for it in a short session of its own,
    checking for an abort before each read and reporting progress after each batch is used: the one
    loop every export pass runs.

    Reading the next batch in a second thread while this one is written gained nothing measurable
    on the 2-core machine (the reads' row building holds the interpreter lock), and it would read a
    study before an earlier batch is written, so the loop stays plain. (A CT CSV on PostgreSQL,
    ``ct_csv_postgres``, now spends most of its read waiting for the server's formatting, which a
    read ahead could overlap with the joining: not tried yet.) The garbage collector runs
    only every ``COLLECT_EVERY`` batches (for the whole process: other threads' cycles wait as
    long): a batch makes some hundred thousand short-lived lists and rows and no reference cycle,
    and the collector's scans of them were a third of a CSV export's CPU time.
    """

    def check_abort() -> None:
        if should_abort is not None and should_abort():
            raise ExportAborted("export aborted")

    collecting = gc.isenabled()
    gc.disable()
    try:
        for index, start in enumerate(range(0, len(ids), batch_size)):
            check_abort()
            batch = ids[start : start + batch_size]
            with sessions() as session:
                found = read(session, batch)
            yield batch, found
            del found
            if progress is not None:
                progress(start + len(batch), len(ids))
            if collecting and index % COLLECT_EVERY == COLLECT_EVERY - 1:
                gc.collect()
    finally:
        if collecting:
            gc.enable()


def run_export(
    sessions: sessionmaker[Session],
    request: ExportRequest,
    selection: Select[Any],
    output: Path,
    progress: Progress | None = None,
    should_abort: Callable[[], bool] | None = None,
    *,
    formatted_by_postgresql: bool = True,
) -> ExportResult:
    """Write the studies ``selection`` (a ``SELECT`` of study ids) picks to ``output``.

    A CT CSV on PostgreSQL has its values formatted by the server (``ct_csv_postgres``) unless
    ``formatted_by_postgresql`` is false: the portable path, which the tests and the benchmark
    compare it with."""
    with sessions() as session:
        on_postgresql = session.get_bind().dialect.name == "postgresql"
        subquery = selection.subquery()
        study_ids = select(subquery.c[0])
        ids = list(session.connection().execute(study_ids.order_by(subquery.c[0])).scalars())
        if not ids:
            raise NoStudies(ZERO_STUDIES)
        layout = LAYOUTS[request.modality]
        most_blocks = layout.most_blocks(session, study_ids) if layout.most_blocks else None
        protocols = layout.protocols(session, study_ids) if request.format == ExportFormat.XLSX else []
    if request.format == ExportFormat.NHSBSP:
        writer: _Writer = _NhsbspWriter(output, request)
    elif request.format == ExportFormat.CSV and layout.modality == "CT" and on_postgresql and formatted_by_postgresql:
        writer = _CtCsvTextWriter(output, request, layout, most_blocks or 0)
    elif request.format == ExportFormat.CSV:
        writer = _CsvWriter(output, request, layout, most_blocks or 0)
    else:
        if most_blocks is None:  # groups of fluoroscopy exposures: only reading the studies tells
            most_blocks = 0
            for _, doses in read_batches(sessions, ids, layout.studies_per_batch, layout.read, should_abort):
                most_blocks = max([most_blocks, *(len(d.blocks) for d in doses.values())])
        writer = _XlsxWriter(output, request, layout, most_blocks, protocols)
    try:
        missing = 0
        for batch, found in read_batches(sessions, ids, layout.studies_per_batch, writer.read, should_abort, progress):
            missing += writer.write(batch, found)
        writer.close()
    except BaseException:
        writer.discard()
        output.unlink(missing_ok=True)
        raise
    return ExportResult(len(ids), writer.rows, missing)


class _Writer(Protocol):
    """One file format: what it reads for a batch (in the reading thread) and how it writes it."""

    @property
    def rows(self) -> int: ...

    def read(self, session: Session, batch: Sequence[int]) -> Any: ...

    def write(self, batch: Sequence[int], found: Any) -> int:
        """Write the batch; the number of its studies no longer there."""
        ...

    def close(self) -> None: ...

    def discard(self) -> None: ...


StudiesRead = tuple[dict[int, list[Any]], dict[int, StudyDose]]


class _StudyRows:
    """What the CSV and XLSX writers share: a batch's header values and the layout's doses."""

    def __init__(self, request: ExportRequest, layout: Layout) -> None:
        self.request, self.layout = request, layout

    def read(self, session: Session, batch: Sequence[int]) -> StudiesRead:
        headers = study_headers(session, batch, self.layout.modality, self.request.patient)
        return headers, self.layout.read(session, batch)


class _CsvWriter(_StudyRows):
    def __init__(self, output: Path, request: ExportRequest, layout: Layout, most_blocks: int) -> None:
        super().__init__(request, layout)
        self.file = CsvExport(output, byte_order_mark=request.byte_order_mark)
        if layout.csv_has_blocks:
            self.file.header(all_data_columns(layout, request.patient, most_blocks))
        else:
            self.file.header(study_level_columns(layout, request.patient))

    @property
    def rows(self) -> int:
        return self.file.rows

    def write(self, batch: Sequence[int], found: StudiesRead) -> int:
        headers, doses = found
        missing = 0
        blocks = self.layout.csv_has_blocks
        no_dose = StudyDose()
        rows: list[list[Any]] = []
        for study_id in batch:
            header = headers.get(study_id)
            if header is None:
                self.file.write_rows(rows)
                rows.clear()
                self.file.note(missing_study_message(study_id))
                missing += 1
                continue
            dose = doses.get(study_id) or no_dose
            values = study_level_values(header, dose, self.layout)
            rows.append(with_blocks(values, dose) if blocks else values)
        self.file.write_rows(rows)
        return missing

    def close(self) -> None:
        self.file.close()

    def discard(self) -> None:
        self.file.close()


class _CtCsvTextWriter(_CsvWriter):
    """The CSV of ``_CsvWriter`` from the texts PostgreSQL formats (``ct_csv_postgres``)."""

    def read(self, session: Session, batch: Sequence[int]) -> ct_csv_postgres.CtCsvBatch:  # type: ignore[override]
        return ct_csv_postgres.read_ct_csv(session, batch, self.request.patient)

    def write(self, batch: Sequence[int], found: ct_csv_postgres.CtCsvBatch) -> int:  # type: ignore[override]
        missing = 0
        lines: list[str] = []
        for line in ct_csv_postgres.ct_csv_lines(batch, found):
            if type(line) is str:
                lines.append(line)
                continue
            self.file.write_lines(lines)
            lines.clear()
            self.file.note(missing_study_message(int(line)))
            missing += 1
        self.file.write_lines(lines)
        return missing


class _XlsxWriter(_StudyRows):
    def __init__(
        self, output: Path, request: ExportRequest, layout: Layout, most_blocks: int, protocols: list[str | None]
    ) -> None:
        super().__init__(request, layout)
        self.file = XlsxExport(output, protocols=protocols, version=_version(), date_format=request.date_format)
        self.file.headers(
            all_data_columns(layout, request.patient, most_blocks), protocol_sheet_columns(layout, request.patient)
        )

    @property
    def rows(self) -> int:
        return self.file.rows

    def write(self, batch: Sequence[int], found: StudiesRead) -> int:
        headers, doses = found
        missing = 0
        for study_id in batch:
            header = headers.get(study_id)
            if header is None:
                self.file.note(missing_study_message(study_id))
                missing += 1
                continue
            dose = doses.get(study_id) or StudyDose()
            values = study_level_values(header, dose, self.layout)
            # Study description and requested procedure end the header values (``study_headers``).
            self.file.study(with_blocks(values, dose), dose.events, values, header[-2], header[-1])
        return missing

    def close(self) -> None:
        self.file.close()

    def discard(self) -> None:
        self.file.discard()


class _NhsbspWriter:
    def __init__(self, output: Path, request: ExportRequest) -> None:
        self.file = CsvExport(output, byte_order_mark=request.byte_order_mark)
        self.file.header(list(nhsbsp.COLUMNS))
        self.patients = 0

    @property
    def rows(self) -> int:
        return self.file.rows

    def read(self, session: Session, batch: Sequence[int]) -> dict[int, nhsbsp.StudyExposures]:
        return nhsbsp.read_nhsbsp(session, batch)

    def write(self, batch: Sequence[int], studies: dict[int, nhsbsp.StudyExposures]) -> int:
        for study_id in batch:
            if study_id not in studies:
                continue  # no exposure: nothing for the audit database
            age, events, filters = studies[study_id]
            rows = nhsbsp.patient_rows(self.patients + 1, age, events, filters)
            if rows:
                self.patients += 1
                for row in rows:
                    self.file.row(row)
        return 0

    def close(self) -> None:
        self.file.close()

    def discard(self) -> None:
        self.file.close()
