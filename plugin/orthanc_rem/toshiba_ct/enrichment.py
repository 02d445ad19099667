"""Adding the image headers' facts to the RDSR PixelMed made from a dose screen.

PixelMed's report (see ``CT-RDSR-ToshibaPixelMed.dcm`` in the corpus) carries per scan only what
the screen shows: acquisition type, scan range, CTDIvol, DLP and phantom. The images of the scan
know the rest (``image_parameters``). A scan is matched to an acquisition by its CTDIvol (and DLP
when the image carries one) at the precision the screen prints, as the manual's importer did: the
screen lists no series number. Items go where TID 10013 puts them: Acquisition Protocol and X-Ray
Modulation Type in CT Acquisition, collimation and pitch in CT Acquisition Parameters, kVp, tube
current and exposure time per rotation in one CT X-Ray Source Parameters container.

The report is marked as ours (a private block and a Contributing Equipment item) so that the study
task recognises it and a later STABLE_STUDY does not read the screen again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence

from orthanc_rem.extraction import tid10011 as tid
from orthanc_rem.extraction.records import Code
from orthanc_rem.toshiba_ct.image_parameters import AcquisitionParameters, StudyParameters

PRIVATE_GROUP = 0x0011
PRIVATE_CREATOR = "ORTHANC-REM"
#: (0011,xx01): what made the report; (0011,xx02): the dose screens it was read from.
MADE_BY = "TOSHIBA CT DOSE SCREEN OCR"
CONTRIBUTOR = "orthanc-rem"


@dataclass
class EnrichmentResult:
    matched: dict[int, AcquisitionParameters] = field(default_factory=dict)
    unmatched: list[int] = field(default_factory=list)
    #: CT Acquisitions with a CT Dose (the ones that can be matched at all).
    dosed: list[int] = field(default_factory=list)


def enrich(report: Dataset, study: StudyParameters, acquisitions: Sequence[AcquisitionParameters]) -> EnrichmentResult:
    """Add study- and acquisition-level values to ``report`` in place; return what matched."""
    _enrich_header(report, study)
    result = EnrichmentResult()
    available = sorted(acquisitions, key=lambda a: (a.acquisition_time or "", a.series_number or ""))
    for number, container in enumerate(_ct_acquisitions(report), start=1):
        dose = _first(container, tid.CT_DOSE)
        if dose is None:
            continue
        result.dosed.append(number)
        ctdivol, dlp = _num_text(dose, tid.MEAN_CTDIVOL), _num_text(dose, tid.DLP)
        found = next(
            (a for a in available if _same(ctdivol, a.ctdivol_mgy) and _same_or_unknown(dlp, a.dlp_mgycm)), None
        )
        if found is None:
            result.unmatched.append(number)
            container.ContentSequence.append(
                _text(tid.COMMENT, f"no image series with CTDIvol {ctdivol} mGy was found: not enriched")
            )
            continue
        available.remove(found)
        result.matched[number] = found
        _enrich_acquisition(container, found)
    return result


def mark_as_ours(report: Dataset, screen_uids: Sequence[str]) -> None:
    block = report.private_block(PRIVATE_GROUP, PRIVATE_CREATOR, create=True)
    block.add_new(0x01, "LO", MADE_BY)
    block.add_new(0x02, "UI", list(screen_uids))
    contributor = Dataset()
    contributor.Manufacturer = CONTRIBUTOR
    contributor.ContributionDescription = "Enriched from the CT image headers"
    contributor.ContributionDateTime = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S+0000")
    existing = list(report.get("ContributingEquipmentSequence") or [])
    report.ContributingEquipmentSequence = DicomSequence([*existing, contributor])


def is_ours(ds: Dataset) -> bool:
    """Whether a report was made by this module (its private block), whatever its other headers say."""
    try:
        return str(ds.get_private_item(PRIVATE_GROUP, 0x01, PRIVATE_CREATOR).value) == MADE_BY
    except KeyError:
        return False


def _enrich_header(report: Dataset, study: StudyParameters) -> None:
    """Empty study values are filled; the serial number is always the images' (PixelMed puts a
    made-up one when the screen has none, which would make a second, false, equipment)."""
    for keyword, value in (
        ("StudyDescription", study.study_description),
        ("RequestedProcedureDescription", study.requested_procedure_description),
        ("SoftwareVersions", study.software_versions),
    ):
        if value and not str(report.get(keyword) or "").strip():
            setattr(report, keyword, value)
    if study.device_serial_number:
        report.DeviceSerialNumber = study.device_serial_number


def _enrich_acquisition(container: Dataset, found: AcquisitionParameters) -> None:
    items = container.ContentSequence
    if found.protocol_name and _first(container, tid.ACQUISITION_PROTOCOL) is None:
        items.insert(0, _text(tid.ACQUISITION_PROTOCOL, found.protocol_name))
    if found.exposure_modulation_type and _first(container, tid.XRAY_MODULATION_TYPE) is None:
        items.append(_text(tid.XRAY_MODULATION_TYPE, found.exposure_modulation_type))
    parameters = _first(container, tid.CT_ACQUISITION_PARAMETERS)
    if parameters is None:
        return
    if "ContentSequence" not in parameters:
        parameters.ContentSequence = DicomSequence()
    rows = parameters.ContentSequence
    for concept, value, unit in (
        (tid.NOMINAL_SINGLE_COLLIMATION_WIDTH, found.nominal_single_collimation_width_mm, _MM),
        (tid.NOMINAL_TOTAL_COLLIMATION_WIDTH, found.nominal_total_collimation_width_mm, _MM),
        (tid.PITCH_FACTOR, found.spiral_pitch_factor, _RATIO),
    ):
        if value is not None and _first(parameters, concept) is None:
            rows.append(_num(concept, value, unit))
    if _first(parameters, tid.CT_XRAY_SOURCE_PARAMETERS) is None:
        source = [_text(tid.IDENTIFICATION_OF_THE_XRAY_SOURCE, "1")]
        for concept, value, unit in (
            (tid.KVP, found.kvp_kv, _KV),
            (tid.MAXIMUM_XRAY_TUBE_CURRENT, found.xray_tube_current_ma, _MA),
            (tid.XRAY_TUBE_CURRENT, found.xray_tube_current_ma, _MA),
            (tid.EXPOSURE_TIME_PER_ROTATION, found.exposure_time_per_rotation_s, _S),
        ):
            if value is not None:
                source.append(_num(concept, value, unit))
        if len(source) > 1:
            rows.append(_num(tid.NUMBER_OF_XRAY_SOURCES, 1, _SOURCES))
            rows.append(_container(tid.CT_XRAY_SOURCE_PARAMETERS, source))


_MM = Code("mm", "UCUM", "mm")
_RATIO = Code("{ratio}", "UCUM", "ratio")
_KV = Code("kV", "UCUM", "kV")
_MA = Code("mA", "UCUM", "mA")
_S = Code("s", "UCUM", "s")
_SOURCES = Code("{X-Ray sources}", "UCUM", "X-Ray sources")


def _concept(code: Code) -> DicomSequence:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = code.value, code.scheme, code.meaning
    return DicomSequence([item])


def _text(concept: Code, value: str) -> Dataset:
    item = Dataset()
    item.RelationshipType, item.ValueType = "CONTAINS", "TEXT"
    item.ConceptNameCodeSequence = _concept(concept)
    item.TextValue = value
    return item


def _num(concept: Code, value: float, unit: Code) -> Dataset:
    measured = Dataset()
    measured.MeasurementUnitsCodeSequence = _concept(unit)
    measured.NumericValue = f"{value:.6g}"
    item = Dataset()
    item.RelationshipType, item.ValueType = "CONTAINS", "NUM"
    item.ConceptNameCodeSequence = _concept(concept)
    item.MeasuredValueSequence = DicomSequence([measured])
    return item


def _container(concept: Code, children: list[Dataset]) -> Dataset:
    item = Dataset()
    item.RelationshipType, item.ValueType, item.ContinuityOfContent = "CONTAINS", "CONTAINER", "SEPARATE"
    item.ConceptNameCodeSequence = _concept(concept)
    item.ContentSequence = DicomSequence(children)
    return item


def _is(item: Dataset, concept: Code) -> bool:
    names = item.get("ConceptNameCodeSequence")
    return bool(names) and str(names[0].get("CodeValue", "")).strip() == concept.value


def _first(parent: Dataset, concept: Code) -> Dataset | None:
    return next((item for item in parent.get("ContentSequence") or () if _is(item, concept)), None)


def _ct_acquisitions(report: Dataset) -> list[Dataset]:
    return [item for item in report.get("ContentSequence") or () if _is(item, tid.CT_ACQUISITION)]


def _num_text(parent: Dataset, concept: Code) -> str | None:
    item = _first(parent, concept)
    measured = item.get("MeasuredValueSequence") if item is not None else None
    return str(measured[0].get("NumericValue", "")).strip() or None if measured else None


def _same(printed: str | None, value: float | None) -> bool:
    """The image's value rounds to what the screen printed (the screen shows one decimal)."""
    if printed is None or value is None:
        return False
    try:
        shown = Decimal(printed)
        places = max(0, -shown.as_tuple().exponent)  # type: ignore[operator]
        return Decimal(str(value)).quantize(Decimal(1).scaleb(-places)) == shown
    except InvalidOperation:
        return False


def _same_or_unknown(printed: str | None, value: float | None) -> bool:
    return printed is None or value is None or _same(printed, value)
