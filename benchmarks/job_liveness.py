"""What the stopped-job check costs the pages that poll job progress.

The Exports page polls ``/exports/status.json`` every 2 s while an export runs, and every poll now
first looks for jobs whose worker stopped (``orthanc_rem_web.stopped_jobs``: one query on each job
table's status index). This fills a fresh dose database with ``--jobs`` ended jobs of each kind
(exports, size imports, queries) and 3 running ones whose workers beat, then requests the poll
endpoint ``--repeat`` times with the check and, as the reference in the same run (alternating), with
the check left out, and prints p50 and p95 in milliseconds of both and their ratio.

    .venv/bin/python benchmarks/job_liveness.py --jobs 10000 --database both
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "web"))
sys.path.insert(0, str(REPO / "plugin"))

from database_fixtures import postgres_available, scratch_postgres_url  # noqa: E402
from orthanc_rem import database, export_jobs, job_heartbeat, model  # noqa: E402
from orthanc_rem.config import Settings  # noqa: E402
from orthanc_rem.exports.runner import ExportFormat, ExportRequest  # noqa: E402
from orthanc_rem_web import export_pages  # noqa: E402
from web_clients import dose_browser_client  # noqa: E402


def fill(url: str, jobs: int) -> None:
    sessions = database.session_factory(url)
    at = job_heartbeat.now()
    with sessions.begin() as session:
        node = model.QrNode(name="pacs", aet="PACS", host="pacs.example", port=104, created_at=at)
        session.add(node)
        session.flush()
        for number in range(jobs + 1):
            status = "running" if number == jobs else "finished"
            export = export_jobs.create_job(
                session, owner=None, request=ExportRequest("CT", ExportFormat.CSV), filters={}
            )
            export.status, export.finished_at = status, at
            session.add(model.SizeImportJob(filename="sizes.csv", status=status, created_at=at, rows_done=0,
                                            height_unit="cm", log=""))  # fmt: skip
            session.add(model.QrQuery(node_fk=node.id, node_name="pacs", options="{}", status=
                                      "querying" if number == jobs else "queried", created_at=at))  # fmt: skip
        for table in (model.ExportJob, model.SizeImportJob, model.QrQuery):
            for job in session.query(table).filter(table.status.in_(("running", "querying"))):
                job_heartbeat.claim(job)


def timings(client: Any, repeat: int) -> tuple[list[float], list[float]]:
    """Polls with the check and without it, alternated so that both see the same machine load."""
    check = export_pages.fail_stopped_jobs
    taken: tuple[list[float], list[float]] = ([], [])
    try:
        for number in range(2 * repeat + 2):
            with_check = number % 2 == 0
            export_pages.fail_stopped_jobs = check if with_check else (lambda: None)  # type: ignore[assignment]
            start = time.perf_counter()
            response = client.get("/exports/status.json")
            elapsed = (time.perf_counter() - start) * 1000
            assert response.status_code == 200
            if number >= 2:  # the first of each: warm-up
                taken[0 if with_check else 1].append(elapsed)
    finally:
        export_pages.fail_stopped_jobs = check  # type: ignore[assignment]
    return taken


@contextlib.contextmanager
def database_url(kind: str) -> Iterator[str]:
    if kind == "postgresql":
        with contextlib.contextmanager(scratch_postgres_url)() as url:
            database.upgrade_schema(url)
            yield url
        return
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/rem.sqlite"
        database.upgrade_schema(url)
        yield url


def run(kind: str, jobs: int, repeat: int) -> None:
    with database_url(kind) as url, tempfile.TemporaryDirectory() as data:
        fill(url, jobs)
        settings = Settings(data_dir=Path(data), database_url=url, queue_url="memory://")
        client = dose_browser_client(settings, database.session_factory(url))
        checked, reference = timings(client, repeat)

        def p(values: list[float], q: int) -> float:
            return statistics.quantiles(values, n=100)[q - 1]

        print(f"{kind}, {jobs} ended + 1 running job of each kind, {repeat} polls of /exports/status.json:")
        print(f"  with the check    p50 {p(checked, 50):7.2f} ms  p95 {p(checked, 95):7.2f} ms")
        print(f"  without (ref.)    p50 {p(reference, 50):7.2f} ms  p95 {p(reference, 95):7.2f} ms")
        print(f"  ratio p50 {p(checked, 50) / p(reference, 50):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="sqlite")
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    for kind in kinds:
        if kind == "postgresql" and not postgres_available():
            print("postgresql: not reachable, skipped")
            continue
        run(kind, args.jobs, args.repeat)


if __name__ == "__main__":
    main()
