"""One object in, one outcome out: the path shared by Orthanc workers and ``orthanc-rem import``.

Whatever happens to an object is written down: imported objects in ``processed_object``,
everything else in ``rejected_object`` with the reason. Bad input never raises out of here,
so a batch (or a worker) goes on with the next object.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from orthanc_rem import persistence
from orthanc_rem.extraction.dose_object import read_ct_dose_report, read_dicom_file
from orthanc_rem.extraction.records import ExtractionError, NotADoseReport

log = logging.getLogger(__name__)

#: SOP classes that can carry a CT dose report (PS3.4 B.5): the X-Ray Radiation Dose SR and the
#: Enhanced SR that GE CT scanners use for the same content.
DOSE_REPORT_SOP_CLASSES = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.88.67",  # X-Ray Radiation Dose SR
        "1.2.840.10008.5.1.4.1.1.88.22",  # Enhanced SR
    }
)


@dataclass(frozen=True)
class ObjectOutcome:
    source: str
    outcome: str  # imported | replaced | duplicate | superseded | not_dose_report | unsupported | failed
    reason: str = ""
    study_id: int | None = None
    sop_instance_uid: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome != "failed"


def ingest_object(
    sessions: sessionmaker[Session],
    content: bytes | Path,
    *,
    source: str,
    orthanc_id: str | None = None,
) -> ObjectOutcome:
    """Extract and store one DICOM object given as bytes or a file path."""
    sop_instance_uid = sop_class_uid = None
    try:
        dataset = read_dicom_file(content)
        sop_instance_uid = _text(dataset.get("SOPInstanceUID"))
        sop_class_uid = _text(dataset.get("SOPClassUID"))
        if sop_class_uid not in DOSE_REPORT_SOP_CLASSES:
            raise _Unsupported(f"SOP class {sop_class_uid or 'missing'} is not a dose report this version imports")
        report = read_ct_dose_report(dataset)
        with sessions() as session:
            result = persistence.store_ct_report(session, report, orthanc_id, source)
        return ObjectOutcome(source, result.outcome, result.detail, result.study_id, sop_instance_uid)
    except NotADoseReport as exc:
        return _reject(sessions, source, "not_dose_report", str(exc), orthanc_id, sop_instance_uid, sop_class_uid)
    except _Unsupported as exc:
        return _reject(sessions, source, "unsupported", str(exc), orthanc_id, sop_instance_uid, sop_class_uid)
    except ExtractionError as exc:
        return _reject(sessions, source, "failed", str(exc), orthanc_id, sop_instance_uid, sop_class_uid)
    except Exception as exc:  # noqa: BLE001 - any other failure is kept with its reason, never lost
        log.exception("import of %s failed", source)
        reason = f"{type(exc).__name__}: {exc}"
        return _reject(sessions, source, "failed", reason, orthanc_id, sop_instance_uid, sop_class_uid)


class _Unsupported(Exception):
    pass


def _text(value: object) -> str | None:
    return str(value).strip() or None if value is not None else None


def _reject(
    sessions: sessionmaker[Session],
    source: str,
    outcome: str,
    reason: str,
    orthanc_id: str | None,
    sop_instance_uid: str | None,
    sop_class_uid: str | None,
) -> ObjectOutcome:
    with sessions() as session:
        persistence.record_rejection(
            session,
            source=source,
            outcome=outcome,
            reason=reason,
            orthanc_id=orthanc_id,
            sop_instance_uid=sop_instance_uid,
            sop_class_uid=sop_class_uid,
        )
    if outcome == "failed":
        log.warning("%s quarantined: %s", source, reason)
    return ObjectOutcome(source, outcome, reason, None, sop_instance_uid)
