"""What reading a legacy Toshiba dose screen costs a worker: one JVM start per study.

Measures, in ``--rounds`` rounds each (median printed, wall and CPU seconds of the child process):

1. a bare JVM start (``java -version``);
2. the JVM loading PixelMed's generator with nothing to read (class loading, no OCR);
3. the whole study as a worker runs it (``toshiba_ct.study_task.report_from_files``): the test
   study of ``tests/toshiba_screens.py`` (one 768x800 screen with three scans, two CT images)
   written to a folder, PixelMed's OCR and RDSR, then the enrichment from the image headers;
4. the reference: extracting the RDSR it made (``extraction.dispatch.extract``), which every
   RDSR costs anyway. The ratio says how much dearer a screen study is than an RDSR study.

Also the peak resident memory of the JVM (what a worker host needs on top of the worker).

    .venv/bin/python benchmarks/toshiba_ocr.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import toshiba_screens as ts  # noqa: E402
from orthanc_rem.extraction.dispatch import extract  # noqa: E402
from orthanc_rem.toshiba_ct import pixelmed  # noqa: E402
from orthanc_rem.toshiba_ct.study_task import ToshibaCtConfig, report_from_files  # noqa: E402

SCANS = [
    ts.ScreenScan("SCANOGRAM", scan_type="Scanoscope", total_mas="50", exposure_time_s="2.5"),
    ts.ScreenScan("CHEST", ctdivol_mgy="25.4", dlp_mgycm="208.5", start_position_mm="+100.0", end_position_mm="-182.1"),
    ts.ScreenScan(
        "ABDOMEN", ctdivol_mgy="24.7", dlp_mgycm="141.2", start_position_mm="-150.0", end_position_mm="-357.2"
    ),
]
SERIES = [
    ts.ImageSeries(2, "CHEST", "101600", 120, [200], 500, 0.828, 0.5, 32.0, "XY", 25.4, 208.5),
    ts.ImageSeries(3, "ABDOMEN", "101800", 100, [150], 600, 1.4, 1.0, 16.0, "Z", 24.7),
]


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(name: str, rounds: int, run: Callable[[], object]) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(rounds):
        cpu, wall = child_cpu(), time.perf_counter()
        run()
        walls.append(time.perf_counter() - wall)
        cpus.append(child_cpu() - cpu)
    wall_s, cpu_s = statistics.median(walls), statistics.median(cpus)
    print(f"{name:58} wall {wall_s:7.3f} s   JVM CPU {cpu_s:7.3f} s")
    return wall_s, cpu_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    study = ts.ToshibaStudy()
    screen = ts.dose_screen(study, SCANS, "349.7")
    images = [image for series in SERIES for image in ts.ct_images(study, series)]
    config = ToshibaCtConfig()

    measure("bare JVM start (java -version)", rounds, lambda: subprocess.run(["java", "-version"], capture_output=True))
    measure(
        "JVM + PixelMed generator, nothing to read",
        rounds,
        lambda: subprocess.run(
            ["java", *pixelmed.JAVA_OPTIONS, "-cp", str(config.jar), pixelmed.GENERATOR], capture_output=True
        ),
    )
    reports = []
    study_wall, study_cpu = measure(
        "one study: OCR + RDSR + enrichment",
        rounds,
        lambda: reports.append(report_from_files([screen], images, config)),
    )
    report = reports[-1][0]
    started = time.perf_counter()
    for _ in range(rounds):
        extract(report)
    reference = (time.perf_counter() - started) / rounds
    print(f"{'reference: extracting that RDSR (Python, in process)':58} wall {reference:7.3f} s")
    print(f"ratio screen study / RDSR extraction (wall): {study_wall / reference:.0f}x")
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak resident memory of a JVM run: {peak_mb:.0f} MB; JVM CPU per study {study_cpu:.2f} s")


if __name__ == "__main__":
    main()
