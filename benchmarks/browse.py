"""Read-side benchmark: the dose pages and the API over a million CT studies.

Bulk-loads N synthetic CT studies (default 1,000,000; ``--studies``) with one dose report and three
irradiation events each, spread over 5 years and 20 systems, straight into a fresh dose database
with SQL (``COPY`` on PostgreSQL, ``executemany`` on SQLite; not through Orthanc or the importer,
which would take hours), with the schema of the migrations and their triggers. Then it requests,
through the Flask application as Orthanc's bridge calls it, each page below ``--repeat`` times
after a warm-up and prints p50 and p95 in milliseconds:

home page, CT list page 1, a deep page (page 2000), one quarter's dates, a study description
filter, the list sorted by total DLP, ``api/studies?modality=CT&per_page=100``, a detail page, and
page 2000 of the list and of the API both by page number (OFFSET) and by keyset (the "next" link,
the API's ``next`` cursor), in the same run.

Target (issue 7): every one under 150 ms p95 on PostgreSQL at 1M studies. Figures depend on the
machine and on what else runs on it; compare runs made on the same machine.

    .venv/bin/python benchmarks/browse.py --studies 100000 --database both
    .venv/bin/python benchmarks/browse.py                      # 1M, SQLite and PostgreSQL
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import delete

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "web"))
sys.path.insert(0, str(REPO / "plugin"))

from database_fixtures import postgres_available, scratch_postgres_url  # noqa: E402
from orthanc_rem import database, study_filters  # noqa: E402
from orthanc_rem.config import Settings  # noqa: E402
from orthanc_rem.model import DoseBrowserUser  # noqa: E402
from web_clients import dose_browser_client  # noqa: E402

SYSTEMS = 20
YEARS = 5
EVENTS_PER_STUDY = 3
FIRST_DAY = dt.date(2020, 1, 1)
DESCRIPTIONS = [
    "CT HEAD", "CT CHEST", "CT ABDOMEN PELVIS", "CT CHEST ABDOMEN PELVIS", "CT CERVICAL SPINE",
    "CT LUMBAR SPINE", "CT SINUSES", "CT CORONARY ANGIOGRAPHY", "CT PULMONARY ANGIOGRAPHY", "CT KIDNEYS",
    "CT COLONOGRAPHY", "CT CARDIAC CALCIUM SCORE", "CT AORTA", "CT KNEE", "CT WRIST", "CT FACIAL BONES",
    "CT TEMPORAL BONES", "CT NECK", "CT PELVIS", "CT LIVER TRIPHASIC",
]  # fmt: skip
PROTOCOLS = ["Topogram", "Routine", "Contrast", "Delayed", "Low dose"]
BATCH = 50_000


def _now() -> str:
    return dt.datetime(2025, 1, 1, 12, 0).isoformat(sep=" ")


def study_rows(count: int, seed: int = 7) -> Iterator[tuple[Any, ...]]:
    """(id, uid, date, time, accession, description, equipment id, total DLP) per study."""
    rng = random.Random(seed)
    days = YEARS * 365
    for study_id in range(1, count + 1):
        day = FIRST_DAY + dt.timedelta(days=rng.randrange(days))
        seconds = rng.randrange(7 * 3600, 20 * 3600)
        when = dt.time(seconds // 3600, seconds // 60 % 60, seconds % 60)
        dlp = round(rng.lognormvariate(6.3, 0.7), 2)
        yield (study_id, f"2.25.{study_id}", day, when, f"ACC{study_id:09d}", rng.choice(DESCRIPTIONS),
               rng.randrange(1, SYSTEMS + 1), dlp)  # fmt: skip


def equipment_rows() -> list[tuple[Any, ...]]:
    rows = []
    for n in range(1, SYSTEMS + 1):
        identity = hashlib.sha256(f"benchmark system {n}".encode()).hexdigest()
        rows.append((n, identity, "SIEMENS", f"Hospital {n % 4}", f"CT{n:02d}", "SOMATOM Force", f"CT scanner {n:02d}"))
    return rows


TABLES: dict[str, tuple[str, ...]] = {
    "equipment": ("id", "identity_hash", "manufacturer", "institution_name", "station_name",
                  "manufacturer_model_name", "display_name"),
    "study": ("id", "study_instance_uid", "modality", "content_modality", "study_date", "study_time",
              "accession_number", "accession_number_hashed", "study_description", "equipment_id",
              "imported_at", "updated_at"),
    "ct_radiation_dose": ("id", "study_fk", "sop_instance_uid", "dlp_total_mgycm",
                          "total_number_of_irradiation_events"),
    "ct_irradiation_event": ("id", "ct_radiation_dose_fk", "irradiation_event_uid", "acquisition_protocol",
                             "mean_ctdivol_mgy", "dlp_mgycm"),
    "study_totals": ("study_fk", "total_dlp_mgycm"),
}  # fmt: skip


def table_rows(studies: list[tuple[Any, ...]]) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of every table for a batch of studies (the report and totals share the study's id)."""
    now = _now()
    rows: dict[str, list[tuple[Any, ...]]] = {name: [] for name in TABLES if name != "equipment"}
    for study_id, uid, day, when, accession, description, equipment_id, dlp in studies:
        rows["study"].append((study_id, uid, "CT", "CT", day, when, accession, False, description, equipment_id,
                              now, now))  # fmt: skip
        rows["ct_radiation_dose"].append((study_id, study_id, f"{uid}.1", dlp, EVENTS_PER_STUDY))
        for k in range(EVENTS_PER_STUDY):
            event_id = (study_id - 1) * EVENTS_PER_STUDY + k + 1
            share = dlp / EVENTS_PER_STUDY
            rows["ct_irradiation_event"].append((event_id, study_id, f"{uid}.1.{k}", PROTOCOLS[(study_id + k) % 5],
                                                 round(share / 40, 2), round(share, 2)))  # fmt: skip
        rows["study_totals"].append((study_id, dlp))
    return rows


