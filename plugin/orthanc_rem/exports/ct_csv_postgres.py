"""CT CSV rows whose values PostgreSQL formats, for exports on PostgreSQL.

The portable CSV path (``study_header``, ``ct_layout.read_ct``, the csv module) turns every value
into a Python object and back into text: for 100,000 CT studies of 3 events, 9 million values, which
made the export 7 times as long as PostgreSQL's own ``COPY ... TO STDOUT WITH CSV`` of the same
columns (issue 8). Here the server writes each study's header and each event's and source's values
as CSV text, as ``COPY`` does, and Python only puts the texts of a study on one row in OpenREM's
layout (the study, then its events to the right), adding what it computes itself: the study's DLP
total and comments over its dose reports, the number of events and the dose check details.

The text is the csv module's, byte for byte (tests/test_ct_csv_postgres.py exports the corpus both
ways): numbers as Python's ``repr`` writes them (``300.0``, ``1e-05``, ``nan``), dates and times in
ISO 8601 as ``str`` does (``09:01:00.500000``), text with OpenREM's ',' -> ';' and quoted when it
holds a quote or a line break. SQLite, which has no such formatting, keeps the portable path.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orthanc_rem import model
from orthanc_rem.exports.batch_keys import DENSE
from orthanc_rem.exports.columns import PatientData
from orthanc_rem.exports.csv_file import csv_text
from orthanc_rem.exports.ct_layout import CT, PHANTOMS, add_report_dlp, dose_check_details, joined_comment
from orthanc_rem.exports.study_header import StudyDose, study_headers
from orthanc_rem.exports.values import study_level_values, with_blocks

#: The output settings the texts below assume, for this transaction only: shortest exact floats
#: (the default since PostgreSQL 12, but a server may set it lower), ISO dates, and no JIT: the
#: long generated expressions made the planner compile them for seconds per batch when its row
#: estimates were off (a database never analysed).
_SETTINGS = "SET LOCAL extra_float_digits = 1; SET LOCAL DateStyle = 'ISO, YMD'; SET LOCAL jit = off"


def _in_batch(column: str) -> str:
    """``batch_keys.keys_in`` in SQL text: the batch's range, and its keys when they are sparse."""
    return f"{column} BETWEEN %(low)s AND %(high)s AND (%(dense)s OR {column} = ANY(%(keys)s))"


def _batch(keys: Sequence[int]) -> dict[str, Any]:
    if not keys:
        return {"low": 1, "high": 0, "dense": True, "keys": []}
    low, high = min(keys), max(keys)
    dense = len(keys) >= DENSE * (high - low + 1)
    return {"low": low, "high": high, "dense": dense, "keys": [] if dense else list(keys)}


#: From here on PostgreSQL's text of a float8 is not Python's: exponent form from 1e15 (Python's
#: from 1e16), and from about 2e16 not always the shortest digits; NaN and the infinities in words.
#: A study with such a value (no dose ever has one) is written by the portable path.
BEYOND = "1e15::float8"


def number(column: str) -> str:
    """A float8 below ``BEYOND`` as Python's ``repr``: PostgreSQL writes the same shortest exact
    digits (extra_float_digits = 1), but an integral value without ``.0``."""
    return (
        f"CASE WHEN {column} IS NULL THEN '' "
        f"WHEN {column} = trunc({column}) THEN {column}::text || '.0' ELSE {column}::text END"
    )


def beyond(*columns: str) -> str:
    """True when a value of ``columns`` is not below ``BEYOND`` (NaN is above every number)."""
    return f"GREATEST({', '.join(f'abs({column})' for column in columns)}) >= {BEYOND}"


def integer(column: str) -> str:
    return f"COALESCE({column}::text, '')"


def date(column: str) -> str:
    return f"COALESCE({column}::text, '')"


def time_of_day(column: str) -> str:
    """PostgreSQL drops trailing zeros of the fraction (``09:01:00.5``); ``str(time)`` writes six."""
    return (
        f"CASE WHEN {column} IS NULL THEN '' WHEN strpos({column}::text, '.') > 0 "
        f"THEN rpad({column}::text, 15, '0') ELSE {column}::text END"
    )


def text(column: str) -> str:
    """OpenREM's commas to ';' (``csv_file.csv_text``), then quoted as the csv module quotes: when
    the value holds a quote (doubled) or a line break; no comma is left to need it."""
    return (
        f"CASE WHEN {column} IS NULL THEN '' "
        f"WHEN strpos({column}, '\"') > 0 OR strpos({column}, E'\\n') > 0 OR strpos({column}, E'\\r') > 0 "
        f"THEN '\"' || replace(replace({column}, ',', ';'), '\"', '\"\"') || '\"' "
        f"ELSE replace({column}, ',', ';') END"
    )


