"""One stable study of a legacy CT scanner: dose screen -> RDSR -> back into Orthanc.

Runs in a worker when Orthanc reports the study stable (no instance for ``StableAge`` seconds),
so that the screen and the images are all there. It does nothing for a study that has an RDSR or
an Enhanced SR (the manual: the extractor is only used when no RDSR is found with the study) or
that comes from a system not configured (``systems``). The report it makes is stored back into
Orthanc: the worker that takes the new instance extracts it like any other RDSR, and the
STABLE_STUDY that the new instance causes finds an RDSR in the study and stops here, so the screen
is read once. A screen that cannot be turned into a report is quarantined (``rejected_object``,
outcome failed) with the reason, and stays in Orthanc for a re-run.

What is read: the instances of every secondary-capture series (a screen may have several pages)
and one image of each CT series (a query-retrieve with ``-toshiba`` fetches only the first): the
technique factors are the series', the tube current is that image's.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

import pydicom
from pydicom.dataset import Dataset
from sqlalchemy.orm import Session, sessionmaker

from orthanc_rem.extraction.classification import ENHANCED_SR, X_RAY_RADIATION_DOSE_SR
from orthanc_rem.extraction.routing import SECONDARY_CAPTURE_IMAGE
from orthanc_rem.extraction.sr import dataset_text
from orthanc_rem.ingest import record_outcome
from orthanc_rem.orthanc_client import OrthancClient, OrthancHttpError, OrthancUnavailable
from orthanc_rem.outcome import Outcome
from orthanc_rem.toshiba_ct import enrichment, image_parameters, pixelmed, systems

log = logging.getLogger(__name__)

#: How a quarantined screen's reason starts (``reprocess --rejected`` reads the study again for it).
SCREEN_NOT_READ = "dose screen not turned into an RDSR"
DOSE_REPORT_CLASSES = frozenset({X_RAY_RADIATION_DOSE_SR, ENHANCED_SR})
#: GE saves its dose screen as series 999 (10999 on some), possibly as a CT image: PixelMed's
#: ``OCR.isGEDoseScreenSeriesNumber``.
GE_SCREEN_SERIES = frozenset({"999", "10999"})
CT_IMAGE_CLASSES = frozenset({"1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.2.1"})


@dataclass(frozen=True)
class ToshibaCtConfig:
    systems: tuple[tuple[str, str], ...] = systems.DEFAULT_SYSTEMS
    java: str = "java"
    jar: Path = pixelmed.DEFAULT_JAR


@dataclass(frozen=True)
class StudyOutcome:
    """``created`` (an RDSR was stored back), ``skipped`` (nothing to do) or ``failed`` (quarantined)."""

    outcome: str
    reason: str
    rdsr_sop_instance_uid: str | None = None
    pixelmed_seconds: float | None = None


@dataclass
class _StudyObjects:
    screens: list[str]
    images: list[str]
    has_dose_report: bool
    makers: list[str]


def process_study(
    sessions: sessionmaker[Session], client: OrthancClient, orthanc_study_id: str, config: ToshibaCtConfig
) -> StudyOutcome:
    """See the module docstring. Orthanc being unreachable raises ``OrthancUnavailable`` (postponed)."""
    try:
        found = _study_objects(client, orthanc_study_id)
    except OrthancHttpError as exc:
        if exc.status == 404:
            return StudyOutcome("skipped", "study deleted from Orthanc before processing")
        raise OrthancUnavailable(str(exc)) from exc
    if found.has_dose_report:
        return StudyOutcome("skipped", "the study has an RDSR or Enhanced SR")
    if not found.screens:
        return StudyOutcome("skipped", "no secondary capture (dose screen) in the study")
    if not any(systems.maker_configured(config.systems, maker) for maker in found.makers):
        return StudyOutcome("skipped", "no series from a system configured for dose screens")
    screens = {orthanc_id: _read(client, orthanc_id) for orthanc_id in found.screens}
    screens = {
        orthanc_id: ds
        for orthanc_id, ds in screens.items()
        if systems.is_configured(
            config.systems, dataset_text(ds, "Manufacturer"), dataset_text(ds, "ManufacturerModelName")
        )
    }
    if not screens:
        return StudyOutcome("skipped", "the secondary captures come from no system configured for dose screens")
    images = [_read(client, orthanc_id) for orthanc_id in found.images]
    try:
        report, seconds = _report_from_screens(list(screens.values()), images, config)
    except (pixelmed.ScreenNotRead, pixelmed.PixelMedUnavailable, ValueError) as exc:
        return _quarantine(sessions, screens, str(exc))
    # A scanner RDSR may have arrived meanwhile: it wins, nothing is stored.
    if _study_objects(client, orthanc_study_id).has_dose_report:
        return StudyOutcome("skipped", "an RDSR arrived while the screen was read")
    buffer = BytesIO()
    report.save_as(buffer, enforce_file_format=True)
    client.post_dicom(buffer.getvalue())
    uid = str(report.SOPInstanceUID)
    for orthanc_id, ds in screens.items():
        record_outcome(
            sessions,
            f"orthanc:{orthanc_id}",
            Outcome.UNMATCHED,
            f"dose screen: read by PixelMed's OCR into the RDSR {uid}, stored in Orthanc",
            orthanc_id,
            dataset_text(ds, "SOPInstanceUID"),
            dataset_text(ds, "SOPClassUID"),
        )
    return StudyOutcome("created", f"RDSR {uid} stored ({seconds:.1f} s in PixelMed)", uid, seconds)


def report_from_files(
    screens: list[Dataset], images: list[Dataset], config: ToshibaCtConfig
) -> tuple[Dataset, enrichment.EnrichmentResult]:
    """The enriched RDSR for a screen (or its pages) and the study's images, without Orthanc.

    ``ValueError`` / ``pixelmed.ScreenNotRead`` say why there is none (the quarantine reason)."""
    with tempfile.TemporaryDirectory(prefix="orthanc-rem-toshiba-") as folder:
        inputs = Path(folder) / "study"
        inputs.mkdir()
        for number, ds in enumerate([*screens, *images]):
            ds.save_as(inputs / f"{number:05d}.dcm", enforce_file_format=True)
        run = pixelmed.generate_rdsr([inputs], Path(folder) / "rdsr.dcm", config.java, config.jar)
        report = pydicom.dcmread(run.rdsr)
    dosed = [
        item
        for item in report.get("ContentSequence") or ()
        if _concept_value(item) == "113819"
        and any(_concept_value(c) == "113829" for c in item.get("ContentSequence") or ())
    ]
    if not dosed:
        raise pixelmed.ScreenNotRead("PixelMed's OCR read no CT dose (CTDIvol, DLP) from the dose screen")
    result = enrichment.enrich(
        report,
        image_parameters.study_parameters(images),
        [image_parameters.acquisition_parameters(image) for image in images],
    )
    if result.dosed and not result.matched:
        raise ValueError(
            f"no image series matches a scan read off the dose screen (by CTDIvol and DLP; "
            f"{len(result.dosed)} scans, {len(images)} image series)"
        )
    enrichment.mark_as_ours(report, [dataset_text(s, "SOPInstanceUID") or "" for s in screens])
    return report, result


def _report_from_screens(
    screens: list[Dataset], images: list[Dataset], config: ToshibaCtConfig
) -> tuple[Dataset, float]:
    started = time.monotonic()
    report, _ = report_from_files(screens, images, config)
    return report, time.monotonic() - started


def _quarantine(sessions: sessionmaker[Session], screens: dict[str, Dataset], reason: str) -> StudyOutcome:
    for orthanc_id, ds in screens.items():
        record_outcome(
            sessions,
            f"orthanc:{orthanc_id}",
            Outcome.FAILED,
            f"{SCREEN_NOT_READ}: {reason}",
            orthanc_id,
            dataset_text(ds, "SOPInstanceUID"),
            dataset_text(ds, "SOPClassUID"),
        )
    return StudyOutcome("failed", reason)


def _study_objects(client: OrthancClient, orthanc_study_id: str) -> _StudyObjects:
    study: dict[str, Any] = client.get_json(f"/studies/{orthanc_study_id}")
    found = _StudyObjects([], [], False, [])
    for series_id in study.get("Series") or []:
        series: dict[str, Any] = client.get_json(f"/series/{series_id}")
        instances = sorted(series.get("Instances") or [])
        tags = series.get("MainDicomTags") or {}
        found.makers.append(str(tags.get("Manufacturer") or ""))
        if not instances:
            continue
        first_class = client.sop_class_uid(instances[0])
        if str(tags.get("Modality") or "").upper() == "SR" or first_class in DOSE_REPORT_CLASSES:
            if any(client.sop_class_uid(i) in DOSE_REPORT_CLASSES for i in instances):
                found.has_dose_report = True
        elif first_class == SECONDARY_CAPTURE_IMAGE or str(tags.get("SeriesNumber") or "").strip() in GE_SCREEN_SERIES:
            found.screens.extend(instances)
        elif first_class in CT_IMAGE_CLASSES:
            found.images.append(instances[0])  # any image tells the acquisition's factors
    return found


def _read(client: OrthancClient, orthanc_id: str) -> Dataset:
    return pydicom.dcmread(BytesIO(client.instance_file(orthanc_id)), force=True)


def _concept_value(item: Dataset) -> str:
    names = item.get("ConceptNameCodeSequence")
    return str(names[0].get("CodeValue", "")).strip() if names else ""
