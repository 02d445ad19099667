"""Legacy Toshiba CT: PixelMed reads a dose screen (drawn from its own glyphs) into an RDSR that the
image headers enrich (issue 13).

Every expected value is what the test put on the screen or into the image headers
(``toshiba_screens``), or what the corpus RDSR PixelMed made for such a scanner holds.
"""

from __future__ import annotations

import pydicom
import pytest

import toshiba_screens as ts
from orthanc_rem.extraction.dispatch import extract
from orthanc_rem.toshiba_ct import enrichment, pixelmed, systems
from orthanc_rem.toshiba_ct.study_task import ToshibaCtConfig, report_from_files
from orthanc_rem.worker_access import worker_may

pytestmark = pytest.mark.skipif(
    not ts.PIXELMED_JAR.is_file(), reason="PixelMed missing: scripts/bootstrap installs libpixelmed-java"
)

SCANS = [
    ts.ScreenScan("SCANOGRAM", scan_type="Scanoscope", total_mas="50", exposure_time_s="2.5"),
    ts.ScreenScan(
        "CHEST",
        ctdivol_mgy="25.4",
        dlp_mgycm="208.5",
        start_position_mm="+100.0",
        end_position_mm="-182.1",
        total_mas="2100",
        exposure_time_s="10.5",
    ),
    ts.ScreenScan(
        "ABDOMEN",
        ctdivol_mgy="24.7",
        dlp_mgycm="141.2",
        start_position_mm="-150.0",
        end_position_mm="-357.2",
        total_mas="1800",
        exposure_time_s="8.2",
    ),
]
DLP_TOTAL = "349.7"
SERIES = [
    ts.ImageSeries(2, "CHEST ROUTINE", "101600", 120, [200, 250], 500, 0.828, 0.5, 32.0, "XY", 25.43, 208.52),
    ts.ImageSeries(3, "ABDOMEN VENOUS", "101800", 100, [150], 600, 1.4, 1.0, 16.0, "Z", 24.7),
]


def study_objects(study: ts.ToshibaStudy, scans=SCANS, series=SERIES, lines=None):  # type: ignore[no-untyped-def]
    screen = ts.dose_screen(study, scans, DLP_TOTAL, lines)
    images = [image for s in series for image in ts.ct_images(study, s)]
    return screen, images


@pytest.fixture(scope="module")
def generated():  # type: ignore[no-untyped-def]
    study = ts.ToshibaStudy()
    screen, images = study_objects(study)
    report, result = report_from_files([screen], [images[0], images[2]], ToshibaCtConfig())
    return study, report, result


def test_ocr_reads_dose_and_scan_range_from_the_screen(generated) -> None:  # type: ignore[no-untyped-def]
    _study, report, _result = generated
    _route, extracted = extract(report)
    events = extracted.dose.events
    assert len(events) == len(SCANS)
    assert events[0].mean_ctdivol_mgy is None  # the scanogram: exposure only
    for event, scan in zip(events[1:], SCANS[1:], strict=True):
        assert event.mean_ctdivol_mgy == pytest.approx(float(scan.ctdivol_mgy))
        assert event.dlp_mgycm == pytest.approx(float(scan.dlp_mgycm))
        length = abs(float(scan.start_position_mm) - float(scan.end_position_mm))
        assert event.scanning_length.scanning_length_mm == pytest.approx(length)
        assert event.ctdiw_phantom_type.value == "113691"  # "(Body)" on the screen: IEC body phantom
    assert extracted.dose.accumulated.dlp_total_mgycm == pytest.approx(float(DLP_TOTAL))
    assert extracted.dose.accumulated.total_number_of_irradiation_events == len(SCANS)


def test_image_headers_enrich_the_matching_scan(generated) -> None:  # type: ignore[no-untyped-def]
    study, report, result = generated
    assert sorted(result.matched) == [2, 3] and result.unmatched == []
    _route, extracted = extract(report)
    for event, series in zip(extracted.dose.events[1:], SERIES, strict=True):
        assert event.acquisition_protocol == series.protocol_name
        assert event.xray_modulation_type == series.exposure_modulation_type
        assert event.pitch_factor == pytest.approx(series.spiral_pitch_factor)
        assert event.nominal_single_collimation_width_mm == pytest.approx(series.single_collimation_mm)
        assert event.nominal_total_collimation_width_mm == pytest.approx(series.total_collimation_mm)
        (source,) = event.sources
        assert source.kvp_kv == pytest.approx(series.kvp)
        assert source.xray_tube_current_ma == pytest.approx(series.tube_current_ma[0])  # the image read
        assert source.exposure_time_per_rotation_s == pytest.approx(series.exposure_time_ms / 1000)
    assert extracted.study.study_description == study.study_description
    assert extracted.study.requested_procedure_description == study.requested_procedure_description
    assert extracted.equipment.software_versions == study.software_versions
    assert extracted.equipment.device_serial_number == study.device_serial_number
    assert extracted.equipment.manufacturer == study.manufacturer
    assert extracted.warnings == ()


