"""The C-FIND identifiers sent at study, series and image level (Study Root).

Return keys are the ones the manual's logic reads; patient name, ID and birth date are not asked
for, since nothing here needs them (the dose objects bring what the settings allow to store).
"""

from __future__ import annotations

from orthanc_rem.qr.options import QueryOptions


def study_query(options: QueryOptions, modality: str, use_modality_tag: bool = False) -> dict[str, str]:
    """One study-level query per DICOM modality, matched on ModalitiesInStudy.

    ``use_modality_tag`` adds an empty Modality key at study level: not valid per the standard,
    but what Agfa Impax 6.6 needs to answer at all (manual 0.8.1, "Use Modality in Study Query").
    """
    query = {
        "StudyInstanceUID": "",
        "StudyDate": options.study_date(),
        "ModalitiesInStudy": modality,
        "StudyDescription": "",
        "StationName": "",
        "AccessionNumber": "",
        "NumberOfStudyRelatedSeries": "",
    }
    study_time = options.study_time()
    if study_time:
        query["StudyTime"] = study_time
    if use_modality_tag:
        query["Modality"] = ""
    return query


def series_query(study_instance_uid: str) -> dict[str, str]:
    return {
        "StudyInstanceUID": study_instance_uid,
        "SeriesInstanceUID": "",
        "Modality": "",
        "SeriesDescription": "",
        "SeriesNumber": "",
        "NumberOfSeriesRelatedInstances": "",
        "StationName": "",
    }


def image_query(study_instance_uid: str, series_instance_uid: str, first_image_only: bool = False) -> dict[str, str]:
    """SOP Class UID tells an RDSR from an ESR or a report; ``first_image_only`` asks for
    InstanceNumber 1 (the Toshiba option)."""
    return {
        "StudyInstanceUID": study_instance_uid,
        "SeriesInstanceUID": series_instance_uid,
        "SOPInstanceUID": "",
        "SOPClassUID": "",
        "InstanceNumber": "1" if first_image_only else "",
    }
