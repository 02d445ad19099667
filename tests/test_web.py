"""The dose browser pages and the JSON API, on studies stored through ``persistence.store_ct_report``.

The reports are built here, so the values asserted are the test's own inputs; what is tested is
ordering, paging, filtering, totals, rendering and the shape of the JSON.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session, sessionmaker

from orthanc_rem import model, persistence
from orthanc_rem.config import Settings
from orthanc_rem.extraction import records
from orthanc_rem.study_document import study_document
from web_clients import dose_browser_client

BASE_URL = "http://orthanc.test/rem/"
RDSR = "1.2.840.10008.5.1.4.1.1.88.67"
SPIRAL = records.Code("P5-08001", "SRT", "Spiral Acquisition")
TOPOGRAM = records.Code("113805", "DCM", "Constant Angle Acquisition")
CT_HEAD = records.Code("RPID8", "RADLEX", "CT HEAD WO IV CONTRAST")


# --- building reports ---------------------------------------------------------------------------------


def source(kvp: float, ma: float, max_ma: float, rotation_s: float, name: str = "A") -> records.CtXRaySource:
    return records.CtXRaySource(
        identification=name,
        kvp_kv=kvp,
        xray_tube_current_ma=ma,
        maximum_xray_tube_current_ma=max_ma,
        exposure_time_per_rotation_s=rotation_s,
    )


def event(
    uid: str, protocol: str, ctdivol: float | None, dlp: float | None, **fields: Any
) -> records.CtIrradiationEvent:
    fields.setdefault("sources", (source(120, 100, 200, 0.5),))
    fields.setdefault("ct_acquisition_type", SPIRAL)
    return records.CtIrradiationEvent(
        irradiation_event_uid=uid,
        acquisition_protocol=protocol,
        mean_ctdivol_mgy=ctdivol,
        dlp_mgycm=dlp,
        **fields,
    )


def ct_report(
    number: int,
    *,
    study_date: dt.date | None = dt.date(2024, 3, 1),
    study_time: dt.time | None = dt.time(10, 0),
    events: tuple[records.CtIrradiationEvent, ...] | None = None,
    dlp_total: float | None = None,
    study_uid: str | None = None,
    sop_uid: str | None = None,
    institution: str = "Hospital A",
    description: str | None = None,
    patient: records.Patient | None = None,
    **study_fields: Any,
) -> records.CtDoseReport:
    if events is None:
        events = (event(f"1.2.3.{number}.1", "Head", 50.0, 800.0),)
    return records.CtDoseReport(
        sop_instance_uid=sop_uid or f"1.2.3.{number}.99",
        sop_class_uid=RDSR,
        study=records.Study(
            study_instance_uid=study_uid or f"1.2.3.{number}",
            study_date=study_date,
            study_time=study_time,
            accession_number=f"ACC{number:04d}",
            study_description=description or f"Study {number}",
            **study_fields,
        ),
        patient=patient or records.Patient(sex="F", age_years=40.0),
        equipment=records.Equipment(
            manufacturer="SIEMENS",
            institution_name=institution,
            station_name="CT1",
            manufacturer_model_name="SOMATOM Definition Flash",
        ),
        dose=records.CtRadiationDose(
            accumulated=records.CtAccumulatedDose(
                total_number_of_irradiation_events=len(events), dlp_total_mgycm=dlp_total
            ),
            events=events,
        ),
    )


# --- fixtures -----------------------------------------------------------------------------------------



@pytest.fixture
def client(tmp_path: Path, database_url: str, sessions: sessionmaker[Session]):  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path, database_url=database_url, queue_url="memory://", page_size=25)
    return dose_browser_client(settings, sessions)


def get(client, path: str, **kwargs):  # type: ignore[no-untyped-def]
    """A request as Orthanc's bridge makes it: the application mounted at /rem."""
    return client.get(path, base_url=BASE_URL, **kwargs)


def page(client, path: str) -> str:  # type: ignore[no-untyped-def]
    response = get(client, path)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def api(client, path: str, status: int = 200):  # type: ignore[no-untyped-def]
    response = get(client, path)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    return response.get_json()


def descriptions_in_order(text: str) -> list[str]:
    return re.findall(r'<a href="/rem/ct/\d+">([^<]*)</a>', text)


# --- study list ---------------------------------------------------------------------------------------


