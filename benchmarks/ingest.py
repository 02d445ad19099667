"""End-to-end ingest benchmark: C-STORE of N distinct CT RDSRs to database rows.

Makes N distinct CT dose reports from the corpus (new study, series, SOP instance and irradiation
event UIDs, so none is a duplicate of another), starts its own Orthanc with the plugin and its
workers on free loopback ports (or uses a running one with --url/--dicom-port/--database), sends
them over several parallel associations with dcmtk's storescu, as several modalities would, waits
until every object has its row, and prints:

* objects per second, from the first C-STORE to the last row;
* store-to-row latency p50/p95/max: from the C-STORE response for the object (the modality's
  "sent") to the moment its row was written;
* peak resident memory of the worker processes and of Orthanc.

    .venv/bin/python benchmarks/ingest.py --count 1000                 # SQLite
    .venv/bin/python benchmarks/ingest.py --count 1000 --postgres      # scratch PostgreSQL database
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pydicom
from pydicom.uid import generate_uid
from sqlalchemy import select

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from database_fixtures import postgres_available, scratch_postgres_url  # noqa: E402
from orthanc_harness import OrthancProcess  # noqa: E402
from orthanc_rem import database, model  # noqa: E402

CORPUS = Path(os.environ.get("ORTHANC_REM_CORPUS", REPO.parent / "shared" / "corpus" / "dicom"))
#: Corpus objects each kind of benchmark copies (round robin) with new UIDs.
TEMPLATES = {
    "ct": [
        "CT-RDSR-Siemens_Flash-TAP-SS.dcm",
        "CT-RDSR-GEPixelMed.dcm",
        "CT-RDSR-ToshibaPixelMed.dcm",
        "CT-RDSR-Siemens-Multi-2.dcm",
        "CT-ESR-GE_Optima.dcm",
        "CT-RDSR-Toshiba_DoseCheck.dcm",
    ],
    "rf": [
        "RF-RDSR-Siemens-Zee.dcm",
        "RF-RDSR-Philips_Allura.dcm",
        "RF-RDSR-GE.dcm",
        "RF-RDSR-Eurocolumbus.dcm",
        "RF-No-kVp-and-others.dcm",
        "RF-Pat-Orientation-Modifier-Missing.dcm",  # 3 MB, 316 events
    ],
    "dx": [
        "DX-Im-Carestream_DR7500-1.dcm",
        "DX-Im-Carestream_DRX.dcm",
        "DX-Im-GE_XR220-1.dcm",
        "DX-RDSR-Carestream_DRXEvolution.dcm",
        "DX-RDSR-Canon_CXDI.dcm",
    ],
    "mg": [
        "MG-Im-GE_Seno_1_ForProcessing.dcm",
        "MG-Im-Hologic-PropProj.dcm",
        "MG-RDSR-Hologic_2D.dcm",
        "MG-RDSR-GEPristina-2D.dcm",
    ],
}
IRRADIATION_EVENT_UID = "113769"


def _renew_event_uids(node: pydicom.Dataset) -> None:
    for item in getattr(node, "ContentSequence", []):
        names = item.get("ConceptNameCodeSequence")
        if names and names[0].CodeValue == IRRADIATION_EVENT_UID:
            item.UID = generate_uid()
        _renew_event_uids(item)


def make_reports(count: int, folder: Path, kind: str = "ct") -> list[Path]:
    """``count`` distinct dose objects made from the corpus templates of ``kind``, round robin."""
    templates = [pydicom.dcmread(CORPUS / name) for name in TEMPLATES[kind]]
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        ds = copy.deepcopy(templates[index % len(templates)])
        ds.StudyInstanceUID = generate_uid()
        ds.SeriesInstanceUID = generate_uid()
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.AccessionNumber = f"BENCH{index:06d}"
        if "IrradiationEventUID" in ds:
            ds.IrradiationEventUID = generate_uid()
        _renew_event_uids(ds)
        path = folder / f"{kind}-{index:06d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def send(port: int, aet: str, files: list[Path], associations: int) -> dict[str, float]:
    """Send with parallel storescu processes; returns SOP Instance UID -> time its C-STORE succeeded."""
    groups = [files[i::associations] for i in range(associations)]
    uids = {path: str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID) for path in files}
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


class ResourceSampler(threading.Thread):
    """Peak RSS and CPU time of Orthanc and of the extraction worker processes.

    Workers are found by their command line (``-m orthanc_rem.worker`` and the processes it forks),
    so that a separately started service is measured the same way as our own.
    """

    def __init__(self, orthanc_pid: int) -> None:
        super().__init__(daemon=True)
        self.orthanc = psutil.Process(orthanc_pid)
        self.peak_orthanc = 0
        self.peak_workers_total = 0
        self.peak_worker_single = 0
        self.cpu_start = self.cpu_seconds()
        self.stop_event = threading.Event()

    @staticmethod
    def workers() -> list[psutil.Process]:
        found = []
        for process in psutil.process_iter(["cmdline"]):
            if "orthanc_rem.worker" in " ".join(process.info["cmdline"] or ()):
                found.append(process)
                found.extend(process.children(recursive=True))
        return list({p.pid: p for p in found}.values())

    def cpu_seconds(self) -> dict[str, float]:
        times = {"orthanc": sum(self.orthanc.cpu_times()[:2]), "workers": 0.0}
        for worker in self.workers():
            try:
                times["workers"] += sum(worker.cpu_times()[:2])
            except psutil.Error:
                pass
        return times

    def cpu_used(self) -> dict[str, float]:
        now = self.cpu_seconds()
        return {key: now[key] - self.cpu_start[key] for key in now}

    def run(self) -> None:
        while not self.stop_event.wait(0.2):
            try:
                self.peak_orthanc = max(self.peak_orthanc, self.orthanc.memory_info().rss)
                sizes = [p.memory_info().rss for p in self.workers()]
            except psutil.Error:
                continue
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
    sessions = database.session_factory(url)
    with sessions() as session:
        rows = session.execute(select(model.ProcessedObject.sop_instance_uid, model.ProcessedObject.processed_at))
        return {uid: at for uid, at in rows}


def run_with_own_orthanc(args: argparse.Namespace, database_url: str, workdir: Path) -> None:
    files = make_reports(args.count, workdir / "objects", args.kind)
    database.upgrade_schema(database_url)
    queue = args.queue or f"sqlite:///{workdir / 'queue.sqlite'}"
    section = {"Database": database_url, "Queue": queue, "Workers": args.workers, "WorkerPython": sys.executable}
    config = {"OrthancRem": section}
    plugin_script = REPO / "plugin" / "orthanc_rem_plugin.py"
    with OrthancProcess(workdir / "orthanc", python_script=plugin_script, config=config) as orthanc:
        assert orthanc._process is not None
        time.sleep(2)  # let the workers start before the clock does
        measure(args, files, orthanc.dicom_port, orthanc.aet, database_url, orthanc._process.pid, queue)


def measure(
    args: argparse.Namespace, files: list[Path], port: int, aet: str, database_url: str, orthanc_pid: int, queue: str
) -> None:
    sampler = ResourceSampler(orthanc_pid)
    sampler.start()
    start = time.time()
    sent = send(port, aet, files, args.associations)
    sent_at = time.time()
    wanted = set(sent)
    deadline = time.time() + args.timeout
    rows = processed_times(database_url)
    while not wanted <= rows.keys() and time.time() < deadline:
        time.sleep(0.2)
        rows = processed_times(database_url)
    end = time.time()
    sampler.stop_event.set()
    cpu = sampler.cpu_used()
    latencies = []
    last_row = 0.0
    for uid, stored in sent.items():
        if uid in rows:
            row_time = rows[uid].replace(tzinfo=dt.UTC).timestamp()
            last_row = max(last_row, row_time)
            latencies.append(row_time - stored)
    latencies.sort()
    missing = len(files) - len(latencies)
    elapsed = (last_row or end) - start
    names = ", ".join(TEMPLATES[args.kind])
    print(f"objects: {len(files)} {args.kind.upper()} objects copied from {names}")
    print(f"{args.associations} associations, {args.workers} workers")
    print(f"database: {database.describe(database_url)}  queue: {queue}")
    print(f"C-STORE only: {len(sent) / (sent_at - start):.1f} objects/s")
    shortfall = f", {missing} MISSING" if missing else ""
    print(f"end to end: {len(latencies) / elapsed:.1f} objects/s ({elapsed:.1f} s){shortfall}")
    if latencies:
        p50 = statistics.median(latencies)
        p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
        worst = latencies[-1]
        print(f"store-to-row latency: p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, max {worst * 1000:.0f} ms")
    print(
        f"CPU time: Orthanc {cpu['orthanc']:.1f} s ({cpu['orthanc'] / len(files) * 1000:.1f} ms/object), "
        f"workers {cpu['workers']:.1f} s ({cpu['workers'] / len(files) * 1000:.1f} ms/object)"
    )
    mib = 1024 * 1024
    print(
        f"peak RSS: workers {sampler.peak_workers_total / mib:.0f} MiB in total "
        f"(largest process {sampler.peak_worker_single / mib:.0f} MiB), Orthanc {sampler.peak_orthanc / mib:.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--kind", choices=sorted(TEMPLATES), default="ct", help="which dose objects to send")
    parser.add_argument("--associations", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--postgres", action="store_true", help="use a scratch database at 127.0.0.1:5432")
    parser.add_argument("--queue", help="queue URL (default: SQLite in the work folder), e.g. redis://127.0.0.1/15")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--url", help="use this running service instead of starting one (needs --database)")
    parser.add_argument("--dicom-port", type=int, default=4242, help="with --url: its DICOM port")
    parser.add_argument("--aet", default="ORTHANCREM", help="with --url: its AE title")
    parser.add_argument("--database", help="with --url: the service's dose database URL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="orthanc-rem-bench-") as tmp:
        workdir = Path(tmp)
        if args.url:
            if not args.database:
                sys.exit("--url needs --database (where to look for the rows)")
            files = make_reports(args.count, workdir / "objects", args.kind)
            pid = orthanc_listening_on(args.dicom_port)
            measure(args, files, args.dicom_port, args.aet, args.database, pid, "(the service's)")
        elif args.postgres:
            if not postgres_available():
                sys.exit("PostgreSQL is not reachable at 127.0.0.1:5432")
            for url in scratch_postgres_url():
                run_with_own_orthanc(args, url, workdir)
        else:
            run_with_own_orthanc(args, f"sqlite:///{workdir / 'orthanc-rem.sqlite'}", workdir)


if __name__ == "__main__":
    main()
