"""One export from a selection of studies to a file, streamed in batches, with progress and abort.

The study ids are taken once at the start (a list of integers, the only thing held for the whole
export); each batch then reads its studies in one short read transaction, so an export of any
size neither holds the database's snapshot for minutes nor the result in memory. A study deleted
or replaced (re-imported under a new id) after the start is reported in the file (OpenREM #614)
and the export goes on. The command line and the background job both call :func:`run_export`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import metadata
from pathlib import Path
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, sessionmaker

from orthanc_rem.exports import nhsbsp
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
#: Studies read per query round: big enough that the queries' cost is spread, small enough that a
#: batch of 400-exposure fluoroscopy studies stays some ten megabytes.
BATCH_SIZE = 1000
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


def _version() -> str:
    try:
        return metadata.version("orthanc-rem")
    except metadata.PackageNotFoundError:
        return "unknown"


def _batches(ids: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def count_studies(sessions: sessionmaker[Session], selection: Select[Any]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(selection.subquery())) or 0)


def run_export(
    sessions: sessionmaker[Session],
    request: ExportRequest,
    selection: Select[Any],
    output: Path,
    progress: Progress | None = None,
    should_abort: Callable[[], bool] | None = None,
) -> ExportResult:
    """Write the studies ``selection`` (a ``SELECT`` of study ids) picks to ``output``."""
    with sessions() as session:
        subquery = selection.subquery()
        study_ids = select(subquery.c[0])
        ids = list(session.connection().execute(study_ids.order_by(subquery.c[0])).scalars())
        if not ids:
            raise NoStudies(ZERO_STUDIES)
        layout = LAYOUTS[request.modality]
        most_blocks = layout.most_blocks(session, study_ids) if layout.most_blocks else None
        protocols = layout.protocols(session, study_ids) if request.format == ExportFormat.XLSX else []
    if request.format == ExportFormat.NHSBSP:
        writer: Any = _NhsbspWriter(output, request)
    elif request.format == ExportFormat.CSV:
        writer = _CsvWriter(output, request, layout, most_blocks or 0)
    else:
        if most_blocks is None:
            most_blocks = _most_blocks_by_reading(sessions, layout, ids, should_abort)
        writer = _XlsxWriter(output, request, layout, most_blocks, protocols)
    try:
        done = missing = 0
        for batch in _batches(ids, BATCH_SIZE):
            if should_abort is not None and should_abort():
                raise ExportAborted("export aborted")
            with sessions() as session:
                missing += writer.batch(session, batch)
            done += len(batch)
            if progress is not None:
                progress(done, len(ids))
        writer.close()
    except BaseException:
        writer.discard()
        output.unlink(missing_ok=True)
        raise
    return ExportResult(len(ids), writer.rows, missing)


def _most_blocks_by_reading(
    sessions: sessionmaker[Session], layout: Layout, ids: Sequence[int], should_abort: Callable[[], bool] | None
) -> int:
    """A first pass for the fluoroscopy XLSX: how many groups the busiest study has."""
    most = 0
    for batch in _batches(ids, BATCH_SIZE):
        if should_abort is not None and should_abort():
            raise ExportAborted("export aborted")
        with sessions() as session:
            doses = layout.read(session, batch)
        most = max([most, *(len(d.blocks) for d in doses.values())])
    return most


class _CsvWriter:
    def __init__(self, output: Path, request: ExportRequest, layout: Layout, most_blocks: int) -> None:
        self.request, self.layout = request, layout
        self.file = CsvExport(output, byte_order_mark=request.byte_order_mark)
        if layout.csv_has_blocks:
            self.file.header(all_data_columns(layout, request.patient, most_blocks))
        else:
            self.file.header(study_level_columns(layout, request.patient))

    @property
    def rows(self) -> int:
        return self.file.rows

    def batch(self, session: Session, batch: Sequence[int]) -> int:
        headers = study_headers(session, batch, self.layout.modality, self.request.patient)
        doses = self.layout.read(session, batch)
        missing = 0
        for study_id in batch:
            if study_id not in headers:
                self.file.note(missing_study_message(study_id))
                missing += 1
                continue
            dose = doses.get(study_id) or StudyDose()
            values = study_level_values(headers[study_id], dose, self.layout)
            self.file.row(with_blocks(values, dose) if self.layout.csv_has_blocks else values)
        return missing

    def close(self) -> None:
        self.file.close()

    def discard(self) -> None:
        self.file.close()


class _XlsxWriter:
    def __init__(
        self, output: Path, request: ExportRequest, layout: Layout, most_blocks: int, protocols: list[str | None]
    ) -> None:
        self.request, self.layout = request, layout
        self.file = XlsxExport(output, protocols=protocols, version=_version(), date_format=request.date_format)
        self.file.headers(
            all_data_columns(layout, request.patient, most_blocks), protocol_sheet_columns(layout, request.patient)
        )

    @property
    def rows(self) -> int:
        return self.file.rows

    def batch(self, session: Session, batch: Sequence[int]) -> int:
        headers = study_headers(session, batch, self.layout.modality, self.request.patient)
        doses = self.layout.read(session, batch)
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

    def batch(self, session: Session, batch: Sequence[int]) -> int:
        studies = nhsbsp.read_nhsbsp(session, batch)
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
