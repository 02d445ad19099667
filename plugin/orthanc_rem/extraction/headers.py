"""Study, patient and equipment records from the header of a dose object (PS3.3 modules).

These attributes are the same in every composite object, so the later projection X-ray and
mammography importers read them here too.
"""

from __future__ import annotations

import datetime as dt
import re

from pydicom.dataset import Dataset

from orthanc_rem.extraction.records import Code, Equipment, ExtractionError, Patient, Study
from orthanc_rem.extraction.sr import (
    InvalidValue,
    code_from,
    combine_date_time,
    dataset_text,
    measured_number,
    parse_da,
    parse_tm,
)

#: Ages outside this range come from placeholder birth dates (e.g. 99990101 in the anonymised
#: Siemens Biograph PET/CT report) and are not believed.
_PLAUSIBLE_AGE_YEARS = (0.0, 150.0)
_AGE_STRING = re.compile(r"^(\d{1,3})\s*([DWMY]?)$", re.IGNORECASE)
_DAYS_PER_YEAR = 365.25


def read_study(ds: Dataset) -> Study:
    """General Study, General Series and SR Document General modules (PS3.3 C.7.2.1, C.7.3.1,
    C.17.2). The requested procedure may sit at the top level or, in SR objects, inside the
    Referenced Request Sequence (0040,A370)."""
    study_instance_uid = dataset_text(ds, "StudyInstanceUID")
    if study_instance_uid is None:
        raise ExtractionError("Study Instance UID (0020,000D) is missing")
    request = _first(ds.get("ReferencedRequestSequence"))
    return Study(
        study_instance_uid=study_instance_uid,
        study_date=parse_da(dataset_text(ds, "StudyDate")),
        study_time=parse_tm(dataset_text(ds, "StudyTime")),
        accession_number=dataset_text(ds, "AccessionNumber"),
        study_id=dataset_text(ds, "StudyID"),
        study_description=dataset_text(ds, "StudyDescription"),
        referring_physician_name=dataset_text(ds, "ReferringPhysicianName"),
        performing_physician_name=dataset_text(ds, "PerformingPhysicianName"),
        operator_name=dataset_text(ds, "OperatorsName"),
        requested_procedure_description=dataset_text(ds, "RequestedProcedureDescription")
        or (dataset_text(request, "RequestedProcedureDescription") if request else None),
        procedure_code=code_from(ds.get("ProcedureCodeSequence")),
        requested_procedure_code=_requested_procedure_code(ds, request),
        series_instance_uid=dataset_text(ds, "SeriesInstanceUID"),
        series_description=dataset_text(ds, "SeriesDescription"),
        series_time=parse_tm(dataset_text(ds, "SeriesTime")),
        content_date_time=combine_date_time(
            parse_da(dataset_text(ds, "ContentDate")), parse_tm(dataset_text(ds, "ContentTime"))
        ),
    )


def read_patient(ds: Dataset, study_date: dt.date | None, warnings: list[str]) -> Patient:
    """Patient and Patient Study modules (PS3.3 C.7.1.1, C.7.2.2).

    The age is computed from the birth date at the study date when both are believable, because
    Patient's Age (0010,1010) is rounded to whole units and sometimes absent; otherwise it comes from
    the age string.
    """
    birth_date = parse_da(dataset_text(ds, "PatientBirthDate"))
    age_string = dataset_text(ds, "PatientAge")
    age_years = age_from_birth_date(birth_date, study_date)
    if age_years is None and birth_date is not None and study_date is not None:
        warnings.append(
            f"Patient's Birth Date {birth_date} gives no plausible age at {study_date}; age string used"
        )
    if age_years is None:
        age_years = age_from_age_string(age_string, warnings)
    sex = (dataset_text(ds, "PatientSex") or "").upper() or None
    return Patient(
        name=dataset_text(ds, "PatientName"),
        patient_id=dataset_text(ds, "PatientID"),
        sex=sex,
        birth_date=birth_date,
        age_string=age_string,
        age_years=age_years,
        size_m=_positive_number(ds, "PatientSize", 3.0, "m", warnings),
        weight_kg=_positive_number(ds, "PatientWeight", 500.0, "kg", warnings),
    )


def read_equipment(ds: Dataset) -> Equipment:
    """General Equipment Module (PS3.3 C.7.5.1). Software Versions is multi-valued (LO 1-n); its
    values are joined with a backslash, as on the wire, so that the equipment identity is stable."""
    return Equipment(
        manufacturer=dataset_text(ds, "Manufacturer"),
        institution_name=dataset_text(ds, "InstitutionName"),
        station_name=dataset_text(ds, "StationName"),
        institutional_department_name=dataset_text(ds, "InstitutionalDepartmentName"),
        manufacturer_model_name=dataset_text(ds, "ManufacturerModelName"),
        device_serial_number=dataset_text(ds, "DeviceSerialNumber"),
        software_versions=dataset_text(ds, "SoftwareVersions"),
        gantry_id=dataset_text(ds, "GantryID"),
        institution_address=dataset_text(ds, "InstitutionAddress"),
    )


def age_from_birth_date(birth_date: dt.date | None, on: dt.date | None) -> float | None:
    """Decimal years between birth and ``on``; None when unknown or implausible."""
    if birth_date is None or on is None:
        return None
    years = (on - birth_date).days / _DAYS_PER_YEAR
    low, high = _PLAUSIBLE_AGE_YEARS
    return years if low <= years <= high else None


def age_from_age_string(age_string: str | None, warnings: list[str]) -> float | None:
    """Patient's Age AS ``nnnD|W|M|Y`` (PS3.5 6.2) in decimal years; a bare number counts as years."""
    if age_string is None:
        return None
    match = _AGE_STRING.match(age_string.strip())
    if not match:
        warnings.append(f"Patient's Age {age_string!r} is not an age string; ignored")
        return None
    number, unit = int(match.group(1)), match.group(2).upper() or "Y"
    days_per_unit = {"D": 1.0, "W": 7.0, "M": _DAYS_PER_YEAR / 12, "Y": _DAYS_PER_YEAR}[unit]
    return number * days_per_unit / _DAYS_PER_YEAR


def _positive_number(
    ds: Dataset, keyword: str, maximum: float, unit: str, warnings: list[str]
) -> float | None:
    """Patient size (m) and weight (kg) are DS; 0 is what several scanners send for "not entered",
    and a height of 170 is centimetres typed into a metres field: neither is stored as a value."""
    text = dataset_text(ds, keyword)
    if text is None:
        return None
    try:
        value = measured_number(text.split("\\")[0], keyword)
    except InvalidValue as exc:  # "NaN" used to pass every comparison below and be stored
        warnings.append(f"{exc}; left empty")
        return None
    if value is None or value <= 0:
        return None
    if value > maximum:
        warnings.append(f"{keyword} {value} is not plausible in {unit}; ignored")
        return None
    return value


def _first(sequence: object) -> Dataset | None:
    try:
        return sequence[0] if sequence else None  # type: ignore[index]
    except (TypeError, IndexError):
        return None


def _requested_procedure_code(ds: Dataset, request: Dataset | None) -> Code | None:
    found = code_from(ds.get("RequestedProcedureCodeSequence"))
    if found is None and request is not None:
        found = code_from(request.get("RequestedProcedureCodeSequence"))
    return found
