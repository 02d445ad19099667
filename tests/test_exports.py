"""Exports in OpenREM's layout, opened as a user's spreadsheet or script would open them.

Every expected value is read from the corpus object with pydicom (``export_facts``/``sr_facts``),
or is OpenREM 0.8.1's header text (feature inventory part 2 §5.4), never copied from our output.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections import Counter
from pathlib import Path
from typing import Any

import openpyxl
import pydicom
import pytest
from sqlalchemy import delete, select

import export_facts as facts
import sr_facts
from orthanc_rem import import_settings, model
from orthanc_rem.exports import runner
from orthanc_rem.exports.columns import PatientData
from orthanc_rem.exports.runner import ExportFormat, ExportRequest, NoStudies, run_export
from orthanc_rem.exports.selection import selected_studies
from orthanc_rem.exports.xlsx_file import sheet_name
from orthanc_rem.ingest import ingest_object

CT_FILE = "CT-RDSR-Siemens_Flash-TAP-SS.dcm"
GE_VCT = "CT-ESR-GE_VCT.dcm"
FLUORO_FILES = ("RF-RDSR-Siemens-Zee.dcm", "RF-RDSR-Philips_Allura.dcm", "RF-RDSR-GE.dcm")
#: Two screening images (two patients), and a GE Senographe image whose protocol is "STEREO".
MG_IMAGES = ("MG-Im-GE-SenDS-scaled.dcm", "MG-Im-Hologic-PropProj.dcm")
MG_STEREO = "MG-Im-GE_Seno_1_ForProcessing.dcm"
MG_RDSR = "MG-RDSR-Hologic_2D.dcm"


def ingest(sessions: Any, corpus: Any, *names: str) -> None:
    for name in names:
        outcome = ingest_object(sessions, corpus(name), source=f"file:{name}")
        assert outcome.extracted, outcome


def export(
    sessions: Any, modality: str, export_format: str, tmp_path: Path, patient: PatientData | None = None, **filters: str
) -> Path:
    suffix = "xlsx" if export_format == "xlsx" else "csv"
    output = tmp_path / f"{modality}-{export_format}-{len(list(tmp_path.iterdir()))}.{suffix}"
    request = ExportRequest(modality, ExportFormat(export_format), patient or PatientData())
    run_export(sessions, request, selected_studies(modality, filters), output)
    return output


# --- CT ------------------------------------------------------------------------------------------------


def test_ct_xlsx_has_openrem_sheets_columns_and_values(sessions, corpus, tmp_path):
    ingest(sessions, corpus, CT_FILE, GE_VCT)
    path = export(sessions, "CT", "xlsx", tmp_path)
    workbook = openpyxl.load_workbook(path)
    ds = sr_facts.read(corpus(CT_FILE))
    events = facts.ct_events(ds)
    most = max(len(events), len(facts.ct_events(sr_facts.read(corpus(GE_VCT)))))

    sheet = workbook["All data"]
    rows = list(sheet.iter_rows())
    header = [c.value for c in rows[0]]
    block = ["Protocol", "Type", "Exposure time", "Scanning length", "Slice thickness", "Total collimation",
             "Pitch", "No. sources", "CTDIvol", "Phantom", "DLP", "S1 name", "S1 kVp", "S1 max mA", "S1 mA",
             "S1 Exposure time/rotation", "S2 name", "S2 kVp", "S2 max mA", "S2 mA", "S2 Exposure time/rotation",
             "mA Modulation type", "Dose check details", "Comments"]  # fmt: skip
    assert header == [*facts.COMMON, "DLP total (mGy.cm)", *(f"E{n} {h}" for n in range(1, most + 1) for h in block)]
    assert sheet.auto_filter.ref == f"A1:{openpyxl.utils.get_column_letter(len(header))}3"

    study_row = next(r for r in rows[1:] if r[header.index("Accession number")].value == str(ds.AccessionNumber))
    cells = dict(zip(header, study_row, strict=False))
    assert cells["Accession number"].data_type == "s"  # text: leading zeros kept
    assert cells["Study date"].value == dt.datetime.strptime(ds.StudyDate, "%Y%m%d")
    assert cells["Study date"].number_format == "dd/mm/yyyy"
    assert cells["Study description"].value == ds.StudyDescription
    assert cells["No. events"].value == len(events)
    assert cells["DLP total (mGy.cm)"].value == pytest.approx(sr_facts.total_dlp(ds))
    assert cells["DLP total (mGy.cm)"].data_type == "n"
    for n, event in enumerate(events, start=1):
        assert cells[f"E{n} Protocol"].value == event["protocol"]
        assert cells[f"E{n} CTDIvol"].value == pytest.approx(event["ctdivol"])
        assert cells[f"E{n} DLP"].value == pytest.approx(event["dlp"])

    # One sheet per protocol, one row per event; sheets after Summary and All data, alphabetical.
    protocols = Counter(e["protocol"] for e in events)
    names = workbook.sheetnames
    assert names[:2] == ["Summary", "All data"]
    assert names[2:] == sorted(names[2:], key=str.casefold)
    for protocol, count in protocols.items():
        protocol_rows = list(workbook[sheet_name(protocol)].iter_rows(values_only=True))
        protocol_header = protocol_rows[0]
        assert list(protocol_header) == [*facts.COMMON, "DLP total (mGy.cm)", *block]
        mine = [r for r in protocol_rows[1:] if r[protocol_header.index("Accession number")] == str(ds.AccessionNumber)]
        assert len(mine) == count
        assert sorted(r[protocol_header.index("DLP")] for r in mine) == pytest.approx(
            sorted(e["dlp"] for e in events if e["protocol"] == protocol)
        )

    summary = list(workbook["Summary"].iter_rows(values_only=True))
    assert summary[0][0].startswith("XLSX Export from orthanc-rem version")
    assert ("Total number of exams", 2) == summary[3][:2]
    assert summary[5][:8] == ("Study Description", "Frequency", None, "Requested Procedure", "Frequency", None,
                              "Series Protocol", "Frequency")  # fmt: skip
    frequencies = {row[0]: row[1] for row in summary[6:] if row[0] is not None}
    assert frequencies[ds.StudyDescription] == 1


def test_ct_csv_is_one_study_per_row_with_events_to_the_right(sessions, corpus, tmp_path):
    ingest(sessions, corpus, CT_FILE)
    path = export(sessions, "CT", "csv", tmp_path)
    ds = sr_facts.read(corpus(CT_FILE))
    events = facts.ct_events(ds)
    header, row = facts.csv_rows(path)
    cells = facts.as_dict(header, row)
    assert header[: len(facts.COMMON) + 1] == [*facts.COMMON, "DLP total (mGy.cm)"]
    assert cells["Accession number"] == str(ds.AccessionNumber)
    assert cells["Study date"] == dt.datetime.strptime(ds.StudyDate, "%Y%m%d").date().isoformat()
    assert float(cells["DLP total (mGy.cm)"]) == pytest.approx(sr_facts.total_dlp(ds))
    for n, event in enumerate(events, start=1):
        assert cells[f"E{n} Protocol"] == (event["protocol"] or "").replace(",", ";")
        assert float(cells[f"E{n} DLP"]) == pytest.approx(event["dlp"])
    assert not path.read_bytes().startswith(b"\xef\xbb\xbf")


def test_csv_byte_order_mark_for_excel(sessions, corpus, tmp_path):
    ingest(sessions, corpus, CT_FILE)
    output = tmp_path / "bom.csv"
    run_export(
        sessions, ExportRequest("CT", ExportFormat.CSV, byte_order_mark=True), selected_studies("CT", {}), output
    )
    assert output.read_bytes().startswith(b"\xef\xbb\xbf")
    header, _ = facts.csv_rows(output, encoding="utf-8-sig")
    assert header[0] == "Institution"


def test_export_takes_the_list_filters(sessions, corpus, tmp_path):
    ingest(sessions, corpus, CT_FILE, GE_VCT)
    ds = sr_facts.read(corpus(GE_VCT))
    day = dt.datetime.strptime(ds.StudyDate, "%Y%m%d").date().isoformat()
    path = export(sessions, "CT", "csv", tmp_path, date_from=day, date_until=day)
    header, *rows = facts.csv_rows(path)
    assert [facts.as_dict(header, r)["Accession number"] for r in rows] == [str(ds.AccessionNumber)]


def test_zero_studies_in_the_filter_is_a_clear_error(sessions, corpus, tmp_path):
    ingest(sessions, corpus, CT_FILE)
    with pytest.raises(NoStudies, match="zero studies in the filter"):
        export(sessions, "CT", "xlsx", tmp_path, date_from="2999-01-01")
    assert not any(tmp_path.iterdir())


def test_a_study_deleted_during_the_export_is_reported_and_the_export_goes_on(sessions, corpus, tmp_path, monkeypatch):
    ingest(sessions, corpus, CT_FILE, GE_VCT)
    monkeypatch.setitem(runner.LAYOUTS, "CT", dataclasses.replace(runner.LAYOUTS["CT"], studies_per_batch=1))
    with sessions() as session:
        first, second = session.scalars(select(model.Study.id).order_by(model.Study.id)).all()

    def delete_second(done: int, total: int) -> None:
        if done == 1:
            with sessions.begin() as session:
                session.execute(delete(model.Study).where(model.Study.id == second))

    output = tmp_path / "ct.csv"
    result = run_export(
        sessions, ExportRequest("CT", ExportFormat.CSV), selected_studies("CT", {}), output, delete_second
    )
    assert (result.studies, result.rows, result.missing) == (2, 1, 1)
    rows = facts.csv_rows(output)
    assert rows[-1] == [f"Study {second} was deleted or replaced during the export: not exported"]


def test_abort_removes_the_partial_file(sessions, corpus, tmp_path):
    ingest(sessions, corpus, CT_FILE)
    output = tmp_path / "aborted.xlsx"
    with pytest.raises(runner.ExportAborted):
        run_export(sessions, ExportRequest("CT", ExportFormat.XLSX), selected_studies("CT", {}), output,
                   should_abort=lambda: True)  # fmt: skip
    assert not output.exists()


# --- fluoroscopy -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FLUORO_FILES)
def test_fluoroscopy_all_data_groups_exposures_by_the_manual_rule(sessions, corpus, tmp_path, name):
    ingest(sessions, corpus, name)
    groups = facts.manual_groups(facts.fluoro_exposures(sr_facts.read(corpus(name))))
    path = export(sessions, "RF", "xlsx", tmp_path)
    header, row = facts.xlsx_rows(path, "All data")
    cells = facts.as_dict(header, row)
    assert f"G{len(groups)} Type" in header and f"G{len(groups) + 1} Type" not in header
    for n, group in enumerate(groups, start=1):
        first_plane, first_protocol, *_ = group[0]["key"]
        assert cells[f"G{n} No. exposures"] == len(group)
        assert cells[f"G{n} Protocol"] == first_protocol
        assert cells[f"G{n} Plane"] == first_plane
        daps = [e["dap"] for e in group if e["dap"] is not None]
        if daps:
            assert cells[f"G{n} DAP (Gy.m^2) min"] == pytest.approx(min(daps))
            assert cells[f"G{n} DAP (Gy.m^2) max"] == pytest.approx(max(daps))
            assert cells[f"G{n} DAP (Gy.m^2) mean"] == pytest.approx(sum(daps) / len(daps))
    # The protocol sheets list every exposure.
    workbook = openpyxl.load_workbook(path)
    exposures = sum(len(g) for g in groups)
    assert sum(workbook[n].max_row - 1 for n in workbook.sheetnames[2:]) == exposures


def test_fluoroscopy_csv_has_study_level_totals_per_plane_only(sessions, corpus, tmp_path):
    ingest(sessions, corpus, "RF-RDSR-Siemens-Zee.dcm")
    header, row = facts.csv_rows(export(sessions, "RF", "csv", tmp_path))
    per_plane = ["DAP total (Gy.m^2)", "Dose RP total (Gy)", "Fluoro DAP total (Gy.m^2)", "Fluoro dose RP total (Gy)",
                 "Fluoro duration total (s)", "Acq. DAP total (Gy.m^2)", "Acq. dose RP total (Gy)",
                 "Acq. duration total (s)", "Number of events"]  # fmt: skip
    assert header == [*facts.COMMON, *(f"{p} {h}" for p in "AB" for h in per_plane)]
    ds = sr_facts.read(corpus("RF-RDSR-Siemens-Zee.dcm"))
    (accumulation,) = sr_facts.accumulations(ds)
    cells = facts.as_dict(header, row)
    assert float(cells["A DAP total (Gy.m^2)"]) == pytest.approx(facts.number(accumulation, "113722"))
    assert int(cells["A Number of events"]) == len(sr_facts.projection_events(ds))


# --- mammography ---------------------------------------------------------------------------------------


NCCPM = {"cranio-caudal": "CC", "medio-lateral oblique": "OB", "medio-lateral": "ML", "latero-medial": "LM"}


def test_nhsbsp_view_codes_and_values_from_mammography_images(sessions, corpus, tmp_path):
    ingest(sessions, corpus, *MG_IMAGES, MG_STEREO)
    header, *rows = facts.csv_rows(export(sessions, "MG", "nhsbsp", tmp_path))
    assert header == ["Survey number", "Patient number", "View code", "kV", "Anode", "Filter", "Thickness", "mAs",
                      "large cassette used", "auto/man", "Auto mode", "Density setting", "Age", "Comment",
                      "AEC density mode"]  # fmt: skip
    assert str(sr_facts.read(corpus(MG_STEREO)).ProtocolName).lower() == "stereo"  # excluded by its protocol
    images = [sr_facts.read(corpus(name)) for name in MG_IMAGES]
    assert len(rows) == len(images)
    by_kv = {float(facts.as_dict(header, row)["kV"]): facts.as_dict(header, row) for row in rows}
    for ds in images:
        cells = by_kv[float(ds.KVP)]
        side = str(ds.get("ImageLaterality") or ds.get("Laterality"))
        assert cells["Survey number"] == "1"
        assert cells["View code"] == side + NCCPM[str(ds.ViewCodeSequence[0].CodeMeaning).lower()]
        assert float(cells["mAs"]) == pytest.approx(float(ds.ExposureInuAs) / 1000)
        assert float(cells["Thickness"]) == pytest.approx(float(ds.BodyPartThickness))
    assert sorted(cells["Patient number"] for cells in by_kv.values()) == ["1", "2"]


def _laterality(event: Any) -> str | None:
    """Laterality (SCT 272741003, SRT G-C171 before) modifies Target Region (123014); Hologic puts
    it under the older Anatomical Structure (T-D0005) row."""
    for parent in (sr_facts.child(event, "123014"), sr_facts.child(event, "T-D0005"), event):
        if parent is None:
            continue
        meaning = facts.code_meaning(parent, "272741003") or facts.code_meaning(parent, "G-C171")
        if meaning:
            return {"left": "L", "right": "R"}.get(meaning.lower())
    return None


def test_nhsbsp_repeats_are_numbered_per_patient_and_excluded_protocols_left_out(sessions, corpus, tmp_path):
    ingest(sessions, corpus, MG_RDSR)
    ds = sr_facts.read(corpus(MG_RDSR))
    header, *rows = facts.csv_rows(export(sessions, "MG", "nhsbsp", tmp_path))
    expected: list[str] = []
    seen: Counter[str] = Counter()
    for event in sr_facts.projection_events(ds):
        protocol = (facts.text_value(event, facts.ACQUISITION_PROTOCOL) or "").lower()
        if any(word in protocol for word in ("scout", "specimen", "biopsy", "stereo", "artefact")):
            continue
        view = NCCPM.get((facts.code_meaning(event, "111031") or "").lower())
        side = _laterality(event)
        if view is None or side is None:
            continue
        seen[side + view] += 1
        expected.append(side + view + (str(seen[side + view]) if seen[side + view] > 1 else ""))
    assert [facts.as_dict(header, r)["View code"] for r in rows] == expected


def test_mammography_xlsx_per_exposure_columns(sessions, corpus, tmp_path):
    ingest(sessions, corpus, MG_RDSR)
    ds = sr_facts.read(corpus(MG_RDSR))
    header, row = facts.xlsx_rows(export(sessions, "MG", "xlsx", tmp_path), "All data")
    common = [h for h in facts.COMMON if h not in ("Height", "Mass (kg)")]
    assert list(header[: len(common) + 3]) == [*common, "E1 View", "E1 Laterality", "E1 Acquisition"]
    events = sr_facts.projection_events(ds)
    cells = facts.as_dict(header, row)
    assert cells["No. events"] == len(events)
    for n, event in enumerate(events, start=1):
        assert cells[f"E{n} AGD"] == pytest.approx(facts.number(event, "111631"))
        assert cells[f"E{n} View"] == facts.code_meaning(event, "111031")
        # From an RDSR, OpenREM's column holds the irradiation event's Comment (TID 10003, 121106).
        assert cells[f"E{n} Exposure mode description"] == facts.text_value(event, "121106")


@pytest.mark.parametrize("export_format", ["xlsx", "csv"])
def test_mammography_exposure_mode_description_from_the_image_header(sessions, corpus, tmp_path, export_format):
    name = MG_IMAGES[0]  # GE Senographe DS: AOP mode, pre-exposure dose, thickness and kV
    ingest(sessions, corpus, name)
    ds = pydicom.dcmread(corpus(name), stop_before_pixels=True)
    assert ds.ExposureControlModeDescription
    path = export(sessions, "MG", export_format, tmp_path)
    header, row = facts.xlsx_rows(path, "All data") if export_format == "xlsx" else facts.csv_rows(path)
    cells = facts.as_dict(header, row)
    assert cells["E1 Exposure mode description"] == ds.ExposureControlModeDescription.replace(",", ";")
    assert cells["E1 Mode"] == ds.ExposureControlMode


# --- patient identifiable variants ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("patient", "added"),
    [
        (PatientData(names=True), ["Patient name"]),
        (PatientData(ids=True), ["Patient ID"]),
        (PatientData(names=True, ids=True), ["Patient name", "Patient ID"]),
    ],
)
def test_patient_identifiable_variants(sessions, corpus, tmp_path, patient, added):
    with sessions.begin() as session:
        import_settings.change(
            session, store_patient_name=True, hash_patient_name=False, store_patient_id=True, hash_patient_id=True,
            store_birth_date=True,
        )  # fmt: skip
    ingest(sessions, corpus, CT_FILE)
    ds = sr_facts.read(corpus(CT_FILE))
    header, row = facts.xlsx_rows(export(sessions, "CT", "xlsx", tmp_path, patient), "All data")
    assert list(header[: len(added)]) == added
    assert header.index("Date of birth") == header.index("Study time") + 1
    cells = facts.as_dict(header, row)
    if patient.names:
        assert cells["Patient name"] == str(ds.PatientName)
    if patient.ids:  # hashed as the settings asked: exported as stored
        assert cells["Patient ID"] == hashlib.sha256(str(ds.PatientID).encode()).hexdigest()
    if ds.get("PatientBirthDate"):
        assert cells["Date of birth"] == dt.datetime.strptime(ds.PatientBirthDate, "%Y%m%d")
