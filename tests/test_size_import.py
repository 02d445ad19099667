"""Patient size import from CSV (manual L3223-3371): never overwrite, first row wins, cm to m,
accession number (clear or hashed) or Study Instance UID; as a background job with progress and
abort; and ``orthanc-rem import-sizes`` on the command line.

Identifiers and the sizes already stored come from the corpus objects' headers (pydicom); the
sizes inserted are this file's own CSV values.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

import sr_facts
from orthanc_rem import cli, import_settings, model, patient_size_import, size_import_jobs
from orthanc_rem.ingest import ingest_object
from orthanc_rem.patient_size_import import (
    STUDY_INSTANCE_UID,
    SizeColumns,
    SizeFileError,
    import_sizes,
    read_size_file,
)

NO_SIZE = "CT-ESR-GE_VCT.dcm"  # neither Patient's Size nor Patient's Weight
WEIGHT_ONLY = "CT-RDSR-ToshibaPixelMed.dcm"  # Patient's Weight, no Patient's Size
BOTH = "CT-RDSR-Siemens_Flash-TAP-SS.dcm"  # both
FILES = (NO_SIZE, WEIGHT_ONLY, BOTH)
COLUMNS = SizeColumns(identifier="Accession", height="Height (cm)", weight="Weight (kg)")


@pytest.fixture
def headers(corpus, sessions):  # type: ignore[no-untyped-def]
    """The three studies imported; their DICOM headers by file name."""
    for name in FILES:
        assert ingest_object(sessions, corpus(name), source=name).ok
    return {name: sr_facts.read(corpus(name)) for name in FILES}


def sizes(sessions, uid: str) -> tuple[float | None, float | None]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        study = session.scalars(select(model.Study).where(model.Study.study_instance_uid == uid)).one()
        return (study.patient.size_m, study.patient.weight_kg) if study.patient else (None, None)


def csv_for(headers, *rows: tuple[str, str, str]) -> bytes:  # type: ignore[no-untyped-def]
    lines = ["Accession,Height (cm),Weight (kg),Ward"] + [f"{a},{h},{w},Ward 7" for a, h, w in rows]
    return ("\n".join(lines) + "\n").encode()


def accession(header) -> str:  # type: ignore[no-untyped-def]
    return str(header.AccessionNumber)


@pytest.fixture(params=[1, 200], ids=["row-by-row", "batched"])
def lookup_batch(request, monkeypatch):  # type: ignore[no-untyped-def]
    """Studies are looked up for a batch of rows at once; the rules must hold across batches."""
    monkeypatch.setattr(patient_size_import, "LOOKUP_BATCH", request.param)


def test_sizes_are_stored_in_metres_and_kilograms_without_overwriting(headers, sessions, lookup_batch):
    content = csv_for(
        headers,
        (accession(headers[NO_SIZE]), "170", "68.5"),
        (accession(headers[WEIGHT_ONLY]), "165", "90"),
        (accession(headers[BOTH]), "150", "50"),
        ("NOT-A-STORED-ACCESSION", "180", "80"),
    )
    with sessions() as session:
        summary = import_sizes(session, read_size_file(content), COLUMNS)
    assert sizes(sessions, headers[NO_SIZE].StudyInstanceUID) == (pytest.approx(1.70), pytest.approx(68.5))
    toshiba = headers[WEIGHT_ONLY]
    assert sizes(sessions, toshiba.StudyInstanceUID) == (
        pytest.approx(1.65),
        pytest.approx(float(toshiba.PatientWeight)),
    )
    flash = headers[BOTH]
    assert sizes(sessions, flash.StudyInstanceUID) == (
        pytest.approx(float(flash.PatientSize)),
        pytest.approx(float(flash.PatientWeight)),
    )
    assert (summary.rows, summary.heights_inserted, summary.weights_inserted, summary.not_found) == (4, 2, 1, 1)
    assert any("not inserted as" in line and accession(flash) in line for line in summary.lines)


def test_only_the_first_row_of_an_identifier_is_used(headers, sessions, lookup_batch):
    vct = accession(headers[NO_SIZE])
    content = csv_for(headers, (vct, "", "70"), (vct, "181", "99"))
    with sessions() as session:
        summary = import_sizes(session, read_size_file(content), COLUMNS)
    assert sizes(sessions, headers[NO_SIZE].StudyInstanceUID) == (None, pytest.approx(70))
    assert summary.repeated == 1


def test_study_instance_uid_heights_in_metres_and_semicolons(headers, sessions):
    uid = str(headers[NO_SIZE].StudyInstanceUID)
    content = f"UID;Size\n{uid};1,72\n".encode()
    columns = SizeColumns(identifier="UID", identifier_type=STUDY_INSTANCE_UID, height="Size", height_unit="m")
    with sessions() as session:
        import_sizes(session, read_size_file(content), columns)
    assert sizes(sessions, uid) == (pytest.approx(1.72), None)


def test_a_hashed_accession_number_is_matched_by_the_hash_of_the_file_value(corpus, sessions):
    with sessions() as session:
        import_settings.change(session, hash_accession_number=True)
    assert ingest_object(sessions, corpus(NO_SIZE), source=NO_SIZE).ok
    header = sr_facts.read(corpus(NO_SIZE))
    with sessions() as session:
        stored = session.scalars(select(model.Study)).one()
        assert stored.accession_number_hashed and stored.accession_number != accession(header)
        import_sizes(session, read_size_file(csv_for(None, (accession(header), "160", "55"))), COLUMNS)
    assert sizes(sessions, header.StudyInstanceUID) == (pytest.approx(1.60), pytest.approx(55))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"A,A\n1,2\n", "same title"),
    ],
)
def test_unreadable_files_are_refused_with_the_reason(content, message):
    with pytest.raises(SizeFileError, match=message):
        read_size_file(content)


def test_a_column_not_in_the_file_is_refused():
    table = read_size_file(b"Accession,Height\n1,170\n")
    with pytest.raises(SizeFileError, match="weight column 'Weight'"):
        SizeColumns(identifier="Accession", height="Height", weight="Weight").check(table.headers)


def test_bad_numbers_are_logged_and_skipped(headers, sessions):
    content = csv_for(headers, (accession(headers[NO_SIZE]), "tall", "-3"))
    with sessions() as session:
        summary = import_sizes(session, read_size_file(content), COLUMNS)
    assert sizes(sessions, headers[NO_SIZE].StudyInstanceUID) == (None, None)
    assert any("'tall' is not a number" in line for line in summary.lines)
    assert any("'-3' is not a positive number" in line for line in summary.lines)


# --- the background job -------------------------------------------------------------------------------


def queued_job(sessions, content: bytes) -> int:  # type: ignore[no-untyped-def]
    with sessions() as session:
        job = size_import_jobs.create_job(session, "sizes.csv", content)
        size_import_jobs.choose_columns(session, job.id, COLUMNS)
        return job.id


def test_a_job_reports_progress_drops_the_file_and_keeps_its_log(headers, sessions, monkeypatch):
    monkeypatch.setattr(size_import_jobs, "PROGRESS_EVERY", 1)
    monkeypatch.setattr(size_import_jobs, "PROGRESS_INTERVAL_S", 0.0)
    rows = [(accession(headers[name]), "170", "70") for name in FILES]
    job_id = queued_job(sessions, csv_for(headers, *rows))
    seen: list[int] = []
    original = size_import_jobs.import_sizes

    def watching(session, table, columns, *, log, after_row):  # type: ignore[no-untyped-def]
        def after(done: int) -> bool:
            going_on = after_row(done)
            with sessions() as other:
                seen.append(other.get(model.SizeImportJob, job_id).rows_done)
            return going_on

        return original(session, table, columns, log=log, after_row=after)

    monkeypatch.setattr(size_import_jobs, "import_sizes", watching)
    assert size_import_jobs.run_job(sessions, job_id) == size_import_jobs.FINISHED
    assert seen == [1, 2, 3]
    with sessions() as session:
        job = session.get(model.SizeImportJob, job_id)
        assert (job.rows_done, job.rows_total, job.csv_content) == (3, 3, None)
        assert job.log.startswith("Patient size import from sizes.csv")
        assert size_import_jobs.delete_job(session, job_id)
        assert session.get(model.SizeImportJob, job_id) is None


def test_an_aborted_job_stops_keeps_what_it_did_and_says_so(headers, sessions, monkeypatch):
    monkeypatch.setattr(size_import_jobs, "PROGRESS_EVERY", 1)
    monkeypatch.setattr(size_import_jobs, "PROGRESS_INTERVAL_S", 0.0)
    rows = [(accession(headers[name]), "170", "") for name in FILES]
    job_id = queued_job(sessions, csv_for(headers, *rows))
    original = size_import_jobs.import_sizes

    def abort_after_first_row(session, table, columns, *, log, after_row):  # type: ignore[no-untyped-def]
        def after(done: int) -> bool:
            going_on = after_row(done)
            if done == 1:
                with sessions() as other:
                    assert size_import_jobs.request_abort(other, job_id)
            return going_on

        return original(session, table, columns, log=log, after_row=after)

    monkeypatch.setattr(size_import_jobs, "import_sizes", abort_after_first_row)
    assert size_import_jobs.run_job(sessions, job_id) == size_import_jobs.ABORTED
    assert sizes(sessions, headers[FILES[0]].StudyInstanceUID)[0] == pytest.approx(1.70)
    assert sizes(sessions, headers[FILES[2]].StudyInstanceUID)[0] == pytest.approx(float(headers[FILES[2]].PatientSize))
    with sessions() as session:
        job = session.get(model.SizeImportJob, job_id)
        assert job.rows_done == 2 and job.csv_content is None and "Aborted" in job.log


# --- command line --------------------------------------------------------------------------------------


def test_import_sizes_on_the_command_line(headers, database_url, sessions, tmp_path, capsys):
    path = tmp_path / "sizes.csv"
    path.write_bytes(csv_for(headers, (accession(headers[NO_SIZE]), "1.7", "61"), ("UNKNOWN", "1.8", "80")))
    status = cli.main(
        [
            "import-sizes", str(path), "--database", database_url, "--id-column", "Accession",
            "--height-column", "Height (cm)", "--weight-column", "Weight (kg)", "--height-unit", "m", "-v",
        ]
    )  # fmt: skip
    output = capsys.readouterr().out
    assert status == 0
    assert sizes(sessions, headers[NO_SIZE].StudyInstanceUID) == (pytest.approx(1.7), pytest.approx(61))
    assert "UNKNOWN: no stored study has this identifier" in output
    assert "2 rows read: 1 heights and 1 weights inserted" in output


def test_import_sizes_refuses_a_missing_column(database_url, tmp_path, capsys):
    path = tmp_path / "sizes.csv"
    path.write_text("Accession,Height\n1,170\n")
    status = cli.main(
        ["import-sizes", str(path), "--database", database_url, "--id-column", "Acc", "--height-column", "Height"]
    )
    assert status == 2
    assert "identifier column 'Acc' is not in the file" in capsys.readouterr().err


def test_a_job_lost_by_its_worker_can_be_removed_once_aborted(headers, sessions):
    job_id = queued_job(sessions, csv_for(headers, (accession(headers[NO_SIZE]), "170", "70")))
    with sessions() as session:
        assert not size_import_jobs.delete_job(session, job_id)  # queued: a worker may take it
        assert size_import_jobs.request_abort(session, job_id)
        assert size_import_jobs.delete_job(session, job_id)
    assert size_import_jobs.run_job(sessions, job_id) == "missing"  # the worker, if it comes, finds nothing


def test_a_long_file_writes_its_progress_a_few_times_a_second_not_every_few_rows(headers, sessions, monkeypatch):
    """A progress step rewrites the job's row, uploaded file included (SQLite rewrites a row whole):
    a step every 20 rows made a 200,000-row file take 132 s where 20,000 took 3 s. The clock here
    moves 1 ms per row, so 2,000 rows take 2 s of it: about 8 steps at 0.25 s, not 100."""
    rows = [(f"NOT-STORED-{n}", "170", "70") for n in range(2000)]
    job_id = queued_job(sessions, csv_for(headers, *rows))
    clock = [0.0]
    monkeypatch.setattr(size_import_jobs.time, "monotonic", lambda: clock[0])
    progress_updates: list[object] = []
    real_update = size_import_jobs.update

    def counted_update(table):  # type: ignore[no-untyped-def]
        progress_updates.append(table)
        return real_update(table)

    monkeypatch.setattr(size_import_jobs, "update", counted_update)
    steps: list[int] = []
    original = size_import_jobs.import_sizes

    def counting(session, table, columns, *, log, after_row):  # type: ignore[no-untyped-def]
        def after(done: int) -> bool:
            clock[0] += 0.001
            before = len(progress_updates)
            going_on = after_row(done)
            if len(progress_updates) > before:
                steps.append(done)
            return going_on

        return original(session, table, columns, log=log, after_row=after)

    monkeypatch.setattr(size_import_jobs, "import_sizes", counting)
    status = size_import_jobs.run_job(sessions, job_id)
    with sessions() as session:
        job = session.get(model.SizeImportJob, job_id)
        assert status == size_import_jobs.FINISHED, job.log
        assert job.rows_done == len(rows)
    assert 4 <= len(steps) <= 2 / size_import_jobs.PROGRESS_INTERVAL_S + 1, steps
    assert all(step % size_import_jobs.PROGRESS_EVERY == 0 for step in steps)