def test_ct_list_is_newest_first(client, store):  # type: ignore[no-untyped-def]
    store(ct_report(1, study_date=dt.date(2024, 1, 5), study_time=dt.time(9, 0), description="Oldest"))
    store(ct_report(2, study_date=dt.date(2024, 2, 1), study_time=dt.time(8, 30), description="Morning"))
    store(ct_report(3, study_date=dt.date(2024, 2, 1), study_time=dt.time(17, 45), description="Evening"))
    store(ct_report(4, study_date=None, study_time=None, description="Undated"))

    text = page(client, "/ct/")
    assert descriptions_in_order(text) == ["Evening", "Morning", "Oldest", "Undated"]
    assert "There are 4 studies in this list." in text
    assert "2024-02-01 17:45" in text
    listing = api(client, "/api/studies?modality=CT")
    assert [s["study_description"] for s in listing["studies"]] == ["Evening", "Morning", "Oldest", "Undated"]


def test_ct_list_row_shows_the_manual_columns(client, store):  # type: ignore[no-untyped-def]
    store(
        ct_report(
            7,
            requested_procedure_description="CT head without contrast",
            procedure_code=CT_HEAD,
            dlp_total=812.346,
        )
    )
    text = page(client, "/ct/")
    for expected in (
        "Hospital A",
        "SIEMENS",
        "SOMATOM Definition Flash",
        "Hospital A CT1",  # display name: institution and station name
        "2024-03-01 10:00",
        "Study 7",
        "CT HEAD WO IV CONTRAST",
        "CT head without contrast",
        "ACC0007",
        "812.35",
    ):
        assert expected in text
    assert 'href="/rem/ct/1"' in text


def test_pagination_pages_through_the_list(client, store):  # type: ignore[no-untyped-def]
    for n in range(1, 31):
        store(ct_report(n, study_date=dt.date(2024, 1, 1) + dt.timedelta(days=n)))

    first = api(client, "/api/studies?per_page=10")
    second = api(client, "/api/studies?per_page=10&page=2")
    third = api(client, "/api/studies?per_page=10&page=3")
    beyond = api(client, "/api/studies?per_page=10&page=4")
    assert (first["total"], first["page"], first["per_page"]) == (30, 1, 10)
    assert [s["accession_number"] for s in first["studies"]] == [f"ACC{n:04d}" for n in range(30, 20, -1)]
    assert [s["accession_number"] for s in second["studies"]] == [f"ACC{n:04d}" for n in range(20, 10, -1)]
    assert len(third["studies"]) == 10
    assert beyond["studies"] == [] and beyond["total"] == 30

    text = page(client, "/ct/?per_page=10&page=2")
    assert "There are 30 studies in this list." in text
    assert descriptions_in_order(text) == [f"Study {n}" for n in range(20, 10, -1)]
    links = {html.unescape(href) for href in re.findall(r'href="(/rem/ct/\?[^"]*)"', text)}
    assert "/rem/ct/?per_page=10&page=3" in links
    assert "/rem/ct/?per_page=10&page=1" in links
    assert '<option value="10" selected>' in text


def test_default_page_size_comes_from_the_settings(tmp_path, database_url, sessions, store):  # type: ignore[no-untyped-def]
    for n in range(1, 13):
        store(ct_report(n))
    settings = Settings(data_dir=tmp_path, database_url=database_url, queue_url="memory://", page_size=10)
    client = dose_browser_client(settings, sessions)
    assert len(descriptions_in_order(page(client, "/ct/"))) == 10
    assert api(client, "/api/studies")["per_page"] == 10


def test_date_filter_is_inclusive(client, store):  # type: ignore[no-untyped-def]
    for n, day in enumerate((1, 10, 20, 31), start=1):
        store(ct_report(n, study_date=dt.date(2024, 1, day)))

    listing = api(client, "/api/studies?date_from=2024-01-10&date_until=2024-01-20")
    assert listing["total"] == 2
    assert [s["study_date"] for s in listing["studies"]] == ["2024-01-20", "2024-01-10"]
    assert api(client, "/api/studies?date_from=2024-01-20")["total"] == 2
    assert api(client, "/api/studies?date_until=2024-01-09")["total"] == 1

    text = page(client, "/ct/?date_from=2024-01-10&date_until=2024-01-20")
    assert "There are 2 studies in this list." in text
    assert 'value="2024-01-10"' in text


def test_modality_filter(client, store):  # type: ignore[no-untyped-def]
    store(ct_report(1))
    assert api(client, "/api/studies?modality=CT")["total"] == 1
    assert api(client, "/api/studies?modality=ct")["total"] == 1
    assert api(client, "/api/studies?modality=MG")["total"] == 0


