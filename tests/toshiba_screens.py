"""Toshiba CT dose-summary screens for tests, drawn with the glyphs PixelMed's OCR knows.

No real Toshiba dose screen is in the corpus, so the tests draw one: every character (or whole
word, where the glyph file holds the word as one shape) is a bitmap taken from
``OCR_Glyphs_DoseScreen.xml`` inside Debian's ``pixelmed.jar``, the file the OCR matches shapes
against. The layout follows what ``com.pixelmed.doseocr.OCR`` expects of a Toshiba screen (read
from its class): shapes closer than 13 pixels across and 6 down are one word; the words of a line
share their top row; a "<<Dose Information>>" page gives the DLP total and a "<<Detail
Information>>" page one block per scan, after the header rows "Exposure Time CTDIvol DLP Total
mAs" / "Eff.DLP(mGycm)" / "Dose Red. Mode Start Pos. End Pos." / "Tot. Dose Red.". The object is a
secondary capture with the attributes that make PixelMed take it for a Toshiba dose screen
(Manufacturer TOSHIBA, Image Type DERIVED\\SECONDARY, Window Center 0 and Width 1).

The CT images of the study are made here too, carrying the header attributes the enrichment reads
(protocol name, exposure time, kVp, tube current, pitch, collimation, exposure modulation type,
CTDIvol and DLP to match a series to an OCR'd scan).
"""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

PIXELMED_JAR = Path("/usr/share/java/pixelmed.jar")
GLYPH_RESOURCE = "com/pixelmed/doseocr/OCR_Glyphs_DoseScreen.xml"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"

#: Blank columns between the characters of a word (OCR's second pass splits shapes that do not touch).
CHARACTER_GAP = 2
#: Blank columns between words: more than the 13 the OCR joins for Toshiba screens.
WORD_GAP = 24
#: Rows from one line's top to the next: more than the tallest glyph (18) plus the 6 the OCR joins.
LINE_PITCH = 28
MARGIN = 16


@dataclass(frozen=True)
class Glyph:
    """One shape of the glyph file: its bitmap (rows of booleans) and the text it stands for."""

    text: str
    bitmap: np.ndarray

    @property
    def height(self) -> int:
        return int(self.bitmap.shape[0])

    @property
    def width(self) -> int:
        return int(self.bitmap.shape[1])


