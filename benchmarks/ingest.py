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
from sqlalchemy import func, select

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from database_fixtures import postgres_available, scratch_postgres_url  # noqa: E402
from orthanc_harness import OrthancProcess  # noqa: E402
from orthanc_rem import database, model  # noqa: E402

CORPUS = Path(os.environ.get("ORTHANC_REM_CORPUS", REPO.parent / "shared" / "corpus" / "dicom"))
TEMPLATES = [
    "CT-RDSR-Siemens_Flash-TAP-SS.dcm",
    "CT-RDSR-GEPixelMed.dcm",
    "CT-RDSR-ToshibaPixelMed.dcm",
    "CT-RDSR-Siemens-Multi-2.dcm",
    "CT-ESR-GE_Optima.dcm",
    "CT-RDSR-Toshiba_DoseCheck.dcm",
]
IRRADIATION_EVENT_UID = "113769"


def _renew_event_uids(node: pydicom.Dataset) -> None:
    for item in getattr(node, "ContentSequence", []):
        names = item.get("ConceptNameCodeSequence")
        if names and names[0].CodeValue == IRRADIATION_EVENT_UID:
            item.UID = generate_uid()
        _renew_event_uids(item)


def make_reports(count: int, folder: Path) -> list[Path]:
    """``count`` distinct RDSR files made from the corpus templates, round robin."""
    templates = [pydicom.dcmread(CORPUS / name) for name in TEMPLATES]
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        ds = copy.deepcopy(templates[index % len(templates)])
        ds.StudyInstanceUID = generate_uid()
        ds.SeriesInstanceUID = generate_uid()
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.AccessionNumber = f"BENCH{index:06d}"
        _renew_event_uids(ds)
        path = folder / f"rdsr-{index:06d}.dcm"
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


class MemorySampler(threading.Thread):
    """Peak RSS of Orthanc and of each extraction worker process (children included)."""

    def __init__(self, orthanc_pid: int) -> None:
        super().__init__(daemon=True)
        self.orthanc = psutil.Process(orthanc_pid)
        self.peak_orthanc = 0
        self.peak_workers_total = 0
        self.peak_worker_single = 0
        self.stop_event = threading.Event()

    def run(self) -> None:
        while not self.stop_event.wait(0.2):
            try:
                self.peak_orthanc = max(self.peak_orthanc, self.orthanc.memory_info().rss)
                workers = [p for p in self.orthanc.children(recursive=True) if _is_worker(p)]
                sizes = [p.memory_info().rss for p in workers]
            except psutil.Error:
                continue
            if sizes:
                self.peak_workers_total = max(self.peak_workers_total, sum(sizes))
                self.peak_worker_single = max(self.peak_worker_single, max(sizes))


def _is_worker(process: psutil.Process) -> bool:
    try:
        return "orthanc_rem.worker" in " ".join(process.cmdline())
    except psutil.Error:
        return False


def cpu_seconds(orthanc_pid: int) -> dict[str, float]:
    """CPU time (user + system) spent so far by Orthanc and by the worker processes."""
    orthanc = psutil.Process(orthanc_pid)
    times = {"orthanc": sum(orthanc.cpu_times()[:2]), "workers": 0.0}
    for child in orthanc.children(recursive=True):
        try:
            if _is_worker(child):
                times["workers"] += sum(child.cpu_times()[:2])
        except psutil.Error:
            pass
    return times


def processed_times(url: str) -> dict[str, dt.datetime]:
    sessions = database.session_factory(url)
    with sessions() as session:
        rows = session.execute(select(model.ProcessedObject.sop_instance_uid, model.ProcessedObject.processed_at))
        return {uid: at for uid, at in rows}


def count_rows(url: str) -> int:
    with database.session_factory(url)() as session:
        return session.scalar(select(func.count()).select_from(model.ProcessedObject)) or 0


def run(args: argparse.Namespace, database_url: str, workdir: Path) -> None:
    files = make_reports(args.count, workdir / "objects")
    database.upgrade_schema(database_url)
    config = {
        "OrthancRem": {
            "Database": database_url,
            "Queue": args.queue or f"sqlite:///{workdir / 'queue.sqlite'}",
            "Workers": args.workers,
            "WorkerPython": sys.executable,
        }
    }
    plugin_script = REPO / "plugin" / "orthanc_rem_plugin.py"
    orthanc = OrthancProcess(workdir / "orthanc", python_script=plugin_script, config=config)
    orthanc.start()
    try:
        assert orthanc._process is not None
        sampler = MemorySampler(orthanc._process.pid)
        sampler.start()
        time.sleep(2)  # let the workers start before the clock does
        start = time.time()
        sent = send(orthanc.dicom_port, orthanc.aet, files, args.associations)
        sent_at = time.time()
        deadline = time.time() + args.timeout
        while count_rows(database_url) < len(files) and time.time() < deadline:
            time.sleep(0.1)
        end = time.time()
        sampler.stop_event.set()
        cpu = cpu_seconds(orthanc._process.pid)
        rows = processed_times(database_url)
    finally:
        orthanc.stop()
    latencies = []
    last_row = 0.0
    for uid, stored in sent.items():
        if uid in rows:
            row_time = rows[uid].replace(tzinfo=dt.UTC).timestamp()
            last_row = max(last_row, row_time)
            latencies.append(row_time - stored)
    latencies.sort()
    missing = len(files) - len(rows)
    elapsed = (last_row or end) - start
    print(f"objects: {len(files)} CT RDSRs, {args.associations} associations, {args.workers} workers")
    print(f"database: {database_url.split('@')[-1]}  queue: {config['OrthancRem']['Queue'].split('@')[-1]}")
    print(f"C-STORE only: {len(sent) / (sent_at - start):.1f} objects/s")
    shortfall = f", {missing} MISSING" if missing else ""
    print(f"end to end: {len(rows) / elapsed:.1f} objects/s ({elapsed:.1f} s){shortfall}")
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
    parser.add_argument("--associations", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--postgres", action="store_true", help="use a scratch database at 127.0.0.1:5432")
    parser.add_argument("--queue", help="queue URL (default: SQLite in the work folder), e.g. redis://127.0.0.1/15")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="orthanc-rem-bench-") as tmp:
        workdir = Path(tmp)
        if args.postgres:
            if not postgres_available():
                sys.exit("PostgreSQL is not reachable at 127.0.0.1:5432")
            for url in scratch_postgres_url():
                run(args, url, workdir)
        else:
            run(args, f"sqlite:///{workdir / 'orthanc-rem.sqlite'}", workdir)


if __name__ == "__main__":
    main()