def test_total_dlp_sums_dose_reports_and_falls_back_to_events(client, store):  # type: ignore[no-untyped-def]
    """A continued study: the first report gives its total, the second (an ESR-like one) does not."""
    study_id = store(
        ct_report(1, events=(event("1.2.3.1.1", "Head", 50.0, 100.5),), dlp_total=100.5, sop_uid="1.2.3.1.91")
    )
    same = store(
        ct_report(
            1,
            events=(event("1.2.3.1.2", "Neck", 10.0, 20.25), event("1.2.3.1.3", "Neck", 12.0, 30.25)),
            dlp_total=None,
            sop_uid="1.2.3.1.92",
        )
    )
    assert same == study_id
    (row,) = api(client, "/api/studies")["studies"]
    assert row["number_of_events"] == 3
    assert row["total_dlp"] == {"value": pytest.approx(151.0), "unit": "mGy.cm"}

    listing = page(client, "/ct/")
    assert "151.00" in listing
    detail = page(client, f"/ct/{study_id}")
    assert "(dose report 2 of 2)" in detail
    assert "50.50" in detail and "(sum of the events; the report gives no total)" in detail


def test_study_without_any_dlp_has_a_null_total(client, store):  # type: ignore[no-untyped-def]
    store(ct_report(1, events=(event("1.2.3.1.1", "Scout", None, None),)))
    (row,) = api(client, "/api/studies")["studies"]
    assert row["total_dlp"] == {"value": None, "unit": "mGy.cm"}
    assert row["number_of_events"] == 1


# --- study detail -------------------------------------------------------------------------------------


def dual_source_study() -> records.CtDoseReport:
    check = records.CtDoseCheck(
        dlp_alert_value_configured=True,
        ctdivol_alert_value_configured=False,
        dlp_alert_value_mgycm=1000.0,
        accumulated_dlp_forward_estimate_mgycm=1234.5,
        alert_reason_for_proceeding="Obese patient",
        alert_person_name="Doe^Jane",
    )
    return ct_report(
        5,
        description="Dual Energy TAP",
        requested_procedure_description="CT thorax abdomen pelvis",
        patient=records.Patient(sex="M", age_years=52.83, size_m=1.9, weight_kg=86.0),
        events=(
            event(
                "1.2.3.5.1",
                "Topogram",
                0.14,
                11.26,
                ct_acquisition_type=TOPOGRAM,
                comment="Internal technical scan parameters: Organ Characteristic = Thorax",
                exposure_time_s=8.19,
                nominal_total_collimation_width_mm=3.6,
                nominal_single_collimation_width_mm=0.6,
                xray_modulation_type="OFF",
                sources=(source(120, 35, 35, 0.5),),
            ),
            event(
                "1.2.3.5.2",
                "DE_TAP",
                8.114,
                630.626,
                scanning_length=records.ScanningLength(scanning_length_mm=797.0),
                pitch_factor=0.8,
                nominal_total_collimation_width_mm=19.2,
                xray_modulation_type="XYZ_EC",
                number_of_xray_sources=2,
                sources=(source(100, 165, 430, 0.285, "A"), source(140, 131, 307, 0.285, "B")),
                dose_check=check,
            ),
        ),
        dlp_total=641.886,
    )


def table_rows(text: str, css_class: str) -> list[str]:
    return re.findall(rf'<tr class="{css_class}">(.*?)</tr>', text, flags=re.DOTALL)


def cells(row: str) -> list[str]:
    return [
        re.sub(r"<[^>]+>", " ", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.DOTALL)
    ]


def test_detail_header(client, store):  # type: ignore[no-untyped-def]
    study_id = store(dual_source_study())
    text = page(client, f"/ct/{study_id}")
    header = dict(
        zip(
            [html.unescape(t) for t in re.findall(r"<dt>(.*?)</dt>", text)],
            [
                html.unescape(re.sub(r"\s+", " ", d)).strip()
                for d in re.findall(r"<dd>(.*?)</dd>", text, re.DOTALL)
            ],
            strict=False,
        )
    )
    assert header["Accession number"] == "ACC0005"
    assert header["Study date"] == "2024-03-01"
    assert header["Study time"] == "10:00:00"
    assert header["Study description"] == "Dual Energy TAP"
    assert header["Requested procedure"] == "CT thorax abdomen pelvis"
    assert header["Patient age"] == "52.8 years"
    assert header["Patient sex"] == "M"
    assert header["Patient height and weight"] == "190 cm, 86 kg"
    assert header["Hospital"] == "Hospital A"
    assert header["Scanner"] == "SIEMENS | SOMATOM Definition Flash | CT1"
    assert header["Display name"] == "Hospital A CT1"
    assert header["Study UID"] == "1.2.3.5"
    assert header["Number of events"] == "2"
    assert header["Total DLP"] == "641.89 mGy.cm"
    assert "1.2.3.5.99" in text  # the object processed
    assert "X-Ray Radiation Dose SR Storage" in text
    assert 'href="../../app/explorer.html#instance?uuid=o-1.2.3.5.99"' in text


