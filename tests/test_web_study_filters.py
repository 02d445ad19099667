"""Every filter and ordering of the study lists, on the pages and at /api/studies with the same names.

Studies are built here (``test_web.ct_report``), so the values asserted are the test's own inputs,
or read from corpus objects with pydicom; each filter is checked to select what it names and to
leave out the rest.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from orthanc_rem import identifiable_data, import_settings, ingest, study_filters
from orthanc_rem.config import Settings
from orthanc_rem.extraction import records
from orthanc_rem.extraction.dicom_file import read_dicom_file
from test_web import ct_report, event
from web_clients import dose_browser_client

BASE_URL = "http://orthanc.test/rem/"


@pytest.fixture
def client(tmp_path: Path, database_url: str, sessions: sessionmaker[Session]):  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path, database_url=database_url, queue_url="memory://", page_size=25)
    return dose_browser_client(settings, sessions)



def accessions(client, query: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The accession numbers /api/studies lists for ``query``, and the same from the CT page."""
    response = client.get(f"/api/studies?modality=CT&{query}", base_url=BASE_URL)
    assert response.status_code == 200, response.get_data(as_text=True)
    listed = [s["accession_number"] for s in response.get_json()["studies"]]
    page = client.get(f"/ct/?{query}", base_url=BASE_URL)
    assert page.status_code == 200, page.get_data(as_text=True)
    shown = re.findall(r'<span class="sub">(ACC\d{4})</span>', page.get_data(as_text=True))
    assert shown == listed
    return listed


def status(client, path: str) -> int:  # type: ignore[no-untyped-def]
    return int(client.get(path, base_url=BASE_URL).status_code)


def equipment(**fields: str) -> records.Equipment:
    values = {"manufacturer": "SIEMENS", "institution_name": "Hospital A", "station_name": "CT1",
              "manufacturer_model_name": "SOMATOM Definition Flash"} | fields  # fmt: skip
    return records.Equipment(**values)


def with_equipment(report: records.CtDoseReport, **fields: str) -> records.CtDoseReport:
    from dataclasses import replace

    return replace(report, equipment=equipment(**fields))


# --- text filters -----------------------------------------------------------------------------------


def test_text_filters_are_case_insensitive_substrings_of_any_script(client, store):  # type: ignore[no-untyped-def]
    store(ct_report(1, description="THORAX ÉPAULE", requested_procedure_description="Chest CT"))
    store(ct_report(2, description="Abdomen", procedure_code=records.Code("X1", "99L", "Ganzkörper Straße")))
    store(ct_report(3, description="Head 100%_done"))

    assert accessions(client, "study_description=épaule") == ["ACC0001"]
    assert accessions(client, "study_description=%C3%89PAULE") == ["ACC0001"]
    assert accessions(client, "procedure=GANZKÖRPER") == ["ACC0002"]
    assert accessions(client, "requested_procedure=chest") == ["ACC0001"]
    store(ct_report(4, performing_physician_name="Dr Zoë Ørsted"))
    assert accessions(client, "performing_physician=ZOË") == ["ACC0004"]
    # % and _ are plain characters, not SQL wildcards
    assert accessions(client, "study_description=100%25_") == ["ACC0003"]
    assert accessions(client, "study_description=0%25") == ["ACC0003"]
    assert accessions(client, "study_description=a_d") == []


def test_acquisition_protocol_matches_any_event(client, store):  # type: ignore[no-untyped-def]
    store(ct_report(1, events=(event("1.1", "Topogram", 1.0, 10.0), event("1.2", "Thorax Routine", 5.0, 200.0))))
    store(ct_report(2, events=(event("2.1", "Head Séquence", 50.0, 800.0),)))
    assert accessions(client, "acquisition_protocol=routine") == ["ACC0001"]
    assert accessions(client, "acquisition_protocol=SÉQ") == ["ACC0002"]
    assert accessions(client, "acquisition_protocol=E") == ["ACC0002", "ACC0001"]


def test_equipment_filters(client, store):  # type: ignore[no-untyped-def]
    store(with_equipment(ct_report(1), institution_name="Hôpital Nord", station_name="CTNORD"))
    store(with_equipment(ct_report(2), manufacturer="GE MEDICAL SYSTEMS", manufacturer_model_name="Revolution"))
    assert accessions(client, "hospital=hôpital") == ["ACC0001"]
    assert accessions(client, "manufacturer=ge med") == ["ACC0002"]
    assert accessions(client, "model=REVOL") == ["ACC0002"]
    assert accessions(client, "station=nord") == ["ACC0001"]
    # the default display name is institution and station name
    assert accessions(client, "display_name=nord%20ctn") == ["ACC0001"]
    assert accessions(client, "system=Hospital%20A%20CT1") == ["ACC0002"]
    assert accessions(client, "system=Hospital%20A") == []  # system is the exact name


