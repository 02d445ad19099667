"""The fast DICOM reader (``fast_dataset``) against pydicom, which is the reference.

For every corpus object, and for corpus reports re-encoded by pydicom, the fast reader must give the
same values, the same records and the same errors as ``dcmread``; what it does not read (big endian,
a non-default pydicom configuration) must reach pydicom; a cut-short buffer must be an ExtractionError.
"""

from __future__ import annotations

import io
import random
import struct
import warnings
from collections.abc import Callable
from pathlib import Path

import pydicom
import pytest
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset
from pydicom.tag import Tag
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian, ImplicitVRLittleEndian

from conftest import corpus_files
from orthanc_rem.extraction import dicom_file, sr
from orthanc_rem.extraction.ct_report import read_ct_dose_report
from orthanc_rem.extraction.dicom_file import read_dicom_file
from orthanc_rem.extraction.dispatch import extract
from orthanc_rem.extraction.fast_dataset import FastDataset, UnsupportedEncoding, read_fast
from orthanc_rem.extraction.records import ExtractionError
from test_extraction_ct import CT_FILES

CORPUS = [path.name for path in corpus_files()]
#: 160 000 elements that take pydicom ~10 s to convert one by one; its encoding (Implicit VR Little
#: Endian, RF report) is also that of RF-No-kVp-and-others.dcm, which every test does read.
ELEMENT_BY_ELEMENT = [name for name in CORPUS if name != "RF-Pat-Orientation-Modifier-Missing.dcm"]

#: Every top-level attribute headers.py, classification.py, report_parts.py and ingest.py read.
HEADER_KEYWORDS = [
    "SpecificCharacterSet", "SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "StudyDate", "StudyTime",
    "AccessionNumber", "StudyID", "StudyDescription", "ReferringPhysicianName", "PerformingPhysicianName",
    "OperatorsName", "RequestedProcedureDescription", "SeriesInstanceUID", "SeriesDescription", "SeriesDate",
    "SeriesTime", "ContentDate", "ContentTime", "PatientBirthDate", "PatientAge", "PatientSex", "PatientSize",
    "PatientWeight", "Manufacturer", "InstitutionName", "StationName", "InstitutionalDepartmentName",
    "ManufacturerModelName", "DeviceSerialNumber", "SoftwareVersions", "GantryID", "InstitutionAddress",
    "ValueType",
]  # fmt: skip
#: PS3.5 7.5: Item of undefined length, Item and Sequence Delimitation Items.
ITEM = struct.pack("<HHL", 0xFFFE, 0xE000, 0xFFFFFFFF)
ITEM_DELIMITATION = struct.pack("<HHL", 0xFFFE, 0xE00D, 0)
SEQUENCE_DELIMITATION = struct.pack("<HHL", 0xFFFE, 0xE0DD, 0)
#: The PS3.5 Annex H example of a Japanese person name in ISO 2022 IR 87.
JAPANESE_NAME = "Yamada^Tarou=山田^太郎=やまだ^たろう"


# --- helpers ----------------------------------------------------------------------------------------


def outcome(data: bytes, reader: str) -> object:
    """The record, or the exception (type and message) extraction ends with."""
    try:
        return read_ct_dose_report(read_dicom_file(data, reader=reader))
    except Exception as exc:  # noqa: BLE001 - the failure itself is what is compared
        return type(exc), str(exc)


def assert_same_elements(fast: Dataset, reference: Dataset, where: str) -> None:
    """Every public element at every level: same Python type, value and text as pydicom's."""
    assert len(fast) == len(reference), where
    for element in reference:
        if not element.keyword:
            continue  # private elements have no keyword: extraction never reads them
        value = fast.get(element.keyword)
        if element.VR == "SQ":
            assert len(value) == len(element.value), f"{where} > {element.keyword}"
            for number, (item, expected) in enumerate(zip(value, element.value, strict=True)):
                assert_same_elements(item, expected, f"{where} > {element.keyword}[{number}]")
        else:
            expected = element.value
            assert (type(value), value, str(value)) == (type(expected), expected, str(expected)), (
                f"{where} > {element.keyword}"
            )


def encoded(ds: Dataset, transfer_syntax: str | None = None) -> bytes:
    if transfer_syntax is not None:
        ds.file_meta.TransferSyntaxUID = transfer_syntax
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


def with_undefined_lengths(ds: Dataset) -> Dataset:
    """Every sequence and item with undefined length and delimiters (PS3.5 7.5.1, 7.5.2)."""
    for element in ds:
        if element.VR == "SQ":
            element.is_undefined_length = True
            for item in element.value:
                item.is_undefined_length_sequence_item = True
                with_undefined_lengths(item)
    return ds