def test_detail_list_of_events(client, store):  # type: ignore[no-untyped-def]
    study_id = store(dual_source_study())
    text = page(client, f"/ct/{study_id}")
    topogram, spiral = (cells(r) for r in table_rows(text, "event"))
    assert topogram == [
        "Topogram",
        "Constant Angle Acquisition",
        "0.14",
        "11.26",
        "",
        "120",
        "35",
        "35",
        "0.5",
        "",
        "8.19",
        "3.6 / 0.6",
        "OFF",
    ]
    assert spiral[0].split() == ["DE_TAP", "X-ray", "source", "A"]
    assert spiral[1:] == [
        "Spiral Acquisition", "8.11", "630.63", "797", "100", "165", "430", "0.285", "0.8", "", "19.2", "XYZ_EC",
    ]  # fmt: skip

    (second_source,) = table_rows(text, "source")
    assert cells(second_source) == ["X-ray source B", "", "140", "131", "307", "0.285", ""]
    (comment,) = table_rows(text, "comment")
    assert cells(comment) == ["Comment", "Internal technical scan parameters: Organ Characteristic = Thorax"]
    (dose_check,) = table_rows(text, "dose-check")
    check_text = " ".join(" ".join(cells(dose_check)).split())
    for expected in (
        "DLP value configured yes",
        "CTDIvol value configured no",
        "1000.00 mGy.cm",
        "Accumulated DLP forward estimate 1234.50 mGy.cm",
    ):
        assert expected in check_text
    assert "Obese patient" in check_text and "Doe^Jane" in check_text
    assert "Notification" not in check_text  # nothing of it was recorded
    # Rows come in order: the topogram, its comment, the spiral, its second tube, its dose check.
    order = [m.group(1) for m in re.finditer(r'<tr class="(event|source|comment|dose-check)">', text)]
    assert order == ["event", "comment", "event", "source", "dose-check"]
    assert "Number of events: 2." in text


def test_unknown_study_is_404(client, store):  # type: ignore[no-untyped-def]
    store(ct_report(1))
    response = get(client, "/ct/999")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "There is no CT study with id 999." in response.get_data(as_text=True)
    assert api(client, "/api/studies/999", status=404) == {
        "error": "There is no study with id 999.",
        "status": 404,
    }
    assert "error" in api(client, "/api/no-such-thing", status=404)
    assert get(client, "/no-such-page").status_code == 404


def test_text_is_escaped(client, store):  # type: ignore[no-untyped-def]
    study_id = store(ct_report(1, description="<script>alert(1)</script> & co"))
    for text in (page(client, "/ct/"), page(client, f"/ct/{study_id}")):
        assert "<script>" not in text
        assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in text


def test_non_ascii_institution(client, store):  # type: ignore[no-untyped-def]
    institution = "Centre médical Genève – Zürich 東京"
    study_id = store(ct_report(1, institution=institution))
    response = get(client, "/ct/")
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert institution in response.get_data(as_text=True)
    assert institution in page(client, f"/ct/{study_id}")
    assert api(client, "/api/studies")["studies"][0]["institution_name"] == institution
    assert api(client, f"/api/studies/{study_id}")["equipment"]["institution_name"] == institution


# --- JSON API -----------------------------------------------------------------------------------------


def test_study_summary_shape(client, store):  # type: ignore[no-untyped-def]
    store(ct_report(3, procedure_code=CT_HEAD, dlp_total=800.0))
    listing = api(client, "/api/studies?modality=CT&page=1&per_page=25")
    assert set(listing) == {"total", "total_exact", "page", "per_page", "has_next", "next", "previous", "studies"}
    (row,) = listing["studies"]
    assert row == {
        "id": row["id"],
        "study_instance_uid": "1.2.3.3",
        "modality": "CT",
        "study_date": "2024-03-01",
        "study_time": "10:00:00",
        "accession_number": "ACC0003",
        "study_description": "Study 3",
        "procedure_code": {"value": "RPID8", "scheme": "RADLEX", "meaning": "CT HEAD WO IV CONTRAST"},
        "requested_procedure_description": None,
        "requested_procedure_code": None,
        "display_name": "Hospital A CT1",
        "institution_name": "Hospital A",
        "manufacturer": "SIEMENS",
        "manufacturer_model_name": "SOMATOM Definition Flash",
        "station_name": "CT1",
        "number_of_events": 1,
        "total_dlp": {"value": 800.0, "unit": "mGy.cm"},
    }


