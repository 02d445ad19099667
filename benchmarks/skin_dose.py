"""Skin dose maps of the corpus fluoroscopy studies: seconds per study, peak memory, and the cost
relative to importing the same report.

Every fluoroscopy RDSR of the repository's corpus is imported (``ingest_object``) into a fresh
SQLite database, then its map is computed as a worker does (``cache.refresh_skin_dose``) in
``--rounds`` rounds (each round drops the stored maps so the engine runs again); the 3 MB,
316-event Allura Xper report is identified by its Device Observer Model Name like the others, no
geometry assigned. Prints per study: CPU seconds of the import and of the map, their ratio, and the
process's peak resident memory at the end (what a worker needs).

Then ``--studies`` (default 50) new fluoroscopy studies (corpus reports with rewritten UIDs: the
Artis Zee and Allura reports, and the 316-event report twice) get their maps one after the other
as one worker would: seconds per study and in total. Last, what "calculate on import" adds to the
ingest task itself: one enqueue on the SQLite queue (the map runs in a task of its own).

    .venv/bin/python benchmarks/skin_dose.py [--rounds 3] [--studies 50]
"""

from __future__ import annotations

import argparse
import io
import resource
import tempfile
import time
from pathlib import Path

import pydicom
from pydicom.uid import generate_uid
from sqlalchemy import delete

from orthanc_rem import database, model
from orthanc_rem.config import Settings
from orthanc_rem.ingest import ingest_object
from orthanc_rem.skin_dose import cache, engine
from orthanc_rem.skin_dose.inputs import NotModelled, skin_dose_inputs

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "corpus" / "dicom"
FLUOROSCOPY = sorted(CORPUS.glob("RF-RDSR-*.dcm")) + [
    CORPUS / "RF-No-kVp-and-others.dcm",
    CORPUS / "RF-Pat-Orientation-Modifier-Missing.dcm",
    CORPUS / "Dual-RDSR-RF.dcm",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--studies", type=int, default=50)
    arguments = parser.parse_args()
    rounds = arguments.rounds
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.sqlite"
        database.upgrade_schema(url)
        sessions = database.session_factory(url)
        engine.corrections_database()  # built once per engine version, not per study
        print(f"{'report':45} {'events':>6} {'import s':>9} {'map s':>8} {'ratio':>6}  result")
        total_maps = total_seconds = 0.0
        for path in FLUOROSCOPY:
            started = time.process_time()
            outcome = ingest_object(sessions, path, source=path.name)
            import_s = time.process_time() - started
            if outcome.study_id is None:
                continue
            with sessions() as session:
                study = session.get(model.Study, outcome.study_id)
                inputs = skin_dose_inputs(study)
                events = 0 if isinstance(inputs, NotModelled) else len(inputs.events)
            seconds = []
            for _ in range(rounds):
                with sessions() as session:
                    session.execute(delete(model.SkinDoseMap))
                    session.commit()
                started = time.process_time()
                row = cache.refresh_skin_dose(sessions, outcome.study_id)
                seconds.append(time.process_time() - started)
            map_s = min(seconds)
            result = f"{row.status} {row.peak_skin_dose_gy or 0:.4f} Gy" if row else "not fluoroscopy"
            print(f"{path.name:45} {events:>6} {import_s:>9.3f} {map_s:>8.3f} {map_s / import_s:>6.1f}  {result}")
            total_maps += 1
            total_seconds += map_s
        print(f"engine {engine.ENGINE_NAME} {engine.engine_version()}; {total_maps:.0f} studies, best of {rounds}")
        many_studies(Path(folder), arguments.studies)
        enqueue_cost(Path(folder))
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this process (one worker, engine loaded): {peak_mib:.0f} MiB")


def renamed(path: Path) -> bytes:
    ds = pydicom.dcmread(path)
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def many_studies(folder: Path, count: int) -> None:
    """``count`` new studies, the 316-event report twice among them, each system identified from its
    report (header or Device Observer rows) as on a live server."""
    url = f"sqlite:///{folder}/many.sqlite"
    database.upgrade_schema(url)
    sessions = database.session_factory(url)
    big = CORPUS / "RF-Pat-Orientation-Modifier-Missing.dcm"
    small = [CORPUS / "RF-RDSR-Siemens-Zee.dcm", CORPUS / "RF-RDSR-Philips_Allura.dcm"]
    reports = [big, big] + [small[i % 2] for i in range(max(count - 2, 0))]
    study_ids = []
    for number, path in enumerate(reports[:count]):
        outcome = ingest_object(sessions, renamed(path), source=f"benchmark:{number}")
        assert outcome.study_id is not None, outcome
        study_ids.append((path.name, outcome.study_id))
    seconds: dict[str, list[float]] = {}
    started_all = time.perf_counter()
    for name, study_id in study_ids:
        started = time.process_time()
        row = cache.refresh_skin_dose(sessions, study_id)
        seconds.setdefault(name, []).append(time.process_time() - started)
        assert row is not None and row.status == cache.COMPUTED, (name, row and row.reason)
    wall = time.perf_counter() - started_all
    print(f"\n{len(study_ids)} new studies, one worker:")
    for name, values in seconds.items():
        print(f"  {name:45} {len(values):>3} studies  {sum(values) / len(values):7.3f} CPU s per study")
    total = sum(sum(v) for v in seconds.values())
    print(f"  all: {total:.1f} CPU s, {wall:.1f} s elapsed, {total / len(study_ids):.3f} CPU s per study")


def enqueue_cost(folder: Path, count: int = 200) -> None:
    """What computing on import adds to the ingest task: queueing the separate skin dose task."""
    from orthanc_rem.skin_dose.worker import queue_skin_dose
    from orthanc_rem.tasks import build_queue

    settings = Settings(
        data_dir=folder, database_url=f"sqlite:///{folder}/many.sqlite", queue_url=f"sqlite:///{folder}/q.sqlite"
    )
    queue = build_queue(settings)
    started = time.perf_counter()
    for number in range(count):
        queue_skin_dose(queue, number + 1)
    per_enqueue_ms = 1000 * (time.perf_counter() - started) / count
    print(f"\nadded to ingest when computed on import: {per_enqueue_ms:.2f} ms per fluoroscopy RDSR (one enqueue);")
    print("nothing for CT, radiography and mammography reports (tasks.wants_skin_dose queues no task for them)")


if __name__ == "__main__":
    main()