def implicit_vr_item(item: Dataset) -> bytes:
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, True
    write_dataset(fp, item)
    return fp.getvalue()


def as_undefined_length_un(data: bytes, ds: Dataset, keyword: str) -> bytes:
    """Re-encode a top-level sequence the way PS3.5 6.2.2 allows for a VR the sender did not know:
    UN, undefined length, items in Implicit VR Little Endian."""
    tag = Tag(keyword)
    header = struct.pack("<HH", tag.group, tag.element) + b"SQ\0\0"
    start = data.index(header)
    (length,) = struct.unpack_from("<L", data, start + 8)
    items = b"".join(ITEM + implicit_vr_item(item) + ITEM_DELIMITATION for item in ds[keyword].value)
    un = header[:4] + b"UN\0\0" + struct.pack("<L", 0xFFFFFFFF) + items + SEQUENCE_DELIMITATION
    return data[:start] + un + data[start + 12 + length :]


def content_items(node: Dataset) -> list[Dataset]:
    found = []
    for item in node.get("ContentSequence") or ():
        found += [item, *content_items(item)]
    return found


# --- every corpus object ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", CORPUS)
def test_the_fast_reader_reads_the_header_pydicom_reads(corpus, name):
    data = corpus(name).read_bytes()
    fast, reference = read_fast(data), pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
    assert isinstance(fast, FastDataset)
    assert len(fast) == len(reference)
    assert all(element.keyword in fast for element in reference if element.keyword)
    for keyword in HEADER_KEYWORDS:
        value, expected = fast.get(keyword), reference.get(keyword)
        assert (type(value), value, str(value)) == (type(expected), expected, str(expected)), keyword
        assert sr.dataset_text(fast, keyword) == sr.dataset_text(reference, keyword), keyword
    assert type(fast) is FastDataset  # reading never falls back to pydicom's slower machinery


@pytest.mark.parametrize("name", ELEMENT_BY_ELEMENT)
def test_every_element_at_every_level_is_the_value_pydicom_gives(corpus, name):
    data = corpus(name).read_bytes()
    assert_same_elements(read_fast(data), pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True), name)


@pytest.mark.parametrize("name", CORPUS)
def test_extraction_on_the_fast_path_ends_as_on_the_pydicom_path(corpus, name):
    """CT dose reports give equal records; every other object the same exception and message."""
    data = corpus(name).read_bytes()
    fast, reference = outcome(data, "fast"), outcome(data, "pydicom")
    assert fast == reference
    assert (name in CT_FILES) == (not isinstance(reference, tuple))


def extracted(data: bytes, reader: str) -> object:
    """What the whole store dispatch ends with: the route and the report, or the exception."""
    try:
        taken, report = extract(read_dicom_file(data, reader=reader))
        return taken.kind, report
    except Exception as exc:  # noqa: BLE001 - the failure itself is what is compared
        return type(exc), str(exc)


@pytest.mark.parametrize("name", CORPUS)
def test_every_importer_gives_the_same_record_on_both_paths(corpus, name):
    """Projection, DX, MG and Philips records as well as CT ones: the fast reader changes nothing."""
    data = corpus(name).read_bytes()
    assert extracted(data, "fast") == extracted(data, "pydicom")


#: One report of each importer family, in the encodings the fast reader takes itself.
BIT_FLIP_REPORTS = ["CT-RDSR-Siemens-Multi-1.dcm", "RF-RDSR-Siemens-Zee.dcm", "DX-Im-GE_XR220-1.dcm"]


@pytest.mark.parametrize("name", BIT_FLIP_REPORTS)
def test_a_flipped_bit_anywhere_never_gives_a_different_record(corpus, name):
    """Damage the fast reader does not notice must not give a record pydicom would not give.

    One bit is flipped at positions spread over the whole object (a fixed seed, so a failure can
    be replayed). Either both paths give the same record, or at least one of them rejects the
    object (the fast reader is stricter about lengths than pydicom; a flipped VR makes pydicom
    raise when the value is read; ingest quarantines either with its reason): never two
    different records.
    """
    data = corpus(name).read_bytes()
    chooser = random.Random(f"bit-flip {name}")
    for position in sorted(chooser.sample(range(132, len(data)), 40)):
        damaged = bytearray(data)
        damaged[position] ^= 1 << chooser.randrange(8)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom warns about each damaged value it reads
            fast, reference = extracted(bytes(damaged), "fast"), extracted(bytes(damaged), "pydicom")
        rejected = any(isinstance(result[0], type) for result in (fast, reference))  # type: ignore[index]
        assert rejected or fast == reference, position


@pytest.mark.parametrize("name", CT_FILES)
def test_extraction_reads_the_fast_tree_without_turning_it_into_pydicom_datasets(corpus, name):
    ds = read_dicom_file(corpus(name))
    read_ct_dose_report(ds)
    assert type(ds) is FastDataset
    assert all(type(item) is FastDataset for item in content_items(ds))


