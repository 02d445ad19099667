"""End-to-end ingest benchmark: C-STORE of N distinct dose objects to database rows, against bare Orthanc.

Absolute rates differ twofold between machines of the same kind (and with what else runs on them), so
every figure that matters is a ratio measured in one run. For each dose database asked for, it

1. starts a **bare Orthanc** (no plugin) and sends it the objects: Orthanc's own C-STORE rate and CPU
   per object, the reference;
2. starts an Orthanc **with our plugin** and its workers, sends the same objects, waits until each has
   its row, and measures the end-to-end rate (first C-STORE to last row), the store-to-row latency
   (C-STORE response to the row's ``processed_at``) and the CPU we add per object: the plugin's share of
   Orthanc's CPU (Orthanc with plugin minus bare Orthanc, which includes serving the workers' reads)
   plus the worker processes.

Objects are copies of corpus files with new study, series, SOP instance and irradiation event UIDs,
so none is a duplicate of another; they go over several parallel associations (dcmtk ``storescu``,
``TCP_NODELAY=1`` on both sides as ``scripts/serve`` sets it, orthanc-notes §8), as several modalities
would send. CPU and memory are those of the Orthanc process the benchmark started and of its process
tree (the extraction workers), never of other processes on the machine.

Run it with ``scripts/benchmark`` (installs the test tools it needs: the Orthanc test harness imports
pytest, and psutil reads the process tree), e.g.::

    scripts/benchmark                                  # 1000 CT RDSRs, SQLite and PostgreSQL
    scripts/benchmark --database sqlite --count 300
    scripts/benchmark --kind rf --count 60 --database sqlite
    scripts/benchmark --nodes 2 --count 400           # two Orthanc nodes + Redis against one node
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

try:
    import psutil
    import pytest  # noqa: F401 - the harness below needs it; say so before it fails obscurely
except ImportError as missing:
    sys.exit(f"benchmarks/ingest.py needs the test tools ({missing}): run it with scripts/benchmark")
import pydicom
from sqlalchemy import select

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from database_fixtures import postgres_available, scratch_postgres_url  # noqa: E402
from dose_copies import TEMPLATES, make_reports  # noqa: E402
from orthanc_harness import OrthancProcess  # noqa: E402
from orthanc_rem import database, model  # noqa: E402
from orthanc_rem.tasks import create_huey  # noqa: E402
from scale_out import Site, make_node, missing_scale_out_prerequisites, node_config, shared_site  # noqa: E402
from server_cpu import PostgresServerCpu  # noqa: E402

MIB = 1024 * 1024


def send(port: int, aet: str, files: list[Path], uids: dict[Path, str], associations: int) -> dict[str, float]:
    """Send with parallel storescu processes; returns SOP Instance UID -> time its C-STORE succeeded."""
    groups = [files[i::associations] for i in range(associations)]
    done: dict[str, float] = {}
    lock = threading.Lock()

    def one_association(group: list[Path]) -> None:
        process = subprocess.Popen(
            ["storescu", "-v", "-aec", aet, "-aet", "BENCH", "127.0.0.1", str(port), *map(str, group)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, "TCP_NODELAY": "1"},
            text=True,
        )
        position = 0
        assert process.stdout is not None
        for line in process.stdout:
            if "Received Store Response" in line:
                stamp = time.time()
                with lock:
                    done[uids[group[position]]] = stamp
                position += 1
        process.wait()

    threads = [threading.Thread(target=one_association, args=(g,)) for g in groups if g]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return done


class ProcessTreeSampler(threading.Thread):
    """CPU time and peak RSS of one Orthanc process and the processes it started (its workers).

    Only that process tree is measured: another service's workers on the machine are not ours.
    Processes are keyed by (pid, start time) so that a reused pid is not subtracted from another
    process; CPU of a child that exited and was waited for is in its parent's ``children_*`` times.
    """

    def __init__(self, root_pid: int) -> None:
        super().__init__(daemon=True)
        self.root = psutil.Process(root_pid)
        self.peak_orthanc = 0
        self.peak_workers_total = 0
        self.peak_worker_single = 0
        self.stop_event = threading.Event()
        self.cpu_start = self._cpu_by_process()

    def _tree(self) -> list[psutil.Process]:
        return [self.root, *self.root.children(recursive=True)]

    def _cpu_by_process(self) -> dict[tuple[int, float], tuple[str, float]]:
        found = {}
        for process in self._tree():
            try:
                with process.oneshot():
                    times = process.cpu_times()
                    key = (process.pid, process.create_time())
            except psutil.Error:
                continue
            own = times.user + times.system
            reaped = times.children_user + times.children_system
            if process.pid == self.root.pid:
                found[key] = ("orthanc", own)
                found[(key[0], -1.0)] = ("workers", reaped)
            else:
                found[key] = ("workers", own + reaped)
        return found

    def cpu_used(self) -> dict[str, float]:
        used = {"orthanc": 0.0, "workers": 0.0}
        for key, (role, seconds) in self._cpu_by_process().items():
            used[role] += seconds - self.cpu_start.get(key, (role, 0.0))[1]
        return used

    def run(self) -> None:
        while not self.stop_event.wait(0.1):
            try:
                self.peak_orthanc = max(self.peak_orthanc, self.root.memory_info().rss)
                workers = self._tree()[1:]
            except psutil.Error:
                continue
            sizes = []
            for process in workers:
                try:
                    sizes.append(process.memory_info().rss)
                except psutil.Error:
                    pass
            if sizes:
                self.peak_workers_total = max(self.peak_workers_total, sum(sizes))
                self.peak_worker_single = max(self.peak_worker_single, max(sizes))


def orthanc_listening_on(port: int) -> int:
    """PID of the process that accepts DICOM associations on ``port``."""
    for connection in psutil.net_connections("tcp"):
        if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port and connection.pid:
            return connection.pid
    raise SystemExit(f"no process listens on port {port}")


def processed_times(url: str) -> dict[str, dt.datetime]:
    sessions = database.session_factory(url, writer=False)
    with sessions() as session:
        rows = session.execute(select(model.ProcessedObject.sop_instance_uid, model.ProcessedObject.processed_at))
        return {uid: at for uid, at in rows}


@dataclass
class Measurement:
    """One Orthanc, one pass over the objects."""

    count: int
    cstore_per_s: float
    cpu: dict[str, float]
    peak_orthanc: int
    peak_workers_total: int = 0
    peak_worker_single: int = 0
    end_to_end_per_s: float | None = None
    latencies: list[float] = field(default_factory=list)
    #: (C-STORE response time, store-to-row latency) per object, in the order Orthanc answered.
    arrivals: list[tuple[float, float]] = field(default_factory=list)
    #: Objects stored by Orthanc but without their row yet when the last C-STORE was answered.
    backlog_at_last_cstore: int = 0
    missing: int = 0
    #: CPU seconds of the PostgreSQL server processes serving the dose database (None on SQLite).
    database_server_cpu: float | None = None

    def cpu_ms_per_object(self, role: str) -> float:
        return self.cpu[role] / self.count * 1000

    def latency_ms(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000

    def median_latency_ms(self, first: bool) -> float:
        """Median store-to-row latency of the first (or last) tenth of the objects Orthanc stored:
        the first tenth meets no queue yet (enqueue, a worker's polling and its own work); what the
        last tenth adds is the wait behind the objects the workers have not caught up with."""
        ordered = [latency for _stored, latency in sorted(self.arrivals)]
        tenth = max(1, len(ordered) // 10)
        part = sorted(ordered[:tenth] if first else ordered[-tenth:])
        return part[len(part) // 2] * 1000 if part else float("nan")


def measure(
    files: list[Path],
    uids: dict[Path, str],
    port: int,
    aet: str,
    orthanc_pid: int,
    associations: int,
    database_url: str | None = None,
    timeout: float = 600,
) -> Measurement:
    """Send ``files``; with a ``database_url``, also wait for their rows."""
    return measure_nodes(files, uids, [(port, aet, orthanc_pid)], associations, database_url, timeout)


def measure_nodes(
    files: list[Path],
    uids: dict[Path, str],
    nodes: list[tuple[int, str, int]],
    associations: int,
    database_url: str | None = None,
    timeout: float = 600,
) -> Measurement:
    """Send ``files`` split evenly over ``nodes`` (DICOM port, AE title, Orthanc PID), the
    associations too; CPU and memory are those of every node's process tree, added up."""
    samplers = [ProcessTreeSampler(pid) for _port, _aet, pid in nodes]
    for sampler in samplers:
        sampler.start()
    server = PostgresServerCpu(database_url) if database_url is not None else None
    if server is not None:
        server.start()
    start = time.time()
    sent: dict[str, float] = {}
    per_node = max(1, associations // len(nodes))
    senders = [
        threading.Thread(
            target=lambda n=n, port=port, aet=aet: sent.update(send(port, aet, files[n :: len(nodes)], uids, per_node))
        )
        for n, (port, aet, _pid) in enumerate(nodes)
    ]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    cstore_end = max(sent.values(), default=time.time())
    rows: dict[str, dt.datetime] = {}
    if database_url is not None:
        deadline = time.time() + timeout
        rows = processed_times(database_url)
        while not sent.keys() <= rows.keys() and time.time() < deadline:
            time.sleep(0.1)
            rows = processed_times(database_url)
    else:
        time.sleep(0.5)  # let Orthanc finish what follows a store (its change thread, the index)
    server_cpu = server.stop() if server is not None else None
    cpu = {"orthanc": 0.0, "workers": 0.0}
    for sampler in samplers:
        sampler.stop_event.set()
        sampler.join()
        for role, seconds in sampler.cpu_used().items():
            cpu[role] += seconds
    result = Measurement(
        count=len(files),
        cstore_per_s=len(sent) / (cstore_end - start),
        cpu=cpu,
        peak_orthanc=max(sampler.peak_orthanc for sampler in samplers),
        peak_workers_total=sum(sampler.peak_workers_total for sampler in samplers),
        peak_worker_single=max(sampler.peak_worker_single for sampler in samplers),
        missing=len(files) - len(sent),
        database_server_cpu=server_cpu,
    )
    if database_url is not None:
        last_row = 0.0
        for uid, stored in sent.items():
            if uid in rows:
                row_time = rows[uid].replace(tzinfo=dt.UTC).timestamp()
                last_row = max(last_row, row_time)
                result.latencies.append(row_time - stored)
                result.arrivals.append((stored, row_time - stored))
        result.backlog_at_last_cstore = sum(1 for stored, latency in result.arrivals if stored + latency > cstore_end)
        result.missing = len(files) - len(result.latencies)
        result.end_to_end_per_s = len(result.latencies) / ((last_row or time.time()) - start)
    return result


def wait_for_workers(queue_url: str, orthanc_pids: list[int], timeout: float = 120) -> None:
    """Start the clock once the workers take tasks: each Orthanc has started its worker pool (on
    ORTHANC_STARTED, after queueing the recovery task) and the workers have taken every task queued
    at start. (A fixed 3 s wait measured, on a loaded machine, how long the workers took to start:
    the first objects queued behind that.)"""
    huey = create_huey(queue_url)
    deadline = time.time() + timeout
    while time.time() < deadline:
        pools = all(psutil.Process(pid).children() for pid in orthanc_pids)
        if pools and not huey.pending_count():
            break
        time.sleep(0.1)
    time.sleep(0.5)  # the recovery tasks themselves (an empty database: a few requests)


def bare_orthanc(files: list[Path], uids: dict[Path, str], workdir: Path, associations: int) -> Measurement:
    with OrthancProcess(workdir) as orthanc:
        assert orthanc._process is not None
        return measure(files, uids, orthanc.dicom_port, orthanc.aet, orthanc._process.pid, associations)


def orthanc_with_plugin(
    files: list[Path], uids: dict[Path, str], workdir: Path, database_url: str, args: argparse.Namespace
) -> Measurement:
    database.upgrade_schema(database_url)
    queue = args.queue or f"sqlite:///{workdir / 'queue.sqlite'}"
    section = {"Database": database_url, "Queue": queue, "Workers": args.workers, "WorkerPython": sys.executable}
    plugin_script = REPO / "plugin" / "orthanc_rem_plugin.py"
    with OrthancProcess(workdir, python_script=plugin_script, config={"OrthancRem": section}) as orthanc:
        assert orthanc._process is not None
        wait_for_workers(queue, [orthanc._process.pid])
        return measure(
            files,
            uids,
            orthanc.dicom_port,
            orthanc.aet,
            orthanc._process.pid,
            args.associations,
            database_url,
            args.timeout,
        )


def orthanc_nodes(
    files: list[Path], uids: dict[Path, str], workdir: Path, site: Site, nodes: int, args: argparse.Namespace
) -> Measurement:
    """``nodes`` Orthanc servers on one PostgreSQL index and storage and one Redis queue
    (tests/scale_out.py), the workers split between them: the same total on any node count."""
    database.upgrade_schema(site.dose_database)
    with contextlib.ExitStack() as stack:
        started = []
        for n in range(nodes):
            workers = args.workers // nodes + (1 if n < args.workers % nodes else 0)
            node = stack.enter_context(make_node(site, workdir, f"node-{n}", workers))
            assert node._process is not None
            started.append((node.dicom_port, node.aet, node._process.pid))
        wait_for_workers(site.queue, [pid for _port, _aet, pid in started])
        return measure_nodes(files, uids, started, args.associations, site.dose_database, args.timeout)


def compare_nodes(files: list[Path], uids: dict[Path, str], workdir: Path, args: argparse.Namespace) -> None:
    """One node against ``args.nodes`` nodes, both on PostgreSQL (index, storage, dose database)
    and a Redis queue, same objects, associations and total workers."""
    reason = missing_scale_out_prerequisites()
    if reason:
        sys.exit(f"--nodes needs PostgreSQL, Redis and orthanc-postgresql: {reason}")
    bare = bare_orthanc(files, uids, workdir / "bare", args.associations)
    with shared_site() as site:
        config = node_config(site, workdir / "bare-postgresql" / "rem-data", 0)
        config["Plugins"] = [plugin for plugin in config["Plugins"] if "Python" not in plugin]
        del config["PythonScript"], config["OrthancRem"]
        with OrthancProcess(workdir / "bare-postgresql", config=config) as orthanc:
            assert orthanc._process is not None
            bare_postgresql = measure(
                files, uids, orthanc.dicom_port, orthanc.aet, orthanc._process.pid, args.associations
            )
    measured = {}
    for nodes in (1, args.nodes):
        with shared_site() as site:
            measured[nodes] = orthanc_nodes(files, uids, workdir / f"nodes-{nodes}", site, nodes, args)
        database.dispose_all()
    print(f"--- {args.workers} workers in total, {args.associations} associations, PostgreSQL index + Redis queue")
    print(f"reference: bare Orthanc (no plugin), SQLite index: C-STORE {bare.cstore_per_s:6.1f}/s")
    print(
        "reference: bare Orthanc (no plugin), PostgreSQL index and storage: "
        f"C-STORE {bare_postgresql.cstore_per_s:6.1f}/s"
    )
    for nodes, ours in measured.items():
        assert ours.end_to_end_per_s is not None
        shortfall = f"  ({ours.missing} MISSING)" if ours.missing else ""
        print(
            f"{nodes} node(s): C-STORE {ours.cstore_per_s:6.1f}/s, end to end {ours.end_to_end_per_s:6.1f} objects/s, "
            f"store-to-row p50 {ours.latency_ms(0.5):.0f} ms, p95 {ours.latency_ms(0.95):.0f} ms, "
            f"CPU {ours.cpu_ms_per_object('orthanc'):.1f} ms/object in Orthanc + "
            f"{ours.cpu_ms_per_object('workers'):.1f} in workers{shortfall}"
        )
    one, many = measured[1], measured[args.nodes]
    assert one.end_to_end_per_s and many.end_to_end_per_s
    print(
        f"RATIOS {args.nodes} nodes / 1 node: end to end {many.end_to_end_per_s / one.end_to_end_per_s:.2f}, "
        f"p95 {many.latency_ms(0.95) / one.latency_ms(0.95):.2f}"
    )


def report(label: str, ours: Measurement, bare: Measurement) -> None:
    """Print our figures as fractions of bare Orthanc's, measured in the same run."""
    assert ours.end_to_end_per_s is not None
    orthanc_own = bare.cpu_ms_per_object("orthanc")
    plugin_share = max(0.0, ours.cpu_ms_per_object("orthanc") - orthanc_own)
    workers = ours.cpu_ms_per_object("workers")
    added = plugin_share + workers
    p95 = ours.latency_ms(0.95) if ours.latencies else float("nan")
    rate_ratio = ours.end_to_end_per_s / bare.cstore_per_s
    cpu_ratio = added / orthanc_own
    print(f"--- {label}")
    print(f"bare Orthanc C-STORE:      {bare.cstore_per_s:7.1f} objects/s, Orthanc CPU {orthanc_own:.1f} ms/object")
    print(f"with orthanc-rem C-STORE:  {ours.cstore_per_s:7.1f} objects/s")
    shortfall = f"  ({ours.missing} MISSING)" if ours.missing else ""
    print(f"end to end (store to row): {ours.end_to_end_per_s:7.1f} objects/s{shortfall}")
    if ours.latencies:
        print(
            f"store-to-row latency:      p50 {ours.latency_ms(0.5):.0f} ms, p95 {p95:.0f} ms, "
            f"max {ours.latency_ms(1.0):.0f} ms"
        )
        print(
            f"where it goes:             median latency of the first tenth stored {ours.median_latency_ms(True):.0f} ms"
            f" (no queue yet), of the last tenth {ours.median_latency_ms(False):.0f} ms; "
            f"{ours.backlog_at_last_cstore} objects without their row at the last C-STORE"
        )
    print(
        f"added CPU per object:      {added:.1f} ms = plugin share in Orthanc {plugin_share:.1f} "
        f"+ workers {workers:.1f} (Orthanc with plugin {ours.cpu_ms_per_object('orthanc'):.1f})"
    )
    if ours.database_server_cpu is not None:
        print(
            f"PostgreSQL server CPU:     {1000 * ours.database_server_cpu / ours.count:.1f} ms/object "
            "(its processes serving the dose database; not in the ratios)"
        )
    print(
        f"peak RSS: Orthanc {ours.peak_orthanc / MIB:.0f} MiB (bare {bare.peak_orthanc / MIB:.0f} MiB), "
        f"workers {ours.peak_workers_total / MIB:.0f} MiB in total (largest {ours.peak_worker_single / MIB:.0f} MiB)"
    )
    verdict = "met" if rate_ratio >= 0.6 and p95 < 2000 and cpu_ratio <= 1.0 else "NOT met"
    print(
        f"RATIOS {label}: end to end / bare C-STORE = {rate_ratio:.2f} (goal >= 0.6), p95 {p95 / 1000:.2f} s "
        f"(goal < 2 s), added CPU / Orthanc's own = {cpu_ratio:.2f} (goal <= 1.0): goal {verdict}"
    )


def database_urls(choice: str, workdir: Path) -> Iterator[tuple[str, str]]:
    if choice in ("sqlite", "both"):
        yield "SQLite", f"sqlite:///{workdir / 'orthanc-rem.sqlite'}"
    if choice in ("postgres", "both"):
        if not postgres_available():
            print("PostgreSQL is not reachable at 127.0.0.1:5432: PostgreSQL SKIPPED")
            return
        for url in scratch_postgres_url():
            yield "PostgreSQL", url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--kind", choices=sorted(TEMPLATES), default="ct", help="which dose objects to send")
    parser.add_argument("--associations", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--database",
        choices=["sqlite", "postgres", "both"],
        default="both",
        help="dose database(s); PostgreSQL is a scratch database at 127.0.0.1:5432",
    )
    parser.add_argument("--queue", help="queue URL (default: SQLite in the work folder), e.g. redis://127.0.0.1/15")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument(
        "--nodes",
        type=int,
        default=1,
        help="N > 1: N Orthanc nodes on one PostgreSQL index and a Redis queue against one node (same workers)",
    )
    parser.add_argument("--url", help="measure this running service instead of starting one (needs --database-url)")
    parser.add_argument("--dicom-port", type=int, default=4242, help="with --url: its DICOM port")
    parser.add_argument("--aet", default="ORTHANCREM", help="with --url: its AE title")
    parser.add_argument("--database-url", help="with --url: the service's dose database URL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="orthanc-rem-bench-") as tmp:
        workdir = Path(tmp)
        files = make_reports(args.count, workdir / "objects", args.kind)
        uids = {path: str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID) for path in files}
        print(f"{len(files)} {args.kind.upper()} objects copied from {', '.join(TEMPLATES[args.kind])}")
        print(f"{args.associations} associations, {args.workers} workers, machine load {os.getloadavg()[0]:.1f}")
        if args.nodes > 1:
            compare_nodes(files, uids, workdir, args)
            return
        if args.url:
            if not args.database_url:
                sys.exit("--url needs --database-url (where to look for the rows)")
            bare = bare_orthanc(files, uids, workdir / "bare", args.associations)
            pid = orthanc_listening_on(args.dicom_port)
            ours = measure(files, uids, args.dicom_port, args.aet, pid, args.associations, args.database_url)
            report(f"running service at {args.url}", ours, bare)
            return
        for index, (label, url) in enumerate(database_urls(args.database, workdir)):
            # The reference next to each measurement: the load other processes put on the machine
            # changes during a run, and both sides of a ratio should see the same.
            bare = bare_orthanc(files, uids, workdir / f"bare-{index}", args.associations)
            ours = orthanc_with_plugin(files, uids, workdir / f"orthanc-{index}", url, args)
            report(f"{label}, queue {args.queue or 'SQLite'}", ours, bare)
            database.dispose_all()


if __name__ == "__main__":
    main()