def _copy_text(rows: list[tuple[Any, ...]]) -> io.StringIO:
    def cell(value: Any) -> str:
        if value is None:
            return "\\N"
        if isinstance(value, bool):
            return "t" if value else "f"
        return str(value)

    return io.StringIO("".join("\t".join(map(cell, row)) + "\n" for row in rows))


def load(url: str, count: int) -> float:
    """Bulk-load ``count`` studies; returns the seconds it took."""
    started = time.perf_counter()
    engine = database.make_engine(url)
    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as connection:
        raw: Any = connection.connection.dbapi_connection
        cursor = raw.cursor()
        batches: list[tuple[str, list[tuple[Any, ...]]]] = [("equipment", equipment_rows())]
        pending: list[tuple[Any, ...]] = []

        def flush(batch: list[tuple[Any, ...]]) -> None:
            for name, rows in [*batches, *table_rows(batch).items()]:
                columns = TABLES[name]
                if postgres:
                    cursor.copy_expert(f"COPY {name} ({', '.join(columns)}) FROM STDIN", _copy_text(rows))
                else:
                    marks = ", ".join("?" for _ in columns)
                    sqlite_rows = [tuple(v.isoformat() if isinstance(v, (dt.date, dt.time)) else v for v in r)
                                   for r in rows]  # fmt: skip
                    cursor.executemany(f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({marks})", sqlite_rows)
            batches.clear()

        for row in study_rows(count):
            pending.append(row)
            if len(pending) == BATCH:
                flush(pending)
                pending = []
                print(f"  loaded {row[0]:,} studies", end="\r", file=sys.stderr, flush=True)
        if pending:
            flush(pending)
        if postgres:
            for table in ("equipment", "study", "ct_radiation_dose", "ct_irradiation_event"):
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    # A database in service is vacuumed by autovacuum after such a load (PostgreSQL 13+ counts
    # inserts), which lets the lists' index-only scans skip the table; measure that steady state.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE" if postgres else "ANALYZE")
    engine.dispose()
    return time.perf_counter() - started


PAGES = {
    "home page": "/",
    "CT list, page 1": "/ct/",
    "CT list, page 2000": "/ct/?page=2000",
    "one quarter's dates": "/ct/?date_from=2024-01-01&date_until=2024-03-31",
    "description filter": "/ct/?study_description=chest",
    "sorted by DLP": "/ct/?order_by=-total_dlp",
    "api/studies?modality=CT&per_page=100": "/api/studies?modality=CT&per_page=100",
    "detail page": "/ct/{middle}",
    # The same deep page reached by keyset (study_keyset): the "next" link of page 1999 and the
    # API's cursor; the offset rows above are the reference of the same run.
    "CT list, page 2000 by next link": "/ct/?page=2000&after={page_1999_next}",
    "api/studies, page 2000 by page number": "/api/studies?modality=CT&per_page=100&page=2000",
    "api/studies, page 2000 by cursor": "/api/studies?modality=CT&per_page=100&after={api_page_1999_next}",
    "sorted by DLP, page 2000": "/ct/?order_by=-total_dlp&page=2000",
    "oldest first, page 2000": "/ct/?order_by=study_date&page=2000",
    # The reference of the deferred join (study_filters._offset_page): the same pages read by
    # OFFSET over whole rows, as before it.
    "CT list, page 2000, whole-row OFFSET": "/ct/?page=2000",
    "api/studies, page 2000, whole-row OFFSET": "/api/studies?modality=CT&per_page=100&page=2000",
    "sorted by DLP, page 2000, whole-row OFFSET": "/ct/?order_by=-total_dlp&page=2000",
    "oldest first, page 2000, whole-row OFFSET": "/ct/?order_by=study_date&page=2000",
}
WHOLE_ROW_OFFSET = "whole-row OFFSET"


def whole_row_offset_page(session: Any, f: Any, page: int, per_page: int) -> Any:
    """Page ``page`` read with OFFSET over the whole rows of the list's query (the reference)."""
    return study_filters.select_studies(f).offset((max(page, 1) - 1) * per_page).limit(per_page + 1)


def cursors(client: Any) -> dict[str, str]:
    """The cursors the keyset rows start from, read (untimed) as a user's previous page gives them."""

    def next_of(path: str) -> str:
        answer = client.get(path, base_url="http://localhost/rem/")
        if answer.status_code != 200 or not answer.get_json()["next"]:
            raise SystemExit(f"{path}: no next cursor (HTTP {answer.status_code})")
        return str(answer.get_json()["next"])

    return {
        "page_1999_next": next_of("/api/studies?modality=CT&per_page=25&page=1999"),
        "api_page_1999_next": next_of("/api/studies?modality=CT&per_page=100&page=1999"),
    }


def measure(url: str, count: int, repeat: int, workdir: Path) -> dict[str, tuple[float, float, float]]:
    settings = Settings(data_dir=workdir, database_url=url, queue_url="memory://", page_size=25)
    with database.session_factory(url)() as session:  # --no-load again: the last run's user is still there
        session.execute(delete(DoseBrowserUser).where(DoseBrowserUser.name.like("user-%")))
        session.commit()
    client = dose_browser_client(settings, database.session_factory(url, writer=False))
    figures = {}
    positions = cursors(client)
    for label, path in PAGES.items():
        path = path.format(middle=count // 2, **positions)
        deferred_join = study_filters._offset_page
        if label.endswith(WHOLE_ROW_OFFSET):
            study_filters._offset_page = whole_row_offset_page
        try:
            figures[label] = timed(client, path, repeat)
        finally:
            study_filters._offset_page = deferred_join
    return figures


def timed(client: Any, path: str, repeat: int) -> tuple[float, float, float]:
    """p50, p95 and median CPU (ms) of ``repeat`` requests after two untimed ones."""
    times, cpu = [], []
    for attempt in range(repeat + 2):
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get(path, base_url="http://localhost/rem/")
        elapsed = (time.perf_counter() - started) * 1000
        if attempt >= 2:
            cpu.append((time.process_time() - started_cpu) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{path}: HTTP {response.status_code}: {response.get_data(as_text=True)[:300]}")
        if attempt >= 2:  # warm-up: first use of templates and of the database's caches
            times.append(elapsed)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return statistics.median(times), p95, statistics.median(cpu)


def database_urls(choice: str, workdir: Path) -> Iterator[tuple[str, str]]:
    if choice in ("sqlite", "both"):
        yield "SQLite", f"sqlite:///{workdir / 'browse.sqlite'}"
    if choice in ("postgres", "both"):
        if not postgres_available():
            print("PostgreSQL is not reachable at 127.0.0.1:5432: skipped", file=sys.stderr)
            return
        for url in scratch_postgres_url():
            yield "PostgreSQL", url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--studies", type=int, default=1_000_000, help="synthetic CT studies to load")
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=20, help="timed requests per page (after 2 untimed)")
    parser.add_argument("--url", help="an existing empty database to load (kept afterwards) instead of scratch ones")
    parser.add_argument("--no-load", action="store_true", help="with --url: measure what it holds, load nothing")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="browse-benchmark-") as folder:
        workdir = Path(folder)
        urls = [("given database", options.url)] if options.url else database_urls(options.database, workdir)
        for label, url in urls:
            database.upgrade_schema(url)
            if not options.no_load:
                seconds = load(url, options.studies)
                print(f"\n{label}: {options.studies:,} CT studies, {options.studies * EVENTS_PER_STUDY:,} events "
                      f"loaded in {seconds:.0f} s")  # fmt: skip
            print(f"  load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; cpu: this process's, median")
            print(f"  {'request':40} {'p50 ms':>8} {'p95 ms':>8} {'cpu ms':>8}")
            for name, (p50, p95, cpu) in measure(url, options.studies, options.repeat, workdir).items():
                print(f"  {name:40} {p50:8.1f} {p95:8.1f} {cpu:8.1f}")
            database.dispose_all()


if __name__ == "__main__":
    main()
