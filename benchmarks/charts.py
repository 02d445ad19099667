"""Chart benchmark: the data of the CT charts over a million synthetic CT studies on PostgreSQL.

Loads N synthetic CT studies (default 1,000,000; ``--studies``) with five irradiation events each
(5,000,000 events) with ``benchmarks/browse.py``'s bulk loader, then requests each CT chart's data
from ``/api/charts/ct/<chart>`` through the Flask application, for all studies and for one year
(``date_from=2023-01-01&date_until=2023-12-31``), ``--repeat`` times after one warm-up, and prints
the median and the slowest in milliseconds. As a reference for the machine it also times one
``count(*)`` over every event (a full scan the charts cannot beat), and prints each chart's ratio to it.

The CT acquisition charts read the narrow ``ct_chart_event`` table (migration 0016b); the loader
bypasses the application, so the table is filled afterwards with ``chart_events.copy_all`` (timed:
what the migration's backfill costs). For those charts the same run also times the former rows,
named per row and grouped by name, as before ``charts.named_groups``, through ``chart_data``
directly, and prints both (``--dose-tree`` adds the rows joined from the dose tree, slow).
Every request names its options (``--options``, default both averages, a series per system and no
histograms, as the figures before the table) so that the users' stored defaults play no part.

Target (issue 9): the CT default charts under 1 s each at 1M studies. Figures depend on the machine
and on what else runs on it; compare runs made on the same machine.

    .venv/bin/python benchmarks/charts.py --studies 100000
    .venv/bin/python benchmarks/charts.py                     # 1M studies, 5M events
    .venv/bin/python benchmarks/charts.py --keep charts_1m    # the same, database kept; then
    .venv/bin/python benchmarks/charts.py --database-url postgresql+psycopg2://postgres@127.0.0.1:5432/charts_1m
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import browse  # noqa: E402  (puts the repository's folders on sys.path)
from database_fixtures import _admin, postgres_available, scratch_postgres_url  # noqa: E402
from orthanc_rem import chart_events, charts, database, model  # noqa: E402
from orthanc_rem.charts import sources  # noqa: E402
from orthanc_rem.charts import statistics as chart_statistics  # noqa: E402
from orthanc_rem.config import Settings  # noqa: E402
from orthanc_rem.study_filters import parse_study_filter  # noqa: E402
from web_clients import dose_browser_client  # noqa: E402

EVENTS_PER_STUDY = 5
CHARTS = ("dlp-per-acquisition-protocol", "ctdivol-per-acquisition-protocol", "acquisition-frequency",
          "dlp-per-study-description", "study-frequency", "events-per-study-description", "workload",
          "dlp-over-time")  # fmt: skip
MEAN_ONLY = "average=mean&series_per_system=yes&histogram=no"
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


#: The charts now read from ``ct_chart_event``, and the value each read from the dose tree before.
NARROWED = {"dlp-per-acquisition-protocol": model.CtIrradiationEvent.dlp_mgycm,
            "ctdivol-per-acquisition-protocol": model.CtIrradiationEvent.mean_ctdivol_mgy,
            "acquisition-frequency": model.CtIrradiationEvent.dlp_mgycm}  # fmt: skip


def dose_tree_chart(name: str) -> charts.Chart:
    """The chart as it was before ``ct_chart_event``: its rows joined from event, report and study."""
    value = NARROWED[name]
    protocol = model.CtIrradiationEvent.acquisition_protocol
    found = charts.chart("CT", name)
    assert found is not None
    return dataclasses.replace(
        found, rows=lambda _s, filtered, o: sources.ct_events(filtered, o, protocol, value, localisers=False)
    )


def time_chart_data(url: str, chart: charts.Chart, query: str, repeat: int) -> list[float]:
    """Milliseconds of ``chart_data`` (what the endpoint runs), ``repeat`` times after one warm-up."""
    arguments = dict(urllib.parse.parse_qsl(query))
    study_filter = parse_study_filter(arguments, for_modality="CT", may_see_patient_data=False)
    options = charts.parse_chart_options(arguments)
    times = []
    with database.session_factory(url, writer=False)() as session:
        for attempt in range(repeat + 1):
            started = time.perf_counter()
            charts.chart_data(session, chart, study_filter, options)
            session.rollback()
            if attempt:
                times.append((time.perf_counter() - started) * 1000)
    return times


def fill_chart_events(url: str) -> float:
    started = time.perf_counter()
    with database.session_factory(url)() as session:
        chart_events.copy_all(session)
        session.commit()
    engine = database.make_engine(url)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE ct_chart_event")
    engine.dispose()
    return time.perf_counter() - started


def median_of_runs(url: str, chart: charts.Chart, query: str, repeat: int, buckets: bool = True) -> float:
    chart_statistics.MEDIAN_BY_BUCKETS = buckets
    try:
        return statistics.median(time_chart_data(url, chart, query, repeat))
    finally:
        chart_statistics.MEDIAN_BY_BUCKETS = True


def named_rows_chart(name: str) -> charts.Chart:
    """The chart as it was before ``charts.named_groups``: ``ct_chart_event`` rows named per row
    (trimmed protocol, "Blank", display name joined) and grouped by those names."""
    found = charts.chart("CT", name)
    assert found is not None
    return dataclasses.replace(found, narrow_value=None)


def compare(url: str, options: argparse.Namespace) -> None:
    """Before: ct_chart_event rows named per row, then grouped (bucketed median). After: grouped by
    the stored protocol and equipment id, named afterwards (``charts.named_groups``). With
    ``--dose-tree`` also the rows joined from the dose tree with percentile_cont (the first figures)."""
    print("  chart_data only (ms, median of the runs): before = ct_chart_event named per row;"
          " after = grouped by stored keys, named afterwards"
          + ("; dose tree = event/report/study joins + percentile_cont" if options.dose_tree else ""))  # fmt: skip
    for chosen in (options.options, MEAN_ONLY):
        print(f"  options {chosen}")
        tree = f" {'dose tree':>9}" if options.dose_tree else ""
        print(f"  {'chart':34} {'studies':12}{tree} {'before':>8} {'after':>8} {'speed-up':>8}")
        for name in NARROWED:
            after_chart = charts.chart("CT", name)
            assert after_chart is not None
            for label, query in SELECTIONS.items():
                tree = ""
                if options.dose_tree:
                    tree = f" {median_of_runs(url, dose_tree_chart(name), query + chosen, options.repeat, False):9.0f}"
                before = median_of_runs(url, named_rows_chart(name), query + chosen, options.repeat)
                after = median_of_runs(url, after_chart, query + chosen, options.repeat)
                print(f"  {name:34} {label:12}{tree} {before:8.0f} {after:8.0f} {before / after:8.1f}", flush=True)


def time_api(url: str, folder: str, options: argparse.Namespace, reference: float) -> None:
    settings = Settings(data_dir=Path(folder), database_url=url, queue_url="memory://", page_size=25)
    client = dose_browser_client(settings, database.session_factory(url, writer=False))
    print(f"  every CT chart through /api/charts; options {options.options}")
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
            print(f"  {chart:34} {label:12} {p50:8.0f} {max(times):8.0f} {p50 / reference:6.1f}", flush=True)


def measure(url: str, folder: str, options: argparse.Namespace) -> None:
    print(f"  load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    reference = reference_scan(url, options.repeat)
    print(f"  reference: count(*) over every event {reference:.0f} ms", flush=True)
    compare(url, options)
    if not options.skip_api:
        time_api(url, folder, options, reference)
    database.dispose_all()


def kept_postgres_url(name: str) -> Iterator[str]:
    """A new database that outlives the run: a 1M load takes minutes, measuring again does not."""
    _admin(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0")
    url = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    print(f"  kept: --database-url {url}", flush=True)
    yield url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--studies", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="timed requests per chart (after 1 untimed)")
    parser.add_argument("--options", default="average=both&series_per_system=yes&histogram=no",
                        help="chart options of every request (default: both averages, series per system)")
    parser.add_argument("--database-url", help="measure a database loaded by an earlier run (kept) instead")
    parser.add_argument("--skip-api", action="store_true", help="only the before/after comparison")
    parser.add_argument("--dose-tree", action="store_true", help="also time the rows joined from the dose tree")
    parser.add_argument("--keep", metavar="NAME", help="load into database NAME and keep it (for --database-url)")
    options = parser.parse_args()  # fmt: skip
    if not postgres_available():
        raise SystemExit("PostgreSQL is not reachable at 127.0.0.1:5432")
    browse.EVENTS_PER_STUDY = EVENTS_PER_STUDY  # the loader reads it per study
    with tempfile.TemporaryDirectory(prefix="charts-benchmark-") as folder:
        if options.database_url:
            measure(options.database_url, folder, options)
            return
        for url in kept_postgres_url(options.keep) if options.keep else scratch_postgres_url():
            database.upgrade_schema(url)
            seconds = browse.load(url, options.studies)
            events = options.studies * EVENTS_PER_STUDY
            print(f"\nPostgreSQL: {options.studies:,} CT studies, {events:,} events loaded in {seconds:.0f} s; "
                  f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")  # fmt: skip
            print(f"  ct_chart_event filled from the events in {fill_chart_events(url):.0f} s", flush=True)
            measure(url, folder, options)


if __name__ == "__main__":
    main()
