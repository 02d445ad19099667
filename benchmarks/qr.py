"""Query-retrieve benchmark: N studies (one CT dose report each) on a PACS Orthanc, queried and
retrieved by our Orthanc through its DICOM client, until every object is extracted.

It starts two Orthanc processes on loopback (the PACS, bare; ours, with the plugin and 2 workers,
SQLite), sends N distinct CT RDSRs to the PACS (made from corpus files with new UIDs, as
``benchmarks/ingest.py`` makes them), then runs one SR-only query with retrieve, as
``orthanc-rem qr --sr-only --retrieve --wait`` does, and prints:

* query: seconds and studies per second (study, series and image-level C-FINDs through Orthanc's
  REST API, the filtering logic, the duplicate check against the dose database);
* retrieve: seconds and studies per second (a C-MOVE per series to Orthanc's own AE and a lookup of
  each object that arrived);
* end to end: from the query's start to the last object extracted;
* the reference: the same objects' C-STORE rate into the PACS over one association, measured in
  the same run, and the retrieve rate as a fraction of it (absolute rates depend on the machine).

Run with ``scripts/benchmark``'s environment, e.g.::

    PYTHONPATH=plugin:web .venv/bin/python benchmarks/qr.py --count 1000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "benchmarks")]

from sqlalchemy import select  # noqa: E402

from ingest import make_reports, send  # noqa: E402
from orthanc_harness import REPO_ROOT, OrthancProcess  # noqa: E402
from orthanc_rem import database, model  # noqa: E402
from orthanc_rem.config import load_settings, read_orthanc_configuration  # noqa: E402
from orthanc_rem.qr import store  # noqa: E402
from orthanc_rem.qr.options import QueryOptions  # noqa: E402
from orthanc_rem.tasks import build_queue  # noqa: E402


def wait(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            sys.exit(f"benchmark: {what} not done within {timeout:.0f} s")
        time.sleep(0.2)


def line_time(sessions, query_id: int, start: str) -> float:  # type: ignore[no-untyped-def]
    with sessions() as session:
        at = session.scalar(
            select(model.QrLogLine.at)
            .where(model.QrLogLine.query_fk == query_id, model.QrLogLine.line.startswith(start))
            .order_by(model.QrLogLine.id)
        )
    assert at is not None, start
    return at.timestamp()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000, help="studies on the PACS (default 1000)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qr-bench-") as folder:
        work = Path(folder)
        reports = make_reports(args.count, work / "objects", "ct")
        import pydicom

        uids = {path: str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID) for path in reports}
        url = f"sqlite:///{work / 'rem.sqlite'}"
        ours = OrthancProcess(
            work / "ours",
            aet="REMBENCH",
            python_script=REPO_ROOT / "plugin" / "orthanc_rem_plugin.py",
            config={
                "OrthancRem": {
                    "Database": url,
                    "Queue": f"sqlite:///{work / 'queue.sqlite'}",
                    "DataDirectory": str(work / "data"),
                    "Workers": 2,
                    "WorkerPython": sys.executable,
                }
            },
        )
        pacs = OrthancProcess(
            work / "pacs",
            name="pacs",
            aet="PACS",
            config={"DicomModalities": {"rem": ["REMBENCH", "127.0.0.1", ours.dicom_port]}},
        )
        with pacs, ours:
            started = time.monotonic()
            send(pacs.dicom_port, pacs.aet, reports, uids, associations=1)
            store_rate = len(reports) / (time.monotonic() - started)
            settings = load_settings(read_orthanc_configuration(ours.config_path))
            sessions = database.session_factory(url)
            with sessions.begin() as session:
                node = store.add_node(session, "pacs", pacs.aet, "127.0.0.1", pacs.dicom_port)
                query_id = store.create_query(
                    session, node, QueryOptions(sr_only=True, label="benchmark"), retrieve=True
                ).id
            queue = build_queue(settings)
            assert queue.qr is not None
            queue.qr.query(query_id)

            def extracted() -> bool:
                with sessions() as session:
                    query = session.get(model.QrQuery, query_id)
                    assert query is not None
                    if query.status == store.FAILED:
                        sys.exit(f"benchmark: query failed: {query.reason}")
                    return query.status == store.RETRIEVED and store.extraction_progress(session, query_id).done

            wait(extracted, 3600, "query, retrieve and extraction")
            finished = time.time()
            with sessions() as session:
                query = session.get(model.QrQuery, query_id)
                assert query is not None
                studies = query.study_count or 0
            began = line_time(sessions, query_id, "Query ")
            queried = line_time(sessions, query_id, "Query complete")
            retrieved = line_time(sessions, query_id, "Move complete")
    query_s, retrieve_s, total_s = queried - began, retrieved - queried, finished - began
    print(f"studies on the PACS: {args.count}; left to retrieve after the query: {studies}")
    print(f"query:    {query_s:8.1f} s  {studies / query_s:7.1f} studies/s")
    print(f"retrieve: {retrieve_s:8.1f} s  {studies / retrieve_s:7.1f} studies/s")
    print(f"total (query start to last object extracted): {total_s:.1f} s, {studies / total_s:.1f} studies/s")
    print(
        f"reference: C-STORE into the PACS over one association {store_rate:.1f} objects/s;"
        f" retrieve rate / C-STORE rate = {studies / retrieve_s / store_rate:.2f}"
    )


if __name__ == "__main__":
    main()
