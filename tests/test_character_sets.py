"""Every character set of the manual's troubleshooting list (L5767-5844) imports, names come out
as written, and text the header mislabels or tags nobody knows never fail an import."""

from __future__ import annotations

import io

import pydicom
import pytest
from pydicom.dataelem import DataElement
from sqlalchemy import select

from orthanc_rem import model
from orthanc_rem.ingest import ingest_object

TEMPLATE = "CT-RDSR-ToshibaPixelMed.dcm"

# (Specific Character Set, institution name written in it)
WRITTEN_AS = [
    ("ISO_IR 6", "General Hospital"),
    ("ISO_IR 13", "ﾋﾞｮｳｲﾝ"),
    ("ISO_IR 100", "Hôpital Saint-Éloi"),
    ("ISO_IR 101", "Szpital Łódź"),
    ("ISO_IR 109", "Sptar Ħal Far"),
    ("ISO_IR 110", "Rīgas slimnīca"),
    ("ISO_IR 126", "Νοσοκομείο"),
    ("ISO_IR 127", "مستشفى"),
    ("ISO_IR 138", "בית חולים"),
    ("ISO_IR 144", "Больница"),
    ("ISO_IR 148", "Şişli Hastanesi"),
    ("ISO_IR 166", "โรงพยาบาล"),
    ("ISO_IR 192", "中心医院 Больница"),
    ("GB18030", "中心医院"),
    ("GBK", "中心医院"),
    (["ISO 2022 IR 6", "ISO 2022 IR 87"], "中央病院"),
    (["ISO 2022 IR 13", "ISO 2022 IR 87"], "ﾋﾞｮｳｲﾝ中央"),
    (["ISO 2022 IR 6", "ISO 2022 IR 149"], "중앙병원"),
    ("ISO 2022 IR 100", "Hôpital"),
    ("ISO 2022 IR 101", "Łódź"),
    ("ISO 2022 IR 109", "Ħal Far"),
    ("ISO 2022 IR 110", "Rīga"),
    ("ISO 2022 IR 126", "Νοσοκομείο"),
    ("ISO 2022 IR 127", "مستشفى"),
    ("ISO 2022 IR 138", "בית חולים"),
    ("ISO 2022 IR 144", "Больница"),
    ("ISO 2022 IR 148", "Şişli"),
    ("ISO 2022 IR 166", "โรงพยาบาล"),
]


def ingest_with(corpus, sessions, changes):  # type: ignore[no-untyped-def]
    ds = pydicom.dcmread(corpus(TEMPLATE))
    changes(ds)
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    outcome = ingest_object(sessions, buffer.getvalue(), source="charset-test")
    with sessions() as session:
        equipment = session.scalars(select(model.Equipment)).one_or_none()
    return outcome, equipment


@pytest.mark.parametrize(("character_set", "text"), WRITTEN_AS, ids=lambda v: str(v))
def test_names_come_out_as_written(corpus, sessions, character_set, text):
    def write(ds):  # type: ignore[no-untyped-def]
        ds.SpecificCharacterSet = character_set
        ds.InstitutionName = text
        ds.StationName = "ROOM 1"

    outcome, equipment = ingest_with(corpus, sessions, write)
    assert outcome.outcome == "imported", outcome.reason
    assert equipment.institution_name == text


def test_gb2312_with_its_escape_sequence(corpus, sessions):
    """ISO 2022 IR 58 text is designated by ESC $ ) A (PS3.5 Table K-2), written here by hand
    because pydicom writes it without; pydicom's reader leaves the escape in the text."""

    def write(ds):  # type: ignore[no-untyped-def]
        ds.SpecificCharacterSet = ["ISO 2022 IR 6", "ISO 2022 IR 58"]
        ds[0x00080080] = DataElement(0x00080080, "LO", b"\x1b$)A" + "中心医院".encode("gb2312"))

    outcome, equipment = ingest_with(corpus, sessions, write)
    assert outcome.outcome == "imported", outcome.reason
    assert equipment.institution_name == "中心医院"


@pytest.mark.parametrize(
    ("term", "codec"),
    # Not DICOM terms, but in the manual's list (from CP 1234's draft): imports must not fail.
    [("ISO 2022 GBK", "gbk"), ("ISO 2022 58", "gb2312"), ("NOT-A-CHARSET", "utf-8")],
)
def test_unknown_character_set_terms_never_fail_an_import(corpus, sessions, term, codec):
    def write(ds):  # type: ignore[no-untyped-def]
        ds.SpecificCharacterSet = term
        ds[0x00080080] = DataElement(0x00080080, "LO", "中心医院".encode(codec))

    outcome, equipment = ingest_with(corpus, sessions, write)
    assert outcome.outcome == "imported", outcome.reason
    assert equipment.institution_name  # decoded somehow, never an error


def test_latin1_text_in_a_utf8_report_imports(corpus, sessions):
    """Some systems label a report UTF-8 but write a name in latin-1 (OpenREM #476)."""

    def write(ds):  # type: ignore[no-untyped-def]
        ds.SpecificCharacterSet = "ISO_IR 192"
        ds[0x00080080] = DataElement(0x00080080, "LO", "Hôpital".encode("latin-1"))
        ds[0x00081010] = DataElement(0x00081010, "SH", "Salle Ü".encode())

    outcome, equipment = ingest_with(corpus, sessions, write)
    assert outcome.outcome == "imported", outcome.reason
    assert equipment.institution_name.startswith("H") and equipment.institution_name.endswith("pital")
    assert equipment.station_name == "Salle Ü"


def test_private_and_unknown_tags_never_fail_an_import(corpus, sessions):
    def write(ds):  # type: ignore[no-untyped-def]
        block = ds.private_block(0x0029, "ORTHANC-REM TEST", create=True)
        block.add_new(0x01, "LO", "private text")
        block.add_new(0x02, "UN", b"\x00\x01\x02\x03")
        ds[0x00189559] = DataElement(0x00189559, "UN", b"unknown to old dictionaries")
        ds[0x7FF10010] = DataElement(0x7FF10010, "UN", b"\xff" * 10)

    outcome, _equipment = ingest_with(corpus, sessions, write)
    assert outcome.outcome == "imported", outcome.reason
