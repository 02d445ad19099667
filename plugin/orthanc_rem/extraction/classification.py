"""What kind of object a structured report is: CT or projection X-ray dose report, or why not one.

Routing (``routing``) sends every dose SR class to the RDSR importer; this decides, from the content
tree, which template the report follows. It is decided once per object (``dispatch.extract``) and
the :class:`Classification` is handed to the report reader.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from pydicom.dataset import Dataset
from pydicom.uid import UID

from orthanc_rem.extraction import sr
from orthanc_rem.extraction.tid10011 import CT_ACCUMULATED_DOSE_DATA, CT_ACQUISITION, X_RAY_RADIATION_DOSE_REPORT

X_RAY_RADIATION_DOSE_SR = "1.2.840.10008.5.1.4.1.1.88.67"
ENHANCED_SR = "1.2.840.10008.5.1.4.1.1.88.22"  # GE CT (Optima, LightSpeed VCT) sends TID 10011 in it
RADIOPHARMACEUTICAL_RADIATION_DOSE_SR = "1.2.840.10008.5.1.4.1.1.88.68"
_SR_SOP_CLASS_PREFIX = "1.2.840.10008.5.1.4.1.1.88."

#: Root containers of TID 10001 Projection X-Ray Radiation Dose (Accumulated X-Ray Dose Data,
#: Irradiation Event X-Ray Data): how a projection report without template identifier is recognised.
_PROJECTION_CONTAINERS = ("113702", "113706")


class ObjectKind(enum.StrEnum):
    """What an object is, as far as the dose report importers are concerned."""

    #: TID 10011 CT Radiation Dose.
    CT = "ct"
    #: TID 10001 Projection X-Ray Radiation Dose (RF, DX, MG).
    PROJECTION = "projection"
    #: Radiopharmaceutical Radiation Dose SR (TID 10021): not imported yet.
    RADIOPHARMACEUTICAL = "radiopharmaceutical"
    #: A structured report that is no radiation dose report (or of a class that carries none).
    OTHER_SR = "other_sr"
    #: Not a structured report at all.
    NOT_SR = "not_sr"
    #: A dose SR class whose content tree is missing or damaged: quarantined, never silently dropped.
    BROKEN_DOSE_REPORT = "broken_dose_report"


@dataclass(frozen=True)
class Classification:
    kind: ObjectKind
    reason: str
    template: str | None = None


def classify(ds: Dataset) -> ObjectKind:
    """What kind of object this is."""
    return classification(ds).kind


def classification(ds: Dataset) -> Classification:
    """The kind of object and, for everything but CT, the reason it is not imported.

    A CT report is recognised by its template identifier 10011 or, when the Content Template
    Sequence is absent (PS3.3 makes it Type 1C; the GE OEC Elite RF report in the corpus omits it),
    by the root concept X-Ray Radiation Dose Report with CT containers under it.
    """
    sop_class = sr.dataset_text(ds, "SOPClassUID") or ""
    sop_name = _sop_class_name(sop_class)
    template = _template_identifier(ds)
    root_concept = sr.concept_of(ds)
    if not sop_class.startswith(_SR_SOP_CLASS_PREFIX):
        return Classification(ObjectKind.NOT_SR, f"not a structured report ({sop_name})", template)
    if sop_class in (X_RAY_RADIATION_DOSE_SR, ENHANCED_SR) and (
        root_concept is None or sr.clean_text(ds.get("ValueType")) != "CONTAINER"
    ):
        # Both classes can carry a dose report: a damaged one is quarantined, never silently dropped.
        return Classification(
            ObjectKind.BROKEN_DOSE_REPORT,
            f"{sop_name} without a root content container (truncated or damaged?)",
            template,
        )
    if sop_class == RADIOPHARMACEUTICAL_RADIATION_DOSE_SR or template == "10021":
        return Classification(
            ObjectKind.RADIOPHARMACEUTICAL, "radiopharmaceutical dose report: not imported yet", template
        )
    if sop_class not in (X_RAY_RADIATION_DOSE_SR, ENHANCED_SR):
        return Classification(
            ObjectKind.OTHER_SR, f"{sop_name} is not a SOP class that carries CT dose reports", template
        )
    containers = {c.value for c in (sr.concept_of(i) for i in ds.get("ContentSequence") or ()) if c}
    is_dose_root = sr.same_concept(root_concept, X_RAY_RADIATION_DOSE_REPORT)
    if template == "10011" or (is_dose_root and {CT_ACQUISITION.value, CT_ACCUMULATED_DOSE_DATA.value} & containers):
        return Classification(ObjectKind.CT, "CT radiation dose report", template)
    if template == "10001" or (is_dose_root and set(_PROJECTION_CONTAINERS) & containers):
        return Classification(ObjectKind.PROJECTION, "projection X-ray dose report (TID 10001)", template)
    if is_dose_root:
        return Classification(
            ObjectKind.BROKEN_DOSE_REPORT,
            f"{sop_name} with neither CT nor projection X-ray content (truncated or damaged?)",
            template,
        )
    root = f"{root_concept.value} {root_concept.meaning!r}" if root_concept else "none"
    return Classification(
        ObjectKind.OTHER_SR,
        f"{sop_name} is not a radiation dose report (template {template or 'none'}, root concept {root})",
    )


def _template_identifier(ds: Dataset) -> str | None:
    sequence = ds.get("ContentTemplateSequence")
    return sr.dataset_text(sequence[0], "TemplateIdentifier") if sequence else None


def _sop_class_name(sop_class: str) -> str:
    if not sop_class:
        return "no SOP class"
    name = UID(sop_class).name
    return name if name != sop_class else f"SOP class {sop_class}"
