"""The configuration pages (manual, "Configuration"): display names and user-defined modality,
system review and deletion, study deletion back to the filtered list, not-patient indicators,
patient ID and deletion settings, failed imports with retry through the worker queue.

Names and identifiers are read from the corpus objects' headers with pydicom.
"""

from __future__ import annotations

import html
import re
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from sqlalchemy import select

import sr_facts
from orthanc_rem import import_settings, model, recovery
from orthanc_rem.config import Settings
from orthanc_rem.identifiable_data import DEFAULTS_074
from orthanc_rem.ingest import ingest_object
from orthanc_rem.outcome import Outcome
from orthanc_rem.tasks import build_queue
from orthanc_rem_web.admin_pages import QUEUE_EXTENSION
from web_clients import dose_browser_client

BASE_URL = "http://orthanc.test/rem/"  # Orthanc mounts the dose pages under /rem
CT, MG, DX, RF = (
    "CT-RDSR-Siemens_Flash-TAP-SS.dcm",
    "MG-Im-GE-SenDS-scaled.dcm",
    "DX-RDSR-Canon_CXDI.dcm",
    "RF-RDSR-Siemens-Zee.dcm",
)
DUAL_DX, DUAL_RF = "Dual-RDSR-DX.dcm", "Dual-RDSR-RF.dcm"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path, database_url=database_url, queue_url=f"sqlite:///{tmp_path / 'queue.sqlite'}")


@pytest.fixture
def queue(settings):  # type: ignore[no-untyped-def]
    return build_queue(settings)


@pytest.fixture
def client(settings, sessions, queue):  # type: ignore[no-untyped-def]
    client = dose_browser_client(settings, sessions)
    client.application.extensions[QUEUE_EXTENSION] = queue
    return client


def store(sessions, corpus, *names: str) -> None:  # type: ignore[no-untyped-def]
    for name in names:
        assert ingest_object(sessions, corpus(name), source=f"orthanc:{name}", orthanc_id=name).ok


def section(page: str, key: str) -> str:
    """One table of the display names page, from its heading to the next heading."""
    start = page.index(f'id="table-{key}"')
    following = page.find("<h2", start)
    return page[start : following if following > 0 else len(page)]


def equipment_ids(sessions) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return {e.station_name: e.id for e in session.scalars(select(model.Equipment))}


def test_display_names_are_grouped_by_modality_with_non_ascii_names(client, sessions, corpus):
    store(sessions, corpus, CT, MG, DX, RF)
    page = client.get("/admin/display-names").get_data(as_text=True)
    for key, name in (("CT", CT), ("MG", MG), ("DX", DX), ("RF", RF)):
        header = sr_facts.read(corpus(name))
        assert html.escape(str(header.InstitutionName)) in section(page, key), key
        assert str(header.StationName) in section(page, key)
    assert "There are 0 entries in this table" in section(page, "other")
    assert str(sr_facts.read(corpus(MG)).InstitutionName) == "中心医院"  # non-ASCII shown as is
    assert "中心医院" in section(page, "MG")


def test_several_systems_are_renamed_at_once_and_merge(client, sessions, corpus):
    store(sessions, corpus, CT, RF)
    ids = list(equipment_ids(sessions).values())
    edit = client.post("/admin/display-names/edit", data={"equipment": ids})
    assert edit.status_code == 200
    for name in (CT, RF):
        assert str(sr_facts.read(corpus(name)).StationName) in edit.get_data(as_text=True)
    done = client.post("/admin/display-names/update", data={"equipment": ids, "display_name": "Theatre <1> & 2"})
    assert done.status_code == 303
    with sessions() as session:
        assert {e.display_name for e in session.scalars(select(model.Equipment))} == {"Theatre <1> & 2"}
    page = client.get("/admin/display-names").get_data(as_text=True)
    assert "Theatre &lt;1&gt; &amp; 2" in page and "Theatre <1>" not in page


def test_the_user_defined_modality_relabels_the_systems_studies(client, sessions, corpus):
    store(sessions, corpus, DUAL_DX, DUAL_RF)
    (equipment_id,) = equipment_ids(sessions).values()
    client.post("/admin/display-names/update", data={"equipment": equipment_id, "user_defined_modality": "RF"})
    with sessions() as session:
        assert {s.modality for s in session.scalars(select(model.Study))} == {"RF"}
        assert session.get(model.Equipment, equipment_id).user_defined_modality == "RF"
    client.post("/admin/display-names/update", data={"equipment": equipment_id, "user_defined_modality": "none"})
    with sessions() as session:
        assert sorted(s.modality for s in session.scalars(select(model.Study))) == ["DX", "RF"]


