"""Export benchmark: 100,000 synthetic CT studies on PostgreSQL to XLSX and CSV, against COPY.

Bulk-loads N CT studies (``--studies``, default 100,000) with ``--events`` irradiation events each
(one X-ray source per event, protocols drawn from 20 names) into a scratch PostgreSQL database with
``COPY``, then in the same run:

1. exports them to CSV and to XLSX with ``exports.runner.run_export`` (the code the CLI and the
   workers run), each in a child process of its own, and prints rows per second and the child's peak
   resident memory (``ru_maxrss``: interpreter and libraries included); the CSV twice, its values
   formatted by PostgreSQL (``exports.ct_csv_postgres``, what runs on PostgreSQL) and by the
   portable path (what runs on SQLite), and says whether the two files are identical;
2. times PostgreSQL's own ``COPY (SELECT ...) TO STDOUT WITH CSV`` of the same columns (the study
   columns, and the event and source columns one event per row), the limit nothing that leaves the
   server can beat;
3. writes the first ``--compare`` studies' XLSX rows (All data and the protocol sheets, as the
   export makes them) with each serialiser, each in a fresh child process: ours
   (``exports.spreadsheetml``), openpyxl's write-only mode with lxml (the old path), the same
   without lxml, and xlsxwriter's ``constant_memory`` mode when it is installed; it prints cells per
   second and each one's time as a multiple of ours.

Wall-clock times on a shared machine include waiting for a core, so the CPU time of the export
(``run_export`` alone) and of the PostgreSQL backends serving it (read from /proc) are printed
beside them, and the CSV is compared with COPY both ways. Targets (issue 8): XLSX under 60 s with
peak memory under 300 MB on 2 cores; CSV within 3x of COPY.

Needs the PostgreSQL server the tests use (127.0.0.1:5432, user postgres)::

    PYTHONPATH=plugin:web:tests .venv/bin/python benchmarks/export.py [--studies 100000] [--events 3] \
        [--compare 5000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import multiprocessing
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from database_fixtures import postgres_available, scratch_postgres_url  # noqa: E402
from orthanc_rem import database  # noqa: E402

PROTOCOLS = [f"Protocol {name}" for name in (
    "Head", "Chest", "Abdomen", "Pelvis", "CAP", "CTPA", "Colonography", "Sinus", "Spine", "Cardiac",
    "Angio", "Renal", "Liver", "Pancreas", "Extremity", "Neck", "Paediatric Head", "Trauma", "Biopsy", "Low Dose Chest",
)]  # fmt: skip
DESCRIPTIONS = ["CT HEAD", "CT CHEST", "CT ABDOMEN PELVIS", "CT CAP", "CTPA", "CT COLON"]


def _copy_rows(cursor: Any, table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join("\\N" if v is None else str(v) for v in row) + "\n")
    buffer.seek(0)
    cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buffer)


def bulk_load(url: str, studies: int, events: int) -> None:
    """Synthetic studies straight into the tables with COPY (the ingest path is benchmarked elsewhere)."""
    import psycopg2

    random.seed(8)
    connection = psycopg2.connect(url.replace("postgresql+psycopg2", "postgresql"))
    cursor = connection.cursor()
    now = dt.datetime(2026, 12, 1, 12, 0)
    _copy_rows(cursor, "equipment", ["id", "identity_hash", "manufacturer", "institution_name", "station_name",
                                     "manufacturer_model_name", "display_name"],
               [(n, f"{n:064d}", "SIEMENS", f"Hospital {n}", f"CT{n}", "SOMATOM Force", f"Hospital {n} CT{n}")
                for n in range(1, 11)])  # fmt: skip
    chunk = 20_000
    event_id = 0
    for start in range(1, studies + 1, chunk):
        ids = range(start, min(start + chunk, studies + 1))
        _copy_rows(cursor, "study", ["id", "study_instance_uid", "modality", "content_modality", "study_date",
                                     "study_time", "accession_number", "study_description", "operator_name",
                                     "requested_procedure_code_meaning", "equipment_id", "imported_at", "updated_at"],
                   [(n, f"1.2.826.0.1.3680043.8.498.{n}", "CT", "CT", dt.date(2020, 1, 1) + dt.timedelta(days=n % 2000),
                     f"{8 + n % 10:02d}:{n % 60:02d}:00", f"{n:010d}", DESCRIPTIONS[n % len(DESCRIPTIONS)],
                     "RADIOGRAPHER^A", DESCRIPTIONS[n % len(DESCRIPTIONS)], 1 + n % 10, now, now)
                    for n in ids])  # fmt: skip
        _copy_rows(cursor, "patient", ["id", "study_fk", "sex", "age_years", "size_m", "weight_kg",
                                       "name_hashed", "patient_id_hashed"],
                   [(n, n, "MF"[n % 2], 20 + n % 70, 1.70, 70.0 + n % 30, False, False) for n in ids])  # fmt: skip
        _copy_rows(cursor, "ct_radiation_dose", ["id", "study_fk", "sop_instance_uid", "dlp_total_mgycm"],
                   [(n, n, f"1.2.826.0.1.3680043.8.498.{n}.1", 300.0 + n % 500) for n in ids])  # fmt: skip
        event_rows, source_rows = [], []
        for n in ids:
            for _ in range(events):
                event_id += 1
                event_rows.append((event_id, n, f"1.2.826.0.1.3680043.8.498.{n}.{event_id}",
                                   random.choice(PROTOCOLS), "113804", "DCM", "Sequenced Acquisition", 4.2, 350.0,
                                   0.6, 38.4, 0.8, 1, round(random.uniform(2, 20), 2), "113691", "DCM",
                                   "IEC Body Dosimetry Phantom", round(random.uniform(50, 900), 2), "EC"))  # fmt: skip
                source_rows.append((event_id, event_id, "A", 120.0, 500.0, round(random.uniform(50, 400), 1), 0.5))
        _copy_rows(cursor, "ct_irradiation_event", ["id", "ct_radiation_dose_fk", "irradiation_event_uid",
                                                    "acquisition_protocol", "ct_acquisition_type_value",
                                                    "ct_acquisition_type_scheme", "ct_acquisition_type_meaning",
                                                    "exposure_time_s", "scanning_length_mm",
                                                    "nominal_single_collimation_width_mm",
                                                    "nominal_total_collimation_width_mm", "pitch_factor",
                                                    "number_of_xray_sources", "mean_ctdivol_mgy",
                                                    "ctdiw_phantom_type_value", "ctdiw_phantom_type_scheme",
                                                    "ctdiw_phantom_type_meaning", "dlp_mgycm",
                                                    "xray_modulation_type"], event_rows)  # fmt: skip
        _copy_rows(cursor, "ct_xray_source", ["id", "event_fk", "identification", "kvp_kv",
                                              "maximum_xray_tube_current_ma", "xray_tube_current_ma",
                                              "exposure_time_per_rotation_s"], source_rows)  # fmt: skip
    for table in ("equipment", "study", "patient", "ct_radiation_dose", "ct_irradiation_event", "ct_xray_source"):
        cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    connection.commit()
    cursor.execute("ANALYZE")
    connection.commit()  # the statistics too: without them every plan guessed (autovacuum may be off)
    connection.close()


def backend_cpu(url: str) -> float:
    """CPU seconds the PostgreSQL server processes serving ``url``'s database have used so far.

    The scratch database is this benchmark's alone, so its live backends are the export's (or the
    COPY's). With them the comparison with COPY holds on a loaded machine, where wall-clock time is
    mostly waiting for a core."""
    name = url.rsplit("/", 1)[1]
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if not title.startswith("postgres: ") or f" {name} " not in title:
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile, or not ours to read
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime (proc(5) fields 14, 15)
    return total


def _export_in_child(url: str, export_format: str, output: str, by_postgresql: bool, pipe: Any) -> None:
    from sqlalchemy import select

    from orthanc_rem import model
    from orthanc_rem.exports.runner import ExportFormat, ExportRequest, run_export

    sessions = database.session_factory(url, writer=False)
    started, cpu = time.perf_counter(), time.process_time()
    request = ExportRequest("CT", ExportFormat(export_format))
    result = run_export(sessions, request, select(model.Study.id), Path(output), formatted_by_postgresql=by_postgresql)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    server_cpu = backend_cpu(url)  # the pool's connections, opened by this process, are still open
    pipe.send((elapsed, cpu, server_cpu, peak_mb, result.rows, os.path.getsize(output)))


def timed_export(
    url: str, export_format: str, output: Path, by_postgresql: bool = True
) -> tuple[float, float, float, float, int, int]:
    """Wall seconds, the export's and its PostgreSQL backends' CPU seconds, the child's peak RSS
    (MB, interpreter and libraries included), rows and file size. ``by_postgresql``: the CT CSV's
    values formatted by the server (``exports.ct_csv_postgres``), else by the portable path."""
    figures, _ = _in_child(_export_in_child, url, export_format, str(output), by_postgresql)
    return figures  # type: ignore[no-any-return]


SERIALISERS = ("spreadsheetml", "openpyxl+lxml", "openpyxl", "xlsxwriter")


def _export_rows(url: str, studies: int) -> list[tuple[list[Any], list[tuple[str, list[Any]]]]]:
    """The first ``studies`` CT studies as the XLSX export writes them: the All data row, and each
    event's protocol sheet and row."""
    from orthanc_rem.exports.columns import PatientData
    from orthanc_rem.exports.ct_layout import CT
    from orthanc_rem.exports.study_header import StudyDose, study_headers
    from orthanc_rem.exports.values import study_level_values, with_blocks
    from orthanc_rem.exports.xlsx_file import sheet_name

    sessions = database.session_factory(url, writer=False)
    ids = list(range(1, studies + 1))
    rows = []
    with sessions() as session:
        headers = study_headers(session, ids, "CT", PatientData())
        doses = CT.read(session, ids)
    for study_id in ids:
        dose = doses.get(study_id) or StudyDose()
        values = study_level_values(headers[study_id], dose, CT)
        events = [(sheet_name(protocol), [*values, *event]) for protocol, event in dose.events]
        rows.append((with_blocks(values, dose), events))
    return rows


def _serialise(serialiser: str, rows: list[Any], output: str) -> None:
    """Write ``rows`` with one library, as the export writes them (date and time cells styled)."""
    sheets = sorted({name for _, events in rows for name, _ in events})
    if serialiser == "spreadsheetml":
        from orthanc_rem.exports.spreadsheetml import Workbook

        book = Workbook(Path(output), ["All data", *sheets], streamed="All data", date_format="dd/mm/yyyy",
                        time_format="hh:mm:ss")  # fmt: skip
        for study, events in rows:
            book.sheet("All data").append(study)
            for name, event in events:
                book.sheet(name).append(event)
        book.close()
    elif serialiser.startswith("openpyxl"):
        import openpyxl
        from openpyxl.cell import WriteOnlyCell

        workbook = openpyxl.Workbook(write_only=True)
        all_data = workbook.create_sheet("All data")
        by_name = {name: workbook.create_sheet(name) for name in sheets}

        def cells(sheet: Any, values: list[Any]) -> list[Any]:
            out = []
            for value in values:
                if isinstance(value, (dt.date, dt.time)):
                    cell = WriteOnlyCell(sheet, value)
                    cell.number_format = "dd/mm/yyyy" if isinstance(value, dt.date) else "hh:mm:ss"
                    value = cell
                out.append(value)
            return out

        for study, events in rows:
            all_data.append(cells(all_data, study))
            for name, event in events:
                by_name[name].append(cells(by_name[name], event))
        workbook.save(output)
    else:
        import xlsxwriter

        book = xlsxwriter.Workbook(output, {"constant_memory": True})
        date, time_of_day = book.add_format({"num_format": "dd/mm/yyyy"}), book.add_format({"num_format": "hh:mm:ss"})
        all_data = book.add_worksheet("All data")
        by_name = {name: book.add_worksheet(name) for name in sheets}
        next_row = dict.fromkeys(sheets, 0)

        def write(sheet: Any, row: int, values: list[Any]) -> None:
            for column, value in enumerate(values):
                if value is None:
                    continue
                if isinstance(value, dt.time):
                    sheet.write_datetime(row, column, value, time_of_day)
                elif isinstance(value, dt.date):
                    sheet.write_datetime(row, column, value, date)
                else:
                    sheet.write(row, column, value)

        for row, (study, events) in enumerate(rows):
            write(all_data, row, study)
            for name, event in events:
                write(by_name[name], next_row[name], event)
                next_row[name] += 1
        book.close()


def _serialise_in_child(url: str, studies: int, serialiser: str, output: str, pipe: Any) -> None:
    if serialiser == "openpyxl":
        os.environ["OPENPYXL_LXML"] = "False"  # read by openpyxl when it is first imported
    rows = _export_rows(url, studies)
    cells = sum(len(study) + sum(len(event) for _, event in events) for study, events in rows)
    started, cpu = time.perf_counter(), time.process_time()
    _serialise(serialiser, rows, output)
    pipe.send((time.perf_counter() - started, time.process_time() - cpu, cells))


def compare_serialisers(url: str, studies: int, folder: Path) -> None:
    try:
        import xlsxwriter  # noqa: F401
    except ImportError:
        available = SERIALISERS[:-1]
        print("xlsxwriter is not installed: not compared")
    else:
        available = SERIALISERS
    reference = None
    for serialiser in available:
        (elapsed, cpu, cells), _ = _in_child(_serialise_in_child, url, studies, serialiser, str(folder / "s.xlsx"))
        reference = reference or cpu
        print(f"  {serialiser:14} {elapsed:6.2f} s, CPU {cpu:6.2f} s, {cells / cpu:,.0f} cells per CPU second, "
              f"{cpu / reference:.1f}x ours")  # fmt: skip


def _in_child(target: Any, *args: Any) -> tuple[Any, float]:
    """Run ``target(*args, pipe)`` in a fresh interpreter; its answer and the child's CPU seconds."""
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: its peak is its own
    receiver, sender = context.Pipe(duplex=False)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    child = context.Process(target=target, args=(*args, sender))
    child.start()
    answer = receiver.recv()
    child.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return answer, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


#: The same columns as the CSV export: the study's, then each event's with its first source.
COPY_STUDIES = """COPY (SELECT s.id, e.institution_name, e.manufacturer, e.manufacturer_model_name, e.station_name,
  e.display_name, s.accession_number, s.operator_name, s.study_date, s.study_time, p.age_years, p.sex, p.size_m,
  p.weight_kg, p.not_patient_indicator, s.study_description, s.requested_procedure_code_meaning, d.comment,
  d.dlp_total_mgycm FROM study s LEFT JOIN patient p ON p.study_fk = s.id LEFT JOIN equipment e
  ON e.id = s.equipment_id LEFT JOIN ct_radiation_dose d ON d.study_fk = s.id) TO STDOUT WITH CSV"""
COPY_EVENTS = """COPY (SELECT d.study_fk, v.acquisition_protocol, v.ct_acquisition_type_meaning, v.exposure_time_s,
  v.scanning_length_mm, v.nominal_single_collimation_width_mm, v.nominal_total_collimation_width_mm, v.pitch_factor,
  v.number_of_xray_sources, v.mean_ctdivol_mgy, v.ctdiw_phantom_type_meaning, v.dlp_mgycm, x.identification,
  x.kvp_kv, x.maximum_xray_tube_current_ma, x.xray_tube_current_ma, x.exposure_time_per_rotation_s,
  v.xray_modulation_type, v.comment FROM ct_irradiation_event v JOIN ct_radiation_dose d
  ON d.id = v.ct_radiation_dose_fk LEFT JOIN ct_xray_source x ON x.event_fk = v.id ORDER BY v.id) TO STDOUT WITH CSV"""


def timed_copy(url: str) -> tuple[float, float]:
    """Wall seconds, and CPU seconds of the server's backend and of this process receiving."""
    import psycopg2

    connection = psycopg2.connect(url.replace("postgresql+psycopg2", "postgresql"))
    before, cpu = backend_cpu(url), time.process_time()
    started = time.perf_counter()
    with open(os.devnull, "w") as sink:
        for statement in (COPY_STUDIES, COPY_EVENTS):
            connection.cursor().copy_expert(statement, sink)
    elapsed = time.perf_counter() - started
    work = backend_cpu(url) - before + time.process_time() - cpu
    connection.close()
    return elapsed, work


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=3, help="irradiation events per study")
    parser.add_argument("--compare", type=int, default=5000, help="studies written by each XLSX serialiser (0: none)")
    args = parser.parse_args()
    if not postgres_available():
        sys.exit("PostgreSQL is not reachable at 127.0.0.1:5432 (user postgres)")
    for url in scratch_postgres_url():
        database.upgrade_schema(url)
        started = time.perf_counter()
        bulk_load(url, args.studies, args.events)
        print(f"loaded {args.studies} CT studies x {args.events} events in {time.perf_counter() - started:.1f} s")
        copy_s, copy_cpu = timed_copy(url)
        print(f"COPY ... TO STDOUT WITH CSV (same columns): {copy_s:.2f} s (CPU {copy_cpu:.2f} s with the server's), "
              f"{args.studies / copy_s:,.0f} studies/s")  # fmt: skip
        with tempfile.TemporaryDirectory() as folder:
            runs = [("csv", True, "CSV  export"), ("csv", False, "CSV  export, portable path"),
                    ("xlsx", True, "XLSX export")]  # fmt: skip
            for export_format, by_postgresql, label in runs:
                output = Path(folder) / f"ct-{by_postgresql}.{export_format}"
                elapsed, cpu, server_cpu, peak_mb, rows, size = timed_export(url, export_format, output, by_postgresql)
                work = cpu + server_cpu
                print(
                    f"{label}: {elapsed:.2f} s, {rows / elapsed:,.0f} studies/s, CPU "
                    f"{cpu:.2f} s + server {server_cpu:.2f} s, peak RSS {peak_mb:.0f} MB, file {size / 1e6:.1f} MB"
                    + (f"; {elapsed / copy_s:.1f}x COPY's time, {work / copy_cpu:.1f}x its CPU (target <= 3x)"
                       if export_format == "csv" else " (target < 60 s and < 300 MB)")
                )  # fmt: skip
            same = (Path(folder) / "ct-True.csv").read_bytes() == (Path(folder) / "ct-False.csv").read_bytes()
            print(f"CSV files of the two paths {'identical' if same else 'DIFFER'}")
            if args.compare:
                print(f"XLSX serialisers, the first {min(args.compare, args.studies)} studies' rows:")
                compare_serialisers(url, min(args.compare, args.studies), Path(folder))
        database.dispose_all()


if __name__ == "__main__":
    main()