def test_dates_are_inclusive_and_either_end_may_be_open(client, store):  # type: ignore[no-untyped-def]
    for n, day in enumerate((1, 2, 3), start=1):
        store(ct_report(n, study_date=dt.date(2024, 5, day)))
    assert accessions(client, "date_from=2024-05-02&date_until=2024-05-02") == ["ACC0002"]
    assert accessions(client, "date_from=2024-05-02") == ["ACC0003", "ACC0002"]
    assert accessions(client, "date_until=2024-05-02") == ["ACC0002", "ACC0001"]


def test_age_bounds_are_strict_as_in_the_manual(client, store):  # type: ignore[no-untyped-def]
    for n, age in enumerate((30.0, 40.5, 50.0), start=1):
        store(ct_report(n, patient=records.Patient(age_years=age)))
    assert accessions(client, "age_from=30&age_until=50") == ["ACC0002"]
    assert accessions(client, "age_from=40.4") == ["ACC0003", "ACC0002"]
    assert accessions(client, "age_until=40.5") == ["ACC0001"]


def test_dlp_range_uses_the_study_total(client, store):  # type: ignore[no-untyped-def]
    store(ct_report(1, dlp_total=100.0))
    # no accumulated DLP in the report: the events' DLPs add up (300)
    store(ct_report(2, events=(event("2.1", "A", 1.0, 100.0), event("2.2", "B", 1.0, 200.0))))
    store(ct_report(3, dlp_total=1000.0))
    assert accessions(client, "dlp_from=100&dlp_until=300") == ["ACC0002", "ACC0001"]
    assert accessions(client, "dlp_from=300.5") == ["ACC0003"]


# --- hash-aware identifiers and test data -------------------------------------------------------------


def test_accession_number_is_hash_aware(client, store, sessions):  # type: ignore[no-untyped-def]
    store(ct_report(1))
    with sessions() as session:
        import_settings.change(session, hash_accession_number=True)
        session.commit()
    identifiable_data.policy_cache.clear()
    store(ct_report(2))
    identifiable_data.policy_cache.clear()
    assert accessions(client, "accession=acc0001") == ["ACC0001"]  # clear: substring, any case
    response = client.get("/api/studies?accession=ACC0002", base_url=BASE_URL).get_json()
    assert [s["accession_number"] for s in response["studies"]] == [identifiable_data.sha256_hex("ACC0002")]
    # a hash matches exactly what was typed, not a part of it
    assert client.get("/api/studies?accession=ACC000", base_url=BASE_URL).get_json()["studies"] == [
        s for s in client.get("/api/studies", base_url=BASE_URL).get_json()["studies"] if s["id"] == 1
    ]


def test_patient_name_and_id_are_hash_aware(client, store, sessions):  # type: ignore[no-untyped-def]
    with sessions() as session:
        import_settings.change(session, store_patient_name=True, hash_patient_name=False, store_patient_id=True)
        session.commit()
    identifiable_data.policy_cache.clear()
    store(ct_report(1, patient=records.Patient(name="Müller^Jürgen", patient_id="PID-123")))
    store(ct_report(2, patient=records.Patient(name="Smith^Anna", patient_id="PID-456")))
    identifiable_data.policy_cache.clear()
    assert accessions(client, "patient_name=MÜLLER") == ["ACC0001"]
    assert accessions(client, "patient_id=PID-456") == ["ACC0002"]  # hashed: the exact ID
    assert accessions(client, "patient_id=PID") == []


def test_possible_test_data_can_be_left_out(client, store, sessions):  # type: ignore[no-untyped-def]
    with sessions() as session:
        import_settings.add_not_patient_pattern(session, "name", "*phantom*")
        session.commit()
    identifiable_data.policy_cache.clear()
    store(ct_report(1, patient=records.Patient(name="Catphan^Phantom")))
    store(ct_report(2, patient=records.Patient(name="Doe^Jane")))
    identifiable_data.policy_cache.clear()
    assert accessions(client, "test_data=yes") == ["ACC0002", "ACC0001"]
    assert accessions(client, "test_data=no") == ["ACC0002"]


# --- ordering and paging ------------------------------------------------------------------------------