def test_an_unknown_modality_or_system_is_refused(client, sessions, corpus):
    store(sessions, corpus, CT)
    (equipment_id,) = equipment_ids(sessions).values()
    bad = client.post("/admin/display-names/update", data={"equipment": equipment_id, "user_defined_modality": "XX"})
    assert bad.status_code == 400
    assert client.post("/admin/display-names/edit", data={"equipment": 999999}).status_code == 404
    assert client.post("/admin/display-names/edit", data={}).status_code == 400


def test_review_counts_the_systems_studies_per_modality(client, sessions, corpus):
    store(sessions, corpus, DUAL_DX, DUAL_RF)
    (equipment_id,) = equipment_ids(sessions).values()
    page = client.get(f"/admin/equipment/{equipment_id}/review?modality=DX").get_data(as_text=True)
    assert "There are 2 studies associated with this equipment, and 1 studies in this list" in page
    header = sr_facts.read(corpus(DUAL_DX))
    assert str(header.AccessionNumber) in page
    assert client.get(f"/admin/equipment/{equipment_id}/review?modality=XX").status_code == 400


def test_deleting_a_systems_studies_keeps_other_modalities_and_the_row(client, sessions, corpus):
    store(sessions, corpus, DUAL_DX, DUAL_RF)
    (equipment_id,) = equipment_ids(sessions).values()
    url = f"/admin/equipment/{equipment_id}/delete-studies"
    confirm = client.get(f"{url}?modality=DX&remove_equipment=1").get_data(as_text=True)
    assert "1 studies of another modality remain" in confirm
    done = client.post(url, data={"modality": "DX", "remove_equipment": "1"}).get_data(as_text=True)
    assert "1 DX studies" in done and "were kept" in done
    rf_uid = str(sr_facts.read(corpus(DUAL_RF)).StudyInstanceUID)
    with sessions() as session:
        assert [s.study_instance_uid for s in session.scalars(select(model.Study))] == [rf_uid]
        assert session.get(model.Equipment, equipment_id) is not None
        # Orthanc still holds the deleted study's object: reconciliation must not import it again.
        assert recovery.without_outcome(session, [DUAL_DX]) == []
    client.post(url, data={"modality": "RF", "remove_equipment": "1"})
    with sessions() as session:
        assert session.scalars(select(model.Study)).all() == []
        assert session.get(model.Equipment, equipment_id) is None


def test_deleting_studies_only_keeps_the_row_for_future_studies(client, sessions, corpus):
    store(sessions, corpus, CT)
    (equipment_id,) = equipment_ids(sessions).values()
    client.post(f"/admin/equipment/{equipment_id}/delete-studies", data={"modality": "CT", "remove_equipment": "0"})
    with sessions() as session:
        assert session.scalars(select(model.Study)).all() == []
        assert session.get(model.Equipment, equipment_id) is not None


def test_a_study_is_deleted_after_confirmation_and_the_filtered_list_comes_back(client, sessions, corpus):
    store(sessions, corpus, CT)
    with sessions() as session:
        study_id = session.scalars(select(model.Study.id)).one()
    listing = "/rem/ct/?date_from=2010-01-01&per_page=10"
    confirm = client.get(f"/admin/study/{study_id}/delete", query_string={"next": listing}, base_url=BASE_URL)
    page = confirm.get_data(as_text=True)
    assert str(sr_facts.read(corpus(CT)).AccessionNumber) in page
    assert html.escape(listing) in page
    assert client.get(f"/admin/study/{study_id}").status_code == 404  # a GET never deletes
    done = client.post(f"/admin/study/{study_id}/delete", data={"next": listing}, base_url=BASE_URL)
    assert done.status_code == 303 and done.headers["Location"] == listing
    with sessions() as session:
        assert session.get(model.Study, study_id) is None
    assert client.get(f"/admin/study/{study_id}/delete").status_code == 404


def test_deletion_never_returns_to_another_site(client, sessions, corpus):
    store(sessions, corpus, CT)
    with sessions() as session:
        study_id = session.scalars(select(model.Study.id)).one()
    for elsewhere in ("https://elsewhere.example/rem/ct/", "//elsewhere.example/rem/ct/", "/app/explorer.html"):
        assert_returns = client.post(f"/admin/study/{study_id}/delete", data={"next": elsewhere}, base_url=BASE_URL)
        assert assert_returns.headers["Location"] == "/rem/ct/"
        store(sessions, corpus, CT)
        with sessions() as session:
            study_id = session.scalars(select(model.Study.id)).one()


