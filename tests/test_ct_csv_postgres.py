"""CT CSV exports on PostgreSQL, whose values the server formats (``exports.ct_csv_postgres``), are
the portable path's files byte for byte: on the corpus's CT objects, with every patient data
variant, and with the values where PostgreSQL's text and Python's differ (integral floats, 1e15 to
1e16, NaN, infinities, fractions of a second, commas, quotes and line breaks in text)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import random
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text, update

from conftest import corpus_dir
from database_fixtures import scratch_postgres_url
from orthanc_rem import database, import_settings, model
from orthanc_rem.exports import ct_csv_postgres
from orthanc_rem.exports.columns import PatientData
from orthanc_rem.exports.runner import ExportFormat, ExportRequest, run_export
from orthanc_rem.exports.selection import selected_studies
from orthanc_rem.ingest import ingest_object

pytestmark = pytest.mark.postgres

CT_FILES = sorted(path.name for path in corpus_dir().glob("CT-*.dcm"))


@pytest.fixture
def postgres_sessions() -> Iterator[Any]:
    for url in scratch_postgres_url():
        database.upgrade_schema(url)
        yield database.session_factory(url)


def ingest_ct_corpus(sessions: Any, corpus: Any) -> None:
    with sessions.begin() as session:
        import_settings.change(
            session, store_patient_name=True, hash_patient_name=False, store_patient_id=True, hash_patient_id=False,
            store_birth_date=True,
        )  # fmt: skip
    for name in CT_FILES:
        ingest_object(sessions, corpus(name), source=f"file:{name}")


def both_ways(sessions: Any, tmp_path: Path, patient: PatientData, monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The CT CSV formatted by PostgreSQL and by the portable path (checking that each path ran)."""
    batches: list[int] = []
    read = ct_csv_postgres.read_ct_csv

    def counted(*args: Any) -> Any:
        batches.append(1)
        return read(*args)

    monkeypatch.setattr(ct_csv_postgres, "read_ct_csv", counted)
    files = []
    for by_postgresql in (True, False):
        output = tmp_path / f"ct-{by_postgresql}.csv"
        request = ExportRequest("CT", ExportFormat.CSV, patient)
        run_export(sessions, request, selected_studies("CT", {}), output, formatted_by_postgresql=by_postgresql)
        assert bool(batches) == by_postgresql
        batches.clear()
        files.append(output.read_bytes())
    return files


@pytest.mark.parametrize(
    "patient", [PatientData(), PatientData(names=True), PatientData(ids=True), PatientData(names=True, ids=True)]
)
def test_corpus_ct_csv_formatted_by_postgresql_is_the_portable_file(
    postgres_sessions, corpus, tmp_path, monkeypatch, patient
):
    ingest_ct_corpus(postgres_sessions, corpus)
    with postgres_sessions() as session:
        studies = session.scalar(select(func.count()).select_from(model.Study).where(model.Study.modality == "CT"))
        checks = session.scalar(select(func.count()).select_from(model.CtDoseCheck))
        reports = session.scalar(select(func.count()).select_from(model.CtRadiationDose))
    assert studies >= 8 and checks and reports > studies  # dose checks and a continued study are among them
    by_postgresql, portable = both_ways(postgres_sessions, tmp_path, patient, monkeypatch)
    assert len(list(csv.reader(io.StringIO(by_postgresql.decode(), newline="")))) == studies + 1
    assert by_postgresql == portable


#: Values whose text PostgreSQL writes unlike Python's ``repr`` (integral ones), and ordinary ones.
AWKWARD_FLOATS = [
    0.0, -0.0, 1.0, -3.0, 0.1 + 0.2, 1e-05, 0.0001, 5e-324, 123456789012345.6, 999999999999999.9, -1e14,
]  # fmt: skip
#: Values PostgreSQL writes in another form (exponent, words, not always shortest): their studies
#: take the portable path.
BEYOND_FLOATS = [1e15, -1e15, 1234567890123456.8, 1e16, 2.987715861431289e16, 1e22, 1.7976931348623157e308,
                 math.nan, math.inf, -math.inf]  # fmt: skip


def test_awkward_values_formatted_by_postgresql_are_the_portable_file(postgres_sessions, corpus, tmp_path, monkeypatch):
    ingest_ct_corpus(postgres_sessions, corpus)
    with postgres_sessions.begin() as session:
        events = session.scalars(select(model.CtIrradiationEvent).order_by(model.CtIrradiationEvent.id)).all()
        for n, event in enumerate(events):
            event.mean_ctdivol_mgy = AWKWARD_FLOATS[n % len(AWKWARD_FLOATS)]
            event.dlp_mgycm = AWKWARD_FLOATS[(n + 7) % len(AWKWARD_FLOATS)]
            event.acquisition_protocol = ['Head, "routine"', "Line\nbreak", "Carriage\rreturn", "a,b,,c", ""][n % 5]
            event.comment = ['say "hi"', None, "x\r\ny", "comma, here"][n % 4]
        for n, value in enumerate(BEYOND_FLOATS):  # in the first events, of one or two studies
            events[n].pitch_factor = value
        session.flush()
        last_sources = select(model.CtXRaySource.id).order_by(model.CtXRaySource.id.desc()).limit(3)
        session.execute(update(model.CtXRaySource).where(model.CtXRaySource.id.in_(last_sources)).values(kvp_kv=1e16))
        session.execute(delete_sources_of(events[-20].id))
        session.execute(update(model.CtRadiationDose).values(comment='Report, "one"\nsecond', dlp_total_mgycm=None))
        session.execute(update(model.Study).values(study_time=dt.time(9, 1, 0, 500000)))
        session.execute(update(model.Patient).values(weight_kg=70.0, size_m=None, not_patient_indicator="QA, test"))
    by_postgresql, portable = both_ways(postgres_sessions, tmp_path, PatientData(names=True, ids=True), monkeypatch)
    assert by_postgresql == portable


def delete_sources_of(event_id: int) -> Any:
    return text("DELETE FROM ct_xray_source WHERE event_fk = :event").bindparams(event=event_id)


def test_numbers_formatted_by_postgresql_are_pythons_repr(postgres_sessions):
    """Shortest exact digits on both sides below 1e15, for many random floats of every magnitude and
    bit pattern; the values beyond are told apart."""
    generator = random.Random(8)
    values = [generator.uniform(1, 10) * 10.0 ** generator.randint(-30, 30) for _ in range(20_000)]
    values += [struct.unpack("<d", generator.randbytes(8))[0] for _ in range(20_000)]
    values += [float(n) for n in range(-1000, 1000)] + [n / 8 for n in range(-1000, 1000)]
    values += AWKWARD_FLOATS + BEYOND_FLOATS
    with postgres_sessions() as session:
        cursor = session.connection().connection.cursor()
        cursor.execute("SET LOCAL extra_float_digits = 1")
        number, beyond = ct_csv_postgres.number("v"), ct_csv_postgres.beyond("v")
        # As text: psycopg2 sends a float as a numeric literal, which has no negative zero.
        texts = [repr(value) for value in values]
        cursor.execute(f"SELECT {number}, {beyond} FROM unnest(%s::text[]::float8[]) AS v", (texts,))
        answers = cursor.fetchall()
    assert [is_beyond for _, is_beyond in answers] == [not abs(v) < 1e15 for v in values]
    assert [text for text, is_beyond in answers if not is_beyond] == [repr(v) for v in values if abs(v) < 1e15]
