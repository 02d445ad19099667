"""What the CT image headers of a legacy study tell that the dose screen does not.

The manual's list (legacy Toshiba import, feature inventory part 1 §4.5): study level, Study
Description, Requested Procedure Description, Software Versions, Device Serial Number; per
acquisition, Protocol Name, exposure time per rotation, kVp, spiral pitch factor, nominal total and
single collimation width and exposure modulation type. CTDIvol and DLP are read too: they are how
an acquisition is matched to a scan read off the screen.

Older Toshiba scanners keep several of these in their private group 7005 (creator
``TOSHIBA_MEC_CT3``) instead of the standard CT attributes: pitch in (7005,1023), single
collimation in (7005,1008) with the detector rows used as a string of 0/1 in (7005,1009), DLP in
(7005,1040) and CTDIvol in (7005,1063), both FD; a PACS that does not know the VR hands the FD over
as raw bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

from pydicom.dataset import Dataset

from orthanc_rem.extraction.sr import dataset_text

TOSHIBA_PRIVATE_CREATOR = "TOSHIBA_MEC_CT3"
_PRIVATE_GROUP = 0x7005


@dataclass(frozen=True)
class StudyParameters:
    study_description: str | None = None
    requested_procedure_description: str | None = None
    software_versions: str | None = None
    device_serial_number: str | None = None


@dataclass(frozen=True)
class AcquisitionParameters:
    """One acquisition of the study as its (first) image describes it."""

    series_instance_uid: str | None
    series_number: str | None
    acquisition_time: str | None
    protocol_name: str | None
    exposure_time_per_rotation_s: float | None
    kvp_kv: float | None
    xray_tube_current_ma: float | None
    spiral_pitch_factor: float | None
    nominal_single_collimation_width_mm: float | None
    nominal_total_collimation_width_mm: float | None
    exposure_modulation_type: str | None
    ctdivol_mgy: float | None
    dlp_mgycm: float | None


def study_parameters(images: Iterable[Dataset]) -> StudyParameters:
    """The first non-empty value of each study-level attribute among the images."""
    found: dict[str, str | None] = dict.fromkeys(StudyParameters.__dataclass_fields__)
    for image in images:
        for name, keyword in (
            ("study_description", "StudyDescription"),
            ("requested_procedure_description", "RequestedProcedureDescription"),
            ("software_versions", "SoftwareVersions"),
            ("device_serial_number", "DeviceSerialNumber"),
        ):
            found[name] = found[name] or dataset_text(image, keyword)
        if found["study_description"] is None:  # the manual's fallback: the procedure code's meaning
            found["study_description"] = _code_meaning(image, "ProcedureCodeSequence")
    return StudyParameters(**found)


def acquisition_parameters(image: Dataset) -> AcquisitionParameters:
    single = _number(image, "SingleCollimationWidth") or _private_number(image, 0x08)
    total = _number(image, "TotalCollimationWidth")
    rows_used = _private_text(image, 0x09)
    if total is None and single is not None and rows_used:
        total = rows_used.count("1") * single
    revolution_s = _number(image, "RevolutionTime")
    exposure_ms = _number(image, "ExposureTime")
    return AcquisitionParameters(
        series_instance_uid=dataset_text(image, "SeriesInstanceUID"),
        series_number=dataset_text(image, "SeriesNumber"),
        acquisition_time=dataset_text(image, "AcquisitionTime"),
        protocol_name=dataset_text(image, "ProtocolName"),
        exposure_time_per_rotation_s=revolution_s if revolution_s is not None else _ms_to_s(exposure_ms),
        kvp_kv=_number(image, "KVP"),
        xray_tube_current_ma=_number(image, "XRayTubeCurrent"),
        spiral_pitch_factor=_number(image, "SpiralPitchFactor") or _private_number(image, 0x23),
        nominal_single_collimation_width_mm=single,
        nominal_total_collimation_width_mm=total,
        exposure_modulation_type=dataset_text(image, "ExposureModulationType"),
        ctdivol_mgy=_private_number(image, 0x63) or _number(image, "CTDIvol"),
        dlp_mgycm=_private_number(image, 0x40),
    )


def _ms_to_s(value: float | None) -> float | None:
    return value / 1000.0 if value is not None else None


def _number(ds: Dataset, keyword: str) -> float | None:
    text = dataset_text(ds, keyword)
    if text is None:
        return None
    try:
        return float(text.split("\\")[0])
    except ValueError:
        return None


def _private(ds: Dataset, offset: int) -> object:
    try:
        return ds.get_private_item(_PRIVATE_GROUP, offset, TOSHIBA_PRIVATE_CREATOR).value
    except KeyError:
        return None


def _private_number(ds: Dataset, offset: int) -> float | None:
    value = _private(ds, offset)
    if isinstance(value, bytes):  # FD sent as UN: eight little-endian bytes
        return struct.unpack("<d", value[:8])[0] if len(value) >= 8 else None
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    try:
        return float(value) if value is not None else None  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _private_text(ds: Dataset, offset: int) -> str | None:
    value = _private(ds, offset)
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return str(value) if value is not None else None


def _code_meaning(ds: Dataset, keyword: str) -> str | None:
    sequence = ds.get(keyword)
    return dataset_text(sequence[0], "CodeMeaning") if sequence else None
