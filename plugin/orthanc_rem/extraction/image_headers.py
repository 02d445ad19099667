"""The header of a projection X-ray image (CR, DX, MG; the Philips CT dose summary too) read as
dose data: the readers the image importers share.

Radiography and mammography systems without RDSR record the exposure in the image header (PS3.3
C.8.7.8 X-Ray Acquisition Dose, C.8.11 DX modules); :mod:`dx_image` and :mod:`mg_image` turn one
image into one TID 10003 irradiation event with these readers (numbers, filters, source, detector
and mechanical data, dates, event UID). Values are read forgivingly: text where a number belongs is
a warning and ``None``, never a rejected image, because one broken technique factor must not lose
the exposure's DAP.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re

from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

from orthanc_rem.extraction.headers import read_equipment, read_patient, read_study
from orthanc_rem.extraction.projection_records import (
    ProjectionDoseReport,
    ProjectionIrradiationEvent,
    ProjectionXRayRadiationDose,
    XRayDetector,
    XRayFilter,
    XRayMechanical,
    XRaySource,
)
from orthanc_rem.extraction.records import Code, Equipment, ExtractionError, Patient, Study
from orthanc_rem.extraction.sr import (
    InvalidValue,
    clean_text,
    code_from,
    combine_date_time,
    dataset_text,
    measured_number,
    parse_da,
    parse_dt,
    parse_tm,
)

PROJECTION_XRAY = Code("113704", "DCM", "Projection X-Ray")
SINGLE_PLANE = Code("113622", "DCM", "Single Plane")
STATIONARY_ACQUISITION = Code("113611", "DCM", "Stationary Acquisition")
STUDY_SCOPE = Code("113014", "DCM", "Study")
#: CID 10021 Source of Dose Information: what an image-header report honestly is.
COPIED_FROM_IMAGE_ATTRIBUTES = Code("113866", "DCM", "Copied From Image Attributes")
NO_FILTER = Code("111609", "DCM", "No Filter")
#: Value representations whose value is binary, not text, on the wire (PS3.5 6.2).
_BINARY_VRS = frozenset({"FD", "FL", "US", "SS", "UL", "SL", "UV", "SV", "AT", "OB", "OD", "OF", "OL", "OV", "OW"})

#: ImageAndFluoroscopyAreaDoseProduct (0018,115E) is in dGy·cm² (PS3.3 C.8.7.8): 0.1 Gy x 1e-4 m².
DGYCM2_TO_GYM2 = 1e-5
#: Entrance Dose (0040,0302) and Organ Dose (0040,0316) are in dGy (PS3.3 C.4.16).
DGY_TO_MGY = 100.0
#: Header attributes that hold a dose, DAP, AGD, CTDIvol or DLP: a negative value there is an invalid
#: value (warning, left empty), checked in ``header_numbers`` whichever reader asks for them.
DOSE_ATTRIBUTES = frozenset(
    {"ImageAndFluoroscopyAreaDoseProduct", "EntranceDose", "EntranceDoseInmGy", "OrganDose", "CTDIvol"}
)

#: The SNOMED-RT codes the corpus RDSRs (and OpenREM 0.8.1) use for CID 10006 filter and
#: CID 10016 anode materials, so that a material reads the same whether it came from an image or
#: an RDSR. Keys are the DICOM defined terms of Filter Material (0018,7050) and Anode Target
#: Material (0018,1191).
MATERIALS: dict[str, Code] = {
    name.upper(): Code(value, "SRT", f"{name} or {name} compound")
    for name, value in (
        ("Aluminum", "C-120F9"), ("Copper", "C-127F9"), ("Molybdenum", "C-150F9"), ("Rhodium", "C-167F9"),
        ("Silver", "C-137F9"), ("Niobium", "C-1190E"), ("Europium", "C-1190F"), ("Lead", "C-132F9"),
        ("Tantalum", "C-156F9"), ("Tungsten", "C-164F9"),
    )
}  # fmt: skip
#: British spelling (manual #593) and chemical symbols some consoles write.
_MATERIAL_SPELLINGS = {
    "ALUMINIUM": "ALUMINUM", "AL": "ALUMINUM", "CU": "COPPER", "MO": "MOLYBDENUM", "RH": "RHODIUM",
    "AG": "SILVER", "NB": "NIOBIUM", "EU": "EUROPIUM", "PB": "LEAD", "TA": "TANTALUM", "W": "TUNGSTEN",
}  # fmt: skip
#: Filter Type (0018,1160) defined terms -> CID 10007.
_FILTER_TYPES = {
    "STRIP": Code("113650", "DCM", "Strip filter"), "WEDGE": Code("113651", "DCM", "Wedge filter"),
    "BUTTERFLY": Code("113652", "DCM", "Butterfly filter"), "FLAT": Code("113653", "DCM", "Flat filter"),
    "NONE": NO_FILTER,
}  # fmt: skip
#: Siemens' Filter Type values that name the filter itself: chemical symbol, thickness, "MM".
_SIEMENS_FILTER_TYPE = re.compile(r"^(?P<material>[A-Z]{1,2})_(?P<mm>[0-9]+(?:\.[0-9]+)?)_MM$")
#: Grid (0018,1166) defined terms -> CID 10017.
_GRIDS = {
    "FIXED": Code("111641", "DCM", "Fixed grid"), "FOCUSED": Code("111642", "DCM", "Focused grid"),
    "RECIPROCATING": Code("111643", "DCM", "Reciprocating grid"),
    "PARALLEL": Code("111644", "DCM", "Parallel grid"), "CROSSED": Code("111645", "DCM", "Crossed grid"),
    "NONE": Code("111646", "DCM", "No grid"),
}  # fmt: skip
#: Image Laterality (0020,0062) / Laterality (0020,0060) -> CID 244. "U" means *unpaired* body
#: part (an abdomen has no side), so it has no laterality code.
LATERALITIES = {
    "R": Code("G-A100", "SRT", "Right"), "L": Code("G-A101", "SRT", "Left"),
    "B": Code("G-A102", "SRT", "Right and left"),
}  # fmt: skip
#: Where the study date is looked for when Study Date is empty, in order, with its paired time
#: (DX-Im-Date-Missing.dcm keeps only the performed procedure step start date; manual #271, #568).
_DATE_SOURCES = (
    ("SeriesDate", "SeriesTime"),
    ("AcquisitionDate", "AcquisitionTime"),
    ("ContentDate", "ContentTime"),
    ("PerformedProcedureStepStartDate", "PerformedProcedureStepStartTime"),
)


# --- study, patient, equipment ----------------------------------------------------------------------


def read_image_headers(ds: Dataset, warnings: list[str]) -> tuple[Study, Patient, Equipment]:
    """The shared header readers, plus what image objects need on top of them.

    Images carry the request in Request Attributes Sequence (0040,0275), not where SRs do. When
    the requested procedure is absent the study description stands in (Carestream DRX-Revolution,
    manual #482), and an empty study description takes the performed procedure step description or
    the requested procedure (Fuji Go mobile), so that the study can still be found by name.
    """
    study = read_study(ds)
    request = _first_item(ds, "RequestAttributesSequence")
    requested = study.requested_procedure_description or (
        dataset_text(request, "RequestedProcedureDescription") if request is not None else None
    )
    study_description = study.study_description or dataset_text(ds, "PerformedProcedureStepDescription")
    study = dataclasses.replace(
        study,
        study_description=study_description or requested,
        requested_procedure_description=requested or study_description,
        requested_procedure_code=study.requested_procedure_code
        or (code_from(request.get("RequestedProcedureCodeSequence")) if request is not None else None),
    )
    study = _study_with_date(ds, study, warnings)
    return study, read_patient(ds, study.study_date, warnings), read_equipment(ds)


def _study_with_date(ds: Dataset, study: Study, warnings: list[str]) -> Study:
    """An empty Study Date is filled from the next date the header has, so that the study can be
    listed and filtered by date; the substitution is reported."""
    if study.study_date is not None:
        return study
    for date_keyword, time_keyword in _DATE_SOURCES:
        date = parse_da(dataset_text(ds, date_keyword))
        if date is not None:
            warnings.append(f"Study Date is empty; {date_keyword} {date} used")
            time = study.study_time or parse_tm(dataset_text(ds, time_keyword))
            return dataclasses.replace(study, study_date=date, study_time=time)
    warnings.append("no date anywhere in the header: the study has no date")
    return study


def _first_item(ds: Dataset, keyword: str) -> Dataset | None:
    sequence = ds.get(keyword)
    try:
        return sequence[0] if sequence else None  # type: ignore[no-any-return]
    except (TypeError, IndexError):
        return None


# --- the irradiation event ----------------------------------------------------------------------------


def image_event(ds: Dataset, study: Study, protocol: str | None, warnings: list[str]) -> ProjectionIrradiationEvent:
    """The TID 10003 event an image header describes; modality modules refine it."""
    view = code_from(ds.get("ViewCodeSequence"))
    view_item = _first_item(ds, "ViewCodeSequence")
    modifiers = view_item.get("ViewModifierCodeSequence") if view_item is not None else None
    dap = header_number(ds, "ImageAndFluoroscopyAreaDoseProduct", warnings)
    return ProjectionIrradiationEvent(
        acquisition_plane=SINGLE_PLANE,
        irradiation_event_uid=image_event_uid(ds),
        date_time_started=image_event_time(ds, study.study_date),
        irradiation_event_type=STATIONARY_ACQUISITION,
        acquisition_protocol=protocol,
        anatomical_structure=_anatomy(ds),
        laterality=laterality_code(dataset_text(ds, "ImageLaterality") or dataset_text(ds, "Laterality")),
        image_view=view,
        image_view_modifiers=tuple(c for c in (code_from([m]) for m in modifiers or ()) if c),
        dose_area_product_gym2=dap * DGYCM2_TO_GYM2 if dap is not None else None,
        comment=dataset_text(ds, "CommentsOnRadiationDose"),
        source=read_image_source(ds, warnings),
        detector=read_image_detector(ds, warnings),
        mechanical=read_image_mechanical(ds, warnings),
    )


def image_event_uid(ds: Dataset) -> str | None:
    """Images have no SR event UID; persistence needs one to recognise the same exposure twice.

    1. Irradiation Event UID (0008,3010), when the modality writes it: the standard's own link
       between an image and the event of its RDSR (Carestream DRX-Revolution does).
    2. The single image this one was derived from (Source Image Sequence): a for-presentation or
       "scaled" image shows the same exposure as its for-processing original, and a PACS that sends
       both must not double the dose (GE Senographe pair in the corpus).
    3. The SOP Instance UID: one exposure per image. It keeps distinct images distinct even when
       they share a time stamp (Hologic DBT projections, manual #125).
    """
    event_uid = dataset_text(ds, "IrradiationEventUID")
    if event_uid:
        return event_uid.split("\\")[0]
    sources = ds.get("SourceImageSequence")
    if sources is not None and len(sources) == 1:
        # An anonymiser in the corpus wrote SOPInstanceUID instead of ReferencedSOPInstanceUID.
        derived_from = dataset_text(sources[0], "ReferencedSOPInstanceUID") or dataset_text(
            sources[0], "SOPInstanceUID"
        )
        if derived_from:
            return derived_from
    return dataset_text(ds, "SOPInstanceUID")


def image_event_time(ds: Dataset, study_date: dt.date | None) -> dt.datetime | None:
    """When the exposure happened: Acquisition DateTime, else acquisition or content date and time;
    a time without date (DX-Im-Date-Missing.dcm) is placed on the study's (substituted) date."""
    started = parse_dt(dataset_text(ds, "AcquisitionDateTime"))
    if started is not None:
        return started
    for date_keyword, time_keyword in (("AcquisitionDate", "AcquisitionTime"), ("ContentDate", "ContentTime")):
        date, time = parse_da(dataset_text(ds, date_keyword)), parse_tm(dataset_text(ds, time_keyword))
        if date is not None and time is not None:
            return dt.datetime.combine(date, time)
    date = parse_da(dataset_text(ds, "AcquisitionDate")) or parse_da(dataset_text(ds, "ContentDate")) or study_date
    time = parse_tm(dataset_text(ds, "AcquisitionTime")) or parse_tm(dataset_text(ds, "ContentTime"))
    return combine_date_time(date, time)


def image_report(
    ds: Dataset,
    study: Study,
    patient: Patient,
    equipment: Equipment,
    event: ProjectionIrradiationEvent,
    procedure: Code,
    modality: str,
    source_kind: str,
    warnings: list[str],
) -> ProjectionDoseReport:
    """Wrap one event in TID 10001. No accumulated dose: an image knows only itself, and
    persistence recomputes the study totals from all its images' events."""
    sop_instance_uid = dataset_text(ds, "SOPInstanceUID")
    if sop_instance_uid is None:
        raise ExtractionError("SOP Instance UID (0008,0018) is missing")
    dose = ProjectionXRayRadiationDose(
        procedure_reported=procedure,
        start_of_xray_irradiation=event.date_time_started,
        scope_of_accumulation=STUDY_SCOPE,
        scope_uid=study.study_instance_uid,
        sources_of_dose_information=(COPIED_FROM_IMAGE_ATTRIBUTES,),
        events=(event,),
    )
    return ProjectionDoseReport(
        sop_instance_uid=sop_instance_uid,
        sop_class_uid=dataset_text(ds, "SOPClassUID") or "",
        study=study,
        patient=patient,
        equipment=equipment,
        dose=dose,
        modality=modality,
        source_kind=source_kind,
        warnings=tuple(warnings),
    )


def _anatomy(ds: Dataset) -> Code | None:
    """Anatomic Region Sequence when coded; else Body Part Examined kept as uncoded text."""
    coded = code_from(ds.get("AnatomicRegionSequence"))
    body_part = dataset_text(ds, "BodyPartExamined")
    return coded or (Code(body_part, None, body_part) if body_part else None)


def view_from_position(ds: Dataset, views: dict[str, Code]) -> Code | None:
    """View Position (0018,5101) as a view code, for images without View Code Sequence; a term
    outside ``views`` is kept as uncoded text."""
    position = (dataset_text(ds, "ViewPosition") or "").upper()
    return views.get(position) or (Code(position, None, position) if position else None)


def laterality_code(text: str | None) -> Code | None:
    return LATERALITIES.get((text or "").strip().upper()[:1])


# --- source, detector, mechanical data (TID 10003a-c from the header) ---------------------------------


def read_image_source(ds: Dataset, warnings: list[str]) -> XRaySource:
    """Technique factors. Where DICOM has a precise and a coarse attribute for the same factor
    (µs/µA/µAs vs ms/mA/mAs integers) the precise one wins."""
    esd = header_number(ds, "EntranceDoseInmGy", warnings)
    if esd is None:
        # Entrance Dose (0040,0302) is an integer in dGy: 0 says "below 1 dGy", not "no dose".
        coarse = header_number(ds, "EntranceDose", warnings)
        esd = coarse * DGY_TO_MGY if coarse else None
    height, width, area = _collimated_field(ds, warnings)
    anode = dataset_text(ds, "AnodeTargetMaterial")
    return XRaySource(
        entrance_surface_dose_mgy=esd,
        kvp_kv=header_number(ds, "KVP", warnings),
        xray_tube_current_ma=_first_of(
            ds, warnings, ("XRayTubeCurrentInuA", 1e-3), ("XRayTubeCurrentInmA", 1.0), ("XRayTubeCurrent", 1.0)
        ),
        exposure_uas=_first_of(ds, warnings, ("ExposureInuAs", 1.0), ("ExposureInmAs", 1e3), ("Exposure", 1e3)),
        exposure_time_ms=_first_of(
            ds, warnings, ("ExposureTimeInuS", 1e-3), ("ExposureTimeInms", 1.0), ("ExposureTime", 1.0)
        ),
        focal_spot_size_mm=header_number(ds, "FocalSpots", warnings),
        anode_target_material=material_code(anode, "anode target", warnings) if anode else None,
        collimated_field_area_m2=area,
        collimated_field_height_mm=height,
        collimated_field_width_mm=width,
        exposure_control_mode=dataset_text(ds, "ExposureControlMode"),
        exposure_control_mode_description=dataset_text(ds, "ExposureControlModeDescription"),
        grid=grid_codes(header_text(ds, "Grid"), warnings),
        filters=read_filters(ds, warnings),
    )


def read_image_detector(ds: Dataset, warnings: list[str]) -> XRayDetector:
    """The exposure index family of IEC 62494-1 (PS3.3 C.8.11.7) and the vendor's own index."""
    return XRayDetector(
        exposure_index=header_number(ds, "ExposureIndex", warnings),
        target_exposure_index=header_number(ds, "TargetExposureIndex", warnings),
        deviation_index=header_number(ds, "DeviationIndex", warnings),
        relative_xray_exposure=header_number(ds, "RelativeXRayExposure", warnings),
        sensitivity=header_number(ds, "Sensitivity", warnings),
    )


def read_image_mechanical(ds: Dataset, warnings: list[str]) -> XRayMechanical:
    """Angles and the dose-related distances; all in mm and degrees in the header already."""
    return XRayMechanical(
        positioner_primary_angle_deg=header_number(ds, "PositionerPrimaryAngle", warnings),
        positioner_secondary_angle_deg=header_number(ds, "PositionerSecondaryAngle", warnings),
        column_angulation_deg=header_number(ds, "ColumnAngulation", warnings),
        magnification_factor=header_number(ds, "EstimatedRadiographicMagnificationFactor", warnings),
        distance_source_to_detector_mm=header_number(ds, "DistanceSourceToDetector", warnings),
        distance_source_to_patient_mm=header_number(ds, "DistanceSourceToPatient", warnings),
        distance_source_to_entrance_surface_mm=header_number(ds, "DistanceSourceToEntrance", warnings),
    )


def _collimated_field(ds: Dataset, warnings: list[str]) -> tuple[float | None, float | None, float | None]:
    """Field of View Dimensions (0018,1149), as OpenREM uses it for the collimated field: row then
    column size of a RECTANGLE, or the diameter of a ROUND field (mm). Area in m²."""
    sizes = [v for v in header_numbers(ds, "FieldOfViewDimensions", warnings) if v is not None]
    shape = (dataset_text(ds, "FieldOfViewShape") or "").upper()
    if len(sizes) == 1 or (shape == "ROUND" and sizes):
        return sizes[0], sizes[0], math.pi * (sizes[0] / 2) ** 2 * 1e-6
    if len(sizes) >= 2:
        return sizes[0], sizes[1], sizes[0] * sizes[1] * 1e-6
    return None, None, None


# --- filters, grid, materials ---------------------------------------------------------------------


def read_filters(ds: Dataset, warnings: list[str]) -> tuple[XRayFilter, ...]:
    """X-Ray filters from Filter Material/Thickness Minimum/Maximum (0018,7050/7052/7054), paired by
    position (one value per filter, e.g. ``COPPER\\ALUMINUM``).

    Quirks from the manual: Kodak/Carestream separate the values with commas (#338, #137), text
    in a thickness field is a warning and None (#645), a minimum above its maximum is swapped
    (#453), 0.00 mm is a thickness and kept (#450), "aluminium" is aluminum (#593). Siemens (Multix
    and others) put the whole filter into Filter Type as ``CU_0.1_MM``: a flat filter of that
    material and thickness (OpenREM reads CU_0.1/0.2/0.3_MM so), used where the standard
    attributes are empty.
    """
    materials = _split(header_text(ds, "FilterMaterial"))
    minimums = _thicknesses(ds, "FilterThicknessMinimum", warnings)
    maximums = _thicknesses(ds, "FilterThicknessMaximum", warnings)
    type_text = (header_text(ds, "FilterType") or "").upper()
    filter_type = _FILTER_TYPES.get(type_text) or (Code(type_text, None, type_text) if type_text else None)
    siemens = _SIEMENS_FILTER_TYPE.match(type_text)
    if siemens:
        filter_type = _FILTER_TYPES["FLAT"]
        materials = materials or [siemens.group("material")]
        thickness = float(siemens.group("mm"))
        minimums, maximums = minimums or [thickness], maximums or [thickness]
    count = len(materials) or (1 if minimums or maximums or filter_type else 0)
    for name, values in (("Minimum", minimums), ("Maximum", maximums)):
        if values and len(values) != count:
            warnings.append(f"Filter Thickness {name} has {len(values)} values for {count} filters; paired by position")
    filters = []
    for index in range(count):
        low = minimums[index] if index < len(minimums) else None
        high = maximums[index] if index < len(maximums) else None
        material = material_code(materials[index], "filter", warnings) if index < len(materials) else None
        if low is not None and high is not None and low > high:
            warnings.append(f"filter thickness minimum {low} > maximum {high}; swapped")
            low, high = high, low
        filters.append(XRayFilter(filter_type, material, low, high))
    return tuple(filters)


def material_code(text: str, role: str, warnings: list[str]) -> Code:
    """A filter or anode material as its CID 10006/10016 code; an unknown one is kept as text."""
    key = re.sub(r"[^A-Z]", "", text.upper())
    code = MATERIALS.get(_MATERIAL_SPELLINGS.get(key, key))
    if code is None:
        warnings.append(f"{role} material {text!r} is not a known material; kept as text")
        return Code(text, None, text)
    return code


def grid_codes(text: str | None, warnings: list[str]) -> tuple[Code, ...]:
    """Grid (0018,1166) values as CID 10017 codes. An abbreviation that starts exactly one defined
    term is read as that term (Kodak DR 7500 writes "FO" for focused) and reported."""
    codes = []
    for value in (v.upper() for v in _split(text, separators="\\")):
        code = _GRIDS.get(value)
        if code is None:
            candidates = [term for term in _GRIDS if len(value) >= 2 and term.startswith(value)]
            if len(candidates) == 1:
                warnings.append(f"Grid value {value!r} read as {candidates[0]}")
                code = _GRIDS[candidates[0]]
            else:
                code = Code(value, None, value)
        codes.append(code)
    return tuple(codes)


def _thicknesses(ds: Dataset, keyword: str, warnings: list[str]) -> list[float | None]:
    return [_to_number(part, keyword, warnings) for part in _split(header_text(ds, keyword))]


def _split(text: str | None, separators: str = "\\,+") -> list[str]:
    if not text:
        return []
    return [part.strip() for part in re.split(f"[{re.escape(separators)}]", text) if part.strip()]


# --- numbers from header attributes --------------------------------------------------------------------


def header_text(ds: Dataset, keyword: str | int) -> str | None:
    """The attribute's value as text without converting it first: a DS holding "1.06,0.206" or
    "N/A" cannot become a number, and a private value may still be raw UN bytes."""
    tag = tag_for_keyword(keyword) if isinstance(keyword, str) else keyword
    if tag is None:
        return None
    try:
        element = ds.get_item(tag)
        if isinstance(element, RawDataElement) and _vr(element) in _BINARY_VRS:
            return clean_text(ds[tag].value)  # FD, US … are bytes on the wire: let pydicom convert
        return None if element is None else clean_text(element.value)
    except Exception:  # noqa: BLE001 - a damaged value is an absent value here
        return None


def _vr(element: RawDataElement) -> str:
    """The VR to decode with: implicit VR and UN (a public tag sent by a system that did not know
    it) take the dictionary's; unknown private elements stay UN and are read as text."""
    if element.VR and element.VR != "UN":
        return str(element.VR)
    try:
        return str(dictionary_VR(element.tag))
    except KeyError:
        return "UN"


def header_numbers(
    ds: Dataset, keyword: str | int, warnings: list[str], *, dose: bool = False
) -> list[float | None]:
    """Every value of a numeric attribute; one that cannot be read is a warning and None. A dose
    (``dose=True`` or one of ``DOSE_ATTRIBUTES``) below zero is an invalid value too."""
    name = keyword if isinstance(keyword, str) else f"({keyword >> 16:04X},{keyword & 0xFFFF:04X})"
    dose = dose or keyword in DOSE_ATTRIBUTES
    return [_to_number(part, name, warnings, dose=dose) for part in _split(header_text(ds, keyword), "\\")]


def header_number(ds: Dataset, keyword: str | int, warnings: list[str], *, dose: bool = False) -> float | None:
    """The first value of a numeric attribute (DS, IS, FD, US …) as float; None if absent or not
    a number (with a warning naming the attribute)."""
    values = header_numbers(ds, keyword, warnings, dose=dose)
    return values[0] if values else None


def _first_of(ds: Dataset, warnings: list[str], *keywords_and_factors: tuple[str, float]) -> float | None:
    for keyword, factor in keywords_and_factors:
        value = header_number(ds, keyword, warnings)
        if value is not None:
            return value * factor
    return None


def _to_number(text: str, keyword: str, warnings: list[str], *, dose: bool = False) -> float | None:
    """One header value through ``sr.measured_number``, the reader SR NUMs use: "1/2", "NaN",
    "Infinity" (and a negative dose) become a warning naming the attribute and None."""
    try:
        value = measured_number(text, keyword)
        if dose and value is not None and value < 0:
            raise InvalidValue(f"{keyword}: {value:g} is negative, which a dose cannot be")
    except InvalidValue as exc:
        warnings.append(f"{exc}; left empty")
        return None
    return value
