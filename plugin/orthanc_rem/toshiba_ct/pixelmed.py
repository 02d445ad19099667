"""PixelMed's dose-screen OCR, run as a Java subprocess (Debian's ``libpixelmed-java``).

``com.pixelmed.doseocr.GenerateRadiationDoseStructuredReport`` takes folders of DICOM files and an
output file name (its ``main``: every argument but the last is an input path, the last the RDSR
to write). It finds the dose screens among the files (``OCR.isDoseScreenInstance``: for Toshiba,
Image Type DERIVED\\SECONDARY with Window Center 0 and Width 1), reads them with
``com.pixelmed.doseocr.OCR`` and the glyph set inside the jar (``OCR_Glyphs_DoseScreen.xml``) and
writes TID 10011. It always exits 0: a screen it cannot read shows as no output file or as a
report without any CT Dose, which the caller checks.

One JVM per study: the start costs about a second of CPU (``benchmarks/toshiba_ocr.py``), far less
than waiting for a stable study. Never run inside Orthanc: the workers call it.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

DEFAULT_JAR = Path("/usr/share/java/pixelmed.jar")
GENERATOR = "com.pixelmed.doseocr.GenerateRadiationDoseStructuredReport"
#: The OCR follows each shape pixel by pixel, recursively: a real screen's word overflows the
#: default 1 MB thread stack (StackOverflowError measured on a 768x800 screen).
#: A run lasts seconds: the optimising compiler (C2) and parallel GC threads cost more CPU than
#: they save (measured: 2.8 s CPU per study with the defaults, 1.1 s with C1 only and serial GC).
JAVA_OPTIONS = (
    "-Xss16m",
    "-Xmx512m",
    "-XX:TieredStopAtLevel=1",
    "-XX:+UseSerialGC",
    "-Djava.awt.headless=true",
)
TIMEOUT_S = 300.0


class PixelMedUnavailable(Exception):
    """Java or the PixelMed jar is not installed: a fault of the installation, not of the study."""


class ScreenNotRead(Exception):
    """PixelMed produced no dose report from the screen (the reason is for the quarantine list)."""


@dataclass(frozen=True)
class PixelMedRun:
    rdsr: Path
    seconds: float
    log: str


def generate_rdsr(
    inputs: list[Path], output: Path, java: str = "java", jar: Path = DEFAULT_JAR, timeout_s: float = TIMEOUT_S
) -> PixelMedRun:
    """Run the generator on ``inputs`` (files or folders) and return the RDSR it wrote."""
    if not jar.is_file():
        raise PixelMedUnavailable(f"PixelMed jar {jar} not found (Debian package libpixelmed-java)")
    if output.exists():
        output.unlink()  # the generator refuses to overwrite
    command = [java, *JAVA_OPTIONS, "-cp", str(jar), GENERATOR, *map(str, inputs), str(output)]
    started = time.monotonic()
    try:
        finished = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
            env={**os.environ, "LC_ALL": "C"},
        )
    except FileNotFoundError as exc:
        raise PixelMedUnavailable(f"{java!r} not found (Debian package default-jre-headless)") from exc
    except subprocess.TimeoutExpired as exc:
        raise ScreenNotRead(f"PixelMed did not finish within {timeout_s:.0f} s") from exc
    seconds = time.monotonic() - started
    log = (finished.stderr or "") + (finished.stdout or "")
    if not output.is_file():
        raise ScreenNotRead(f"PixelMed wrote no dose report ({_last_error(log)})")
    return PixelMedRun(output, seconds, log)


def _last_error(log: str) -> str:
    """The line of PixelMed's output that says most: an exception, else its last line."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    for line in lines:
        if "Exception" in line or "Error" in line:
            return line[:300]
    return lines[-1][:300] if lines else "no output"