def test_not_patient_patterns_are_added_modified_and_deleted(client, sessions):
    client.post("/admin/not-patient-indicators/add", data={"applies_to": "name", "pattern": "physics*"})
    client.post("/admin/not-patient-indicators/add", data={"applies_to": "id", "pattern": "phy[0-9]*"})
    with sessions() as session:
        rows = {p.pattern: p for p in import_settings.not_patient_patterns(session)}
    assert {(p.applies_to, p.pattern) for p in rows.values()} == {("name", "physics*"), ("id", "phy[0-9]*")}
    page = client.get("/admin/not-patient-indicators").get_data(as_text=True)
    assert "<code>phy[0-9]*</code>" in page
    pattern_id = rows["physics*"].id
    assert "physics*" in client.get(f"/admin/not-patient-indicators/{pattern_id}/modify").get_data(as_text=True)
    client.post(f"/admin/not-patient-indicators/{pattern_id}/modify", data={"pattern": "*^test*"})
    with sessions() as session:
        assert import_settings.describe(session)["not_patient_name_patterns"] == ["*^test*"]
        new_id = next(p.id for p in import_settings.not_patient_patterns(session) if p.pattern == "*^test*")
    assert "Delete the patient name pattern" in client.get(f"/admin/not-patient-indicators/{new_id}/delete").get_data(
        as_text=True
    )
    client.post(f"/admin/not-patient-indicators/{new_id}/delete")
    with sessions() as session:
        assert import_settings.describe(session)["not_patient_name_patterns"] == []
    assert (
        client.post("/admin/not-patient-indicators/add", data={"applies_to": "name", "pattern": " "}).status_code == 400
    )


def test_the_074_patterns_are_added_from_the_page(client, sessions):
    client.post("/admin/not-patient-indicators/add-074-defaults")
    with sessions() as session:
        described = import_settings.describe(session)
    # Manual L5122: name and ID were checked for 'phy', 'test' and 'qa'.
    for kind in ("name", "id"):
        assert sorted(described[f"not_patient_{kind}_patterns"]) == sorted(DEFAULTS_074[kind])
        assert sorted(DEFAULTS_074[kind]) == ["*phy*", "*qa*", "*test*"]


@pytest.mark.parametrize(
    ("url", "names"),
    [
        ("/admin/patient-id-settings", ("store_patient_name", "store_patient_id", "hash_accession_number")),
        ("/admin/dicom-deletion-settings", ("delete_unmatched", "delete_rdsr", "delete_philips_ct")),
    ],
)
def test_settings_pages_change_the_import_settings(client, sessions, url, names):
    page = client.get(url).get_data(as_text=True)
    for name in names:
        assert f'id="{name}"' in page and f'for="{name}"' in page
    done = client.post(url, data={name: "on" for name in names})
    assert done.status_code == 303
    with sessions() as session:
        described = import_settings.describe(session)
    assert all(described[name] for name in names)
    # Unticked boxes are sent as nothing: the page's other settings are set to false.
    assert "Saved" in client.get(done.headers["Location"]).get_data(as_text=True)
    client.post(url, data={})
    with sessions() as session:
        assert not any(import_settings.describe(session)[name] for name in names)


def fail(sessions, orthanc_id: str) -> None:  # type: ignore[no-untyped-def]
    assert ingest_object(sessions, b"not DICOM", source=f"orthanc:{orthanc_id}", orthanc_id=orthanc_id).outcome == (
        Outcome.FAILED
    )


def queued_ids(queue) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(queue.queued_instance_ids())


def test_failed_imports_are_listed_and_retried_through_the_worker_queue(client, sessions, queue):
    for orthanc_id in ("aaaa-1", "bbbb-2", "cccc-3"):
        fail(sessions, orthanc_id)
    assert ingest_object(sessions, b"not DICOM either", source="file:/archive/x.dcm").outcome == Outcome.FAILED
    page = client.get("/admin/failed-imports").get_data(as_text=True)
    assert "There are 4 objects whose extraction failed" in page
    assert "file:/archive/x.dcm" in page and "orthanc-rem import" in page
    with sessions() as session:
        first = session.scalars(select(model.RejectedObject).where(model.RejectedObject.orthanc_id == "aaaa-1")).one()
    done = client.post(f"/admin/failed-imports/{first.id}/retry")
    assert done.status_code == 303 and "queued=1" in done.headers["Location"]
    assert queued_ids(queue) == ["aaaa-1"]
    client.post("/admin/failed-imports/retry-all")
    assert queue.huey.pending_count() == 4  # aaaa-1 again, then the three with an Orthanc copy
    assert queued_ids(queue) == ["aaaa-1", "bbbb-2", "cccc-3"]


