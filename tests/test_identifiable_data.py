"""Not-patient indicators and patient identifiable data, with the manual's own examples
(Configuration chapter, L2993-3125) and values read from corpus objects."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

import sr_facts
from orthanc_rem import import_settings, model
from orthanc_rem.identifiable_data import IdentifiableDataPolicy, matching_patterns, policy_cache
from orthanc_rem.ingest import ingest_object


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        # The manual's examples, verbatim.
        ("physics*", "Physics^RoutIQ", True),
        ("physics*", "Testing^Physics", False),
        ("*^test*", "Smith^Test", True),
        ("phy[0-9]*", "Phy12345", True),
        ("phy[0-9]*", "PHY6test", True),
        ("phy[0-9]*", "Phyliss", False),
        ("phy[!0-9]*", "Phyliss", True),
        ("ph?", "PHY", True),
    ],
)
def test_patterns_are_case_insensitive_shell_globs(pattern, value, matches):
    assert bool(matching_patterns(value, [pattern])) is matches


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@pytest.fixture(autouse=True)
def fresh_policy():
    policy_cache.clear()
    yield
    policy_cache.clear()


def stored_patient(sessions) -> tuple[model.Patient, model.Study]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        study = session.scalars(select(model.Study)).one()
        return study.patient, study


def test_by_default_name_id_and_birth_date_are_not_stored(corpus, sessions):
    assert ingest_object(sessions, corpus("CT-RDSR-Siemens-Multi-1.dcm"), source="a").ok
    patient, study = stored_patient(sessions)
    ds = sr_facts.read(corpus("CT-RDSR-Siemens-Multi-1.dcm"))
    assert (patient.name, patient.patient_id, patient.birth_date) == (None, None, None)
    assert patient.not_patient_indicator is None
    assert study.accession_number == ds.AccessionNumber and not study.accession_number_hashed


def test_stored_and_hashed_as_the_settings_say(corpus, sessions):
    with sessions() as session:
        import_settings.change(
            session,
            store_patient_name=True,
            hash_patient_name=True,
            store_patient_id=True,
            hash_patient_id=False,
            store_birth_date=True,
            hash_accession_number=True,
        )
    path = corpus("CT-RDSR-Siemens-Multi-1.dcm")
    assert ingest_object(sessions, path, source="a").ok
    ds = sr_facts.read(path)
    patient, study = stored_patient(sessions)
    assert patient.name == sha256(str(ds.PatientName)) and patient.name_hashed
    assert patient.patient_id == str(ds.PatientID) and not patient.patient_id_hashed
    assert patient.birth_date.strftime("%Y%m%d") == ds.PatientBirthDate
    assert study.accession_number == sha256(str(ds.AccessionNumber)) and study.accession_number_hashed


def test_matched_patterns_are_recorded_before_name_and_id_are_dropped(corpus, sessions):
    path = corpus("CT-RDSR-Siemens-Multi-1.dcm")
    ds = sr_facts.read(path)
    family_name = str(ds.PatientName).split("^")[0]
    with sessions() as session:
        import_settings.add_not_patient_pattern(session, "name", f"{family_name.upper()}^*")
        import_settings.add_not_patient_pattern(session, "id", f"{str(ds.PatientID)[:3]}*")
        import_settings.add_not_patient_pattern(session, "id", "nothing-like-it")
    assert ingest_object(sessions, path, source="a").ok
    patient, _study = stored_patient(sessions)
    assert patient.not_patient_indicator == f"IDs: {str(ds.PatientID)[:3]}* | Names: {family_name.upper()}^*"
    assert patient.name is None and patient.patient_id is None


def test_the_074_defaults_are_the_manuals(sessions):
    """0.7.4 checked name and ID for 'phy', 'test' and 'qa' (manual L5122: "a patient named 'Phyliss'
    would trigger this"), which the 0.8 defaults replicate (L3036-3038)."""
    with sessions() as session:
        import_settings.add_074_defaults(session)
        described = import_settings.describe(session)
    assert sorted(described["not_patient_id_patterns"]) == sorted(["*phy*", "*test*", "*qa*"])
    assert sorted(described["not_patient_name_patterns"]) == sorted(["*phy*", "*test*", "*qa*"])
    policy = IdentifiableDataPolicy(name_patterns=tuple(described["not_patient_name_patterns"]))
    assert matching_patterns("Physics^QA", policy.name_patterns) == ["*phy*", "*qa*"]
    assert matching_patterns("Phyliss", policy.name_patterns) == ["*phy*"]


def test_unknown_settings_are_refused(sessions):
    with sessions() as session, pytest.raises(ValueError, match="unknown setting"):
        import_settings.change(session, store_everything=True)
