"""Radiography and mammography images: several images make one study, one event each; the same
exposure arriving again (a second copy under a new SOP Instance UID, or the for-processing and
for-presentation pair of one view) counts once. Expected values are read from the images."""

from __future__ import annotations

import io

import pydicom
import pytest
from pydicom.uid import generate_uid
from sqlalchemy import select

import sr_facts
from orthanc_rem import model
from orthanc_rem.ingest import ingest_object

DAP = 0x0018115E  # Image and Fluoroscopy Area Dose Product, dGy·cm² (PS3.3 C.8.7.8)
DGYCM2_TO_GYM2 = 1e-5


def events(sessions) -> list[model.ProjectionIrradiationEvent]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return list(session.scalars(select(model.ProjectionIrradiationEvent)))


def test_three_images_make_one_study_with_three_exposures(corpus, sessions):
    names = [f"DX-Im-GE_XR220-{n}.dcm" for n in (1, 2, 3)]
    for name in names:
        assert ingest_object(sessions, corpus(name), source=name).outcome == "imported"
    images = [sr_facts.read(corpus(name)) for name in names]
    assert len({str(ds.StudyInstanceUID) for ds in images}) == 1
    with sessions() as session:
        (study,) = session.scalars(select(model.Study)).all()
        (dose,) = study.projection_xray_radiation_doses
        (accumulated,) = dose.accumulations
        assert study.modality == "DX"
        assert len(dose.events) == 3
        assert accumulated.total_number_of_radiographic_frames == 3
        expected_total = sum(float(ds[DAP].value) for ds in images) * DGYCM2_TO_GYM2
        assert accumulated.dose_area_product_total_gym2 == pytest.approx(expected_total)
        assert sorted(e.dose_area_product_gym2 for e in dose.events) == pytest.approx(
            sorted(float(ds[DAP].value) * DGYCM2_TO_GYM2 for ds in images)
        )


def test_the_same_exposure_sent_again_under_a_new_sop_instance_uid_counts_once(corpus, sessions):
    path = corpus("DX-Im-Carestream_DRX.dcm")
    assert "IrradiationEventUID" in sr_facts.read(path)  # (0008,3010): the exposure's own UID
    copy = pydicom.dcmread(path)
    copy.SOPInstanceUID = generate_uid()
    copy.file_meta.MediaStorageSOPInstanceUID = copy.SOPInstanceUID
    buffer = io.BytesIO()
    copy.save_as(buffer, enforce_file_format=True)
    assert ingest_object(sessions, path, source="first").outcome == "imported"
    assert ingest_object(sessions, buffer.getvalue(), source="copy").outcome == "superseded"
    assert len(events(sessions)) == 1


def test_a_mammography_view_for_processing_and_for_presentation_is_one_exposure(corpus, sessions):
    for name in ("MG-Im-GE_Seno_1_ForProcessing.dcm", "MG-Im-GE_Seno_1_ForPresentation.dcm"):
        assert ingest_object(sessions, corpus(name), source=name).extracted
    (event,) = events(sessions)
    with sessions() as session:
        (study,) = session.scalars(select(model.Study)).all()
        assert study.modality == "MG"


def test_an_image_without_modality_is_still_radiography(corpus, sessions):
    ds = pydicom.dcmread(corpus("DX-Im-GE_XR220-1.dcm"))
    del ds.Modality
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    assert ingest_object(sessions, buffer.getvalue(), source="no-modality").outcome == "imported"
    with sessions() as session:
        assert session.scalars(select(model.Study.modality)).one() == "DX"