@functools.cache
def glyph_file(jar: Path = PIXELMED_JAR) -> tuple[Glyph, ...]:
    """Every glyph of PixelMed's dose-screen glyph file, read from the jar Debian installs."""
    with zipfile.ZipFile(jar) as archive:
        root = ET.fromstring(archive.read(GLYPH_RESOURCE))
    glyphs = []
    for element in root.iter("glyph"):
        width = int(element.findtext("width") or 0)
        bits = [int(bit.text or 0) for bit in element.iter("bit")]
        text = (element.findtext("string") or "").strip()
        if not (width and bits and text):
            continue
        height = max(bits) // width + 1
        bitmap = np.zeros((height, width), dtype=bool)
        for bit in bits:
            bitmap[bit // width, bit % width] = True
        glyphs.append(Glyph(text, bitmap))
    return tuple(glyphs)


def _one_shape(bitmap: np.ndarray) -> bool:
    """Whether the set pixels touch each other (8-neighbours): OCR's second pass reads such a shape whole."""
    points = {(int(y), int(x)) for y, x in zip(*np.nonzero(bitmap), strict=True)}
    if not points:
        return False
    seen, todo = set(), [next(iter(points))]
    while todo:
        y, x = todo.pop()
        if (y, x) in seen:
            continue
        seen.add((y, x))
        todo.extend((y + dy, x + dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (y + dy, x + dx) in points)
    return len(seen) == len(points)


@functools.cache
def glyph_for(text: str) -> Glyph:
    """The glyph drawn for a character or a whole word.

    A character must be one connected shape (OCR reads a word it does not know as its shapes, left
    to right); among the fonts the file holds, the one closest to a 10-pixel capital is taken.
    """
    candidates = [g for g in glyph_file() if g.text == text]
    if len(text) == 1:
        candidates = [g for g in candidates if _one_shape(g.bitmap)]
    if not candidates:
        raise KeyError(f"no glyph for {text!r} in PixelMed's glyph file")
    preferred = 7 if text.islower() else 10
    return min(candidates, key=lambda g: (abs(g.height - preferred), g.width))


def word_bitmap(word: str) -> np.ndarray:
    """A word as drawn: one glyph if the file has the word as one shape, else its characters."""
    if any(g.text == word for g in glyph_file()) and len(word) > 1:
        return glyph_for(word).bitmap
    pieces = [glyph_for(character) for character in word]
    height = max(p.height for p in pieces)
    width = sum(p.width for p in pieces) + CHARACTER_GAP * (len(pieces) - 1)
    canvas = np.zeros((height, width), dtype=bool)
    x = 0
    for piece in pieces:  # bottom-aligned, as on a screen's baseline
        canvas[height - piece.height :, x : x + piece.width] = piece.bitmap
        x += piece.width + CHARACTER_GAP
    return canvas


def draw_lines(lines: Sequence[Sequence[str]], width: int = 768) -> np.ndarray:
    """The screen: each line's words side by side, all with the same top row (OCR groups a line by it)."""
    height = MARGIN * 2 + LINE_PITCH * len(lines)
    screen = np.zeros((height, width), dtype=np.uint8)
    for number, words in enumerate(lines):
        top, x = MARGIN + number * LINE_PITCH, MARGIN
        for word in words:
            bitmap = word_bitmap(word)
            if x + bitmap.shape[1] > width - MARGIN:
                raise ValueError(f"line {number + 1} is wider than the screen: {' '.join(words)}")
            screen[top : top + bitmap.shape[0], x : x + bitmap.shape[1]][bitmap] = 255
            x += bitmap.shape[1] + WORD_GAP
    return screen


@dataclass(frozen=True)
class ScreenScan:
    """One scan as the Detail Information page lists it (values as the scanner prints them)."""

    protocol: str
    scan_type: str = "Helical"
    ctdivol_mgy: str | None = None
    dlp_mgycm: str | None = None
    phantom: str = "Body"
    total_mas: str = "100"
    exposure_time_s: str = "5.0"
    start_position_mm: str | None = None
    end_position_mm: str | None = None
    dose_reduction_mode: str = "ON"
    total_dose_reduction_percent: str = "10"


DETAIL_HEADER: tuple[tuple[str, ...], ...] = (
    ("Exposure Time CTDIvol", "DLP", "Total mAs"),
    ("Eff.DLP(mGycm)",),
    ("Dose Red. Mode", "Start", "Pos.", "End", "Pos."),
    ("Tot. Dose Red.",),
)


def dose_screen_lines(scans: Sequence[ScreenScan], dlp_total_mgycm: str) -> list[tuple[str, ...]]:
    """The text of a Toshiba dose screen: the DLP total, then one block per scan."""
    lines: list[tuple[str, ...]] = [
        # PixelMed reads the first line of a screen as "null" plus its text (its page buffer starts
        # as null): the title bar the scanner draws there is lost, not the dose header.
        ("Exam no:", "1"),
        ("<<Dose Information>>",),
        ("DLP.e(mGycm)", "(Head):-", "(Body):", dlp_total_mgycm),
        ("<<Detail Information>>",),
    ]
    for number, scan in enumerate(scans, start=1):
        lines.append((f"{number}.{scan.protocol}",))
        lines.extend(DETAIL_HEADER)
        if scan.ctdivol_mgy is None:  # a scanogram: exposure only, no dose on the screen
            lines.append((scan.scan_type,))
            lines.append((scan.total_mas, scan.exposure_time_s))
            continue
        lines.append((scan.scan_type, f"{scan.ctdivol_mgy}({scan.phantom})", f"{scan.dlp_mgycm}({scan.phantom})"))
        lines.append((scan.total_mas, scan.exposure_time_s))
        lines.append(
            (
                scan.dlp_mgycm or "0",
                scan.dose_reduction_mode,
                scan.start_position_mm or "+0",
                scan.end_position_mm or "-0",
            )
        )
        lines.append((scan.total_dose_reduction_percent,))
    return lines


@dataclass
class ToshibaStudy:
    """Header values shared by every object of one synthetic study."""

    study_instance_uid: str = field(default_factory=generate_uid)
    patient_id: str = "TOSHIBA-OCR-1"
    patient_name: str = "Screen^Test"
    study_date: str = "20240314"
    study_time: str = "101500"
    accession_number: str = "ACC-T1"
    study_description: str = "CT CHEST ABDOMEN PELVIS"
    requested_procedure_description: str = "CT Thorax Abdomen Pelvis with contrast"
    manufacturer: str = "TOSHIBA"
    model: str = "Aquilion"
    station_name: str = "CTTOSHIBA1"
    device_serial_number: str = "TSB00042"
    software_versions: str = "V4.51ER014"
    institution_name: str = "Test Hospital"


def _common(study: ToshibaStudy, sop_class: str, modality: str = "CT") -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = study.study_instance_uid
    ds.PatientID = study.patient_id
    ds.PatientName = study.patient_name
    ds.PatientSex = "F"
    ds.PatientBirthDate = "19700101"
    ds.StudyDate = study.study_date
    ds.StudyTime = study.study_time
    ds.StudyID = "1"
    ds.AccessionNumber = study.accession_number
    ds.StudyDescription = study.study_description
    ds.RequestedProcedureDescription = study.requested_procedure_description
    ds.ReferringPhysicianName = ""
    ds.Modality = modality
    ds.Manufacturer = study.manufacturer
    ds.ManufacturerModelName = study.model
    ds.StationName = study.station_name
    ds.DeviceSerialNumber = study.device_serial_number
    ds.SoftwareVersions = study.software_versions
    ds.InstitutionName = study.institution_name
    return ds


def dose_screen(
    study: ToshibaStudy, scans: Sequence[ScreenScan], dlp_total_mgycm: str, lines: Iterable[Sequence[str]] | None = None
) -> Dataset:
    """The secondary capture a Toshiba Aquilion sends as its dose summary (series 9000, as on the scanner)."""
    pixels = draw_lines(list(lines) if lines is not None else dose_screen_lines(scans, dlp_total_mgycm))
    ds = _common(study, SECONDARY_CAPTURE)
    ds.SeriesInstanceUID = generate_uid()
    ds.SeriesNumber = 9000
    ds.SeriesDescription = "Dose Summary"
    ds.InstanceNumber = 1
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.ConversionType = "WSD"
    ds.SeriesDate, ds.SeriesTime = study.study_date, "103000"
    ds.ContentDate, ds.ContentTime = study.study_date, "103000"
    ds.WindowCenter = "0"  # as integers: PixelMed reads them with an integer parse
    ds.WindowWidth = "1"
    # That window makes every stored value above -0.5 white: the background (0) must rescale below it.
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = "-1", "1", "US"
    _pixels(ds, pixels)
    return ds


@dataclass(frozen=True)
class ImageSeries:
    """A reconstructed series of one scan, with the header values the enrichment reads."""

    series_number: int
    protocol_name: str
    acquisition_time: str
    kvp: float
    tube_current_ma: Sequence[int]
    exposure_time_ms: int
    spiral_pitch_factor: float
    single_collimation_mm: float
    total_collimation_mm: float
    exposure_modulation_type: str
    ctdivol_mgy: float
    dlp_mgycm: float | None = None


def ct_images(study: ToshibaStudy, series: ImageSeries) -> list[Dataset]:
    """One small CT image per tube current value listed (the series' images differ in mA)."""
    images = []
    series_uid = generate_uid()
    for number, current in enumerate(series.tube_current_ma, start=1):
        ds = _common(study, CT_IMAGE)
        ds.SeriesInstanceUID = series_uid
        ds.SeriesNumber = series.series_number
        ds.InstanceNumber = number
        ds.SeriesDescription = series.protocol_name
        ds.ProtocolName = series.protocol_name
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.AcquisitionNumber = 1
        ds.AcquisitionDate, ds.AcquisitionTime = study.study_date, series.acquisition_time
        ds.ContentDate, ds.ContentTime = study.study_date, series.acquisition_time
        ds.KVP = series.kvp
        ds.XRayTubeCurrent = current
        ds.ExposureTime = series.exposure_time_ms
        ds.SpiralPitchFactor = series.spiral_pitch_factor
        ds.SingleCollimationWidth = series.single_collimation_mm
        ds.TotalCollimationWidth = series.total_collimation_mm
        ds.ExposureModulationType = series.exposure_modulation_type
        ds.CTDIvol = series.ctdivol_mgy
        ds.SliceThickness = 5
        ds.ImagePositionPatient = [0, 0, -5 * number]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [0.7, 0.7]
        ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
        if series.dlp_mgycm is not None:
            ds.add_new((0x7005, 0x0010), "LO", "TOSHIBA_MEC_CT3")
            ds.add_new((0x7005, 0x1040), "FD", series.dlp_mgycm)
            ds.add_new((0x7005, 0x1063), "FD", series.ctdivol_mgy)
        _pixels(ds, np.zeros((16, 16), dtype=np.uint8), bits=16)
        images.append(ds)
    return images


def _pixels(ds: Dataset, pixels: np.ndarray, bits: int = 8) -> None:
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated = ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 0
    ds.PixelData = pixels.astype(np.uint8 if bits == 8 else np.uint16).tobytes()


def write(ds: Dataset, folder: Path, name: str) -> Path:
    path = folder / name
    ds.save_as(path, enforce_file_format=True)
    return path