def test_study_document_has_units_codes_and_iso_dates(client, store):  # type: ignore[no-untyped-def]
    study_id = store(dual_source_study())
    document = api(client, f"/api/studies/{study_id}")
    assert document["id"] == study_id
    assert document["study_date"] == "2024-03-01"
    assert document["study_time"] == "10:00:00"
    dt.datetime.fromisoformat(document["imported_at"])
    assert document["procedure_code"] is None
    # 52.83 years stored in whole months (birth dates are not stored): floor(52.83 * 12) = 633 months.
    assert document["patient"]["age_years"] == {"value": 633 / 12, "unit": "a"}
    assert document["patient"]["size_m"] == {"value": 1.9, "unit": "m"}
    assert document["equipment"]["display_name"] == "Hospital A CT1"
    assert [o["sop_instance_uid"] for o in document["objects"]] == ["1.2.3.5.99"]

    (dose,) = document["ct_radiation_doses"]
    assert dose["dlp_total_mgycm"] == {"value": 641.886, "unit": "mGy.cm"}
    assert dose["total_number_of_irradiation_events"] == 2
    assert dose["effective_dose_total_msv"] == {"value": None, "unit": "mSv"}
    topogram, spiral = dose["events"]
    assert topogram["ct_acquisition_type"] == {
        "value": "113805",
        "scheme": "DCM",
        "meaning": "Constant Angle Acquisition",
    }
    assert "ct_acquisition_type_value" not in topogram
    assert topogram["mean_ctdivol_mgy"] == {"value": 0.14, "unit": "mGy"}
    assert topogram["pitch_factor"] == {"value": None, "unit": "{ratio}"}
    assert topogram["dose_check"] is None
    assert spiral["scanning_length_mm"] == {"value": 797.0, "unit": "mm"}
    assert [s["kvp_kv"] for s in spiral["sources"]] == [
        {"value": 100.0, "unit": "kV"},
        {"value": 140.0, "unit": "kV"},
    ]
    assert spiral["dose_check"]["dlp_alert_value_configured"] is True
    assert spiral["dose_check"]["dlp_alert_value_mgycm"] == {"value": 1000.0, "unit": "mGy.cm"}
    for row in (
        document["patient"],
        document["equipment"],
        dose,
        spiral,
        spiral["sources"][0],
        spiral["dose_check"],
    ):
        assert not {"id", "study_fk", "ct_radiation_dose_fk", "event_fk", "equipment_id"} & set(row)


def test_study_document_covers_every_stored_column(sessions, store):  # type: ignore[no-untyped-def]
    """Derived from the mappers: a column added to the model must show up without code changes."""
    store(dual_source_study())
    with sessions() as session:
        document = study_document(session.scalars(select(model.Study)).one())
    dose = document["ct_radiation_doses"][0]
    event_document = dose["events"][1]
    sections = {
        model.Study: document,
        model.Patient: document["patient"],
        model.Equipment: document["equipment"],
        model.ProcessedObject: document["objects"][0],
        model.CtRadiationDose: dose,
        model.CtIrradiationEvent: event_document,
        model.CtXRaySource: event_document["sources"][0],
        model.CtDoseCheck: event_document["dose_check"],
    }
    for entity, section in sections.items():
        for column in inspect(entity).columns:
            if column.foreign_keys or (column.primary_key and entity is not model.Study):
                continue
            name = column.key
            for part in ("_value", "_scheme", "_meaning"):
                if name.endswith(part) and name.removesuffix(part) in section:
                    name = name.removesuffix(part)
            assert name in section, f"{entity.__name__}.{column.key} missing from the document"
            if column.info.get("unit"):
                assert section[name]["unit"] == column.info["unit"]


