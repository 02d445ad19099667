"""Re-extracting stored studies and quarantined objects from what Orthanc still holds.

After an extractor upgrade (or a fix for a quarantined object) history can be corrected. A study
is rebuilt only once every one of its objects was read from Orthanc and extracted again; then its
content is replaced in one transaction (``persistence.replace_study_content``) that keeps the
study's id, so links to ``/rem/ct/12`` and ``/rem/api/studies/12`` stay valid, and a failure at any
point leaves the study as it was.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orthanc_rem import model, persistence
from orthanc_rem.extraction.dicom_file import read_dicom_file
from orthanc_rem.extraction.dispatch import extract
from orthanc_rem.extraction.records import NotADoseReport
from orthanc_rem.ingest import ObjectOutcome, ingest_object, record_outcome
from orthanc_rem.orthanc_client import OrthancClient, OrthancHttpError, OrthancUnavailable
from orthanc_rem.outcome import Outcome
from orthanc_rem.toshiba_ct.study_task import SCREEN_NOT_READ, ToshibaCtConfig, process_study

#: What ``retry_rejected`` can re-run: objects that failed, and objects found not to be a dose
#: report (worth another look once an importer for them exists).
REJECTED_OUTCOMES = (Outcome.FAILED, Outcome.NOT_DOSE_REPORT)


@dataclass(frozen=True)
class StudySkipped:
    study_id: int
    reason: str


def reprocess_studies(
    sessions: sessionmaker[Session], client: OrthancClient, study_ids: Iterable[int] | None = None
) -> Iterator[ObjectOutcome | StudySkipped]:
    """Re-import the given studies (all when ``study_ids`` is None) from Orthanc's copies."""
    with sessions() as session:
        query = select(model.Study.id).order_by(model.Study.id)
        if study_ids is not None:
            query = query.where(model.Study.id.in_(list(study_ids)))
        ids = list(session.scalars(query))
    for study_id in ids:
        yield from _reprocess_study(sessions, client, study_id)


def _reprocess_study(
    sessions: sessionmaker[Session], client: OrthancClient, study_id: int
) -> Iterator[ObjectOutcome | StudySkipped]:
    with sessions() as session:
        objects = list(
            session.execute(
                select(model.ProcessedObject.orthanc_id, model.ProcessedObject.sop_instance_uid)
                .where(model.ProcessedObject.study_fk == study_id)
                .order_by(model.ProcessedObject.id)  # arrival order, for the updated-RDSR rule
            )
        )
    in_orthanc = [(orthanc_id, uid) for orthanc_id, uid in objects if orthanc_id is not None]
    if len(in_orthanc) < len(objects):
        yield StudySkipped(study_id, "imported from files, not from Orthanc: re-import them with 'orthanc-rem import'")
        return
    reports: list[tuple[persistence.DoseReport, str | None, str | None]] = []
    for orthanc_id, sop_instance_uid in in_orthanc:
        source = f"orthanc:{orthanc_id}"
        try:
            _route, report = extract(read_dicom_file(client.instance_file(orthanc_id)))
        except (OrthancHttpError, OrthancUnavailable) as exc:
            yield StudySkipped(study_id, f"object {sop_instance_uid} cannot be read from Orthanc ({exc}); kept as is")
            return
        except Exception as exc:  # noqa: BLE001 - whatever the extractor raises, the study stays as it was
            outcome = Outcome.NOT_DOSE_REPORT if isinstance(exc, NotADoseReport) else Outcome.FAILED
            yield ObjectOutcome(source, outcome, f"{type(exc).__name__}: {exc}", study_id, sop_instance_uid)
            yield StudySkipped(study_id, f"object {sop_instance_uid} could not be extracted again; kept as is")
            return
        reports.append((report, orthanc_id, source))
    try:
        with sessions() as session:
            results = persistence.replace_study_content(session, study_id, reports)
    except persistence.StudyChanged as exc:
        yield StudySkipped(study_id, f"{exc}; run reprocess again")
        return
    for (report, _orthanc_id, origin), result in zip(reports, results, strict=True):
        yield ObjectOutcome(origin or "", result.outcome, result.detail, result.study_id, report.sop_instance_uid)


def retry_rejected(
    sessions: sessionmaker[Session],
    client: OrthancClient,
    outcomes: Iterable[Outcome] = (Outcome.FAILED,),
    toshiba: ToshibaCtConfig | None = None,
) -> Iterator[ObjectOutcome | StudySkipped]:
    """Run objects that were not imported, and that Orthanc still holds, through extraction again.

    ``outcomes`` chooses which: "failed" (quarantined) by default; "not_dose_report" too once an
    importer for such objects exists (see ``REJECTED_OUTCOMES``). A quarantined legacy CT dose
    screen has its study's screen read again (``toshiba_ct``), with ``toshiba``'s systems.
    """
    with sessions() as session:
        rows = list(
            session.execute(
                select(model.RejectedObject.source, model.RejectedObject.orthanc_id, model.RejectedObject.reason)
                .where(model.RejectedObject.outcome.in_(list(outcomes)), model.RejectedObject.orthanc_id.is_not(None))
                .order_by(model.RejectedObject.id)
            )
        )
    for source, orthanc_id, reason in rows:
        if orthanc_id is None:
            continue
        if (reason or "").startswith(SCREEN_NOT_READ):
            yield _retry_dose_screen(sessions, client, source, orthanc_id, toshiba or ToshibaCtConfig())
            continue
        try:
            content = client.instance_file(orthanc_id)
        except (OrthancHttpError, OrthancUnavailable) as exc:
            yield ObjectOutcome(source, Outcome.FAILED, f"cannot be read from Orthanc: {exc}")
            continue
        yield ingest_object(sessions, content, source=source, orthanc_id=orthanc_id)


def _retry_dose_screen(
    sessions: sessionmaker[Session], client: OrthancClient, source: str, orthanc_id: str, config: ToshibaCtConfig
) -> ObjectOutcome:
    """The screen's whole study again: the report is made from the screen and the images together."""
    try:
        # Through routes the workers' account may use: the file, then /tools/lookup of its study.
        study_uid = str(read_dicom_file(client.instance_file(orthanc_id)).StudyInstanceUID)
        found = client.post_text("/tools/lookup", study_uid) or []
        study_id = next(str(f["ID"]) for f in found if f.get("Type") == "Study")
        result = process_study(sessions, client, study_id, config)
    except (OrthancHttpError, OrthancUnavailable) as exc:
        return ObjectOutcome(source, Outcome.FAILED, f"cannot be read from Orthanc: {exc}")
    if result.outcome == "failed":
        return ObjectOutcome(source, Outcome.FAILED, result.reason)
    if result.outcome == "skipped":  # e.g. a scanner RDSR arrived: the screen is no longer a problem
        record_outcome(sessions, source, Outcome.UNMATCHED, f"dose screen: {result.reason}", orthanc_id, None, None)
    return ObjectOutcome(source, Outcome.UNMATCHED, f"dose screen: {result.reason}")