def test_retrying_something_that_did_not_fail_is_refused(client, sessions):
    assert client.post("/admin/failed-imports/99999/retry").status_code == 404


def test_every_admin_page_answers(client, sessions, corpus):
    store(sessions, corpus, CT)
    (equipment_id,) = equipment_ids(sessions).values()
    for url in (
        "/admin/config",
        "/admin/display-names",
        f"/admin/equipment/{equipment_id}/review?modality=CT",
        "/admin/not-patient-indicators",
        "/admin/patient-id-settings",
        "/admin/dicom-deletion-settings",
        "/admin/failed-imports",
        "/admin/sizes",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        page = response.get_data(as_text=True)
        for form in re.findall(r'<form method="post".*?</form>', page, re.S):
            assert 'name="csrf_token"' in form, (url, form[:80])


def test_delete_links_come_back_to_the_page_they_were_on(client, sessions, corpus):
    """The Delete link (``admin/macros.html``, for the study lists too) carries the page's own
    address with its query string, under Orthanc's prefix."""
    store(sessions, corpus, CT)
    (equipment_id,) = equipment_ids(sessions).values()
    with sessions() as session:
        study_id = session.scalars(select(model.Study.id)).one()
    page = client.get(f"/admin/equipment/{equipment_id}/review?modality=CT", base_url=BASE_URL).get_data(as_text=True)
    (href,) = re.findall(r'href="([^"]*/delete\?next=[^"]*)"', page)
    path, _, query = html.unescape(href).partition("?")
    assert path == f"/rem/admin/study/{study_id}/delete"
    assert parse_qs(query) == {"next": [f"/rem/admin/equipment/{equipment_id}/review?modality=CT"]}


def test_settings_without_an_extraction_queue_url_still_build_one(tmp_path, database_url, sessions):
    settings = Settings(data_dir=tmp_path, database_url=database_url, queue_url=f"sqlite:///{tmp_path / 'q.sqlite'}")
    client = dose_browser_client(replace(settings), sessions)
    fail(sessions, "dddd-4")
    client.post("/admin/failed-imports/retry-all")
    assert build_queue(settings).queued_instance_ids() == {"dddd-4"}


def test_dual_reprocess_sorts_the_studies_by_content_again(client, sessions, corpus):
    store(sessions, corpus, DUAL_DX, DUAL_RF)
    (equipment_id,) = equipment_ids(sessions).values()
    client.post("/admin/display-names/update", data={"equipment": equipment_id, "user_defined_modality": "Dual"})
    page = client.get("/admin/display-names").get_data(as_text=True)
    assert f"/admin/equipment/{equipment_id}/dual-reprocess" in page
    with sessions() as session:
        dx_study = session.scalars(select(model.Study).where(model.Study.modality == "DX")).one()
        dx_study.modality = "RF"  # as if sorted wrongly before
        session.commit()
    assert client.post(f"/admin/equipment/{equipment_id}/dual-reprocess").status_code == 303
    with sessions() as session:
        assert sorted(s.modality for s in session.scalars(select(model.Study))) == ["DX", "RF"]


def test_users_who_are_not_admins_see_the_display_names_read_only(client, sessions, corpus):
    store(sessions, corpus, CT)
    client.application.jinja_env.globals["may"] = lambda group: group != "admin"
    page = client.get("/admin/display-names").get_data(as_text=True)
    assert str(sr_facts.read(corpus(CT)).StationName) in page
    assert 'type="checkbox"' not in page and "Review" not in page and "Edit the selected" not in page


def test_orthanc_explorers_study_button_lands_on_the_dose_page(client, sessions, corpus):
    store(sessions, corpus, CT, DUAL_RF)
    for name, endpoint in ((CT, "ct"), (DUAL_RF, "rf")):
        uid = str(sr_facts.read(corpus(name)).StudyInstanceUID)
        with sessions() as session:
            study_id = session.scalars(select(model.Study.id).where(model.Study.study_instance_uid == uid)).one()
        answer = client.get(f"/study-by-uid/{uid}", base_url=BASE_URL)
        assert answer.status_code == 303 and answer.headers["Location"] == f"/rem/{endpoint}/{study_id}"
    missing = client.get("/study-by-uid/1.2.3.4.5", base_url=BASE_URL)
    assert missing.status_code == 404 and "no study with this Study Instance UID" in missing.get_data(as_text=True)