@pytest.mark.parametrize(
    "query, message",
    [
        ("date_from=2024-13-01", "date_from must be a date written yyyy-mm-dd, not '2024-13-01'."),
        ("date_until=20240101", "date_until must be a date written yyyy-mm-dd, not '20240101'."),
        (
            "date_from=2024-02-01&date_until=2024-01-01",
            "date_from (2024-02-01) is after date_until (2024-01-01).",
        ),
        ("page=0", "page must be a whole number of 1 or more, not '0'."),
        ("page=two", "page must be a whole number of 1 or more, not 'two'."),
        ("per_page=-5", "per_page must be a whole number of 1 or more, not '-5'."),
        ("per_page=1001", "per_page must be between 1 and 1000, not 1001."),
    ],
)
def test_bad_api_parameters_are_400_with_a_message(client, query, message):  # type: ignore[no-untyped-def]
    assert api(client, f"/api/studies?{query}", status=400) == {"error": message, "status": 400}


def test_api_accepts_up_to_1000_per_page(client, store):  # type: ignore[no-untyped-def]
    store(ct_report(1))
    assert api(client, "/api/studies?per_page=1000")["per_page"] == 1000


def test_bad_page_parameters_are_400_pages(client):  # type: ignore[no-untyped-def]
    response = get(client, "/ct/?per_page=7")
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert "per_page must be between 10 and 400, not 7." in response.get_data(as_text=True)
    response = get(client, "/ct/?date_from=yesterday")
    assert response.status_code == 400
    text = html.unescape(response.get_data(as_text=True))
    assert "date_from must be a date written yyyy-mm-dd, not 'yesterday'." in text


# --- home and objects not imported ----------------------------------------------------------------------


def reject(sessions: sessionmaker[Session], number: int, outcome: str = "not_dose_report") -> None:
    with sessions() as session:
        persistence.record_rejection(
            session,
            source=f"orthanc:{number:08x}-instance",
            outcome=outcome,
            reason=f"reason {number}: no dose report <here>",
            orthanc_id=f"{number:08x}-instance",
            sop_instance_uid=f"1.2.9.{number}",
            sop_class_uid="1.2.840.10008.5.1.4.1.1.2",
        )


def test_home_counts_studies_and_rejected_objects(client, store, sessions):  # type: ignore[no-untyped-def]
    store(ct_report(1))
    store(ct_report(2))
    reject(sessions, 1)
    text = page(client, "/")
    assert "There are 2 studies in this database." in text
    assert re.search(r'<a href="/rem/ct/">CT</a></td>\s*<td class="num">2</td>', text)
    assert "1 objects were not imported" in text
    assert 'href="/rem/rejected"' in text


def test_home_of_an_empty_database(client):  # type: ignore[no-untyped-def]
    text = page(client, "/")
    assert "There are 0 studies in this database." in text
    assert "0 objects were not imported" in text
    assert "There are 0 studies in this list." in page(client, "/ct/")


def test_rejected_objects_page_and_api(client, sessions):  # type: ignore[no-untyped-def]
    reject(sessions, 1, "failed")
    reject(sessions, 2)
    text = page(client, "/rejected")
    assert 'href="../app/explorer.html#instance?uuid=00000002-instance"' in text
    assert "CT Image Storage" in text
    assert "reason 2: no dose report &lt;here&gt;" in text
    assert "There are 2 objects in this list." in text

    response = get(client, "/api/rejected")
    assert response.headers["X-Total-Count"] == "2"
    rows = response.get_json()
    assert [r["outcome"] for r in rows] == ["not_dose_report", "failed"]  # most recent attempt first
    assert set(rows[0]) >= {"id", "source", "orthanc_id", "sop_class_uid", "outcome", "reason", "attempts"}
    dt.datetime.fromisoformat(rows[0]["last_attempt_at"])


def test_explorer_link_climbs_out_of_the_prefix(client, store):  # type: ignore[no-untyped-def]
    """From /rem/ct/5 the link must reach /app/explorer.html, whatever Orthanc's own base URL is."""
    from urllib.parse import urljoin

    study_id = store(ct_report(5))
    text = page(client, f"/ct/{study_id}")
    (href,) = re.findall(r'href="([^"]*explorer[^"]*)"', text)
    assert urljoin(f"http://orthanc.test/rem/ct/{study_id}", href).startswith(
        "http://orthanc.test/app/explorer.html#"
    )


def test_sessions_are_closed_after_each_request(client, store, sessions):  # type: ignore[no-untyped-def]
    study_id = store(ct_report(1))
    for path in (
        "/",
        "/ct/",
        f"/ct/{study_id}",
        "/rejected",
        "/api/studies",
        f"/api/studies/{study_id}",
        "/ct/0",
    ):
        get(client, path)
        assert sessions.kw["bind"].pool.checkedout() == 0, path
