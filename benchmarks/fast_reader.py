"""What the fast DICOM reader still buys, measured end to end in one run.

For each kind of dose object in the repository's corpus, the same files go through
``ingest_object`` (read, route, extract, store in a fresh SQLite database) twice: once with the
fast reader (``extraction/fast_dataset.py``, the service's default) and once with plain pydicom as
the reference. Every object is a new study each round (its UIDs are rewritten), so both paths do
the same work. Prints per kind: CPU milliseconds per object on each path (process time, so that
waits for the disk and other processes on the machine do not count) and the ratio.

    .venv/bin/python benchmarks/fast_reader.py [--rounds 20]

Runs with what the service installs (no test extras). The ratio, not the absolute time, is the
figure to compare between machines.
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from pathlib import Path

import pydicom
from pydicom.uid import generate_uid

from orthanc_rem import database
from orthanc_rem.extraction import dicom_file
from orthanc_rem.ingest import ingest_object

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "corpus" / "dicom"
KINDS = {
    "CT RDSR": ["CT-RDSR-Siemens_Flash-TAP-SS.dcm", "CT-RDSR-GEPixelMed.dcm", "CT-RDSR-Toshiba_DoseCheck.dcm"],
    "RF RDSR": ["RF-RDSR-Siemens-Zee.dcm", "RF-RDSR-Philips_Allura.dcm", "RF-RDSR-GE.dcm"],
    "RF RDSR, 316 events": ["RF-Pat-Orientation-Modifier-Missing.dcm"],
    "DX image": ["DX-Im-GE_XR220-1.dcm", "DX-Im-Carestream_DR7500-1.dcm"],
    "MG RDSR": ["MG-RDSR-Hologic_2D.dcm", "MG-RDSR-GEPristina-2D.dcm"],
}


def renamed_copies(name: str, count: int) -> list[bytes]:
    """``count`` copies of a corpus object, each with its own study, series and instance UIDs."""
    copies = []
    for _ in range(count):
        ds = pydicom.dcmread(CORPUS / name)
        ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        copies.append(buffer.getvalue())
    return copies


def milliseconds_per_object(objects: list[bytes], reader: str, folder: Path) -> float:
    url = f"sqlite:///{folder / f'{reader}.sqlite'}"
    database.upgrade_schema(url)
    sessions = database.session_factory(url)
    dicom_file.READER = reader
    started = time.process_time()
    for number, data in enumerate(objects):
        outcome = ingest_object(sessions, data, source=f"benchmark:{reader}:{number}")
        assert outcome.extracted, outcome
    elapsed = time.process_time() - started
    database.dispose_all()
    return 1000 * elapsed / len(objects)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="copies of each file per path (default 20)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        # Warm-up, untimed: first-use imports and caches (pydicom's SNOMED table, codecs...).
        warm_up = [data for names in KINDS.values() for data in renamed_copies(names[0], 1)]
        for reader in ("fast", "pydicom"):
            milliseconds_per_object(warm_up, reader, Path(folder))
    print(f"{'kind':<22} {'fast CPU ms':>15} {'pydicom CPU ms':>18} {'pydicom / fast':>15}")
    for kind, names in KINDS.items():
        objects = [data for name in names for data in renamed_copies(name, args.rounds)]
        with tempfile.TemporaryDirectory() as folder:
            # Interleaved twice, so that a load change on the machine hits both paths alike.
            fast = pydicom_ms = 0.0
            for half in (objects[::2], objects[1::2]):
                fast += milliseconds_per_object(half, "fast", Path(folder)) / 2
                pydicom_ms += milliseconds_per_object(half, "pydicom", Path(folder)) / 2
        print(f"{kind:<22} {fast:>15.1f} {pydicom_ms:>18.1f} {pydicom_ms / fast:>14.1f}x")


if __name__ == "__main__":
    main()
