"""CPU per CT object of storing (``persistence.store_report``): an older ``persistence.py`` against
this checkout's, interleaved object by object in one process.

``worker_cpu.py`` compares whole worker code paths in separate processes, round by round; on a
machine others load, its rounds differ by a third. Storing is the phase most levers change, and
this compares it more tightly: both versions of ``persistence.py`` are loaded in one process (the
older one from ``git show REV:plugin/orthanc_rem/persistence.py``, with the modules of storing it
calls as they were at REV too: ``bulk_rows``, ``ct_rows``, ``store_statements``, ``chart_events``,
``study_totals``; the others are this checkout's, so REV must be API-compatible with them: ff2de7a
and later are), the same extracted reports are stored by each into its own fresh database,
alternating object by object, and process CPU time is summed per side; on PostgreSQL also the
server's CPU per object for each side's database (``server_cpu``)::

    PYTHONPATH=plugin .venv/bin/python benchmarks/store_cpu.py --baseline ff2de7a [--count 200]
    PYTHONPATH=plugin .venv/bin/python benchmarks/store_cpu.py --baseline ff2de7a --database postgres
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from baseline import revision_modules, scratch_database
from dose_copies import TEMPLATES, make_reports
from orthanc_rem import database, persistence
from orthanc_rem.extraction.dicom_file import read_dicom_file
from orthanc_rem.extraction.dispatch import extract
from server_cpu import PostgresServerCpu

WARM_UP = len(TEMPLATES["ct"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", required=True, help="git revision whose persistence.py to compare with")
    parser.add_argument("--count", type=int, default=200, help="CT objects (default 200)")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="orthanc-rem-store-cpu-") as tmp:
        folder = Path(tmp)
        names = ["bulk_rows", "ct_rows", "store_statements", "chart_events", "study_totals", "persistence"]
        older = revision_modules(args.baseline, names, "_baseline", folder)["persistence"]
        sides = {f"baseline {args.baseline}": older, "this checkout": persistence}
        reports = [extract(read_dicom_file(path))[1] for path in make_reports(WARM_UP + args.count, folder / "o")]
        with scratch_database(args.database, folder) as old_url, scratch_database(args.database, folder) as new_url:
            urls = dict(zip(sides, (old_url, new_url), strict=True))
            for url in urls.values():
                database.upgrade_schema(url)
            sessions = {side: database.session_factory(url) for side, url in urls.items()}
            spent = dict.fromkeys(sides, 0.0)
            servers = {side: PostgresServerCpu(url) for side, url in urls.items()}
            for number, report in enumerate(reports):
                if number == WARM_UP:
                    for server in servers.values():
                        server.start()
                # Alternate which side goes first, so that neither always follows the other.
                order = list(sides) if number % 2 else list(reversed(sides))
                for side in order:
                    started = time.process_time()
                    with sessions[side]() as session:
                        result = sides[side].store_report(session, report, None, f"benchmark:{number}")
                    if number >= WARM_UP:
                        spent[side] += time.process_time() - started
                    assert result.outcome == "imported", result
            server_spent = {side: server.stop() for side, server in servers.items()}
            database.dispose_all()
    print(f"{args.count} CT objects ({', '.join(TEMPLATES['ct'])}), database {args.database}")
    for side, seconds in spent.items():
        print(f"store CPU per object, {side}: {1000 * seconds / args.count:.2f} ms")
    for side, seconds in server_spent.items():
        if seconds is not None:
            print(f"PostgreSQL server CPU per object, {side}: {1000 * seconds / args.count:.2f} ms (/proc)")
    old, new = spent.values()
    print(f"RATIO this checkout / baseline {args.baseline}, store CPU per CT object: {new / old:.2f}")


if __name__ == "__main__":
    main()