def test_orderings_with_a_stable_tie_break(client, store):  # type: ignore[no-untyped-def]
    store(ct_report(1, dlp_total=500.0, description="beta", study_date=dt.date(2024, 1, 1)))
    store(ct_report(2, dlp_total=100.0, description="Alpha", study_date=dt.date(2024, 1, 3)))
    store(ct_report(3, dlp_total=500.0, description="gamma", study_date=dt.date(2024, 1, 2)))
    store(ct_report(4, events=(event("4.1", "A", None, None),), description=None, study_date=dt.date(2024, 1, 4)))
    assert accessions(client, "") == ["ACC0004", "ACC0002", "ACC0003", "ACC0001"]
    assert accessions(client, "order_by=study_date") == ["ACC0001", "ACC0003", "ACC0002", "ACC0004"]
    # equal DLPs keep the study id's order in the same direction; no DLP comes last both ways
    assert accessions(client, "order_by=-total_dlp") == ["ACC0003", "ACC0001", "ACC0002", "ACC0004"]
    assert accessions(client, "order_by=total_dlp") == ["ACC0002", "ACC0001", "ACC0003", "ACC0004"]
    assert accessions(client, "order_by=study_description")[:3] == ["ACC0002", "ACC0001", "ACC0003"]


def test_filters_are_kept_in_the_page_links(client, store):  # type: ignore[no-untyped-def]
    for n in range(1, 13):
        store(ct_report(n, description="Chest"))
    text = client.get("/ct/?study_description=chest&per_page=10&order_by=total_dlp", base_url=BASE_URL).get_data(
        as_text=True
    )
    assert "There are 12 studies in this list." in text
    link = re.search(r'href="([^"]*page=2[^"]*)"', text)
    assert link is not None
    assert "study_description=chest" in link.group(1) and "order_by=total_dlp" in link.group(1)
    assert 'value="chest"' in text


def test_bad_values_are_400(client, store):  # type: ignore[no-untyped-def]
    store(ct_report(1))
    for query in ("dlp_from=abc", "dlp_from=-1", "age_from=1e3", "order_by=nonsense", "order_by=total_dap",
                  "test_data=maybe", "dlp_from=5&dlp_until=1", "dap_from=1", "per_page=5", "per_page=500"):  # fmt: skip
        assert status(client, f"/ct/?{query}") == 400, query
    assert status(client, "/api/studies?per_page=1000") == 200
    assert status(client, "/rf/?dlp_from=1") == 400


def test_bounded_count_beyond_the_bound(sessions, store):  # type: ignore[no-untyped-def]
    for n in range(1, 6):
        store(ct_report(n, description="Chest"))
    with sessions() as session:
        chest = study_filters.StudyFilter(modality="CT", study_description="chest")
        assert study_filters.count_studies(session, chest, bound=3) == study_filters.StudyCount(3, False)
        assert study_filters.count_studies(session, chest, bound=5) == study_filters.StudyCount(5, True)
        every_ct = study_filters.StudyFilter(modality="CT")
        assert study_filters.count_studies(session, every_ct, bound=3) == study_filters.StudyCount(5, True)


def test_filter_round_trips_through_its_parameters() -> None:
    parameters = {"date_from": "2024-01-01", "study_description": "Chest", "dlp_from": "12.5", "test_data": "no",
                  "order_by": "-total_dlp", "modality": "CT"}  # fmt: skip
    parsed = study_filters.parse_study_filter(parameters)
    assert study_filters.parse_study_filter(parsed.parameters()) == parsed
    assert parsed.parameters() == parameters


def test_patient_data_filters_need_the_permission() -> None:
    with pytest.raises(study_filters.BadParameter):
        study_filters.parse_study_filter({"patient_name": "x"})
    assert study_filters.parse_study_filter({"patient_name": "x"}, may_see_patient_data=True).patient_name == "x"


# --- corpus objects -----------------------------------------------------------------------------------


def test_corpus_studies_are_found_by_their_header_values(client, corpus, sessions):  # type: ignore[no-untyped-def]
    names = ("CT-RDSR-Siemens_Flash-TAP-SS.dcm", "CT-RDSR-GEPixelMed.dcm", "RF-RDSR-Siemens-Zee.dcm")
    for name in names:
        ingest.ingest_object(sessions, corpus(name), source=f"file:{name}")
    siemens = read_dicom_file(corpus(names[0]))
    ge = read_dicom_file(corpus(names[1]))

    def uids(query: str) -> list[str]:
        response = client.get(f"/api/studies?{query}", base_url=BASE_URL)
        assert response.status_code == 200, response.get_data(as_text=True)
        return [s["study_instance_uid"] for s in response.get_json()["studies"]]

    description = str(siemens.StudyDescription)
    assert uids(f"modality=CT&study_description={description[2:-1].lower()}") == [siemens.StudyInstanceUID]
    assert uids(f"modality=CT&manufacturer={str(ge.Manufacturer).upper()}") == [ge.StudyInstanceUID]
    assert uids(f"station={str(siemens.StationName).lower()}") == [siemens.StudyInstanceUID]
    assert uids("modality=RF") == [read_dicom_file(corpus(names[2])).StudyInstanceUID]