def fields(*values: str) -> str:
    return " || ',' || ".join(values)


def csv_value(value: Any) -> str:
    """One value computed in Python as the csv module writes it after ``csv_file.csv_text``."""
    if value is None:
        return ""
    if type(value) is str:
        value = value.replace(",", ";")
        if '"' in value or "\n" in value or "\r" in value:
            return '"' + value.replace('"', '""') + '"'
        return value  # type: ignore[no-any-return]
    return repr(value) if type(value) is float else str(value)


def header_select(modality: str, patient: PatientData) -> str:
    """``study_header.study_headers``' values as one text per study, in the same order."""
    values = []
    if patient.names:
        values.append(text("p.name"))
    if patient.ids:
        values.append(text("p.patient_id"))
    values += [
        text("q.institution_name"), text("q.manufacturer"), text("q.manufacturer_model_name"), text("q.station_name"),
        text("q.display_name"), text("s.accession_number"), text("s.operator_name"), date("s.study_date"),
        time_of_day("s.study_time"),
    ]  # fmt: skip
    if patient.any:
        values.append(date("p.birth_date"))
    values += [number("p.age_years"), text("p.sex")]
    if modality != "MG":
        values += [number("p.size_m"), number("p.weight_kg")]
    values += [
        text("p.not_patient_indicator"),
        text("s.study_description"),
        text("COALESCE(NULLIF(s.requested_procedure_code_meaning, ''), s.requested_procedure_description)"),
    ]
    # The patient rows are limited to the batch in a subquery: on the join alone PostgreSQL hashed
    # the whole patient table for every batch.
    return (
        f"SELECT s.id, {fields(*values)}, {beyond('p.age_years', 'p.size_m', 'p.weight_kg')} FROM study s "
        f"LEFT JOIN (SELECT * FROM patient WHERE {_in_batch('study_fk')}) p ON p.study_fk = s.id "
        f"LEFT JOIN equipment q ON q.id = s.equipment_id WHERE {_in_batch('s.id')}"
    )


_DOSES = (
    f"SELECT id, study_fk, dlp_total_mgycm, comment FROM ct_radiation_dose WHERE {_in_batch('study_fk')} ORDER BY id"
)
_PHANTOM = (
    "CASE e.ctdiw_phantom_type_value "
    + " ".join(f"WHEN '{code}' THEN '{name}'" for code, name in PHANTOMS.items())
    + " ELSE e.ctdiw_phantom_type_meaning END"
)
#: ``ct_layout.EVENT_COLUMNS`` up to DLP, then (apart) the modulation type and the comment: the
#: sources and the dose check details go between them.
_EVENTS = (
    "SELECT e.id, e.ct_radiation_dose_fk, e.dlp_mgycm, "
    + fields(
        text("e.acquisition_protocol"), text("e.ct_acquisition_type_meaning"), number("e.exposure_time_s"),
        number("e.scanning_length_mm"), number("e.nominal_single_collimation_width_mm"),
        number("e.nominal_total_collimation_width_mm"), number("e.pitch_factor"),
        integer("e.number_of_xray_sources"), number("e.mean_ctdivol_mgy"), text(_PHANTOM), number("e.dlp_mgycm"),
    )
    + f", {text('e.xray_modulation_type')}, {text('e.comment')}, "
    + beyond(
        "e.exposure_time_s", "e.scanning_length_mm", "e.nominal_single_collimation_width_mm",
        "e.nominal_total_collimation_width_mm", "e.pitch_factor", "e.mean_ctdivol_mgy", "e.dlp_mgycm",
    )
    + f" FROM ct_irradiation_event e WHERE {_in_batch('e.ct_radiation_dose_fk')} ORDER BY e.id"
)  # fmt: skip
#: S1 and S2 of ``ct_layout.EVENT_COLUMNS`` as one text per event: its first two sources by id.
_SOURCES = (
    "SELECT event_fk, values[1] || ',' || COALESCE(values[2], ',,,,'), is_beyond FROM "
    "(SELECT x.event_fk, array_agg("
    + fields(
        text("x.identification"), number("x.kvp_kv"), number("x.maximum_xray_tube_current_ma"),
        number("x.xray_tube_current_ma"), number("x.exposure_time_per_rotation_s"),
    )
    + " ORDER BY x.id) AS values, bool_or("
    + beyond("x.kvp_kv", "x.maximum_xray_tube_current_ma", "x.xray_tube_current_ma", "x.exposure_time_per_rotation_s")
    + f") AS is_beyond FROM ct_xray_source x WHERE {_in_batch('x.event_fk')} GROUP BY x.event_fk) AS sources"
)  # fmt: skip
_NO_SOURCES = ",,,,,,,,,"


