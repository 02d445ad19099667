"""Chart benchmark: the data of the CT charts over a million synthetic CT studies on PostgreSQL.

Loads N synthetic CT studies (default 1,000,000; ``--studies``) with five irradiation events each
(5,000,000 events) with ``benchmarks/browse.py``'s bulk loader, then requests each CT chart's data
from ``/api/charts/ct/<chart>`` through the Flask application, for all studies and for one year
(``date_from=2023-01-01&date_until=2023-12-31``), ``--repeat`` times after one warm-up, and prints
the median and the slowest in milliseconds. As a reference for the machine it also times one
``count(*)`` over every event (a full scan the charts cannot beat), and prints each chart's ratio to it.

Target (issue 9): the CT default charts under 1 s each at 1M studies. Figures depend on the machine
and on what else runs on it; compare runs made on the same machine.

    .venv/bin/python benchmarks/charts.py --studies 100000
    .venv/bin/python benchmarks/charts.py                     # 1M studies, 5M events
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import browse  # noqa: E402  (puts the repository's folders on sys.path)
from database_fixtures import postgres_available, scratch_postgres_url  # noqa: E402
from orthanc_rem import database  # noqa: E402
from orthanc_rem.config import Settings  # noqa: E402
from web_clients import dose_browser_client  # noqa: E402

EVENTS_PER_STUDY = 5
CHARTS = ("dlp-per-acquisition-protocol", "ctdivol-per-acquisition-protocol", "acquisition-frequency",
          "dlp-per-study-description", "study-frequency", "events-per-study-description", "workload",
          "dlp-over-time")  # fmt: skip
SELECTIONS = {"all studies": "", "one year": "date_from=2023-01-01&date_until=2023-12-31&"}


def reference_scan(url: str, repeat: int) -> float:
    engine = database.make_engine(url)
    times = []
    with engine.connect() as connection:
        for _ in range(repeat + 1):
            started = time.perf_counter()
            connection.exec_driver_sql("SELECT count(*) FROM ct_irradiation_event").scalar()
            times.append((time.perf_counter() - started) * 1000)
    engine.dispose()
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--studies", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="timed requests per chart (after 1 untimed)")
    parser.add_argument("--options", default="", help="chart options added to every request, e.g. histogram=yes")
    options = parser.parse_args()
    if not postgres_available():
        raise SystemExit("PostgreSQL is not reachable at 127.0.0.1:5432")
    browse.EVENTS_PER_STUDY = EVENTS_PER_STUDY  # the loader reads it per study
    with tempfile.TemporaryDirectory(prefix="charts-benchmark-") as folder:
        for url in scratch_postgres_url():
            database.upgrade_schema(url)
            seconds = browse.load(url, options.studies)
            events = options.studies * EVENTS_PER_STUDY
            print(f"\nPostgreSQL: {options.studies:,} CT studies, {events:,} events loaded in {seconds:.0f} s; "
                  f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")  # fmt: skip
            reference = reference_scan(url, options.repeat)
            print(f"  reference: count(*) over every event {reference:.0f} ms")
            settings = Settings(data_dir=Path(folder), database_url=url, queue_url="memory://", page_size=25)
            client = dose_browser_client(settings, database.session_factory(url, writer=False))
            print(f"  {'chart':34} {'studies':12} {'p50 ms':>8} {'max ms':>8} {'ratio':>6}")
            for chart in CHARTS:
                for label, query in SELECTIONS.items():
                    times = []
                    for attempt in range(options.repeat + 1):
                        started = time.perf_counter()
                        response = client.get(f"/api/charts/ct/{chart}?{query}{options.options}",
                                              base_url="http://localhost/rem/")  # fmt: skip
                        if response.status_code != 200:
                            raise SystemExit(f"{chart}: HTTP {response.status_code}: {response.get_data(as_text=True)}")
                        if attempt:
                            times.append((time.perf_counter() - started) * 1000)
                    p50 = statistics.median(times)
                    print(f"  {chart:34} {label:12} {p50:8.0f} {max(times):8.0f} {p50 / reference:6.1f}")
            database.dispose_all()


if __name__ == "__main__":
    main()