def _tree(items, path=()):  # type: ignore[no-untyped-def]
    """(concept path, value type, relationship) of every content item."""
    rows = set()
    for item in items or ():
        name = item.ConceptNameCodeSequence[0]
        here = (*path, f"{name.CodeValue}/{name.CodingSchemeDesignator}")
        rows.add((here, item.ValueType, item.RelationshipType))
        rows |= _tree(item.get("ContentSequence"), here)
    return rows


def test_generated_report_has_the_structure_of_the_pixelmed_corpus_report(generated, corpus) -> None:  # type: ignore[no-untyped-def]
    _study, report, _result = generated
    reference = pydicom.dcmread(corpus("CT-RDSR-ToshibaPixelMed.dcm"))
    for keyword in (
        "SOPClassUID",
        "Modality",
        "SeriesNumber",
        "SeriesDescription",
        "CompletionFlag",
        "VerificationFlag",
    ):
        assert report.get(keyword) == reference.get(keyword), keyword
    assert (
        report.ContentTemplateSequence[0].TemplateIdentifier == reference.ContentTemplateSequence[0].TemplateIdentifier
    )
    assert report.ConceptNameCodeSequence[0].CodeValue == reference.ConceptNameCodeSequence[0].CodeValue
    assert (
        report.ContributingEquipmentSequence[0].Manufacturer == reference.ContributingEquipmentSequence[0].Manufacturer
    )
    missing = _tree(reference.ContentSequence) - _tree(report.ContentSequence)
    # The corpus report's Device Observer UID etc. are values, not structure: only paths are compared.
    assert missing == set()
    # The root lists the same items in the same order (PixelMed puts Scope of Accumulation late).
    names = [i.ConceptNameCodeSequence[0].CodeValue for i in report.ContentSequence]
    assert names == [i.ConceptNameCodeSequence[0].CodeValue for i in reference.ContentSequence]


def test_report_is_marked_as_ours_and_a_scanner_report_is_not(generated, corpus) -> None:  # type: ignore[no-untyped-def]
    _study, report, _result = generated
    assert enrichment.is_ours(report)
    assert report.ContributingEquipmentSequence[-1].Manufacturer == enrichment.CONTRIBUTOR
    assert not enrichment.is_ours(pydicom.dcmread(corpus("CT-RDSR-ToshibaPixelMed.dcm")))


def test_unreadable_screen_gives_no_report() -> None:
    study = ts.ToshibaStudy()
    screen, images = study_objects(study, lines=[("Exam no:", "1"), ("Patient ID:", "42"), ("Helical",)])
    with pytest.raises(pixelmed.ScreenNotRead, match="no CT dose"):
        report_from_files([screen], images[:1], ToshibaCtConfig())


def test_scan_without_matching_series_is_refused() -> None:
    study = ts.ToshibaStudy()
    other = [ts.ImageSeries(5, "HEAD", "101600", 120, [100], 500, 1.0, 0.5, 16.0, "Z", 60.0, 900.0)]
    screen, images = study_objects(study, series=other)
    with pytest.raises(ValueError, match="no image series matches"):
        report_from_files([screen], images, ToshibaCtConfig())


def test_configured_systems() -> None:
    pairs = systems.parse_systems(None)
    assert systems.is_configured(pairs, "TOSHIBA", "Aquilion ONE")
    assert systems.is_configured(pairs, "GE MEDICAL SYSTEMS", "Discovery STE")
    assert not systems.is_configured(pairs, "GE MEDICAL SYSTEMS", "LightSpeed VCT")
    assert not systems.is_configured(pairs, "SIEMENS", "Aquilion")
    assert systems.parse_systems('[["Philips", "Brilliance"]]') == (("Philips", "Brilliance"),)
    with pytest.raises(ValueError):
        systems.parse_systems('["Toshiba"]')