@pytest.mark.parametrize("name", ELEMENT_BY_ELEMENT)
def test_a_fast_data_set_written_by_pydicom_gives_the_bytes_of_a_pydicom_one(corpus, name):
    """Writing turns the fast tree into the Dataset dcmread builds: the encoded result is identical."""
    data = corpus(name).read_bytes()
    assert encoded(read_fast(data)) == encoded(pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True))


# --- encodings made from corpus reports -------------------------------------------------------------

SAMPLE_REPORTS = [
    "CT-RDSR-Siemens-Multi-2.dcm",
    "CT-RDSR-GEPixelMed.dcm",  # ISO_IR 100, Latin-1 institution name
    "CT-RDSR-Toshiba_DoseCheck.dcm",  # ISO_IR 192, dose check details
    "CT-ESR-GE_VCT.dcm",  # 27 acquisitions
]


@pytest.mark.parametrize("transfer_syntax", [ImplicitVRLittleEndian, DeflatedExplicitVRLittleEndian])
@pytest.mark.parametrize("name", SAMPLE_REPORTS)
def test_implicit_vr_and_deflated_reports_give_the_record_of_the_original(corpus, name, transfer_syntax):
    data = encoded(pydicom.dcmread(corpus(name)), transfer_syntax)
    assert isinstance(read_dicom_file(data, reader="fast"), FastDataset)
    assert outcome(data, "fast") == outcome(data, "pydicom") == outcome(corpus(name).read_bytes(), "pydicom")


def test_big_endian_is_left_to_pydicom(corpus):
    data = encoded(pydicom.dcmread(corpus("CT-RDSR-Siemens-Multi-2.dcm")), ExplicitVRBigEndian)
    with pytest.raises(UnsupportedEncoding):
        read_fast(data)
    ds = read_dicom_file(data, reader="fast")
    assert type(ds) is FileDataset
    assert read_ct_dose_report(ds) == outcome(corpus("CT-RDSR-Siemens-Multi-2.dcm").read_bytes(), "pydicom")


def test_a_changed_pydicom_configuration_is_left_to_pydicom(corpus, monkeypatch):
    monkeypatch.setattr(pydicom.config, "datetime_conversion", True)
    with pytest.raises(UnsupportedEncoding):
        read_fast(corpus("CT-RDSR-Siemens-Multi-2.dcm").read_bytes())


@pytest.mark.parametrize("name", SAMPLE_REPORTS)
def test_undefined_length_sequences_and_items_give_the_same_record(corpus, name):
    data = encoded(with_undefined_lengths(pydicom.dcmread(corpus(name))))
    assert data.count(SEQUENCE_DELIMITATION) > 100
    assert isinstance(read_dicom_file(data, reader="fast"), FastDataset)
    assert outcome(data, "fast") == outcome(data, "pydicom") == outcome(corpus(name).read_bytes(), "pydicom")


def test_undefined_length_un_with_implicit_vr_items_is_read_as_a_sequence(corpus):
    original = pydicom.dcmread(corpus("CT-RDSR-Siemens-Multi-2.dcm"))
    data = as_undefined_length_un(encoded(original), original, "ContentTemplateSequence")
    fast = read_fast(data)
    # PS3.16: a CT dose report is TID 10011 from the DCMR mapping resource
    (template,) = fast.ContentTemplateSequence
    assert (template.MappingResource, template.TemplateIdentifier) == ("DCMR", "10011")
    assert outcome(data, "fast") == outcome(data, "pydicom")


def test_odd_and_empty_values_read_as_pydicom_reads_them(corpus):
    ds = pydicom.dcmread(corpus("CT-RDSR-Siemens-Multi-2.dcm"))
    ds[0x00080080] = RawDataElement(Tag(0x00080080), "LO", 3, b"ABC", 0, False, True)  # odd length
    ds[0x00081010] = RawDataElement(Tag(0x00081010), "SH", 0, b"", 0, False, True)
    data = encoded(ds)
    fast, reference = read_fast(data), pydicom.dcmread(io.BytesIO(data))
    assert (fast.InstitutionName, fast.StationName) == (reference.InstitutionName, reference.StationName) == ("ABC", "")
    assert outcome(data, "fast") == outcome(data, "pydicom")


def test_pixel_data_and_what_follows_it_are_not_read(corpus):
    padding = struct.pack("<HH", 0xFFFC, 0xFFFC) + b"OB\0\0" + struct.pack("<L", 4) + b"\0" * 4
    data = corpus("DX-Im-GE_XR220-1.dcm").read_bytes() + padding  # Data Set Trailing Padding, PS3.10 7.2
    fast, reference = read_fast(data), pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
    assert "PixelData" not in fast and "DataSetTrailingPadding" not in fast
    assert len(fast) == len(reference)