@dataclass
class CtCsvBatch:
    """A batch as texts: the header per study, the dose reports, and per dose report its events
    (id, DLP, values up to DLP, modulation type, comment), with the sources' text per event; and
    the values of the studies the portable path writes (a number beyond ``BEYOND``)."""

    headers: dict[int, str]
    doses: Sequence[tuple[int, int, float | None, str | None]]
    events: dict[int, list[tuple[int, float | None, str, str, str]]]
    sources: dict[int, str]
    checks: dict[int, model.CtDoseCheck]
    portable: dict[int, list[Any]]


def read_ct_csv(session: Session, study_ids: Sequence[int], patient: PatientData) -> CtCsvBatch:
    """One query per table, each by its parents' keys (as ``ct_layout.read_ct``), on the DBAPI
    cursor: the texts need no SQLAlchemy row or type processing."""
    cursor = session.connection().connection.cursor()
    events: dict[int, list[Any]] = defaultdict(list)
    sources: dict[int, str] = {}
    checks: dict[int, model.CtDoseCheck] = {}
    beyond_studies: set[int] = set()
    beyond_doses: set[int] = set()
    try:
        cursor.execute(_SETTINGS)
        cursor.execute(header_select("CT", patient), _batch(study_ids))
        headers = {}
        for study_id, values, is_beyond in cursor.fetchall():
            headers[study_id] = values
            if is_beyond:
                beyond_studies.add(study_id)
        cursor.execute(_DOSES, _batch(study_ids))
        doses = cursor.fetchall()
        if doses:
            cursor.execute(_EVENTS, _batch([dose[0] for dose in doses]))
            rows = cursor.fetchall()
            dose_of: dict[int, int] = {}
            for event_id, dose_id, dlp, values, modulation, comment, is_beyond in rows:
                events[dose_id].append((event_id, dlp, values, modulation, comment))
                dose_of[event_id] = dose_id
                if is_beyond:
                    beyond_doses.add(dose_id)
            if rows:
                event_ids = [row[0] for row in rows]
                cursor.execute(_SOURCES, _batch(event_ids))
                for event_id, values, is_beyond in cursor.fetchall():
                    sources[event_id] = values
                    if is_beyond:
                        beyond_doses.add(dose_of[event_id])
                found = session.scalars(
                    select(model.CtDoseCheck).where(model.CtDoseCheck.event_fk.between(event_ids[0], event_ids[-1]))
                )
                checks = {check.event_fk: check for check in found}
    finally:
        cursor.close()
    beyond_studies.update(dose[1] for dose in doses if dose[0] in beyond_doses)
    return CtCsvBatch(headers, doses, events, sources, checks, _portable_rows(session, beyond_studies, patient))


def _portable_rows(session: Session, study_ids: set[int], patient: PatientData) -> dict[int, list[Any]]:
    """The rows of ``study_ids`` as the portable path reads them."""
    if not study_ids:
        return {}
    ids = sorted(study_ids)
    headers, doses = study_headers(session, ids, "CT", patient), CT.read(session, ids)
    rows = {}
    for study_id, header in headers.items():
        dose = doses.get(study_id) or StudyDose()
        rows[study_id] = with_blocks(study_level_values(header, dose, CT), dose)
    return rows


def _portable_line(values: list[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow([csv_text(value) for value in values])
    return buffer.getvalue().removesuffix("\r\n")


def ct_csv_lines(batch: Sequence[int], found: CtCsvBatch) -> list[str | int]:
    """Each study's CSV line (without its end), or its id when it is no longer there."""
    by_study: dict[int, list[Any]] = defaultdict(list)
    for dose in found.doses:
        by_study[dose[1]].append(dose)
    sources_get, checks, portable = found.sources.get, found.checks, found.portable
    lines: list[str | int] = []
    for study_id in batch:
        header = found.headers.get(study_id)
        if header is None:
            lines.append(study_id)
            continue
        if portable and study_id in portable:
            lines.append(_portable_line(portable[study_id]))
            continue
        dlp: float | None = None
        comment: str | None = None
        blocks: list[str] = []
        for dose_id, _, dose_dlp, dose_comment in by_study.get(study_id, ()):
            dose_events = found.events.get(dose_id, ())
            dlp = add_report_dlp(dlp, dose_dlp, [event[1] for event in dose_events] if dose_dlp is None else ())
            comment = joined_comment(comment, dose_comment)
            for event_id, _, values, modulation, event_comment in dose_events:
                check = csv_value(dose_check_details(checks[event_id])) if checks and event_id in checks else ""
                blocks.append(f"{values},{sources_get(event_id, _NO_SOURCES)},{modulation},{check},{event_comment}")
        lines.append(",".join([header, csv_value(comment), str(len(blocks)), csv_value(dlp), *blocks]))
    return lines