@pytest.mark.parametrize(
    ("method", "uri", "allowed"),
    [
        ("GET", "/studies/6b9e19d9-62094390-5f9ddb01-4a191ae7-9766b715", True),
        ("GET", "/series/0b9e19d9-62094390-5f9ddb01-4a191ae7-9766b715", True),
        ("POST", "/instances", True),
        ("DELETE", "/studies/6b9e19d9-62094390-5f9ddb01-4a191ae7-9766b715", False),
        ("POST", "/studies/6b9e19d9-62094390-5f9ddb01-4a191ae7-9766b715/modify", False),
        ("GET", "/studies", False),
        ("POST", "/instances/6b9e19d9-62094390-5f9ddb01-4a191ae7-9766b715/modify", False),
    ],
)
def test_worker_account_may_read_a_study_and_store_an_instance_only(method: str, uri: str, allowed: bool) -> None:
    assert worker_may(method, uri) is allowed


def _scanner_rdsr_for(study_uid: str, corpus, folder):  # type: ignore[no-untyped-def]
    """The corpus' Toshiba scanner RDSR, moved into the study PixelMed's report belongs to."""
    scanner = pydicom.dcmread(corpus("CT-RDSR-Toshiba_DoseCheck.dcm"))
    assert "113868" not in {
        i.ConceptCodeSequence[0].CodeValue for i in scanner.ContentSequence if i.ValueType == "CODE"
    }
    scanner.StudyInstanceUID = study_uid
    path = folder / "scanner.dcm"
    scanner.save_as(path)
    return path, scanner


@pytest.mark.parametrize("screen_first", [True, False], ids=["screen-then-scanner", "scanner-then-screen"])
def test_a_scanner_rdsr_replaces_the_report_read_off_the_screen(corpus, sessions, tmp_path, screen_first) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from orthanc_rem import model
    from orthanc_rem.ingest import ingest_object

    screen_path = corpus("CT-RDSR-ToshibaPixelMed.dcm")
    screen_report = pydicom.dcmread(screen_path)
    scanner_path, scanner = _scanner_rdsr_for(str(screen_report.StudyInstanceUID), corpus, tmp_path)
    order = [screen_path, scanner_path] if screen_first else [scanner_path, screen_path]
    outcomes = [ingest_object(sessions, path, source=f"file:{path}").outcome for path in order]
    assert outcomes == (["imported", "replaced"] if screen_first else ["imported", "superseded"])
    with sessions() as session:
        (dose,) = session.scalars(select(model.CtRadiationDose)).all()
        assert dose.sop_instance_uid == str(scanner.SOPInstanceUID)


def test_a_second_report_read_off_the_screen_replaces_the_first(corpus, sessions, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Two workers on one study (or a re-run after a fix) leave one screen report, the newer."""
    from sqlalchemy import select

    from orthanc_rem import model
    from orthanc_rem.ingest import ingest_object

    first = corpus("CT-RDSR-ToshibaPixelMed.dcm")
    again = pydicom.dcmread(first)
    again.SOPInstanceUID = pydicom.uid.generate_uid()
    for item in again.ContentSequence:
        for child in item.get("ContentSequence") or ():
            if child.ValueType == "UIDREF" and child.ConceptNameCodeSequence[0].CodeValue == "113769":
                child.UID = pydicom.uid.generate_uid()
    second = tmp_path / "again.dcm"
    again.save_as(second)
    outcomes = [ingest_object(sessions, path, source=f"file:{path}").outcome for path in (first, second)]
    assert outcomes == ["imported", "replaced"]
    with sessions() as session:
        (dose,) = session.scalars(select(model.CtRadiationDose)).all()
        assert dose.sop_instance_uid == str(again.SOPInstanceUID)


def test_catch_up_replays_the_stable_studies_orthanc_reported_meanwhile(sessions) -> None:  # type: ignore[no-untyped-def]
    """A STABLE_STUDY delivered while the workers were away (or lost by huey) is replayed from
    Orthanc's change log when Orthanc starts, so a dose screen is still read."""
    from orthanc_rem import recovery

    class ChangeLog:
        def get_json(self, path: str):  # type: ignore[no-untyped-def]
            changes = [
                {"ChangeType": "NewStudy", "ID": "study-a", "Seq": 1},
                {"ChangeType": "StableStudy", "ID": "study-a", "Seq": 2},
                {"ChangeType": "StableSeries", "ID": "series-a", "Seq": 3},
                {"ChangeType": "StableStudy", "ID": "study-a", "Seq": 4},
            ]
            return {"Changes": changes, "Last": 4, "Done": True}

    stable: list[str] = []
    recovery.catch_up(sessions, ChangeLog(), lambda _id: None, stable_study=stable.append)  # type: ignore[arg-type]
    assert stable == ["study-a"]
