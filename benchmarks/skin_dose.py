"""Skin dose maps of the corpus fluoroscopy studies: seconds per study, peak memory, and the cost
relative to importing the same report.

Every fluoroscopy RDSR of the repository's corpus is imported (``ingest_object``) into a fresh
SQLite database, then its map is computed as a worker does (``cache.refresh_skin_dose``) in
``--rounds`` rounds (each round drops the stored maps so the engine runs again). Reports whose
header names no system are also run with the Philips Allura geometry (``--device`` in the CLI),
so that the 3 MB, 316-event report is measured. Prints per study: CPU seconds of the import and
of the map, their ratio, and the process's peak resident memory at the end (what a worker needs).

    .venv/bin/python benchmarks/skin_dose.py [--rounds 3]

The import runs in the ingest task; the map in a task of its own, so the time added to ingest
itself when "calculate on import" is on is one enqueue (under a millisecond).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from sqlalchemy import delete

from orthanc_rem import database, model
from orthanc_rem.ingest import ingest_object
from orthanc_rem.skin_dose import cache, engine
from orthanc_rem.skin_dose.devices import PHILIPS_ALLURA
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
    rounds = parser.parse_args().rounds
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
                forced = skin_dose_inputs(study, PHILIPS_ALLURA) if study.equipment.manufacturer is None else None
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
            if forced is not None and not isinstance(forced, NotModelled):
                times = []
                for _ in range(rounds):
                    started = time.process_time()
                    forced_result = engine.compute_skin_dose(forced)
                    times.append(time.process_time() - started)
                label = path.name + " (Allura geometry)"
                print(
                    f"{label:45} {len(forced.events):>6} {import_s:>9.3f} {min(times):>8.3f} "
                    f"{min(times) / import_s:>6.1f}  computed {forced_result.peak_skin_dose_gy:.4f} Gy"
                )
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak resident memory of this process (one worker): {peak_mib:.0f} MiB")
        print(f"engine {engine.ENGINE_NAME} {engine.engine_version()}; {total_maps:.0f} studies, best of {rounds}")


if __name__ == "__main__":
    main()