# --- character sets ---------------------------------------------------------------------------------


def test_utf8_chinese_institution_name_decodes_as_pydicom_does(corpus):
    ds = pydicom.dcmread(corpus("CT-RDSR-Siemens-Multi-1.dcm"))
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.InstitutionName = "北京协和医院"
    data = encoded(ds)
    fast = read_fast(data)
    assert fast.InstitutionName == pydicom.dcmread(io.BytesIO(data)).InstitutionName == "北京协和医院"
    report = outcome(data, "fast")
    assert report == outcome(data, "pydicom")
    assert report.equipment.institution_name == "北京协和医院"


def test_iso_2022_japanese_person_names_decode_as_pydicom_does(corpus):
    """Header and content-item person names with ISO 2022 escape sequences (PS3.5 Annex H)."""
    ds = pydicom.dcmread(corpus("CT-RDSR-Toshiba_DoseCheck.dcm"))
    ds.SpecificCharacterSet = ["", "ISO 2022 IR 87"]
    ds.PatientName = ds.ReferringPhysicianName = JAPANESE_NAME
    for item in content_items(ds):
        if item.ValueType == "PNAME":
            item.PersonName = JAPANESE_NAME
    data = encoded(ds)
    assert b"\x1b$B" in data  # JIS X 0208 escape sequence
    fast, reference = read_fast(data), pydicom.dcmread(io.BytesIO(data))
    assert str(fast.PatientName) == str(reference.PatientName) == JAPANESE_NAME
    report = outcome(data, "fast")
    assert report == outcome(data, "pydicom")
    assert report.study.referring_physician_name == JAPANESE_NAME
    assert report.dose.events[1].dose_check.alert_person_name == JAPANESE_NAME


# --- damaged input ----------------------------------------------------------------------------------


def cut_reports(corpus: Callable[[str], Path]) -> dict[str, bytes]:
    ds = pydicom.dcmread(corpus("CT-RDSR-Siemens-Multi-2.dcm"))
    return {
        "explicit": corpus("CT-RDSR-Siemens-Multi-2.dcm").read_bytes(),
        "implicit": encoded(pydicom.dcmread(corpus("CT-RDSR-Siemens-Multi-2.dcm")), ImplicitVRLittleEndian),
        "undefined lengths": encoded(with_undefined_lengths(ds)),
    }


@pytest.mark.parametrize("encoding", ["explicit", "implicit", "undefined lengths"])
def test_a_report_cut_anywhere_is_an_extraction_error(corpus, encoding):
    """The fast reader reports any cut inside an element as truncated; a cut between two top-level
    elements leaves a shorter data set, which extraction then rejects."""
    data = cut_reports(corpus)[encoding]
    complete = len(read_fast(data))
    for size in range(132, len(data) - 1, 97):
        try:
            fast = read_fast(data[:size])
        except ExtractionError as exc:
            assert "truncated" in str(exc)
        else:
            assert len(fast) < complete
        with pytest.raises(ExtractionError):
            read_ct_dose_report(read_dicom_file(data[:size], reader="fast"))


def test_a_cut_deflated_report_is_truncated(corpus):
    data = encoded(pydicom.dcmread(corpus("CT-RDSR-Siemens-Multi-2.dcm")), DeflatedExplicitVRLittleEndian)
    for size in range(len(data) - 2000, len(data) - 1, 97):
        with pytest.raises(ExtractionError, match="truncated"):
            read_fast(data[:size])


# --- the switch and the pydicom API -----------------------------------------------------------------


def test_reader_switch(corpus, monkeypatch):
    path = corpus("CT-RDSR-Siemens-Multi-2.dcm")
    assert isinstance(read_dicom_file(path), FastDataset)
    assert type(read_dicom_file(path, reader="pydicom")) is FileDataset
    monkeypatch.setattr(dicom_file, "READER", "pydicom")
    assert type(read_dicom_file(path)) is FileDataset
    with pytest.raises(ValueError, match="reader"):
        read_dicom_file(path, reader="dcmtk")


def test_editing_turns_only_the_edited_data_set_into_a_pydicom_dataset(corpus):
    ds = read_dicom_file(corpus("CT-RDSR-Toshiba_DoseCheck.dcm"))
    item = ds.ContentSequence[0]
    item.ValueType = "TEXT"
    assert type(item) is Dataset and item.ValueType == "TEXT"
    assert isinstance(ds, FastDataset) and ds.ContentSequence[0] is item
    del ds.StudyID
    assert type(ds) is FileDataset and "StudyID" not in ds and ds.ContentSequence[0] is item
